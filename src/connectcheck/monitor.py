"""Lesson monitoring: a light sample every few seconds while a lesson runs, and notifications
that do not flood.

Each sample is

* a short burst of ``probes`` round trips on the media path: STUN over UDP to the server the
  check would choose (the one answering best), or TCP connects to the lesson platform when UDP
  is blocked. Its names are looked up only when the target is chosen (at the start, every
  ``reselect_s``, and when the target stops answering): the bursts themselves go to the address
  found;
* this computer's traffic on the default network card and the program moving the most
  (:class:`~connectcheck.local.LocalSampler`, which reads local counters and sends nothing);
* the home router (:class:`HomeWatch`, when ``home_router`` is not "off"): as many probes as the
  burst, at the same time, by the way the router answers (ping where allowed, a DNS query to its
  forwarder, or a connection to its web page, chosen once as the check chooses it), and, when
  ``router_counters`` is on, one reading of its UPnP byte counters, so that the household's rate
  since the sample before, less this computer's own, is other devices' use of the line;
* the lesson platform's names (:class:`NameWatch`), looked up through this computer's resolver, as
  the browser looks them up, every ``names_every_s`` (15 s), and at every sample while one cannot
  be found: a network whose name service stops giving the platform (a filter switched on, a
  router's DNS that fails) leaves the call route answering by address, but the browser cannot
  reach the platform. A few hundred bytes a minute;
* the states of sound, video and the whiteboard, and the alerts due, judged by
  :class:`~connectcheck.assess.lesson.LessonJudge` (how: :mod:`connectcheck.assess.lesson`).

Everything runs in the monitor's own thread; the callbacks are called from it (the window marshals
them to its thread), and a callback that raises is logged, never the end of monitoring.
"""

from __future__ import annotations

import ipaddress
import logging
import math
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime
from urllib.parse import urlsplit

from connectcheck.assess.lesson import Burst, HomeReading, LessonJudge, LocalTraffic, NamesReading
from connectcheck.assess.thresholds import Thresholds
from connectcheck.check import CheckOptions
from connectcheck.config.profile import OrganisationProfile
from connectcheck.config.settings import Settings
from connectcheck.core.model import (
    CheckKind,
    Connectivity,
    LatencyResult,
    LessonAlert,
    LessonRecord,
    LocalFindings,
    MonitorSample,
    RouterCounters,
    Status,
)
from connectcheck.core.tasks import Cancelled, Deadline
from connectcheck.core.words import join_words
from connectcheck.history import History, HistoryError
from connectcheck.local import LocalSampler, find_gateway
from connectcheck.local.sampler import STEP_S
from connectcheck.probes import igd
from connectcheck.probes.dns import resolve_hosts
from connectcheck.probes.firsthop import NO_GATEWAY_TEXT, UNKNOWN_TEXT, HopPorts, choose_target
from connectcheck.probes.latency import LatencyTarget, measure_latency
from connectcheck.probes.targets import choose_primary, latency_targets

log = logging.getLogger(__name__)

MONITOR_METHODS = ("stun", "tcp")  # the media path over UDP, or TCP connects when UDP is blocked
STOP_JOIN_S = 1.0
MAX_UNWRITTEN = 5000  # samples and alerts kept for a later write while the history refuses them


# ---------------------------------------------------------------------------------------------
# options


