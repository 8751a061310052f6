"""The check on bad lines (issue 13): jittery, lossy, order-keeping emulated home links.

Run from the repository root, as root (it builds the network lab)::

    python -m benchmarks.badlines [--lines 1,2,3] [--tag after] [--truth-probes 60] [--no-classic]

Every line keeps packet order in each direction and gives each packet a right-skewed delay
(``LinkSpec.delay_model = "fifo"``: a fixed part plus an exponential tail). For each line, in
one lab, one after the other:

* the truth: the lab's configured median of one-at-a-time round trips (``expected_rtt_ms``),
  its jitter and loss, and ``--truth-probes`` one-at-a-time UDP probes measured here as a
  sanity check; the download's TCP goodput ceiling, and on lossy lines a 4-stream TCP transfer;
* a quick check and a full check (connectcheck's engine, organisation-style server), timed;
* speedtest-cli's own engine (its search and both directions, its own course, against the
  lab's speedtest.net emulation), timed.

Each line's figures are merged into ``benchmarks/results/badlines-<tag>.json`` and the whole
table is written to ``benchmarks/results/badlines-<tag>.md``. Numbers, not pass/fail.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from tests.lab import tcp_reference
from tests.lab.netlab import LinkSpec, NetLab, lab_available, udp_rtt_one_at_a_time
from tests.lab.services import start_services

from benchmarks.check import options
from connectcheck.check import run_check
from connectcheck.core.model import CheckKind, CheckResult
from connectcheck.probes.speed import SpeedConfig, SpeedSession

ECHO_PORT = 9000
REF_PORT = 5201
RESULTS = Path("benchmarks/results")

#: The lines of issue 13, then 100 ms ± 40 ms and a 10/2 line with a 300 ms queue.
LINES: dict[str, LinkSpec] = {
    "1": LinkSpec(down_mbit=50, up_mbit=10, rtt_ms=20, jitter_ms=2, seed=1),
    "2": LinkSpec(down_mbit=6, up_mbit=0.8, rtt_ms=45, jitter_ms=5, loss_pct=0.2, seed=1),
    "3": LinkSpec(down_mbit=4, up_mbit=1.5, rtt_ms=120, jitter_ms=30, loss_pct=1, seed=1),
    "4": LinkSpec(down_mbit=3, up_mbit=1, rtt_ms=80, jitter_ms=40, loss_pct=3, seed=1),
    "5": LinkSpec(down_mbit=10, up_mbit=2, rtt_ms=100, jitter_ms=40, seed=1),
    "6": LinkSpec(down_mbit=10, up_mbit=2, rtt_ms=20, queue_ms=300, seed=1),
}


def line_name(spec: LinkSpec) -> str:
    queue = f", {spec.queue_ms:g} ms queue" if spec.queue_ms != 100 else ""
    return (f"{spec.down_mbit:g}/{spec.up_mbit:g}, {spec.rtt_ms:g} ms, {spec.jitter_ms:g} ms, "
            f"{spec.loss_pct:g} %{queue}")


def jitter(rtts: list[float | None]) -> float | None:
    answered = [r for r in rtts if r is not None]
    if len(answered) < 2:
        return None
    return statistics.fmean(abs(b - a) for a, b in zip(answered, answered[1:], strict=False))


def check_figures(result: CheckResult, wall_s: float) -> dict[str, Any]:
    s = result.summary
    out: dict[str, Any] = {
        "wall_s": round(wall_s, 2), "rtt_ms": s.rtt_ms, "jitter_ms": s.jitter_ms, "loss_pct": s.loss_pct,
        "download_mbps": s.download_mbps, "upload_mbps": s.upload_mbps, "rtt_increase_ms": s.rtt_increase_ms,
        "latency_target": s.latency_target,
        "samples": next((x.samples for x in result.latency if f"{x.method} {x.target}" == s.latency_target),
                        None),
        "not_ok": [f"{k}: {v.status.value} ({v.error})" for k, v in result.sections.items()
                   if v.status.value not in ("ok", "skipped")],
        "bandwidth": {b.direction: {"mbps": b.rate_mbps, "streams": b.streams, "stop": b.stop_reason,
                                    "streams_reason": getattr(b, "streams_reason", None),
                                    "duration_s": b.duration_s,
                                    "increase_ms": b.loaded.rtt_increase_ms if b.loaded else None,
                                    "loaded_ms": b.loaded.rtt_ms_median if b.loaded else None}
                      for b in result.bandwidth},
    }
    call = getattr(result, "call", None)
    if call is not None:
        out["call"] = {k: getattr(call, k, None) for k in (
            "rtt_ms_median", "jitter_ms", "loss_pct", "late_pct", "burst_max", "bursts", "samples_sent")}
    return out


def classic_run(base_url: str) -> dict[str, Any]:
    """speedtest-cli's own search and transfers, left to run their course."""
    cfg = SpeedConfig(engine="classic", source="speedtest", speedtest_base_url=base_url, cache_hours=0,
                      time_limit_s=60, data_limit_bytes=10**12)
    started = time.monotonic()
    session = SpeedSession(cfg, cancel=threading.Event())
    session.choose_server(15)
    out: dict[str, Any] = {}
    for direction in ("download", "upload"):
        r = session.measure(direction)
        out[direction] = {"mbps": r.rate_mbps, "streams": r.streams, "error": r.error}
    out["wall_s"] = round(time.monotonic() - started, 2)
    return out


