"""ICMP echo ("ping") without administrator rights, where the system allows it.

Linux lets ordinary users open ``SOCK_DGRAM`` / ``IPPROTO_ICMP`` sockets when their group is
inside ``net.ipv4.ping_group_range``; macOS always does.  Elsewhere (Windows, a Linux whose
range is empty) the socket cannot be opened and ping is simply *unavailable*: that is a fact
to report, never a crash.  ICMP is a bonus measurement; STUN over UDP is the one that counts.

This module opens the socket and encodes and parses echo packets; the probing loop lives in
:mod:`connectcheck.probes.latency`.  On Linux the kernel rewrites the identifier with its own
value, so replies are matched by sequence number and a random token in the payload.
"""

from __future__ import annotations

import socket
import struct

ECHO_REQUEST_V4 = 8
ECHO_REPLY_V4 = 0
ECHO_REQUEST_V6 = 128
ECHO_REPLY_V6 = 129

_HEADER = struct.Struct("!BBHHH")  # type, code, checksum, identifier, sequence
UNAVAILABLE_TEXT = (
    "this system allows ping only with administrator rights, so ping was not used (the other "
    "measurements do not need it)"
)


class IcmpUnavailable(Exception):
    """Ping cannot be used here; ``str(exc)`` says why in plain words."""


def open_socket(family: int = socket.AF_INET) -> socket.socket:
    """An unprivileged ICMP (or ICMPv6) echo socket, non-blocking.

    Raises :class:`IcmpUnavailable` when the system does not allow one.
    """
    proto = socket.IPPROTO_ICMPV6 if family == socket.AF_INET6 else socket.IPPROTO_ICMP
    try:
        sock = socket.socket(family, socket.SOCK_DGRAM, proto)
    except OSError as exc:  # EACCES (Linux, group outside the range), EPROTONOSUPPORT (Windows)…
        raise IcmpUnavailable(UNAVAILABLE_TEXT) from exc
    sock.setblocking(False)
    return sock


def unavailable_reason(family: int = socket.AF_INET) -> str | None:
    """None when unprivileged ping works here, else the reason in plain words."""
    try:
        open_socket(family).close()
    except IcmpUnavailable as exc:
        return str(exc)
    return None


def checksum(data: bytes) -> int:
    """The Internet checksum (RFC 1071) of ``data``."""
    if len(data) % 2:
        data += b"\x00"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def encode_echo_request(ident: int, seq: int, payload: bytes, *, ipv6: bool = False) -> bytes:
    """An echo request.  For ICMPv6 the kernel fills the checksum (it covers a pseudo-header)."""
    typ = ECHO_REQUEST_V6 if ipv6 else ECHO_REQUEST_V4
    packet = _HEADER.pack(typ, 0, 0, ident & 0xFFFF, seq & 0xFFFF) + payload
    if ipv6:
        return packet
    return _HEADER.pack(typ, 0, checksum(packet), ident & 0xFFFF, seq & 0xFFFF) + payload


def parse_echo_reply(data: bytes, *, ipv6: bool = False) -> tuple[int, bytes] | None:
    """``(sequence, payload)`` of an echo reply, or None for any other packet.

    macOS hands IPv4 replies over with their IP header in front; it is skipped here.
    """
    if not ipv6 and data and data[0] >> 4 == 4 and len(data) >= 20:
        data = data[(data[0] & 0x0F) * 4 :]
    if len(data) < _HEADER.size:
        return None
    typ, code, _, _, seq = _HEADER.unpack_from(data)
    if typ != (ECHO_REPLY_V6 if ipv6 else ECHO_REPLY_V4) or code != 0:
        return None
    return seq, data[_HEADER.size :]