@dataclass
class MonitorOptions:
    """What lesson monitoring measures, how often, and when it tells."""

    interval_s: float = 5.0
    probes: int = 10  # round trips in each sample's burst
    probe_interval_s: float = 0.04  # between two probes of a burst
    probe_timeout_s: float = 1.0  # a probe unanswered after this counts as lost
    alert_after_s: float = 20.0
    alert_gap_s: float = 120.0
    stun_servers: list[str] = field(default_factory=list)
    platform_urls: list[str] = field(default_factory=list)  # TCP connects when UDP is blocked
    thresholds: Thresholds | None = None  # None: the bundled defaults
    reselect_s: float = 300.0  # the target is chosen again this often (back to UDP, new addresses)
    local: bool = True  # also sample this computer's traffic and programs
    # The home router: "off", "auto" (this computer's default gateway) or its address; off unless
    # the settings ask (as for the check), so monitoring built in code probes no network it was
    # not pointed at. ``router_counters``: also read its UPnP counters (a multicast search).
    home_router: str = "off"
    router_counters: bool = False
    icmp: bool = True  # ping the router where the system allows it without privileges
    router_ports: HopPorts = field(default_factory=HopPorts)  # its DNS forwarder and web page (tests: others)
    igd_location: str | None = None  # the router's UPnP description, known (tests); None: SSDP search
    names_every_s: float = 15.0  # the platform's names looked up again (every sample while one fails)
    names_timeout_s: float = 2.0  # a name not found within this counts as not found

    @property
    def loss_window_s(self) -> float:
        """Loss is judged over this many seconds of samples (at least six bursts)."""
        return max(30.0, 6 * self.interval_s)

    @property
    def burst_limit_s(self) -> float:
        """The longest one burst may take: sending, then waiting for the last answer."""
        return self.probes * self.probe_interval_s + self.probe_timeout_s + 0.3

    @classmethod
    def from_settings(cls, settings: Settings, profile: OrganisationProfile | None) -> MonitorOptions:
        """The ``monitor.*`` settings, with the servers and thresholds the check would use."""
        check = CheckOptions.from_settings(settings, profile, CheckKind.QUICK)
        return cls(
            interval_s=settings["monitor.interval_s"],
            probes=settings["monitor.probes"],
            probe_interval_s=check.latency_interval_s,
            probe_timeout_s=check.latency_timeout_s,
            alert_after_s=settings["monitor.alert_after_s"],
            alert_gap_s=settings["monitor.alert_gap_s"],
            stun_servers=check.stun_servers,
            platform_urls=check.platform_urls,
            thresholds=check.thresholds,
            home_router=check.home_router,
            router_counters=check.router_counters,
            icmp=check.icmp,
        )


# ---------------------------------------------------------------------------------------------
# what a sample measures (the probe and the local reader can be replaced, e.g. by fakes in tests)


ProbeFn = Callable[[threading.Event], Burst]
LocalFn = Callable[[threading.Event], LocalTraffic]
HomeFn = Callable[[threading.Event], HomeReading]
NamesFn = Callable[[threading.Event], NamesReading]
HOP_TIMEOUT_S = 0.5  # a home router answers in milliseconds: a probe unanswered after this is lost
IGD_FIND_S = 2.5  # the UPnP search and the router's description, once (beside a burst)
IGD_READ_S = 1.0  # one reading of the counters


class MediaPathProbe:
    """The default probe: bursts to the media path's server, chosen as the check chooses it.

    The target is chosen by one burst to every STUN server and every platform address at once
    (:func:`~connectcheck.probes.targets.choose_primary`: STUN if any answered, else TCP connect), then
    pinned to the address it had; it is chosen again every ``reselect_s`` and as soon as a
    burst gets no answer at all.
    """

    def __init__(self, options: MonitorOptions) -> None:
        self.options = options
        self._target: LatencyTarget | None = None
        self._chosen_at = -math.inf
        self._udp_ok: bool | None = None

    def candidates(self) -> list[LatencyTarget]:
        """STUN to every STUN server, then TCP connect to every platform address (as the check)."""
        o = self.options
        return [t for t in latency_targets(o.stun_servers, o.platform_urls) if t.method in MONITOR_METHODS]

    def __call__(self, cancel: threading.Event) -> Burst:
        if self._target is not None and time.monotonic() - self._chosen_at < self.options.reselect_s:
            result = self._measure([self._target], cancel)[0]
            if result.samples or cancel.is_set():
                return self._burst(result)
        return self._choose(cancel)

    def _measure(self, targets: list[LatencyTarget], cancel: threading.Event) -> list[LatencyResult]:
        o = self.options
        return measure_latency(targets, count=o.probes, interval_s=o.probe_interval_s,
                               timeout_s=o.probe_timeout_s, time_limit_s=o.burst_limit_s, cancel=cancel)

    def _burst(self, result: LatencyResult, connectivity: Connectivity = Connectivity.ONLINE) -> Burst:
        error = result.error if not result.samples or result.status is not Status.OK else None
        return Burst(list(result.rtt_ms_samples), result.method, result.target, connectivity, self._udp_ok,
                     error, rtt_ms=result.rtt_ms_median, jitter_ms=result.jitter_ms)

    def _choose(self, cancel: threading.Event) -> Burst:
        candidates = self.candidates()
        self._target = None
        if not candidates:
            return Burst(connectivity=Connectivity.UNKNOWN,
                         error="no server to measure against: set network.stun_servers or the platform")
        results = self._measure(candidates, cancel)
        stun = [r for r in results if r.method == "stun"]
        self._udp_ok = any(r.samples for r in stun) if stun else None
        primary = choose_primary(results)
        if primary is None:
            if cancel.is_set():
                return Burst(connectivity=Connectivity.UNKNOWN, error="stopped")
            errors = join_words([f"{r.target}: {r.error}" for r in results if r.error], last="; ")
            burst = self._burst(results[0], Connectivity.OFFLINE)
            burst.error = f"no server answered ({errors})" if errors else "no server answered"
            return burst
        chosen = candidates[results.index(primary)]
        self._target = replace(chosen, host=primary.address or chosen.host, label=chosen.name)
        self._chosen_at = time.monotonic()
        return self._burst(primary)


