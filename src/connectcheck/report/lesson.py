"""The report of a monitored lesson: its window, the verdicts over time, the timeline with its
limits and alerts, the programs busiest while it was monitored, the advice of the checks run during
it and whether a re-check improved things, and the failed-lesson guide as it was followed.
"""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Sequence
from datetime import datetime

from connectcheck.assess.cause import BAD, lesson_cause, sample_interval, spans, troubled
from connectcheck.assess.compare import compare, metric_changes
from connectcheck.assess.thresholds import Thresholds
from connectcheck.assess.verdicts import judge_metric
from connectcheck.config.settings import Settings
from connectcheck.core.model import (
    KNOWN_STATES,
    Assessment,
    CheckResult,
    LessonRecord,
    MonitorSample,
    ProcedureRecord,
)
from connectcheck.core.words import clock, join_words, number
from connectcheck.policy.procedure import support_outcome
from connectcheck.report.build import (
    PROGRAM_ROWS,
    Builder,
    SystemInfo,
    advice_section,
    check_measurements,
    computer_facts,
    duration,
    identity_facts,
    local_programs,
    worst,
)
from connectcheck.report.model import (
    STATES,
    ActivityLine,
    AdviceSection,
    Headline,
    LimitCell,
    MeasurementRow,
    Measurements,
    ProcedureLine,
    ProcedureSection,
    ProgramRow,
    Programs,
    Report,
    ThresholdLine,
    Timeline,
    TimelineAlert,
    TimelinePoint,
)
from connectcheck.report.redact import Identity, cut_command_lines

LESSON_VERDICT = {
    "good": "No lasting problem during the lesson",
    "degraded": "The connection was weak at times",
    "fail": "The connection failed during the lesson",
    "unknown": "Not enough measurements to tell",
}
TIMELINE_METRICS = ("rtt_ms", "jitter_ms", "loss_pct")
SUSTAINED_S = 30.0  # a state held this long in the samples counts even without an alert


def lesson_end(lesson: LessonRecord) -> str | None:
    return lesson.ended_at or (lesson.samples[-1].at if lesson.samples else None)


def _activity_line(lesson: LessonRecord, activity: str, label: str, step: float) -> ActivityLine:
    states = [s.states.get(activity, "unknown") for s in lesson.samples]
    held = {state: step * states.count(state) for state in ("degraded", "fail")}
    alerted = [a.state for a in lesson.alerts if a.activity == activity and a.state in BAD]
    sustained = [state for state, seconds in held.items() if seconds >= SUSTAINED_S]
    state = worst(alerted + sustained)
    if state == "unknown" and any(s in KNOWN_STATES for s in states):
        state = "good"
    line = ActivityLine(
        activity=activity, label=label, state=state, degraded_s=held["degraded"], fail_s=held["fail"]
    )
    if state == "unknown":
        line.sentence = f"{label} could not be judged: there were no measurements for it."
    elif state == "good":
        line.sentence = f"{label} had no lasting problem."
    else:
        held_words = [
            f"{word} for {duration(held[bad])}"
            for bad, word in (("fail", "failing"), ("degraded", "weak"))
            if held[bad]
        ]
        when = spans(lesson.samples, lambda s: s.states.get(activity) in BAD)
        more = " and other times" if len(when) > 4 else ""
        line.sentence = f"{label} was {join_words(held_words) or 'troubled'} ({join_words(when[:4])}{more})."
    return line


def _lesson_headline(lesson: LessonRecord, thresholds: Thresholds) -> Headline:
    step = sample_interval(lesson)
    activities = [_activity_line(lesson, key, a.label, step) for key, a in thresholds.activities.items()]
    state = worst([a.state for a in activities])
    if state == "unknown" and any(a.state == "good" for a in activities):
        state = "good"
    total = len(lesson.samples) * step
    troubled_s = step * sum(1 for s in lesson.samples if troubled(s))
    sentence = f"Monitored for {duration(total)}"
    sentence += (
        f"; troubled for {duration(troubled_s)} of it." if troubled_s else "; nothing went wrong for long."
    )
    alerts = [a for a in lesson.alerts if a.state in BAD]
    if alerts:
        sentence += f" The tutor was alerted {len(alerts)} time{'s' if len(alerts) > 1 else ''}."
    outcome = None
    if lesson.procedure is not None and lesson.procedure.outcome:
        outcome = outcome_text(lesson.procedure)
    return Headline(
        state=state,
        verdict=LESSON_VERDICT[state],
        sentence=sentence,
        activities=activities,
        outcome=outcome,
        monitored_s=total,
        troubled_s=troubled_s,
    )


def outcome_text(record: ProcedureRecord) -> str:
    return support_outcome(record)


def _median(values: Sequence[float]) -> float | None:
    return statistics.median(values) if values else None


def _ninetieth_percentile(values: Sequence[float]) -> float | None:
    return sorted(values)[int(0.9 * (len(values) - 1))] if values else None


