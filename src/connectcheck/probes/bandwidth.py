"""connectcheck's own bandwidth engine ("adaptive"): several parallel HTTP streams to one
speed server, throughput sampled in short windows, the TCP ramp-up left out, an early stop
once the rate is stable, and hard time and data caps.

It speaks the three protocols of the speed servers connectcheck uses (see :func:`request_path`):
LibreSpeed (``garbage.php`` / ``empty.php``), Cloudflare-style (``__down`` / ``__up``) and
speedtest.net legacy (``random{N}x{N}.jpg`` / ``upload.php`` / ``latency.txt``).

How a measurement goes (one direction):

* Streams: it starts with :data:`START_STREAMS` streams and adds one per window while the
  link looks fast (each stream carries more than :data:`ADD_STREAM_MBPS`), up to
  :data:`FAST_STREAMS`.  On a lossy line each stream is held back by its losses (TCP's rate
  falls with the square root of the loss rate) rather than by the link, and more streams get
  more of it: :data:`GROWTH_WINDOWS` windows after the first byte the streams are doubled, and
  every :data:`GROWTH_WINDOWS` windows after that the rate since the doubling is compared with
  the rate before it; while it grew by :data:`GROWTH` or more the streams are doubled again, up
  to ``streams`` and within the data cap, and while the time left still holds two windows and
  :data:`MIN_STEADY_AFTER_GROWTH_S` of steady span after the new streams (streams added at the
  very end are still in slow start, and the span measured with them is too short to trust).  Once it
  stops growing no stream is added any more; ``streams_reason`` says why the count stopped
  where it did.
  Each stream is one HTTP/1.1 keep-alive connection that asks for the next request as soon as
  the previous one ends; requests are sized to last about :data:`REQUEST_S`.
* Counting: a download counts body bytes as they arrive.  An upload counts what reached the
  server's TCP stack (Linux ``TCP_INFO``: bytes acknowledged, plus selectively acknowledged
  segments; see :func:`tcp_bytes_delivered`), never more than what was sent; where that is not
  available it counts what the socket accepted, with the send buffer kept small
  (:data:`FALLBACK_SNDBUF`) so that buffered bytes do not inflate the rate.
* Windows: every :data:`WINDOW_S` the byte count is sampled (``window_mbps``; window ``i``
  covers ``[i·window_s, (i+1)·window_s)`` from the start of the call).
* Ramp-up: the windows before the steady span are left out of the rate (``ramp_up_s``).  The
  steady span starts at least :data:`MIN_RAMP_S` (and :data:`MIN_RAMP_RTTS` round trips) after
  the first byte and two windows after the last stream was added, and not before the rate over
  the next second reaches :data:`RAMP_FRACTION` of the rate of the last second (a ramp longer
  than the minimum).  A one-second average, not single windows, decides, and a span that would
  start right after a dip starts with it: the bytes held behind a lost packet arrive at once
  when it is resent, and counting that catch-up without the dip before it over-reports by
  several per cent (measured in the lab).
* Stable: once the steady span is :data:`MIN_STEADY_WINDOWS` long and its two halves, and its
  last second, agree with its mean within :data:`STABLE_TOLERANCE`, the test stops early
  (``stop_reason="stable"``).  Otherwise it stops at the time cap, the data cap (every
  request is reserved against the cap before it is sent, so the cap is never exceeded; the
  test ends when what is left is too small for one more request), on cancel, or when every
  stream failed (``"server error"``).  The rate is the bytes of the steady span divided by its
  length; windows after the data cap was used up (streams draining) are left out too.  A
  transfer that ends before the ramp-up is over gets a rough rate from its first byte on; a
  server that refused every stream (HTTP 403, 429...) gets none, whatever it let through.

What a server sends can neither move more than the data cap nor turn a server fault into a
verdict about the line:

* a download reads at most the bytes reserved for its request.  An answer that announces
  more (``Content-Length``) is refused before its body is read (a speedtest.net image a little
  larger than its known size may take the difference from the cap, if it is left); a body
  without a length (chunked, or up to the close) that goes on past the size asked is cut there.
  Either is a :class:`ServerFault`, and that stream asks for nothing more;
* when every stream failed (stalled, sent a wrong length, closed, broke HTTP), or nothing
  arrived for :data:`STALLED_WINDOWS` windows at the end, the server stalled: the rate is
  taken only from a steady span before the stall, and when there was none the result is an
  error, "could not be measured", never a rate of about 0.
"""

from __future__ import annotations

import http.client
import math
import os
import secrets
import socket
import struct
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

from connectcheck import __version__
from connectcheck.core.model import BandwidthResult, SpeedServer, Status
from connectcheck.core.tasks import Deadline, ProgressFn, report
from connectcheck.probes.dns import resolve, seconds_text
from connectcheck.probes.net import describe_error as describe_connection_error
from connectcheck.probes.net import pick_address, tls_context