class HomeWatch:
    """The home router beside each burst (see the module doc); every part "not measured" when it
    cannot be had, never a fault. The way to reach the router, and the router's UPnP service, are
    looked for again every ``reselect_s`` when they were not found, and as soon as a burst to the
    router gets no answer at all."""

    def __init__(self, options: MonitorOptions) -> None:
        self.options = options
        self._target: LatencyTarget | None = None
        self._looked_at = -math.inf
        self._igd: igd.Igd | None = None
        self._igd_looked_at = -math.inf
        self._line: tuple[float | None, float | None] = (None, None)
        self._reading: igd.Reading | None = None
        self.note: str | None = None  # why the router is not measured, in plain words

    def _gateway(self, cancel: threading.Event) -> str | None:
        choice = self.options.home_router
        if choice != "auto":
            return choice
        found = find_gateway(cancel)
        return found.address if found is not None else None

    def __call__(self, cancel: threading.Event) -> HomeReading:
        o = self.options
        if self._target is None and time.monotonic() - self._looked_at >= o.reselect_s:
            self._looked_at = time.monotonic()
            gateway = self._gateway(cancel)
            if gateway is None:
                self.note = NO_GATEWAY_TEXT
            else:
                self._target, _ = choose_target(gateway, cancel=cancel, ports=o.router_ports,
                                                icmp_allowed=None if o.icmp else False)
                self.note = None if self._target is not None else UNKNOWN_TEXT
        out = HomeReading(error=self.note)
        counters = threading.Thread(target=self._counters, args=(out, cancel), name="monitor-router",
                                    daemon=True) if o.router_counters and self._target is not None else None
        if counters is not None:
            counters.start()
        if self._target is not None:
            result = measure_latency([self._target], count=o.probes, interval_s=o.probe_interval_s,
                                     timeout_s=HOP_TIMEOUT_S, time_limit_s=o.burst_limit_s, cancel=cancel)[0]
            out.rtt_ms_samples, out.method = list(result.rtt_ms_samples), self._target.method
            if not result.samples and not cancel.is_set():
                self._target, self._looked_at = None, -math.inf  # look again at the next sample
        if counters is not None:
            counters.join(IGD_FIND_S + IGD_READ_S)
        return out

    def _counters(self, out: HomeReading, cancel: threading.Event) -> None:
        """One reading of the router's counters; the household's rate since the one before."""
        try:
            if self._igd is None:
                if time.monotonic() - self._igd_looked_at < self.options.reselect_s:
                    return
                self._igd_looked_at = time.monotonic()
                gateway = self._target.host if self._target is not None else None
                self._igd = igd.find_igd(Deadline(IGD_FIND_S, cancel), gateway, self.options.igd_location)
                try:
                    link = igd.call(self._igd, "GetCommonLinkProperties", Deadline(IGD_READ_S, cancel))
                    self._line = (igd.mbps(link.get("NewLayer1DownstreamMaxBitRate")),
                                  igd.mbps(link.get("NewLayer1UpstreamMaxBitRate")))
                except igd.IgdError:
                    pass  # the line's rates are a help, not a need
            reading = igd.read_counters(self._igd, Deadline(IGD_READ_S, cancel))
            before, self._reading = self._reading, reading
            if before is None:
                return
            judged = igd.judge(before, reading, *self._line, RouterCounters())
            if judged.status is Status.OK and judged.down_mbps is not None and judged.up_mbps is not None:
                out.household_mbps = round(judged.down_mbps + judged.up_mbps, 3)
        except Cancelled:
            return
        except igd.IgdError as exc:
            log.info("lesson monitoring: the router's counters: %s", exc)
            self._igd, self._reading = None, None


