"""How well the latency probes measure an emulated link: RTT, jitter and loss, idle and loaded.

Run from the repository root, as root (it builds the network lab)::

    python -m benchmarks.latency [--probes 250] [--quick] [--out benchmarks/results/latency.md]

Idle grid: RTT 20/40/100 ms x jitter 0/10/40 ms x loss 0/1/3 %, ``--probes`` STUN probes each
(20 ms apart, 1 s timeout), measured against the lab's configured values:

* RTT: the median against ``LinkSpec.expected_rtt_ms()`` (target ±10 % or ±3 ms);
* jitter: RFC 3550-style mean |difference| against ``expected_jitter_ms()`` (target ±5 ms);
* the lab's own bare UDP echo (``tests.lab.netlab``) on the loss-free links, to tell the
  lab's own delay (its userspace relay) from the probe's;
* loss: against what the link really dropped, read from the router's iptables counters (the
  probe's own error, target ±1 point), and against the configured rate (which adds the
  sampling noise of a random drop: one binomial standard deviation is shown).

Loaded: the same STUN target probed by :class:`LatencySampler` while a 4-stream bulk TCP
download (``tests.lab.tcp_reference``, in a separate process) fills a 20 Mbit/s link with a
100 ms queue; the RTT should rise by about the queue.  One extra row runs the transfer inside
this process, as the check does, to show what sharing the interpreter costs.

Then TCP connect and HTTP round trips on one link, for comparison with STUN.

Results are printed as Markdown and written to ``--out``.  The machine has 2 cores and other
work may run at the same time: the load average is printed with the results.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from tests.lab import tcp_reference
from tests.lab.netlab import NAMESPACES, LinkSpec, NetLab, lab_available, udp_rtt_series

from connectcheck.probes.latency import LatencySampler, LatencyTarget, measure_latency

STUN_PORT = 3478
ECHO_PORT = 7
BULK_PORT = tcp_reference.DEFAULT_PORT
WEB_PORT = 8080
INTERVAL_S = 0.02
TIMEOUT_S = 1.0
LOAD_RATE_MBIT = 20.0
LOAD_QUEUE_MS = 100.0
LOAD_SECONDS = 8.0
LOAD_SETTLE_S = 2.0  # queue filling and TCP ramp-up, left out of the loaded figures


@dataclass
class IdleRow:
    spec: LinkSpec
    samples_sent: int
    median: float | None
    jitter: float | None
    loss: float | None
    dropped: int
    status: str
    echo_median: float | None = None  # the lab's own bare UDP echo on the same link

    @property
    def rtt_err(self) -> float | None:
        return None if self.median is None else self.median - self.spec.expected_rtt_ms()

    @property
    def rtt_ok(self) -> bool:
        expected = self.spec.expected_rtt_ms()
        return self.rtt_err is not None and abs(self.rtt_err) <= max(0.1 * expected, 3.0)

    @property
    def jitter_err(self) -> float | None:
        return None if self.jitter is None else self.jitter - self.spec.expected_jitter_ms()

    @property
    def link_loss(self) -> float:
        return 100.0 * self.dropped / self.samples_sent if self.samples_sent else 0.0

    @property
    def loss_err(self) -> float | None:
        return None if self.loss is None else self.loss - self.link_loss


def dropped_packets() -> int:
    """Packets the router's iptables loss rules have dropped so far (both directions)."""
    out = subprocess.run(["ip", "netns", "exec", NAMESPACES["router"], "iptables", "-L", "FORWARD",
                          "-v", "-x", "-n"], capture_output=True, text=True, check=False).stdout
    return sum(int(line.split()[0]) for line in out.splitlines()[2:]
               if re.match(r"\s*\d+\s+\d+\s+DROP\b", line))


def stun_target(lab: NetLab) -> LatencyTarget:
    return LatencyTarget.from_host_port("stun", f"{lab.server_ip}:{STUN_PORT}")


