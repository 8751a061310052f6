"""STUN Binding messages (RFC 5389): encode and parse, nothing else.

A Binding request is the packet a browser's WebRTC stack sends to find its public address; it
travels the same UDP path as the lesson's sound and video, which is why connectcheck measures
latency, jitter and loss with it.  This module is pure: bytes in, values out, no sockets.

Only what the probes need is here: the 20-byte header with the magic cookie and a 96-bit
transaction ID, the (XOR-)MAPPED-ADDRESS attributes, SOFTWARE, and FINGERPRINT (checked when
present, so a damaged or foreign packet is refused).  MESSAGE-INTEGRITY is stepped over: a plain
Binding request needs no credentials.
"""

from __future__ import annotations

import ipaddress
import os
import struct
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field

MAGIC_COOKIE = 0x2112A442
HEADER_SIZE = 20
TRANSACTION_ID_SIZE = 12

BINDING_REQUEST = 0x0001
BINDING_SUCCESS = 0x0101
BINDING_ERROR = 0x0111

ATTR_MAPPED_ADDRESS = 0x0001
ATTR_MESSAGE_INTEGRITY = 0x0008
ATTR_ERROR_CODE = 0x0009
ATTR_XOR_MAPPED_ADDRESS = 0x0020
ATTR_SOFTWARE = 0x8022
ATTR_FINGERPRINT = 0x8028

_FINGERPRINT_XOR = 0x5354554E
_FAMILY_IPV4 = 0x01
_FAMILY_IPV6 = 0x02
_HEADER = struct.Struct("!HHI12s")
_ATTR_HEADER = struct.Struct("!HH")


@dataclass
class StunMessage:
    """A parsed STUN message: its type, transaction ID and attributes in order."""

    msg_type: int
    transaction_id: bytes
    attributes: list[tuple[int, bytes]] = field(default_factory=list)

    def attribute(self, attr_type: int) -> bytes | None:
        """The value of the first attribute of this type, or None."""
        for typ, value in self.attributes:
            if typ == attr_type:
                return value
        return None

    @property
    def mapped_address(self) -> tuple[str, int] | None:
        """The public address the server saw: XOR-MAPPED-ADDRESS, else MAPPED-ADDRESS."""
        value = self.attribute(ATTR_XOR_MAPPED_ADDRESS)
        if value is not None:
            return decode_address(value, xor_with=self.transaction_id)
        value = self.attribute(ATTR_MAPPED_ADDRESS)
        if value is not None:
            return decode_address(value)
        return None

    @property
    def software(self) -> str | None:
        value = self.attribute(ATTR_SOFTWARE)
        return None if value is None else value.decode("utf-8", "replace")


def new_transaction_id() -> bytes:
    """A fresh random 96-bit transaction ID (RFC 5389 §6: cryptographically random)."""
    return os.urandom(TRANSACTION_ID_SIZE)


def _padded(value: bytes, padding: bytes) -> bytes:
    return value + padding * (-len(value) % 4)


def encode_message(
    msg_type: int,
    transaction_id: bytes,
    attributes: Sequence[tuple[int, bytes]] = (),
    *,
    fingerprint: bool = False,
    padding: bytes = b"\x00",
) -> bytes:
    """Encode a STUN message; with ``fingerprint`` a FINGERPRINT attribute ends it.

    ``padding`` fills attribute values up to a multiple of four bytes: RFC 5389 lets it be
    any byte (RFC 5769's sample packets use spaces).
    """
    if len(transaction_id) != TRANSACTION_ID_SIZE:
        raise ValueError("a STUN transaction ID has 12 bytes")
    body = b"".join(
        _ATTR_HEADER.pack(typ, len(value)) + _padded(value, padding) for typ, value in attributes
    )
    if not fingerprint:
        return _HEADER.pack(msg_type, len(body), MAGIC_COOKIE, transaction_id) + body
    # The CRC covers the message up to the attribute, with a length that already counts it.
    head = _HEADER.pack(msg_type, len(body) + 8, MAGIC_COOKIE, transaction_id) + body
    crc = (zlib.crc32(head) ^ _FINGERPRINT_XOR) & 0xFFFFFFFF
    return head + _ATTR_HEADER.pack(ATTR_FINGERPRINT, 4) + struct.pack("!I", crc)


