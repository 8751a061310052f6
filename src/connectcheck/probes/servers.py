"""Where the speed server comes from: the organisation's LibreSpeed server, speedtest.net
(found through speedtest-cli), a Cloudflare-style endpoint, or a fixed address the user gave.

* :func:`plan` turns the settings into the list of :class:`Candidate` to try, in order.  With
  ``source="auto"`` that is organisation → speedtest.net → Cloudflare-style; a fixed
  ``server_url`` replaces the search.
* :class:`ServerFinder` tries one candidate: it makes sure the server answers (a small HTTP
  round trip, which also gives ``latency_ms``) and raises :class:`ServerUnavailable` with the
  reason in plain words when not (HTTP 403/429, refused, timeout, TLS...).  Every step has a
  time bound and watches the cancel event; it records a plain-words line per attempt in
  ``tried``.
* speedtest.net: speedtest-cli fetches its configuration and the server list, picks the five
  closest servers, and we measure their latency ourselves, all five in parallel and bounded in
  time (speedtest-cli's own ``get_best_server`` pings them one after another with 10 s
  timeouts, which could take minutes against servers that do not answer).  The chosen server
  is remembered in ``cache_dir()/speedtest-server.json`` for ``cache_hours``; the next check
  only checks that it still answers.  A damaged cache file is ignored.
* Test seam: :func:`make_speedtest` builds speedtest-cli's ``Speedtest`` (it calls the network
  in its constructor, so call it in a worker thread); with ``base_url`` its requests for
  ``www.speedtest.net`` and ``c.speedtest.net`` go to that address instead, which is how the
  tests point it at the lab.

Protocol guessing for a fixed address (when ``--source`` does not say it), first match wins:
a path ending in ``upload.php``, ``latency.txt`` or ``random…x….jpg``, or containing a
``/speedtest/`` folder → speedtest.net; ``garbage.php`` / ``empty.php`` → LibreSpeed;
``__down`` / ``__up``, or a host name containing "cloudflare" → Cloudflare-style; anything else
→ LibreSpeed (the kind of server an organisation runs).
"""

from __future__ import annotations

import contextlib
import io
import json
import re
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

from connectcheck.core import paths
from connectcheck.core.files import read_limited
from connectcheck.core.model import ModelError, SpeedServer, from_dict, to_dict
from connectcheck.core.tasks import Cancelled, Deadline, ProgressFn, report
from connectcheck.probes.bandwidth import (
    Connection,
    HttpStatusError,
    describe_error,
    read_response,
    request_headers,
    request_path,
    resolve_target,
)

SOURCE_PROTOCOL = {"org": "librespeed", "speedtest": "speedtest", "cloudflare": "cloudflare"}
SOURCE_LABEL = {"org": "organisation server", "speedtest": "speedtest.net",
                "cloudflare": "Cloudflare-style server", "custom": "fixed server"}
AUTO_ORDER = ("org", "speedtest", "cloudflare")
SPEEDTEST_HOSTS = ("www.speedtest.net", "c.speedtest.net")
CACHE_FILE = "speedtest-server.json"
CACHE_VERSION = 1
CACHE_MAX_BYTES = 64 * 1024  # the cache is a few hundred bytes: anything far larger is not it
PING_COUNT = 3
PING_TIMEOUT_S = 3.0
SPEEDTEST_TIMEOUT_S = 5.0
CLOSEST_SERVERS = 5

T = TypeVar("T")


class ServerUnavailable(Exception):
    """A candidate server cannot be used; the message says why, in plain words."""


class TookTooLong(TimeoutError):
    """A bounded call (:func:`run_bounded`) was given up; the message says what and how long."""


@dataclass(frozen=True)
class Candidate:
    """One place a speed server may come from; ``skip`` says why it is not even tried."""

    source: str  # "org" | "speedtest" | "cloudflare" | "custom"
    url: str = ""
    protocol: str = ""
    skip: str | None = None

    @property
    def label(self) -> str:
        """The source in plain words, e.g. "organisation server"."""
        return SOURCE_LABEL[self.source]


