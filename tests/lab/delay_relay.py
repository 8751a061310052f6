"""Userspace delay and jitter for the network lab (this kernel has no ``netem``).

The lab's router namespace routes forwarded packets into a TUN device; this relay, started in
that namespace, reads each packet, holds it and writes it back into the TUN, from where the
kernel forwards it on.

Two delay models (chosen per setting, ``"model"`` in the control message):

* ``"fifo"`` (the default, like a real queue or Wi-Fi link): each direction (packets to one
  destination address) keeps FIFO order for *all* its packets, whatever the protocol:
  ``release = max(previous release in that direction, arrival + delay)``, with a right-skewed
  delay ``base + Exp(tail)`` (a fixed part plus an exponential tail, like real delay spikes).
  A packet never overtakes the one before it, so probes sent close together queue behind each
  other's delay spikes, as they do on real links. One-at-a-time probes (the next one sent
  after the answer to the previous) see independent round trips ``2 base + Gamma(2, tail)``:
  the difference of two is the sum of two Laplace(tail) variables, whose mean absolute value is
  ``1.5 tail``, so for a target jitter ``J`` the tail is ``J / 1.5``; the base is
  ``max(0, rtt/2 - tail)``, which makes the mean RTT ``max(rtt, 2 tail)``; the median RTT is
  ``2 base + 1.678 tail`` (median of Gamma(2, 1): 1.67835).
* ``"independent"`` (the old model, kept by name for tests that need it): ``base + U(0,
  spread)`` per packet; TCP packets keep FIFO order within their flow, UDP and ICMP packets
  are delayed independently (they overtake each other). RTT jitter of independent probes is
  ``spread × E|IH4 − 2| = 7/15 × spread`` (IH4: Irwin-Hall of four uniforms).

Control: JSON lines on stdin (``{"model": "fifo", "base_ms": .., "tail_ms": .., "seed": ..}``,
``{"model": "independent", "base_ms": .., "spread_ms": ..}`` or ``{"cmd": "stats"}``), one
JSON line answered on stdout each. End of stdin (the lab went away) stops the relay.

Run as ``python -m tests.lab.delay_relay --dev NAME`` inside the namespace that owns the TUN.
"""

from __future__ import annotations

import argparse
import fcntl
import heapq
import json
import os
import random
import select
import struct
import sys
import time
from dataclasses import dataclass, field

TUNSETIFF = 0x400454CA
IFF_TUN = 0x0001
IFF_NO_PI = 0x1000
PROTO_TCP = 6
READ_BATCH = 256
FLOW_TABLE_PRUNE_AT = 4096

# E|IH4 - 2| for the Irwin-Hall distribution of four uniforms (see the module docstring).
MEAN_ABS_DIFF_PER_SPREAD = 7.0 / 15.0
# FIFO model: E|difference of two Gamma(2, 1)| and the median of Gamma(2, 1).
MEAN_ABS_DIFF_PER_TAIL = 1.5
GAMMA2_MEDIAN = 1.678347
MODELS = ("fifo", "independent")


def jitter_spread_ms(jitter_ms: float) -> float:
    """Width of the per-direction uniform delay that gives RTT jitter ``jitter_ms``."""
    return jitter_ms / MEAN_ABS_DIFF_PER_SPREAD


def one_way_delay_ms(rtt_ms: float, jitter_ms: float) -> tuple[float, float]:
    """(base, spread) of the one-way delay ``base + U(0, spread)`` for a configured link."""
    spread = jitter_spread_ms(jitter_ms)
    return max(0.0, rtt_ms / 2.0 - spread / 2.0), spread


def fifo_delay_ms(rtt_ms: float, jitter_ms: float) -> tuple[float, float]:
    """(base, tail) of the FIFO model's one-way delay ``base + Exp(tail)`` for a configured link."""
    tail = jitter_ms / MEAN_ABS_DIFF_PER_TAIL
    return max(0.0, rtt_ms / 2.0 - tail), tail


def open_tun(name: str) -> int:
    """Attach to the (existing or new) TUN device ``name``; non-blocking fd, raw IP packets."""
    fd = os.open("/dev/net/tun", os.O_RDWR | os.O_NONBLOCK)
    ifr = struct.pack("16sH22x", name.encode(), IFF_TUN | IFF_NO_PI)
    fcntl.ioctl(fd, TUNSETIFF, ifr)
    return fd


def direction_key(packet: bytes) -> bytes:
    """The FIFO model's ordering key: the destination address (one per direction in the lab)."""
    if len(packet) >= 20 and packet[0] >> 4 == 4:
        return packet[16:20]
    if len(packet) >= 40 and packet[0] >> 4 == 6:
        return packet[24:40]
    return b""


def flow_key(packet: bytes) -> bytes | None:
    """The ordering key of an IPv4 TCP packet (addresses and ports); None for anything else."""
    if len(packet) < 20 or packet[0] >> 4 != 4 or packet[9] != PROTO_TCP:
        return None
    ihl = (packet[0] & 0x0F) * 4
    return packet[12:20] + packet[ihl : ihl + 4]


