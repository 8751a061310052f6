"""Bounded, cancellable socket operations shared by the probes: TCP connect, TLS handshake,
sending and receiving within a deadline, reading an HTTP answer's head, choosing an address,
and describing a failure in plain words.

Every call here takes a :class:`~connectcheck.probes.base.Deadline` (which also watches the
cancel event) and never blocks past it.
"""

from __future__ import annotations

import errno
import functools
import os
import select
import socket
import ssl
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from connectcheck import __version__
from connectcheck.core.tasks import Deadline
from connectcheck.probes.dns import seconds_text

USER_AGENT = f"connectcheck/{__version__}"
SockAddr = tuple[Any, ...]  # a socket address as getaddrinfo gives it

_POLL_S = 0.2  # longest wait without looking at the cancel event


class ProtocolError(Exception):
    """The other side answered, but not with what was expected; the text says what."""


def wait_sockets(
    readers: Sequence[socket.socket], writers: Sequence[socket.socket], timeout_s: float,
    cancel: threading.Event | None = None,
) -> tuple[list[socket.socket], list[socket.socket]]:
    """Wait up to ``timeout_s`` for sockets to become readable or writable.

    Uses ``poll`` where the system has it (no limit on descriptor numbers), else ``select``.
    A socket in error counts as both readable and writable, so that the next operation on it
    reports the error.  With no sockets at all, it just waits (waking at once on ``cancel``).
    """
    if not readers and not writers:
        (cancel or threading.Event()).wait(timeout_s)
        return [], []
    if not hasattr(select, "poll"):  # Windows
        readable, writable, _ = select.select(readers, writers, [], timeout_s)
        return readable, writable
    poller = select.poll()
    by_fd: dict[int, socket.socket] = {}
    masks: dict[int, int] = {}
    for socks, mask in ((readers, select.POLLIN), (writers, select.POLLOUT)):
        for sock in socks:
            fd = sock.fileno()
            by_fd[fd] = sock
            masks[fd] = masks.get(fd, 0) | mask
    for fd, mask in masks.items():
        poller.register(fd, mask)
    trouble = select.POLLERR | select.POLLHUP | select.POLLNVAL
    events = poller.poll(max(0.0, timeout_s) * 1000.0)
    readable = [by_fd[fd] for fd, ev in events if ev & (select.POLLIN | trouble)]
    writable = [by_fd[fd] for fd, ev in events if ev & (select.POLLOUT | trouble)]
    return readable, writable


def wait_ready(sock: socket.socket, deadline: Deadline, *, write: bool = False) -> None:
    """Wait until ``sock`` can be read (or written); raises Cancelled or TimeoutError."""
    while True:
        deadline.check()
        if deadline.expired:
            raise TimeoutError()
        if not write and isinstance(sock, ssl.SSLSocket) and sock.pending():
            return
        ready = wait_sockets([] if write else [sock], [sock] if write else [],
                             min(deadline.remaining(), _POLL_S))
        if ready[0] or ready[1]:
            return


def connect_tcp(family: int, address: SockAddr, deadline: Deadline) -> socket.socket:
    """A non-blocking TCP connection to ``address``; raises OSError, TimeoutError or Cancelled."""
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setblocking(False)
        err = sock.connect_ex(address)
        if err not in (0, errno.EINPROGRESS, errno.EWOULDBLOCK, errno.EALREADY):
            raise OSError(err, os.strerror(err))
        if err:
            wait_ready(sock, deadline, write=True)
            err = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            if err:
                raise OSError(err, os.strerror(err))
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return sock
    except BaseException:
        sock.close()
        raise


@functools.lru_cache(maxsize=8)
def tls_context(ca_file: str | None = None) -> ssl.SSLContext:
    """A verifying TLS client context: the system's authorities, or only ``ca_file``'s."""
    return ssl.create_default_context(cafile=ca_file)


def start_tls(
    sock: socket.socket, server_name: str, deadline: Deadline, ca_file: str | None = None
) -> ssl.SSLSocket:
    """Run a verified TLS handshake on a connected non-blocking socket (which it takes over)."""
    tls = tls_context(ca_file).wrap_socket(sock, server_hostname=server_name,
                                           do_handshake_on_connect=False)
    try:
        while True:
            try:
                tls.do_handshake()
                return tls
            except ssl.SSLWantReadError:
                wait_ready(tls, deadline)
            except ssl.SSLWantWriteError:
                wait_ready(tls, deadline, write=True)
    except BaseException:
        tls.close()
        raise


def send_all(sock: socket.socket, data: bytes, deadline: Deadline) -> None:
    """Send all of ``data`` on a non-blocking (TLS) socket within the deadline."""
    view = memoryview(data)
    while view:
        try:
            view = view[sock.send(view):]
        except (BlockingIOError, ssl.SSLWantWriteError):
            wait_ready(sock, deadline, write=True)
        except ssl.SSLWantReadError:
            wait_ready(sock, deadline)


def recv_some(sock: socket.socket, deadline: Deadline, size: int = 65536) -> bytes:
    """The next bytes from a non-blocking (TLS) socket; ``b""`` when the other side closed."""
    while True:
        try:
            return sock.recv(size)
        except (BlockingIOError, ssl.SSLWantReadError):
            wait_ready(sock, deadline)
        except ssl.SSLWantWriteError:
            wait_ready(sock, deadline, write=True)


