"""The support desk's page over many reports (``report/dashboard``): time, memory and page size.

Run from the repository root::

    python -m benchmarks.dashboard [--reports 10000] [--small 1000] [--out benchmarks/results/dashboard.md]
                                   [--keep DIR] [--screenshot benchmarks/results/dashboard.png]

The reports are made from real ones: real checks run first against the loopback servers the
tests use (a full check with STUN, an HTTPS platform and the lab's speed server; the same with
nothing listening at the platform's address; a quick check) and a real monitored lesson (the real
Monitor probing a loopback STUN server that starts dropping and delaying answers half way). Their
reports' JSON is then varied — start times over six months (evenings and weekdays likelier),
400 tutors each with one provider (15 providers, some with few tutors) and one connection
(Ethernet, Wi-Fi 2.4 or 5 GHz, mobile), the likely cause and verdict (weak Wi-Fi likelier on
2.4 GHz), lesson lengths of 20 to 60 minutes (the real lesson's samples repeated every 5 s), and
whether a re-check after the advice was better — and written as JSON (60 %) and HTML (40 %: the
real report's page of its seed with the varied JSON as its data block), with 25 real PDFs, 100
copies of reports already there (as the other format), a damaged, a newer-version and a
hostile one.

Each measurement runs in a fresh Python process: the wall time to read the folder and write the
page, its peak resident memory (``ru_maxrss``) against the same process right after its imports,
and the page's size; at ``--small`` and at ``--reports`` reports, to show that memory stays flat.
The machine has 2 cores shared with other work: the load average is printed.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TARGET_S = 30.0
TARGET_MB = 2.0
PROVIDERS = [
    ("Brightline Broadband", 70),
    ("Northern Fibre", 60),
    ("HomeNet UK", 50),
    ("Kestrel Telecom", 40),
    ("Valley Cable", 35),
    ("Cityspeed", 30),
    ("Orbit Mobile", 30),
    ("Greenfield Internet", 25),
    ("Harbour Networks", 20),
    ("Meadow Wireless", 15),
    ("Tiny Village Net", 4),
    ("Solo ISP", 3),
    ("Hilltop Radio Link", 2),
    ("Island Fibre", 1),
    ("Rural Co-op", 1),
]
CONNECTIONS = [("ethernet", None, 30), ("wifi", 2437.0, 30), ("wifi", 5180.0, 30), ("mobile", None, 10)]


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


# --- the seeds: real checks and a real lesson -------------------------------------------------------


def real_seeds(tmp: Path) -> tuple[list[object], object, list[str]]:
    """Real checks over loopback and a real monitored lesson; their reports (and what ran)."""
    sys.path.insert(0, str(ROOT))
    from tests.lab.endpoints import WebServer, dead_port, make_pki
    from tests.lab.speed_server import LabSpeedServer
    from tests.lab.stun_server import StunServer

    from connectcheck.check import CheckOptions, run_check
    from connectcheck.config.settings import Settings
    from connectcheck.core.model import CheckKind
    from connectcheck.monitor import Monitor, MonitorOptions
    from connectcheck.probes.speed import SpeedConfig
    from connectcheck.report import build_check_report, build_lesson_report

    pki = make_pki(tmp / "pki")
    ran: list[str] = []
    checks = []
    with StunServer() as stun, WebServer(cert=pki.cert, key=pki.key) as web, LabSpeedServer() as speed:

        def options(kind: CheckKind, platform: str) -> CheckOptions:
            return CheckOptions(
                kind=kind,
                stun_servers=[stun.address],
                platform_urls=[platform],
                ca_file=str(pki.ca_file),
                time_limit_s=20,
                latency_probes=20,
                latency_interval_s=0.02,
                speed=SpeedConfig(
                    source="org",
                    org_server_url=speed.librespeed_url,
                    time_limit_s=2.0,
                    data_limit_bytes=100_000_000,
                ),
            )

        for name, kind, url in (
            ("full check, all answering", CheckKind.FULL, web.url("/")),
            ("full check, platform not answering", CheckKind.FULL, f"https://127.0.0.1:{dead_port()}/"),
            ("quick check", CheckKind.QUICK, web.url("/")),
        ):
            started = time.monotonic()
            result = run_check(options(kind, url))
            ran.append(
                f"{name}: {time.monotonic() - started:.1f} s, overall "
                f"{result.assessment.overall if result.assessment else '?'}"
            )
            checks.append(result)
        reports = [build_check_report(c, Settings()) for c in checks]

        lossy = StunServer(drop_pct=0.0, late_every=3, late_ms=0.0, seed=18)
        with lossy:
            monitor = Monitor(
                options=MonitorOptions(stun_servers=[lossy.address], interval_s=1.0, local=False),
                history=None,
                on_sample=lambda s: None,
                on_alert=lambda a: None,
            )
            monitor.start("benchmark lesson")
            time.sleep(12)
            lossy.drop_pct, lossy.late_ms = 35.0, 250.0  # the line goes bad half way
            time.sleep(14)
            record = monitor.stop()
        record.checks = [checks[1], checks[0]]  # a failed check, then a better one after the advice
        lesson = build_lesson_report(record, Settings())
        bad = (
            sum(1 for p in lesson.timeline.points if p.state in ("degraded", "fail"))
            if lesson.timeline
            else 0
        )
        ran.append(
            f"monitored lesson: {len(record.samples)} samples of 1 s, {bad} weak or failing "
            f"(STUN answers dropped 35 % and delayed 250 ms after 12 s)"
        )
    return reports, lesson, ran


# --- the corpus ----------------------------------------------------------------------------------


def _shell(report: object) -> tuple[str, str]:
    """The seed's real HTML page, split around its data block's JSON."""
    from connectcheck.report.html import render_html
    from connectcheck.report.model import DATA_ID

    page = render_html(report)
    at = page.index(f'id="{DATA_ID}"')
    start = page.index(">", at) + 1
    end = page.index("</script", start)
    return page[:start], page[end:]


def _embed(data: dict) -> str:
    text = json.dumps(data, ensure_ascii=True, separators=(",", ":"))
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


class Maker:
    """Varied reports from the seeds, reproducibly."""

    def __init__(self, checks: list[object], lesson: object, seed: int = 18) -> None:
        from connectcheck.core.model import to_dict

        self.rng = random.Random(seed)
        self.checks = [(to_dict(r), _shell(r)) for r in checks]
        self.lesson = (to_dict(lesson), _shell(lesson))
        weights = [w for _, w in PROVIDERS]
        self.tutors = []
        for i in range(400):
            provider = self.rng.choices([p for p, _ in PROVIDERS], weights)[0]
            conn = self.rng.choices(CONNECTIONS, [w for *_, w in CONNECTIONS])[0]
            self.tutors.append((f"Tutor {i:03d}", provider, conn))
        self.start = datetime(2026, 6, 1, tzinfo=timezone(timedelta(hours=1)))

    def when(self) -> datetime:
        rng = self.rng
        day = rng.randrange(183)
        while (self.start + timedelta(days=day)).weekday() >= 5 and rng.random() < 0.7:
            day = rng.randrange(183)  # fewer lessons at weekends
        hour = rng.choices(range(8, 22), [1, 1, 2, 2, 2, 2, 3, 4, 6, 8, 8, 7, 4, 2])[0]
        return self.start + timedelta(
            days=day, hours=hour, minutes=rng.randrange(60), seconds=rng.randrange(60)
        )

    def cause(self, conn: tuple) -> tuple[str, str, str]:
        from connectcheck.assess.cause import TITLES

        keys = [
            "no_fault",
            "other_program",
            "others_at_home",
            "weak_wifi",
            "line_too_slow",
            "line_unsteady",
            "platform_unreachable",
            "computer_overloaded",
            "no_connection",
            "unclear",
        ]
        weights = [
            30,
            15,
            15,
            4 if conn[0] != "wifi" else (18 if conn[1] and conn[1] < 3000 else 6),
            10,
            6,
            4,
            4,
            2,
            5,
        ]
        if conn[0] != "wifi":
            weights[3] = 0
        key = self.rng.choices(keys, weights)[0]
        state = "good" if key == "no_fault" else self.rng.choices(["degraded", "fail"], [3, 2])[0]
        return key, state if key != "no_connection" else "fail", TITLES[key]

    def one(self, i: int) -> tuple[str, dict, tuple[str, str]]:
        rng = self.rng
        tutor, provider, conn = rng.choice(self.tutors)
        lesson = rng.random() < 0.4
        base, shell = self.lesson if lesson else rng.choice(self.checks)
        d = copy.deepcopy(base)
        at = self.when()
        d["started_at"] = at.isoformat()
        d["created_at"] = (at + timedelta(hours=1)).isoformat()
        d["tutor_label"] = tutor
        d["provider"] = provider if rng.random() < 0.92 else None  # some checks had no speed test
        key, state, title = self.cause(conn)
        d["headline"]["state"] = state
        d["headline"]["cause"] = {
            "key": key,
            "title": title,
            "sentence": "",
            "evidence": [],
            "program": None,
            "also": [],
        }
        for c in d["checks"]:
            c["started_at"] = at.isoformat()
            if c.get("local"):
                c["local"]["connection_type"] = conn[0]
                c["local"]["wifi"] = {"status": "ok", "frequency_mhz": conn[1]} if conn[1] else None
        if lesson:
            minutes = rng.randint(20, 60)
            points = base["timeline"]["points"]
            n = minutes * 12
            tiled = [dict(points[(k + rng.randrange(3)) % len(points)], t_s=k * 5.0) for k in range(n)]
            if state == "good":
                for p in tiled:
                    p["state"] = "good"
            d["timeline"]["points"] = tiled
            d["timeline"]["start"] = at.isoformat()
            d["timeline"]["interval_s"] = 5.0
            d["ended_at"] = (at + timedelta(minutes=minutes)).isoformat()
            d["headline"]["monitored_s"] = minutes * 60.0
            d["advice"] = d.get("advice") or {}
            d["advice"]["improved"] = rng.choice([True, True, False, None])
        return ("lesson" if lesson else "check"), d, shell


def make_corpus(folder: Path, n: int, checks: list[object], lesson: object) -> dict:
    from connectcheck.report import export_report
    from connectcheck.report.load import report_from_dict

    folder.mkdir(parents=True, exist_ok=True)
    maker = Maker(checks, lesson)
    written = {"json": 0, "html": 0, "pdf": 0, "copies": 0, "bytes": 0}
    copies = set(maker.rng.sample(range(n), min(100, n // 10)))
    pdfs = set(maker.rng.sample(range(n), min(25, n // 40)))
    for i in range(n):
        kind, d, (head, tail) = maker.one(i)
        stem = f"connectcheck-{kind}-{d['started_at'][:16].replace(':', '')}-{i:05d}"
        if i in pdfs:
            export_report(report_from_dict(d, stem), folder / f"{stem}.pdf")
            written["pdf"] += 1
            continue
        as_html = maker.rng.random() < 0.4
        if as_html or i in copies:
            (folder / f"{stem}.html").write_text(head + _embed(d) + tail, encoding="utf-8")
            written["html"] += 1
        if not as_html or i in copies:
            (folder / f"{stem}.json").write_text(json.dumps(d, indent=2), encoding="utf-8")
            written["json"] += 1
        written["copies"] += i in copies
    good = json.dumps(maker.one(0)[1])
    (folder / "damaged.json").write_text(good[: len(good) // 3], encoding="utf-8")
    newer = json.loads(good)
    newer["schema_version"] = 99
    (folder / "from-a-newer-connectcheck.json").write_text(json.dumps(newer), encoding="utf-8")
    evil = json.loads(good)
    evil["tutor_label"] = "<script>alert(1)</script>"
    evil["provider"] = "</style><img src=x onerror=alert(1)>"
    evil["started_at"] = "2026-07-01T18:00:00+01:00"
    (folder / "javascript:alert(1).json").write_text(json.dumps(evil), encoding="utf-8")
    written["bytes"] = sum(p.stat().st_size for p in folder.iterdir())
    return written


# --- measuring, in a fresh process -----------------------------------------------------------------


def _status_kb(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def measure_child(folder: str, out: str) -> None:
    from connectcheck.report.dashboard import build_dashboard

    try:  # the peak counted from here on (Linux: "5" resets VmHWM to the current size)
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        pass
    before = _status_kb("VmRSS")
    started = time.perf_counter()
    dash = build_dashboard([Path(folder)], Path(out))
    seconds = time.perf_counter() - started
    peak = _status_kb("VmHWM") or resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(
        json.dumps(
            {
                "seconds": seconds,
                "rss_before_kb": before,
                "rss_peak_kb": peak,
                "page_bytes": Path(out).stat().st_size,
                "reports": dash.all.reports,
                "lessons": dash.all.lessons,
                "copies": dash.duplicates_count,
                "unreadable": dash.unreadable,
                "tutors": len(dash.all.tutors),
            }
        )
    )


def measure(folder: Path, out: Path) -> dict:
    started_load = load()
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.dashboard", "--measure", str(folder), str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    result = json.loads(done.stdout.strip().splitlines()[-1])
    result["load"] = started_load
    return result


SHOT = r"""
import sys
from PySide6.QtCore import QTimer, QUrl, QSize
from PySide6.QtWidgets import QApplication
from PySide6.QtWebEngineWidgets import QWebEngineView
app = QApplication(sys.argv[:1])
view = QWebEngineView()
view.resize(QSize(int(sys.argv[3]), int(sys.argv[4])))
def loaded(ok):
    def grab():
        view.grab().save(sys.argv[2])
        app.quit()
    QTimer.singleShot(1500, grab)
