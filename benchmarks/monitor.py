"""What lesson monitoring costs: CPU and data on the wire, with the default settings.

Run from the repository root, as root (it builds the network lab)::

    python -m benchmarks.monitor [--minutes 3] [--processes 500] [--out benchmarks/results/monitor.md]

Each scenario runs the real :class:`~connectcheck.monitor.Monitor` for ``--minutes`` (real
probes, real :class:`~connectcheck.local.LocalSampler` with its step every second, samples and
alerts written to a real history file) against the lab's servers over an emulated home link
(20/5 Mbit/s, 30 ms round trip):

* **UDP**: STUN to the lab's server, the usual case;
* **UDP blocked**: the STUN server's port answers "nothing here" and the platform is measured
  by TCP connects (the fallback), the dearer case;
* **largest settings**: UDP with the most the settings allow (50 probes every 2 s), for scale;
* **UDP, no local sampler**: the probes and the history alone, to show what the local sampler costs.

About ``--processes`` run meanwhile (idle ones, with open files, as on a desktop: the local
sampler reads them all), as in ``benchmarks.local``.

Measured:

* CPU: this process's own time (``resource.getrusage``: every thread, the history's SQLite
  included) plus the commands it ran (Wi-Fi and route readings), over the wall time; target
  ≤ 2 % of one core;
* data: the bytes (and packets) that crossed the test process's network card to the lab, read
  from the card's own counters (Ethernet frames: every header counted), minus the card's idle
  chatter measured first; target ≤ 100 KB per minute. Only the probes use the network: the
  local sampler reads this computer's own counters, and the lab's servers are addressed by IP,
  so no DNS is involved (with names, one lookup per server every five minutes: a few hundred bytes).

The machine has 2 cores shared with other people's tests: the load average is printed.
"""

from __future__ import annotations

import argparse
import os
import resource
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from tests.lab.netlab import CLIENT_IF, LinkSpec, NetLab, lab_available
from tests.lab.services import STUN_PORT, start_services

from benchmarks.local import crowd
from connectcheck.core.model import LessonAlert, MonitorSample
from connectcheck.history import History
from connectcheck.monitor import Monitor, MonitorOptions

LINK = LinkSpec(down_mbit=20, up_mbit=5, rtt_ms=30, jitter_ms=2)
TARGET_CPU_PCT = 2.0
TARGET_KB_PER_MIN = 100.0
IDLE_S = 20.0
SHOW_NOT_GOOD = 5  # samples printed with their figures when not all good


def load() -> str:
    return ", ".join(f"{x:.2f}" for x in os.getloadavg())


def card_counters() -> tuple[int, int]:
    """(bytes, packets) both ways on the test process's card to the lab."""
    base = Path(f"/sys/class/net/{CLIENT_IF}/statistics")
    read = lambda name: int((base / name).read_text())  # noqa: E731
    return read("rx_bytes") + read("tx_bytes"), read("rx_packets") + read("tx_packets")


def cpu_s() -> tuple[float, float]:
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime, kids.ru_utime + kids.ru_stime


@dataclass
class Row:
    name: str
    options: MonitorOptions
    wall_s: float
    own_cpu_s: float
    child_cpu_s: float
    bytes: int
    packets: int
    samples: list[MonitorSample]
    alerts: list[LessonAlert]
    idle_bytes_per_s: float

    @property
    def minutes(self) -> float:
        return self.wall_s / 60

    @property
    def cpu_pct(self) -> float:
        return 100 * (self.own_cpu_s + self.child_cpu_s) / self.wall_s

    @property
    def kb_per_min(self) -> float:
        return max(0.0, self.bytes - self.idle_bytes_per_s * self.wall_s) / 1000 / self.minutes

    def line(self) -> str:
        o = self.options
        methods = "/".join(sorted({s.method or "none" for s in self.samples}))
        not_good = len(self.not_good())
        per_sample = 1000 * (self.own_cpu_s + self.child_cpu_s) / max(1, len(self.samples))
        return (f"| {self.name} | {o.probes} every {o.interval_s:g} s | {len(self.samples)} | {methods} | "
                f"{per_sample:.1f} | **{self.cpu_pct:.2f} %** | **{self.kb_per_min:.1f}** | "
                f"{self.packets / self.minutes:.0f} | {not_good} | {len(self.alerts)} |")

    def not_good(self) -> list[MonitorSample]:
        return [s for s in self.samples if any(st != "good" for st in s.states.values())]


def run(name: str, options: MonitorOptions, minutes: float, folder: Path, idle_bytes_per_s: float) -> Row:
    history = History(folder / f"{name.replace(' ', '-')}.sqlite3")
    samples: list[MonitorSample] = []
    alerts: list[LessonAlert] = []
    monitor = Monitor(options=options, history=history, on_sample=samples.append, on_alert=alerts.append)
    bytes0, packets0 = card_counters()
    own0, kids0 = cpu_s()
    wall0 = time.monotonic()
    monitor.start(name)
    time.sleep(minutes * 60)
    record = monitor.stop()
    wall = time.monotonic() - wall0
    own1, kids1 = cpu_s()
    bytes1, packets1 = card_counters()
    history.close()
    print(f"{name}: {len(record.samples)} samples, {bytes1 - bytes0} B, {own1 - own0:.2f} s CPU", flush=True)
    row = Row(name, options, wall, own1 - own0, kids1 - kids0, bytes1 - bytes0, packets1 - packets0,
              record.samples, alerts, idle_bytes_per_s)
    for s in row.not_good()[:SHOW_NOT_GOOD]:
        print(f"  not all good at {s.t_s:.0f} s: RTT {s.rtt_ms} ms, jitter {s.jitter_ms} ms, "
              f"loss {s.loss_pct} % (recent {s.window_loss_pct} %), {s.states}", flush=True)
    return row


