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
import os
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from tests.lab import tcp_reference
from tests.lab.delay_relay import fifo_delay_ms
from tests.lab.netlab import NAMESPACES, LinkSpec, NetLab, _run, lab_available, udp_rtt_one_at_a_time
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


def sampling_errors(spec: LinkSpec, probes: int, runs: int = 4000) -> dict[str, float] | None:
    """Standard errors of the median and of the jitter (mean |difference| of consecutive
    round trips) of ``probes`` one-at-a-time round trips on this line, by simulating its FIFO
    delay model (widely spaced probes: each direction ``base + Exp(tail)``, independent)."""
    if probes < 2:
        return None
    base, tail = fifo_delay_ms(spec.rtt_ms, spec.jitter_ms)
    rng = random.Random(13)
    medians, jitters = [], []
    for _ in range(runs):
        rtts = [2 * base + (rng.expovariate(1 / tail) + rng.expovariate(1 / tail) if tail else 0.0)
                for _ in range(probes)]
        medians.append(statistics.median(rtts))
        jitters.append(statistics.fmean(abs(b - a) for a, b in zip(rtts, rtts[1:], strict=False)))
    return {"probes": probes, "median_ms": round(statistics.pstdev(medians), 2),
            "jitter_ms": round(statistics.pstdev(jitters), 2)}


def targets_met(row: dict[str, Any], kind: str) -> dict[str, Any]:
    """The issue's targets for one check of one line: idle RTT within 5 % (or 2 ms) of the truth
    or within twice the sampling error of the median; jitter within 3 ms or twice its sampling
    error; loss within 1 point; the wall time."""
    t, c = row["truth"], row[kind]
    out: dict[str, Any] = {}
    errors = sampling_errors(LinkSpec(**row["spec"]), c.get("samples") or 0)
    c["sampling_error"] = errors
    if c.get("rtt_ms") is not None:
        off = abs(c["rtt_ms"] - t["rtt_ms"])
        out["rtt"] = (off <= max(0.05 * t["rtt_ms"], 2.0)
                      or (errors is not None and off <= 2 * errors["median_ms"]))
    if c.get("jitter_ms") is not None:
        off = abs(c["jitter_ms"] - t["jitter_ms"])
        out["jitter"] = off <= 3.0 or (errors is not None and off <= 2 * errors["jitter_ms"])
    if c.get("loss_pct") is not None:
        out["loss"] = abs(c["loss_pct"] - t["loss_pct"]) <= 1.0
    out["wall"] = c["wall_s"] <= (3.0 if kind == "quick" else 10.0)
    return out


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
    primary = next((x for x in result.latency if f"{x.method} {x.target}" == s.latency_target), None)
    out["samples_sent"] = primary.samples_sent if primary else None
    out["rtt_samples"] = primary.rtt_ms_samples if primary else None
    out["connectivity"] = result.connectivity.value
    call = result.call
    if call is not None:
        out["call"] = {k: getattr(call, k) for k in (
            "rtt_ms_median", "rtt_ms_p95", "jitter_ms", "loss_pct", "late_pct", "effective_loss_pct",
            "burst_max", "bursts", "packets_sent", "packets_answered", "duration_s")}
    verdicts = result.assessment.verdicts if result.assessment else []
    sound = next((v for v in verdicts if v.activity == "sound"), None)
    if sound is not None:
        out["sound"] = {"state": sound.state, "mos": sound.mos}
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
    row["targets"] = {kind: targets_met(row, kind) for kind in ("quick", "full")}
    return row


def bench_offline() -> dict[str, Any]:
    """Quick and full check with the line cut beyond the router: every packet to the servers
    vanishes (a home router without internet), the slowest way to find out there is none."""
    row: dict[str, Any] = {"line": "offline (every packet dropped beyond the router)"}
    with tempfile.TemporaryDirectory() as folder, NetLab(LinkSpec(down_mbit=10, up_mbit=2, rtt_ms=20)) as lab:
        services = start_services(lab, Path(folder))
        _run(["iptables", "-I", "FORWARD", "-j", "DROP"], ns=NAMESPACES["router"])
        for kind in (CheckKind.QUICK, CheckKind.FULL):
            started = time.monotonic()
            result = run_check(options(kind, services))
            row[kind.value] = check_figures(result, time.monotonic() - started)
    return row


