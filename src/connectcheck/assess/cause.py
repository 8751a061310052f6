"""The likely cause of the trouble, with its evidence, for the client manager who decides where
the fault was.

For a check, the cause follows the advice the check gave (``assess/``): the advice is already
ranked by how strongly the measurements point at each culprit, so the first piece of advice that
names a cause is the likely cause and the others are "also" factors. Two findings have no advice
of their own and are read from the verdicts: the line too slow for the lesson, and a line that
is unsteady while nothing here explains it. A queue on the line while this computer is quiet
(round trips that swing far above their floor during the idle measurement) points at another
device at home.

For a monitored lesson, the samples taken while a verdict was weak or failing are compared with
the rest: no answers at all (no connection), one program busy on this computer (named, with its
rate), or round trips far above the lesson's own floor while this computer was quiet (someone
else at home). Checks run during the lesson add what samples cannot see (Wi-Fi, the load of the
computer, the line's speed).
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Sequence
from datetime import datetime

from connectcheck.assess.advice import facts, program_rate, programs
from connectcheck.core.model import (
    Advice,
    Assessment,
    Cause,
    CheckResult,
    LatencyResult,
    LessonRecord,
    MonitorSample,
)
from connectcheck.core.words import join_words, number, quantity

QUIET_MBPS = 1.0  # this computer moving less than this (down + up) counts as quiet
QUEUE_MS = 30.0  # round trips this far above their floor show a queue on the line
BUSY_PROGRAM_MBPS = 1.0  # a program moving at least this much can be what slowed the lesson
LOST_PCT = 100.0  # a sample with every probe lost: no connection at that moment
MIN_SHARE = 0.25  # share of the troubled samples the main finding must explain

TITLES = {
    "no_connection": "No connection at all",
    "platform_unreachable": "The lesson platform could not be reached",
    "other_program": "Another program on this computer",
    "others_at_home": "Someone else on the home network",
    "weak_wifi": "Weak Wi-Fi",
    "computer_overloaded": "This computer is overloaded",
    "line_too_slow": "The home line is too slow for the lesson",
    "line_unsteady": "The internet line itself is unsteady",
    "network_blocks_udp": "This network blocks the route calls take",
    "no_fault": "No fault found",
    "unclear": "No single cause stands out",
}
# Advice keys (resources/advice.toml) that name a cause.
ADVICE_CAUSES = {
    "offline": "no_connection",
    "platform_unreachable": "platform_unreachable",
    "pause_streaming": "other_program",
    "pause_game_launcher": "other_program",
    "pause_cloud_sync": "other_program",
    "pause_updates": "other_program",
    "close_torrent": "other_program",
    "close_call_app": "other_program",
    "pause_program": "other_program",
    "unnamed_traffic": "other_program",
    "others_at_home": "others_at_home",
    "line_busy": "others_at_home",
    "weak_wifi": "weak_wifi",
    "computer_busy": "computer_overloaded",
    "udp_blocked": "network_blocks_udp",
}
SPEED = ("download_mbps", "upload_mbps")
STEADINESS = ("rtt_ms", "jitter_ms", "loss_pct")
BAD = ("degraded", "fail")


def _cause(key: str, sentence: str, evidence: Sequence[str] = (), program: str | None = None) -> Cause:
    return Cause(
        key=key, title=TITLES[key], sentence=sentence, evidence=[e for e in evidence if e], program=program
    )


# --- a check ------------------------------------------------------------------------------------------


def _bad_metrics(assessment: Assessment, keys: Sequence[str]) -> list[str]:
    """Each metric in ``keys`` that is weak or fails, against the limit of the first activity it troubles:
    "upload 0.8 Mbit/s (video needs at least 2.5 Mbit/s)"."""
    out: dict[str, str] = {}
    for v in assessment.verdicts:
        for m in v.metrics:
            if m.metric in keys and m.state in BAD and m.metric not in out and m.value is not None:
                label, unit = LABELS.get(m.metric, (m.metric, ""))
                need = (
                    ""
                    if m.good is None
                    else f" ({v.activity} needs {'at least' if m.metric in SPEED else 'at most'} "
                    f"{quantity(m.good, unit)})"
                )
                out[m.metric] = f"{label} {quantity(m.value, unit)}{need}"
    return list(out.values())


LABELS = {
    "download_mbps": ("download", "Mbit/s"),
    "upload_mbps": ("upload", "Mbit/s"),
    "rtt_ms": ("round trip", "ms"),
    "jitter_ms": ("jitter", "ms"),
    "loss_pct": ("packet loss", "%"),
}


def _from_advice(item: Advice, result: CheckResult) -> Cause:
    key = ADVICE_CAUSES[item.key]
    if key == "other_program" and item.program:
        rate = (
            next((program_rate(p) for p in programs(result.local) if p.name == item.program), None)
            if result.local
            else None
        )
        using = f" at {quantity(rate, 'Mbit/s')}" if rate is not None else ""
        sentence = f"{item.program} was using the connection{using} while the lesson needed it."
        return _cause(key, sentence, [item.evidence], program=item.program)
    return _cause(key, item.evidence or item.action, [])


def primary_latency(result: CheckResult) -> LatencyResult | None:
    """The latency measurement the summary's numbers come from (the media path)."""
    return next(
        (x for x in result.latency if f"{x.method} {x.target}" == result.summary.latency_target), None
    )


