"""How well the bandwidth engines measure an emulated link: ours against speedtest-cli.

Run from the repository root, as root (it builds the network lab)::

    python -m benchmarks.bandwidth [--repeat 3] [--quick] [--no-classic] [--no-loopback] [--no-lab]
        [--out benchmarks/results/bandwidth.md]

For each link (rate via ``tbf``, 25 ms RTT, 100 ms queue, cubic):

* ours: a :class:`SpeedSession` as the check runs it (speedtest.net search against the lab's
  emulation, then download and upload; default settings: 4 streams, 6 s per direction, 200 MB
  cap), ``--repeat`` times: the rate against the TCP goodput ceiling (``tbf`` rate × 1448/1514),
  the wall time (search + both directions) and the data used;
* classic: speedtest-cli's own ``download()``/``upload()`` against the same emulation, left to
  run its own course (speedtest.net's 10 s test length, its full plan: no cap of ours);
* on lossy links, the 4-stream bulk TCP reference (``tests.lab.tcp_reference``, 6 s, first
  second left out) in both directions: ours should get at least as much, and never more than
  the ceiling.

Then plain loopback (no lab needed): the lab server, in its own process, paces each
connection so that the total is known; the highest total our engine still measures within
±10 % is the loopback ceiling.  Unpaced, ours, speedtest-cli and the raw TCP reference are
shown side by side.

Results are printed as Markdown and written to ``--out``.  The machine has 2 cores and others
may be running tests: the load average is shown with the results.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from tests.lab import tcp_reference
from tests.lab.netlab import LinkSpec, NetLab, lab_available

from connectcheck.core.model import BandwidthResult, SpeedServer
from connectcheck.probes.bandwidth import measure_bandwidth
from connectcheck.probes.speed import SpeedConfig, SpeedSession

SPEED_PORT = 8080
REF_PORT = 5201
RTT_MS = 25.0
DIRECTIONS = ("download", "upload")
LOSS_FREE = [(1, 1), (5, 1), (10, 2), (20, 5), (50, 10)]
LOSSY = [(20, 5, 1.0), (20, 5, 3.0)]
PACED_TOTALS_MBPS = [100, 400, 1000, 2000, 4000, 8000, 16000]


@dataclass
class Run:
    """One engine's measurement of both directions on one link."""

    engine: str
    mbps: dict[str, float | None] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)
    bytes: int = 0
    wall_s: float = 0.0
    notes: list[str] = field(default_factory=list)


def session_run(engine: str, base_url: str, **overrides) -> Run:
    """A search and both directions, as the check does them."""
    cfg = SpeedConfig(engine=engine, source="speedtest", speedtest_base_url=base_url, cloudflare_url=base_url,
                      cache_hours=0, **overrides)
    run = Run(engine)
    started = time.monotonic()
    session = SpeedSession(cfg, cancel=threading.Event())
    section = session.choose_server(10)
    if section.error:
        run.notes.append(section.error)
    for direction in DIRECTIONS:
        t0 = time.monotonic()
        result = session.measure(direction)
        run.seconds[direction] = time.monotonic() - t0
        run.mbps[direction] = result.rate_mbps
        run.notes.append(_note(result))
    run.wall_s = time.monotonic() - started
    run.bytes = session.bytes_used
    return run


def _note(result: BandwidthResult) -> str:
    text = f"{result.direction[:2]}: {result.stop_reason}, {result.streams} streams"
    if result.ramp_up_s:
        text += f", ramp {result.ramp_up_s:.1f} s"
    return text + (f" ({result.error})" if result.error else "")


def err_pct(measured: float | None, ceiling: float) -> str:
    return "—" if measured is None else f"{100 * (measured - ceiling) / ceiling:+.1f} %"


def fmt(value: float | None, digits: int = 2) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


# ---------------------------------------------------------------------------------------
# the emulated links


def lab_links(quick: bool) -> list[LinkSpec]:
    links = [LinkSpec(down_mbit=d, up_mbit=u, rtt_ms=RTT_MS) for d, u in LOSS_FREE]
    links += [LinkSpec(down_mbit=d, up_mbit=u, rtt_ms=RTT_MS, loss_pct=p) for d, u, p in LOSSY]
    return [links[2], links[-1]] if quick else links