view.loadFinished.connect(loaded)
url = QUrl.fromLocalFile(sys.argv[1])
if len(sys.argv) > 5:
    url.setFragment(sys.argv[5])  # a section of the page (its id), scrolled to by the browser itself
view.load(url)
view.show()
QTimer.singleShot(30000, app.quit)
app.exec()
"""


def screenshot(page: Path, png: Path, width: int = 1200, height: int = 2400, section: str = "") -> str:
    """The page as a browser engine (Qt WebEngine, Chromium's) draws it; why not, when it cannot."""
    try:
        import PySide6.QtWebEngineWidgets  # noqa: F401
    except ImportError:
        return "no browser engine here (PySide6's QtWebEngine is not installed; no chromium): no screenshot"
    env = dict(
        os.environ,
        QT_QPA_PLATFORM="offscreen",
        QTWEBENGINE_CHROMIUM_FLAGS="--no-sandbox --disable-gpu",
        QTWEBENGINE_DISABLE_SANDBOX="1",
    )
    where = [section] if section else []
    done = subprocess.run(
        [sys.executable, "-c", SHOT, str(page), str(png), str(width), str(height), *where],
        env=env,
        capture_output=True,
        text=True,
        timeout=90,
    )
    if not png.exists():
        return f"Qt WebEngine could not draw the page: {done.stderr.strip()[-300:]}"
    return f"drawn by Qt WebEngine {width}×{height}{f' at #{section}' if section else ''}: {png.name}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reports", type=int, default=10_000)
    parser.add_argument("--small", type=int, default=1_000)
    parser.add_argument("--out", default="benchmarks/results/dashboard.md")
    parser.add_argument("--keep", help="make the folders here and keep them")
    parser.add_argument("--screenshot", help="save a picture of the page of --reports reports here (.png)")
    parser.add_argument(
        "--reuse", action="store_true", help="measure again the folders made before in --keep (not made anew)"
    )
    parser.add_argument("--measure", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        measure_child(*args.measure)
        return
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    began, load_before = time.time(), load()
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(args.keep or tmp_name)
        reuse = bool(args.reuse and args.keep and (tmp / "made.json").exists())
        if reuse:
            ran, made_before = json.loads((tmp / "made.json").read_text())
        else:
            checks, lesson, ran = real_seeds(tmp)
            made_before = {}
        print("\n".join(ran), flush=True)
        rows, shots = [], []
        for n in (args.small, args.reports):
            folder = tmp / f"reports-{n}"
            t0 = time.perf_counter()
            made = made_before[str(n)] if reuse else make_corpus(folder, n, checks, lesson)
            made_before[str(n)] = made
            (tmp / "made.json").write_text(json.dumps([ran, made_before]))
            making = time.perf_counter() - t0
            page = tmp / f"dashboard-{n}.html"
            m = measure(folder, page)
            print(n, made, {k: v for k, v in m.items() if k != "unreadable"}, flush=True)
            rows.append((n, made, making, m))
            if n == args.reports and args.screenshot:
                png = Path(args.screenshot).resolve()
                shots.append(screenshot(page, png))  # the top: tiles, over time, causes, the grids
                for section, height in (("providers", 1600), ("tutors", 1300), ("not-read", 1000)):
                    where = png.with_name(f"{png.stem}-{section}.png")
                    shots.append(screenshot(page, where, 1200, height, section))
    took = time.time() - began
    lines = [
        "## The support desk's page over many reports",
        "",
        f"Measured {time.strftime('%Y-%m-%d %H:%M')} in {took:.0f} s (making the reports included); load "
        f"average before {load_before}, after {load()} (2 cores shared with other work).",
        "",
        "Seeds, run for real over loopback:",
        "",
        *[f"- {r}" for r in ran],
        "",
        f"Targets: read and the page written in ≤ {TARGET_S:g} s at {args.reports:,} reports; memory flat; "
        f"the page ≤ {TARGET_MB:g} MB.",
        "",
        "| reports made | files (JSON / HTML / PDF) | of them copies | on disk | read + page written | "
        "peak RSS | RSS after imports | growth | page "
        "| counted: reports / lessons / tutors / copies / not read |",
        "|--:|:-:|--:|--:|--:|--:|--:|--:|--:|:-:|",
    ]
    for n, made, _making, m in rows:
        growth = (m["rss_peak_kb"] - m["rss_before_kb"]) / 1024
        lines.append(
            f"| {n:,} | {made['json']:,} / {made['html']:,} / {made['pdf']:,} (+3) | {made['copies']:,} | "
            f"{made['bytes'] / 1e6:,.0f} MB | {m['seconds']:.1f} s | {m['rss_peak_kb'] / 1024:.0f} MB | "
            f"{m['rss_before_kb'] / 1024:.0f} MB | {growth:.0f} MB | {m['page_bytes'] / 1e6:.2f} MB | "
            f"{m['reports']:,} / {m['lessons']:,} / {m['tutors']:,} / {m['copies']:,} / "
            f"{len(m['unreadable'])} |"
        )
    last = rows[-1][3]
    lines += [
        "",
        "The 3 more: a damaged report (cut off), one from a newer connectcheck and a hostile one (named "
        "`javascript:alert(1).json`, a `<script>` tutor label, a `</style><img onerror>` provider), which is "
        "read and shown as text. Files not read at the largest size (each listed on the page with the "
        "reason):",
        "",
        *[f"- `{name}`: {why}" for name, why in last["unreadable"]],
        "",
        *(["Screenshots: " + "; ".join(shots), ""] if shots else []),
    ]
    text = "\n".join(lines) + "\n"
    print(text)
    Path(args.out).write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
