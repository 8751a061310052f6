"""A hostile world, measured: the fault matrix of issue 17 and fuzz runs of the settings and
report loaders, counting crashes, hangs, data lost and injections.

Run from the repository root (as root for the tmpfs cells; without root they are counted as
not run)::

    python -m benchmarks.hostile [--fuzz 10000] [--big] [--out benchmarks/results/hostile.md]

Cells (each one hostile condition, reproduced for real: private folders, loopback servers that
misbehave, real tmpfs mounts, real processes and signals, clocks passed in through the
History's ``clock`` and ``steady`` parameters):

* **clock**: the wall clock ahead, behind or jumping during a lesson, against a history with
  entries inside the age limit; data lost = entries of the last 90 real days missing;
* **size**: four layouts of lessons and checks, five limits; a failure = the file above the
  limit, or more removed than needed (the newest kept + 1 would have fitted), or the lesson just
  ended removed. ``--big`` adds the issue's case: 60 lessons of ~1.2 MB, ``history.max_mb=5``;
* **speed**: every fault of the lab server in every protocol; a failure = more than the data
  cap on the wire (the server's own count), or a server fault turned into a rate (a verdict);
* **files**: hostile settings and report files (FIFO, /dev/zero, folders, huge, nested,
  thousands of digits, BOM, UTF-16, names over 255 bytes, forged lines); a failure = a crash
  (anything but the loader's own message), a hang (> 5 s) or a forged line in the output;
* **disk**: a history on a read-only and on a full tmpfs (root only);
* **processes**: four programs creating one history at once; a failure = a sample lost;
* **signals**: SIGTERM and SIGHUP during ``monitor``, Ctrl-C while loading; a failure = the
  lesson left "not ended" or a traceback;
* **dns**: a name server that hangs, asked every sample; a failure = threads piling up.

Fuzz: ``--fuzz`` mutants of a real settings file through ``load_settings`` and as many report
files (half JSON, half HTML) through ``load_report`` + ``format_report`` + ``summary_row``,
with forged lines planted in the texts.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import random
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DAY = 86_400.0


@dataclass
class Tally:
    cells: int = 0
    passed: int = 0
    crashes: int = 0
    hangs: int = 0
    data_lost: int = 0
    injections: int = 0
    false_verdicts: int = 0
    over_cap: int = 0
    not_run: int = 0
    notes: list[str] = field(default_factory=list)

    def cell(self, name: str, fn: Callable[[], dict], timeout_s: float = 60.0) -> None:
        """Run one cell in a thread (a hang is counted, not waited for); ``fn`` returns counts."""
        self.cells += 1
        box: dict = {}

        def run() -> None:
            try:
                box["r"] = fn()
            except SkipCell as exc:
                box["skip"] = str(exc)
            except Exception as exc:  # a crash of the code under test (or of the cell)
                box["crash"] = f"{type(exc).__name__}: {exc}"

        worker = threading.Thread(target=run, daemon=True)
        worker.start()
        worker.join(timeout_s)
        if worker.is_alive():
            self.hangs += 1
            self.notes.append(f"{name}: HANG (> {timeout_s:g} s)")
            return
        if "skip" in box:
            self.not_run += 1
            self.cells -= 1
            self.notes.append(f"{name}: not run ({box['skip']})")
            return
        if "crash" in box:
            self.crashes += 1
            self.notes.append(f"{name}: CRASH {box['crash'][:200]}")
            return
        r = box["r"]
        bad = {k: v for k, v in r.items() if k in ("data_lost", "injections", "false_verdicts", "over_cap",
                                                   "crashes", "hangs") and v}
        for k, v in bad.items():
            setattr(self, k, getattr(self, k) + v)
        if bad:
            self.notes.append(f"{name}: {bad} {r.get('detail', '')}")
        else:
            self.passed += 1
            if r.get("detail"):
                self.notes.append(f"{name}: ok — {r['detail']}")


class SkipCell(Exception):
    pass


# --- clock ------------------------------------------------------------------------------------------


def _iso(unix: float) -> str:
    return datetime.fromtimestamp(unix).astimezone().isoformat(timespec="seconds")


def clock_cells(t: Tally) -> None:
    from tests.test_history import a_check, a_sample

    from connectcheck.history import History

    def history_in(folder: Path, clocks: dict) -> History:
        return History(folder / "h.sqlite3", max_age_days=90, clock=lambda: clocks["wall"],
                       steady=lambda: clocks["steady"])

    def seeded(folder: Path, real: float) -> tuple[dict, list[int]]:
        clocks = {"wall": real, "steady": 1000.0}
        h = history_in(folder, clocks)
        ids = []
        for days in (80, 45, 10, 1):
            result = a_check()
            result.started_at = _iso(real - days * DAY)
            ids.append(h.add_check(result))
        lesson = h.start_lesson("recent", started_at=_iso(real - 2 * DAY))
        h.add_sample(lesson, a_sample(0.0))
        h.end_lesson(lesson)
        h.close()
        return clocks, ids

    offsets = {"+400 days": 400, "+91 days": 91, "+30 days": 30, "-1 day": -1, "-1 year": -365,
               "-25 years (CMOS)": -25 * 365}
    for label, days in offsets.items():
        for phase in ("history list (read-only)", "a check written", "a lesson monitored and ended",
                      "the next run, clock still wrong", "clock put right after"):
            def cell(days=days, phase=phase) -> dict:
                with tempfile.TemporaryDirectory() as tmp:
                    folder, real = Path(tmp), time.time()
                    clocks, ids = seeded(folder, real)
                    clocks["wall"] = real + days * DAY
                    h = history_in(folder, clocks) if "read-only" not in phase else History(
                        folder / "h.sqlite3", read_only=True, clock=lambda: clocks["wall"])
                    if "read-only" in phase:
                        h.checks(), h.lessons()
                    else:
                        result = a_check()
                        result.started_at = _iso(clocks["wall"])
                        h.add_check(result)
                        if "lesson" in phase or "next run" in phase or "put right" in phase:
                            lesson = h.start_lesson("wrong clock")
                            h.add_sample(lesson, a_sample(0.0))
                            h.end_lesson(lesson)
                    h.close()
                    if "next run" in phase or "put right" in phase:
                        clocks["wall"] = real + days * DAY + DAY if "next run" in phase else real + DAY
                        clocks["steady"] += DAY
                        h = history_in(folder, clocks)
                        h.add_check(a_check())
                        h.close()
                    h = History(folder / "h.sqlite3", read_only=True)
                    left = {c.id for c in h.checks()}
                    lessons = h.lessons()
                    h.close()
                    # a clock less than the age limit ahead cannot be told from a break that long: the
                    # entries it makes older than the limit go by the rules (counted apart, not as lost)
                    ages = zip(ids, (80, 45, 10, 1), strict=True)
                    aged = {i for i, d in ages if 0 < days < 90 and d + days > 90}
                    gone = [i for i in ids if i not in left]
                    lost = len([i for i in gone if i not in aged]) + (0 if any(x.label == "recent"
                                                                             for x in lessons) else 1)
                    detail = (f"{len(gone)} aged out by the rules (the clock ahead by less than the "
                              "limit)") if gone else ""
                    return {"data_lost": lost, "detail": detail}
            t.cell(f"clock {label}, {phase}", cell)

    def jump_mid_lesson() -> dict:
        with tempfile.TemporaryDirectory() as tmp:
            folder, real = Path(tmp), time.time()
            clocks, ids = seeded(folder, real)
            h = history_in(folder, clocks)
            lesson = h.start_lesson("jumped")
            h.add_sample(lesson, a_sample(0.0))
            clocks["wall"] += 400 * DAY
            clocks["steady"] += 60
            h.add_sample(lesson, a_sample(60.0))
            h.end_lesson(lesson)
            h.add_check(a_check())
            kept = {c.id for c in h.checks()}
            labels = [x.label for x in h.lessons()]
            h.close()
            return {"data_lost": len([i for i in ids if i not in kept]) + ("jumped" not in labels)
                    + ("recent" not in labels)}
    t.cell("clock jumps +400 days during a lesson", jump_mid_lesson)

    def future_newest() -> dict:
        with tempfile.TemporaryDirectory() as tmp:
            h = History(Path(tmp) / "h.sqlite3")
            f = h.start_lesson("future", started_at=_iso(time.time() + 400 * DAY))
            h.end_lesson(f)
            now = h.start_lesson("now")
            h.end_lesson(now)
            ok = h.last_lesson().id == now
            h.close()
            return {"false_verdicts": 0 if ok else 1, "detail": "last lesson = the one recorded last"}
    t.cell("clock: a future-dated entry is not 'last' for ever", future_newest)


# --- size -------------------------------------------------------------------------------------------


def _compact_size(path: Path, keep_lessons: list[int], keep_checks: list[int]) -> int:
    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp) / "c.sqlite3"
        with sqlite3.connect(path) as src, sqlite3.connect(copy) as dst:
            src.backup(dst)
        conn = sqlite3.connect(copy, isolation_level=None)
        conn.execute("PRAGMA foreign_keys = ON")
        conn.execute(f"DELETE FROM lessons WHERE id NOT IN ({','.join(map(str, keep_lessons)) or '-1'})")
        conn.execute("DELETE FROM checks WHERE lesson_id IS NULL AND id NOT IN "
                     f"({','.join(map(str, keep_checks)) or '-1'})")
        conn.execute("VACUUM")
        pages, free, size = conn.execute(
            "SELECT page_count, freelist_count, page_size FROM pragma_page_count(),"
            " pragma_freelist_count(), pragma_page_size()").fetchone()
        conn.close()
        return (pages - free) * size


def _build(path: Path, layout: str, lessons: int, samples: int) -> tuple[list[int], list[int]]:
    from tests.test_history import a_check, a_sample, iso

    from connectcheck.core.model import LessonAlert
    from connectcheck.history import History

    h = History(path, max_mb=100_000)
    lesson_ids, check_ids = [], []
    for k in range(lessons):
        if layout == "standalone checks":
            result = a_check(days_ago=lessons - k)
            result.notes = ["n" * 3000]
            check_ids.append(h.add_check(result))
            continue
        lesson = h.start_lesson(f"lesson {k}", started_at=iso(days_ago=(lessons - k) / 10))
        for i in range(samples):
            h.add_sample(lesson, a_sample(i * 5.0))
        if layout == "checks in lessons":
            for _ in range(3):
                result = a_check()
                result.notes = ["x" * 9000]
                h.add_check(result, lesson)
        if layout == "alerts":
            for i in range(300):
                h.add_alert(lesson, LessonAlert(at=iso(), t_s=float(i), activity="video", state="fail",
                                                previous="good", message="Video is failing " * 3))
        h.end_lesson(lesson)
        lesson_ids.append(lesson)
    h.close()
    return lesson_ids, check_ids


def size_cells(t: Tally, big: bool) -> None:
    from connectcheck.history import MB, History

    for layout in ("samples", "checks in lessons", "alerts", "standalone checks"):
        with tempfile.TemporaryDirectory() as tmp:
            base = Path(tmp) / "base.sqlite3"
            lesson_ids, check_ids = _build(base, layout, 20, 100 if layout != "alerts" else 10)
            whole = _compact_size(base, lesson_ids, check_ids)
            for share in (2, 4.5, 10, 19.5):
                def cell(share=share, base=base, whole=whole, lesson_ids=lesson_ids,
                         check_ids=check_ids) -> dict:
                    with tempfile.TemporaryDirectory() as tmp2:
                        path = Path(tmp2) / "h.sqlite3"
                        with sqlite3.connect(base) as src, sqlite3.connect(path) as dst:
                            src.backup(dst)
                        limit = whole / share
                        h = History(path, max_mb=limit / MB)
                        h.prune()
                        kept_l = [x.id for x in h.lessons()]
                        kept_c = [c.id for c in h.checks() if c.lesson_id is None]
                        h.close()
                        ids = lesson_ids or check_ids
                        kept = kept_l or kept_c
                        over = path.stat().st_size > max(limit, _compact_size(base, [], []))
                        k = len(kept)
                        one_more = ids[-(k + 1):]
                        fits_more = (k < len(ids) and _compact_size(
                            base, one_more if lesson_ids else [], one_more if check_ids else []) <= limit)
                        wrong_order = kept != ids[::-1][:k]
                        empty = _compact_size(base, [], [])
                        below = f" (below the empty file's {empty / MB:.3f} MB)" if limit < empty else ""
                        return {"data_lost": int(fits_more or wrong_order), "over_cap": int(over),
                                "detail": f"kept {k} of {len(ids)} at {limit / MB:.3f} MB{below}"}
                t.cell(f"size {layout}, limit 1/{share:g} of the data", cell)

    def alone_too_big() -> dict:
        from tests.test_history import a_sample

        with tempfile.TemporaryDirectory() as tmp:
            h = History(Path(tmp) / "h.sqlite3", max_mb=500)
            others = []
            for k in range(3):
                lesson = h.start_lesson(f"small {k}")
                h.add_sample(lesson, a_sample(0.0))
                h.end_lesson(lesson)
                others.append(lesson)
            h.max_mb = 0.05
            big_lesson = h.start_lesson("long")
            for i in range(600):
                h.add_sample(big_lesson, a_sample(i * 5.0))
            h.end_lesson(big_lesson)
            kept = [x.id for x in h.lessons()]
            h.close()
            return {"data_lost": 4 - len(kept), "detail": "the lesson just ended, larger than the limit"}
    t.cell("size: a lesson alone larger than the limit", alone_too_big)

    if big:
        def issue_case() -> dict:
            with tempfile.TemporaryDirectory() as tmp:
                path = Path(tmp) / "h.sqlite3"
                lesson_ids, _ = _build(path, "samples", 60, 2400)
                before = path.stat().st_size
                fit = next(k for k in range(1, 61) if _compact_size(path, lesson_ids[-(k + 1):], []) > 5 * MB)
                h = History(path, max_mb=5)
                started = time.perf_counter()
                h.prune()
                took = time.perf_counter() - started
                kept = len(h.lessons())
                h.close()
                after = path.stat().st_size
                return {"data_lost": int(kept != fit),
                        "detail": f"60 lessons, {before / MB:.1f} MB, max_mb=5 → kept {kept} (as many as "
                                  f"fit: {fit}), file {after / MB:.2f} MB, prune took {took:.1f} s"}
        t.cell("size: 60 lessons, max_mb=5 (the issue's case)", issue_case, timeout_s=900)


# --- speed ------------------------------------------------------------------------------------------


def speed_cells(t: Tally) -> None:
    from tests.lab.speed_server import LabSpeedServer

    from connectcheck.core.model import SpeedServer, Status
    from connectcheck.probes.bandwidth import SPEEDTEST_IMAGE_BYTES, measure_bandwidth

    cap = 60_000_000
    for fault in ("stall", "stall-body", "stall-after", "oversize", "endless", "long-length", "short-length",
                  "close", "403", "429", "none"):
        for protocol in ("librespeed", "cloudflare", "speedtest"):
            for direction in ("download", "upload") if fault in ("stall", "close", "403", "429", "none") \
                    else ("download",):
                def cell(fault=fault, protocol=protocol, direction=direction) -> dict:
                    with LabSpeedServer(chunked=fault == "endless" or None) as srv:
                        if fault != "none":
                            names = {"librespeed": ["garbage.php", "empty.php"],
                                     "cloudflare": ["__down", "__up"],
                                     "speedtest": [f"random{n}x{n}.jpg" for n in SPEEDTEST_IMAGE_BYTES]
                                     + ["upload.php"]}[protocol]
                            for name in names:
                                srv.faults[name] = fault
                        url = {"librespeed": srv.librespeed_url, "cloudflare": srv.cloudflare_url,
                               "speedtest": srv.speedtest_upload_url}[protocol]
                        server = SpeedServer(source="custom", protocol=protocol, url=url, host=srv.host)
                        r = measure_bandwidth(server, direction, streams=4, time_limit_s=6.0,
                                              data_limit_bytes=cap, cancel=threading.Event())
                        time.sleep(0.3)
                        moved = max(srv.stats.bytes_sent, srv.stats.bytes_received)
                    verdict_from_fault = fault != "none" and r.rate_mbps is not None and (
                        r.rate_mbps < 100 or fault in ("oversize", "endless", "long-length", "short-length"))
                    rate = f"{r.rate_mbps:.0f} Mbit/s" if r.rate_mbps is not None else r.status.value
                    return {"over_cap": int(moved > cap), "false_verdicts": int(verdict_from_fault),
                            "detail": f"{moved / 1e6:.1f} MB on the wire, {rate}"
                                      + ("" if r.status is Status.OK else f" ({(r.error or '')[:70]})")}
                t.cell(f"speed {fault} {protocol} {direction}", cell)


# --- files ------------------------------------------------------------------------------------------


def file_cells(t: Tally) -> None:
    from tests.report.fixtures import steam_check, troubled_lesson

    from connectcheck.config.settings import load_settings
    from connectcheck.report import ReportError, build_check_report, build_lesson_report, export_report
    from connectcheck.report.load import load_report
    from connectcheck.report.summary import format_report

    tmp = Path(tempfile.mkdtemp())
    settings_cases: dict[str, Callable[[Path], None]] = {
        "FIFO": lambda p: os.mkfifo(p),
        "link to /dev/zero": lambda p: p.symlink_to("/dev/zero"),
        "folder": lambda p: p.mkdir(),
        "2 MB": lambda p: p.write_bytes(b"#" * 2_000_000),
        "arrays 500 deep": lambda p: p.write_text("[network]\nstun_servers = " + "[" * 500 + "]" * 500),
        "integer of 4,301 digits": lambda p: p.write_text("[latency]\nprobes = " + "9" * 4301),
        "hex integer of 5,000 digits": lambda p: p.write_text("[latency]\nprobes = 0x" + "f" * 5000),
        "UTF-8 BOM": lambda p: p.write_bytes(b"\xef\xbb\xbf[speed]\nstreams = 3\n"),
        "UTF-16": lambda p: p.write_bytes("[speed]\nstreams = 3\n".encode("utf-16")),
        "2,000 STUN servers": lambda p: p.write_text(
            "[network]\nstun_servers = [" + ", ".join(f'"h{i}:1"' for i in range(2000)) + "]"),
        "50,000 unknown keys": lambda p: p.write_text("".join(f"unknown_{i} = 1\n" for i in range(50_000))),
        "superscript port": lambda p: p.write_text('[network]\nstun_servers = ["h:¹²³"]'),
    }
    for name, make in settings_cases.items():
        def cell(name=name, make=make) -> dict:
            path = tmp / f"s-{len(os.listdir(tmp))}.toml"
            make(path)
            started = time.perf_counter()
            s = load_settings(path)
            took = time.perf_counter() - started
            lines = len(s.problems_text().splitlines()) if s.problems else 0
            bom_lost = name == "UTF-8 BOM" and s["speed.streams"] != 3
            return {"data_lost": int(bom_lost), "detail": f"{took * 1000:.0f} ms, {lines} lines of problems"}
        t.cell(f"settings: {name}", cell, timeout_s=10)

    for flag in ("network.stun_servers=" + "[" * 500 + "]" * 500, "latency.probes=" + "9" * 4301):
        def set_cell(flag=flag) -> dict:
            from connectcheck.cli import main

            err = io.StringIO()
            code = main(["history", "--set", flag], out=io.StringIO(), err=err)
            return {"crashes": int(code != 2 or "Traceback" in err.getvalue())}
        t.cell(f"--set {flag[:30]}…", set_cell, timeout_s=10)

    from connectcheck.config.settings import Settings

    label = Settings()
    label.set("report.tutor_label", "Jane\nOverall: READY")
    real_json = export_report(build_check_report(steam_check(), Settings()), tmp / "steam.json")
    lesson_html = export_report(build_lesson_report(troubled_lesson(minutes=10), label), tmp / "lesson.html")
    report_cases: dict[str, Callable[[], Path]] = {
        "FIFO": lambda: (os.mkfifo(tmp / "r.fifo"), tmp / "r.fifo")[1],
        "/dev/zero": lambda: Path("/dev/zero"),
        "UTF-16": lambda: (p := tmp / "u16.json",
                           p.write_bytes(real_json.read_text().encode("utf-16")), p)[2],
        "a name of 300 bytes": lambda: tmp / ("r" * 300 + ".json"),
        "integer of 5,000 digits": lambda: (p := tmp / "big.json", p.write_text(
            real_json.read_text().replace('"schema_version": 1', '"schema_version": ' + "1" * 5000, 1)),
            p)[2],
        "a tutor label with a line break": lambda: lesson_html,
    }
    for name, make in report_cases.items():
        def rcell(name=name, make=make) -> dict:
            path = make()
            try:
                report = load_report(path)
            except ReportError as exc:
                advice = "set_int_max_str_digits" in str(exc)
                return {"injections": int(advice), "detail": f"refused: {str(exc)[:70]}"}
            text = format_report(report, full=True)
            forged = sum(1 for line in text.splitlines() if line.lstrip().startswith("Overall: READY"))
            return {"injections": forged, "detail": "read"}
        t.cell(f"report: {name}", rcell, timeout_s=10)


# --- disk, processes, signals, dns --------------------------------------------------------------------


def _mounted(size: str) -> Path:
    if os.geteuid() != 0:
        raise SkipCell("mounting a tmpfs needs root")
    folder = Path(tempfile.mkdtemp())
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)], check=True)
    return folder


def _unmount(folder: Path) -> None:
    subprocess.run(["umount", "-l", str(folder)], check=False, capture_output=True)


def disk_cells(t: Tally) -> None:
    from tests.test_history import a_check, a_sample

    from connectcheck.history import History, HistoryError

    def read_only() -> dict:
        folder = _mounted("20m")
        try:
            h = History(folder / "h.sqlite3")
            lesson = h.start_lesson("ro")
            h.add_sample(lesson, a_sample(0.0))
            h.end_lesson(lesson)
            h.close()
            subprocess.run(["mount", "-o", "remount,ro", str(folder)], check=True)
            r = History(folder / "h.sqlite3", read_only=True)
            w = History(folder / "h.sqlite3")
            lost = int(r.last_lesson() is None) + int(w.last_lesson() is None)
            r.close()
            w.close()
            return {"data_lost": lost, "detail": w.notice or ""}
        finally:
            _unmount(folder)
    t.cell("disk: read-only", read_only)

    def full() -> dict:
        folder = _mounted("1m")
        try:
            h = History(folder / "h.sqlite3")
            kept = h.add_check(a_check())
            h.close()
            fd = os.open(folder / "filler", os.O_WRONLY | os.O_CREAT)
            try:
                while os.write(fd, b"\0" * 4096):
                    pass
            except OSError:
                pass
            os.close(fd)
            h = History(folder / "h.sqlite3")
            try:
                h.add_check(a_check())
                said = ""
            except HistoryError as exc:
                said = str(exc)
            lost = int(kept not in {c.id for c in h.checks()})
            h.close()
            wrong_words = int("disk is full" not in said or "I/O error" in said)
            return {"data_lost": lost, "false_verdicts": wrong_words, "detail": said[:80]}
        finally:
            _unmount(folder)
    t.cell("disk: full", full)


OPENER = """
import sys, time
from pathlib import Path
from connectcheck.core.model import MonitorSample
from connectcheck.history import History
time.sleep(max(0.0, float(sys.argv[2]) - time.time()))
h = History(Path(sys.argv[1]))
lesson = h.start_lesson("racer")
for i in range(15):
    h.add_sample(lesson, MonitorSample(at="2025-01-01T10:00:00+00:00", t_s=float(i), states={}))
