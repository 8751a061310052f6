"""The check: runs the probes in phases and assembles one :class:`~connectcheck.model.CheckResult`.

A quick check sends a call-like stream (a second of call-paced packets over STUN: what the
lesson's sound would meet) while it checks DNS and the reachability of the platform, then
measures idle latency, jitter and loss one probe at a time (STUN over UDP, TCP connect to the
lesson platform), in a few seconds. A full check then chooses a speed server and measures download and upload,
probing latency all the while to get the latency under load.

Every section is recorded with its status and error; a failing section never stops the
others; cancel takes effect within a second; the whole check has a hard time bound.
"""

from __future__ import annotations

import dataclasses
import os
import statistics
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from connectcheck import __version__
from connectcheck.assess import Thresholds, assess_check
from connectcheck.config.profile import OrganisationProfile
from connectcheck.config.settings import Settings
from connectcheck.config.startup import thresholds_from_settings
from connectcheck.core.model import (
    BandwidthResult,
    CallResult,
    CheckKind,
    CheckResult,
    Connectivity,
    LatencyResult,
    LoadedLatency,
    Section,
    Status,
    Summary,
)
from connectcheck.core.stats import percentile
from connectcheck.core.tasks import Deadline, ProgressFn, report
from connectcheck.local import find_gateway, sample_local
from connectcheck.local.metered import Metered, read_metered
from connectcheck.local.sampler import EXTRA_TIME_S as LOCAL_EXTRA_TIME_S
from connectcheck.probes.call import measure_call
from connectcheck.probes.dns import resolve_hosts
from connectcheck.probes.firsthop import HopSampler, hop_target, measure_first_hop
from connectcheck.probes.igd import measure_router
from connectcheck.probes.latency import LatencySampler, LatencyTarget, measure_latency_one_at_a_time
from connectcheck.probes.nat import measure_nat
from connectcheck.probes.reachability import check_endpoints
from connectcheck.probes.speed import PROVIDER_TIME_S, SpeedConfig, SpeedSession
from connectcheck.probes.targets import choose_primary, idle_targets

# Approximate bytes on the wire for the small probes (IP and transport headers included), so
# that the data a check used can be reported honestly without counting every packet.
_PROBE_BYTES = {"stun": 2 * 28 + 20 + 44, "tcp": 5 * 60, "http": 2 * 52 + 400, "icmp": 2 * 92,
                "dns": 2 * 28 + 17 + 12}
_DNS_BYTES = 2 * 28 + 120
_REACH_BYTES = 8_000  # a TLS handshake with its certificate chain and one small HTTP exchange
_LOADED_INTERVAL_S = 0.1  # latency under load: a probe this often during each transfer

# Budgets (seconds) of the phases of a full check, so that the whole check fits its time limit
# (10 s by default) on a bad line too: the idle phase (round trips, DNS, platform, this computer),
# finding the speed server, idle round trips to it (TCP connect and HTTP, one at a time), and
# each direction (at most what is left, shared between the directions still to come, less the
# loaded-latency sampler's grace; a direction left less than _MIN_DIRECTION_S is not started).
_FULL_IDLE_BUDGET_S = 3.0  # of which the idle span is _QUICK_SHARE
_SERVER_BUDGET_S = 2.0
_SPEED_SERVER_IDLE_S = 0.6
_MIN_DIRECTION_S = 1.5
_SAMPLER_GRACE_S = 0.3
_LOSSY_START_STREAMS = 8  # what the engine starts with on a lossy or far line (speedtest-cli's count)
_FAR_RTT_MS = 60.0
_ENGINE_STOP_S = 0.5  # the engine may overrun its time limit by this much while its streams stop
# The call-like stream in the idle phase: how long it sends, how long it waits for the last
# answers, and the shortest idle span it is run in; the idle probes wait for DNS and the
# reachability checks at most until this share of the span.
_CALL_S = 1.0
_CALL_WAIT_S = 0.4
_CALL_MIN_SPAN_S = 2.0
_CALL_MIN_PACKETS = 10
_QUIET_SHARE = 0.6
# Share of the time bound each phase may use (the rest is slack for shutting down cleanly).
_QUICK_SHARE = 0.9
# speedtest-cli's own transfer (the "classic" engine) runs about 10 s per direction and cannot be
# stopped early at low rates (an upload ends only when its request completes), so it gets the
# time it takes on its own instead of our engine's bounds.
CLASSIC_DIRECTION_S = 15.0
CLASSIC_CHECK_S = 60.0
# Overrides the network.home_router setting ("off", "auto" or an address): for support, and for the
# tests, which must never probe the router of the machine they run on.
HOME_ROUTER_ENV = "CONNECTCHECK_HOME_ROUTER"
FIRST_HOP_S = 3.0  # the longest the idle first-hop measurement may take (it runs beside the others)
METERED_WAIT_S = 10.0  # the longest the speed test waits for the system to say whether it is metered
ROUTER_WINDOW_S = 1.0  # between the two readings of the router's counters
FIRST_HOP_PROBES = 60  # 20 ms apart: the idle first hop ends well inside the idle phase
NAT_S = 1.0  # the longest the NAT mapping test may take (beside the idle phase)


