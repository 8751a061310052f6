"""Which targets the latency probes measure, and which of them is the headline."""

from __future__ import annotations

from collections.abc import Sequence
from urllib.parse import urlsplit

from connectcheck.core.model import (
    LatencyResult,
)
from connectcheck.probes.latency import LatencyTarget


def latency_targets(stun_servers: Sequence[str], platform_urls: Sequence[str],
                    icmp: bool = False) -> list[LatencyTarget]:
    """STUN to each STUN server; TCP connect and HTTP round trips to each web endpoint (and ICMP
    echo to each platform host when ``icmp``)."""
    targets = [LatencyTarget.from_host_port("stun", s) for s in stun_servers]
    seen: set[tuple[str, int]] = set()
    for url in platform_urls:
        parts = urlsplit(url)
        if parts.scheme not in ("https", "http", "wss", "ws") or not parts.hostname:
            continue
        key = (parts.hostname, parts.port or (443 if parts.scheme in ("https", "wss") else 80))
        if key in seen:
            continue
        seen.add(key)
        targets.append(LatencyTarget.from_url("tcp", url))
        if parts.scheme in ("https", "http"):
            targets.append(LatencyTarget.from_url("http", url))
        if icmp:
            targets.append(LatencyTarget(method="icmp", host=parts.hostname, label=parts.hostname))
    return targets


def idle_targets(stun_servers: Sequence[str], platform_urls: Sequence[str],
                 icmp: bool = False) -> list[LatencyTarget]:
    """The targets of the idle schedule: :func:`latency_targets` without the HTTP ones when
    there is a STUN server. An HTTP probe first opens a TCP and TLS connection (several round
    trips of untimed traffic that later probes queue behind on an order-keeping line) and on a
    lossy line runs into its time limit; the platform's HTTPS exchange is timed by the
    reachability check anyway."""
    targets = latency_targets(stun_servers, platform_urls, icmp)
    if any(t.method == "stun" for t in targets):
        targets = [t for t in targets if t.method != "http"]
    return targets


def choose_primary(latency: list[LatencyResult]) -> LatencyResult | None:
    """The latency result that stands for the media path: STUN over UDP if any answered,
    else TCP connect; among those, the one probed most (the idle schedule's primary target:
    its figures rest on the most samples), then the fewest losses, then the lowest median."""
    for method in ("stun", "tcp", "http", "icmp"):
        answered = [r for r in latency if r.method == method and r.samples > 0]
        if answered:
            return min(answered, key=lambda r: (-r.samples, r.loss_pct or 0.0, r.rtt_ms_median or 0.0))
    return None