def fmt(value: float | None, digits: int = 1) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def _mark(ok: bool | None) -> str:
    return "" if ok is None else ("" if ok else " ✗")


def issue_table(rows: list[dict[str, Any]]) -> str:
    """The issue's own table, filled in (full check; speedtest-cli measured in the same run)."""
    lines = ["| line (down/up Mbit/s, RTT, jitter, loss each way) | idle RTT median: truth → reported "
             "(quick / full) | jitter | download: capacity / 4 TCP streams / speedtest-cli (8 streams) → "
             "reported | wall time: quick / full (speedtest-cli) |", "|---|---|---|---|---|"]
    for row in rows:
        t, q, f, c = row["truth"], row["quick"], row["full"], row.get("classic", {})
        met = row.get("targets", {})
        tcp4 = row.get("tcp4_download_mbps")
        down = " / ".join(x for x in (fmt(t["download_ceiling"], 2), fmt(tcp4, 2) if tcp4 else None,
                                      fmt(c.get("download", {}).get("mbps"), 2)) if x)
        lines.append(
            f"| {row['line']} | {fmt(t['rtt_ms'])} → "
            f"{fmt(q['rtt_ms'])}{_mark(met.get('quick', {}).get('rtt'))} / "
            f"{fmt(f['rtt_ms'])}{_mark(met.get('full', {}).get('rtt'))} | {fmt(t['jitter_ms'])} → "
            f"{fmt(f['jitter_ms'])}{_mark(met.get('full', {}).get('jitter'))} | {down} → "
            f"**{fmt(f['download_mbps'], 2)}** | {q['wall_s']:.1f} / {f['wall_s']:.1f} s "
            f"({fmt(c.get('wall_s'))} s) |")
    return "\n".join(lines)


def table(rows: list[dict[str, Any]]) -> str:
    head = ("| line (down/up Mbit/s, RTT, jitter, loss) | idle RTT median: truth (probed) → quick / full "
            "[primary's answers; 2 × sampling error] | jitter: truth → quick / full [2 × s.e.] "
            "| loss: truth → quick / full | download: capacity / 4 TCP / speedtest-cli → reported (streams, "
            "why) | upload: ceiling / speedtest-cli → reported (streams) | added under load down / up "
            "| wall time: quick / full / speedtest-cli (full ÷ speedtest-cli) |")
    lines = [head, "|" + "---|" * 8]
    for row in rows:
        t, q, f, c = row["truth"], row["quick"], row["full"], row.get("classic", {})
        met = row.get("targets", {"quick": {}, "full": {}})
        down = f["bandwidth"].get("download", {})
        up = f["bandwidth"].get("upload", {})
        why = down.get("streams_reason") or down.get("stop")
        errs = [x.get("sampling_error") or {} for x in (q, f)]
        ratio = f"{f['wall_s'] / c['wall_s']:.2f}" if c.get("wall_s") else "–"
        lines.append(
            f"| {row['line']} | {fmt(t['rtt_ms'])} ({fmt(t['probed_rtt_ms'])}) → "
            f"{fmt(q['rtt_ms'])}{_mark(met['quick'].get('rtt'))} / "
            f"{fmt(f['rtt_ms'])}{_mark(met['full'].get('rtt'))} "
            f"[{q.get('samples')}, {fmt(2 * errs[0].get('median_ms', 0))}; {f.get('samples')}, "
            f"{fmt(2 * errs[1].get('median_ms', 0))}] | {fmt(t['jitter_ms'])} → "
            f"{fmt(q['jitter_ms'])}{_mark(met['quick'].get('jitter'))} / "
            f"{fmt(f['jitter_ms'])}{_mark(met['full'].get('jitter'))} "
            f"[{fmt(2 * errs[0].get('jitter_ms', 0))}; {fmt(2 * errs[1].get('jitter_ms', 0))}] | "
            f"{fmt(t['loss_pct'])} → {fmt(q['loss_pct'])}{_mark(met['quick'].get('loss'))} / "
            f"{fmt(f['loss_pct'])}{_mark(met['full'].get('loss'))} | {fmt(t['download_ceiling'], 2)} / "
            f"{fmt(row.get('tcp4_download_mbps'), 2)} / "
            f"{fmt(c.get('download', {}).get('mbps'), 2)} ({c.get('download', {}).get('streams', '–')}) → "
            f"**{fmt(f['download_mbps'], 2)}** ({down.get('streams', '–')}, {why}) | "
            f"{fmt(t['upload_ceiling'], 2)} / {fmt(c.get('upload', {}).get('mbps'), 2)} → "
            f"{fmt(f['upload_mbps'], 2)} ({up.get('streams', '–')}) | {fmt(down.get('increase_ms'), 0)} / "
            f"{fmt(up.get('increase_ms'), 0)} ms | {q['wall_s']:.1f}{_mark(met['quick'].get('wall'))} / "
            f"**{f['wall_s']:.1f}**{_mark(met['full'].get('wall'))} / {fmt(c.get('wall_s'))} s ({ratio}) |")
    calls = [row for row in rows if "call" in row["full"]]
    if calls:
        lines += ["", "Call-like stream (50 packets a second over STUN, 1 s; late: beyond a 60 ms jitter "
                      "buffer) next to the idle figures, quick / full check:", "",
                  "| line | idle RTT truth → check | call RTT median (p95) | idle jitter → call jitter "
                  "| call: lost / late / missed, longest run | idle loss | sound verdict (MOS) |",
                  "|---|---|---|---|---|---|---|"]
        for row in calls:
            cells = []
            for kind in ("quick", "full"):
                x = row[kind]
                call = x.get("call") or {}
                cells.append((
                    f"{fmt(x['rtt_ms'])}",
                    f"{fmt(call.get('rtt_ms_median'))} ({fmt(call.get('rtt_ms_p95'))})",
                    f"{fmt(x['jitter_ms'])} → {fmt(call.get('jitter_ms'))}",
                    f"{fmt(call.get('loss_pct'))} / {fmt(call.get('late_pct'))} / "
                    f"{fmt(call.get('effective_loss_pct'))} %, {call.get('burst_max', '–')}",
                    f"{fmt(x['loss_pct'])} %",
                    f"{x.get('sound', {}).get('state', '–')} ({fmt(x.get('sound', {}).get('mos'))})"))
            joined = [" / ".join(pair) for pair in zip(*cells, strict=True)]
            lines.append(f"| {row['line']} | {fmt(row['truth']['rtt_ms'])} → {joined[0]} | "
                         + " | ".join(joined[1:]) + " |")
    problems = [f"* {row['line']}: {'; '.join(row['full']['not_ok'] + row['quick']['not_ok'])}"
                for row in rows if row["full"]["not_ok"] or row["quick"]["not_ok"]]
    if problems:
        lines += ["", "Sections not ok:", "", *problems]
    return "\n".join(lines)