def idle_row(lab: NetLab, spec: LinkSpec, probes: int) -> IdleRow:
    lab.set_link(spec)
    time.sleep(0.2)
    before = dropped_packets()
    [result] = measure_latency([stun_target(lab)], count=probes, interval_s=INTERVAL_S, timeout_s=TIMEOUT_S,
                               time_limit_s=probes * INTERVAL_S + 10, cancel=threading.Event())
    dropped = dropped_packets() - before
    row = IdleRow(spec, result.samples_sent, result.rtt_ms_median, result.jitter_ms, result.loss_pct,
                  dropped, result.status.value)
    if spec.loss_pct == 0:
        echo = [r for r in udp_rtt_series(lab.server_ip, ECHO_PORT, probes, INTERVAL_S, TIMEOUT_S)
                if r is not None]
        row.echo_median = statistics.median(echo) if echo else None
    return row


@dataclass
class LoadedRow:
    spec: LinkSpec
    where: str
    idle: float | None
    loaded: float | None
    p90: float | None
    samples: int
    lost: int
    bulk_mbps: float | None

    @property
    def rise(self) -> float | None:
        return None if self.idle is None or self.loaded is None else self.loaded - self.idle


def bulk_in_subprocess(lab: NetLab, seconds: float) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "tests.lab.tcp_reference", "run", "--host", lab.server_ip,
                             "--port", str(BULK_PORT), "--duration", str(seconds), "--streams", "4"],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)


def loaded_row(lab: NetLab, spec: LinkSpec, in_process: bool = False) -> LoadedRow:
    lab.set_link(spec)
    time.sleep(0.2)
    [idle] = measure_latency([stun_target(lab)], count=100, interval_s=INTERVAL_S, timeout_s=TIMEOUT_S,
                             time_limit_s=15, cancel=threading.Event())
    sampler = LatencySampler(stun_target(lab), interval_s=INTERVAL_S, timeout_s=TIMEOUT_S * 2)
    bulk_mbps = None
    start = time.monotonic()
    if in_process:
        load = tcp_reference.BulkLoad(lab.server_ip, BULK_PORT, "download", 4, LOAD_SECONDS).start()
        sampler.start()
        time.sleep(LOAD_SECONDS)
        samples = sampler.stop()
        transfer = load.stop()
        bulk_mbps = transfer.mbps if transfer else None
    else:
        proc = bulk_in_subprocess(lab, LOAD_SECONDS)
        sampler.start()
        time.sleep(LOAD_SECONDS)
        samples = sampler.stop()
        out, _ = proc.communicate(timeout=30)
        bulk_mbps = _mbps(out)
    window = [rtt for t, rtt in samples if start + LOAD_SETTLE_S <= t <= start + LOAD_SECONDS - 0.5]
    answered = sorted(r for r in window if r is not None)
    return LoadedRow(spec, "in this process" if in_process else "separate process", idle.rtt_ms_median,
                     statistics.median(answered) if answered else None,
                     answered[int(0.9 * (len(answered) - 1))] if answered else None,
                     len(window), sum(r is None for r in window), bulk_mbps)


def _mbps(json_text: str) -> float | None:
    match = re.search(r'"mbps":\s*([0-9.]+)', json_text or "")
    return float(match.group(1)) if match else None


MethodRow = tuple[str, float | None, float | None, float]


def method_rows(lab: NetLab, spec: LinkSpec, probes: int) -> list[MethodRow]:
    lab.set_link(spec)
    time.sleep(0.2)
    url = f"http://{lab.server_ip}:{WEB_PORT}/"
    targets = [stun_target(lab), LatencyTarget.from_url("tcp", url), LatencyTarget.from_url("http", url)]
    results = measure_latency(targets, count=probes, interval_s=INTERVAL_S, timeout_s=TIMEOUT_S,
                              time_limit_s=probes * INTERVAL_S + 10, cancel=threading.Event())
    return [(r.method, r.rtt_ms_median, r.jitter_ms, r.loss_pct or 0.0) for r in results]


