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
* the states of sound, video and the whiteboard (:func:`judge_light`).

**How the states are judged.** A light sample knows the round trip, the jitter and the loss;
bandwidth is not measured while monitoring (a speed test would itself hurt the lesson), so the
download, upload and loaded-latency limits are left out of the judgement altogether: they neither
make a state "good" nor "fail". Each activity takes the worst of its three known metrics, with the
check's own rules around them (nothing answered at all: every activity fails; UDP blocked: sound
and video at best degraded). Round trip and jitter are the burst's own. Loss is judged over the
last ``loss_window_s`` (30 s, some 60 probes by default), because one burst of 10 probes can only
say 0 %, 10 %, 20 %…; and since one lost probe in 60 is no proof of 1.7 % loss, the value judged
is the lowest loss rate those probes are consistent with (the one-sided 90 % Wilson bound): one
lost probe in 60 counts as 0.5 % (good), two as 1.4 % (degraded), four (6.7 %) as 3.6 % (sound fails).

**Alerts** (:class:`AlertGate`): a state that worsens and stays worse for ``alert_after_s`` is told
once; never two alerts about the same activity within ``alert_gap_s`` (a worsening due inside the
gap is told when the gap ends, if it still lasts); a state back to good for ``alert_after_s`` gives
one "recovered" notice; a flapping state gives nothing.

Everything runs in the monitor's own thread; the callbacks are called from it (the window marshals
them to its thread), and a callback that raises is logged, never the end of monitoring.
"""

from __future__ import annotations

import logging
import math
import os
import statistics
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime

from connectcheck.assess.thresholds import Thresholds, default_thresholds
from connectcheck.assess.verdicts import CONNECTIVITY, UDP, judge_activities
from connectcheck.check import CheckOptions
from connectcheck.config.profile import OrganisationProfile
from connectcheck.config.settings import Settings
from connectcheck.core.model import (
    ActivityVerdict,
    CheckKind,
    CheckResult,
    Connectivity,
    LatencyResult,
    LessonAlert,
    LessonRecord,
    LocalFindings,
    MetricVerdict,
    MonitorSample,
    Status,
    Summary,
)
from connectcheck.core.words import join_words, number, quantity
from connectcheck.history import History, HistoryError
from connectcheck.local import LocalSampler
from connectcheck.local.sampler import STEP_S
from connectcheck.probes.base import jitter_ms
from connectcheck.probes.latency import LatencyTarget, measure_latency
from connectcheck.probes.targets import choose_primary, latency_targets

log = logging.getLogger(__name__)

LIGHT_METRICS = ("rtt_ms", "jitter_ms", "loss_pct")  # what a light sample measures
MONITOR_METHODS = ("stun", "tcp")  # the media path over UDP, or TCP connects when UDP is blocked
SEVERITY = {"good": 0, "degraded": 1, "fail": 2}
WILSON_Z = 1.2816  # one-sided 90 %
STOP_JOIN_S = 1.0
BUSY_PROGRAM_MBPS = 1.0  # a program moving this much is named in an alert


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


@dataclass
class Burst:
    """One burst of round trips on the media path."""

    rtt_ms_samples: list[float | None] = field(default_factory=list)  # None: lost
    method: str | None = None  # "stun" | "tcp"
    target: str | None = None
    connectivity: Connectivity = Connectivity.ONLINE  # OFFLINE: no server answered at all
    udp_ok: bool | None = None  # a STUN server answered when the target was chosen
    error: str | None = None


@dataclass
class LocalTraffic:
    """This computer's traffic on the default network card, and its busiest program."""

    down_mbps: float | None = None
    up_mbps: float | None = None
    top_program: str | None = None
    top_program_mbps: float | None = None
    error: str | None = None


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
                     error)

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
# judging a sample


class LossWindow:
    """Probes sent and lost over the last ``span_s`` seconds of bursts."""

    def __init__(self, span_s: float) -> None:
        self.span_s = span_s
        self._bursts: deque[tuple[float, int, int]] = deque()  # (t_s, sent, lost)

    def add(self, t_s: float, sent: int, lost: int) -> None:
        self._bursts.append((t_s, sent, lost))
        while self._bursts and self._bursts[0][0] < t_s - self.span_s:
            self._bursts.popleft()

    def clear(self) -> None:
        self._bursts.clear()

    def totals(self) -> tuple[int, int]:
        return sum(b[1] for b in self._bursts), sum(b[2] for b in self._bursts)