def bench_link(spec: LinkSpec, repeat: int, classic: bool) -> tuple[list[Run], Run | None, dict[str, float]]:
    """Ours ``repeat`` times, speedtest-cli once, the TCP reference on lossy links."""
    with NetLab(spec) as lab:
        lab.spawn([sys.executable, "-m", "tests.lab.speed_server", "--host", lab.server_ip,
                   "--port", str(SPEED_PORT)], stdout=subprocess.DEVNULL)
        lab.spawn([sys.executable, "-m", "tests.lab.tcp_reference", "serve", "--host", lab.server_ip,
                   "--port", str(REF_PORT)])
        lab.wait_port(SPEED_PORT)
        lab.wait_port(REF_PORT)
        base = f"http://{lab.server_ip}:{SPEED_PORT}"
        ours = [session_run("auto", base) for _ in range(repeat)]
        theirs = session_run("classic", base, time_limit_s=60, data_limit_bytes=10**12) if classic else None
        reference = {}
        if spec.loss_pct:
            for direction in DIRECTIONS:
                ref = tcp_reference.run_transfer(lab.server_ip, REF_PORT, direction, streams=4,
                                                 duration_s=6.0, omit_s=1.0)
                reference[direction] = ref.mbps
    return ours, theirs, reference


def link_name(spec: LinkSpec) -> str:
    loss = f", {spec.loss_pct:g} % loss" if spec.loss_pct else ""
    return f"{spec.down_mbit:g}/{spec.up_mbit:g} Mbit/s{loss}"


def lab_tables(results: list[tuple[LinkSpec, list[Run], Run | None, dict[str, float]]]) -> list[str]:
    out = ["## Emulated links (25 ms RTT, 100 ms queue, cubic)", "",
           "Rates in Mbit/s; error against the TCP goodput ceiling (tbf rate × 1448/1514). Ours: median of "
           "the runs (min…max); time = server search + download + upload; data = everything the session "
           "moved. speedtest-cli: one run, its own course.", "",
           "| link | dir | ceiling | ours | error | ours min…max | speedtest-cli | error | 4-stream TCP |",
           "|---|---|---|---|---|---|---|---|---|"]
    for spec, ours, theirs, reference in results:
        for direction in DIRECTIONS:
            ceiling = spec.goodput_ceiling_mbps(direction)
            values = [r.mbps[direction] for r in ours if r.mbps[direction] is not None]
            med = statistics.median(values) if values else None
            spread = f"{min(values):.2f}…{max(values):.2f}" if values else "—"
            classic = theirs.mbps[direction] if theirs else None
            ref = reference.get(direction)
            out.append(f"| {link_name(spec)} | {direction} | {ceiling:.2f} | {fmt(med)} "
                       f"| {err_pct(med, ceiling)} | {spread} | {fmt(classic)} "
                       f"| {err_pct(classic, ceiling) if theirs else '—'} | {fmt(ref)} |")
    out += ["", "| link | ours: time (s) | ours: data (MB) | speedtest-cli: time (s) "
            "| speedtest-cli: data (MB) | ours: how each direction ended |", "|---|---|---|---|---|---|"]
    for spec, ours, theirs, _ in results:
        times = statistics.median(r.wall_s for r in ours)
        data = statistics.median(r.bytes for r in ours) / 1e6
        t_classic = f"{theirs.wall_s:.1f}" if theirs else "—"
        d_classic = f"{theirs.bytes / 1e6:.1f}" if theirs else "—"
        notes = "; ".join(ours[0].notes)
        out.append(f"| {link_name(spec)} | {times:.1f} | {data:.1f} | {t_classic} | {d_classic} | {notes} |")
    return out


# ---------------------------------------------------------------------------------------
# loopback