@dataclass
class CheckOptions:
    """Everything a check needs to know, resolved from settings, profile and command line."""

    kind: CheckKind = CheckKind.QUICK
    stun_servers: list[str] = field(default_factory=list)
    platform_urls: list[str] = field(default_factory=list)
    speed: SpeedConfig = field(default_factory=SpeedConfig)
    latency_probes: int = 50
    latency_interval_s: float = 0.04
    latency_timeout_s: float = 1.0
    icmp: bool = True
    time_limit_s: float = 5.0
    ca_file: str | None = None
    local: bool = True  # also look at this computer's programs, Wi-Fi and load
    metered_data_limit_bytes: int = 25_000_000  # the speed test's data on a metered connection
    metered: Callable[[], Metered] | None = read_metered  # asks the system (None: never metered)
    thresholds: Thresholds | None = None  # None: the bundled defaults
    # The home router: "off", "auto" (the default gateway of this computer's routing table) or its
    # address. Off unless asked for, so that a check built in code never probes a network it was
    # not pointed at; the settings ask for "auto".
    home_router: str = "off"
    # Also ask the router for its counters (UPnP: a multicast search on the home network). Like the
    # router itself, off unless the settings ask for it.
    router_counters: bool = False

    @classmethod
    def from_settings(
        cls, settings: Settings, profile: OrganisationProfile | None, kind: CheckKind
    ) -> CheckOptions:
        platform = settings["network.platform_urls"] or (list(profile.platform_urls) if profile else [])
        stun = list(profile.stun_servers) if profile else []
        stun += [s for s in settings["network.stun_servers"] if s not in stun]
        return cls(
            kind=kind,
            stun_servers=stun,
            platform_urls=platform,
            speed=SpeedConfig.from_settings(settings, profile.speed_server_url if profile else ""),
            latency_probes=settings["latency.probes"],
            latency_interval_s=settings["latency.interval_ms"] / 1000,
            latency_timeout_s=settings["latency.timeout_ms"] / 1000,
            icmp=settings["network.icmp"],
            time_limit_s=settings[
                "check.quick_time_limit_s" if kind is CheckKind.QUICK else "check.full_time_limit_s"
            ],
            thresholds=thresholds_from_settings(settings, profile),
            home_router=(router := os.environ.get(HOME_ROUTER_ENV) or settings["network.home_router"]),
            router_counters=router != "off",
            metered_data_limit_bytes=int(settings["speed.metered_data_limit_mb"] * 1_000_000),
        )


def platform_hosts(options: CheckOptions) -> list[str]:
    hosts: list[str] = []
    for url in options.platform_urls:
        host = url[5:].rpartition(":")[0] if url.startswith("stun:") else urlsplit(url).hostname
        if host and host not in hosts:
            hosts.append(host)
    return hosts


class _Progress:
    """Maps each phase's own 0..1 progress onto one bar for the whole check."""

    def __init__(self, listener: ProgressFn | None, weights: dict[str, float]) -> None:
        self.listener = listener
        total = sum(weights.values())
        self.spans: dict[str, tuple[float, float]] = {}
        start = 0.0
        for phase, weight in weights.items():
            self.spans[phase] = (start, weight / total)
            start += weight / total
        self.parallel: dict[str, float] = {}
        self.lock = threading.Lock()

    def phase(self, phase: str, label: str | None = None) -> ProgressFn:
        def inner(p: Any) -> None:
            with self.lock:
                start, width = self.spans[phase]
                report(self.listener, phase, start + width * p.fraction, p.message or (label or ""))
        return inner

    def shared(self, phase: str, part: str, parts: int) -> ProgressFn:
        """A listener for one of several probes running at once inside one phase."""
        def inner(p: Any) -> None:
            with self.lock:
                self.parallel[part] = p.fraction
                start, width = self.spans[phase]
                done = sum(self.parallel.values()) / parts
                report(self.listener, phase, start + width * done, p.message)
        return inner