# ---------------------------------------------------------------------------------------
# which servers to try


def guess_protocol(url: str) -> str:
    """The protocol a server address most likely speaks (rule in the module notes)."""
    parts = urlsplit(url)
    path, host = parts.path.lower(), (parts.hostname or "").lower()
    name = path.rstrip("/").rsplit("/", 1)[-1]
    if name in ("upload.php", "latency.txt") or re.fullmatch(r"random\d+x\d+\.jpg", name) \
            or "/speedtest/" in path + "/":
        return "speedtest"
    if name in ("garbage.php", "empty.php"):
        return "librespeed"
    if name in ("__down", "__up") or "cloudflare" in host:
        return "cloudflare"
    return "librespeed"


def normalize_url(protocol: str, url: str) -> str:
    """The server's base URL as the engines expect it.

    LibreSpeed and Cloudflare-style: the folder that holds the endpoints (a trailing
    ``garbage.php``, ``empty.php``, ``__down`` or ``__up`` is removed).  speedtest.net: the
    ``upload.php`` address, as in speedtest.net's server list (added to a bare folder).
    """
    parts = urlsplit(url.strip())
    path = parts.path.rstrip("/")
    name = path.rsplit("/", 1)[-1]
    if protocol == "speedtest":
        if name.endswith((".jpg", ".txt")):
            path = path.rsplit("/", 1)[0] + "/upload.php"
        elif not name.endswith(".php"):
            path = f"{path}/upload.php"
    elif name in ("garbage.php", "empty.php", "__down", "__up"):
        path = path.rsplit("/", 1)[0]
    return urlunsplit((parts.scheme, parts.netloc, path, "", ""))


def plan(source: str, *, server_url: str = "", org_url: str = "", cloudflare_url: str = "",
         classic: bool = False) -> list[Candidate]:
    """The candidates to try, in order, for the ``source`` setting ("auto", "org", ...).

    ``classic`` (speedtest-cli's own transfer) can only use speedtest.net servers.
    """
    if server_url:
        protocol = SOURCE_PROTOCOL.get(source) or guess_protocol(server_url)
        cand = Candidate("custom", normalize_url(protocol, server_url), protocol)
        if classic and protocol != "speedtest":
            cand = Candidate("custom", cand.url, protocol, skip=_classic_only())
        return [cand]
    sources = AUTO_ORDER if source == "auto" else (source,)
    urls = {"org": org_url, "speedtest": "", "cloudflare": cloudflare_url}
    out = []
    for src in sources:
        protocol = SOURCE_PROTOCOL[src]
        skip = None
        if classic and protocol != "speedtest":
            if source == "auto":
                continue
            skip = _classic_only()
        elif src != "speedtest" and not urls[src]:
            skip = "not configured"
        url = normalize_url(protocol, urls[src]) if urls[src] else ""
        out.append(Candidate(src, url, protocol, skip))
    return out


def _classic_only() -> str:
    return "the classic engine (speedtest-cli) only works with speedtest.net servers"


# ---------------------------------------------------------------------------------------
# checking that a server answers