h.end_lesson(lesson)
print(len(h.lesson(lesson).samples))
"""


def process_cells(t: Tally) -> None:
    for n in range(5):
        def cell() -> dict:
            with tempfile.TemporaryDirectory() as tmp:
                start = time.time() + 1.5
                procs = [subprocess.Popen([sys.executable, "-c", OPENER, f"{tmp}/h.sqlite3", str(start)],
                                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                         for _ in range(4)]
                outs = [p.communicate(timeout=60)[0].strip() for p in procs]
                kept = sum(int(o) if o.isdigit() else 0 for o in outs)
                return {"data_lost": 60 - kept}
        t.cell(f"processes: four create one history at once (round {n + 1})", cell)


CHILD = "import sys; from connectcheck.__main__ import run; sys.exit(run())"


def signal_cells(t: Tally) -> None:
    from tests.lab.stun_server import StunServer

    from connectcheck.history import History

    for signum in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
        def cell(signum=signum) -> dict:
            with tempfile.TemporaryDirectory() as tmp, StunServer() as stun:
                env = {**os.environ, "CONNECTCHECK_DATA_DIR": tmp, "CONNECTCHECK_CONFIG_DIR": tmp,
                       "CONNECTCHECK_CACHE_DIR": tmp, "CONNECTCHECK_LOG_DIR": tmp}
                child = subprocess.Popen([sys.executable, "-c", CHILD, "monitor", "--stun", stun.address,
                                          "--set", "monitor.interval_s=2", "--label", signum.name],
                                         cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                         text=True)
                child.stdout.readline()
                err = ""
                if signum == signal.SIGHUP:
                    child.stdout.close()
                    child.stderr.close()
                    child.send_signal(signum)
                    child.wait(20)
                else:
                    child.send_signal(signum)
                    _, err = child.communicate(timeout=20)
                h = History(Path(tmp) / "history.sqlite3", read_only=True)
                lesson = h.last_lesson()
                h.close()
                return {"data_lost": int(lesson is None or lesson.ended_at is None),
                        "crashes": int("Traceback" in err)}
        t.cell(f"signals: {signum.name} during monitor", cell)
    for delay in (0.05, 0.1, 0.15, 0.2, 0.25, 0.3):
        def early(delay=delay) -> dict:
            child = subprocess.Popen([sys.executable, "-c", CHILD, "history"], cwd=ROOT,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            time.sleep(delay)
            child.send_signal(signal.SIGINT)
            _, err = child.communicate(timeout=30)
            if "init_import_site" in err:
                return {"detail": "the signal came while Python itself was starting (before connectcheck)"}
            return {"crashes": int("Traceback" in err)}
        t.cell(f"signals: Ctrl-C {delay:g} s after start", early)


def dns_cells(t: Tally) -> None:
    from connectcheck.core.tasks import Deadline
    from connectcheck.probes import dns

    def cell() -> dict:
        hang = threading.Event()

        def stuck(host, port, **kw):
            hang.wait(120)
            raise OSError("gave up")

        before = threading.active_count()
        for _ in range(90):  # 90 samples, a second apart in the issue: here back to back
            for host in ("stun.l.google.com", "stun.cloudflare.com"):
                dns.resolve(host, 3478, Deadline(0.01, threading.Event()), stuck)
        grown = threading.active_count() - before
        hang.set()
        return {"hangs": int(grown > 2), "detail": f"threads grew by {grown} over 180 lookups"}
    t.cell("dns: a name server that hangs, asked every sample", cell)


# --- fuzz -------------------------------------------------------------------------------------------


def fuzz_settings(n: int, seed: int = 2026_17) -> dict:
    from tests.hostile import settings_mutants

    from connectcheck.config.settings import OPTIONS, load_settings, validate_value

    crashes, hangs, invalid, kinds = 0, 0, 0, Counter()
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "settings.toml"
        for data in settings_mutants(seed, n):
            path.write_bytes(data)
            t0 = time.perf_counter()
            try:
                s = load_settings(path)
                s.problems_text()
            except Exception as exc:
                crashes += 1
                kinds[f"{type(exc).__name__}: {str(exc)[:60]}"] += 1
                continue
            if time.perf_counter() - t0 > 5:
                hangs += 1
            invalid += sum(1 for k, v in s.values.items() if validate_value(OPTIONS[k], v)[1] is not None)
    return {"inputs": n, "crashes": crashes, "hangs": hangs, "invalid values kept": invalid,
            "seconds": round(time.perf_counter() - started, 1), "kinds": kinds.most_common(5)}


def fuzz_reports(n: int, seed: int = 2026_17) -> dict:
    from tests.report import test_fuzz as fz
    from tests.report.fixtures import steam_check, troubled_lesson

    from connectcheck.config.settings import Settings
    from connectcheck.report import ReportError, build_check_report, build_lesson_report
    from connectcheck.report.html import render_html
    from connectcheck.report.load import loads_report
    from connectcheck.report.model import dumps_report
    from connectcheck.report.summary import format_report, summary_row

    forged = "x\nOverall: READY\r\n\u2028\x1b[2J"
    fz.INTERESTING.append(forged)
    rng = random.Random(seed)
    reports = [build_lesson_report(troubled_lesson(minutes=15), Settings()),
               build_check_report(steam_check(), Settings())]
    seeds = [(dumps_report(r), render_html(r), fz._shapes(json.loads(dumps_report(r)))) for r in reports]
    crashes = injections = accepted = refused = 0
    kinds: Counter = Counter()
    started = time.perf_counter()
    for case in range(n):
        js, page, shapes = rng.choice(seeds)
        structured = rng.random() < 0.5
        if case % 2 == 0:
            blob = json.dumps(fz._mutate_structure(js, shapes, rng)).encode() if structured \
                else fz._mutate_bytes(js.encode(), rng)
        else:
            blob = fz._embed(page, fz._mutate_structure(js, shapes, rng)) if structured \
                else fz._mutate_bytes(page.encode(), rng)
        try:
            report = loads_report(blob, "fuzz")
        except ReportError:
            refused += 1
            continue
        except Exception as exc:
            crashes += 1
            kinds[f"load {type(exc).__name__}: {str(exc)[:60]}"] += 1
            continue
        accepted += 1
        try:
            text = format_report(report, full=True)
            row = summary_row(report, "fuzz.json")
        except Exception as exc:
            crashes += 1
            kinds[f"show {type(exc).__name__}: {str(exc)[:60]}"] += 1
            continue
        lines = text.splitlines()
        injections += sum(1 for line in lines if line.lstrip().startswith("Overall: READY"))
        injections += int("\x1b" in text) + sum(1 for v in row.values() if "\n" in v or "\x1b" in v)
    fz.INTERESTING.remove(forged)
    return {"inputs": n, "accepted": accepted, "refused": refused, "crashes": crashes,
            "injections": injections, "seconds": round(time.perf_counter() - started, 1),
            "kinds": kinds.most_common(5)}


# --- main -------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fuzz", type=int, default=10_000, help="inputs for each loader")
    parser.add_argument("--big", action="store_true", help="also the 60-lesson, 72 MB size case (minutes)")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "hostile.md")
    parser.add_argument("--only", nargs="*", default=None,
                        help="clock size speed files disk processes signals dns fuzz")
    args = parser.parse_args(argv)
    for name in ("CONFIG", "DATA", "CACHE", "LOG"):  # never the user's own folders
        os.environ[f"CONNECTCHECK_{name}_DIR"] = tempfile.mkdtemp(prefix=f"hostile-{name.lower()}-")
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    groups = {"clock": clock_cells, "size": lambda t: size_cells(t, args.big), "speed": speed_cells,
              "files": file_cells, "disk": disk_cells, "processes": process_cells, "signals": signal_cells,
              "dns": dns_cells}
    chosen = args.only or [*groups, "fuzz"]
    load = os.getloadavg()[0]
    results: dict[str, Tally] = {}
    for name, run in groups.items():
        if name in chosen:
            tally = Tally()
            started = time.perf_counter()
            run(tally)
            tally.notes.append(f"({time.perf_counter() - started:.0f} s)")
            results[name] = tally
            print(f"{name}: {tally.cells} cells, {tally.passed} passed", file=sys.stderr)
    fuzz = {}
    if "fuzz" in chosen:
        fuzz["settings"] = fuzz_settings(args.fuzz)
        print("fuzz settings:", fuzz["settings"], file=sys.stderr)
        fuzz["reports"] = fuzz_reports(args.fuzz)
        print("fuzz reports:", fuzz["reports"], file=sys.stderr)
    lines = ["# A hostile world (benchmarks/hostile.py)", "",
             f"Run {datetime.now().astimezone():%Y-%m-%d %H:%M %Z}, load average {load:.2f} at the start, "
             f"{'root' if os.geteuid() == 0 else 'not root'}, Python {sys.version.split()[0]}, "
             f"SQLite {sqlite3.sqlite_version}, on {socket.gethostname() and sys.platform}.", "",
             "| group | cells | passed | crashes | hangs | data lost | injections | false verdicts "
             "| over cap | not run |", "|---|---|---|---|---|---|---|---|---|---|"]
    total = Tally()
    for name, tl in results.items():
        lines.append(f"| {name} | {tl.cells} | {tl.passed} | {tl.crashes} | {tl.hangs} | {tl.data_lost} | "
                     f"{tl.injections} | {tl.false_verdicts} | {tl.over_cap} | {tl.not_run} |")
        for k in ("cells", "passed", "crashes", "hangs", "data_lost", "injections", "false_verdicts",
                  "over_cap", "not_run"):
            setattr(total, k, getattr(total, k) + getattr(tl, k))
    lines.append(f"| **all** | {total.cells} | {total.passed} | {total.crashes} | {total.hangs} | "
                 f"{total.data_lost} | {total.injections} | {total.false_verdicts} | {total.over_cap} | "
                 f"{total.not_run} |")
    for name, f in fuzz.items():
        lines += ["", f"Fuzz of the {name} loader: " + ", ".join(f"{k} {v}" for k, v in f.items())]
    lines += ["", "## Cells", ""]
    for name, tl in results.items():
        lines += [f"### {name}", ""] + [f"- {n}" for n in tl.notes] + [""]
    text = "\n".join(lines) + "\n"
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text, encoding="utf-8")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