@dataclass
class Stats:
    """Counters the lab can ask for (CPU use is read from /proc by the lab)."""

    packets: int = 0
    bytes: int = 0
    write_errors: int = 0
    max_held: int = 0
    late_ms_max: float = 0.0
    late_ms_sum: float = 0.0


@dataclass
class Relay:
    """The delay line: a heap of (release time, sequence, packet) and the FIFO table (per
    direction in the FIFO model, per TCP flow in the independent one)."""

    fd: int
    model: str = "fifo"
    base_s: float = 0.0
    spread_s: float = 0.0
    tail_s: float = 0.0
    rng: random.Random = field(default_factory=random.Random)
    heap: list[tuple[float, int, bytes]] = field(default_factory=list)
    flow_release: dict[bytes, float] = field(default_factory=dict)
    seq: int = 0
    stats: Stats = field(default_factory=Stats)

    def configure(self, msg: dict) -> None:
        """Apply a new delay setting; packets already held keep their release time."""
        model = msg.get("model", "fifo")
        if model not in MODELS:
            raise ValueError(f"unknown delay model {model!r} (use {', '.join(MODELS)})")
        self.model = model
        self.base_s = float(msg.get("base_ms", 0.0)) / 1000.0
        self.spread_s = float(msg.get("spread_ms", 0.0)) / 1000.0
        self.tail_s = float(msg.get("tail_ms", 0.0)) / 1000.0
        if msg.get("seed") is not None:
            self.rng.seed(msg["seed"])

    def delay_s(self) -> float:
        """One packet's own delay, drawn from the configured model."""
        if self.model == "fifo":
            return self.base_s + (self.rng.expovariate(1.0 / self.tail_s) if self.tail_s > 0 else 0.0)
        return self.base_s + self.spread_s * self.rng.random()

    def schedule(self, packet: bytes, now: float) -> float:
        """The release time of ``packet`` arriving at ``now``: its own delay, but never before
        the packet ahead of it in its direction (FIFO model) or TCP flow (independent model)."""
        release = now + self.delay_s()
        key = direction_key(packet) if self.model == "fifo" else flow_key(packet)
        if key is not None:
            release = max(release, self.flow_release.get(key, 0.0))
            self.flow_release[key] = release
        return release

    def take_in(self, now: float) -> None:
        """Read every packet waiting in the TUN (up to a batch) and schedule its release."""
        for _ in range(READ_BATCH):
            try:
                packet = os.read(self.fd, 65535)
            except BlockingIOError:
                break
            release = self.schedule(packet, now)
            heapq.heappush(self.heap, (release, self.seq, packet))
            self.seq += 1
            self.stats.packets += 1
            self.stats.bytes += len(packet)
        self.stats.max_held = max(self.stats.max_held, len(self.heap))
        if len(self.flow_release) > FLOW_TABLE_PRUNE_AT:
            self.flow_release = {k: t for k, t in self.flow_release.items() if t > now}

    def release_due(self, now: float) -> None:
        """Write back every packet whose time has come, oldest first."""
        heap = self.heap
        while heap and heap[0][0] <= now:
            release, _, packet = heapq.heappop(heap)
            late_ms = (now - release) * 1000.0
            self.stats.late_ms_sum += late_ms
            self.stats.late_ms_max = max(self.stats.late_ms_max, late_ms)
            try:
                os.write(self.fd, packet)
            except OSError:
                self.stats.write_errors += 1

    def timeout(self, now: float) -> float | None:
        """Seconds until the next release (None: nothing held, sleep until input)."""
        return max(0.0, self.heap[0][0] - now) if self.heap else None


def answer(msg: dict, relay: Relay) -> dict:
    """Handle one control message."""
    if msg.get("cmd") == "stats":
        s = relay.stats
        return {
            "packets": s.packets,
            "bytes": s.bytes,
            "write_errors": s.write_errors,
            "max_held": s.max_held,
            "held": len(relay.heap),
            "late_ms_max": round(s.late_ms_max, 3),
            "late_ms_mean": round(s.late_ms_sum / s.packets, 4) if s.packets else 0.0,
        }
    relay.configure(msg)
    return {"ok": True}


def run(dev: str) -> None:
    """Relay packets until stdin closes."""
    relay = Relay(open_tun(dev))
    ctl = sys.stdin.fileno()
    os.set_blocking(ctl, False)
    pending = b""
    print(json.dumps({"ready": True}), flush=True)
    while True:
        readable, _, _ = select.select([relay.fd, ctl], [], [], relay.timeout(time.monotonic()))
        now = time.monotonic()
        if relay.fd in readable:
            relay.take_in(now)
        if ctl in readable:
            chunk = os.read(ctl, 65536)
            if not chunk:
                return
            pending += chunk
            while b"\n" in pending:
                line, pending = pending.split(b"\n", 1)
                print(json.dumps(answer(json.loads(line), relay)), flush=True)
        relay.release_due(time.monotonic())


def main(argv: list[str] | None = None) -> None:
    """Command line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dev", required=True, help="TUN device to attach to")
    args = parser.parse_args(argv)
    run(args.dev)


if __name__ == "__main__":
    main()
