"""Unprivileged ICMP echo: packet encoding, and a real ping where the system allows it; on Windows,
IcmpSendEcho's layout, its reply's decoding and the prober that runs it."""

import ctypes
import json
import os
import shutil
import socket
import struct
import subprocess
import sys
import threading
import time

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


# --- Windows: IcmpSendEcho (its calls cannot be made here; the layout, the decoding and the prober) --


def test_the_echo_reply_structure_has_the_sdk_layout():
    """ICMP_ECHO_REPLY: 40 bytes with Data at 16 and Options at 24 on 64-bit Windows (the same
    alignment rules as this 64-bit Linux for these types), 28 bytes on 32-bit."""
    wide = ctypes.sizeof(ctypes.c_void_p) == 8
    assert ctypes.sizeof(icmp.IcmpEchoReply) == (40 if wide else 28)
    assert icmp.IcmpEchoReply.Data.offset == 16 and icmp.IcmpEchoReply.Options.offset == (24 if wide else 20)
    assert icmp.reply_buffer_size(32) >= ctypes.sizeof(icmp.IcmpEchoReply) + 32 + 8


def test_the_address_is_given_as_windows_keeps_an_ipaddr():
    assert icmp.ipaddr_value("192.168.1.1") == 0x0101A8C0
    assert icmp.ipaddr_value("10.0.0.138") == 0x8A00000A


class _FakeIpHelper:
    """Stands in for iphlpapi.dll: IcmpSendEcho answers by writing a reply as Windows documents it."""

    def __init__(self, status=0, count=1, handle=5):
        self.status, self.count, self.handle, self.closed, self.asked = status, count, handle, [], []

        def create():
            return self.handle

        def close(handle):
            self.closed.append(handle)
            return 1

        def send(handle, address, request, size, options, reply, reply_size, timeout_ms):
            self.asked.append((address, size, reply_size, timeout_ms))
            answer = icmp.IcmpEchoReply(Address=address, Status=self.status, RoundTripTime=1, DataSize=size)
            ctypes.memmove(reply, ctypes.byref(answer), ctypes.sizeof(answer))
            return self.count

        self.IcmpCreateFile, self.IcmpCloseHandle, self.IcmpSendEcho = create, close, send


def test_windows_echo_reads_the_reply_status_and_always_closes_its_handle():
    helper = _FakeIpHelper()
    took, why = icmp.WindowsEcho(helper).echo("192.168.1.1", b"x" * 32, 0.5)
    assert took is not None and took >= 0 and why is None
    assert helper.asked == [(0x0101A8C0, 32, icmp.reply_buffer_size(32), 500)] and helper.closed == [5]
    # timed out: no reply counted, or the reply says so
    assert icmp.WindowsEcho(_FakeIpHelper(count=0)).echo("192.168.1.1", b"x", 0.5) == (None, None)
    assert icmp.WindowsEcho(_FakeIpHelper(status=11010)).echo("192.168.1.1", b"x", 0.5) == (None, None)
    took, why = icmp.WindowsEcho(_FakeIpHelper(status=11003)).echo("192.168.1.1", b"x", 0.5)
    assert took is None and "could not be reached" in why
    assert icmp.WindowsEcho(_FakeIpHelper(handle=None)).echo("192.168.1.1", b"x", 0.5)[1] == (
        "Windows' ping service could not be opened")


def test_no_windows_echo_away_from_windows():
    if sys.platform != "win32":
        assert icmp.system_echo() is None


class _UdpEcho:
    """A real round trip per echo: a datagram to a UDP echo server on 127.0.0.1 and back; every
    ``drop``-th echo gets no answer, and an address ending in .9 is "unreachable"."""

    def __init__(self, drop=0):
        self.server = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.server.bind(("127.0.0.1", 0))
        self.drop, self.n, self.lock = drop, 0, threading.Lock()
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        while not self.stopping.is_set():
            try:
                data, peer = self.server.recvfrom(2048)
                if not self.stopping.is_set():
                    self.server.sendto(data, peer)
            except OSError:
                return

    def close(self):
        """Stop the server's thread before its socket closes, so the thread never sends through a
        closed (or, worse, reused) descriptor."""
        self.stopping.set()
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as waker:
            waker.sendto(b"", self.server.getsockname())
        self.thread.join(timeout=5)
        self.server.close()

    def echo(self, address, payload, timeout_s):
        if address.endswith(".9"):
            return None, "the computer could not be reached (the router said so)"
        with self.lock:
            self.n += 1
            lost = bool(self.drop) and self.n % self.drop == 0
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.settimeout(timeout_s)
            started = time.perf_counter()
            s.sendto(payload if not lost else b"", ("127.0.0.1", 9 if lost else self.server.getsockname()[1]))
            try:
                s.recv(2048)
            except OSError:
                return None, None
            return time.perf_counter() - started, None


def test_the_system_echo_prober_measures_through_the_usual_loop(monkeypatch):
    echo = _UdpEcho(drop=5)
    monkeypatch.setattr(icmp, "system_echo", lambda: echo)
    try:
        [result] = measure_latency([LatencyTarget("icmp", "127.0.0.1")], count=20, interval_s=0.01,
                                   timeout_s=0.3, time_limit_s=5.0, cancel=threading.Event())
        [refused] = measure_latency([LatencyTarget("icmp", "127.0.0.9")], count=3, interval_s=0.01,
                                    timeout_s=0.3, time_limit_s=5.0, cancel=threading.Event())
    finally:
        echo.close()
    assert result.status is Status.OK and result.samples_sent == 20 and result.samples == 16
    assert result.loss_pct == 20.0 and 0 < result.rtt_ms_median < 50
    assert refused.samples == 0 and "could not be reached" in (refused.error or "")