def encode_binding_request(transaction_id: bytes) -> bytes:
    """A Binding request with no attributes: the smallest packet any STUN server answers."""
    return encode_message(BINDING_REQUEST, transaction_id)


def encode_binding_response(
    transaction_id: bytes, address: tuple[str, int], *, software: str | None = None
) -> bytes:
    """A Binding success response carrying XOR-MAPPED-ADDRESS (and SOFTWARE), with FINGERPRINT."""
    attributes = [(ATTR_XOR_MAPPED_ADDRESS, encode_address(address, xor_with=transaction_id))]
    if software:
        attributes.insert(0, (ATTR_SOFTWARE, software.encode("utf-8")))
    return encode_message(BINDING_SUCCESS, transaction_id, attributes, fingerprint=True)


def _xor_key(transaction_id: bytes) -> bytes:
    return struct.pack("!I", MAGIC_COOKIE) + transaction_id


def encode_address(address: tuple[str, int], *, xor_with: bytes | None = None) -> bytes:
    """The value of a MAPPED-ADDRESS, or of an XOR-MAPPED-ADDRESS when ``xor_with`` is the
    transaction ID."""
    host, port = address
    ip = ipaddress.ip_address(host)
    family = _FAMILY_IPV4 if ip.version == 4 else _FAMILY_IPV6
    raw = ip.packed
    if xor_with is not None:
        key = _xor_key(xor_with)
        port ^= MAGIC_COOKIE >> 16
        raw = bytes(a ^ b for a, b in zip(raw, key, strict=False))
    return struct.pack("!BBH", 0, family, port) + raw


def decode_address(value: bytes, *, xor_with: bytes | None = None) -> tuple[str, int] | None:
    """Read a (XOR-)MAPPED-ADDRESS value; None when it is malformed."""
    if len(value) < 4:
        return None
    _, family, port = struct.unpack_from("!BBH", value)
    size = {_FAMILY_IPV4: 4, _FAMILY_IPV6: 16}.get(family)
    if size is None or len(value) != 4 + size:
        return None
    raw = value[4:]
    if xor_with is not None:
        key = _xor_key(xor_with)
        port ^= MAGIC_COOKIE >> 16
        raw = bytes(a ^ b for a, b in zip(raw, key, strict=False))
    return str(ipaddress.ip_address(raw)), port


def parse_message(data: bytes) -> StunMessage | None:
    """Parse a STUN message; None for anything that is not a well-formed RFC 5389 message.

    Refused: short or misaligned packets, a wrong magic cookie, a length that does not match
    the packet, attributes running past the end, and a FINGERPRINT that does not match.
    """
    if len(data) < HEADER_SIZE or data[0] & 0xC0:
        return None
    msg_type, length, cookie, transaction_id = _HEADER.unpack_from(data)
    if cookie != MAGIC_COOKIE or length % 4 or HEADER_SIZE + length != len(data):
        return None
    message = StunMessage(msg_type, transaction_id)
    pos = HEADER_SIZE
    while pos < len(data):
        if pos + 4 > len(data):
            return None
        typ, size = _ATTR_HEADER.unpack_from(data, pos)
        end = pos + 4 + size
        if end > len(data):
            return None
        value = data[pos + 4 : end]
        if typ == ATTR_FINGERPRINT:
            if size != 4 or end != len(data) or not _fingerprint_ok(data[:pos], value):
                return None
        message.attributes.append((typ, value))
        pos = end + (-size % 4)
    return message


def _fingerprint_ok(head: bytes, value: bytes) -> bool:
    return (zlib.crc32(head) ^ _FINGERPRINT_XOR) & 0xFFFFFFFF == struct.unpack("!I", value)[0]


def error_text(message: StunMessage) -> str:
    """The ERROR-CODE of an error response in words, e.g. "400 Bad Request"."""
    value = message.attribute(ATTR_ERROR_CODE)
    if value is None or len(value) < 4:
        return "an error without a code"
    code = (value[2] & 0x07) * 100 + value[3]
    reason = value[4:].decode("utf-8", "replace").strip()
    return f"{code} {reason}".strip()