def loss_bound_pct(lost: int, sent: int, z: float = WILSON_Z) -> float | None:
    """The lowest loss rate (%) that ``lost`` of ``sent`` probes are consistent with (Wilson)."""
    if sent <= 0:
        return None
    p = lost / sent
    z2n = z * z / sent
    centre = p + z2n / 2
    margin = z * math.sqrt(p * (1 - p) / sent + z2n / (4 * sent))
    return round(max(0.0, (centre - margin) / (1 + z2n)) * 100, 3)


def light_thresholds(thresholds: Thresholds) -> Thresholds:
    """The thresholds with only the metrics a light sample measures."""
    metrics = {k: m for k, m in thresholds.metrics.items() if k in LIGHT_METRICS}
    return replace(thresholds, metrics=metrics)


def judge_light(summary: Summary, connectivity: Connectivity,
                thresholds: Thresholds) -> list[ActivityVerdict]:
    """Verdicts from what a light sample knows (``thresholds`` from :func:`light_thresholds`):
    the check's own rules over round trip, jitter, loss, blocked UDP and no connection."""
    result = CheckResult(kind=CheckKind.QUICK, started_at="", connectivity=connectivity, summary=summary)
    return judge_activities(result, thresholds)


# ---------------------------------------------------------------------------------------------
# alerts


@dataclass(frozen=True)
class GateDecision:
    """Something to tell: an activity's state changed for long enough."""

    t_s: float
    activity: str
    state: str  # the new state ("good": a recovery)
    previous: str  # the state told before

    @property
    def recovered(self) -> bool:
        return self.state == "good"


@dataclass
class _Track:
    told: str = "good"  # what the tutor knows: nothing said yet means all is well
    run_start: float | None = None  # when the current run of samples different from ``told`` began
    run_worse: bool = False
    run_level: str = "good"  # the state every sample of the run reached
    last_alert_s: float | None = None


class AlertGate:
    """Debounces state changes per activity into alerts; pure logic, time passed in.

    A run is a series of samples all worse (or all better) than what was last told; "unknown"
    samples neither extend nor break it. A worse run lasting ``after_s`` is told at the level all
    of its samples reached, unless an alert about the same activity came less than ``gap_s``
    before (then it waits for the gap to end, and is told only if the run still lasts). A better
    run lasting ``after_s`` that reached "good" gives one recovery notice; a better one that did
    not is not told, but a later worsening is measured from it.
    """

    def __init__(self, *, after_s: float, gap_s: float) -> None:
        self.after_s = after_s
        self.gap_s = gap_s
        self._tracks: dict[str, _Track] = {}

    def update(self, t_s: float, states: dict[str, str]) -> list[GateDecision]:
        """Feed one sample's states; returns what is to be told now."""
        decisions = []
        for activity, state in states.items():
            if state not in SEVERITY:
                continue
            decision = self._step(self._tracks.setdefault(activity, _Track()), activity, t_s, state)
            if decision is not None:
                decisions.append(decision)
        return decisions

    def _step(self, k: _Track, activity: str, t_s: float, state: str) -> GateDecision | None:
        change = SEVERITY[state] - SEVERITY[k.told]
        if change == 0:
            k.run_start = None
            return None
        worse = change > 0
        if k.run_start is None or k.run_worse != worse:
            k.run_start, k.run_worse, k.run_level = t_s, worse, state
        else:
            reached = min if worse else max
            k.run_level = reached(k.run_level, state, key=SEVERITY.__getitem__)
        if t_s - k.run_start < self.after_s:
            return None
        if worse and k.last_alert_s is not None and t_s - k.last_alert_s < self.gap_s:
            return None
        decision = GateDecision(t_s, activity, k.run_level, k.told)
        k.told, k.run_start = k.run_level, None
        if worse:
            k.last_alert_s = t_s
            return decision
        return decision if decision.recovered else None


def _limit_words(metric: str, thresholds: Thresholds, activity: str) -> str:
    m, limit = thresholds.metrics[metric], thresholds.limit(activity, metric)
    word = "at most" if m.good_inclusive else "under"
    return f"good is {word} {quantity(limit.good, m.unit, limit=True)}"