WINDOW_S = 0.2
MIN_RAMP_S = 0.4
MIN_RAMP_RTTS = 8
RAMP_FRACTION = 0.7
MIN_STEADY_WINDOWS = 8
TAIL_WINDOWS = 5
STABLE_TOLERANCE = 0.05
START_STREAMS = 2
MAX_STREAMS = 16
FAST_STREAMS = 4
ADD_STREAM_MBPS = 3.0
GROWTH_WINDOWS = 3
GROWTH = 0.05
MIN_STEADY_AFTER_GROWTH_S = 0.6
REQUEST_S = 2.0
FIRST_REQUEST_BYTES = 1 << 20
MIN_REQUEST_BYTES = 64 * 1024
MAX_REQUEST_BYTES = 64 << 20
CONNECT_TIMEOUT_S = 3.0
STALL_TIMEOUT_S = 3.0
STALLED_WINDOWS = 8  # nothing at all arrived in the last this many windows: the server stalled
SPEEDTEST_SIZE_SLACK = 1 / 20  # an image may be this much larger than its known size (from the cap)
DNS_TIMEOUT_S = 3.0
FALLBACK_SNDBUF = 256 * 1024
SEND_PIECES = 32  # an upload is handed to the socket in this many pieces (16 KiB…256 KiB)
READ_PIECE = 256 * 1024
MIB = 1 << 20

#: Bytes of the ``random{N}x{N}.jpg`` images of speedtest.net legacy servers, by side N.
SPEEDTEST_IMAGE_BYTES = {
    350: 245_388, 500: 505_544, 750: 1_118_012, 1000: 1_986_284, 1500: 4_468_241,
    2000: 7_907_740, 2500: 12_407_926, 3000: 17_816_816, 3500: 24_262_167, 4000: 31_625_365,
}
_CLOUDFLARE_MAX_BYTES = 25_000_000
_UPLOAD_DATA = memoryview(os.urandom(4 * MIB))  # incompressible, sent as slices

USER_AGENT = f"connectcheck/{__version__}"


# ---------------------------------------------------------------------------------------
# errors in plain words


class HttpStatusError(Exception):
    """The server answered with an HTTP status other than 200."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(f"HTTP {status} {reason}".strip())
        self.status = status
        self.reason = reason


class StalledError(TimeoutError):
    """The server stopped sending (or accepting) data for too long."""


class ServerFault(Exception):
    """The server broke the protocol in a way that would move more data than asked for."""


class LookupFailed(OSError):
    """The server's name could not be resolved (the message says why, in plain words)."""


def describe_error(exc: BaseException, *, timeout_s: float = CONNECT_TIMEOUT_S, stage: str = "http",
                   port: int | None = None) -> str:
    """A plain-words sentence for what went wrong, for the tutor and for support staff.

    HTTP answers and broken transfers are described here; connection-level errors as the
    latency probes describe them (``stage``: "connect", "tls" or "http").
    """
    if isinstance(exc, HttpStatusError):
        if exc.status == 403:
            return "the server refused the test (HTTP 403 Forbidden)"
        if exc.status == 429:
            return "the server is busy and asked us to come back later (HTTP 429 Too Many Requests)"
        return f"the server answered with an error (HTTP {exc.status} {exc.reason})".replace(" )", ")")
    if isinstance(exc, StalledError):
        return f"the server stopped exchanging data for {seconds_text(timeout_s)}"
    if isinstance(exc, (LookupFailed, ServerFault)):
        return str(exc)
    if isinstance(exc, http.client.IncompleteRead) and stage == "http":
        return "the server ended an answer before the length it announced"
    if isinstance(exc, http.client.RemoteDisconnected) and stage == "http":
        return "the server closed the connection in the middle of the test"
    if isinstance(exc, (http.client.BadStatusLine, http.client.LineTooLong, http.client.UnknownProtocol,
                        http.client.UnknownTransferEncoding)) and stage == "http":
        return "the server's answer was not valid HTTP (a wrong length, or not a speed server)"
    if isinstance(exc, http.client.HTTPException) and stage == "http":
        return "the server closed the connection in the middle of the test"
    return describe_connection_error(exc, stage=stage, timeout_s=timeout_s, port=port)


# ---------------------------------------------------------------------------------------
# where things are on each kind of server


def request_path(server: SpeedServer, kind: str, size: int = 0) -> str:
    """The path and query of a ``kind`` request ("download", "upload", "ping") on ``server``.

    ``size`` (download only) must be one the protocol serves: see :func:`download_size`.
    A random query parameter defeats caches, as the servers' own web clients do.
    """
    parts = urlsplit(server.url)
    base = parts.path.rstrip("/")
    bust = secrets.token_hex(6)
    if server.protocol == "speedtest":
        folder = base.rsplit("/", 1)[0] if base.endswith(".php") else base
        upload = base if base.endswith(".php") else f"{folder}/upload.php"
        side = {v: k for k, v in SPEEDTEST_IMAGE_BYTES.items()}.get(size, 350)
        return {"download": f"{folder}/random{side}x{side}.jpg?x={bust}",
                "upload": f"{upload}?x={bust}",
                "ping": f"{folder}/latency.txt?x={bust}"}[kind]
    if server.protocol == "cloudflare":
        return {"download": f"{base}/__down?bytes={size}&r={bust}",
                "upload": f"{base}/__up?r={bust}",
                "ping": f"{base}/__down?bytes=0&r={bust}"}[kind]
    return {"download": f"{base}/garbage.php?ckSize={size // MIB}&r={bust}",
            "upload": f"{base}/empty.php?r={bust}",
            "ping": f"{base}/empty.php?r={bust}"}[kind]