def _run_parallel(jobs: dict[str, Callable[[], Any]]) -> dict[str, Any]:
    """Run the jobs in threads; a job that raises gives its exception as its result."""
    results: dict[str, Any] = {}

    def run(name: str, job: Callable[[], Any]) -> None:
        try:
            results[name] = job()
        except Exception as exc:
            results[name] = exc

    threads = [threading.Thread(target=run, args=item, name=f"check-{item[0]}", daemon=True)
               for item in jobs.items()]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def _section_from(items: list[Any], started: float) -> Section:
    """A section's status from its items: ok if any item worked, else the first failure."""
    duration = round(time.monotonic() - started, 3)
    if not items:
        return Section(Status.SKIPPED, "nothing to check", duration)
    statuses = [i.status for i in items]
    if Status.OK in statuses:
        return Section(Status.OK, None, duration)
    first = items[0]
    return Section(first.status, first.error, duration)


def _crashed(exc: BaseException, started: float) -> Section:
    return Section(Status.ERROR, f"this part of the check failed unexpectedly: {exc}",
                   round(time.monotonic() - started, 3))


def pooled_loss(primary: LatencyResult, call: CallResult | None) -> float | None:
    """The primary target's loss over its idle probes and, when the call-like stream went to
    the same server, the stream's packets too (never answered, not the late ones): some 60
    packets instead of 10, on the same path. A 3 % loss is 0 or 10 % from ten probes."""
    sent, lost = primary.samples_sent, primary.samples_sent - primary.samples
    if (call is not None and primary.method == "stun" and call.target == primary.target
            and call.status in (Status.OK, Status.CANCELLED) and call.packets_sent):
        sent += call.packets_sent
        lost += call.packets_sent - call.packets_answered
    return round(100.0 * lost / sent, 2) if sent else primary.loss_pct


def loaded_latency(
    samples: list[tuple[float, float | None]], window: tuple[float, float], idle_ms: float | None,
    sampler_target: LatencyTarget,
) -> LoadedLatency:
    """Latency under load from sampler samples sent during the measuring window."""
    start, end = window
    inside = [(t, rtt) for t, rtt in samples if start <= t <= end]
    answered = sorted(rtt for _, rtt in inside if rtt is not None)
    out = LoadedLatency(samples=len(answered), samples_sent=len(inside), method=sampler_target.method,
                        target=sampler_target.label)
    if answered:
        out.rtt_ms_median = round(statistics.median(answered), 3)
        out.rtt_ms_p90 = round(percentile(answered, 90), 3)
        out.rpm = round(60_000 / max(out.rtt_ms_median, 0.001), 1)
        if idle_ms is not None:
            out.rtt_increase_ms = round(max(0.0, out.rtt_ms_median - idle_ms), 3)
    return out