def _queue_while_quiet(result: CheckResult, assessment: Assessment) -> Cause | None:
    """Round trips swinging far above their floor during the idle measurement while this computer
    moved almost nothing: something else loads the line."""
    x = primary_latency(result)
    traffic = facts(result, assessment.verdicts, assessment.overall).get("local.traffic_mbps")
    if x is None or x.rtt_ms_min is None or x.rtt_ms_p90 is None or traffic is None:
        return None
    rise = x.rtt_ms_p90 - x.rtt_ms_min
    if rise < QUEUE_MS or traffic >= QUIET_MBPS:
        return None
    return _cause(
        "others_at_home",
        "Round trips kept rising far above their usual level while this computer was quiet: "
        "another device at home was probably using the line.",
        [
            f"round trip from {quantity(x.rtt_ms_min, 'ms')} up to {quantity(x.rtt_ms_p90, 'ms')} "
            f"(90th percentile) to {x.target}",
            f"this computer moved only {quantity(traffic, 'Mbit/s')} meanwhile",
        ],
    )


def check_cause(result: CheckResult, assessment: Assessment) -> Cause:
    """The likely cause for one check, from its verdicts and ranked advice."""
    found = [
        _from_advice(a, result)
        for a in sorted(assessment.advice, key=lambda a: a.rank)
        if a.key in ADVICE_CAUSES
    ]
    queue = _queue_while_quiet(result, assessment)
    slow = _bad_metrics(assessment, SPEED)
    unsteady = _bad_metrics(assessment, STEADINESS)
    if not found and queue is not None and (unsteady or assessment.overall != "ready"):
        found.append(queue)
    if slow and not any(c.key in ("other_program", "others_at_home") for c in found):
        # (a program or another device using the line also makes the measured speed low)
        found.append(
            _cause("line_too_slow", "The line's measured speed is below what the lesson needs.", slow)
        )
    if unsteady and not found:
        found.append(
            _cause(
                "line_unsteady",
                "Round trips, jitter or losses are beyond the lesson's limits while "
                "nothing on this computer or at home explains it: the line or the provider's "
                "network is unsteady.",
                unsteady,
            )
        )
    if not found:
        if assessment.overall == "ready":
            return _cause("no_fault", "Every measurement is within the lesson's limits.")
        return _cause("unclear", assessment.sentence)
    first = found[0]
    first.also = [_also(c) for c in _distinct(found[1:], first)]
    return first


def _also(c: Cause) -> str:
    """Another factor in one line: its title, its finding and the numbers behind it."""
    return "; ".join([f"{c.title} — {c.sentence.rstrip('.')}", *c.evidence]) + "."