def download_size(protocol: str, want: int, available: int) -> int:
    """The largest download the protocol can serve that is at most ``want`` (at least its
    smallest) and fits in ``available`` bytes; 0 when even the smallest does not fit.

    LibreSpeed serves whole MiB (1…1024), speedtest.net fixed images, Cloudflare any size.
    """
    if protocol == "speedtest":
        sizes = sorted(SPEEDTEST_IMAGE_BYTES.values())
        fits = [s for s in sizes if s <= min(max(want, sizes[0]), available)]
        return fits[-1] if fits else 0
    if protocol == "cloudflare":
        n = min(max(want, MIN_REQUEST_BYTES), available, _CLOUDFLARE_MAX_BYTES)
        return n if n >= MIN_REQUEST_BYTES else 0
    mib = min(max(want // MIB, 1), available // MIB, 1024)
    return mib * MIB if mib >= 1 else 0


def upload_size(want: int, available: int) -> int:
    """Bytes of the next upload request: ``want`` within the limits, 0 when too little is left."""
    n = min(max(want, MIN_REQUEST_BYTES), available, MAX_REQUEST_BYTES)
    return n if n >= MIN_REQUEST_BYTES else 0


# ---------------------------------------------------------------------------------------
# connections


@dataclass(frozen=True)
class Target:
    """A server address, resolved once (bounded in time), with what TLS needs."""

    host: str
    port: int
    tls: bool
    sockaddr: tuple
    family: int
    ca_file: str | None


def resolve_target(url: str, deadline: Deadline, ca_file: str | None = None) -> Target:
    """Resolve the host of ``url`` within :data:`DNS_TIMEOUT_S` and the deadline.

    A resolver that never answers cannot hang the caller (see :mod:`dns`); raises
    :class:`LookupFailed` with the reason.
    """
    parts = urlsplit(url)
    tls = parts.scheme == "https"
    host = parts.hostname or ""
    port = parts.port or (443 if tls else 80)
    found, infos = resolve(host, port, deadline.sub(DNS_TIMEOUT_S))
    if not infos:
        raise LookupFailed(f"the server's name {host} could not be looked up: {found.error}")
    family, sockaddr = pick_address(infos)
    return Target(host, port, tls, sockaddr, family, ca_file)


class Connection(http.client.HTTPConnection):
    """An HTTP/1.1 keep-alive connection to a resolved :class:`Target` (TLS if needed).

    ``on_socket`` is told about every socket as soon as it exists, so that another thread can
    abort a connection in progress (:func:`abort_socket`).  ``connect_s`` is the TCP
    handshake time, a first estimate of the round trip.
    """

    def __init__(self, target: Target, timeout_s: float,
                 on_socket: Callable[[socket.socket], None] | None = None) -> None:
        super().__init__(target.host, target.port, timeout=timeout_s)
        self.target = target
        self.on_socket = on_socket
        self.connect_s: float | None = None
        self.stage = "connect"  # then "tls", then "http": where an error happened

    def connect(self) -> None:
        raw = socket.socket(self.target.family, socket.SOCK_STREAM)
        try:
            self._announce(raw)
            raw.settimeout(self.timeout)
            started = time.monotonic()
            raw.connect(self.target.sockaddr)
            self.connect_s = time.monotonic() - started
            raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            sock = raw
            if self.target.tls:
                self.stage = "tls"
                sock = tls_context(self.target.ca_file).wrap_socket(raw, server_hostname=self.target.host)
                self._announce(sock)
        except BaseException:
            raw.close()
            raise
        self.stage = "http"
        self.sock = sock

    def describe(self, exc: BaseException, timeout_s: float) -> str:
        """:func:`describe_error` for an error on this connection."""
        return describe_error(exc, timeout_s=timeout_s, stage=self.stage, port=self.target.port)

    def _announce(self, sock: socket.socket) -> None:
        if self.on_socket is not None:
            self.on_socket(sock)


_LINGER_RESET = struct.pack("HH" if sys.platform == "win32" else "ii", 1, 0)


def abort_socket(sock: socket.socket | None) -> None:
    """Wake up whatever another thread is doing on ``sock`` (connect, send, receive), and make
    its close a reset that throws away what is still queued to send. A plain close would let
    the system send it all first: after an upload at 1 Mbit/s that kept the line full for 4 s
    after the check had ended (measured in the lab), delaying whatever came next."""
    if sock is None:
        return
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _LINGER_RESET)
    except OSError:
        pass
    try:
        socket.socket.shutdown(sock, socket.SHUT_RDWR)
    except OSError:
        pass


# Offsets in Linux's struct tcp_info: tcpi_snd_mss (u32), tcpi_sacked (u32, segments),
# tcpi_bytes_acked (u64, Linux 4.1+).
_TCPI_SND_MSS, _TCPI_SACKED, _TCPI_BYTES_ACKED = 16, 28, 120


def tcp_bytes_delivered(sock: socket.socket) -> int | None:
    """Bytes of ``sock``'s stream that reached the peer (Linux ``TCP_INFO``); None elsewhere.

    That is what the peer acknowledged, plus the segments it acknowledged selectively (SACK)
    beyond a lost one: those crossed the link too, and counting them keeps the rate from
    jumping when a retransmission fills the hole.  The count starts at 1 (the SYN); callers
    take differences.
    """
    if not sys.platform.startswith("linux") or not hasattr(socket, "TCP_INFO"):
        return None
    try:
        raw = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 256)
    except OSError:
        return None
    if len(raw) < _TCPI_BYTES_ACKED + 8:
        return None
    mss = struct.unpack_from("I", raw, _TCPI_SND_MSS)[0]
    sacked = struct.unpack_from("I", raw, _TCPI_SACKED)[0]
    return struct.unpack_from("Q", raw, _TCPI_BYTES_ACKED)[0] + sacked * mss


