"""Network cards: how much each moves now, which carries the default route and what kind it is
(Ethernet, Wi-Fi, mobile, VPN), and the traffic no program could be named for.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping

import psutil

from connectcheck.core.model import InterfaceUsage
from connectcheck.local.base import LocalBackend, NicCounters

# Header bytes per packet taken off a card's byte count to compare it with TCP payload counts:
# Ethernet 14 + IPv4 20 + TCP with timestamps 32 (a pure ACK is exactly this).
HEADER_BYTES_PER_PACKET = 66
CONNECTION_KINDS = ("ethernet", "wifi", "mobile", "vpn")


def mbps(n_bytes: float, seconds: float) -> float:
    """Bytes over seconds as Mbit/s."""
    return n_bytes * 8 / seconds / 1e6 if seconds > 0 else 0.0


def counter_delta(before: NicCounters, after: NicCounters) -> NicCounters:
    """What a card counted between two readings (a counter that went back starts from zero)."""

    def diff(a: int, b: int) -> int:
        return b - a if b >= a else b

    return NicCounters(
        diff(before.bytes_recv, after.bytes_recv),
        diff(before.bytes_sent, after.bytes_sent),
        diff(before.packets_recv, after.packets_recv),
        diff(before.packets_sent, after.packets_sent),
    )


def nic_deltas(before: Mapping[str, NicCounters], after: Mapping[str, NicCounters]) -> dict[str, NicCounters]:
    """Per card, what it counted between two readings (cards present in both)."""
    return {n: counter_delta(before[n], c) for n, c in after.items() if n in before}


def uplinks(backend: LocalBackend, names: Collection[str], defaults: list[str]) -> list[str]:
    """The cards whose totals are this computer's use of the connection.

    The scope's choice if it has one; else the default route's cards; else every card that is
    up and is not loopback.
    """
    if backend.scope.uplinks is not None:
        return [n for n in names if n in backend.scope.uplinks]
    chosen = [n for n in defaults if n in names]
    if chosen:
        return chosen
    stats = psutil.net_if_stats()
    return [n for n in names if backend.interface_kind(n) != "loopback" and (n not in stats or stats[n].isup)]


def payload_bytes(delta: NicCounters) -> tuple[int, int]:
    """(down, up) bytes a card moved, less an estimate of the packet headers."""
    return (
        max(0, delta.bytes_recv - delta.packets_recv * HEADER_BYTES_PER_PACKET),
        max(0, delta.bytes_sent - delta.packets_sent * HEADER_BYTES_PER_PACKET),
    )


def interface_usage(
    backend: LocalBackend,
    deltas: Mapping[str, NicCounters],
    seconds: float | None,
    defaults: list[str],
    wifi_interface: str | None,
) -> list[InterfaceUsage]:
    """Every card that is up (or carries traffic), its kind, link speed and rates; loopback left out
    unless the scope counts it."""
    stats = psutil.net_if_stats()
    out = []
    for name in sorted(deltas):
        kind = "wifi" if name == wifi_interface else backend.interface_kind(name)
        if kind == "loopback" and not backend.scope.loopback:
            continue
        st = stats.get(name)
        delta = deltas[name]
        if st is not None and not st.isup and not (delta.bytes_recv or delta.bytes_sent):
            continue
        usage = InterfaceUsage(
            name=name,
            kind=kind,
            is_default=name in defaults,
            link_mbps=float(st.speed) if st is not None and st.speed > 0 else None,
        )
        if seconds:
            usage.down_mbps = mbps(delta.bytes_recv, seconds)
            usage.up_mbps = mbps(delta.bytes_sent, seconds)
        out.append(usage)
    out.sort(key=lambda u: (not u.is_default, u.name))
    return out


def connection_type(interfaces: list[InterfaceUsage]) -> str | None:
    """The kind of the connection in use: a VPN on any default card wins, then the first default card."""
    kinds = [u.kind for u in interfaces if u.is_default]
    if "vpn" in kinds:
        return "vpn"
    return next((k for k in kinds if k in CONNECTION_KINDS), None)