def fmt(value: float | None, digits: int = 1, sign: bool = False) -> str:
    if value is None:
        return "—"
    return f"{value:+.{digits}f}" if sign else f"{value:.{digits}f}"


def idle_table(rows: list[IdleRow], probes: int) -> list[str]:
    lines = [
        f"### Idle: STUN, {probes} probes {INTERVAL_S * 1000:.0f} ms apart per link", "",
        "| RTT | jitter | loss % | expected RTT | median | error | RTT ok | lab echo median | jitter meas. | "
        "error | loss meas. % | link dropped % | error pp | vs configured pp (1 sd) |",
        "|---:|---:|---:|---:|---:|---:|:-:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        sd = 100 * (r.spec.loss_pct / 100 * (1 - r.spec.loss_pct / 100) / max(1, r.samples_sent)) ** 0.5
        vs_conf = None if r.loss is None else r.loss - r.spec.loss_pct
        lines.append(
            f"| {r.spec.rtt_ms:.0f} | {r.spec.jitter_ms:.0f} | {r.spec.loss_pct:.0f} | "
            f"{r.spec.expected_rtt_ms():.1f} | {fmt(r.median)} | {fmt(r.rtt_err, sign=True)} | "
            f"{'yes' if r.rtt_ok else '**no**'} | {fmt(r.echo_median)} | {fmt(r.jitter)} | "
            f"{fmt(r.jitter_err, sign=True)} | "
            f"{fmt(r.loss, 2)} | {r.link_loss:.2f} | {fmt(r.loss_err, 2, sign=True)} | "
            f"{fmt(vs_conf, 2, sign=True)} ({sd:.2f}) |")
    return lines


def idle_summary(rows: list[IdleRow]) -> list[str]:
    rtt_miss = [r for r in rows if not r.rtt_ok]
    jit_miss = [r for r in rows if r.jitter_err is None or abs(r.jitter_err) > 5]
    loss_miss = [r for r in rows if r.loss_err is None or abs(r.loss_err) > 1]
    worst_rtt = max((abs(r.rtt_err) for r in rows if r.rtt_err is not None), default=None)
    worst_jit = max((abs(r.jitter_err) for r in rows if r.jitter_err is not None), default=None)
    worst_loss = max((abs(r.loss_err) for r in rows if r.loss_err is not None), default=None)
    return [
        "",
        f"Targets met: RTT {len(rows) - len(rtt_miss)}/{len(rows)} (worst error {fmt(worst_rtt)} ms), "
        f"jitter {len(rows) - len(jit_miss)}/{len(rows)} (worst {fmt(worst_jit)} ms), "
        f"loss vs the link's real drops {len(rows) - len(loss_miss)}/{len(rows)} "
        f"(worst {fmt(worst_loss, 2)} pp).",
    ]


def loaded_table(rows: list[LoadedRow]) -> list[str]:
    lines = [
        "", f"### Loaded: 4-stream download on a {LOAD_RATE_MBIT:.0f} Mbit/s link with a "
        f"{LOAD_QUEUE_MS:.0f} ms queue (STUN sampler, {INTERVAL_S * 1000:.0f} ms apart; first "
        f"{LOAD_SETTLE_S:.0f} s left out)", "",
        "| RTT | jitter | transfer runs | idle median | loaded median | loaded p90 | rise | "
        "rise / queue | probes | lost | bulk Mbit/s |",
        "|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        share = None if r.rise is None else r.rise / LOAD_QUEUE_MS
        lines.append(
            f"| {r.spec.rtt_ms:.0f} | {r.spec.jitter_ms:.0f} | {r.where} | {fmt(r.idle)} | {fmt(r.loaded)} | "
            f"{fmt(r.p90)} | {fmt(r.rise, sign=True)} | {fmt(share, 2)} | {r.samples} | {r.lost} | "
            f"{fmt(r.bulk_mbps)} |")
    return lines


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--probes", type=int, default=250)
    parser.add_argument("--quick", action="store_true", help="a few links only (a smoke run)")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/latency.md"))
    args = parser.parse_args(argv)
    ok, reason = lab_available(loss=True, delay=True)
    if not ok:
        sys.exit(f"cannot run: {reason}")
    grid = [(rtt, jit, loss) for rtt in (20, 40, 100) for jit in (0, 10, 40) for loss in (0, 1, 3)]
    loaded = [(rtt, jit) for rtt in (20, 40, 100) for jit in (0, 10, 40)]
    if args.quick:
        grid, loaded = [(40, 10, 0), (100, 40, 3)], [(40, 10)]
    load_before = os.getloadavg()
    started = time.monotonic()
    with NetLab(LinkSpec(seed=11)) as lab, tempfile.TemporaryDirectory() as pki:
        lab.spawn([sys.executable, "-m", "tests.lab.stun_server", "--host", lab.server_ip,
                   "--port", str(STUN_PORT)])
        lab.spawn([sys.executable, "-m", "tests.lab.tcp_reference", "serve", "--port", str(BULK_PORT)])
        lab.spawn([sys.executable, "-m", "tests.lab.netlab", "echo", "--port", str(ECHO_PORT)])
        lab.spawn([sys.executable, "-m", "tests.lab.endpoints", "--host", lab.server_ip, "--pki", pki,
                   "--http-port", str(WEB_PORT)], stdout=subprocess.DEVNULL)
        lab.wait_port(STUN_PORT, "udp")
        lab.wait_port(ECHO_PORT, "udp")
        lab.wait_port(BULK_PORT, "tcp")
        lab.wait_port(WEB_PORT, "tcp")
        idle = []
        for rtt, jit, loss in grid:
            spec = LinkSpec(rtt_ms=rtt, jitter_ms=jit, loss_pct=loss, seed=11)
            idle.append(idle_row(lab, spec, args.probes))
            print(idle_table(idle[-1:], args.probes)[-1], flush=True)
        loaded_rows = []
        for rtt, jit in loaded:
            spec = LinkSpec(down_mbit=LOAD_RATE_MBIT, up_mbit=LOAD_RATE_MBIT, rtt_ms=rtt, jitter_ms=jit,
                            queue_ms=LOAD_QUEUE_MS, seed=11)
            loaded_rows.append(loaded_row(lab, spec))
            print(loaded_table(loaded_rows[-1:])[-1], flush=True)
        spec = LinkSpec(down_mbit=LOAD_RATE_MBIT, up_mbit=LOAD_RATE_MBIT, rtt_ms=40, jitter_ms=10,
                        queue_ms=LOAD_QUEUE_MS, seed=11)
        loaded_rows.append(loaded_row(lab, spec, in_process=True))
        methods = method_rows(lab, LinkSpec(rtt_ms=40, jitter_ms=10, seed=11), min(args.probes, 150))
    elapsed = time.monotonic() - started
    lines = [
        "## Latency probes over the emulated link", "",
        f"Measured {time.strftime('%Y-%m-%d %H:%M')} in {elapsed:.0f} s; load average before "
        f"{load_before[0]:.2f}, after {os.getloadavg()[0]:.2f} (2 cores, shared with other work: "
        "numbers can be noisy). Times in ms.", "",
        *idle_table(idle, args.probes), *idle_summary(idle), *loaded_table(loaded_rows), "",
        "### Methods on one link (RTT 40 ms, jitter 10 ms, no loss)", "",
        "| method | median | jitter | loss % |", "|---|---:|---:|---:|",
        *[f"| {m} | {fmt(med)} | {fmt(jit)} | {loss:.1f} |" for m, med, jit, loss in methods],
        "",
        "TCP connect times the handshake (SYN to SYN-ACK); HTTP times a HEAD on a kept-alive "
        "connection; the lab's relay keeps TCP in order, so TCP methods see jitter differently.",
    ]
    text = "\n".join(lines) + "\n"
    print(text)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)


if __name__ == "__main__":
    main()