@dataclass
class HttpHead:
    """The status line and headers of an HTTP answer (header names in lower case)."""

    status: int
    reason: str
    headers: dict[str, str] = field(default_factory=dict)


def parse_http_head(raw: bytes) -> HttpHead:
    """Parse the head of an HTTP/1.x answer (without the blank line); raises ProtocolError."""
    lines = raw.decode("iso-8859-1").split("\r\n")
    version, _, rest = lines[0].partition(" ")
    code, _, reason = rest.partition(" ")
    if not version.startswith("HTTP/1.") or not (code.isdigit() and len(code) == 3):
        raise ProtocolError("the server answered, but not in HTTP")
    headers = {}
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if sep:
            headers[name.strip().lower()] = value.strip()
    return HttpHead(int(code), reason.strip(), headers)


def read_http_head(sock: socket.socket, deadline: Deadline, limit: int = 65536) -> HttpHead:
    """Read an HTTP answer up to the end of its headers; raises ProtocolError, OSError, …"""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = recv_some(sock, deadline)
        if not chunk:
            raise ProtocolError("the server closed the connection without answering")
        data += chunk
        if len(data) > limit:
            raise ProtocolError("the server answered, but not in HTTP")
    return parse_http_head(data.partition(b"\r\n\r\n")[0])


def http_request(method: str, url: str, headers: Sequence[tuple[str, str]] = ()) -> bytes:
    """The bytes of a small HTTP/1.1 request for ``url``."""
    parts = urlsplit(url)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    lines = [f"{method} {path} HTTP/1.1", f"Host: {parts.netloc.rpartition('@')[2]}",
             f"User-Agent: {USER_AGENT}", "Accept: */*", *(f"{k}: {v}" for k, v in headers)]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("ascii")


_UNTRUSTED_CERT = {18, 19, 20, 21, 27}  # self-signed, unknown issuer, untrusted (OpenSSL codes)
_CERT_TEXTS = {
    9: "the server's certificate is not valid yet (is this computer's clock right?)",
    10: "the server's certificate has expired (or this computer's clock is wrong)",
    23: "the server's certificate has been revoked",
    62: "the certificate is not valid for this name (the server sent one for another name)",
    64: "the certificate is not valid for this address (the server sent one for another name)",
}


def describe_error(exc: BaseException, *, stage: str, timeout_s: float, port: int | None = None) -> str:
    """What went wrong, in words for a tutor and for support staff.

    ``stage`` is what was being done: "connect", "tls", "http" (waiting for an answer) or
    "send".
    """
    within = seconds_text(timeout_s)
    if isinstance(exc, TimeoutError):
        return {
            "connect": f"the server did not answer within {within} (no reply to the connection "
                       "request: a firewall may be dropping it)",
            "tls": f"the server accepted the connection but did not complete the secure "
                   f"handshake within {within}",
        }.get(stage, f"the server accepted the connection but did not answer within {within}")
    if isinstance(exc, ssl.SSLCertVerificationError):
        if exc.verify_code in _UNTRUSTED_CERT:
            return ("the certificate is not signed by an authority this computer trusts "
                    "(a firewall or antivirus that inspects secure connections can cause this)")
        return _CERT_TEXTS.get(exc.verify_code,
                               f"the certificate could not be verified ({exc.verify_message})")
    if isinstance(exc, (ssl.SSLEOFError, ssl.SSLZeroReturnError)) or (
        stage == "tls" and isinstance(exc, (ConnectionResetError, ProtocolError))
    ):
        return "the server closed the connection during the secure handshake"
    if isinstance(exc, ssl.SSLError):
        return f"the secure connection (TLS) failed ({exc.reason or exc})"
    if isinstance(exc, ProtocolError):
        return str(exc)
    if isinstance(exc, ConnectionRefusedError):
        where = f" on port {port}" if port else ""
        return f"the server refused the connection (nothing is listening{where})"
    if isinstance(exc, (ConnectionResetError, ConnectionAbortedError, BrokenPipeError)):
        return "the connection was cut off (by the server or by something in between)"
    if isinstance(exc, OSError) and exc.errno == errno.ENETUNREACH:
        return "this computer has no route to the internet (is it connected?)"
    if isinstance(exc, OSError) and exc.errno == errno.EHOSTUNREACH:
        return "the server's address cannot be reached (no route to it)"
    if isinstance(exc, OSError):
        return f"the connection failed ({exc.strerror or exc})"
    return f"the connection failed ({exc})"


def pick_address(infos: list[tuple[Any, ...]]) -> tuple[int, SockAddr]:
    """The first address this computer has a route to (a UDP connect sends nothing)."""
    for family, _, _, _, sockaddr in infos:
        with socket.socket(family, socket.SOCK_DGRAM) as probe:
            try:
                probe.connect((sockaddr[0], sockaddr[1] or 9, *sockaddr[2:]))
            except OSError:
                continue
            return family, sockaddr
    return infos[0][0], infos[0][4]
