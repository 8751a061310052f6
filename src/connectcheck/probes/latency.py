"""Latency, jitter and loss: round trips to a target by STUN over UDP, TCP connect, HTTP, or ICMP.

* **STUN** (RFC 5389 Binding requests over UDP) takes the path of the lesson's sound and video:
  it is the measurement the verdicts rest on.
* **TCP connect** times the three-way handshake to the platform or the speed server.
* **HTTP** times a small request on a kept-alive connection (the connection itself is not
  timed): what a page or a whiteboard update waits for.
* **ICMP** echo where the system allows it without privileges (a bonus, see :mod:`.icmp`).
* **DNS** queries to a name server (the home router's DNS forwarder, when it ignores pings and
  ICMP is not allowed here): any answer with the query's ID counts, whatever its code.

Every target is driven by one loop in one thread (:class:`_SampleLoop`): it sends a probe every
``interval_s`` on a fixed schedule, waits in a single ``poll``/``select`` for answers, matches
them to the probe they answer, and gives up on a probe after ``timeout_s``.  A late answer
counts as lost; duplicates and packets from strangers are ignored; a lost probe never enters
the RTT statistics.  Round trips are timed with ``time.perf_counter()`` taken next to the
system calls, not after a thread has slept.

The bounded socket operations it uses live in :mod:`.net`, shared with the other probes.
"""

from __future__ import annotations

import contextlib
import errno
import itertools
import math
import os
import socket
import ssl
import struct
import threading
import time
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

from connectcheck.core.model import LatencyResult, Status
from connectcheck.core.tasks import Cancelled, Deadline, ProgressFn, report
from connectcheck.probes import icmp, stun
from connectcheck.probes.base import fill_latency_stats
from connectcheck.probes.dns import resolve, seconds_text
from connectcheck.probes.net import (
    ProtocolError,
    SockAddr,
    connect_tcp,
    describe_error,
    http_request,
    parse_http_head,
    pick_address,
    send_all,
    start_tls,
    wait_sockets,
)

METHODS = ("stun", "tcp", "http", "icmp", "dns")
DEFAULT_STUN_PORT = 3478
DEFAULT_PORTS = {"http": 80, "ws": 80, "https": 443, "wss": 443}

Outcome = tuple[Hashable, float | None]  # a probe's key and when its answer came (None: failed)

_POLL_S = 0.2  # longest wait without looking at the cancel event or the stop request
# Rough bytes on the wire per probe, headers included (IPv4 figures; IPv6 adds 20 a packet).
_UDP_IP_HEADERS = 28
_TCP_HANDSHAKE_BYTES = 6 * 52  # SYN, SYN-ACK, ACK, then FIN, FIN, ACK
_TCP_SEGMENT_HEADERS = 52


# ---------------------------------------------------------------------------------------
# targets


@dataclass(frozen=True)
class LatencyTarget:
    """What to measure and how: ``method`` is "stun", "tcp", "http" or "icmp".

    ``url`` is the address requested by the "http" method; ``label`` is what the user
    configured, used as the result's ``target``.
    """

    method: str
    host: str
    port: int = 0
    url: str | None = None
    label: str = ""
    question: str = "."  # the name a "dns" probe asks for

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise ValueError(f"unknown latency method {self.method!r} (use {', '.join(METHODS)})")
        if self.method == "http" and not self.url:
            raise ValueError("an http latency target needs a url")

    @property
    def name(self) -> str:
        """How the target is shown: the label, else host:port, URL or host."""
        if self.label:
            return self.label
        if self.url:
            return self.url
        return f"{_host_text(self.host)}:{self.port}" if self.port else self.host

    @classmethod
    def from_host_port(cls, method: str, spec: str) -> LatencyTarget:
        """From "host:port", "[v6 address]:port" or "stun:host:port", as users write them.

        For "stun" the port may be left out (3478); "icmp" takes a bare host.
        """
        if method == "icmp":
            return cls(method, spec.strip("[]"), label=spec)
        host, port = split_host_port(spec.removeprefix("stun:"), DEFAULT_STUN_PORT if method == "stun" else 0)
        if not port:
            raise ValueError(f"{spec!r} has no port (write host:port)")
        return cls(method, host, port, label=spec)

    @classmethod
    def from_url(cls, method: str, url: str) -> LatencyTarget:
        """From an http(s):// or ws(s):// URL, for the "tcp", "http" or "icmp" method."""
        parts = urlsplit(url)
        if parts.scheme not in DEFAULT_PORTS or not parts.hostname:
            raise ValueError(f"{url!r} is not an http://, https://, ws:// or wss:// address")
        port = parts.port or DEFAULT_PORTS[parts.scheme]
        if method == "icmp":
            return cls(method, parts.hostname, label=parts.hostname)
        return cls(method, parts.hostname, port, url=url if method == "http" else None, label=url)