def _distinct(causes: list[Cause], first: Cause) -> list[Cause]:
    seen = {(first.key, first.program)}
    out = []
    for c in causes:
        if (c.key, c.program) not in seen:
            seen.add((c.key, c.program))
            out.append(c)
    return out


# --- a monitored lesson ----------------------------------------------------------------------------


def clock(s: MonitorSample) -> str:
    """The time of day of a sample, "16:20"."""
    try:
        return datetime.fromisoformat(s.at).strftime("%H:%M")
    except ValueError:
        return f"{s.t_s / 60:.0f} min in"


def spans(
    samples: Sequence[MonitorSample], test: Callable[[MonitorSample], bool], gap_s: float = 60.0
) -> list[str]:
    """The stretches of samples that pass ``test`` ("16:20–16:24"); stretches less than ``gap_s``
    apart count as one (a state that flickers is one episode for the reader)."""
    runs: list[list[MonitorSample]] = []
    for s in samples:
        if not test(s):
            continue
        if runs and s.t_s - runs[-1][-1].t_s <= gap_s:
            runs[-1].append(s)
        else:
            runs.append([s])
    out = []
    for r in runs:
        first, last = clock(r[0]), clock(r[-1])
        out.append(first if first == last else f"{first}–{last}")
    return out


def sample_interval(lesson: LessonRecord) -> float:
    """Seconds each sample stands for: the monitor's interval, else the samples' own spacing."""
    if lesson.interval_s and lesson.interval_s > 0:
        return lesson.interval_s
    gaps = [b.t_s - a.t_s for a, b in zip(lesson.samples, lesson.samples[1:], strict=False) if b.t_s > a.t_s]
    return statistics.median(gaps) if gaps else 5.0


def troubled(s: MonitorSample) -> bool:
    """Whether any activity was weak or failing in this sample."""
    return any(state in BAD for state in s.states.values())


def _lost(s: MonitorSample) -> bool:
    return s.probes > 0 and s.loss_pct is not None and s.loss_pct >= LOST_PCT


def _traffic(s: MonitorSample) -> float | None:
    return None if s.down_mbps is None and s.up_mbps is None else (s.down_mbps or 0.0) + (s.up_mbps or 0.0)


