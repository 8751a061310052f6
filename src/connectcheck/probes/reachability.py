"""Can the lesson platform be reached?  Each endpoint checked step by step, in plain words.

* ``https://`` and ``http://``: DNS, TCP connect, TLS (certificate verified), and an HTTP
  request.  Any HTTP status means the server is there; what a 4xx or 5xx means is said.
* ``wss://`` and ``ws://``: the same, with a WebSocket upgrade as the request (101 and the
  right ``Sec-WebSocket-Accept`` = the whiteboard's live connection works).
* ``stun:host:port``: DNS and a few STUN Binding requests over UDP.  When UDP gets no answer
  while TCP connections work, the result's ``note`` says that UDP looks blocked and what that
  means for the lesson (media falls back to a relay over TCP).

Every step is recorded (:class:`ReachStep`: name, status, duration, detail) so support staff
can see where it stopped.  All endpoints are checked at once, each step bounded by
``timeout_s`` and the whole by ``time_limit_s``.
"""

from __future__ import annotations

import base64
import hashlib
import os
import socket
import ssl
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any
from urllib.parse import urlsplit

from connectcheck.core.model import ReachabilityResult, ReachStep, Status
from connectcheck.core.tasks import Cancelled, Deadline, ProgressFn, report
from connectcheck.probes.dns import resolve
from connectcheck.probes.latency import (
    DEFAULT_PORTS,
    DEFAULT_STUN_PORT,
    LatencyTarget,
    measure_latency,
    split_host_port,
)
from connectcheck.probes.net import (
    HttpHead,
    ProtocolError,
    connect_tcp,
    describe_error,
    http_request,
    pick_address,
    read_http_head,
    send_all,
    start_tls,
)

WEBSOCKET_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
STUN_REQUESTS = 3
UDP_BLOCKED_NOTE = (
    "No answer over UDP, while connections over TCP work: UDP looks blocked on this network "
    "(by a firewall or the router). The lesson's sound and video will then go through a relay "
    "over TCP (TURN/TCP), which adds delay and can make them choppy."
)
_WEB_SCHEMES = ("https", "http", "wss", "ws")


def websocket_accept(key: str) -> str:
    """The ``Sec-WebSocket-Accept`` a server must answer to ``key`` (RFC 6455 §4.2.2)."""
    return base64.b64encode(hashlib.sha1((key + WEBSOCKET_GUID).encode("ascii")).digest()).decode()


def status_meaning(code: int, reason: str = "") -> str:
    """What an HTTP status says about the server, for a tutor and for support staff."""
    label = f"HTTP {code}{' ' + reason if reason else ''}"
    if code < 300:
        return f"{label}: the server answered normally"
    if code < 400:
        return f"{label}: the server is there and points elsewhere (a redirect)"
    if code in (401, 403):
        return f"{label}: the server is there but refused this request (it may need a login)"
    if code == 404:
        return f"{label}: the server is there but has nothing at this address"
    if code == 429:
        return f"{label}: the server is there but asks for fewer requests (too many at once)"
    if code < 500:
        return f"{label}: the server is there but did not accept this request"
    return f"{label}: the server is there but has a problem of its own (the platform may be having trouble)"


class _Failed(Exception):
    """A step failed; ``str(exc)`` says why in plain words."""

    def __init__(self, text: str, status: Status = Status.ERROR) -> None:
        super().__init__(text)
        self.status = status