def lesson_measurements(lesson: LessonRecord, thresholds: Thresholds) -> Measurements | None:
    """Typical round trip, jitter and loss over the lesson, judged against the same limits."""
    rows = []
    for key in TIMELINE_METRICS:
        values = [
            v
            for s in lesson.samples
            if (v := recent_loss(s) if key == "loss_pct" else getattr(s, key)) is not None
        ]
        if not values or key not in thresholds.metrics:
            continue
        metric, value = thresholds.metrics[key], _median(values)
        cells = []
        for activity in thresholds.activities:
            v = judge_metric(metric, thresholds.limit(activity, key), value)
            cells.append(LimitCell(activity=activity, state=v.state, good=v.good, fail=v.fail))
        rows.append(
            MeasurementRow(
                metric=key,
                label=metric.label,
                unit=metric.unit,
                higher_is_better=metric.higher_is_better,
                value=value,
                worst=_ninetieth_percentile(values),
                state=worst([c.state for c in cells]),
                limits=cells,
            )
        )
    if not rows:
        return None
    return Measurements(
        source=f"Typical values over the lesson (median of {len(lesson.samples)} samples)",
        rows=rows,
        notes=[
            "Speed is not measured while a lesson is monitored (it would "
            "slow the lesson); run a check for download and upload."
        ],
    )


def _strictest(thresholds: Thresholds, key: str) -> tuple[str, float, float]:
    metric = thresholds.metrics[key]
    pick = max if metric.higher_is_better else min
    activity = pick(thresholds.activities, key=lambda a: thresholds.limit(a, key).good)
    limit = thresholds.limit(activity, key)
    return activity, limit.good, limit.fail


def timeline_lines(thresholds: Thresholds, checks: Sequence[CheckResult]) -> list[ThresholdLine]:
    """The limits drawn across the timeline (the most demanding activity's), and the best speed the
    line reached in a check during the lesson (a check taken while something hogged the line would
    understate it)."""
    lines = []
    for key in TIMELINE_METRICS:
        if key not in thresholds.metrics:
            continue
        _, good, fail = _strictest(thresholds, key)
        lines.append(ThresholdLine(metric=key, value=good, kind="good", label=f"good ≤ {number(good)}"))
        lines.append(ThresholdLine(metric=key, value=fail, kind="fail", label=f"fails > {number(fail)}"))
    for key, field_name, words in (("down_mbps", "download_mbps", "down"), ("up_mbps", "upload_mbps", "up")):
        speeds = [v for c in checks if (v := getattr(c.summary, field_name)) is not None]
        if speeds:
            lines.append(
                ThresholdLine(
                    metric=key,
                    value=max(speeds),
                    kind="capacity",
                    label=f"line {number(max(speeds))} {words}",
                )
            )
    return lines


def recent_loss(s: MonitorSample) -> float | None:
    """The loss shown for a sample: over the last half minute of probes, when recorded (one burst of
    a few probes alone jumps between 0, 10 and 20 %). The states judged the Wilson bound of the same
    probes (assess/lesson.loss_bound_pct), which is lower: one lost probe in 60 shows as 1.7 % here."""
    return s.window_loss_pct if s.window_loss_pct is not None else s.loss_pct


def _point(s: MonitorSample) -> TimelinePoint:
    return TimelinePoint(
        t_s=s.t_s,
        rtt_ms=s.rtt_ms,
        jitter_ms=s.jitter_ms,
        loss_pct=recent_loss(s),
        down_mbps=s.down_mbps,
        up_mbps=s.up_mbps,
        state=worst(list(s.states.values())),
    )


def timeline_notes(lesson: LessonRecord) -> list[str]:
    """What the samples measured, what was missing from them and why, and what could not be read back."""
    notes = []
    measured = Counter(f"{s.target} ({s.method.upper()})" for s in lesson.samples if s.method and s.target)
    if measured:
        notes.append(f"Round trips measured to {join_words(list(measured))}.")
    errors = Counter(s.error for s in lesson.samples if s.error)
    for error, count in errors.most_common(3):
        notes.append(f"{count} sample{'s' if count > 1 else ''} without some figures: {error}.")
    return notes + list(lesson.notes)


def lesson_timeline(lesson: LessonRecord, thresholds: Thresholds) -> Timeline | None:
    if not lesson.samples:
        return None
    alerts = [
        TimelineAlert(
            t_s=a.t_s,
            at=a.at,
            activity=a.activity,
            state=a.state if a.state in STATES else "unknown",
            previous=a.previous if a.previous in STATES else "unknown",
            message=a.message,
        )
        for a in lesson.alerts
    ]
    return Timeline(
        start=lesson.started_at,
        interval_s=sample_interval(lesson),
        points=[_point(s) for s in lesson.samples],
        alerts=alerts,
        lines=timeline_lines(thresholds, lesson.checks),
        notes=timeline_notes(lesson),
    )


