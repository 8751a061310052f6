"""The bandwidth part of a check, as one object: choose a server, then measure each direction.

``SpeedSession`` ties :mod:`servers` (where the server comes from) to the engines
(:mod:`bandwidth`, ours, and :mod:`classic`, speedtest-cli's).  It never raises: what failed
is in the returned :class:`Section` or :class:`BandwidthResult`, and ``tried`` lists, in plain
words, every server tried and why it was left.

Fallback: in ``source="auto"`` mode, a server that fails before a rate could be measured
(HTTP 403/429, refused, timeout, TLS...) is left for the next source, within the direction's
time budget (if at least :data:`MIN_RETRY_S` is left).  With a chosen source or a fixed
server there is no fallback.

Data cap (``data_limit_bytes``, both directions together, everything the session moved
counts): the first direction measured may use up to :data:`FIRST_DIRECTION_SHARE` (2/3) of
what is left; the second direction may use all that is left.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any

from connectcheck.core.model import BandwidthResult, Section, SpeedServer, Status
from connectcheck.core.tasks import Cancelled, Deadline, ProgressFn
from connectcheck.probes.bandwidth import measure_bandwidth
from connectcheck.probes.classic import measure_classic
from connectcheck.probes.servers import SOURCE_LABEL, Candidate, ServerFinder, ServerUnavailable, plan

FIRST_DIRECTION_SHARE = 2 / 3
MIN_RETRY_S = 1.5  # a fallback server is only tried with at least this much time left
PROVIDER_TIME_S = 2.0  # at most this long to fetch speedtest.net's configuration for the provider's name


@dataclass
class SpeedConfig:
    """Everything the bandwidth test needs from the settings (see ``settings.py``)."""

    engine: str = "auto"  # "auto" (ours) | "classic" (speedtest-cli's own transfer)
    source: str = "auto"  # "auto" | "org" | "speedtest" | "cloudflare"
    server_url: str = ""  # fixed server (overrides the search)
    org_server_url: str = ""
    cloudflare_url: str = "https://speed.cloudflare.com"
    streams: int = 16  # most streams; the engine adds them while the rate grows
    start_streams: int | None = None  # streams to start with (None: the engine's START_STREAMS)
    time_limit_s: float = 6.0  # per direction
    data_limit_bytes: int = 200_000_000  # both directions together
    cache_hours: float = 24.0
    ca_file: str | None = None
    speedtest_base_url: str | None = None  # test seam: where speedtest-config.php & the server list live

    @classmethod
    def from_settings(cls, settings: Any, profile_speed_url: str = "", **overrides: Any) -> SpeedConfig:
        """The config from a :class:`connectcheck.settings.Settings`; the organisation server
        falls back to the profile's ``speed_server_url``; ``overrides`` win (command line)."""
        config = cls(
            engine=settings["speed.engine"], source=settings["speed.source"],
            server_url=settings["speed.server_url"],
            org_server_url=settings["speed.org_server_url"] or profile_speed_url,
            cloudflare_url=settings["speed.cloudflare_url"], streams=settings["speed.streams"],
            time_limit_s=settings["speed.time_limit_s"],
            data_limit_bytes=int(settings["speed.data_limit_mb"] * 1_000_000),
            cache_hours=settings["speed.server_cache_hours"],
        )
        for key, value in overrides.items():
            setattr(config, key, value)
        return config