class _EndpointCheck:
    """Checks one endpoint in a thread of its own, recording each step as it goes."""

    def __init__(self, url: str, *, timeout_s: float, deadline: Deadline, ca_file: str | None) -> None:
        self.result = ReachabilityResult(url=url)
        self._timeout_s = timeout_s
        self._deadline = deadline
        self._ca_file = ca_file
        self.thread = threading.Thread(target=self._run, name=f"reach {url}", daemon=True)

    def _run(self) -> None:
        result = self.result
        try:
            self._check()
            result.reachable, result.status = True, Status.OK
        except _Failed as exc:
            result.error = str(exc)
            result.status = result.steps[-1].status if result.steps else Status.ERROR
        except Cancelled:
            result.status, result.error = Status.CANCELLED, "cancelled before the check finished"
        except Exception as exc:  # a bug must cost one endpoint, not the whole check
            result.status = Status.ERROR
            result.error = f"the check failed unexpectedly ({type(exc).__name__}: {exc})"

    def _step(self, name: str, action: Callable[[Deadline], Any],
              explain: Callable[[BaseException, float], str]) -> Any:
        """Run one bounded step and record it; raises _Failed (or Cancelled) when it fails."""
        deadline = self._deadline.sub(self._timeout_s)
        start = time.perf_counter()
        try:
            value, detail = action(deadline)
        except Cancelled:
            raise
        except (OSError, ProtocolError, _Failed) as exc:
            if self._deadline.cancelled:
                raise Cancelled() from exc
            text = str(exc) if isinstance(exc, _Failed) else explain(exc, deadline.seconds)
            status = exc.status if isinstance(exc, _Failed) else (
                Status.TIMEOUT if isinstance(exc, TimeoutError) else Status.ERROR)
            self.result.steps.append(ReachStep(name, status, _ms_since(start), text))
            raise _Failed(text) from exc
        self.result.steps.append(ReachStep(name, Status.OK, _ms_since(start), detail))
        return value

    def _check(self) -> None:
        url = self.result.url
        scheme, host, port = _parse_endpoint(url)
        if scheme == "stun":
            self._check_stun(host, port)
            return
        family, address = self._resolve(host, port)
        sock = self._step("tcp", lambda d: (connect_tcp(family, address, d),
                                            f"connected to {address[0]} port {port}"),
                          lambda e, t: describe_error(e, stage="connect", timeout_s=t, port=port))
        try:
            if scheme in ("https", "wss"):
                sock = self._step("tls", lambda d: _tls(sock, host, d, self._ca_file),
                                  lambda e, t: describe_error(e, stage="tls", timeout_s=t))
            if scheme in ("ws", "wss"):
                self._step("websocket", lambda d: self._websocket(sock, url, d), self._explain_http)
            else:
                self._step("http", lambda d: self._http(sock, url, d), self._explain_http)
        finally:
            sock.close()

    def _resolve(self, host: str, port: int) -> tuple[int, tuple[Any, ...]]:
        def lookup(deadline: Deadline) -> tuple[Any, str]:
            found, infos = resolve(host, port, deadline)
            if found.status is Status.CANCELLED:
                raise Cancelled()
            if found.status is not Status.OK:
                raise _Failed(f"the name {host} could not be looked up: {found.error}", found.status)
            return pick_address(infos), ", ".join(found.addresses[:4])
        return self._step("dns", lookup, lambda e, t: str(e))

    @staticmethod
    def _explain_http(exc: BaseException, timeout_s: float) -> str:
        return describe_error(exc, stage="http", timeout_s=timeout_s)

    def _http(self, sock: socket.socket, url: str, deadline: Deadline) -> tuple[None, str]:
        send_all(sock, http_request("GET", url, [("Connection", "close")]), deadline)
        head = read_http_head(sock, deadline)
        self.result.http_status = head.status
        if head.status >= 500:
            self.result.note = f"The server answered with an error ({status_meaning(head.status)})."
        return None, status_meaning(head.status, head.reason)

    def _websocket(self, sock: socket.socket, url: str, deadline: Deadline) -> tuple[None, str]:
        key = base64.b64encode(os.urandom(16)).decode("ascii")
        send_all(sock, http_request("GET", url, [("Upgrade", "websocket"), ("Connection", "Upgrade"),
                                                 ("Sec-WebSocket-Key", key),
                                                 ("Sec-WebSocket-Version", "13")]), deadline)
        head = read_http_head(sock, deadline)
        self.result.http_status = head.status
        if head.status != 101:
            raise _Failed("the server did not accept the WebSocket connection "
                          f"({status_meaning(head.status, head.reason)}); the live whiteboard "
                          "needs it")
        _check_upgrade(head, key)
        _send_close_frame(sock)
        return None, "WebSocket connection accepted (HTTP 101)"

    def _check_stun(self, host: str, port: int) -> None:
        family, address = self._resolve(host, port)
        label = self.result.url

        def probe(deadline: Deadline) -> tuple[None, str]:
            target = LatencyTarget("stun", address[0], port, label=label)
            spacing_s = 0.1
            measured = measure_latency(
                [target], count=STUN_REQUESTS, interval_s=spacing_s,
                timeout_s=max(spacing_s, deadline.seconds - spacing_s * STUN_REQUESTS),
                time_limit_s=deadline.remaining(), cancel=deadline.cancel)[0]
            if measured.status is Status.CANCELLED:
                raise Cancelled()
            if not measured.samples:
                raise _Failed(f"no answer over UDP from the STUN server: {measured.error}",
                              Status.TIMEOUT if measured.status is Status.TIMEOUT else Status.ERROR)
            rtt = measured.rtt_ms_median or 0.0
            return None, (f"{measured.samples} of {measured.samples_sent} requests answered over "
                          f"UDP, round trip {rtt:.{1 if rtt < 10 else 0}f} ms")
        self._step("stun", probe, lambda e, t: str(e))

    def outcome(self) -> ReachabilityResult:
        """The result; if the thread is somehow still busy, the steps so far and a timeout."""
        if not self.thread.is_alive():
            return self.result
        return ReachabilityResult(self.result.url, False, Status.TIMEOUT,
                                  "the check did not finish in time", list(self.result.steps),
                                  self.result.http_status)


