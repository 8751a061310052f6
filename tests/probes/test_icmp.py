"""Unprivileged ICMP echo: packet encoding, and a real ping where the system allows it."""

import json
import os
import shutil
import socket
import struct
import subprocess
import sys
import threading

import pytest

from connectcheck.core.model import Status
from connectcheck.probes import icmp
from connectcheck.probes.latency import LatencyTarget, measure_latency


def test_checksum_of_the_rfc1071_example():
    # RFC 1071 §3: the one's complement sum of 0001 f203 f4f5 f6f7 is ddf2.
    assert icmp.checksum(bytes.fromhex("0001f203f4f5f6f7")) == 0xFFFF - 0xDDF2


def test_checksum_of_an_odd_length_packet_pads_with_zero():
    assert icmp.checksum(b"\x01") == icmp.checksum(b"\x01\x00")


def test_an_echo_request_carries_a_valid_checksum():
    packet = icmp.encode_echo_request(0x1234, 7, b"token")
    assert packet[0] == icmp.ECHO_REQUEST_V4 and packet[8:] == b"token"
    assert icmp.checksum(packet) == 0  # a correct checksum sums the packet to all ones


def reply_to(request, ipv6=False):
    reply_type = icmp.ECHO_REPLY_V6 if ipv6 else icmp.ECHO_REPLY_V4
    return bytes([reply_type]) + request[1:]


@pytest.mark.parametrize("ipv6", [False, True])
def test_replies_are_parsed_to_sequence_and_payload(ipv6):
    request = icmp.encode_echo_request(1, 513, b"abc", ipv6=ipv6)
    assert icmp.parse_echo_reply(reply_to(request, ipv6), ipv6=ipv6) == (513, b"abc")
    assert icmp.parse_echo_reply(request, ipv6=ipv6) is None  # our own request is not a reply
    assert icmp.parse_echo_reply(b"\x00\x00", ipv6=ipv6) is None


def test_a_reply_with_its_ip_header_in_front_is_read_too():
    """macOS hands over IPv4 replies with the IP header."""
    ip_header = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 48, 0, 0, 64, 1, 0,
                            socket.inet_aton("127.0.0.1"), socket.inet_aton("127.0.0.1"))
    reply = reply_to(icmp.encode_echo_request(1, 9, b"xyz"))
    assert icmp.parse_echo_reply(ip_header + reply) == (9, b"xyz")


def test_other_icmp_messages_are_not_replies():
    unreachable = struct.pack("!BBHHH", 3, 3, 0, 0, 0) + b"\x45" + bytes(27)
    assert icmp.parse_echo_reply(unreachable) is None


def test_the_socket_opens_or_the_reason_is_plain():
    reason = icmp.unavailable_reason()
    if reason is None:
        icmp.open_socket().close()
    else:
        assert reason == icmp.UNAVAILABLE_TEXT
        with pytest.raises(icmp.IcmpUnavailable):
            icmp.open_socket()


def test_the_probe_measures_or_says_unavailable_never_crashes():
    [result] = measure_latency([LatencyTarget.from_host_port("icmp", "127.0.0.1")], count=5, interval_s=0.01,
                               timeout_s=0.5, time_limit_s=3.0, cancel=threading.Event())
    if icmp.unavailable_reason() is None:
        assert result.status is Status.OK and result.samples == 5
    else:
        assert result.status is Status.UNAVAILABLE
        assert result.error == icmp.UNAVAILABLE_TEXT


PING_IN_NAMESPACE = """
import json, threading
from connectcheck.probes.latency import LatencyTarget, measure_latency
[r] = measure_latency([LatencyTarget.from_host_port("icmp", "127.0.0.1")], count=10, interval_s=0.01,
                      timeout_s=0.5, time_limit_s=3.0, cancel=threading.Event())
print(json.dumps({"status": r.status.value, "error": r.error, "samples": r.samples,
                  "median": r.rtt_ms_median}))
"""


@pytest.mark.skipif(not sys.platform.startswith("linux") or os.geteuid() != 0 or not shutil.which("unshare"),
                    reason="needs Linux, root and unshare to open ping to users in a private namespace")
def test_unprivileged_ping_really_measures_where_it_is_allowed():
    """In a private network namespace whose ping_group_range admits everyone (this machine's own
    setting is left alone), the ICMP probe pings the loopback for real."""
    script = ("ip link set lo up && sysctl -qw net.ipv4.ping_group_range='0 2147483647' && "
              f"exec {sys.executable} -c '{PING_IN_NAMESPACE}'")
    proc = subprocess.run(["unshare", "--net", "sh", "-c", script], capture_output=True, text=True,
                          timeout=30, cwd=os.path.dirname(os.path.dirname(os.path.dirname(__file__))))
    if proc.returncode != 0 and "Operation not permitted" in proc.stderr:
        pytest.skip(f"cannot make a private namespace here: {proc.stderr.strip()}")
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert result["status"] == "ok", result["error"]
    assert result["samples"] == 10 and result["median"] < 100