class LoopbackServer:
    """The lab speed server in its own process on 127.0.0.1 (so it does not share our GIL)."""

    def __init__(self, throttle_mbps: float | None = None) -> None:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        argv = [sys.executable, "-m", "tests.lab.speed_server", "--host", "127.0.0.1",
                "--port", str(self.port)]
        if throttle_mbps:
            argv += ["--throttle-mbps", str(throttle_mbps)]
        self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True)
        assert self.proc.stdout is not None
        self.proc.stdout.readline()  # "listening on ..."
        self.url = f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> LoopbackServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.proc.terminate()
        self.proc.wait(10)
        if self.proc.stdout:
            self.proc.stdout.close()


def ours_on_loopback(url: str, direction: str) -> BandwidthResult:
    server = SpeedServer("custom", "cloudflare", url)
    return measure_bandwidth(server, direction, streams=4, time_limit_s=6.0, data_limit_bytes=50 * 10**9,
                             cancel=threading.Event())


def loopback_tables(classic: bool) -> list[str]:
    out = ["## Plain loopback (unshaped, server in its own process)", "",
           "Paced: the server holds each of our 4 connections to total/4, so the true rate is known.", "",
           "| true total | dir | ours | error | how it ended |", "|---|---|---|---|---|"]
    for total in PACED_TOTALS_MBPS:
        with LoopbackServer(throttle_mbps=total / 4) as srv:
            for direction in DIRECTIONS:
                result = ours_on_loopback(srv.url, direction)
                out.append(f"| {total} | {direction} | {fmt(result.rate_mbps, 0)} "
                           f"| {err_pct(result.rate_mbps, total)} "
                           f"| {result.stop_reason}, {result.streams} streams |")
    out += ["", "Unpaced (as fast as the two cores allow):", "",
            "| dir | ours | speedtest-cli | 4-stream raw TCP (tcp_reference) |", "|---|---|---|---|"]
    with LoopbackServer() as srv:
        theirs = None
        if classic:
            theirs = session_run("classic", srv.url, time_limit_s=60, data_limit_bytes=10**12)
        ref_server = tcp_reference.make_server("127.0.0.1", 0)
        ref_thread = threading.Thread(target=ref_server.serve_forever, daemon=True)
        ref_thread.start()
        try:
            for direction in DIRECTIONS:
                ours = ours_on_loopback(srv.url, direction)
                ref = tcp_reference.run_transfer("127.0.0.1", ref_server.server_address[1], direction,
                                                 streams=4, duration_s=4.0, omit_s=1.0)
                classic_mbps = theirs.mbps[direction] if theirs else None
                out.append(f"| {direction} | {fmt(ours.rate_mbps, 0)} | {fmt(classic_mbps, 0)} "
                           f"| {ref.mbps:.0f} |")
        finally:
            ref_server.shutdown()
            ref_server.server_close()
    return out


# ---------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=3, help="runs of our engine per link")
    parser.add_argument("--quick", action="store_true", help="two links only")
    parser.add_argument("--no-classic", action="store_true", help="skip speedtest-cli")
    parser.add_argument("--no-loopback", action="store_true")
    parser.add_argument("--no-lab", action="store_true", help="loopback only")
    parser.add_argument("--out", default="benchmarks/results/bandwidth.md")
    args = parser.parse_args(argv)
    started = time.monotonic()
    lines = ["# Bandwidth benchmark", "",
             f"{time.strftime('%Y-%m-%d %H:%M')}, {os.cpu_count()} cores, load average before: "
             f"{os.getloadavg()[0]:.2f}. Numbers, not pass/fail; other work may share the machine.", ""]
    ok, reason = lab_available(loss=True, delay=True)
    if args.no_lab:
        pass
    elif ok:
        results = []
        for spec in lab_links(args.quick):
            print(f"link {link_name(spec)} ...", file=sys.stderr, flush=True)
            results.append((spec, *bench_link(spec, args.repeat, not args.no_classic)))
        lines += lab_tables(results)
    else:
        lines += [f"Emulated links skipped: {reason}."]
    if not args.no_loopback:
        print("loopback ...", file=sys.stderr, flush=True)
        lines += [""] + loopback_tables(not args.no_classic)
    lines += ["", f"Load average after: {os.getloadavg()[0]:.2f}; benchmark took "
              f"{time.monotonic() - started:.0f} s."]
    text = "\n".join(lines) + "\n"
    print(text)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
