"""The home router (the first hop): round trips, jitter and loss to the default gateway, idle and
under load.

Where the trouble is starts here: a router slow, jittery or lossy to reach means the Wi-Fi (or the
cable) inside the home; a router that answers cleanly while the internet does not puts it on the
line or beyond; under load, a queue growing on the way to the router means the Wi-Fi is the
bottleneck, a router path that stays flat while the internet path grows means the line's queue.

How to reach it, in order of preference (the first that answers is used for the whole check):

* ICMP echo where it needs no privileges (:mod:`.icmp`: Linux when ``ping_group_range`` allows,
  macOS always, Windows through its IP Helper's ``IcmpSendEcho``);
* a DNS query to the router's DNS forwarder (home routers forward DNS; repeated queries for one
  name are answered from its cache, so they time the router, not the line);
* a TCP connect to its web page (port 80, then 443).

All candidates are tried at once with a few probes each, within a fraction of a second. A router
that answers none of them is "unknown" (many ignore pings and keep their page closed), never bad.

The gateway's address comes from the caller (``local/``'s backends read it from the system's
routing table): probes never import local/.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

from connectcheck.core.model import FirstHop, Status
from connectcheck.core.tasks import ProgressFn, report
from connectcheck.probes import icmp
from connectcheck.probes.latency import LatencySampler, LatencyTarget, measure_latency

TRY_PROBES = 3  # probes per candidate method while choosing one
TRY_INTERVAL_S = 0.05
TRY_TIMEOUT_S = 0.4
TCP_PORTS = (80, 443)
UNKNOWN_TEXT = (
    "the home router answered neither ping, nor a DNS query, nor a connection to its web page, so "
    "the way to it could not be measured (many routers answer none of these: that is not a fault)"
)
NO_GATEWAY_TEXT = "this computer has no default gateway (home router) in its routing table"


@dataclass(frozen=True)
class HopPorts:
    """Where the router's DNS forwarder and web page listen (other ports only in tests)."""

    dns: int = 53
    tcp: tuple[int, ...] = TCP_PORTS


def candidates(gateway: str, *, icmp_allowed: bool, question: str = ".",
               ports: HopPorts = HopPorts()) -> list[LatencyTarget]:
    """The ways to probe the router, best first (ping only where the system allows it)."""
    out = [LatencyTarget("icmp", gateway, label=gateway)] if icmp_allowed else []
    out.append(LatencyTarget("dns", gateway, ports.dns, label=f"{gateway}:{ports.dns}", question=question))
    out += [LatencyTarget("tcp", gateway, port, label=f"{gateway}:{port}") for port in ports.tcp]
    return out


def choose_target(
    gateway: str,
    *,
    cancel: threading.Event,
    icmp_allowed: bool | None = None,
    question: str = ".",
    timeout_s: float = TRY_TIMEOUT_S,
    ports: HopPorts = HopPorts(),
) -> tuple[LatencyTarget | None, list[str]]:
    """The best way the router answers (None when it answers nothing), and why each better one
    was not used ("ping: not allowed without administrator rights here")."""
    tried: list[str] = []
    if icmp_allowed is None:
        reason = icmp.unavailable_reason()
        icmp_allowed = reason is None
        if reason:
            tried.append(f"ping: {reason}")
    options = candidates(gateway, icmp_allowed=icmp_allowed, question=question, ports=ports)
    results = measure_latency(options, count=TRY_PROBES, interval_s=TRY_INTERVAL_S, timeout_s=timeout_s,
                              time_limit_s=TRY_PROBES * TRY_INTERVAL_S + timeout_s + 0.2, cancel=cancel)
    for target, result in zip(options, results, strict=True):
        if result.samples > 0:
            return target, tried
        tried.append(f"{_method_words(target)}: {result.error or 'no answer'}")
    return None, tried


def _method_words(target: LatencyTarget) -> str:
    if target.method == "icmp":
        return "ping"
    if target.method == "dns":
        return "DNS query"
    return f"connection to port {target.port}"


def measure_first_hop(
    gateway: str | None,
    *,
    count: int = 100,
    interval_s: float = 0.02,
    timeout_s: float = 0.5,
    time_limit_s: float = 3.0,
    cancel: threading.Event,
    progress: ProgressFn | None = None,
    interface: str | None = None,
    source: str | None = None,
    icmp_allowed: bool | None = None,
    question: str = ".",
    ports: HopPorts = HopPorts(),
) -> FirstHop:
    """Probe the router idle: ``count`` probes ``interval_s`` apart by the best method it answers.

    Bounded by ``time_limit_s`` (choosing the method included); cancel ends it within a fraction of
    a second. Returns status UNAVAILABLE ("unknown") when there is no gateway or it answers nothing.
    """
    started = time.monotonic()
    hop = FirstHop(gateway=gateway, interface=interface, source=source)
    if not gateway:
        hop.status, hop.error = Status.UNAVAILABLE, NO_GATEWAY_TEXT
        return hop
    report(progress, "first_hop", 0.0, "finding how the home router answers")
    target, hop.tried = choose_target(gateway, cancel=cancel, icmp_allowed=icmp_allowed, question=question,
                                      ports=ports)
    if cancel.is_set():
        hop.status, hop.error = Status.CANCELLED, "cancelled"
        return hop
    if target is None:
        hop.status, hop.error = Status.UNAVAILABLE, UNKNOWN_TEXT
        return hop
    hop.method = target.method
    hop.target = target.label
    left = time_limit_s - (time.monotonic() - started)
    count = max(5, min(count, int((left - timeout_s) / interval_s)))
    report(progress, "first_hop", 0.2, f"probing the home router by {_method_words(target)}")
    hop.idle = measure_latency([target], count=count, interval_s=interval_s, timeout_s=timeout_s,
                               time_limit_s=max(0.5, left), cancel=cancel)[0]
    hop.idle.rtt_ms_samples = []  # the statistics are kept; hundreds of samples are not
    hop.status = Status.CANCELLED if cancel.is_set() else Status.OK
    report(progress, "first_hop", 1.0, "home router measured")
    return hop


def hop_target(hop: FirstHop, question: str = ".") -> LatencyTarget | None:
    """The target a measured hop answered on, to probe it again under load."""
    if hop.status is not Status.OK or not hop.gateway or hop.method is None or not hop.target:
        return None
    if hop.method == "icmp":
        return LatencyTarget("icmp", hop.gateway, label=hop.target)
    port = int(hop.target.rpartition(":")[2])
    return LatencyTarget(hop.method, hop.gateway, port, label=hop.target, question=question)


class HopSampler:
    """The router probed all along a transfer, every ``interval_s`` (a :class:`LatencySampler`)."""

    def __init__(self, target: LatencyTarget, interval_s: float = 0.1, timeout_s: float = 1.0) -> None:
        self.target = target
        self._sampler = LatencySampler(target, interval_s=interval_s, timeout_s=timeout_s)

    def start(self) -> None:
        self._sampler.start()

    def stop(self) -> list[tuple[float, float | None]]:
        return self._sampler.stop()

    @property
    def bytes_used(self) -> int:
        return self._sampler.bytes_used
