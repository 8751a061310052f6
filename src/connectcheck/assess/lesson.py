"""Judging a monitored lesson, sample by sample (pure logic, time passed in; no I/O).

:mod:`connectcheck.monitor` measures and keeps; this module judges what it measured:

* the states of sound, video and the whiteboard from what a light sample knows
  (:func:`judge_light`). Bandwidth is not measured while monitoring (a speed test would itself
  hurt the lesson), so the download, upload and loaded-latency limits are left out of the
  judgement altogether: they neither make a state "good" nor "fail". Each activity takes the worst
  of its three known metrics, with the check's own rules around them (nothing answered at all:
  every activity fails; the platform's names not found: every activity fails; UDP blocked: sound
  and video at best degraded). Round trip and jitter are
  the burst's own. One rule sees the line's rate after all, without a speed test (:class:`LineFill`):
  when this computer receives well below what it did while the lesson ran with the round trip at
  its floor, while the round trip stands a queue above that floor and no program here is busy,
  the line is full with the lesson alone and no longer carries its video in full: video at best
  degraded. Loss is judged over the last ``loss_window_s`` (:class:`LossWindow`, 30 s,
  some 60 probes by default), because one burst of 10 probes can only say 0 %, 10 %, 20 %…; and
  since one lost probe in 60 is no proof of 1.7 % loss, the value judged is the lowest loss rate
  those probes are consistent with (:func:`loss_bound_pct`, the one-sided 90 % Wilson bound): one
  lost probe in 60 counts as 0.5 % (good), two as 1.4 % (degraded), four (6.7 %) as 3.6 % (sound
  fails). The sample stores the window's plain share too (``window_loss_pct``), for people to
  read; the states judge its bound.
* **alerts** (:class:`AlertGate`): a state that worsens and stays worse for ``alert_after_s`` is
  told once; never two alerts about the same activity within ``alert_gap_s`` (a worsening due
  inside the gap is told when the gap ends, if it still lasts); a state back to good for
  ``alert_after_s`` gives one "recovered" notice; a flapping state gives nothing. Their words
  (:func:`alert_message`) name the figures that decided, and a program busy on this computer.
"""

from __future__ import annotations

import math
import statistics
from collections import deque
from dataclasses import dataclass, field, replace
from typing import Protocol

from connectcheck.assess.cause import cause_limits
from connectcheck.assess.thresholds import Thresholds, default_thresholds
from connectcheck.assess.verdicts import CONNECTIVITY, PLATFORM, UDP, judge_activities
from connectcheck.core.model import (
    ActivityVerdict,
    Connectivity,
    LessonAlert,
    MetricVerdict,
    MonitorSample,
    State,
    Summary,
    severity,
)
from connectcheck.core.stats import jitter_ms
from connectcheck.core.words import join_words, number, quantity

LIGHT_METRICS = ("rtt_ms", "jitter_ms", "loss_pct")  # what a light sample measures
WILSON_Z = 1.2816  # one-sided 90 %


class JudgeOptions(Protocol):
    """What the judge needs of the monitoring options (:class:`~connectcheck.monitor.MonitorOptions`)."""

    thresholds: Thresholds | None  # None: the bundled defaults
    alert_after_s: float
    alert_gap_s: float

    @property
    def loss_window_s(self) -> float: ...


# ---------------------------------------------------------------------------------------------
# what a sample measured (the monitor's probe and local reader make these)


@dataclass
class Burst:
    """One burst of round trips on the media path."""

    rtt_ms_samples: list[float | None] = field(default_factory=list)  # None: lost
    method: str | None = None  # "stun" | "tcp"
    target: str | None = None
    connectivity: Connectivity = Connectivity.ONLINE  # OFFLINE: no server answered at all
    udp_ok: bool | None = None  # a STUN server answered when the target was chosen
    error: str | None = None
    rtt_ms: float | None = None  # the burst's median round trip (None: computed from the samples)
    jitter_ms: float | None = None  # the burst's jitter (None: computed from the samples)

    def __post_init__(self) -> None:
        answered = [r for r in self.rtt_ms_samples if r is not None]
        if self.rtt_ms is None and answered:
            self.rtt_ms = statistics.median(answered)
        if self.jitter_ms is None:
            self.jitter_ms = jitter_ms(self.rtt_ms_samples)


@dataclass
class HomeReading:
    """The home router beside one burst: round trips to it, and the household's internet rate by
    its own counters since the sample before (None: not measured, or the router does not tell)."""

    rtt_ms_samples: list[float | None] = field(default_factory=list)  # None: lost
    method: str | None = None  # "icmp" | "dns" | "tcp"
    household_mbps: float | None = None  # down + up, every device at home
    error: str | None = None  # why the router is not measured (plain words, for the log)

    @property
    def answered(self) -> list[float]:
        return [r for r in self.rtt_ms_samples if r is not None]