class SpeedSession:
    """One check's bandwidth test: :meth:`choose_server`, then :meth:`measure` per direction."""

    def __init__(self, config: SpeedConfig, *, cancel: threading.Event, progress: ProgressFn | None = None):
        self.config = config
        self.cancel = cancel
        self.progress = progress
        self.server: SpeedServer | None = None
        self._finder = ServerFinder(cancel=cancel, ca_file=config.ca_file,
                                    speedtest_base_url=config.speedtest_base_url,
                                    cache_hours=config.cache_hours, progress=progress)
        self._candidates: list[Candidate] = plan(
            config.source, server_url=config.server_url, org_url=config.org_server_url,
            cloudflare_url=config.cloudflare_url, classic=self.classic)
        self.engine_started_at: float | None = None  # time.monotonic() when the last engine run began
        self._moved = 0  # bytes of the measurements
        self._measured: set[str] = set()
        self._last_error: str | None = None

    @property
    def classic(self) -> bool:
        """Whether speedtest-cli's own transfer is used instead of ours."""
        return self.config.engine == "classic"

    @property
    def tried(self) -> list[str]:
        """Every server tried and what became of it, in plain words."""
        return self._finder.tried

    @property
    def bytes_used(self) -> int:
        """Everything this session moved: the transfers, the server search and its probes."""
        return self._moved + self._finder.bytes_used

    def choose_server(self, time_limit_s: float) -> Section:
        """Find the first candidate server that answers, within ``time_limit_s``; never raises."""
        deadline = Deadline(time_limit_s, self.cancel)
        self.server = self._next_server(deadline)
        section = Section(status=Status.OK, duration_s=round(deadline.elapsed(), 3))
        if self.server is None:
            section.status, section.error = self._no_server_status(deadline)
        return section

    def provider(self, time_limit_s: float = PROVIDER_TIME_S) -> str | None:
        """The client's internet provider by name, as speedtest.net's configuration names it:
        fetched (one small request, within ``time_limit_s``) when the server came from
        speedtest.net but was remembered from an earlier check; known already when the search or
        the classic engine fetched the configuration. None when no speedtest.net configuration
        was or could be had (the organisation's and Cloudflare-style servers do not name it)."""
        if self.server is not None and self.server.source == "speedtest" and not self.cancel.is_set():
            try:
                return self._finder.learn_provider(Deadline(time_limit_s, self.cancel))
            except Cancelled:
                return self._finder.provider
        return self._finder.provider

    def measure(self, direction: str) -> BandwidthResult:
        """Measure ``direction`` with the configured engine; falls back to the next source
        (auto mode) when the server fails before delivering data; never raises.

        The result's windows and ``ramp_up_s`` count from :attr:`engine_started_at` (later
        than the call when a first server failed), for aligning loaded-latency samples.
        """
        deadline = Deadline(self.config.time_limit_s, self.cancel)
        if self.server is None and not self._measured and not self._last_error:
            self.server = self._next_server(deadline)
        while True:
            if self.server is None:
                return self._no_server_result(direction, deadline)
            self.engine_started_at = time.monotonic()
            result = self._run_engine(self.server, direction, deadline)
            self._moved += result.bytes_transferred
            if not self._should_fall_back(result, deadline):
                break
            self.tried.append(f"{SOURCE_LABEL[self.server.source]} ({self.server.url}): left during the "
                              f"{direction} test: {result.error}")
            self.server = self._next_server(deadline)
            if self.server is None:
                break
        self._measured.add(direction)
        return result

    # --- internals ----------------------------------------------------------------------

    def _next_server(self, deadline: Deadline) -> SpeedServer | None:
        """The next candidate that answers; None when none is left (or time ran out)."""
        while self._candidates and not deadline.done:
            cand = self._candidates.pop(0)
            try:
                return self._finder.find(cand, deadline)
            except ServerUnavailable as exc:
                self._last_error = f"{cand.label}: {exc}"
            except Cancelled:
                return None
        if self._candidates and deadline.expired:
            self._last_error = f"no speed server answered within {deadline.seconds:g} s"
        return None

    def _no_server_status(self, deadline: Deadline) -> tuple[Status, str]:
        if self.cancel.is_set():
            return Status.CANCELLED, "the test was cancelled"
        if self._candidates and deadline.expired:
            return Status.TIMEOUT, f"no speed server answered within {deadline.seconds:g} s"
        return Status.ERROR, f"no speed server could be used ({self._last_error or 'none configured'})"

    def _no_server_result(self, direction: str, deadline: Deadline) -> BandwidthResult:
        status, error = self._no_server_status(deadline)
        return BandwidthResult(direction=direction, status=status, error=error,
                               engine="classic" if self.classic else "adaptive",
                               stop_reason="cancelled" if status is Status.CANCELLED else "no server",
                               duration_s=round(deadline.elapsed(), 3))

    def _data_for(self, direction: str) -> int:
        left = max(0, self.config.data_limit_bytes - self.bytes_used)
        other = "upload" if direction == "download" else "download"
        return left if other in self._measured else int(left * FIRST_DIRECTION_SHARE)

    def _run_engine(self, server: SpeedServer, direction: str, deadline: Deadline) -> BandwidthResult:
        common = dict(time_limit_s=max(0.1, deadline.remaining()), data_limit_bytes=self._data_for(direction),
                      cancel=self.cancel, progress=self.progress)
        if not self.classic:
            return measure_bandwidth(server, direction, streams=self.config.streams,
                                     start_streams=self.config.start_streams, ca_file=self.config.ca_file,
                                     **common)
        try:
            client = self._finder.speedtest_client(deadline)
        except (ServerUnavailable, Cancelled) as exc:
            cancelled = isinstance(exc, Cancelled)
            return BandwidthResult(direction=direction, engine="classic", server=server,
                                   status=Status.CANCELLED if cancelled else Status.ERROR,
                                   error="the test was cancelled" if cancelled else str(exc),
                                   stop_reason="cancelled" if cancelled else "server error")
        return measure_classic(server, direction, client=client, **common)

    def _should_fall_back(self, result: BandwidthResult, deadline: Deadline) -> bool:
        return (self.config.source == "auto" and not self.config.server_url
                and result.rate_mbps is None and result.status in (Status.ERROR, Status.TIMEOUT)
                and bool(self._candidates) and deadline.remaining() >= MIN_RETRY_S)