def lesson_programs(lesson: LessonRecord, check: CheckResult | None) -> Programs | None:
    step = sample_interval(lesson)
    seen: dict[str, list[float]] = {}
    for s in lesson.samples:
        if s.top_program:
            seen.setdefault(s.top_program, []).append(s.top_program_mbps or 0.0)
    during = sorted(
        (
            ProgramRow(
                name=name, mbps=statistics.median(rates), peak_mbps=max(rates), top_s=step * len(rates)
            )
            for name, rates in seen.items()
        ),
        key=lambda p: -(p.top_s or 0.0),
    )[:PROGRAM_ROWS]
    if check is not None and check.local is not None:
        out = local_programs(check.local, f"During the check at {clock(check.started_at)}")
    elif during:
        out = Programs(source="While the lesson was monitored")
    else:
        return None
    out.during_lesson = during
    return out


def _worst_check(checks: Sequence[CheckResult], b: Builder) -> tuple[CheckResult, Assessment] | None:
    rank = ("ready", "unknown", "limited", "cannot")
    judged = [(c, b.assessment(c)) for c in checks]
    if not judged:
        return None
    return max(reversed(judged), key=lambda ca: rank.index(ca[1].overall) if ca[1].overall in rank else 0)


def lesson_advice(
    checks: Sequence[CheckResult], chosen: tuple[CheckResult, Assessment], b: Builder
) -> AdviceSection:
    check, assessment = chosen
    out = advice_section(
        assessment, f"What connectcheck advised after the check at {clock(check.started_at)}"
    )
    if len(checks) >= 2:
        first, last = checks[0], checks[-1]
        before, after = b.assessment(first).verdicts, b.assessment(last).verdicts  # as each was judged
        out.rechecks = [
            f"From {clock(first.started_at)} to {clock(last.started_at)}: {change}"
            for change in compare(last, first, after, before, b.thresholds)
        ]
        moves = [improved for _, improved in metric_changes(last, first, b.thresholds)]
        out.improved = all(moves) if moves and len(set(moves)) == 1 else None
    return out


def procedure_section(record: ProcedureRecord) -> ProcedureSection:
    return ProcedureSection(
        outcome=record.outcome,
        outcome_text=outcome_text(record) if record.outcome else "",
        lesson_start=record.lesson_start,
        rearranged_to=record.rearranged_to,
        last_allowed_date=record.last_allowed_date,
        finished=record.finished,
        tried=[s.tried for s in record.steps if s.tried],
        steps=[
            ProcedureLine(kind=s.kind, text=s.text, answer=s.answer_text, tried=s.tried, at=s.at)
            for s in record.steps
        ],
    )


def build_lesson_report(
    lesson: LessonRecord,
    settings: Settings,
    *,
    identity: Identity | None = None,
    system: SystemInfo | None = None,
    now: datetime | None = None,
) -> Report:
    """The report of a monitored lesson (samples, alerts, checks and guide), masked as the settings ask."""
    b = Builder(settings, system, now, identity, lesson.checks)
    checks = [b.without_command_lines(c) for c in lesson.checks]
    lesson = cut_command_lines(lesson, b.redactor)
    lesson.checks = checks
    r = b.report
    r.kind, r.started_at, r.ended_at, r.checks = (
        "lesson",
        lesson.started_at,
        lesson_end(lesson),
        list(lesson.checks),
    )
    r.provider = next((c.provider for c in reversed(lesson.checks) if c.provider), None)
    no_check = "No check was run during this lesson."
    chosen = b.gather("assessment", lambda: _worst_check(lesson.checks, b), empty=no_check)
    r.headline = b.gather("headline", lambda: _lesson_headline(lesson, b.thresholds)) or r.headline
    r.headline.cause = b.gather("cause", lambda: lesson_cause(lesson, *(chosen or (None, None))))
    r.measurements = b.gather(
        "measurements",
        lambda: (
            check_measurements(
                chosen[0],
                chosen[1],
                b.thresholds,
                f"The check at {clock(chosen[0].started_at)} during the lesson",
            )
            if chosen
            else lesson_measurements(lesson, b.thresholds)
        ),
        empty="No measurements were recorded.",
    )
    r.timeline = b.gather(
        "timeline",
        lambda: lesson_timeline(lesson, b.thresholds),
        empty="No samples were recorded during this lesson.",
    )
    r.programs = b.gather(
        "programs",
        lambda: lesson_programs(lesson, chosen[0] if chosen else None),
        empty="No program was seen using the connection.",
    )
    r.advice = b.gather(
        "advice", lambda: lesson_advice(lesson.checks, chosen, b) if chosen else None, empty=no_check
    )
    r.procedure = b.gather(
        "procedure",
        lambda: procedure_section(lesson.procedure) if lesson.procedure else None,
        empty="The guide for a lesson that cannot go on was not opened.",
    )
    r.computer = (
        b.gather(
            "computer",
            lambda: computer_facts(
                chosen[0] if chosen else None, b.system, identity_facts(settings, b.identity)
            ),
        )
        or []
    )
    return b.finish()