@dataclass
class NamesReading:
    """The lesson platform's names looked up through this computer's resolver (the browser's)."""

    ok: bool | None = None  # None: not looked up (no names, or not yet)
    failed: list[str] = field(default_factory=list)  # the names that could not be found
    error: str | None = None  # why, in plain words


@dataclass
class LocalTraffic:
    """This computer's traffic on the default network card, and its busiest program."""

    down_mbps: float | None = None
    up_mbps: float | None = None
    top_program: str | None = None
    top_program_mbps: float | None = None
    error: str | None = None


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


LESSON_RATE = "lesson_rate"  # the metric key of :class:`LineFill`'s finding


@dataclass(frozen=True)
class Starved:
    """The lesson's traffic no longer fits the line: received now, received while calm, the queue."""

    down_mbps: float
    calm_mbps: float
    queue_ms: float


class LineFill:
    """Whether the line has filled up with the lesson's own traffic (see the module notes).

    The floor is the lowest tenth of the round trips so far; "calm" samples are those within half a
    queue of it, with no program here busy, and their download (the last ``keep`` of them) is the
    lesson's own rate when it fitted. Limits from ``causes.toml``: ``queue_ms``, ``lesson_mbps``,
    ``starved_share``, ``busy_program_mbps``.
    """

    def __init__(self, keep: int = 24, min_calm: int = 3) -> None:
        self._rtts: deque[float] = deque(maxlen=720)
        self._calm: deque[float] = deque(maxlen=keep)
        self._min_calm = min_calm

    def update(self, rtt_ms: float | None, down_mbps: float | None,
               program_mbps: float | None) -> Starved | None:
        """Take one sample; what it shows when the lesson no longer fits the line, else None."""
        if rtt_ms is None or down_mbps is None:
            return None
        limits = cause_limits()
        if (program_mbps or 0.0) >= limits.busy_program_mbps:
            return None  # the download is the program's as much as the lesson's
        self._rtts.append(rtt_ms)
        ordered = sorted(self._rtts)
        floor = ordered[len(ordered) // 10]
        if rtt_ms - floor <= limits.queue_ms / 2:
            self._calm.append(down_mbps)
            return None
        if len(self._calm) < self._min_calm:
            return None
        calm = statistics.median(self._calm)
        if (calm >= limits.lesson_mbps and down_mbps <= limits.starved_share * calm
                and rtt_ms - floor >= limits.queue_ms):
            return Starved(down_mbps, calm, rtt_ms - floor)
        return None


def _starved_video(verdicts: dict[str, ActivityVerdict], starved: Starved) -> None:
    """Video at best degraded when the line no longer carries the lesson (the finding in its reasons)."""
    video = verdicts.get("video")
    if video is None:
        return
    finding = MetricVerdict(metric=LESSON_RATE, state=State.DEGRADED, value=starved.down_mbps,
                            good=starved.calm_mbps)
    rank = severity(video.state)
    if rank is None or rank < 1:
        verdicts["video"] = replace(video, state=State.DEGRADED, deciding=[finding])
    elif rank == 1:
        verdicts["video"] = replace(video, deciding=[*video.deciding, finding])


def light_thresholds(thresholds: Thresholds) -> Thresholds:
    """The thresholds with only the metrics a light sample measures."""
    metrics = {k: m for k, m in thresholds.metrics.items() if k in LIGHT_METRICS}
    return replace(thresholds, metrics=metrics)


def judge_light(summary: Summary, connectivity: Connectivity,
                thresholds: Thresholds) -> list[ActivityVerdict]:
    """Verdicts from what a light sample knows (``thresholds`` from :func:`light_thresholds`):
    the check's own rules over round trip, jitter, loss, blocked UDP and no connection."""
    return judge_activities(summary, connectivity, thresholds)


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
            if severity(state) is None:
                continue
            decision = self._step(self._tracks.setdefault(activity, _Track()), activity, t_s, state)
            if decision is not None:
                decisions.append(decision)
        return decisions

    def _step(self, k: _Track, activity: str, t_s: float, state: str) -> GateDecision | None:
        change = State(state).severity - State(k.told).severity
        if change == 0:
            k.run_start = None
            return None
        worse = change > 0
        if k.run_start is None or k.run_worse != worse:
            k.run_start, k.run_worse, k.run_level = t_s, worse, state
        else:
            reached = min if worse else max
            k.run_level = reached(k.run_level, state, key=severity)
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
    if v.metric == PLATFORM:
        return ("the lesson platform's address could not be looked up, so the browser cannot reach it "
                "(the network's name service, or a filter on it, does not give it)")
    if v.metric == LESSON_RATE:
        return (f"this computer now receives {quantity(v.value or 0.0, 'Mbit/s')} of the lesson, down "
                f"from {quantity(v.good or 0.0, 'Mbit/s')} while it ran smoothly, and the delay has risen: "
                "the line is full and no longer carries the lesson's video in full")
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
    floor = State(decision.state).severity
    deciding = [v for v in (verdict.deciding if verdict else [])
                if (rank := severity(v.state)) is not None and rank >= floor]
    reasons = [_reason(v, decision.activity, thresholds, lost, sent) for v in deciding]
    text = f"{activity.label} {activity.effects[decision.state]}"
    text += f": {join_words(reasons)}." if reasons else "."
    busy = sample.top_program_mbps or 0.0
    if sample.top_program and busy >= cause_limits().busy_program_mbps:
        text += f" On this computer, {sample.top_program} is moving {number(busy)} Mbit/s."
    return text


class LessonJudge:
    """Turns each sample's measurements into a :class:`MonitorSample` with its states, and the
    alerts due (no I/O, time passed in): one per lesson."""

    def __init__(self, options: JudgeOptions) -> None:
        self.thresholds = options.thresholds or default_thresholds()
        self._light = light_thresholds(self.thresholds)
        self._gate = AlertGate(after_s=options.alert_after_s, gap_s=options.alert_gap_s)
        self._loss = LossWindow(options.loss_window_s)
        self._method: str | None = None
        self._fill = LineFill()

    def judge(self, t_s: float, at: str, burst: Burst, traffic: LocalTraffic, home: HomeReading | None = None,
              names: NamesReading | None = None) -> tuple[MonitorSample, list[LessonAlert]]:
        """The sample taken at ``t_s`` (``at``: wall-clock time) and the alerts it makes due;
        ``home``: the home router beside the burst (it is kept in the sample; the states judge the
        media path only); ``names``: the platform's names as last looked up (when they cannot be
        found, every activity fails, as in the check: the browser cannot reach the platform)."""
        rtts = burst.rtt_ms_samples
        answered = [r for r in rtts if r is not None]  # the burst's own median and jitter are kept
        if burst.method is not None and burst.method != self._method:  # another path, other losses
            self._loss.clear()
            self._method = burst.method
        if rtts:
            self._loss.add(t_s, len(rtts), len(rtts) - len(answered))
        sent, lost = self._loss.totals()
        sample = MonitorSample(
            at=at, t_s=t_s,
            rtt_ms=round(burst.rtt_ms, 3) if burst.rtt_ms is not None and answered else None,
            jitter_ms=round(burst.jitter_ms, 3) if burst.jitter_ms is not None else None,
            loss_pct=round(100.0 * (len(rtts) - len(answered)) / len(rtts), 3) if rtts else None,
            probes=len(rtts), down_mbps=traffic.down_mbps, up_mbps=traffic.up_mbps,
            top_program=traffic.top_program, top_program_mbps=traffic.top_program_mbps,
            window_loss_pct=round(100.0 * lost / sent, 3) if sent else None,
            method=burst.method, target=burst.target, udp_ok=burst.udp_ok,
            error="; ".join(e for e in (burst.error, traffic.error, names.error if names else None) if e)
            or None,
            names_ok=names.ok if names is not None else None,
        )
        if home is not None:
            home_into(sample, home, traffic)
        summary = Summary(rtt_ms=sample.rtt_ms, jitter_ms=sample.jitter_ms,
                          loss_pct=loss_bound_pct(lost, sent), udp_ok=burst.udp_ok,
                          platform_reachable=False if sample.names_ok is False else None)
        verdicts = {v.activity: v for v in judge_light(summary, burst.connectivity, self._light)}
        starved = self._fill.update(sample.rtt_ms, sample.down_mbps, sample.top_program_mbps)
        if starved is not None:
            _starved_video(verdicts, starved)
        sample.states = {name: v.state for name, v in verdicts.items()}
        alerts = []
        for d in self._gate.update(t_s, sample.states):
            text = alert_message(d, verdicts.get(d.activity), self.thresholds, sample, lost, sent)
            alerts.append(LessonAlert(at=at, t_s=t_s, activity=d.activity, state=d.state,
                                      previous=d.previous, message=text))
        return sample, alerts



def home_into(sample: MonitorSample, home: HomeReading, traffic: LocalTraffic) -> None:
    """The router's figures into the sample: round trip (median), jitter and loss of the probes to
    it, and other devices' rate (the household's less this computer's own)."""
    rtts, answered = home.rtt_ms_samples, home.answered
    if rtts:
        sample.hop_probes, sample.hop_method = len(rtts), home.method
        sample.hop_loss_pct = round(100.0 * (len(rtts) - len(answered)) / len(rtts), 3)
        if answered:
            sample.hop_rtt_ms = round(statistics.median(answered), 3)
            sample.hop_jitter_ms = None if (j := jitter_ms(rtts)) is None else round(j, 3)
    own = None if traffic.down_mbps is None else (traffic.down_mbps or 0.0) + (traffic.up_mbps or 0.0)
    if home.household_mbps is not None and own is not None:
        sample.others_mbps = round(max(0.0, home.household_mbps - own), 3)