def bench_line(spec: LinkSpec, truth_probes: int, classic: bool) -> dict[str, Any]:
    row: dict[str, Any] = {"line": line_name(spec), "spec": spec.__dict__}
    with tempfile.TemporaryDirectory() as folder, NetLab(spec) as lab:
        services = start_services(lab, Path(folder))
        lab.spawn([sys.executable, "-m", "tests.lab.netlab", "echo", "--port", str(ECHO_PORT)])
        lab.spawn([sys.executable, "-m", "tests.lab.tcp_reference", "serve", "--host", lab.server_ip,
                   "--port", str(REF_PORT)], stdout=subprocess.DEVNULL)
        lab.wait_port(ECHO_PORT, "udp")
        lab.wait_port(REF_PORT)
        rtts = udp_rtt_one_at_a_time(lab.server_ip, ECHO_PORT, truth_probes) if truth_probes else []
        answered = [r for r in rtts if r is not None]
        row["truth"] = {
            "rtt_ms": round(spec.expected_rtt_ms(), 2), "jitter_ms": spec.expected_jitter_ms(),
            "loss_pct": spec.loss_pct, "download_ceiling": spec.goodput_ceiling_mbps("download"),
            "upload_ceiling": spec.goodput_ceiling_mbps("upload"),
            "probed_rtt_ms": round(statistics.median(answered), 2) if answered else None,
            "probed_jitter_ms": round(jitter(rtts), 2) if jitter(rtts) is not None else None,
            "probed_loss_pct": round(100 * (len(rtts) - len(answered)) / len(rtts), 1) if rtts else None,
            "probes": len(rtts),
        }
        started = time.monotonic()
        quick = run_check(options(CheckKind.QUICK, services))
        row["quick"] = check_figures(quick, time.monotonic() - started)
        started = time.monotonic()
        full = run_check(options(CheckKind.FULL, services))
        row["full"] = check_figures(full, time.monotonic() - started)
        if classic:
            row["classic"] = classic_run(services.speed_url.rstrip("/"))
        if spec.loss_pct:
            ref = tcp_reference.run_transfer(lab.server_ip, REF_PORT, "download", streams=4, duration_s=6.0,
                                             omit_s=1.0)
            row["tcp4_download_mbps"] = round(ref.mbps, 3)
    return row