def idle_rate() -> float:
    """Bytes per second the card moves with nobody using it (ARP and the like)."""
    before, _ = card_counters()
    time.sleep(IDLE_S)
    return (card_counters()[0] - before) / IDLE_S


NOTES = [
    "### Reading these numbers",
    "",
    "* A sample is a burst of `monitor.probes` STUN Binding requests 40 ms apart (62 bytes each on the "
    "card; the lab server's answer, with its SOFTWARE name, is 120, a public server's about 80), or TCP "
    "connects when UDP gets no answer (SYN, SYN-ACK, ACK, then FIN and ACK each way: seven frames). "
    "Data grows with probes per minute: the defaults (10 every 5 s) are 120 probes a minute. With the "
    "largest settings a burst of 50 probes lasts 2 s, longer than the interval, so a sample comes every "
    "4 s or so (a late sample is followed by a full interval, never by a catch-up burst): about 750 "
    "probes a minute, beyond the 100 KB target.",
    "* \"Samples not all good\" counts samples where some activity was judged worse than good (printed "
    "while the benchmark runs, with their figures); \"alerts\" counts what the tutor would have been "
    "told after debouncing. With UDP blocked, sound and video are at best degraded: that is told once.",
    "* When UDP gets no answer, every five minutes the monitor tries STUN again with one burst to every "
    "server (here 10 STUN requests and 10 TCP connects, about 7 KB): some 1.4 KB a minute more than "
    "the \"UDP blocked\" row, whose runs are shorter than five minutes.",
    "* Most of the CPU is the local sampler (the process table and every socket, read every 5 s, and "
    "its step every second): compare the last row, the probes and the history alone. Writing a sample "
    "to the history is one short transaction (WAL, no sync on commit). The commands the local sampler "
    "runs every 30 s (Wi-Fi, default route) are counted as children.",
    "* The machine is shared with other people's tests and has 2 cores: CPU figures can be noisy.",
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=3.0)
    parser.add_argument("--short-minutes", type=float, default=1.0, help="for the last two scenarios")
    parser.add_argument("--processes", type=int, default=500)
    parser.add_argument("--out", default="benchmarks/results/monitor.md")
    args = parser.parse_args()
    ok, why = lab_available(delay=True)
    if not ok:
        raise SystemExit(f"benchmarks.monitor needs the network lab: {why}")
    started, load_before = time.time(), load()
    with tempfile.TemporaryDirectory() as tmp, NetLab(LINK) as lab, crowd(args.processes) as running:
        services = start_services(lab, Path(tmp))
        idle = idle_rate()
        udp = MonitorOptions(stun_servers=[services.stun])
        blocked = MonitorOptions(stun_servers=[f"{lab.server_ip}:{STUN_PORT + 1}"],
                                 platform_urls=[services.platform_url])
        largest = MonitorOptions(stun_servers=[services.stun], interval_s=2.0, probes=50)
        no_local = MonitorOptions(stun_servers=[services.stun], local=False)
        rows = [run("UDP", udp, args.minutes, Path(tmp), idle),
                run("UDP blocked (TCP connects)", blocked, args.minutes, Path(tmp), idle),
                run("largest settings", largest, args.short_minutes, Path(tmp), idle),
                run("UDP, no local sampler", no_local, args.short_minutes, Path(tmp), idle)]
    took = time.time() - started
    lines = [
        "## Lesson monitoring: CPU and data",
        "",
        f"Measured {time.strftime('%Y-%m-%d %H:%M')} in {took:.0f} s; load average before {load_before}, "
        f"after {load()} (2 cores, shared with other work: numbers can be noisy); {running} "
        f"processes running. Link: {LINK.down_mbit:g}/{LINK.up_mbit:g} Mbit/s, {LINK.rtt_ms:g} ms round "
        f"trip. The card's idle chatter, {idle:.1f} B/s, is taken off.",
        "",
        f"Targets: ≤ {TARGET_CPU_PCT:g} % of one core and ≤ {TARGET_KB_PER_MIN:g} KB of network a minute.",
        "",
        "| scenario | probes | samples | measured by | CPU ms / sample | CPU (% of one core) | KB / minute "
        "| packets / minute | samples not all good | alerts |",
        "|:--|:-:|--:|:-:|--:|--:|--:|--:|:-:|--:|",
        *[row.line() for row in rows],
        "",
        *NOTES,
    ]
    text = "\n".join(lines) + "\n"
    print(text)
    Path(args.out).write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