def _parse_endpoint(url: str) -> tuple[str, str, int]:
    """``(scheme, host, port)`` of an endpoint address; raises _Failed for other addresses."""
    try:
        if url.startswith("stun:"):
            return ("stun", *split_host_port(url.removeprefix("stun:"), DEFAULT_STUN_PORT))
        parts = urlsplit(url)
        if parts.scheme in _WEB_SCHEMES and parts.hostname:
            return parts.scheme, parts.hostname, parts.port or DEFAULT_PORTS[parts.scheme]
    except ValueError:  # a port that is not a number, a bracket left open…
        pass
    raise _Failed("connectcheck cannot check this kind of address "
                  "(use https://, wss://, http://, ws:// or stun:host:port)")


def _ms_since(start: float) -> float:
    return round((time.perf_counter() - start) * 1000.0, 3)


def _tls(sock: socket.socket, host: str, deadline: Deadline,
         ca_file: str | None) -> tuple[ssl.SSLSocket, str]:
    tls = start_tls(sock, host, deadline, ca_file)
    return tls, f"{tls.version()}, certificate valid for {host}"


def _check_upgrade(head: HttpHead, key: str) -> None:
    if head.headers.get("upgrade", "").lower() != "websocket":
        raise _Failed("the server answered the WebSocket request without upgrading the connection")
    if head.headers.get("sec-websocket-accept") != websocket_accept(key):
        raise _Failed("the server answered the WebSocket request with a wrong key (something "
                      "between this computer and the platform may be interfering)")


def _send_close_frame(sock: socket.socket) -> None:
    """Say goodbye politely: a masked, empty WebSocket close frame (best effort)."""
    try:
        sock.send(b"\x88\x80" + os.urandom(4))
    except (OSError, ssl.SSLError):
        pass


def _note_udp_blocked(results: list[ReachabilityResult]) -> None:
    """Explain a STUN failure when TCP to other endpoints works: UDP is probably blocked."""
    tcp_works = any(s.name == "tcp" and s.status is Status.OK for r in results for s in r.steps)
    for result in results:
        udp_failed = any(s.name == "stun" and s.status is not Status.OK for s in result.steps)
        if tcp_works and udp_failed:
            result.note = UDP_BLOCKED_NOTE


def check_endpoints(
    urls: Sequence[str],
    *,
    timeout_s: float,
    time_limit_s: float,
    cancel: threading.Event,
    progress: ProgressFn | None = None,
    ca_file: str | None = None,
) -> list[ReachabilityResult]:
    """Check every endpoint at once; one :class:`ReachabilityResult` per URL, in order.

    Each step (DNS, TCP, TLS, HTTP/WebSocket, STUN) may take ``timeout_s``; the whole returns
    within ``time_limit_s`` (plus a fraction of a second) whatever the network does, and within
    a fraction of a second of ``cancel``.  ``ca_file`` replaces the system's authorities (tests).
    """
    deadline = Deadline(time_limit_s, cancel)
    checks = [_EndpointCheck(url, timeout_s=timeout_s, deadline=deadline, ca_file=ca_file) for url in urls]
    for check in checks:
        check.thread.start()
    report(progress, "reachability", 0.0, "reaching the lesson platform")
    give_up_at = deadline.end + 0.5
    while any(c.thread.is_alive() for c in checks) and time.monotonic() < give_up_at:
        next(c for c in checks if c.thread.is_alive()).thread.join(0.1)
        done = sum(not c.thread.is_alive() for c in checks)
        report(progress, "reachability", done / len(checks), f"{done} of {len(checks)} addresses checked")
    results = [check.outcome() for check in checks]
    _note_udp_blocked(results)
    return results
