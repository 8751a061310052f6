"""ICMP echo ("ping") without administrator rights, where the system allows it.

Linux lets ordinary users open ``SOCK_DGRAM`` / ``IPPROTO_ICMP`` sockets when their group is
inside ``net.ipv4.ping_group_range``; macOS always does.  Windows has no such socket, but its IP
Helper's ``IcmpSendEcho`` (iphlpapi.dll) sends an echo without administrator rights
(:class:`WindowsEcho`, through ctypes, IPv4; one blocking call per echo, which the prober runs in a
thread).  Elsewhere (a Linux whose range is empty, a Windows whose IP Helper cannot be loaded) ping
is simply *unavailable*: that is a fact to report, never a crash.  ICMP is a bonus measurement;
STUN over UDP is the one that counts.

This module opens the socket and encodes and parses echo packets; the probing loop lives in
:mod:`connectcheck.probes.latency`.  On Linux the kernel rewrites the identifier with its own
value, so replies are matched by sequence number and a random token in the payload.
"""

from __future__ import annotations

import ctypes
import socket
import struct
import sys
import time
from collections.abc import Callable

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
    if sys.platform == "win32":
        if family == socket.AF_INET and system_echo() is not None:
            return None
        return WINDOWS_UNAVAILABLE_TEXT
    try:
        open_socket(family).close()
    except IcmpUnavailable as exc:
        return str(exc)
    return None


# --- Windows: IcmpSendEcho ------------------------------------------------------------------------

WINDOWS_UNAVAILABLE_TEXT = ("Windows' ping service (the IP Helper's IcmpSendEcho, IPv4) could not be "
                            "used here, so ping was not used (the other measurements do not need it)")
IP_SUCCESS = 0
# IcmpSendEcho's statuses that mean an answer other than the echo (ipexport.h), in plain words.
WINDOWS_STATUS_TEXT = {
    11002: "the network could not be reached (the router said so)",
    11003: "the computer could not be reached (the router said so)",
    11005: "the router said the port could not be reached",
    11013: "the echo's time to live ran out on the way",
    11050: "the echo failed (Windows did not say why)",
}
IP_REQ_TIMED_OUT = 11010
# One echo: (address, payload, timeout in s) -> (seconds it took, None) | (None, None) for nothing
# back in time | (None, why in plain words)
EchoFn = Callable[[str, bytes, float], tuple[float | None, str | None]]


class IpOptionInformation(ctypes.Structure):
    """IP_OPTION_INFORMATION (ipexport.h)."""

    _fields_ = [("Ttl", ctypes.c_ubyte), ("Tos", ctypes.c_ubyte), ("Flags", ctypes.c_ubyte),
                ("OptionsSize", ctypes.c_ubyte), ("OptionsData", ctypes.c_void_p)]


class IcmpEchoReply(ctypes.Structure):
    """ICMP_ECHO_REPLY (ipexport.h): 28 bytes on 32-bit Windows, 40 on 64-bit."""

    _fields_ = [("Address", ctypes.c_uint32), ("Status", ctypes.c_uint32), ("RoundTripTime", ctypes.c_uint32),
                ("DataSize", ctypes.c_uint16), ("Reserved", ctypes.c_uint16), ("Data", ctypes.c_void_p),
                ("Options", IpOptionInformation)]


def ipaddr_value(address: str) -> int:
    """An IPv4 address as IcmpSendEcho's IPAddr: the four bytes in network order, read as the
    little-endian 32-bit number Windows keeps them in."""
    return int.from_bytes(socket.inet_aton(address), "little")


def reply_buffer_size(payload: int) -> int:
    """Room for one reply and its data, and the 8 bytes of an ICMP error that the API asks for."""
    return ctypes.sizeof(IcmpEchoReply) + payload + 8 + 16


class WindowsEcho:
    """One ICMP echo at a time through iphlpapi.dll, each with a handle of its own (a handle closed
    while another thread waits on it is never an issue). Not for other systems: :func:`system_echo`
    gives one only on Windows, when the DLL and its three functions load."""

    def __init__(self, dll: object) -> None:
        handle = ctypes.c_void_p
        self._create = dll.IcmpCreateFile  # type: ignore[attr-defined]
        self._create.restype, self._create.argtypes = handle, []
        self._close = dll.IcmpCloseHandle  # type: ignore[attr-defined]
        self._close.restype, self._close.argtypes = ctypes.c_int, [handle]
        self._send = dll.IcmpSendEcho  # type: ignore[attr-defined]
        self._send.restype = ctypes.c_uint32
        self._send.argtypes = [handle, ctypes.c_uint32, ctypes.c_void_p, ctypes.c_uint16, ctypes.c_void_p,
                               ctypes.c_void_p, ctypes.c_uint32, ctypes.c_uint32]

    def echo(self, address: str, payload: bytes, timeout_s: float) -> tuple[float | None, str | None]:
        """One echo to ``address``: (seconds it took, None) when answered; (None, None) when nothing
        came back in time; (None, why in plain words) when something else answered or it failed."""
        handle = self._create()
        if not handle or handle == ctypes.c_void_p(-1).value:
            return None, "Windows' ping service could not be opened"
        try:
            request = ctypes.create_string_buffer(payload, len(payload))
            reply = ctypes.create_string_buffer(reply_buffer_size(len(payload)))
            timeout_ms = max(1, int(timeout_s * 1000))
            started = time.perf_counter()
            count = self._send(handle, ipaddr_value(address), request, len(payload), None, reply,
                               len(reply), timeout_ms)
            took = time.perf_counter() - started
        finally:
            self._close(handle)
        if not count:
            return None, None  # timed out (or failed: GetLastError would say; the loop counts it lost)
        answer = IcmpEchoReply.from_buffer_copy(reply.raw[:ctypes.sizeof(IcmpEchoReply)])
        if answer.Status == IP_SUCCESS:
            return took, None
        if answer.Status == IP_REQ_TIMED_OUT:
            return None, None
        fallback = f"the echo failed (Windows status {answer.Status})"
        return None, WINDOWS_STATUS_TEXT.get(answer.Status, fallback)


_system_echo: list[WindowsEcho | None] = []


def system_echo() -> WindowsEcho | None:
    """Windows' echo service when this is Windows and it loads (asked once), else None."""
    if not _system_echo:
        echo = None
        if sys.platform == "win32":
            try:
                echo = WindowsEcho(ctypes.WinDLL("iphlpapi.dll"))  # type: ignore[attr-defined]
            except (OSError, AttributeError):
                echo = None
        _system_echo.append(echo)
    return _system_echo[0]


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