def offline_table(row: dict[str, Any]) -> str:
    lines = ["| line | check | wall time | connection | sections not ok |", "|---|---|---|---|---|"]
    for kind in ("quick", "full"):
        x = row[kind]
        lines.append(f"| {row['line']} | {kind} | {x['wall_s']:.1f} s | {x['connectivity']} | "
                     f"{'; '.join(x['not_ok']) or '–'} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lines", default=",".join([*LINES, "offline"]),
                        help=f"which of {', '.join(LINES)}, offline")
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
        load = os.getloadavg()[0]
        rows[key] = bench_offline() if key == "offline" else bench_line(LINES[key], args.truth_probes,
                                                                          not args.no_classic)
        rows[key]["load_1min"] = {"before": round(load, 2), "after": round(os.getloadavg()[0], 2)}
        RESULTS.mkdir(parents=True, exist_ok=True)
        store.write_text(json.dumps(rows, indent=1, default=str))
        print(f"{key} done", flush=True)
    lines = [rows[k] for k in sorted(rows) if k != "offline"]
    text = (f"# The check on bad lines ({args.tag})\n\n"
            f"FIFO, right-skewed delay (lab `delay_model=\"fifo\"`); truth = configured median of "
            f"one-at-a-time round trips (in brackets: {args.truth_probes} such probes measured in the run). "
            f"✗: outside the issue's target (RTT within 5 % or 2 ms or twice the median's sampling "
            f"error for the primary's answers; jitter within 3 ms or twice its sampling error; loss within "
            f"1 point; quick ≤ 3 s, full ≤ 10 s).\n\n"
            f"## The issue's table\n\n{issue_table(lines)}\n\n## In detail\n\n{table(lines)}\n")
    if "offline" in rows:
        text += f"\n## Offline\n\n{offline_table(rows['offline'])}\n"
    (RESULTS / f"badlines-{args.tag}.md").write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