class Check:
    """One run of a check. ``run()`` blocks; call it off the GUI thread."""

    def __init__(self, options: CheckOptions, *, cancel: threading.Event | None = None,
                 progress: ProgressFn | None = None, previous: CheckResult | None = None) -> None:
        if options.kind is CheckKind.FULL and options.speed.engine == "classic":
            options = dataclasses.replace(
                options, time_limit_s=max(options.time_limit_s, CLASSIC_CHECK_S),
                speed=dataclasses.replace(options.speed,
                                          time_limit_s=max(options.speed.time_limit_s, CLASSIC_DIRECTION_S)))
        self.options = options
        self.previous = previous
        self.cancel = cancel or threading.Event()
        weights = {"latency": 3.0}
        if options.kind is CheckKind.FULL:
            weights.update({"server": 1.5, "download": 4.0, "upload": 4.0})
        self.progress = _Progress(progress, weights)
        self.result = CheckResult(kind=options.kind, started_at=datetime.now().astimezone().isoformat(
            timespec="seconds"), app_version=__version__)
        self._metered: list[Metered | None] = []  # asked beside the idle phase (see _ask_metered)
        self._metered_thread: threading.Thread | None = None

    def _ask_metered(self) -> None:
        """Whether the connection is metered, asked beside the idle phase for a full check (Windows
        asks PowerShell, which takes a second to start): the speed test waits for it only if it is
        not in by then."""
        ask = self.options.metered
        if self.options.kind is not CheckKind.FULL or ask is None:
            return

        def run() -> None:
            try:
                self._metered.append(ask())
            except Exception as exc:  # the system's answer is a help, never a reason to fail
                self._metered.append(Metered(None, f"the system could not be asked ({exc})"))

        self._metered_thread = threading.Thread(target=run, daemon=True, name="check-metered")
        self._metered_thread.start()

    def _metered_answer(self) -> Metered | None:
        if self._metered_thread is None:
            return self.options.metered() if self.options.metered is not None else None
        self._metered_thread.join(METERED_WAIT_S)
        return self._metered[0] if self._metered else None

    # --- the phases ------------------------------------------------------------------------

    def _idle_phase(self, deadline: Deadline) -> None:
        """Latency, DNS, reachability and this computer's programs, all at once (the programs
        are watched while the line is idle, so connectcheck's own traffic never hides them)."""
        o = self.options
        targets = idle_targets(o.stun_servers, o.platform_urls, o.icmp)
        hosts = platform_hosts(o)
        span = min(deadline.remaining(), max(1.0, deadline.remaining() * _QUICK_SHARE))
        parts = 4 if o.local else 3
        started = time.monotonic()
        quiet = threading.Event()  # set once DNS and the reachability checks are done
        pending = {"dns", "reachability"}
        lock = threading.Lock()

        def network(name: str, job: Callable[[], Any]) -> Callable[[], Any]:
            def run() -> Any:
                try:
                    return job()
                finally:
                    with lock:
                        pending.discard(name)
                        if not pending:
                            quiet.set()
            return run

        jobs: dict[str, Callable[[], Any]] = {
            "latency": lambda: self._latency_job(targets, span, quiet, parts),
            "dns": network("dns", lambda: resolve_hosts(
                hosts, timeout_s=min(2.0, span), cancel=self.cancel,
                progress=self.progress.shared("latency", "dns", parts))),
            "reachability": network("reachability", lambda: check_endpoints(
                o.platform_urls, timeout_s=min(3.0, span), time_limit_s=span, cancel=self.cancel,
                progress=self.progress.shared("latency", "reachability", parts), ca_file=o.ca_file)),
        }
        if o.local:
            jobs["local"] = lambda: sample_local(
                window_s=max(1.0, min(3.0, span - LOCAL_EXTRA_TIME_S)), cancel=self.cancel,
                progress=self.progress.shared("latency", "local", parts), exclude_pids={os.getpid()})
        done = _run_parallel(jobs)
        r = self.result
        if "local" in done:
            local = done["local"]
            if isinstance(local, Exception):
                r.sections["local"] = _crashed(local, started)
            else:
                r.local = local
                r.sections["local"] = Section(local.status, local.error, round(time.monotonic() - started, 3))
        if isinstance(done["latency"], tuple):
            done["latency"], call = done["latency"]
            if isinstance(call, Section):
                r.sections["call"] = call
            else:
                r.call = call
                r.sections["call"] = Section(call.status, call.error, call.duration_s)
                r.bytes_used += call.packets_sent * (call.packet_bytes + 28) + call.packets_answered * 80
        elif isinstance(done["latency"], Exception):
            r.sections["call"] = _crashed(done["latency"], started)
        for name in ("latency", "dns", "reachability"):
            value = done[name]
            if isinstance(value, Exception):
                r.sections[name] = _crashed(value, started)
                continue
            setattr(r, name, value)
            r.sections[name] = _section_from(value, started)
        for item in r.latency:
            r.bytes_used += item.samples_sent * _PROBE_BYTES.get(item.method, 100)
        r.bytes_used += len(r.dns) * _DNS_BYTES + len(r.reachability) * _REACH_BYTES
        # ICMP is a bonus: where the system does not allow it, one note instead of a failure per host.
        no_icmp = [x for x in r.latency if x.method == "icmp" and x.status is Status.UNAVAILABLE]
        if no_icmp:
            r.latency = [x for x in r.latency if x not in no_icmp]
            text = no_icmp[0].error or "Ping is not available here (the other measurements do not need it)."
            r.notes.append(text[:1].upper() + text[1:])

    def _speed_config(self) -> SpeedConfig:
        """The speed test's config; on a metered connection (a phone's hotspot) its data is capped,
        and the result says so."""
        o = self.options
        found = self._metered_answer()
        if found is None or not found.metered or o.speed.data_limit_bytes <= o.metered_data_limit_bytes:
            return o.speed
        r = self.result
        r.metered = found.how
        cap = o.metered_data_limit_bytes
        r.notes.append(f"This connection is metered ({found.how}): the speed test moved at most "
                       f"{cap / 1e6:g} MB instead of {o.speed.data_limit_bytes / 1e6:g} MB, so fast "
                       "lines may read a little slow.")
        return dataclasses.replace(o.speed, data_limit_bytes=cap)

    def _latency_job(self, targets: list[LatencyTarget], span: float, quiet: threading.Event,
                     parts: int) -> tuple[list[LatencyResult], CallResult | Section]:
        """The call-like stream to the first STUN server (while DNS and the reachability checks
        run: a call shares the line too), then, once they are done (or :data:`_QUIET_SHARE` of
        the span has gone), the idle round trips one probe at a time over all targets, for the
        rest of the span. Probes in parallel would queue behind each other's delay spikes on an
        order-keeping line, and behind the other checks' packets."""
        o = self.options
        t0 = time.monotonic()
        call = self._call(targets, span)
        quiet.wait(max(0.0, t0 + span * _QUIET_SHARE - time.monotonic()))
        left = max(0.5, span - (time.monotonic() - t0))
        hint = call.rtt_ms_median if isinstance(call, CallResult) and call.packets_answered >= 5 else None
        idle = measure_latency_one_at_a_time(
            targets, count=o.latency_probes, timeout_s=o.latency_timeout_s, time_limit_s=left,
            cancel=self.cancel, progress=self.progress.shared("latency", "latency", parts), ca_file=o.ca_file,
            expected_rtt_ms=hint)
        return idle, call

    def _call(self, targets: list[LatencyTarget], span: float) -> CallResult | Section:
        """The call-like stream's result, or the section saying why it was not sent."""
        stun_target = next((t for t in targets if t.method == "stun"), None)
        if stun_target is None:
            return Section(Status.SKIPPED, "no STUN server to send a call-like stream to (it needs one)")
        if span < _CALL_MIN_SPAN_S:
            return Section(Status.SKIPPED, f"not sent: the check's time limit leaves {span:.1f} s for the "
                                           f"idle measurements, it needs {_CALL_MIN_SPAN_S:.1f} s")
        return measure_call(stun_target, duration_s=_CALL_S,
                            timeout_s=min(_CALL_WAIT_S, self.options.latency_timeout_s), cancel=self.cancel)

    def _bandwidth_phase(self, deadline: Deadline) -> None:
        o = self.options
        r = self.result
        phase = {"name": "server"}  # which phase the speed session's progress belongs to now
        # its time limit is set per direction below; on a lossy or far line each TCP stream is
        # held back (by its losses, by a slow start over a long round trip) and a short test
        # spent doubling from two streams under-reads, so it starts with speedtest-cli's eight.
        # Its data cap is what the check's cap leaves for it.
        config = dataclasses.replace(self._speed_config_within_cap(), start_streams=self._start_streams())
        session = SpeedSession(config, cancel=self.cancel,
                               progress=lambda p: self.progress.phase(phase["name"])(p))
        started = time.monotonic()
        try:
            r.sections["server"] = session.choose_server(
                time_limit_s=min(_SERVER_BUDGET_S, deadline.remaining()))
        except Exception as exc:
            r.sections["server"] = _crashed(exc, started)
        r.engine = "classic" if o.speed.engine == "classic" else "adaptive"
        r.provider = session.provider(min(PROVIDER_TIME_S, max(0.1, deadline.remaining() - 3.0)))
        if session.server is None:
            for direction in ("download", "upload"):
                r.sections[direction] = Section(Status.SKIPPED, "no speed server could be used")
            r.speed_servers_tried = list(session.tried)
            r.bytes_used += session.bytes_used
            return
        sampler_target, idle_ms = self._loaded_target(session.server.url)
        directions = ("download", "upload")
        for i, direction in enumerate(directions):
            if self.cancel.is_set():
                r.sections[direction] = Section(Status.CANCELLED, "not run: the check was cancelled")
                continue
            budget = self._direction_budget(deadline, len(directions) - i)
            if budget < _MIN_DIRECTION_S:
                r.sections[direction] = Section(Status.TIMEOUT, "the check ran out of time before this part")
                continue
            config.time_limit_s = budget
            phase["name"] = direction
            r.bandwidth.append(self._measure_direction(session, direction, sampler_target, idle_ms))
            last = r.bandwidth[-1]
            r.sections[direction] = Section(last.status, last.error, round(last.duration_s, 3))
        r.speed_servers_tried = list(session.tried)
        r.bytes_used += session.bytes_used

    def _start_streams(self) -> int | None:
        """Streams the engine starts with: :data:`_LOSSY_START_STREAMS` when the idle phase saw
        loss or a round trip of :data:`_FAR_RTT_MS` or more, else the engine's own choice."""
        primary = choose_primary(self.result.latency)
        if primary is None:
            return None
        lossy = (pooled_loss(primary, self.result.call) or 0.0) > 0
        far = (primary.rtt_ms_median or 0.0) >= _FAR_RTT_MS
        return _LOSSY_START_STREAMS if lossy or far else None

    def _direction_budget(self, deadline: Deadline, directions_left: int) -> float:
        """Seconds the next direction may take: the configured cap, or its share of what is left."""
        if self.options.speed.engine == "classic":
            return min(self.options.speed.time_limit_s, deadline.remaining())
        share = deadline.remaining() / directions_left - _SAMPLER_GRACE_S - _ENGINE_STOP_S
        return max(0.0, min(self.options.speed.time_limit_s, share))
    def _speed_config_within_cap(self) -> SpeedConfig:
        """The speed test's settings with the data cap left for it: the check's cap less what
        the check moved already and what its latency probes will move during the transfers
        (the cap is for the whole check: nothing may take it past)."""
        speed = self._speed_config()  # capped first on a metered connection
        probes = 2 * (speed.time_limit_s / _LOADED_INTERVAL_S + 1) * max(_PROBE_BYTES.values())
        idle = 2 * 10 * max(_PROBE_BYTES.values())  # the speed server's idle round trips
        left = speed.data_limit_bytes - self.result.bytes_used - int(probes) - idle
        return dataclasses.replace(speed, data_limit_bytes=max(0, left))

    def _speed_server_latency(self, url: str) -> LatencyResult:
        """TCP connect and HTTP round trips to the chosen speed server, while the line is idle.

        Returns the TCP result: the baseline when latency under load is probed by TCP.
        """
        targets = [LatencyTarget.from_url("tcp", url), LatencyTarget.from_url("http", url)]
        idle = measure_latency_one_at_a_time(targets, count=6, timeout_s=1.0,
                                             time_limit_s=_SPEED_SERVER_IDLE_S, cancel=self.cancel,
                                             ca_file=self.options.ca_file)
        self.result.latency.extend(idle)
        self.result.bytes_used += sum(x.samples_sent * _PROBE_BYTES[x.method] for x in idle)
        return idle[0]

    def _loaded_target(self, server_url: str) -> tuple[LatencyTarget, float | None]:
        """What to probe during the transfer, and its idle median to compare with, taken the
        same way (same target and method, one probe at a time): STUN to the media path's
        server if UDP answered when idle (the path the lesson's sound takes; its idle figure is
        the headline), otherwise TCP connects to the speed server, measured idle first."""
        primary = choose_primary(self.result.latency)
        if primary is not None and primary.method == "stun":
            return LatencyTarget.from_host_port("stun", primary.target), primary.rtt_ms_median
        tcp_idle = self._speed_server_latency(server_url)
        return LatencyTarget.from_url("tcp", server_url), tcp_idle.rtt_ms_median

    def _measure_direction(self, session: SpeedSession, direction: str, target: LatencyTarget,
                           idle_ms: float | None) -> BandwidthResult:
        o = self.options
        sampler = LatencySampler(target, interval_s=_LOADED_INTERVAL_S,
                                 timeout_s=max(2.0, o.latency_timeout_s), ca_file=o.ca_file,
                                 grace_s=_SAMPLER_GRACE_S)
        sampler.start()
        hop = self._hop_sampler()
        t0 = time.monotonic()
        try:
            result = session.measure(direction)
        finally:
            samples = sampler.stop()
            self.result.bytes_used += sampler.bytes_used
            hop_samples = self._stop_hop_sampler(hop)
        t0 = session.engine_started_at or t0  # later than t0 when a first server failed
        start = t0 + (result.ramp_up_s or 0.0)
        end = t0 + max(result.duration_s, (result.ramp_up_s or 0.0) + 0.5)
        if result.rate_mbps is not None:
            result.loaded = loaded_latency(samples, (start, end), idle_ms, target)
            self._record_loaded_hop(direction, hop, hop_samples, (start, end))
        return result

    # --- the home router (first hop) ----------------------------------------------------------

    def _start_home_evidence(self, span_s: float) -> list[threading.Thread]:
        """Find the router, and start probing it and reading its counters beside the idle phase
        (adding nothing to the check's time: both end within ``span_s``, inside the idle phase's
        own span)."""
        started = time.monotonic()
        nat = self._start_nat(span_s, started)
        choice = self.options.home_router
        if choice == "off":
            return nat
        started = time.monotonic()
        found = threading.Event()
        where: dict[str, Any] = {}

        def locate() -> None:
            if choice == "auto":
                gateway = find_gateway(self.cancel)
                where.update(address=None, interface=None, source=None)
                if gateway is not None:
                    where.update(address=gateway.address, interface=gateway.interface, source=gateway.source)
            else:
                where.update(address=choice, interface=None, source="given")

        def run() -> None:
            try:
                try:
                    locate()
                finally:
                    found.set()
                address, interface, source = where["address"], where["interface"], where["source"]
                left = max(0.5, span_s - (time.monotonic() - started))
                hop = measure_first_hop(address, interface=interface, source=source, time_limit_s=left,
                                        count=FIRST_HOP_PROBES,
                                        cancel=self.cancel, icmp_allowed=None if self.options.icmp else False)
                self.result.first_hop = hop
                self.result.sections["first_hop"] = Section(hop.status, hop.error,
                                                            round(time.monotonic() - started, 3))
                if hop.idle is not None:
                    self.result.bytes_used += hop.idle.samples_sent * _PROBE_BYTES.get(hop.method or "", 100)
            except Exception as exc:
                self.result.sections["first_hop"] = _crashed(exc, started)

        def counters() -> None:
            try:
                found.wait(1.0)
                left = max(1.0, span_s - (time.monotonic() - started))
                router = measure_router(gateway=where.get("address"), cancel=self.cancel,
                                        window_s=min(ROUTER_WINDOW_S, left - 1.0), time_limit_s=left)
                self.result.router = router
                self.result.sections["router"] = Section(router.status, router.error,
                                                         round(time.monotonic() - started, 3))
            except Exception as exc:
                self.result.sections["router"] = _crashed(exc, started)

        threads = [threading.Thread(target=run, name="check-first-hop", daemon=True)]
        if self.options.router_counters:
            threads.append(threading.Thread(target=counters, name="check-router", daemon=True))
        for thread in threads:
            thread.start()
        return nat + threads

    def _start_nat(self, span_s: float, started: float) -> list[threading.Thread]:
        """How this network maps calls, from the STUN servers (two or more), beside the idle phase."""
        servers = list(dict.fromkeys(self.options.stun_servers))
        if len(servers) < 2:
            return []

        def run() -> None:
            try:
                nat = measure_nat(servers, cancel=self.cancel, time_limit_s=min(NAT_S, span_s))
                self.result.nat = nat
                self.result.bytes_used += nat.requests * _PROBE_BYTES["stun"]
                took = round(time.monotonic() - started, 3)
                self.result.sections["nat"] = Section(nat.status, nat.error, took)
            except Exception as exc:
                self.result.sections["nat"] = _crashed(exc, started)

        thread = threading.Thread(target=run, name="check-nat", daemon=True)
        thread.start()
        return [thread]

    def _finish_home_evidence(self, threads: list[threading.Thread]) -> None:
        for thread in threads:
            thread.join(FIRST_HOP_S + 1.0)
        router, local = self.result.router, self.result.local
        if router is None or router.status is not Status.OK or local is None:
            return
        mine = [i for i in local.interfaces if i.is_default] or [
            i for i in local.interfaces if i.kind not in ("loopback", "vpn")]
        if not mine or any(i.down_mbps is None or i.up_mbps is None for i in mine):
            return
        router.own_down_mbps = round(sum(i.down_mbps or 0.0 for i in mine), 3)
        router.own_up_mbps = round(sum(i.up_mbps or 0.0 for i in mine), 3)
        router.others_down_mbps = round(max(0.0, (router.down_mbps or 0.0) - router.own_down_mbps), 3)
        router.others_up_mbps = round(max(0.0, (router.up_mbps or 0.0) - router.own_up_mbps), 3)

    def _hop_sampler(self) -> HopSampler | None:
        """The router probed all along a transfer, when it answered while idle."""
        target = hop_target(self.result.first_hop) if self.result.first_hop else None
        if target is None:
            return None
        hop = HopSampler(target, interval_s=0.1, timeout_s=1.0)
        hop.start()
        return hop

    def _stop_hop_sampler(self, hop: HopSampler | None) -> list[tuple[float, float | None]]:
        if hop is None:
            return []
        samples = hop.stop()
        self.result.bytes_used += hop.bytes_used
        return samples

    def _record_loaded_hop(self, direction: str, hop: HopSampler | None,
                           samples: list[tuple[float, float | None]], window: tuple[float, float]) -> None:
        first_hop = self.result.first_hop
        if hop is None or first_hop is None or first_hop.idle is None:
            return
        idle_ms = first_hop.idle.rtt_ms_median
        first_hop.loaded[direction] = loaded_latency(samples, window, idle_ms, hop.target)

    # --- assembling --------------------------------------------------------------------------

    def _summarise(self) -> None:
        r = self.result
        s = Summary()
        primary = choose_primary(r.latency)
        if primary is not None:
            s.rtt_ms, s.jitter_ms, s.loss_pct = primary.rtt_ms_median, primary.jitter_ms, primary.loss_pct
            s.latency_target = f"{primary.method} {primary.target}"
            s.loss_pct = pooled_loss(primary, r.call)
        times = [d.dns_ms for d in r.dns if d.dns_ms is not None and d.status is Status.OK]
        s.dns_ms = round(statistics.median(times), 3) if times else None
        web = [e for e in r.reachability if not e.url.startswith("stun:")]
        s.platform_reachable = all(e.reachable for e in web) if web else None
        call = r.call
        # a call stream cut short (cancelled) still speaks for itself from this many packets;
        # one with no answer at all is UDP blocked (the sound then goes over TCP, the idle figures say)
        if call is not None and call.packets_sent >= _CALL_MIN_PACKETS and call.packets_answered:
            s.call_rtt_ms, s.call_jitter_ms = call.rtt_ms_median, call.jitter_ms
            s.call_loss_pct = call.effective_loss_pct
        stun = [x for x in r.latency if x.method == "stun"]
        s.udp_ok = any(x.samples > 0 for x in stun) if stun else None
        loaded = []
        for b in r.bandwidth:
            if b.status is not Status.OK or b.rate_mbps is None:
                continue
            setattr(s, f"{b.direction}_mbps", b.rate_mbps)
            if b.loaded and b.loaded.rtt_ms_median is not None:
                setattr(s, f"loaded_rtt_ms_{b.direction}", b.loaded.rtt_ms_median)
                loaded.append(b.loaded)
        increases = [x.rtt_increase_ms for x in loaded if x.rtt_increase_ms is not None]
        s.rtt_increase_ms = max(increases) if increases else None
        rpms = [x.rpm for x in loaded if x.rpm is not None]
        s.rpm = min(rpms) if rpms else None
        r.summary = s

    def _connectivity(self) -> Connectivity:
        """Offline when nothing answered over the network. A name lookup alone proves nothing
        (an address needs no lookup, and the local resolver may answer from its cache)."""
        r = self.result
        answered = [x.samples > 0 for x in r.latency] + [e.reachable for e in r.reachability]
        if not answered:
            return Connectivity.UNKNOWN
        if not any(answered):
            return Connectivity.OFFLINE
        if all(answered) and all(d.status is Status.OK for d in r.dns):
            return Connectivity.ONLINE
        return Connectivity.LIMITED

    def run(self) -> CheckResult:
        o = self.options
        r = self.result
        t0 = time.monotonic()
        deadline = Deadline(o.time_limit_s, self.cancel)
        try:
            quick_span = (o.time_limit_s if o.kind is CheckKind.QUICK
                          else min(_FULL_IDLE_BUDGET_S, o.time_limit_s / 3))
            self._ask_metered()
            home = self._start_home_evidence(min(FIRST_HOP_S, quick_span * _QUICK_SHARE))
            self._idle_phase(deadline.sub(quick_span))
            self._finish_home_evidence(home)
            offline = self._connectivity() is Connectivity.OFFLINE
            if o.kind is CheckKind.FULL:
                if offline:
                    for name in ("server", "download", "upload"):
                        r.sections[name] = Section(Status.SKIPPED, "no connection")
                elif self.cancel.is_set():
                    for name in ("server", "download", "upload"):
                        r.sections[name] = Section(Status.CANCELLED, "not run: the check was cancelled")
                else:
                    self._bandwidth_phase(deadline)
            self._summarise()
            r.connectivity = self._connectivity()
            if r.connectivity is Connectivity.OFFLINE:
                r.notes.insert(0, "No connection: none of the servers answered. "
                                  "Check that this computer is connected to the internet.")
            elif r.summary.udp_ok is False:
                r.notes.append("UDP looks blocked on this network: the lesson's sound and video will go "
                               "through a relay over TCP, with more delay.")
            r.status = Status.CANCELLED if self.cancel.is_set() else Status.OK
            r.assessment = assess_check(r, thresholds=o.thresholds, previous=self.previous)
        except Exception as exc:
            r.status = Status.ERROR
            r.notes.append(f"The check could not finish: {exc}")
        r.duration_s = round(time.monotonic() - t0, 3)
        report(self.progress.listener, "done", 1.0, "Check finished")
        return r


def run_check(options: CheckOptions, *, cancel: threading.Event | None = None,
              progress: ProgressFn | None = None, previous: CheckResult | None = None) -> CheckResult:
    """Run a check with these options and return its result with its verdicts and advice
    (compared with ``previous`` when given). Never raises for network trouble."""
    return Check(options, cancel=cancel, progress=progress, previous=previous).run()
