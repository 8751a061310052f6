"""STUN encode/parse against the sample packets of RFC 5769, and round trips of our own."""

import struct

import pytest

from connectcheck.probes import stun


def hexbytes(text: str) -> bytes:
    return bytes.fromhex("".join(text.split()))


# RFC 5769 §2.1-2.3, byte for byte.
TRANSACTION_ID = hexbytes("b7 e7 a7 01 bc 34 d6 86 fa 87 df ae")
SAMPLE_REQUEST = hexbytes("""
    00 01 00 58 21 12 a4 42 b7 e7 a7 01 bc 34 d6 86 fa 87 df ae
    80 22 00 10 53 54 55 4e 20 74 65 73 74 20 63 6c 69 65 6e 74
    00 24 00 04 6e 00 01 ff
    80 29 00 08 93 2f f9 b1 51 26 3b 36
    00 06 00 09 65 76 74 6a 3a 68 36 76 59 20 20 20
    00 08 00 14 9a ea a7 0c bf d8 cb 56 78 1e f2 b5 b2 d3 f2 49 c1 b5 71 a2
    80 28 00 04 e5 7a 3b cf""")
SAMPLE_RESPONSE_V4 = hexbytes("""
    01 01 00 3c 21 12 a4 42 b7 e7 a7 01 bc 34 d6 86 fa 87 df ae
    80 22 00 0b 74 65 73 74 20 76 65 63 74 6f 72 20
    00 20 00 08 00 01 a1 47 e1 12 a6 43
    00 08 00 14 2b 91 f5 99 fd 9e 90 c3 8c 74 89 f9 2a f9 ba 53 f0 6b e7 d7
    80 28 00 04 c0 7d 4c 96""")
SAMPLE_RESPONSE_V6 = hexbytes("""
    01 01 00 48 21 12 a4 42 b7 e7 a7 01 bc 34 d6 86 fa 87 df ae
    80 22 00 0b 74 65 73 74 20 76 65 63 74 6f 72 20
    00 20 00 14 00 02 a1 47 01 13 a9 fa a5 d3 f1 79 bc 25 f4 b5 be d2 b9 d9
    00 08 00 14 a3 82 95 4e 4b e6 7b f1 17 84 c9 7c 82 92 c2 75 bf e3 ed 41
    80 28 00 04 c8 fb 0b 4c""")
MAPPED_V4 = ("192.0.2.1", 32853)
MAPPED_V6 = ("2001:db8:1234:5678:11:2233:4455:6677", 32853)


def test_rfc5769_request_is_parsed_with_its_fingerprint_checked():
    message = stun.parse_message(SAMPLE_REQUEST)
    assert message is not None
    assert message.msg_type == stun.BINDING_REQUEST
    assert message.transaction_id == TRANSACTION_ID
    assert message.software == "STUN test client"
    assert [t for t, _ in message.attributes] == [0x8022, 0x0024, 0x8029, 0x0006, 0x0008, 0x8028]
    assert message.attribute(0x0006) == b"evtj:h6vY"  # padding not part of the value
    assert message.mapped_address is None


@pytest.mark.parametrize("packet, mapped", [(SAMPLE_RESPONSE_V4, MAPPED_V4), (SAMPLE_RESPONSE_V6, MAPPED_V6)])
def test_rfc5769_responses_give_the_mapped_address(packet, mapped):
    message = stun.parse_message(packet)
    assert message is not None
    assert message.msg_type == stun.BINDING_SUCCESS
    assert message.transaction_id == TRANSACTION_ID
    assert message.software == "test vector"
    assert message.mapped_address == mapped


@pytest.mark.parametrize("packet", [SAMPLE_REQUEST, SAMPLE_RESPONSE_V4, SAMPLE_RESPONSE_V6])
def test_the_encoder_rebuilds_the_rfc5769_packets_byte_for_byte(packet):
    """Same attributes, RFC 5769's space padding: our header, lengths and FINGERPRINT match."""
    message = stun.parse_message(packet)
    attributes = [(t, v) for t, v in message.attributes if t != stun.ATTR_FINGERPRINT]
    rebuilt = stun.encode_message(message.msg_type, message.transaction_id, attributes,
                                  fingerprint=True, padding=b" ")
    assert rebuilt == packet


@pytest.mark.parametrize("packet, mapped", [(SAMPLE_RESPONSE_V4, MAPPED_V4), (SAMPLE_RESPONSE_V6, MAPPED_V6)])
def test_xor_mapped_address_encodes_like_the_rfc(packet, mapped):
    value = stun.parse_message(packet).attribute(stun.ATTR_XOR_MAPPED_ADDRESS)
    assert stun.encode_address(mapped, xor_with=TRANSACTION_ID) == value


def test_damaged_or_foreign_packets_are_refused():
    damaged = bytearray(SAMPLE_RESPONSE_V4)
    damaged[30] ^= 0x01  # inside SOFTWARE: the fingerprint no longer matches
    assert stun.parse_message(bytes(damaged)) is None
    wrong_cookie = SAMPLE_RESPONSE_V4[:4] + b"\x00\x00\x00\x00" + SAMPLE_RESPONSE_V4[8:]
    assert stun.parse_message(wrong_cookie) is None
    assert stun.parse_message(SAMPLE_RESPONSE_V4[:-4]) is None  # length field says more
    assert stun.parse_message(SAMPLE_RESPONSE_V4[:12]) is None
    assert stun.parse_message(b"\xc0" + SAMPLE_RESPONSE_V4[1:]) is None  # top bits must be 0
    assert stun.parse_message(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n") is None
    overrun = stun.encode_message(stun.BINDING_SUCCESS, TRANSACTION_ID, [(0x8022, b"abcd")])
    overrun = overrun[:22] + struct.pack("!H", 40) + overrun[24:]  # attribute claims 40 bytes
    assert stun.parse_message(overrun) is None


def test_binding_request_is_a_bare_header_with_a_fresh_id():
    first, second = stun.new_transaction_id(), stun.new_transaction_id()
    assert len(first) == 12 and first != second
    packet = stun.encode_binding_request(first)
    assert packet == struct.pack("!HHI", 0x0001, 0, 0x2112A442) + first
    assert stun.parse_message(packet).transaction_id == first


@pytest.mark.parametrize("address", [("203.0.113.9", 61000), ("2001:db8::1", 3478)])
def test_binding_response_round_trip(address):
    transaction_id = stun.new_transaction_id()
    packet = stun.encode_binding_response(transaction_id, address, software="tester")
    message = stun.parse_message(packet)
    assert message.msg_type == stun.BINDING_SUCCESS
    assert message.transaction_id == transaction_id
    assert message.mapped_address == address
    assert message.software == "tester"
    assert message.attributes[-1][0] == stun.ATTR_FINGERPRINT


def test_plain_mapped_address_is_read_when_there_is_no_xor_one():
    value = stun.encode_address(("198.51.100.7", 5000))
    packet = stun.encode_message(stun.BINDING_SUCCESS, TRANSACTION_ID, [(stun.ATTR_MAPPED_ADDRESS, value)])
    assert stun.parse_message(packet).mapped_address == ("198.51.100.7", 5000)
    assert stun.decode_address(value[:6]) is None


def test_error_response_code_in_words():
    value = struct.pack("!HBB", 0, 4, 20) + b"Unknown Attribute"
    packet = stun.encode_message(stun.BINDING_ERROR, TRANSACTION_ID, [(stun.ATTR_ERROR_CODE, value)])
    assert stun.error_text(stun.parse_message(packet)) == "420 Unknown Attribute"