def fmt(value: float | None, digits: int = 1) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def table(rows: list[dict[str, Any]]) -> str:
    head = ("| line (down/up Mbit/s, RTT, jitter, loss) | idle RTT median: truth (probed) → quick / full "
            "| jitter: truth → full | loss: truth → full | download: capacity / 4 TCP / speedtest-cli → "
            "reported (streams, why) | upload: ceiling / speedtest-cli → reported | added under load "
            "down / up | wall time: quick / full / speedtest-cli |")
    lines = [head, "|" + "---|" * 8]
    for row in rows:
        t, q, f, c = row["truth"], row["quick"], row["full"], row.get("classic", {})
        down = f["bandwidth"].get("download", {})
        up = f["bandwidth"].get("upload", {})
        why = down.get("streams_reason") or down.get("stop")
        lines.append(
            f"| {row['line']} | {fmt(t['rtt_ms'])} ({fmt(t['probed_rtt_ms'])}) → {fmt(q['rtt_ms'])} / "
            f"{fmt(f['rtt_ms'])} | {fmt(t['jitter_ms'])} → {fmt(f['jitter_ms'])} | {fmt(t['loss_pct'])} → "
            f"{fmt(f['loss_pct'])} | {fmt(t['download_ceiling'], 2)} / "
            f"{fmt(row.get('tcp4_download_mbps'), 2)} / "
            f"{fmt(c.get('download', {}).get('mbps'), 2)} ({c.get('download', {}).get('streams', '–')}) → "
            f"**{fmt(f['download_mbps'], 2)}** ({down.get('streams', '–')}, {why}) | "
            f"{fmt(t['upload_ceiling'], 2)} / {fmt(c.get('upload', {}).get('mbps'), 2)} → "
            f"{fmt(f['upload_mbps'], 2)} ({up.get('streams', '–')}) | {fmt(down.get('increase_ms'), 0)} / "
            f"{fmt(up.get('increase_ms'), 0)} ms | {q['wall_s']:.1f} / **{f['wall_s']:.1f}** / "
            f"{fmt(c.get('wall_s'))} s |")
    calls = [row for row in rows if "call" in row["full"]]
    if calls:
        lines += ["", "Call-like stream (full check) next to the idle figures:", "",
                  "| line | idle RTT (truth → check) | call RTT median | idle jitter → call jitter "
                  "| call loss / late / longest burst | idle loss |", "|---|---|---|---|---|---|"]
        for row in calls:
            f, call = row["full"], row["full"]["call"]
            lines.append(
                f"| {row['line']} | {fmt(row['truth']['rtt_ms'])} → {fmt(f['rtt_ms'])} | "
                f"{fmt(call['rtt_ms_median'])} | {fmt(f['jitter_ms'])} → {fmt(call['jitter_ms'])} | "
                f"{fmt(call['loss_pct'])} % / {fmt(call['late_pct'])} % / {call['burst_max']} | "
                f"{fmt(f['loss_pct'])} % |")
    problems = [f"* {row['line']}: {'; '.join(row['full']['not_ok'] + row['quick']['not_ok'])}"
                for row in rows if row["full"]["not_ok"] or row["quick"]["not_ok"]]
    if problems:
        lines += ["", "Sections not ok:", "", *problems]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lines", default=",".join(LINES), help=f"which of {', '.join(LINES)}")
    parser.add_argument("--tag", default="after")
    parser.add_argument("--truth-probes", type=int, default=60)
    parser.add_argument("--no-classic", action="store_true", help="skip speedtest-cli's engine")
    args = parser.parse_args(argv)
    ok, why = lab_available(loss=True, delay=True)
    if not ok:
        print(f"cannot build the lab: {why}", file=sys.stderr)
        return 2
    store = RESULTS / f"badlines-{args.tag}.json"
    rows: dict[str, Any] = json.loads(store.read_text()) if store.exists() else {}
    for key in args.lines.split(","):
        rows[key] = bench_line(LINES[key], args.truth_probes, not args.no_classic)
        print(table([rows[key]]).splitlines()[2], flush=True)
        RESULTS.mkdir(parents=True, exist_ok=True)
        store.write_text(json.dumps(rows, indent=1, default=str))
    text = (f"# The check on bad lines ({args.tag})\n\n"
            f"FIFO, right-skewed delay (lab `delay_model=\"fifo\"`); "
            f"truth = configured median of one-at-a-time round trips (in brackets: "
            f"{args.truth_probes} such probes measured in the run).\n\n"
            f"{table([rows[k] for k in sorted(rows)])}\n")
    (RESULTS / f"badlines-{args.tag}.md").write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