def platform_names(urls: list[str]) -> list[str]:
    """The host names of the platform's addresses (addresses given as numbers need no lookup)."""
    names: list[str] = []
    for url in urls:
        scheme, _, rest = url.partition(":")
        if "://" not in url and scheme.lower() in ("stun", "stuns", "turn", "turns"):
            url = f"//{rest}"  # stun:host:port (RFC 7064) has no "//"
        try:
            host = urlsplit(url if "://" in url or url.startswith("//") else f"//{url}").hostname
        except ValueError:
            continue
        if not host or host in names:
            continue
        try:
            ipaddress.ip_address(host)
        except ValueError:
            names.append(host)
    return names


class NameWatch:
    """The platform's names, looked up through this computer's resolver every ``names_every_s``,
    and at every sample while one of them cannot be found. Between two lookups the last one
    stands (the browser, too, uses what it found until it looks again)."""

    def __init__(self, options: MonitorOptions,
                 lookup: Callable[..., list] = resolve_hosts) -> None:
        self.options = options
        self.names = platform_names(options.platform_urls)
        self._lookup = lookup
        self._last: NamesReading = NamesReading()
        self._looked_at = -math.inf

    def __call__(self, cancel: threading.Event) -> NamesReading:
        o = self.options
        if not self.names:
            return NamesReading()
        due = self._last.ok is not True or time.monotonic() - self._looked_at >= o.names_every_s
        if not due:
            return self._last
        results = self._lookup(self.names, timeout_s=o.names_timeout_s, cancel=cancel)
        if cancel.is_set():
            return self._last
        self._looked_at = time.monotonic()
        failed = [r for r in results if r.status is not Status.OK]
        self._last = NamesReading(
            ok=not failed, failed=[r.host for r in failed],
            error=join_words([f"{r.host}: {r.error}" for r in failed], last="; ") or None,
        )
        return self._last


def traffic_from(findings: LocalFindings) -> LocalTraffic:
    """The default card's rates and the busiest program, from a local sample."""
    default = [i for i in findings.interfaces if i.is_default]
    out = LocalTraffic()
    if default and any(i.down_mbps is not None for i in default):
        out.down_mbps = round(sum(i.down_mbps or 0.0 for i in default), 3)
        out.up_mbps = round(sum(i.up_mbps or 0.0 for i in default), 3)
    if findings.processes:
        top = findings.processes[0]
        out.top_program = top.app or top.name
        out.top_program_mbps = round((top.down_mbps or 0.0) + (top.up_mbps or 0.0), 3)
    rates = findings.sections.get("rates")
    if rates is not None and rates.status is Status.ERROR:
        out.error = rates.error
    return out


class TrafficWatch:
    """The default local reader: a :class:`LocalSampler` kept between samples (connectcheck's
    own process left out). :meth:`step` lets it catch short connections between samples."""

    def __init__(self, interval_s: float) -> None:
        self._interval_s = interval_s
        self._sampler: LocalSampler | None = None

    def step(self) -> None:
        if self._sampler is not None:
            self._sampler.step()

    def __call__(self, cancel: threading.Event) -> LocalTraffic:
        if self._sampler is None:
            try:
                self._sampler = LocalSampler(interval_s=self._interval_s, exclude_pids={os.getpid()})
            except Exception as exc:
                return LocalTraffic(error=f"this computer's programs could not be looked at ({exc})")
        return traffic_from(self._sampler.sample(cancel))


# ---------------------------------------------------------------------------------------------
# the monitor