def delivered_counting_available() -> bool:
    """Whether :func:`tcp_bytes_delivered` works here (asked of a fresh socket)."""
    with socket.socket() as probe:
        return tcp_bytes_delivered(probe) is not None


def request_headers() -> dict[str, str]:
    """Headers of every request: who we are, no compression (random data), no caches."""
    return {"User-Agent": USER_AGENT, "Accept-Encoding": "identity", "Cache-Control": "no-cache"}


def read_response(conn: Connection, limit: int = 64 * 1024) -> tuple[http.client.HTTPResponse, bytes]:
    """Read a short answer; raises :class:`HttpStatusError` unless it is 200."""
    resp = conn.getresponse()
    body = resp.read(limit)
    if resp.status != 200:
        raise HttpStatusError(resp.status, resp.reason)
    return resp, body


# ---------------------------------------------------------------------------------------
# the rate: ramp-up, steady span, stability


@dataclass(frozen=True)
class SteadyRate:
    """The rate over the steady span: windows ``start`` (inclusive) to ``end`` (exclusive)."""

    start: int
    end: int
    bits_per_s: float
    stable: bool


def steady_rate(times: list[float], totals: list[int], first_data: int, min_start: int,
                end: int | None = None) -> SteadyRate | None:
    """Find the steady span in a series of windows and its rate (see the module notes).

    ``times[i]`` and ``totals[i]`` are the time since the start and the bytes counted at the
    boundary before window ``i`` (``times[0] == 0``); ``first_data`` is the first window with
    data, ``min_start`` the earliest window the steady span may start at, ``end`` where it must
    end (default: the last window).  When the transfer ended before ``min_start``, the rate is
    taken from ``first_data`` on (a rough figure, never called stable).  None without data.
    """
    n = len(times) - 1 if end is None else end

    def span(a: int, b: int) -> float:
        return (totals[b] - totals[a]) / (times[b] - times[a])

    if n <= min_start:
        return SteadyRate(first_data, n, 8 * span(first_data, n), False) if n > first_data else None
    tail = span(max(min_start, n - TAIL_WINDOWS), n)
    floor = RAMP_FRACTION * tail
    last = max(min_start, n - TAIL_WINDOWS)
    start = next((i for i in range(min_start, last + 1) if span(i, min(i + TAIL_WINDOWS, n)) >= floor),
                 min_start)
    dip, catch_up = (1 - STABLE_TOLERANCE) * tail, (1 + STABLE_TOLERANCE) * tail
    if start > first_data + 1 and span(start - 1, start) < dip and span(start, start + 1) > catch_up:
        start -= 1  # the catch-up belongs with the dip before it
    rate = span(start, n)
    stable = False
    if n - start >= MIN_STEADY_WINDOWS and rate > 0:
        mid = start + (n - start) // 2
        stable = (abs(span(start, mid) - span(mid, n)) <= STABLE_TOLERANCE * rate
                  and abs(tail - rate) <= STABLE_TOLERANCE * rate)
    return SteadyRate(start, n, 8 * rate, stable)


# ---------------------------------------------------------------------------------------
# streams


class _Budget:
    """Bytes requests may still reserve; each request reserves its size before it is sent."""

    def __init__(self, limit: int) -> None:
        self._left = max(0, limit)
        self._lock = threading.Lock()
        self.exhausted = False

    def take(self, sizer: Callable[[int], int]) -> int:
        """Reserve ``sizer(bytes left)`` bytes; 0 (and ``exhausted``) when nothing fits."""
        with self._lock:
            n = sizer(self._left)
            if n <= 0:
                self.exhausted = True
                return 0
            self._left -= n
            return n

    def extend(self, n: int) -> bool:
        """Reserve ``n`` more bytes for a request already under way, if they are left."""
        with self._lock:
            if n > self._left:
                return False
            self._left -= n
            return True