def ping_server(server: SpeedServer, deadline: Deadline, ca_file: str | None = None,
                count: int = PING_COUNT) -> tuple[float, int]:
    """HTTP round trips to the server's small endpoint on one keep-alive connection.

    Returns (median round trip in ms, bytes exchanged: about 400 per round trip).  Raises
    :class:`ServerUnavailable` with the reason when the server does not answer properly, and
    :class:`Cancelled`.
    """
    timeout = max(0.05, min(PING_TIMEOUT_S, deadline.remaining()))
    conn: Connection | None = None
    rtts: list[float] = []
    try:
        conn = Connection(resolve_target(server.url, deadline, ca_file), timeout)
        for _ in range(count):
            deadline.check()
            started = time.monotonic()
            conn.request("GET", request_path(server, "ping"), headers=request_headers())
            _, body = read_response(conn)
            rtts.append((time.monotonic() - started) * 1000)
            if server.protocol == "speedtest" and body.strip() != b"test=test":
                raise ServerUnavailable("the server does not answer like a speedtest.net server")
    except (Cancelled, ServerUnavailable):
        raise
    except Exception as exc:  # OSError, TLS, HTTP status, http.client's errors
        deadline.check()
        words = conn.describe(exc, timeout) if conn is not None else describe_error(exc, timeout_s=timeout)
        raise ServerUnavailable(words) from None
    finally:
        if conn is not None:
            conn.close()
    rtts.sort()
    return round(rtts[len(rtts) // 2], 3), count * 400


# ---------------------------------------------------------------------------------------
# speedtest-cli


def load_speedtest_module() -> ModuleType:
    """Import speedtest-cli without letting it take over the process's stdout and stderr.

    On import it wraps file descriptors 1 and 2 in objects that close them when collected;
    with stand-in streams it keeps to those instead (it only prints in its own command line).
    """
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        import speedtest
    return speedtest


class _ShutdownFlag:
    """What speedtest-cli polls (``isSet()``) to stop its threads: set when our cancel event is
    set, or when :meth:`stop` was called (our own time cap).  A plain ``threading.Event``
    would warn that ``isSet`` is deprecated on every poll."""

    def __init__(self, cancel: threading.Event) -> None:
        self.cancel = cancel
        self.stopped = False

    def isSet(self) -> bool:  # the name speedtest-cli calls
        return self.stopped or self.cancel.is_set()

    def stop(self) -> None:
        self.stopped = True

    def reset(self) -> None:
        self.stopped = False


class _SpeedtestPlumbing(urllib.request.BaseHandler):
    """Added to speedtest-cli's URL opener: counts the bytes of its answers (by their
    Content-Length), closes refused answers at once (speedtest-cli drops them open), and, for
    tests, sends its requests for speedtest.net to ``base_url``."""

    handler_order = 100  # before speedtest-cli's own handlers

    def __init__(self, base_url: str | None) -> None:
        self.base_url = base_url.rstrip("/") if base_url else None
        self.bytes = 0

    def _request(self, req: urllib.request.Request) -> urllib.request.Request:
        parts = urlsplit(req.full_url)
        if self.base_url and parts.hostname in SPEEDTEST_HOSTS:
            req.full_url = f"{self.base_url}{parts.path}" + (f"?{parts.query}" if parts.query else "")
        self.bytes += 400  # request line and headers, roughly
        return req

    def _response(self, req: urllib.request.Request, resp: Any) -> Any:
        length = resp.headers.get("Content-Length")
        self.bytes += int(length) if length and length.isdigit() else 0
        return resp

    def http_error_default(self, req: urllib.request.Request, fp: Any, code: int, msg: str,
                           hdrs: Any) -> None:
        fp.close()
        raise urllib.error.HTTPError(req.full_url, code, msg, hdrs, io.BytesIO())

    http_request = https_request = _request
    http_response = https_response = _response


@dataclass
class SpeedtestClient:
    """speedtest-cli's ``Speedtest`` with what we attached to it."""

    speedtest: Any
    shutdown: _ShutdownFlag
    plumbing: _SpeedtestPlumbing
    timeout_s: float  # its sockets' timeout


def make_speedtest(cancel: threading.Event, *, base_url: str | None = None,
                   timeout_s: float = SPEEDTEST_TIMEOUT_S) -> SpeedtestClient:
    """Build speedtest-cli's ``Speedtest`` (secure=True; it fetches the configuration from
    the network, so call this in a worker thread).  ``base_url`` is the test seam: where
    ``speedtest-config.php`` and the server lists are fetched from instead of speedtest.net.
    Raises speedtest-cli's exceptions."""
    speedtest = load_speedtest_module()
    plumbing = _SpeedtestPlumbing(base_url)
    shutdown = _ShutdownFlag(cancel)

    class _Speedtest(speedtest.Speedtest):
        def get_config(self) -> Any:
            if plumbing not in self._opener.handlers:
                self._opener.add_handler(plumbing)
            return super().get_config()

    st = _Speedtest(secure=True, shutdown_event=shutdown, timeout=timeout_s)
    return SpeedtestClient(st, shutdown, plumbing, timeout_s)


PROVIDER_CHARS = 80  # a provider's name is a few words; anything longer is cut


def provider_from_config(config: Any) -> str | None:
    """The internet provider speedtest.net names for the client's network in its configuration
    answer (``<client ip=… isp="…">``, as speedtest-cli keeps it in ``config["client"]``): the
    name only, spaces tidied, at most :data:`PROVIDER_CHARS` characters; None when it gives none.
    The client's address, which the same answer holds, is never read."""
    client = config.get("client") if isinstance(config, dict) else None
    isp = client.get("isp") if isinstance(client, dict) else None
    if not isinstance(isp, str):
        return None
    name = " ".join(isp.split())[:PROVIDER_CHARS].strip()
    return name or None


def speedtest_entry(server: SpeedServer) -> dict[str, Any]:
    """The server as speedtest-cli describes one (its ``best`` dictionary)."""
    return {"url": server.url, "name": server.name or "", "sponsor": "", "id": "0",
            "host": server.host or urlsplit(server.url).netloc, "d": server.distance_km or 0.0}


def run_bounded(fn: Callable[[], T], deadline: Deadline, what: str, *,
                stop: Callable[[], None] | None = None, grace_s: float = 0.0) -> T:
    """Run ``fn`` in a helper thread, bounded by ``deadline`` and its cancel event.

    At the deadline or on cancel, ``stop()`` is called (if given) and ``fn`` gets ``grace_s``
    more seconds to return; its value is returned if it did.  Otherwise the thread is left
    behind and :class:`Cancelled` or :class:`TookTooLong` ("``what`` took longer than N s") is
    raised.  What ``fn`` raises is raised here.
    """
    box: dict[str, Any] = {}

    def call() -> None:
        try:
            box["value"] = fn()
        except BaseException as exc:  # handed over to the caller
            box["error"] = exc

    worker = threading.Thread(target=call, name=what, daemon=True)
    worker.start()
    while worker.is_alive() and not deadline.done:
        worker.join(min(0.05, deadline.remaining() + 0.001))
    if worker.is_alive():
        if stop is not None:
            stop()
        worker.join(grace_s)
    if worker.is_alive():
        if deadline.cancelled:
            raise Cancelled()
        raise TookTooLong(f"{what} took longer than {deadline.seconds:g} s")
    if "error" in box:
        raise box["error"]
    return box["value"]


def speedtest_error_words(exc: BaseException, timeout_s: float) -> str:
    """Plain words for what went wrong while asking speedtest.net for servers.

    speedtest-cli wraps urllib's errors; an HTTP error keeps its answer open until closed.
    """
    if isinstance(exc, TookTooLong):
        return str(exc)
    cause = exc.args[0] if exc.args and isinstance(exc.args[0], BaseException) else exc
    if isinstance(cause, urllib.error.HTTPError):
        cause.close()
    code = getattr(cause, "code", None)
    reason = getattr(cause, "reason", None)
    if isinstance(code, int):
        status = HttpStatusError(code, str(getattr(cause, "msg", "") or ""))
        return describe_error(status, timeout_s=timeout_s)
    if isinstance(reason, BaseException):
        return describe_error(reason, timeout_s=timeout_s)
    if isinstance(cause, (OSError, TimeoutError)):
        return describe_error(cause, timeout_s=timeout_s)
    name = type(exc).__name__
    if name == "ConfigRetrievalError":
        return "speedtest.net's configuration could not be fetched"
    if name in ("SpeedtestConfigError", "SpeedtestServersError"):
        return "speedtest.net sent a configuration or server list we could not read"
    return f"speedtest.net could not be used ({name})"


# ---------------------------------------------------------------------------------------
# the cache of the chosen speedtest.net server


def cache_path() -> Path:
    """Where the chosen speedtest.net server is remembered."""
    return paths.cache_dir() / CACHE_FILE


def load_cached_server(max_age_h: float, base_url: str | None = None) -> SpeedServer | None:
    """The remembered speedtest.net server if it is younger than ``max_age_h`` hours and was
    found through the same ``base_url``; None otherwise (also when the file is damaged)."""
    if max_age_h <= 0:
        return None
    try:
        data = json.loads(read_limited(cache_path(), CACHE_MAX_BYTES, "speed server cache").decode("utf-8"))
        if data.get("version") != CACHE_VERSION or data.get("base_url") != (base_url or ""):
            return None
        age_h = (time.time() - float(data["saved_at"])) / 3600
        if not 0 <= age_h < max_age_h:
            return None
        return from_dict(SpeedServer, data["server"])
    except (OSError, ValueError, KeyError, TypeError, AttributeError, RecursionError, ModelError):
        return None


def save_cached_server(server: SpeedServer, base_url: str | None = None) -> None:
    """Remember ``server``; a cache that cannot be written is only a missed shortcut."""
    data = {"version": CACHE_VERSION, "saved_at": time.time(), "base_url": base_url or "",
            "server": to_dict(server)}
    path = cache_path()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_text(json.dumps(data, indent=1), encoding="utf-8")
        tmp.replace(path)
    except OSError:
        pass


def forget_cached_server() -> None:
    """Drop the remembered server (it stopped answering)."""
    try:
        cache_path().unlink()
    except OSError:
        pass


# ---------------------------------------------------------------------------------------
# trying candidates


@dataclass
class ServerFinder:
    """Tries candidates (see :func:`plan`); keeps what was tried and the bytes it moved."""

    cancel: threading.Event
    ca_file: str | None = None
    speedtest_base_url: str | None = None
    cache_hours: float = 24.0
    progress: ProgressFn | None = None
    tried: list[str] = field(default_factory=list)
    bytes_used: int = 0
    client: SpeedtestClient | None = None  # speedtest-cli, when a search built it
    provider: str | None = None  # the client's internet provider, when speedtest.net named it

    def find(self, cand: Candidate, deadline: Deadline) -> SpeedServer:
        """A server of ``cand`` that answers; :class:`ServerUnavailable` (recorded) if none.

        Raises :class:`Cancelled` when the cancel event is set.
        """
        report(self.progress, "speed server", deadline.elapsed() / max(deadline.seconds, 0.1),
               f"trying the {cand.label}")
        try:
            if cand.skip:
                raise ServerUnavailable(cand.skip)
            if cand.source == "speedtest" and not cand.url:
                return self._speedtest(deadline)
            server = SpeedServer(source=cand.source, protocol=cand.protocol, url=cand.url,
                                 host=urlsplit(cand.url).hostname)
            return self._checked(server, deadline, cand.label)
        except ServerUnavailable as exc:
            self.tried.append(f"{cand.label}{_where(cand.url)}: {exc}")
            raise

    def _checked(self, server: SpeedServer, deadline: Deadline, label: str) -> SpeedServer:
        latency_ms, nbytes = ping_server(server, deadline, self.ca_file)
        self.bytes_used += nbytes
        server.latency_ms = latency_ms
        self.tried.append(f"{label}{_where(server.url)}: answered in {latency_ms:.0f} ms")
        return server

    def _speedtest(self, deadline: Deadline) -> SpeedServer:
        cached = load_cached_server(self.cache_hours, self.speedtest_base_url)
        if cached is not None:
            try:
                return self._checked(cached, deadline, f"speedtest.net (remembered: {cached.name})")
            except ServerUnavailable as exc:
                self.tried.append(f"speedtest.net: the remembered server {cached.name} did not answer "
                                  f"({exc}); searching again")
                forget_cached_server()
        server = self._search(deadline)
        save_cached_server(server, self.speedtest_base_url)
        return server

    def speedtest_client(self, deadline: Deadline) -> SpeedtestClient:
        """speedtest-cli's client (built now if the search did not build one)."""
        if self.client is None:
            # a little beyond the deadline, so that our bound speaks first when time runs out
            timeout = min(SPEEDTEST_TIMEOUT_S, deadline.remaining() + 0.5)
            try:
                self.client = run_bounded(lambda: make_speedtest(
                    self.cancel, base_url=self.speedtest_base_url, timeout_s=timeout), deadline,
                    "fetching speedtest.net's configuration")
            except Cancelled:
                raise
            except Exception as exc:
                raise ServerUnavailable(speedtest_error_words(exc, timeout)) from None
            self.bytes_used += self.client.plumbing.bytes
            self.provider = provider_from_config(getattr(self.client.speedtest, "config", None))
        return self.client

    def learn_provider(self, deadline: Deadline) -> str | None:
        """The client's internet provider as speedtest.net names it: from the configuration the
        search fetched, or fetched now (one small request) when a remembered server made the
        search unnecessary. None when it cannot be had in time; never raises but Cancelled."""
        if self.client is None:
            try:
                self.speedtest_client(deadline)
            except ServerUnavailable as exc:
                self.tried.append(f"speedtest.net: the internet provider's name could not be had ({exc})")
        return self.provider

    def _search(self, deadline: Deadline) -> SpeedServer:
        client = self.speedtest_client(deadline)
        before = client.plumbing.bytes
        try:
            closest = run_bounded(lambda: client.speedtest.get_closest_servers(limit=CLOSEST_SERVERS),
                                  deadline, "fetching speedtest.net's server list")
        except Cancelled:
            raise
        except Exception as exc:
            raise ServerUnavailable(speedtest_error_words(exc, client.timeout_s)) from None
        finally:
            self.bytes_used += client.plumbing.bytes - before
        if not closest:
            raise ServerUnavailable("speedtest.net's server list was empty")
        return self._best(closest, deadline)

    def _best(self, entries: list[dict[str, Any]], deadline: Deadline) -> SpeedServer:
        """The entry with the lowest HTTP latency, all pinged in parallel."""
        servers = [_from_entry(e) for e in entries]
        results: dict[int, tuple[float, int] | str] = {}

        def ping(i: int) -> None:
            try:
                results[i] = ping_server(servers[i], deadline, self.ca_file)
            except (ServerUnavailable, Cancelled) as exc:
                results[i] = str(exc) or "cancelled"

        workers = [threading.Thread(target=ping, args=(i,), daemon=True) for i in range(len(servers))]
        for w in workers:
            w.start()
        for w in workers:
            w.join(deadline.remaining() + 0.2)
        deadline.check()
        self.bytes_used += sum(v[1] for v in results.values() if isinstance(v, tuple))
        answered = sorted((v[0], i) for i, v in results.items() if isinstance(v, tuple))
        if not answered:
            reasons = sorted({v for v in results.values() if isinstance(v, str)}) or ["no answer in time"]
            raise ServerUnavailable(f"none of the {len(servers)} nearest servers answered ({reasons[0]})")
        latency, best = answered[0]
        server = servers[best]
        server.latency_ms = latency
        self.tried.append(f"speedtest.net: chose {server.name} ({server.distance_km:.0f} km, "
                          f"{latency:.0f} ms) among the {len(servers)} nearest servers")
        return server


def _from_entry(entry: dict[str, Any]) -> SpeedServer:
    name = " — ".join(p for p in (entry.get("name"), entry.get("sponsor")) if p) or None
    url = entry["url"]
    return SpeedServer(source="speedtest", protocol="speedtest", url=url, name=name,
                       host=urlsplit(url).hostname, distance_km=round(float(entry.get("d", 0.0)), 1))


def _where(url: str) -> str:
    return f" ({url})" if url else ""