def _now_iso() -> str:
    return datetime.now().astimezone().isoformat(timespec="seconds")


class Monitor:
    """Monitors a lesson in a thread of its own, from :meth:`start` to :meth:`stop`.

    ``probe``, ``local``, ``home`` and ``names`` replace the default samplers
    (:class:`MediaPathProbe`, :class:`TrafficWatch`, :class:`HomeWatch`, :class:`NameWatch`); a
    ``local`` with a ``step()`` method has it called every second between samples. ``clock``
    gives the lesson's time (``t_s``); the schedule runs on real time.
    Samples, alerts and the lesson go into ``history`` when there is one; if it fails, monitoring
    goes on and :attr:`history_problem` says why. What could not be written (a full disk, a file
    held by another program) is kept in order and written with the next sample that can be, or
    at the end; :attr:`unwritten` counts what is still waiting, :attr:`lost` what was given up
    (more than :data:`MAX_UNWRITTEN` waiting).
    """

    def __init__(self, *, options: MonitorOptions, history: History | None,
                 on_sample: Callable[[MonitorSample], None], on_alert: Callable[[LessonAlert], None],
                 probe: ProbeFn | None = None, local: LocalFn | None = None, home: HomeFn | None = None,
                 names: NamesFn | None = None, clock: Callable[[], float] = time.monotonic) -> None:
        self.options = options
        self.history = history
        self.on_sample = on_sample
        self.on_alert = on_alert
        self.lesson_id: int | None = None
        self.history_problem: str | None = None
        self._probe = probe
        self._local = local
        self._home = home
        self._names = names
        self._clock = clock
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._record = LessonRecord()
        self._t0 = 0.0
        self._unwritten: list[MonitorSample | LessonAlert] = []
        self.lost = 0

    @property
    def unwritten(self) -> int:
        """Samples and alerts measured but not (yet) in the history."""
        return len(self._unwritten)

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive() and not self._stop.is_set()

    def start(self, label: str | None = None) -> int | None:
        """Start monitoring a lesson; returns its id in the history (None when it is not kept)."""
        if self.running:
            raise RuntimeError("a lesson is already being monitored")
        started_at = _now_iso()
        self.lesson_id = None
        self.history_problem = None
        self._unwritten, self.lost = [], 0
        if self.history is not None:
            self.lesson_id = self._keep(self.history.start_lesson, label, self.options.interval_s,
                                        started_at=started_at)
        self._record = LessonRecord(id=self.lesson_id, started_at=started_at, label=label,
                                    interval_s=self.options.interval_s)
        probe = self._probe or MediaPathProbe(self.options)
        local = self._local if self._local is not None or not self.options.local else TrafficWatch(
            self.options.interval_s)
        home = self._home if self._home is not None or self.options.home_router == "off" else HomeWatch(
            self.options)
        self._stop = threading.Event()
        self._t0 = self._clock()
        names = self._names if self._names is not None else NameWatch(self.options)
        self._thread = threading.Thread(target=self._run, args=(probe, local, home, names, self._stop),
                                        name="lesson-monitor", daemon=True)
        self._thread.start()
        return self.lesson_id

    def stop(self) -> LessonRecord:
        """Stop (within about a second) and return the lesson; it is kept with its end time.

        The record comes from the history when it can be read (it then also holds the checks
        run and the procedure followed during the lesson), else from what was sampled.
        """
        self._stop.set()
        if self._thread is not None:
            self._thread.join(STOP_JOIN_S)
        record = self.snapshot()
        record.ended_at = _now_iso()
        if self.history is not None and self.lesson_id is not None:
            self._write_waiting(self.history, self.lesson_id)
            self._keep(self.history.end_lesson, self.lesson_id)
            stored = self._keep(self.history.lesson, self.lesson_id)
            if stored is not None:
                return stored
        return record

    def snapshot(self) -> LessonRecord:
        """A copy of the lesson so far (for a window opened in the middle of it)."""
        with self._lock:
            return replace(self._record, samples=list(self._record.samples), alerts=list(self._record.alerts))

    # --- the thread ----------------------------------------------------------------------------------

    def _run(self, probe: ProbeFn, local: LocalFn | None, home: HomeFn | None, names: NamesFn | None,
             stop: threading.Event) -> None:
        judge = LessonJudge(self.options)
        step = getattr(local, "step", None)
        next_at = time.monotonic()
        while not stop.is_set():
            try:
                self._sample(probe, local, home, names, stop, judge)
            except Exception:  # a bug costs one sample, never the monitoring
                log.exception("a monitoring sample failed")
            next_at += self.options.interval_s
            now = time.monotonic()
            if next_at < now:  # fell behind (a slow sample): no burst of catch-up samples
                next_at = now + self.options.interval_s
            while (left := next_at - time.monotonic()) > 0 and not stop.wait(min(STEP_S, left)):
                if step is not None:
                    self._guarded("the local sampler's step", step)

    def _sample(self, probe: ProbeFn, local: LocalFn | None, home: HomeFn | None, names: NamesFn | None,
                stop: threading.Event, judge: LessonJudge) -> None:
        """Take one sample, keep it, and pass it and the alerts it brings to the callbacks."""
        t_s = round(self._clock() - self._t0, 3)
        router: list[HomeReading | None] = [None]
        found: list[NamesReading | None] = [None]
        beside = []  # the router and the names at the same time as the media path
        if home is not None:
            def watch() -> None:
                router[0] = self._guarded("the router", home, stop)  # type: ignore[assignment]

            beside.append(threading.Thread(target=watch, name="lesson-router", daemon=True))
        if names is not None:
            def look() -> None:
                found[0] = self._guarded("the platform's names", names, stop)  # type: ignore[assignment]

            beside.append(threading.Thread(target=look, name="lesson-names", daemon=True))
        for thread in beside:
            thread.start()
        burst = self._guarded("the probe", probe, stop) or Burst(
            connectivity=Connectivity.UNKNOWN, error="the round trips could not be measured (see the log)")
        end = time.monotonic() + self.options.burst_limit_s + IGD_FIND_S + IGD_READ_S
        for thread in beside:
            thread.join(max(0.0, end - time.monotonic()))
        traffic = self._guarded("the local sampler", local, stop) if local is not None else None
        if stop.is_set():
            return
        sample, alerts = judge.judge(t_s, _now_iso(), burst, traffic or LocalTraffic(), router[0], found[0])
        with self._lock:
            self._record.samples.append(sample)
            self._record.alerts.extend(alerts)
        history, lesson_id = self.history, self.lesson_id
        if history is not None and lesson_id is not None:
            self._unwritten += [sample, *alerts]
            if len(self._unwritten) > MAX_UNWRITTEN:
                self.lost += len(self._unwritten) - MAX_UNWRITTEN
                del self._unwritten[:len(self._unwritten) - MAX_UNWRITTEN]
            self._write_waiting(history, lesson_id)
        self._guarded("on_sample", self.on_sample, sample)
        for alert in alerts:
            self._guarded("on_alert", self.on_alert, alert)

    def _write_waiting(self, history: History, lesson_id: int) -> None:
        """Write what waits, oldest first, until a write fails (the rest waits for the next try)."""
        while self._unwritten:
            item = self._unwritten[0]
            write = history.add_sample if isinstance(item, MonitorSample) else history.add_alert
            try:
                write(lesson_id, item)
            except HistoryError as exc:
                if self.history_problem is None:
                    log.warning("lesson history: %s", exc)
                self.history_problem = str(exc)
                return
            self._unwritten.pop(0)
        if self.history_problem is not None and not self.lost:
            log.info("lesson history: writing works again, nothing was lost")
            self.history_problem = None

    def _guarded(self, what: str, fn: Callable, *args: object) -> object:
        """Call ``fn``; an exception is logged and gives None."""
        try:
            return fn(*args)
        except Exception:
            log.exception("%s raised during lesson monitoring", what)
            return None

    def _keep(self, fn: Callable, *args: object, **kwargs: object) -> object:
        """A history operation; a failure is remembered in ``history_problem`` and gives None."""
        try:
            return fn(*args, **kwargs)
        except HistoryError as exc:
            if self.history_problem is None:
                log.warning("lesson history: %s", exc)
            self.history_problem = str(exc)
            return None
