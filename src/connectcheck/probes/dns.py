"""Name resolution (DNS) with a hard time bound, and how long it took.

The system resolver (``getaddrinfo``) cannot be interrupted: a name server that never answers
can keep it blocked for 30 s or more.  So every lookup runs in a daemon thread of its own and
the caller stops waiting at the bound; a lookup that is still stuck then is abandoned (its
thread ends whenever the resolver gives up) and reported as "did not answer within N s".

Abandoned lookups do not pile up (a monitor asks again every few seconds while a name server
hangs): a lookup of a name still under way is joined, not started again, and no more than
:data:`MAX_PENDING` lookups wait at once; beyond that a lookup is refused at once in plain words.

:func:`resolve_hosts` times the platform's host names for the check; :func:`resolve` is the
same bounded lookup for one name, used by the latency and reachability probes before they
open a socket.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

from connectcheck.core.model import DnsResult, Status
from connectcheck.core.tasks import Deadline, ProgressFn, report

Resolver = Callable[..., list[tuple[Any, ...]]]  # same signature and result as socket.getaddrinfo

_POLL_S = 0.05  # how often the waiting side looks at the lookups and the cancel event
MAX_PENDING = 16  # lookups (threads) waiting for the resolver at once, across all callers
_pending: dict[tuple[str, int | None, int], _Lookup] = {}
_pending_lock = threading.Lock()
# The address DNS filters (Pi-hole, AdGuard, NextDNS, many routers' parental controls) give by
# default for a name they block: no server can be there, so the name is as good as not found.
SINKHOLES = frozenset({"0.0.0.0", "::"})
SINKHOLE_TEXT = ("the name server answered {address}, the address a DNS filter gives for a name it "
                 "blocks, so the name leads nowhere")
_NOT_FOUND = {socket.EAI_NONAME, getattr(socket, "EAI_NODATA", socket.EAI_NONAME)}


def seconds_text(seconds: float) -> str:
    """A duration for a sentence: "2 s", "0.5 s", "1.25 s"."""
    return f"{round(seconds, 2):g} s"


def describe_dns_error(exc: BaseException) -> str:
    """What a failed lookup means, in plain words."""
    if isinstance(exc, socket.gaierror):
        if exc.errno in _NOT_FOUND:
            return "the name could not be found (DNS has no address for it)"
        if exc.errno == socket.EAI_AGAIN:
            return "the name server could not be reached or did not answer (no connection?)"
        if exc.errno == socket.EAI_FAIL:
            return "the name server failed to look the name up"
        return f"the name could not be looked up ({exc.strerror or exc})"
    if isinstance(exc, _TooMany):
        return (f"the name server (DNS) has not answered {MAX_PENDING} lookups still waiting, so no "
                "more are started until it does")
    return f"the name could not be looked up ({exc})"


class _TooMany(Exception):
    """Too many lookups are waiting for the name server already."""


class _Lookup:
    """One lookup running in a daemon thread; the callers wait on it with their own bounds."""

    def __init__(self, host: str, port: int | None, resolver: Resolver, key: tuple | None = None) -> None:
        self.host = host
        self.infos: list[tuple[Any, ...]] = []
        self.error: BaseException | None = None
        self.elapsed_ms: float | None = None
        self.done = threading.Event()
        self._port = port
        self._resolver = resolver
        self._key = key
        if key is None:  # refused: too many lookups wait already
            self.error = _TooMany()
            self.elapsed_ms = 0.0
            self.done.set()
            return
        threading.Thread(target=self._run, name=f"dns {host}", daemon=True).start()

    @classmethod
    def start(cls, host: str, port: int | None, resolver: Resolver) -> _Lookup:
        """The lookup of ``host`` under way (joined), or a new one, or one refused at once when
        :data:`MAX_PENDING` wait already."""
        key = (host, port, id(resolver))
        with _pending_lock:
            running = _pending.get(key)
            if running is not None and not running.done.is_set():
                return running
            if len(_pending) >= MAX_PENDING:
                return cls(host, port, resolver, None)
            lookup = _pending[key] = cls(host, port, resolver, key)
        return lookup

    def _run(self) -> None:
        start = time.perf_counter()
        try:
            self.infos = list(self._resolver(self.host, self._port, type=socket.SOCK_STREAM))
        except Exception as exc:  # any resolver failure is a result, never a crash
            self.error = exc
        self.elapsed_ms = (time.perf_counter() - start) * 1000.0
        with _pending_lock:
            if _pending.get(self._key) is self:
                del _pending[self._key]
        self.done.set()


    def result(self, deadline: Deadline, timeout_s: float) -> DnsResult:
        """The outcome as it stands now (call once the lookup is done or the wait is over)."""
        if not self.done.is_set():
            if deadline.cancelled:
                return DnsResult(self.host, Status.CANCELLED, "cancelled before the name was found")
            text = f"the name server (DNS) did not answer within {seconds_text(timeout_s)}"
            return DnsResult(self.host, Status.TIMEOUT, text)
        if self.error is not None:
            return DnsResult(self.host, Status.ERROR, describe_dns_error(self.error), self.elapsed_ms)
        addresses = list(dict.fromkeys(str(info[4][0]) for info in self.infos))
        if not addresses:
            return DnsResult(self.host, Status.ERROR, "the name server gave no address for the name",
                             self.elapsed_ms)
        if all(a in SINKHOLES for a in addresses):
            return DnsResult(self.host, Status.ERROR, SINKHOLE_TEXT.format(address=addresses[0]),
                             self.elapsed_ms, addresses)
        return DnsResult(self.host, Status.OK, None, self.elapsed_ms, addresses)


def _bare_host(host: str) -> str:
    return host[1:-1] if host.startswith("[") and host.endswith("]") else host


def resolve(
    host: str, port: int | None, deadline: Deadline, resolver: Resolver = socket.getaddrinfo
) -> tuple[DnsResult, list[tuple[Any, ...]]]:
    """Look ``host`` up, waiting no longer than ``deadline``: the result and the addrinfo list."""
    lookup = _Lookup.start(_bare_host(host), port, resolver)
    while not lookup.done.is_set() and not deadline.done:
        lookup.done.wait(min(_POLL_S, deadline.remaining()))
    result = lookup.result(deadline, deadline.seconds)
    return result, (lookup.infos if result.status is Status.OK else [])


def resolve_hosts(
    hosts: Sequence[str],
    *,
    timeout_s: float,
    cancel: threading.Event,
    progress: ProgressFn | None = None,
    resolver: Resolver = socket.getaddrinfo,
) -> list[DnsResult]:
    """Time the resolution of each host, all at once, each bounded by ``timeout_s``.

    Returns one :class:`DnsResult` per host, in order.  Returns within ``timeout_s`` (plus a
    few tens of milliseconds) whatever the resolver does, and within that of ``cancel``.
    """
    deadline = Deadline(timeout_s, cancel)
    lookups = [_Lookup.start(_bare_host(h), None, resolver) for h in hosts]
    report(progress, "dns", 0.0, "looking up the platform's names")
    finished = 0
    while not deadline.done:
        now_finished = sum(lookup.done.is_set() for lookup in lookups)
        if now_finished != finished:
            finished = now_finished
            report(progress, "dns", finished / len(lookups), f"{finished} of {len(lookups)} names")
        if finished == len(lookups):
            break
        cancel.wait(min(_POLL_S, deadline.remaining()))
    return [lookup.result(deadline, timeout_s) for lookup in lookups]