class _Lesson:
    """The lesson's samples sorted into what most likely troubled each one.

    The baseline is the lesson itself when it ran smoothly: the lowest round trips it had, the
    traffic this computer had (the lesson's own call), and the rate each program had then.
    """

    def __init__(self, lesson: LessonRecord) -> None:
        self.lesson = lesson
        self.step = sample_interval(lesson)
        calm = [s for s in lesson.samples if not troubled(s) and not _lost(s)]
        rtts = sorted(s.rtt_ms for s in lesson.samples if s.rtt_ms is not None)
        self.floor = rtts[len(rtts) // 10] if rtts else None
        self.calm_traffic = statistics.median([t for s in calm if (t := _traffic(s)) is not None] or [0.0])
        rates: dict[str, list[float]] = {}
        for s in calm:
            if s.top_program:
                rates.setdefault(s.top_program, []).append(s.top_program_mbps or 0.0)
        self.calm_rates = {name: statistics.median(r) for name, r in rates.items()}

    def busy_program(self, s: MonitorSample) -> bool:
        rate = s.top_program_mbps or 0.0
        return (
            bool(s.top_program)
            and rate >= BUSY_PROGRAM_MBPS
            and rate >= 2 * self.calm_rates.get(s.top_program or "", 0.0)
        )

    def queue_while_quiet(self, s: MonitorSample) -> bool:
        traffic = _traffic(s)
        return (
            self.floor is not None
            and s.rtt_ms is not None
            and traffic is not None
            and s.rtt_ms - self.floor >= QUEUE_MS
            and traffic <= self.calm_traffic + QUIET_MBPS
        )

    def reason(self, s: MonitorSample) -> str | None:
        """What most likely troubled this sample: a cause key ("other_program:<name>"), or None."""
        if _lost(s):
            return "no_connection"
        if self.busy_program(s):
            return f"other_program:{s.top_program}"
        if self.queue_while_quiet(s):
            return "others_at_home"
        return None

    def cause(self, reason: str, samples: list[MonitorSample]) -> Cause:
        when = join_words(spans(self.lesson.samples, lambda s: self.reason(s) == reason)[:4])
        lasted = _duration(len(samples) * self.step)
        if reason == "no_connection":
            return _cause(
                reason,
                f"Nothing answered for {lasted} during the lesson ({when}).",
                [f"every probe was lost in {len(samples)} samples"],
            )
        if reason == "others_at_home":
            typical = statistics.median(s.rtt_ms for s in samples if s.rtt_ms is not None)
            used = statistics.median(t for s in samples if (t := _traffic(s)) is not None)
            return _cause(
                reason,
                "Round trips rose far above their usual level while this computer was no busier "
                f"than usual: another device at home was probably using the line ({when}).",
                [
                    f"round trip about {quantity(typical, 'ms')} then, {quantity(self.floor or 0.0, 'ms')} "
                    f"at best during the lesson",
                    f"this computer moved about {quantity(used, 'Mbit/s')} then, "
                    f"{quantity(self.calm_traffic, 'Mbit/s')} when the lesson ran smoothly",
                ],
            )
        name = reason.split(":", 1)[1]
        rate = statistics.median(s.top_program_mbps or 0.0 for s in samples)
        calm = self.calm_rates.get(name)
        return _cause(
            "other_program",
            f"{name} was using the connection at about {quantity(rate, 'Mbit/s')} "
            f"while the lesson was troubled ({when}).",
            [
                f"{name} was the busiest program for {lasted} of the trouble",
                f"about {quantity(calm, 'Mbit/s')} when the lesson ran smoothly"
                if calm is not None
                else f"{name} was not busy when the lesson ran smoothly",
            ],
            program=name,
        )


def _duration(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 90 else f"{seconds / 60:.0f} min"


def lesson_cause(lesson: LessonRecord, check: CheckResult | None, assessment: Assessment | None) -> Cause:
    """The likely cause for a monitored lesson: from its samples, helped by a check run during it."""
    view = _Lesson(lesson)
    bad = [s for s in lesson.samples if troubled(s) or _lost(s)]
    groups: dict[str, list[MonitorSample]] = {}
    for s in bad:
        if (reason := view.reason(s)) is not None:
            groups.setdefault(reason, []).append(s)
    ranked = sorted(groups.items(), key=lambda g: -len(g[1]))
    found = [view.cause(reason, samples) for reason, samples in ranked]
    from_check = check_cause(check, assessment) if check is not None and assessment is not None else None
    if from_check is not None and from_check.key not in ("no_fault", "unclear"):
        found.append(from_check)
    if not bad and not any(a.state in BAD for a in lesson.alerts):
        cause = _cause("no_fault", "No lasting problem was recorded during the lesson.")
        cause.also = [_also(c) for c in found]
        return cause
    if not found or (ranked and len(ranked[0][1]) < MIN_SHARE * len(bad) and from_check is None):
        cause = _cause("unclear", _unclear_lesson(bad))
        cause.also = [_also(c) for c in found]
        return cause
    first = found[0]
    first.also = [_also(c) for c in _distinct(found[1:], first)]
    if from_check is not None and from_check is not first:
        first.also += [a for a in from_check.also if a not in first.also]
    return first


def _unclear_lesson(bad: list[MonitorSample]) -> str:
    losses = [s.loss_pct for s in bad if s.loss_pct is not None]
    jitters = [s.jitter_ms for s in bad if s.jitter_ms is not None]
    parts = []
    if losses:
        parts.append(f"packet loss up to {number(max(losses))} %")
    if jitters:
        parts.append(f"jitter up to {number(max(jitters))} ms")
    seen = f" ({join_words(parts)})" if parts else ""
    return (
        f"The connection was troubled{seen}, but neither this computer nor the measurements point at "
        "one cause."
    )
