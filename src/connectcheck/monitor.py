"""Lesson monitoring: a light sample every few seconds while a lesson runs, and notifications
that do not flood.

Each sample is

* a short burst of ``probes`` round trips on the media path: STUN over UDP to the server the
  check would choose (the one answering best), or TCP connects to the lesson platform when UDP
  is blocked. Names are looked up only when the target is chosen (at the start, every
  ``reselect_s``, and when the target stops answering): the bursts themselves go to the address
  found, so monitoring costs no DNS traffic;
* this computer's traffic on the default network card and the program moving the most
  (:class:`~connectcheck.local.LocalSampler`, which reads local counters and sends nothing);
* the states of sound, video and the whiteboard, and the alerts due, judged by
  :class:`~connectcheck.assess.lesson.LessonJudge` (how: :mod:`connectcheck.assess.lesson`).

Everything runs in the monitor's own thread; the callbacks are called from it (the window marshals
them to its thread), and a callback that raises is logged, never the end of monitoring.
"""

from __future__ import annotations

import logging
import math
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime

from connectcheck.assess.lesson import Burst, LessonJudge, LocalTraffic
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
    Status,
)
from connectcheck.core.words import join_words
from connectcheck.history import History, HistoryError
from connectcheck.local import LocalSampler
from connectcheck.local.sampler import STEP_S
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
        )


# ---------------------------------------------------------------------------------------------
# what a sample measures (the probe and the local reader can be replaced, e.g. by fakes in tests)


ProbeFn = Callable[[threading.Event], Burst]
LocalFn = Callable[[threading.Event], LocalTraffic]


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

    ``probe`` and ``local`` replace the default samplers (:class:`MediaPathProbe`,
    :class:`TrafficWatch`); a ``local`` with a ``step()`` method has it called every second
    between samples. ``clock`` gives the lesson's time (``t_s``); the schedule runs on real time.
    Samples, alerts and the lesson go into ``history`` when there is one; if it fails, monitoring
    goes on and :attr:`history_problem` says why. What could not be written (a full disk, a file
    held by another program) is kept in order and written with the next sample that can be, or
    at the end; :attr:`unwritten` counts what is still waiting, :attr:`lost` what was given up
    (more than :data:`MAX_UNWRITTEN` waiting).
    """

    def __init__(self, *, options: MonitorOptions, history: History | None,
                 on_sample: Callable[[MonitorSample], None], on_alert: Callable[[LessonAlert], None],
                 probe: ProbeFn | None = None, local: LocalFn | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.options = options
        self.history = history
        self.on_sample = on_sample
        self.on_alert = on_alert
        self.lesson_id: int | None = None
        self.history_problem: str | None = None
        self._probe = probe
        self._local = local
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
        self._stop = threading.Event()
        self._t0 = self._clock()
        self._thread = threading.Thread(target=self._run, args=(probe, local, self._stop),
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

    def _run(self, probe: ProbeFn, local: LocalFn | None, stop: threading.Event) -> None:
        judge = LessonJudge(self.options)
        step = getattr(local, "step", None)
        next_at = time.monotonic()
        while not stop.is_set():
            try:
                self._sample(probe, local, stop, judge)
            except Exception:  # a bug costs one sample, never the monitoring
                log.exception("a monitoring sample failed")
            next_at += self.options.interval_s
            now = time.monotonic()
            if next_at < now:  # fell behind (a slow sample): no burst of catch-up samples
                next_at = now + self.options.interval_s
            while (left := next_at - time.monotonic()) > 0 and not stop.wait(min(STEP_S, left)):
                if step is not None:
                    self._guarded("the local sampler's step", step)

    def _sample(self, probe: ProbeFn, local: LocalFn | None, stop: threading.Event,
                judge: LessonJudge) -> None:
        """Take one sample, keep it, and pass it and the alerts it brings to the callbacks."""
        t_s = round(self._clock() - self._t0, 3)
        burst = self._guarded("the probe", probe, stop) or Burst(
            connectivity=Connectivity.UNKNOWN, error="the round trips could not be measured (see the log)")
        traffic = self._guarded("the local sampler", local, stop) if local is not None else None
        if stop.is_set():
            return
        sample, alerts = judge.judge(t_s, _now_iso(), burst, traffic or LocalTraffic())
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