class _Job:
    """What the streams of one measurement share."""

    def __init__(self, server: SpeedServer, direction: str, target: Target, budget: _Budget,
                 deadline: Deadline) -> None:
        self.server = server
        self.direction = direction
        self.target = target
        self.budget = budget
        self.deadline = deadline
        self.stopping = threading.Event()
        self.request_bytes = FIRST_REQUEST_BYTES  # the controller adapts it to the rate
        self.count_delivered = direction == "upload" and delivered_counting_available()

    def next_size(self) -> int:
        """Reserve the next request against the data cap; 0 when the cap is used up."""
        want = self.request_bytes
        if self.direction == "download":
            return self.budget.take(lambda left: download_size(self.server.protocol, want, left))
        return self.budget.take(lambda left: upload_size(want, left))


class _Stream:
    """One HTTP connection that asks for the next request until it is told to stop."""

    def __init__(self, job: _Job, index: int) -> None:
        self.job = job
        self.moved = 0  # body bytes received (download) or handed to the socket (upload)
        self.error: Exception | None = None
        self.error_words: str | None = None  # the error in plain words
        self.connect_s: float | None = None
        self.finished = False
        self._conn: Connection | None = None
        self._sock: socket.socket | None = None
        self._delivered_closed = 0  # delivered bytes of connections already closed
        self._delivered_base: int | None = None
        self._delivered_last = 0  # last reading on the open connection (kept if it closes under us)
        self._thread = threading.Thread(target=self._run, daemon=True,
                                        name=f"bandwidth-{job.direction}-{index}")

    def start(self) -> None:
        self._thread.start()

    def join(self, timeout_s: float) -> None:
        self._thread.join(timeout_s)

    def abort(self) -> None:
        abort_socket(self._sock)

    def counted(self) -> int:
        """Bytes that crossed the link so far (see the module notes on counting)."""
        if not self.job.count_delivered:
            return self.moved
        return min(self._delivered_closed + self._delivered_now(), self.moved)

    def _delivered_now(self) -> int:
        """Delivered bytes of the open connection (the last reading if it was closed)."""
        sock, base = self._sock, self._delivered_base
        delivered = tcp_bytes_delivered(sock) if sock is not None and base is not None else None
        if delivered is not None and base is not None:
            self._delivered_last = max(self._delivered_last, delivered - base)
        return self._delivered_last

    def _on_socket(self, sock: socket.socket) -> None:
        self._sock = sock
        if self.job.stopping.is_set():
            abort_socket(sock)

    def _run(self) -> None:
        conn: Connection | None = None
        transfer = self._download if self.job.direction == "download" else self._upload
        try:
            while not self.job.stopping.is_set():
                size = self.job.next_size()
                if not size:
                    break
                conn = conn or self._connect()
                if not transfer(conn, size):
                    conn = self._close(conn)
        except Exception as exc:
            if not self.job.stopping.is_set():
                self.error, self.error_words = exc, self._describe(exc)
        finally:
            self._close(conn)
            self.finished = True

    def _describe(self, exc: Exception) -> str:
        conn = self._conn
        if conn is None:
            return describe_error(exc, stage="connect")
        return conn.describe(exc, STALL_TIMEOUT_S if conn.stage == "http" else conn.timeout)

    def _connect(self) -> Connection:
        timeout = max(0.05, min(CONNECT_TIMEOUT_S, self.job.deadline.remaining()))
        conn = self._conn = Connection(self.job.target, timeout, self._on_socket)
        conn.connect()
        self.connect_s = conn.connect_s
        assert conn.sock is not None
        conn.sock.settimeout(STALL_TIMEOUT_S)
        if self.job.direction == "upload" and not self.job.count_delivered:
            conn.sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, FALLBACK_SNDBUF)
        if self.job.count_delivered:
            self._delivered_base = tcp_bytes_delivered(conn.sock)
        return conn

    def _close(self, conn: Connection | None) -> None:
        if conn is not None:
            self._delivered_closed += self._delivered_now()
            self._delivered_base, self._delivered_last = None, 0
            conn.close()

    def _download(self, conn: Connection, size: int) -> bool:
        """One GET, counting body bytes as they arrive, never more than the ``size`` reserved
        for it; True if the connection can be reused."""
        conn.request("GET", request_path(self.job.server, "download", size), headers=request_headers())
        resp = conn.getresponse()
        if resp.status != 200:
            raise HttpStatusError(resp.status, resp.reason)
        if resp.length is not None and resp.length > size:
            size = self._allow_larger(resp.length, size)
        left = size
        while left > 0 and not self.job.stopping.is_set():
            try:
                chunk = resp.read1(min(READ_PIECE, left))
            except TimeoutError:
                raise StalledError() from None
            if not chunk:
                break
            self.moved += len(chunk)
            left -= len(chunk)
        if self.job.stopping.is_set():
            return False
        if resp.length:  # the body ended early
            raise http.client.IncompleteRead(b"", resp.length)
        if left == 0 and resp.length is None and self._body_goes_on(resp):
            raise ServerFault(f"the server sent more than the {size:,} bytes asked for (it was left)")
        resp.close()  # frees the connection for the next request (keep-alive)
        return not resp.will_close

    def _allow_larger(self, announced: int, size: int) -> int:
        """The bytes an answer announcing ``announced`` for a request of ``size`` may bring;
        raises ServerFault when it may not (it is refused before its body is read)."""
        extra = announced - size
        slack = self.job.server.protocol == "speedtest" and extra <= size * SPEEDTEST_SIZE_SLACK
        if slack and self.job.budget.extend(extra):
            return announced
        raise ServerFault(f"the server announced {announced:,} bytes for a request of {size:,} "
                          "(it was left: more than asked would go past the data cap)")

    def _body_goes_on(self, resp: http.client.HTTPResponse) -> bool:
        """Whether a body without a length has more after the size asked (one byte is read)."""
        try:
            more = resp.read1(1)
        except (TimeoutError, OSError, http.client.HTTPException):
            return True  # it neither ended nor went on: the connection is not reused either way
        self.moved += len(more)
        return bool(more)

    def _upload(self, conn: Connection, size: int) -> bool:
        """One POST of ``size`` random bytes; True if the connection can be reused."""
        conn.putrequest("POST", request_path(self.job.server, "upload"), skip_accept_encoding=True)
        headers = {**request_headers(), "Content-Type": "application/octet-stream",
                   "Content-Length": str(size)}
        for key, value in headers.items():
            conn.putheader(key, value)
        conn.endheaders()
        try:
            self._send_body(conn, size)
        except OSError as exc:
            self._delivered_now()  # before the connection is closed
            raise _refusal_after_failed_send(conn) or exc from None
        if self.job.stopping.is_set():
            return False
        resp, _ = read_response(conn)
        return not resp.will_close

    def _send_body(self, conn: Connection, size: int) -> None:
        sock = conn.sock
        assert sock is not None
        data, offset, left = _UPLOAD_DATA, 0, size
        # requests last about REQUEST_S, so a piece takes a small part of the stall timeout
        piece = min(max(size // SEND_PIECES, 16 * 1024), 256 * 1024)
        while left > 0 and not self.job.stopping.is_set():
            n = min(piece, left, len(data) - offset)
            try:
                sock.sendall(data[offset:offset + n])
            except TimeoutError:
                raise StalledError() from None
            self.moved += n
            left -= n
            offset = (offset + n) % len(data)


def _refusal_after_failed_send(conn: Connection) -> HttpStatusError | None:
    """A server may refuse an upload (403, 429) and close before reading the body: fetch
    that answer if there is one, so the error says why."""
    try:
        assert conn.sock is not None
        conn.sock.settimeout(0.5)
        read_response(conn)
    except HttpStatusError as refusal:
        return refusal
    except Exception:
        return None
    return None


# ---------------------------------------------------------------------------------------
# the controller


class _Controller:
    """Runs the streams of one measurement, samples windows, adapts and decides when to stop."""

    def __init__(self, job: _Job, max_streams: int, progress: ProgressFn | None, time_limit_s: float,
                 start_streams: int = START_STREAMS) -> None:
        self.job = job
        self.deadline = job.deadline
        self.max_streams = max(1, min(max_streams, MAX_STREAMS))
        self.start_streams = max(1, min(start_streams, self.max_streams))
        self.progress = progress
        self.time_limit_s = time_limit_s
        self.streams: list[_Stream] = []
        self.times: list[float] = [0.0]
        self.totals: list[int] = [0]
        self.first_data: int | None = None
        self.last_added = 0  # window index at which the last stream was added
        self.drain_from: int | None = None  # window from which streams ran out of data cap
        self.growth_done = False  # the rate stopped growing with more streams (or cannot grow)
        self.streams_reason: str | None = None
        self.next_growth_check: int | None = None  # window at which growth is judged next
        self.count_before = 0  # streams before the last doubling

    def run(self) -> str:
        """Measure until a stop condition; returns the stop reason."""
        for _ in range(self.start_streams):
            self._add_stream()
        try:
            return self._loop()
        finally:
            self._stop_streams()

    def _loop(self) -> str:
        while True:
            next_tick = self.deadline.start + len(self.times) * WINDOW_S
            if self.deadline.wait(next_tick - time.monotonic()):
                return "cancelled"
            self._sample()
            reason = self._stop_reason()
            if reason:
                return reason
            self._adapt()

    def _sample(self) -> None:
        self.times.append(self.deadline.elapsed())
        self.totals.append(sum(s.counted() for s in self.streams))
        n = len(self.times) - 1
        if self.first_data is None and self.totals[-1] > 0:
            self.first_data = n - 1
        if self.drain_from is None and self.job.budget.exhausted and any(s.finished for s in self.streams):
            self.drain_from = n - 1
        estimate = self.estimate()
        rate = f"{estimate.bits_per_s / 1e6:.1f} Mbit/s" if estimate else "starting"
        report(self.progress, self.job.direction, self.deadline.elapsed() / self.time_limit_s,
               f"{self.job.direction}: {rate}")

    def min_start(self) -> int:
        """The earliest window the steady span may start at (see the module notes)."""
        assert self.first_data is not None
        rtts = [s.connect_s for s in self.streams if s.connect_s is not None]
        ramp_s = max(MIN_RAMP_S, MIN_RAMP_RTTS * min(rtts, default=0.0))
        return max(self.first_data + math.ceil(ramp_s / WINDOW_S), self.last_added + 2)

    def estimate(self) -> SteadyRate | None:
        if self.first_data is None:
            return None
        end = None if self.drain_from is None else max(self.drain_from, self.first_data + 1)
        return steady_rate(self.times, self.totals, self.first_data, self.min_start(), end)

    def stalled_from(self) -> int | None:
        """The window after the last one that brought data, when the server stalled: every
        stream failed, or nothing arrived in the last :data:`STALLED_WINDOWS` windows while the
        data cap was not used up; None otherwise."""
        if self.first_data is None or self.drain_from is not None:
            return None
        n = len(self.totals) - 1
        last = next(i for i in range(n + 1) if self.totals[i] == self.totals[n])
        all_failed = bool(self.streams) and all(s.finished and s.error is not None for s in self.streams)
        if all_failed or n - last >= STALLED_WINDOWS:
            return max(last, self.first_data + 1)
        return None

    def rate_before_stall(self, stall: int) -> SteadyRate | None:
        """The steady span before the stall, if there was one (a rough rate does not count)."""
        assert self.first_data is not None
        min_start = self.min_start()
        if stall - min_start < MIN_STEADY_WINDOWS:
            return None
        return steady_rate(self.times, self.totals, self.first_data, min_start, stall)

    def _stop_reason(self) -> str | None:
        estimate = self.estimate()
        if estimate and estimate.stable and self.drain_from is None and self.growth_done:
            return "stable"
        if all(s.finished for s in self.streams):
            return "data cap" if self.job.budget.exhausted else "server error"
        if self.deadline.expired:
            return "time cap"
        return None

    def failed(self) -> list[_Stream]:
        return [s for s in self.streams if s.error is not None]

    def refused(self) -> bool:
        """Whether the server refused every stream with an HTTP error (e.g. 403, 429)."""
        return all(isinstance(s.error, HttpStatusError) for s in self.streams)

    def _adapt(self) -> None:
        """Size requests to the rate; add a stream while each carries a lot, and double the
        streams while the rate grows with them (see the module notes)."""
        n = len(self.times) - 1
        if self.first_data is None or n < 2:
            return
        live = [s for s in self.streams if not s.finished]
        recent_bps = (self.totals[n] - self.totals[n - 2]) / (self.times[n] - self.times[n - 2])
        per_stream = recent_bps / max(1, len(live))
        self.job.request_bytes = int(min(max(per_stream * REQUEST_S, MIN_REQUEST_BYTES), MAX_REQUEST_BYTES))
        if (len(self.streams) < min(self.max_streams, FAST_STREAMS) and self._may_add()
                and per_stream * 8 / 1e6 >= ADD_STREAM_MBPS):
            self._add_stream()
            self.last_added = n
        self._judge_growth(n)

    def _may_add(self) -> bool:
        return not self.failed() and not self.job.budget.exhausted

    def _judge_growth(self, n: int) -> None:
        """Every GROWTH_WINDOWS windows: double the streams, then keep doubling while the rate
        over the span after a doubling beat the span before it by GROWTH."""
        if self.growth_done:
            return
        assert self.first_data is not None
        g = GROWTH_WINDOWS
        if self.next_growth_check is None:
            self.next_growth_check = self.first_data + g  # the first doubling is the experiment
        if n < self.next_growth_check:
            return
        count = len(self.streams)
        first = self.next_growth_check == self.first_data + g
        self.next_growth_check = n + g
        if not first:
            if self._span_bps(n - g, n) < (1 + GROWTH) * self._span_bps(n - 2 * g, n - g):
                self._growth_stopped(f"the rate stopped growing with more streams ({self.count_before} → "
                                     f"{count})")
                return
        if count >= self.max_streams:
            self._growth_stopped(f"the rate still grew, but {count} streams is the most allowed"
                                 if not first else f"{count} streams is the most allowed")
        elif self.time_limit_s - self.times[n] < 2 * WINDOW_S + MIN_STEADY_AFTER_GROWTH_S:
            self._growth_stopped(f"too little time was left to try more than {count} streams")
        elif not self._may_add():
            self._growth_stopped("the data cap was reached" if self.job.budget.exhausted
                                 else "a stream failed")
        else:
            self.count_before = count
            for _ in range(min(count, self.max_streams - count)):
                self._add_stream()
            self.last_added = n

    def _span_bps(self, a: int, b: int) -> float:
        return (self.totals[b] - self.totals[a]) / max(1e-9, self.times[b] - self.times[a])

    def _growth_stopped(self, reason: str) -> None:
        self.growth_done = True
        self.streams_reason = reason

    def _add_stream(self) -> None:
        stream = _Stream(self.job, len(self.streams))
        self.streams.append(stream)
        stream.start()

    def _stop_streams(self) -> None:
        self.job.stopping.set()
        for stream in self.streams:
            stream.abort()
        give_up = time.monotonic() + 0.5
        for stream in self.streams:
            stream.join(max(0.0, give_up - time.monotonic()))


def measure_bandwidth(server: SpeedServer, direction: str, *, streams: int, time_limit_s: float,
                      data_limit_bytes: int, cancel: threading.Event, progress: ProgressFn | None = None,
                      ca_file: str | None = None, start_streams: int | None = None) -> BandwidthResult:
    """Measure the ``direction`` ("download" or "upload") rate to ``server`` (see the module
    notes); never raises, never takes more than ``time_limit_s`` (+0.5 s), never moves more
    than ``data_limit_bytes`` of payload.  TLS is verified (``ca_file``: trust only that CA).
    ``start_streams`` (default :data:`START_STREAMS`) is how many streams it starts with: more
    where the line is known to be lossy or far, so that the short test is not spent doubling.
    """
    if direction not in ("download", "upload"):
        raise ValueError(f"direction must be 'download' or 'upload', not {direction!r}")
    result = BandwidthResult(direction=direction, engine="adaptive", server=server, window_s=WINDOW_S)
    deadline = Deadline(time_limit_s, cancel)
    report(progress, direction, 0.0, f"{direction}: connecting to {server.host or server.url}")
    try:
        target = resolve_target(server.url, deadline, ca_file)
    except LookupFailed as exc:
        reason = "cancelled" if deadline.cancelled else "server error"
        return _finish(result, None, reason, deadline, str(exc))
    job = _Job(server, direction, target, _Budget(data_limit_bytes), deadline)
    controller = _Controller(job, streams, progress, time_limit_s,
                             START_STREAMS if start_streams is None else start_streams)
    reason = controller.run()
    failed = controller.failed()
    return _finish(result, controller, reason, deadline, failed[0].error_words if failed else None)


def _finish(result: BandwidthResult, ctl: _Controller | None, reason: str, deadline: Deadline,
            words: str | None) -> BandwidthResult:
    """Fill the result from what the controller saw, with status and words for the user."""
    result.stop_reason = reason
    result.duration_s = round(deadline.elapsed(), 3)
    if ctl is not None:
        result.streams = len(ctl.streams)
        result.streams_reason = ctl.streams_reason or (
            f"the test ended ({reason}) while the rate still grew with more streams"
            if not ctl.growth_done and reason != "stable" else None)
        result.bytes_transferred = sum(s.counted() for s in ctl.streams)
        result.window_mbps = [round(8 * (b - a) / (t1 - t0) / 1e6, 3) for a, b, t0, t1 in
                              zip(ctl.totals, ctl.totals[1:], ctl.times, ctl.times[1:], strict=False)]
        stall = ctl.stalled_from() if reason != "cancelled" else None
        estimate = ctl.estimate() if stall is None else ctl.rate_before_stall(stall)
        if estimate is not None:
            result.rate_mbps = round(estimate.bits_per_s / 1e6, 3)
            result.ramp_up_s = round(ctl.times[estimate.start], 3)
        if stall is not None:
            verb = "sending" if result.direction == "download" else "accepting"
            stalled_words = f"the server stopped {verb} data after {ctl.times[stall]:.1f} s"
            words = words or stalled_words
            if estimate is None:  # a server fault is not a verdict about the line
                result.status = Status.ERROR
                result.error = f"could not be measured: {_failures(ctl)}{words}"
                result.stop_reason = "server error"
                return result
    if ctl is not None and ctl.refused():
        result.rate_mbps = result.ramp_up_s = None  # what it let through does not count
    if reason == "cancelled":
        result.status, result.error = Status.CANCELLED, "the test was cancelled"
    elif result.rate_mbps is not None:
        result.status = Status.OK
        if words:
            result.error = f"{_failures(ctl)}{words}" if ctl and ctl.failed() else words
    elif words:
        result.status, result.error = Status.ERROR, words
    elif reason == "data cap":
        result.status, result.error = Status.ERROR, "too little of the data cap was left for this test"
    else:
        verb = "sent" if result.direction == "download" else "accepted"
        result.status = Status.TIMEOUT
        result.error = f"the server {verb} no data within {deadline.seconds:g} s"
    return result


def _failures(ctl: _Controller) -> str:
    """"N of M connections failed: " when some did, else nothing."""
    failed = len(ctl.failed())
    return f"{failed} of {len(ctl.streams)} connections failed: " if failed else ""