def _reason(v: MetricVerdict, activity: str, thresholds: Thresholds, lost: int, sent: int) -> str:
    if v.metric == CONNECTIVITY:
        return "nothing answered: the connection seems to be down"
    if v.metric == UDP:
        return "this network blocks the direct route calls take (UDP), so they go through a slower relay"
    limit = _limit_words(v.metric, thresholds, activity)
    if v.metric == "loss_pct":
        return f"{lost} of the last {sent} test packets were lost ({limit})"
    m = thresholds.metrics[v.metric]
    return f"the {m.label} is {quantity(v.value or 0.0, m.unit)} ({limit})"


def alert_message(decision: GateDecision, verdict: ActivityVerdict | None, thresholds: Thresholds,
                  sample: MonitorSample, lost: int, sent: int) -> str:
    """What the tutor is told, in plain words, with the figures that decided and, when one
    program moves a lot, its name."""
    activity = thresholds.activities[decision.activity]
    if decision.recovered:
        return f"{activity.label} {activity.effects['good']} again: the connection has recovered."
    deciding = [v for v in (verdict.deciding if verdict else []) if v.state in SEVERITY
                and SEVERITY[v.state] >= SEVERITY[decision.state]]
    reasons = [_reason(v, decision.activity, thresholds, lost, sent) for v in deciding]
    text = f"{activity.label} {activity.effects[decision.state]}"
    text += f": {join_words(reasons)}." if reasons else "."
    busy = sample.top_program_mbps or 0.0
    if sample.top_program and busy >= BUSY_PROGRAM_MBPS:
        text += f" On this computer, {sample.top_program} is moving {number(busy)} Mbit/s."
    return text


class LessonJudge:
    """Turns each sample's measurements into a :class:`MonitorSample` with its states, and the
    alerts due (no I/O, time passed in): one per lesson."""

    def __init__(self, options: MonitorOptions) -> None:
        self.thresholds = options.thresholds or default_thresholds()
        self._light = light_thresholds(self.thresholds)
        self._gate = AlertGate(after_s=options.alert_after_s, gap_s=options.alert_gap_s)
        self._loss = LossWindow(options.loss_window_s)
        self._method: str | None = None

    def judge(self, t_s: float, at: str, burst: Burst, traffic: LocalTraffic
              ) -> tuple[MonitorSample, list[LessonAlert]]:
        """The sample taken at ``t_s`` (``at``: wall-clock time) and the alerts it makes due."""
        rtts = burst.rtt_ms_samples
        answered = [r for r in rtts if r is not None]
        if burst.method is not None and burst.method != self._method:  # another path, other losses
            self._loss.clear()
            self._method = burst.method
        if rtts:
            self._loss.add(t_s, len(rtts), len(rtts) - len(answered))
        sent, lost = self._loss.totals()
        jitter = jitter_ms(rtts)
        sample = MonitorSample(
            at=at, t_s=t_s,
            rtt_ms=round(statistics.median(answered), 3) if answered else None,
            jitter_ms=round(jitter, 3) if jitter is not None else None,
            loss_pct=round(100.0 * (len(rtts) - len(answered)) / len(rtts), 3) if rtts else None,
            probes=len(rtts), down_mbps=traffic.down_mbps, up_mbps=traffic.up_mbps,
            top_program=traffic.top_program, top_program_mbps=traffic.top_program_mbps,
            window_loss_pct=round(100.0 * lost / sent, 3) if sent else None,
            method=burst.method, target=burst.target,
            error="; ".join(e for e in (burst.error, traffic.error) if e) or None,
        )
        summary = Summary(rtt_ms=sample.rtt_ms, jitter_ms=sample.jitter_ms,
                          loss_pct=loss_bound_pct(lost, sent), udp_ok=burst.udp_ok)
        verdicts = {v.activity: v for v in judge_light(summary, burst.connectivity, self._light)}
        sample.states = {name: v.state for name, v in verdicts.items()}
        alerts = []
        for d in self._gate.update(t_s, sample.states):
            text = alert_message(d, verdicts.get(d.activity), self.thresholds, sample, lost, sent)
            alerts.append(LessonAlert(at=at, t_s=t_s, activity=d.activity, state=d.state,
                                      previous=d.previous, message=text))
        return sample, alerts


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
    goes on and :attr:`history_problem` says why.
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
        self._store("add_sample", sample)
        self._guarded("on_sample", self.on_sample, sample)
        for alert in alerts:
            self._store("add_alert", alert)
            self._guarded("on_alert", self.on_alert, alert)

    def _store(self, operation: str, item: object) -> None:
        if self.history is not None and self.lesson_id is not None:
            self._keep(getattr(self.history, operation), self.lesson_id, item)

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