def _host_text(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def split_host_port(spec: str, default_port: int) -> tuple[str, int]:
    """Split "host", "host:port", "[v6]" or "[v6]:port"; raises ValueError when malformed."""
    host, port = spec.strip(), ""
    if host.startswith("["):
        host, bracket, rest = host[1:].partition("]")
        port = rest.removeprefix(":")
        if not bracket or (rest and not rest.startswith(":")):
            raise ValueError(f"{spec!r} is not host:port")
    elif host.count(":") == 1:
        host, port = host.split(":")
    if not host or (port and not (port.isdigit() and 0 < int(port) < 65536)):
        raise ValueError(f"{spec!r} is not host:port")
    return host, int(port) if port else default_port


# ---------------------------------------------------------------------------------------
# probers: one method against one address; the sampling loop does the timing and bookkeeping


class _Prober:
    """Sends probes and recognises their answers.

    ``send()`` returns the probe's key and the ``perf_counter()`` time it left (or None when
    no probe could be sent now); ``collect()`` returns ``(key, time of the answer)`` for the
    probes answered, or ``(key, None)`` for probes that failed outright (refused…).  Keys
    that are no longer awaited (duplicates, late answers) are ignored by the loop.
    """

    address: str | None = None
    error: str | None = None  # the last failure, in plain words
    trailing = False  # a probe leaves packets of its own behind (TCP's closing handshake)
    bytes_used: int = 0  # approximate bytes on the wire, packet headers included
    timeout_s: float = 0.0  # how long one probe may take (for error texts)

    def __init__(self) -> None:
        self._ready: list[Outcome] = []  # outcomes known before any waiting (refusals, …)

    def readers(self) -> list[socket.socket]:
        return []

    def writers(self) -> list[socket.socket]:
        return []

    def send(self) -> tuple[Hashable, float] | None:
        raise NotImplementedError

    def collect(self, readable: list[socket.socket], writable: list[socket.socket]) -> list[Outcome]:
        raise NotImplementedError

    def forget(self, key: Hashable) -> None:
        """The loop gave up waiting for this probe."""

    def close(self) -> None:
        """Release the sockets."""

    def _fail(self, key: Hashable, exc: BaseException, stage: str, port: int | None = None) -> None:
        self.error = describe_error(exc, stage=stage, timeout_s=self.timeout_s, port=port)
        self._ready.append((key, None))

    def _take_ready(self) -> list[Outcome]:
        ready, self._ready = self._ready, []
        return ready


class _DatagramProber(_Prober):
    """Probes carried in datagrams on one connected socket, matched to answers by a key."""

    def __init__(self, sock: socket.socket, address: SockAddr) -> None:
        super().__init__()
        self._sock = sock
        self._port = address[1]
        self._headers = _UDP_IP_HEADERS + (20 if sock.family == socket.AF_INET6 else 0)
        self.address = address[0]
        try:
            sock.setblocking(False)
            sock.connect(address)  # the kernel then drops strangers and reports closed ports
        except OSError:
            sock.close()
            raise

    def _packet(self) -> tuple[Hashable, bytes]:
        raise NotImplementedError

    def _match(self, data: bytes) -> Hashable | None:
        raise NotImplementedError

    def _refused_text(self) -> str:
        return "the other side said nothing is listening there"

    def readers(self) -> list[socket.socket]:
        return [self._sock]

    def send(self) -> tuple[Hashable, float] | None:
        key, packet = self._packet()
        sent_at = time.perf_counter()
        try:
            self._sock.send(packet)
        except OSError as exc:
            self._fail(key, exc, "send")
            return key, sent_at
        self.bytes_used += len(packet) + self._headers
        return key, sent_at

    def collect(self, readable: list[socket.socket], writable: list[socket.socket]) -> list[Outcome]:
        done = self._take_ready()
        if self._sock not in readable:
            return done
        while True:
            try:
                data = self._sock.recv(2048)
            except BlockingIOError:
                break
            except (ConnectionRefusedError, ConnectionResetError):  # ICMP "port unreachable"
                self.error = self._refused_text()  # (Windows reports it as a reset)
                continue
            except OSError as exc:
                self.error = describe_error(exc, stage="receive", timeout_s=0)
                break
            received_at = time.perf_counter()
            self.bytes_used += len(data) + self._headers
            key = self._match(data)
            if key is not None:
                done.append((key, received_at))
        return done

    def close(self) -> None:
        self._sock.close()


class _StunProber(_DatagramProber):
    """RFC 5389 Binding requests, each with a fresh random transaction ID."""

    def __init__(self, family: int, address: SockAddr) -> None:
        super().__init__(socket.socket(family, socket.SOCK_DGRAM), address)

    def _packet(self) -> tuple[Hashable, bytes]:
        transaction_id = stun.new_transaction_id()
        return transaction_id, stun.encode_binding_request(transaction_id)

    def _match(self, data: bytes) -> Hashable | None:
        message = stun.parse_message(data)
        if message is None or message.msg_type not in (stun.BINDING_SUCCESS, stun.BINDING_ERROR):
            return None
        if message.msg_type == stun.BINDING_ERROR:  # an answer all the same: the path works
            self.error = f"the STUN server answered with an error ({stun.error_text(message)})"
        return message.transaction_id

    def _refused_text(self) -> str:
        return (f"the STUN server's computer answered that nothing listens on UDP port "
                f"{self._port} (wrong port, or the service is down)")


class _IcmpProber(_DatagramProber):
    """ICMP echo requests; answers matched by sequence number and a random token."""

    def __init__(self, family: int, address: SockAddr) -> None:
        self._ipv6 = family == socket.AF_INET6
        self._token = os.urandom(8)
        self._seq = itertools.count(int.from_bytes(os.urandom(2), "big"))
        super().__init__(icmp.open_socket(family), (address[0], 0, *address[2:]))
        self._headers = 20 if family == socket.AF_INET else 40

    def _packet(self) -> tuple[Hashable, bytes]:
        seq = next(self._seq) & 0xFFFF
        return seq, icmp.encode_echo_request(0, seq, self._token + bytes(24), ipv6=self._ipv6)

    def _match(self, data: bytes) -> Hashable | None:
        reply = icmp.parse_echo_reply(data, ipv6=self._ipv6)
        if reply is None or not reply[1].startswith(self._token):
            return None
        return reply[0]


class _SystemEchoProber(_Prober):
    """ICMP echo through the system's own blocking call (Windows' IcmpSendEcho, see
    :class:`connectcheck.probes.icmp.WindowsEcho`): each probe in a thread of its own, which wakes
    the loop through a socket pair when its answer is in. The round trip is the call's own time,
    taken in its thread, added to the time the probe was sent."""

    def __init__(self, address: SockAddr, echo: icmp.EchoFn, timeout_s: float) -> None:
        super().__init__()
        self.address, self.timeout_s = address[0], timeout_s
        self._echo = echo
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._payload = os.urandom(8) + bytes(24)
        self._keys = itertools.count()
        self._lock = threading.Lock()
        self._answers: list[tuple[Hashable, float | None, str | None]] = []
        self._sent: dict[Hashable, float] = {}
        self._closed = False

    def readers(self) -> list[socket.socket]:
        return [self._wake_r]

    def send(self) -> tuple[Hashable, float] | None:
        key = next(self._keys)
        sent_at = time.perf_counter()
        self._sent[key] = sent_at
        self.bytes_used += len(self._payload) + 8 + 20
        threading.Thread(target=self._one, args=(key,), daemon=True, name="icmp-echo").start()
        return key, sent_at

    def _one(self, key: Hashable) -> None:
        try:
            took, why = self._echo(self.address or "", self._payload, self.timeout_s)
        except Exception as exc:  # the system call failed: the probe fails, the loop goes on
            took, why = None, f"the echo could not be sent ({exc})"
        with self._lock:
            if self._closed:
                return
            self._answers.append((key, took, why))
            with contextlib.suppress(OSError):
                self._wake_w.send(b"x")

    def collect(self, readable: list[socket.socket], writable: list[socket.socket]) -> list[Outcome]:
        with contextlib.suppress(OSError):
            while self._wake_r.recv(512):
                pass
        with self._lock:
            answers, self._answers = self._answers, []
        done = self._take_ready()
        for key, took, why in answers:
            sent_at = self._sent.pop(key, None)
            if sent_at is None:
                continue  # given up on already
            if took is not None:
                self.bytes_used += len(self._payload) + 8 + 20
                done.append((key, sent_at + took))
            elif why is not None:
                self.error = why
                done.append((key, None))
            # nothing back in time: left to the loop's own timeout
        return done

    def forget(self, key: Hashable) -> None:
        self._sent.pop(key, None)

    def close(self) -> None:
        with self._lock:
            self._closed = True
        self._wake_r.close()
        self._wake_w.close()


_DNS_HEADER = struct.Struct("!HHHHHH")  # id, flags, questions, answers, authority, additional
DNS_RECURSION_DESIRED = 0x0100
DNS_RESPONSE = 0x8000


def encode_dns_question(name: str, qtype: int = 1) -> bytes:
    """The question section for ``name`` (class IN; "." is the root)."""
    labels = [part.encode("idna") for part in name.strip(".").split(".") if part]
    if any(not 0 < len(label) < 64 for label in labels):
        raise ValueError(f"{name!r} is not a name DNS can ask for")
    return b"".join(bytes([len(label)]) + label for label in labels) + b"\0" + struct.pack("!HH", qtype, 1)


class _DnsProber(_DatagramProber):
    """DNS queries (type A, or NS for the root), each with a fresh random ID."""

    def __init__(self, family: int, address: SockAddr, question: str) -> None:
        super().__init__(socket.socket(family, socket.SOCK_DGRAM), address)
        self._question = encode_dns_question(question, 2 if question.strip(".") == "" else 1)

    def _packet(self) -> tuple[Hashable, bytes]:
        ident = int.from_bytes(os.urandom(2), "big")
        return ident, _DNS_HEADER.pack(ident, DNS_RECURSION_DESIRED, 1, 0, 0, 0) + self._question

    def _match(self, data: bytes) -> Hashable | None:
        if len(data) < _DNS_HEADER.size:
            return None
        ident, flags = struct.unpack_from("!HH", data)
        return ident if flags & DNS_RESPONSE else None

    def _refused_text(self) -> str:
        return f"nothing answers DNS queries there (UDP port {self._port} is closed)"


class _TcpConnectProber(_Prober):
    """Times TCP three-way handshakes: one new socket per probe, closed at once."""

    trailing = True

    def __init__(self, family: int, address: SockAddr) -> None:
        super().__init__()
        self._family = family
        self._target = address
        self._pending: set[socket.socket] = set()
        self.address = address[0]

    def writers(self) -> list[socket.socket]:
        return list(self._pending)

    def send(self) -> tuple[Hashable, float] | None:
        sock = socket.socket(self._family, socket.SOCK_STREAM)
        sock.setblocking(False)
        sent_at = time.perf_counter()
        err = sock.connect_ex(self._target)
        self.bytes_used += _TCP_HANDSHAKE_BYTES
        if err == 0:  # connected at once (can happen on loopback)
            self._ready.append((sock, time.perf_counter()))
            sock.close()
        elif err in (errno.EINPROGRESS, errno.EWOULDBLOCK, errno.EALREADY):
            self._pending.add(sock)
        else:
            sock.close()
            self._fail(sock, OSError(err, os.strerror(err)), "connect", self._target[1])
        return sock, sent_at

    def collect(self, readable: list[socket.socket], writable: list[socket.socket]) -> list[Outcome]:
        answered_at = time.perf_counter()
        done = self._take_ready()
        for sock in writable:
            if sock not in self._pending:
                continue
            self._pending.discard(sock)
            err = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            sock.close()
            if err:
                self._fail(sock, OSError(err, os.strerror(err)), "connect", self._target[1])
                done.extend(self._take_ready())
            else:
                done.append((sock, answered_at))
        return done

    def forget(self, key: Hashable) -> None:
        if isinstance(key, socket.socket) and key in self._pending:
            self._pending.discard(key)
            key.close()

    def close(self) -> None:
        for sock in self._pending:
            sock.close()
        self._pending.clear()


class _OpenFailed(Exception):
    """A connection for HTTP probes could not be opened; the text says why in plain words."""


class _HttpProber(_Prober):
    """Times small HEAD requests on one kept-alive HTTP(S) connection, one at a time.

    Opening the connection (TCP and TLS) is not timed; when the server closes it, or a
    request goes unanswered, the next probe opens a new one first.
    """

    def __init__(self, url: str, family: int, address: SockAddr, deadline: Deadline,
                 timeout_s: float, ca_file: str | None) -> None:
        super().__init__()
        parts = urlsplit(url)
        self._tls = parts.scheme in ("https", "wss")
        self._server_name = parts.hostname or ""
        self._family = family
        self._target = address
        self._deadline = deadline
        self._timeout_s = self.timeout_s = timeout_s
        self._ca_file = ca_file
        self._request = http_request("HEAD", url, [("Connection", "keep-alive")])
        self._conn: socket.socket | None = None
        self._busy: int | None = None
        self._buffer = b""
        self._first_byte_at: float | None = None
        self._keys = itertools.count()
        self.address = address[0]

    def readers(self) -> list[socket.socket]:
        return [self._conn] if self._conn is not None and self._busy is not None else []

    def send(self) -> tuple[Hashable, float] | None:
        if self._busy is not None:
            return None
        key = next(self._keys)
        try:
            if not self._alive():
                self._open()
            sent_at = time.perf_counter()
            send_all(self._conn, self._request, self._deadline.sub(self._timeout_s))
        except Cancelled:
            return None
        except _OpenFailed as exc:
            self.error = str(exc)
            self._ready.append((key, None))
            return key, time.perf_counter()
        except OSError as exc:
            self._drop()
            self._fail(key, exc, "send")
            return key, time.perf_counter()
        self.bytes_used += len(self._request) + _TCP_SEGMENT_HEADERS
        self._busy, self._buffer, self._first_byte_at = key, b"", None
        return key, sent_at

    def _open(self) -> None:
        """Open a new connection (not timed); raises _OpenFailed with the reason in words."""
        self._drop()
        deadline = self._deadline.sub(self._timeout_s)
        self.bytes_used += _TCP_HANDSHAKE_BYTES
        try:
            conn = connect_tcp(self._family, self._target, deadline)
        except OSError as exc:
            raise _OpenFailed(describe_error(exc, stage="connect", timeout_s=self._timeout_s,
                                             port=self._target[1])) from exc
        if self._tls:
            try:
                conn = start_tls(conn, self._server_name, deadline, self._ca_file)
            except OSError as exc:
                raise _OpenFailed(describe_error(exc, stage="tls", timeout_s=self._timeout_s)) from exc
            self.bytes_used += 6000  # a typical handshake with a certificate chain
        self._conn = conn

    def _alive(self) -> bool:
        """Whether the idle connection is still open (servers close idle ones)."""
        if self._conn is None:
            return False
        if not wait_sockets([self._conn], [], 0)[0]:
            return True
        try:
            if self._conn.recv(4096) == b"":
                self._drop()
        except (BlockingIOError, ssl.SSLWantReadError, ssl.SSLWantWriteError):
            return True  # e.g. a TLS 1.3 session ticket: no data, still open
        except OSError:
            self._drop()
        else:  # bytes nobody asked for: the connection cannot be trusted any more
            self._drop()
        return False

    def collect(self, readable: list[socket.socket], writable: list[socket.socket]) -> list[Outcome]:
        done = self._take_ready()
        conn = self._conn
        if conn is None or self._busy is None:
            return done
        if conn not in readable and not (isinstance(conn, ssl.SSLSocket) and conn.pending()):
            return done
        now = time.perf_counter()
        try:
            while b"\r\n\r\n" not in self._buffer:
                chunk = conn.recv(65536)
                if not chunk:
                    raise ProtocolError("the server closed the connection without answering")
                self._first_byte_at = self._first_byte_at or now
                self._buffer += chunk
                self.bytes_used += len(chunk) + _TCP_SEGMENT_HEADERS
                if len(self._buffer) > 65536:
                    raise ProtocolError("the server answered, but not in HTTP")
            head = parse_http_head(self._buffer.partition(b"\r\n\r\n")[0])
        except (BlockingIOError, ssl.SSLWantReadError, ssl.SSLWantWriteError):
            return done  # the rest of the answer is still on its way
        except (OSError, ProtocolError) as exc:
            key, self._busy = self._busy, None
            self._drop()
            self._fail(key, exc, "http")
            return done + self._take_ready()
        done.append((self._busy, self._first_byte_at))
        self._busy = None
        if head.headers.get("connection", "").lower() == "close":
            self._drop()
        return done

    def forget(self, key: Hashable) -> None:
        if key == self._busy:
            self._busy = None
            self._drop()  # the answer may still come: this connection is no longer usable

    def _drop(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def close(self) -> None:
        self._drop()



# ---------------------------------------------------------------------------------------
# the sampling loop


@dataclass
class _Probe:
    sent_mono: float  # time.monotonic() when sent, as handed to callers
    sent_perf: float  # time.perf_counter() when sent, for the round trip
    rtt_ms: float | None = None
    done: bool = False  # answered, or given up on


class _SampleLoop:
    """Sends probes on a fixed schedule and waits for answers, all in one thread.

    Runs until ``count`` probes are sent and settled (``count=None``: until :meth:`finish`),
    or until the deadline ends or is cancelled.  Probes still awaited at the end are left out
    of the samples: they were neither answered nor lost yet.
    """

    def __init__(self, prober: _Prober, *, interval_s: float, timeout_s: float, count: int | None,
                 deadline: Deadline) -> None:
        self.prober = prober
        self.deadline = deadline
        self._interval_s = interval_s
        self._timeout_s = timeout_s
        self._count = count
        self._probes: list[_Probe] = []
        self._outstanding: dict[Hashable, _Probe] = {}  # in the order sent
        self._lock = threading.Lock()
        self._sending = count is None or count > 0
        self._grace_end: float | None = None
        self.cut_short = False  # the deadline ended it before every probe was sent

    @property
    def sent(self) -> int:
        return len(self._probes)

    def samples(self) -> list[tuple[float, float | None]]:
        """``(monotonic time sent, rtt_ms or None if lost)`` of the settled probes, in the order
        sent, up to the first one still awaited: each snapshot extends the one before."""
        with self._lock:
            settled = itertools.takewhile(lambda p: p.done, self._probes)
            return [(p.sent_mono, p.rtt_ms) for p in settled]

    def finish(self, grace_s: float) -> None:
        """Stop sending; wait at most ``grace_s`` more for the answers still expected."""
        self._sending = False
        self._grace_end = time.perf_counter() + grace_s

    def run(self) -> None:
        next_send = time.perf_counter()
        try:
            while not self.deadline.done:
                now = time.perf_counter()
                if self._grace_end is not None and now >= self._grace_end:
                    break
                if self._sending and now >= next_send:
                    self._send()
                    next_send += self._interval_s
                    if next_send < now:  # fell behind (a slow connect): do not send in a burst
                        next_send = now + self._interval_s
                if not self._sending and not self._outstanding:
                    break
                readable, writable = wait_sockets(self.prober.readers(), self.prober.writers(),
                                                  self._wait_s(next_send), self.deadline.cancel)
                for key, answered_at in self.prober.collect(readable, writable):
                    self._settle(key, answered_at)
                self._expire(time.perf_counter())
            self.cut_short = self._sending
        finally:
            self.prober.close()
            with self._lock:
                self._probes = [p for p in self._probes if p.done]

    def _wait_s(self, next_send: float) -> float:
        now = time.perf_counter()
        until = [now + _POLL_S, now + self.deadline.remaining()]
        if self._sending:
            until.append(next_send)
        if self._outstanding:
            until.append(next(iter(self._outstanding.values())).sent_perf + self._timeout_s)
        if self._grace_end is not None:
            until.append(self._grace_end)
        return max(0.0, min(until) - now)

    def _send(self) -> None:
        sent = self.prober.send()
        if sent is None:
            return
        key, sent_at = sent
        probe = _Probe(time.monotonic() - (time.perf_counter() - sent_at), sent_at)
        with self._lock:
            self._probes.append(probe)
        self._outstanding[key] = probe
        if self._count is not None and len(self._probes) >= self._count:
            self._sending = False

    def _settle(self, key: Hashable, answered_at: float | None) -> None:
        probe = self._outstanding.pop(key, None)
        if probe is None:  # a duplicate, a late answer, or not ours
            return
        rtt_s = None if answered_at is None else answered_at - probe.sent_perf
        with self._lock:
            probe.rtt_ms = rtt_s * 1000.0 if rtt_s is not None and rtt_s <= self._timeout_s else None
            probe.done = True

    def _expire(self, now: float) -> None:
        while self._outstanding:
            key, probe = next(iter(self._outstanding.items()))
            if now - probe.sent_perf <= self._timeout_s:
                break
            del self._outstanding[key]
            self.prober.forget(key)
            with self._lock:
                probe.done = True  # lost: rtt_ms stays None


# ---------------------------------------------------------------------------------------
# opening a target


class _SetupFailed(Exception):
    def __init__(self, status: Status, text: str) -> None:
        super().__init__(text)
        self.status = status


def _open_prober(target: LatencyTarget, deadline: Deadline, timeout_s: float,
                 ca_file: str | None) -> _Prober:
    """Look the target up and open the prober for its method; raises _SetupFailed."""
    found, infos = resolve(target.host, target.port or None, deadline.sub(timeout_s))
    if found.status is not Status.OK:
        raise _SetupFailed(found.status, f"could not look up {target.host}: {found.error}")
    family, address = pick_address(infos)
    try:
        if target.method == "stun":
            return _StunProber(family, address)
        if target.method == "tcp":
            return _TcpConnectProber(family, address)
        if target.method == "http":
            return _HttpProber(target.url or "", family, address, deadline, timeout_s, ca_file)
        if target.method == "dns":
            return _DnsProber(family, address, target.question)
        echo = icmp.system_echo()
        if echo is not None:  # Windows: no ICMP socket, but the IP Helper's echo (IPv4)
            if family != socket.AF_INET:
                raise icmp.IcmpUnavailable(icmp.WINDOWS_UNAVAILABLE_TEXT)
            return _SystemEchoProber(address, echo.echo, timeout_s)
        return _IcmpProber(family, address)
    except icmp.IcmpUnavailable as exc:
        raise _SetupFailed(Status.UNAVAILABLE, str(exc)) from exc
    except OSError as exc:
        raise _SetupFailed(Status.ERROR, describe_error(exc, stage="send", timeout_s=timeout_s)) from exc


def _settle_status(result: LatencyResult, loop: _SampleLoop, count: int, timeout_s: float) -> None:
    """Status and error of a finished measurement (its statistics already filled)."""
    if loop.deadline.cancelled:
        result.status, result.error = Status.CANCELLED, f"cancelled after {result.samples_sent} probes"
    elif result.samples_sent and not result.samples:
        result.status = Status.ERROR if loop.prober.error else Status.TIMEOUT
        result.error = loop.prober.error or (
            f"no answer to any of the {result.samples_sent} probes (each was given "
            f"{seconds_text(timeout_s)})")
    elif not result.samples_sent:
        result.status = Status.TIMEOUT
        result.error = loop.prober.error or "the time limit ran out before a probe could be sent"
    elif loop.cut_short:
        result.status = Status.TIMEOUT
        result.error = (f"the time limit ran out after {result.samples_sent} of {count} probes; "
                        "the figures come from those")


class _TargetRun:
    """Measures one target in a thread of its own."""

    def __init__(self, target: LatencyTarget, *, count: int, interval_s: float, timeout_s: float,
                 deadline: Deadline, ca_file: str | None) -> None:
        self.target = target
        self.result = LatencyResult(target=target.name, method=target.method)
        self.loop: _SampleLoop | None = None
        self._count = count
        self._interval_s = interval_s
        self._timeout_s = timeout_s
        self._deadline = deadline
        self._ca_file = ca_file
        self.thread = threading.Thread(target=self._run, name=f"latency {target.name}", daemon=True)

    @property
    def sent(self) -> int:
        return self.loop.sent if self.loop else 0

    def _run(self) -> None:
        start = time.monotonic()
        try:
            self._measure()
        except Exception as exc:  # a bug must cost one target, not the whole check
            self.result.status = Status.ERROR
            self.result.error = f"the measurement failed unexpectedly ({type(exc).__name__}: {exc})"
        self.result.duration_s = time.monotonic() - start

    def _measure(self) -> None:
        try:
            prober = _open_prober(self.target, self._deadline, self._timeout_s, self._ca_file)
        except _SetupFailed as exc:
            self.result.status, self.result.error = exc.status, str(exc)
            return
        self.result.address = prober.address
        self.loop = _SampleLoop(prober, interval_s=self._interval_s, timeout_s=self._timeout_s,
                                count=self._count, deadline=self._deadline)
        self.loop.run()
        fill_latency_stats(self.result, [rtt for _, rtt in self.loop.samples()])
        _settle_status(self.result, self.loop, self._count, self._timeout_s)

    def outcome(self) -> LatencyResult:
        """The result; if the thread is somehow still busy, what it measured so far."""
        if not self.thread.is_alive():
            return self.result
        partial = LatencyResult(target=self.result.target, method=self.result.method,
                                address=self.result.address)
        fill_latency_stats(partial, [rtt for _, rtt in self.loop.samples()] if self.loop else [])
        partial.status, partial.error = Status.TIMEOUT, "the measurement did not finish in time"
        return partial


def measure_latency(
    targets: Sequence[LatencyTarget],
    *,
    count: int,
    interval_s: float,
    timeout_s: float,
    time_limit_s: float,
    cancel: threading.Event,
    progress: ProgressFn | None = None,
    ca_file: str | None = None,
) -> list[LatencyResult]:
    """Send ``count`` probes to every target (all targets at once) and sum them up.

    A probe is sent every ``interval_s`` and counts as lost when its answer takes longer than
    ``timeout_s``.  Returns one :class:`LatencyResult` per target, in order, within
    ``time_limit_s`` (plus a fraction of a second) whatever the network does; cancel ends it
    within a fraction of a second.  Failures are in each result's ``status`` and ``error``.
    Progress is reported from the calling thread.
    """
    deadline = Deadline(time_limit_s, cancel)
    runs = [_TargetRun(t, count=count, interval_s=interval_s, timeout_s=timeout_s,
                       deadline=deadline, ca_file=ca_file) for t in targets]
    for run in runs:
        run.thread.start()
    planned = max(1, count * len(runs))
    give_up_at = deadline.end + 0.5
    report(progress, "latency", 0.0, "measuring round trips")
    while any(run.thread.is_alive() for run in runs) and time.monotonic() < give_up_at:
        next(run for run in runs if run.thread.is_alive()).thread.join(0.1)
        sent = sum(min(run.sent, count) for run in runs)
        report(progress, "latency", sent / planned, f"{sent} of {planned} test messages sent")
    report(progress, "latency", 1.0, "round trips measured")
    return [run.outcome() for run in runs]


# ---------------------------------------------------------------------------------------
# idle latency, one probe at a time
#
# On a real link (a queue, Wi-Fi) packets keep their order: a probe sent while an earlier one is
# held by a delay spike waits behind it.  Probes sent in parallel to several targets, or close
# together to one, therefore measure their own queueing as well as the line (on a 80 ms / 40 ms
# jitter line, nine targets at once doubled the median).  So the idle figures are taken one
# probe at a time across all targets: the next probe leaves :data:`ONE_AT_A_TIME_GAP_S` after
# the answer to the previous one (or its time-out), whatever the target.

#: Pause between an answer and the next probe (lets the answer's own packets clear the line).
ONE_AT_A_TIME_GAP_S = 0.005
#: Pause after a probe that leaves packets behind, before its primary's RTT is known (and a
#: quarter of the most it may be): half the primary's median RTT.
TRAILING_GAP_S = 0.05
#: After every this many probes to the primary target, one probe to one of the other targets.
PRIMARY_RUN = 2
#: Probes each other target gets at most: a share of ``count``, never fewer than this.
MIN_OTHER_PROBES = 3
#: A target whose first probes all failed is left out of the rest of the schedule.
GIVE_UP_AFTER = 3
#: Once the primary answered this often, a probe is given ``TIMEOUT_RTTS`` × the median round
#: trip (at least ``MIN_PROBE_TIMEOUT_S``, at most the configured time-out) before counting as lost.
TIMEOUT_AFTER_ANSWERS = 5
TIMEOUT_RTTS = 3.0
MIN_PROBE_TIMEOUT_S = 0.3
#: Fewer answers than this from a target in its time: its figures are partial.
MIN_SAMPLES = 5


def probe_schedule(targets: int, count: int) -> list[int]:
    """The order of one-at-a-time probes over ``targets`` targets, target 0 being the primary.

    The primary gets ``count`` probes and leads; after every :data:`PRIMARY_RUN` of them comes one
    probe to the next other target in turn, each other target getting at most ``max(MIN_OTHER_PROBES,
    count // 4)``.  Cut anywhere (the time runs out), it still holds a mix with most probes on the
    primary.
    """
    if targets <= 0 or count <= 0:
        return []
    others = {i: max(MIN_OTHER_PROBES, count // 4) for i in range(1, targets)}
    order: list[int] = []
    primary_left, turn = count, 0
    while primary_left or any(others.values()):
        for _ in range(PRIMARY_RUN):
            if primary_left:
                order.append(0)
                primary_left -= 1
        waiting = [i for i in sorted(others) if others[i]]
        if waiting:
            pick = waiting[turn % len(waiting)]
            turn += 1
            others[pick] -= 1
            order.append(pick)
    return order


class _OneAtATime:
    """Runs a probe schedule over several probers with never more than one probe in flight."""

    def __init__(self, probers: list[_Prober | None], schedule: list[int], *, timeout_s: float,
                 deadline: Deadline, gap_s: float = ONE_AT_A_TIME_GAP_S,
                 expected_rtt_ms: float | None = None) -> None:
        self.probers = probers
        self.expected_rtt_ms = expected_rtt_ms
        self.schedule = schedule
        self.timeout_s = timeout_s
        self.deadline = deadline
        self.gap_s = gap_s
        self.samples: list[list[float | None]] = [[] for _ in probers]
        self.in_flight = 0  # probes sent and not yet settled (never more than one)
        self.in_flight_max = 0
        self.cut_short = False
        self.sent = 0

    def _probe_timeout(self) -> float:
        answered = sorted(r for r in self.samples[0] if r is not None)
        if len(answered) < TIMEOUT_AFTER_ANSWERS:
            if self.expected_rtt_ms is None:
                return self.timeout_s
            median_s = self.expected_rtt_ms / 1000.0
        else:
            median_s = answered[len(answered) // 2] / 1000.0
        return min(self.timeout_s, max(MIN_PROBE_TIMEOUT_S, TIMEOUT_RTTS * median_s))

    def _gap_after(self, prober: _Prober) -> float:
        """The pause before the next probe: longer after a probe that leaves packets behind
        (a TCP connect's closing handshake), so that the next one does not queue behind them."""
        if not prober.trailing:
            return self.gap_s
        answered = sorted(r for r in self.samples[0] if r is not None)
        median_s = answered[len(answered) // 2] / 1000.0 if answered else TRAILING_GAP_S
        return max(self.gap_s, min(TRAILING_GAP_S * 4, median_s / 2))

    def _given_up(self, index: int) -> bool:
        done = self.samples[index]
        return len(done) >= GIVE_UP_AFTER and not any(r is not None for r in done)

    def run(self) -> None:
        try:
            for index in self.schedule:
                if self.deadline.done:
                    self.cut_short = True
                    break
                prober = self.probers[index]
                if prober is None or self._given_up(index):
                    continue
                rtt = self._one(prober)
                if rtt is not False:
                    self.samples[index].append(rtt)
                self.deadline.wait(self._gap_after(prober))
        finally:
            for prober in self.probers:
                if prober is not None:
                    prober.close()

    def _one(self, prober: _Prober) -> float | None | bool:
        """Send one probe and wait for it: its RTT in ms, None if lost, False if none was sent
        (or the deadline ended it before it settled)."""
        sent = prober.send()
        if sent is None:
            return False
        self.sent += 1
        self.in_flight += 1
        self.in_flight_max = max(self.in_flight_max, self.in_flight)
        try:
            return self._wait_for(prober, *sent)
        finally:
            self.in_flight -= 1

    def _wait_for(self, prober: _Prober, key: Hashable, sent_at: float) -> float | None | bool:
        give_up = sent_at + self._probe_timeout()
        readable: list[socket.socket] = []
        writable: list[socket.socket] = []
        while True:
            for got, answered_at in prober.collect(readable, writable):  # first: failures known at once
                if got == key:
                    if answered_at is None:
                        return None
                    rtt_s = answered_at - sent_at
                    return rtt_s * 1000.0 if rtt_s <= self.timeout_s else None
            now = time.perf_counter()
            if self.deadline.done:
                prober.forget(key)
                return False
            if now >= give_up:
                prober.forget(key)
                return None
            wait = min(give_up - now, self.deadline.remaining(), _POLL_S)
            readable, writable = wait_sockets(prober.readers(), prober.writers(), wait, self.deadline.cancel)


def measure_latency_one_at_a_time(
    targets: Sequence[LatencyTarget],
    *,
    count: int,
    timeout_s: float,
    time_limit_s: float,
    cancel: threading.Event,
    progress: ProgressFn | None = None,
    ca_file: str | None = None,
    gap_s: float = ONE_AT_A_TIME_GAP_S,
    expected_rtt_ms: float | None = None,
) -> list[LatencyResult]:
    """Idle round trips to ``targets`` one probe at a time (see the notes above), target 0 being
    the primary (it gets ``count`` probes, the others a share, :func:`probe_schedule`), all within
    ``time_limit_s``; cancel ends it within a fraction of a second.  ``expected_rtt_ms`` (what an
    earlier measurement of the primary found) sets the probes' time-out until the primary's own
    answers can (:data:`TIMEOUT_RTTS` × it), so that an early loss does not cost the whole
    ``timeout_s`` on a short budget.  Returns one
    :class:`LatencyResult` per target, in order; a target that got fewer than
    :data:`MIN_SAMPLES` answers before the time ran out says so in its status and error.
    """
    deadline = Deadline(time_limit_s, cancel)
    results = [LatencyResult(target=t.name, method=t.method) for t in targets]
    probers: list[_Prober | None] = []
    started = time.monotonic()
    for target, result in zip(targets, results, strict=True):
        try:
            prober = _open_prober(target, deadline, min(timeout_s, 2.0), ca_file)
        except _SetupFailed as exc:
            result.status, result.error = exc.status, str(exc)
            probers.append(None)
            continue
        result.address = prober.address
        probers.append(prober)
    schedule = probe_schedule(len(targets), count)
    runner = _OneAtATime(probers, schedule, timeout_s=timeout_s, deadline=deadline, gap_s=gap_s,
                         expected_rtt_ms=expected_rtt_ms)
    report(progress, "latency", 0.0, "measuring round trips, one at a time")
    worker = threading.Thread(target=runner.run, name="latency one at a time", daemon=True)
    worker.start()
    while worker.is_alive() and time.monotonic() < deadline.end + 0.5:
        worker.join(0.1)
        report(progress, "latency", min(deadline.elapsed() / max(time_limit_s, 0.001),
                                        runner.sent / max(1, len(schedule))), f"{runner.sent} probes sent")
    report(progress, "latency", 1.0, "round trips measured")
    duration = time.monotonic() - started
    for prober, samples, result in zip(probers, runner.samples, results, strict=True):
        if prober is None:
            continue
        fill_latency_stats(result, list(samples))
        result.duration_s = duration
        if deadline.cancelled:
            result.status, result.error = Status.CANCELLED, f"cancelled after {result.samples_sent} probes"
        elif result.samples_sent and not result.samples:
            result.status = Status.ERROR if prober.error else Status.TIMEOUT
            result.error = prober.error or (f"no answer to any of the {result.samples_sent} probes (each "
                                            f"was given up to {seconds_text(timeout_s)})")
        elif result.samples < MIN_SAMPLES and runner.cut_short:
            result.status = Status.TIMEOUT
            result.error = (f"the time limit ran out after {result.samples_sent} probes; the figures "
                            "come from those")
        elif not result.samples_sent:
            result.status = Status.TIMEOUT
            result.error = prober.error or "the time limit ran out before a probe could be sent"
    return results


# ---------------------------------------------------------------------------------------
# continuous sampling


class LatencySampler:
    """Probes one target continuously until stopped: for latency under load and lesson mode.

    ``start()`` returns at once (the name is looked up in the sampler's thread).  ``stop()``
    stops sending, waits at most ``min(timeout_s, 1 s)`` for answers still expected, and
    returns every settled probe as ``(time.monotonic() when sent, rtt_ms or None if lost)``.
    ``bytes_used`` is approximate: the packets' bytes with their IP/UDP/TCP headers, plus an
    estimate of the handshakes.  ``error`` says in plain words why probes failed, if they did.
    """

    def __init__(self, target: LatencyTarget, *, interval_s: float, timeout_s: float,
                 ca_file: str | None = None, grace_s: float | None = None) -> None:
        self.target = target
        self.interval_s = interval_s
        self.timeout_s = timeout_s
        self.max_grace_s = 1.0 if grace_s is None else grace_s
        self.ca_file = ca_file
        self.setup_error: str | None = None
        self._abort = threading.Event()
        self._finishing = False
        self._loop: _SampleLoop | None = None
        self._thread = threading.Thread(target=self._run, name=f"sampler {target.name}", daemon=True)

    @property
    def _grace_s(self) -> float:
        return min(self.timeout_s, self.max_grace_s)

    @property
    def bytes_used(self) -> int:
        return self._loop.prober.bytes_used if self._loop else 0

    @property
    def error(self) -> str | None:
        return self.setup_error or (self._loop.prober.error if self._loop else None)

    @property
    def address(self) -> str | None:
        return self._loop.prober.address if self._loop else None

    def start(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        deadline = Deadline(math.inf, self._abort)
        try:
            prober = _open_prober(self.target, deadline, self.timeout_s, self.ca_file)
        except _SetupFailed as exc:
            self.setup_error = str(exc)
            return
        loop = _SampleLoop(prober, interval_s=self.interval_s, timeout_s=self.timeout_s, count=None,
                           deadline=deadline)
        self._loop = loop
        if self._finishing:  # stop() came while the name was being looked up
            loop.finish(self._grace_s)
        loop.run()

    def samples(self) -> list[tuple[float, float | None]]:
        """The probes settled so far (answered or lost), in the order sent, up to the first one
        still awaited (so each snapshot extends the previous one)."""
        return self._loop.samples() if self._loop else []

    def stop(self) -> list[tuple[float, float | None]]:
        """Stop probing (within about a second) and return the samples."""
        self._finishing = True
        if self._thread.ident is None:
            return []
        if self._loop is None:
            self._abort.set()
        else:
            self._loop.finish(self._grace_s)
        self._thread.join(self._grace_s + 0.5)
        if self._thread.is_alive():
            self._abort.set()
            self._thread.join(1.0)
        return self.samples()
