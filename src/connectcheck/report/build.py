"""Gathering a report from one check, or from a monitored lesson's window in the history.

Each section is gathered on its own (qutebrowser's crash report habit): a section that fails is
recorded in ``report.parts`` with what went wrong, shown in its place, and the rest still comes
out. The verdicts, thresholds and advice are the ones ``assess/`` gives; nothing is judged here
in another way. The report comes out masked (``redact.py``): there is no unmasked report to
forget to mask.
"""

from __future__ import annotations

import os
import platform
import statistics
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TypeVar

from connectcheck import __version__
from connectcheck.assess import assess_check, thresholds_from_settings
from connectcheck.assess.advice import programs as merged_programs
from connectcheck.assess.compare import compare, metric_changes
from connectcheck.assess.text import join_words, number, quantity
from connectcheck.assess.thresholds import Thresholds
from connectcheck.assess.verdicts import judge_activities, judge_metric
from connectcheck.local.text import CATEGORY_WORDS, KIND_WORDS, OS_WORDS
from connectcheck.model import (
    Assessment,
    BrowserUsage,
    CheckResult,
    LessonRecord,
    LocalFindings,
    MonitorSample,
    ProcedureRecord,
    Status,
    WifiInfo,
)
from connectcheck.policy.procedure import default_procedure
from connectcheck.policy.profile import OrganisationProfile, ProfileError, load_profile
from connectcheck.policy.rearrange import describe_date, describe_time
from connectcheck.report.cause import BAD, check_cause, lesson_cause, sample_interval, spans, troubled
from connectcheck.report.model import (
    STATES,
    ActivityLine,
    AdviceRow,
    AdviceSection,
    Fact,
    Headline,
    LimitCell,
    MeasurementRow,
    Measurements,
    Part,
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
from connectcheck.report.redact import Identity, cut_command_lines, redact_report, redactor_for
from connectcheck.settings import Settings

T = TypeVar("T")

OVERALL = {  # assess's overall -> (tone, a few words)
    "ready": ("good", "Ready for the lesson"),
    "limited": ("degraded", "The lesson can go ahead, with limits"),
    "cannot": ("fail", "The lesson cannot go ahead online"),
    "unknown": ("unknown", "Not sure yet"),
}
LESSON_VERDICT = {
    "good": "No lasting problem during the lesson",
    "degraded": "The connection was weak at times",
    "fail": "The connection failed during the lesson",
    "unknown": "Not enough measurements to tell",
}
OUTCOMES = {  # the procedure's outcomes, in words for support staff
    "resolved": "The quick fixes worked and the lesson went on.",
    "continued": "The lesson went on in a simpler way (by voice, typing or other work).",
    "continued_phone": "The lesson went on with a phone for the sound.",
    "rearranged": "The lesson was moved to another time, this once.",
    "abandoned": "The lesson could not go on and was abandoned, after the tutor followed the steps.",
    "not_this_procedure": "The lesson was stopped and reported (a first lesson, or a new place of teaching).",
}
TIMELINE_METRICS = ("rtt_ms", "jitter_ms", "loss_pct")
SUSTAINED_S = 30.0  # a state held this long in the samples counts even without an alert
PROGRAM_ROWS = 8


@dataclass(frozen=True)
class SystemInfo:
    """What the report says about this computer beyond the check: OS and version, cores."""

    os_name: str = ""
    os_version: str = ""
    cores: int | None = None
    python: str = ""

    @classmethod
    def discover(cls) -> SystemInfo:
        system = platform.system()
        version = platform.release()
        if system == "Linux":
            try:
                pretty = platform.freedesktop_os_release().get("PRETTY_NAME", "")
            except OSError:
                pretty = ""
            version = f"{pretty}, kernel {version}" if pretty else f"kernel {version}"
        elif system == "Darwin":
            system, version = "macOS", platform.mac_ver()[0]
        elif system == "Windows":
            version = f"{platform.release()} (build {platform.version()})"
        return cls(system, version, os.cpu_count(), platform.python_version())


def _profile(settings: Settings) -> OrganisationProfile | None:
    try:
        return load_profile(settings["organisation.profile"])
    except ProfileError:
        return None


def _describe(exc: BaseException) -> str:
    return f"this part could not be put together ({type(exc).__name__}: {exc})"


class _Builder:
    """One report being gathered: settings, thresholds and the parts' outcomes."""

    def __init__(
        self,
        settings: Settings,
        system: SystemInfo | None,
        now: datetime | None,
        identity: Identity | None,
        checks: Sequence[CheckResult],
    ) -> None:
        self.settings = settings
        self.identity = identity or Identity.discover()
        ssids = [c.local.wifi.ssid for c in checks if c.local and c.local.wifi and c.local.wifi.ssid]
        self.redactor = redactor_for(settings, self.identity, ssids)
        self.profile = _profile(settings)
        self.thresholds = thresholds_from_settings(settings, self.profile)
        self.system = system or SystemInfo.discover()
        label = settings["report.tutor_label"].strip()
        self.report = Report(
            created_at=(now or datetime.now().astimezone()).isoformat(timespec="seconds"),
            app_version=__version__,
            tutor_label=label or None,
            organisation=self.profile.name if self.profile else None,
        )

    def gather(self, name: str, build: Callable[[], T | None], empty: str | None = None) -> T | None:
        """Run one section's builder; a failure is recorded in place and the report carries on."""
        try:
            value = build()
        except Exception as exc:  # a section that fails must not stop the others
            self.report.parts[name] = Part(status="error", error=_describe(exc))
            return None
        self.report.parts[name] = Part(status="ok") if value is not None else Part(status="empty", note=empty)
        return value

    def assessment(self, result: CheckResult) -> Assessment:
        return result.assessment or assess_check(result, thresholds=self.thresholds)

    def finish(self) -> Report:
        r = self.report
        try:
            r.time_zone = time_zone(r.started_at)
        except ValueError:
            r.time_zone = ""
        return redact_report(r, self.redactor)


# --- when ---------------------------------------------------------------------------------------------


def time_zone(iso: str) -> str:
    """ "GMT (UTC+00:00)": the zone's name where this computer knows it, and the offset."""
    when = datetime.fromisoformat(iso)
    offset = when.utcoffset()
    if offset is None:
        return "local time (no time zone recorded)"
    sign, seconds = ("+" if offset >= timedelta(0) else "-"), abs(int(offset.total_seconds()))
    utc = f"UTC{sign}{seconds // 3600:02d}:{seconds % 3600 // 60:02d}"
    local = when.astimezone()
    name = local.tzname() if local.utcoffset() == offset else None
    return f"{name} ({utc})" if name and name != utc and not name.startswith(("UTC", "+", "-")) else utc


def duration(seconds: float) -> str:
    """ "40 s", "6 min", "1 h 05 min"."""
    if seconds < 90:
        return f"{seconds:.0f} s"
    minutes = round(seconds / 60)
    return f"{minutes} min" if minutes < 60 else f"{minutes // 60} h {minutes % 60:02d} min"


# --- sections shared by checks and lessons ------------------------------------------------------------------


def _worst(states: Sequence[str]) -> str:
    known = [s for s in states if s in ("good", "degraded", "fail")]
    return max(known, key=("good", "degraded", "fail").index) if known else "unknown"


def measurement_rows(
    assessment: Assessment, thresholds: Thresholds, values: dict[str, float | None]
) -> list[MeasurementRow]:
    """One row per thresholded metric: the value and each activity's limits and state, as judged."""
    rows = []
    for key, metric in thresholds.metrics.items():
        cells = [
            LimitCell(activity=v.activity, state=m.state, good=m.good, fail=m.fail)
            for v in assessment.verdicts
            for m in v.metrics
            if m.metric == key
        ]
        rows.append(
            MeasurementRow(
                metric=key,
                label=metric.label,
                unit=metric.unit,
                higher_is_better=metric.higher_is_better,
                value=values.get(key),
                state=_worst([c.state for c in cells]),
                limits=cells,
            )
        )
    return rows


def check_measurements(
    result: CheckResult, assessment: Assessment, thresholds: Thresholds, source: str
) -> Measurements:
    values = {k: getattr(result.summary, k, None) for k in thresholds.metrics}
    notes = []
    if result.summary.udp_ok is False:
        notes.append(
            "The call route over UDP got no answer: sound and video would go through a slower relay."
        )
    if result.summary.platform_reachable is False:
        notes.append("The lesson platform could not be reached.")
    return Measurements(source=source, rows=measurement_rows(assessment, thresholds, values), notes=notes)


def program_rows(local: LocalFindings) -> list[ProgramRow]:
    """The programs using the connection, one row per app (the advice's own merging), busiest first."""
    return [
        ProgramRow(
            name=p.name,
            category=CATEGORY_WORDS.get(p.category or ""),
            down_mbps=p.down_mbps,
            up_mbps=p.up_mbps,
            rate_source=p.rate_source if p.rate_source in ("measured", "estimate") else "none",
        )
        for p in merged_programs(local)
    ][:PROGRAM_ROWS]


def _browser(b: BrowserUsage) -> str:
    traffic = (
        ""
        if b.down_mbps is None and b.up_mbps is None
        else f", {quantity(b.down_mbps or 0.0, 'Mbit/s')} down and {quantity(b.up_mbps or 0.0, 'Mbit/s')} up"
    )
    return f"{b.app}: {b.processes} processes, {b.content_processes} page processes{traffic}"


def local_programs(local: LocalFindings, source: str) -> Programs:
    out = Programs(
        source=source,
        window_s=local.window_s,
        rows=program_rows(local),
        browsers=[_browser(b) for b in local.browsers],
        unattributed_down_mbps=local.unattributed_down_mbps,
        unattributed_up_mbps=local.unattributed_up_mbps,
        unattributed_programs=list(local.unattributed_programs),
        notes=list(local.notes),
    )
    if local.system is not None:
        out.busiest_cpu = [
            ProgramRow(name=p.app or p.name, cpu_pct=p.cpu_pct, memory_mb=p.memory_mb)
            for p in local.system.busiest
        ]
    if local.status is not Status.OK and local.error:
        out.notes.insert(0, local.error)
    return out


def advice_section(assessment: Assessment, source: str) -> AdviceSection:
    return AdviceSection(
        source=source,
        advice=[AdviceRow(a.rank, a.action, a.evidence) for a in assessment.advice],
        rechecks=list(assessment.changes),
    )


def _wifi(w: WifiInfo) -> str:
    if w.status is not Status.OK:
        return w.error or "not known"
    if w.connected is False:
        return "switched on but not connected"
    parts = [
        quantity(w.signal_dbm, "dBm") if w.signal_dbm is not None else "",
        f"signal {quantity(w.signal_pct, '%')}" if w.signal_pct is not None else "",
        f"{w.frequency_mhz / 1000:.1f} GHz" if w.frequency_mhz else "",
        f"link {quantity(w.link_rate_mbps, 'Mbit/s')}" if w.link_rate_mbps is not None else "",
    ]
    return ", ".join(p for p in parts if p) or "signal not known"


def _load_facts(local: LocalFindings, cores: int | None) -> list[Fact]:
    out = []
    s = local.system
    if s is not None and s.cpu_pct is not None:
        count = len(s.cpu_pct_per_core) or cores
        out.append(
            Fact(
                "cpu", "Processor load", quantity(s.cpu_pct, "%") + (f" over {count} cores" if count else "")
            )
        )
    if s is not None and s.memory_used_pct is not None:
        free = f", {s.memory_available_mb / 1024:.1f} GB free" if s.memory_available_mb is not None else ""
        out.append(Fact("memory", "Memory", f"{quantity(s.memory_used_pct, '%')} in use{free}"))
    if s is not None and s.battery_pct is not None:
        how = {True: ", on battery", False: ", plugged in", None: ""}[s.on_battery]
        out.append(
            Fact(
                "battery",
                "Battery",
                quantity(s.battery_pct, "%") + how + (", power saver on" if s.power_saver else ""),
            )
        )
    return out


def _network_facts(local: LocalFindings) -> list[Fact]:
    out = [Fact("connection_type", "Connection", KIND_WORDS.get(local.connection_type or "", "not known"))]
    if local.wifi is not None:
        out.append(Fact("wifi_signal", "Wi-Fi signal", _wifi(local.wifi)))
        if local.wifi.ssid:
            out.append(Fact("wifi_network", "Wi-Fi network", local.wifi.ssid))
    cards = [
        f"{u.name} ({KIND_WORDS.get(u.kind, u.kind)}{', default route' if u.is_default else ''})"
        for u in local.interfaces
        if u.kind != "loopback"
    ]
    if cards:
        out.append(Fact("interfaces", "Network cards", join_words(cards)))
    return out


def _speed_facts(result: CheckResult) -> list[Fact]:
    out = []
    done = [b for b in result.bandwidth if b.engine or b.server]
    if result.engine or done:
        engine = result.engine or done[0].engine
        words = {
            "adaptive": "connectcheck's own multi-stream engine",
            "classic": "speedtest-cli's own transfer",
        }
        streams = max((b.streams for b in result.bandwidth), default=0)
        out.append(
            Fact(
                "speed_engine",
                "Speed test",
                words.get(engine, engine) + (f", {streams} parallel connections" if streams else ""),
            )
        )
    servers = []
    for b in result.bandwidth:
        s = b.server
        if s is None:
            continue
        where = ", ".join(
            x
            for x in (
                f"{number(s.distance_km)} km" if s.distance_km is not None else "",
                f"{quantity(s.latency_ms, 'ms')} away" if s.latency_ms is not None else "",
            )
            if x
        )
        text = (
            f"{s.name or s.host or s.url} ({s.source}, {s.protocol}{', ' + where if where else ''}) {s.url}"
        )
        if text not in servers:
            servers.append(text)
    if servers:
        out.append(Fact("speed_servers", "Speed server", "; ".join(servers)))
    if result.summary.latency_target:
        out.append(Fact("latency_target", "Round trips measured to", result.summary.latency_target))
    urls = [e.url for e in result.reachability]
    if urls:
        out.append(Fact("platform", "Lesson platform checked", ", ".join(urls)))
    return out


def computer_facts(check: CheckResult | None, system: SystemInfo, identity_facts: list[Fact]) -> list[Fact]:
    """OS and version, connection, Wi-Fi, load, app version, speed engine and servers."""
    os_name = (
        OS_WORDS.get(check.local.os, system.os_name)
        if check and check.local and check.local.os
        else system.os_name
    )
    out = [
        Fact("os", "Operating system", f"{os_name} ({system.os_version})" if system.os_version else os_name),
        Fact("app_version", "connectcheck version", (check.app_version if check else "") or __version__),
    ]
    if system.python:
        out.append(Fact("python", "Python", system.python))
    out += identity_facts
    if check is not None and check.local is not None:
        out += _network_facts(check.local) + _load_facts(check.local, system.cores)
    if check is not None:
        out += _speed_facts(check)
        used = (
            f"{check.bytes_used / 1e6:.1f} MB"
            if check.bytes_used >= 100_000
            else f"{check.bytes_used / 1e3:.0f} kB"
        )
        out.append(
            Fact(
                "check",
                "The check",
                f"{check.kind.value} check, took {check.duration_s:.1f} s, used {used} of data",
            )
        )
    return out


def identity_facts(settings: Settings, identity: Identity) -> list[Fact]:
    """The computer's and the user's names, only when the user chose to show them."""
    out = []
    if settings["report.include_host_name"] and identity.host_names:
        out.append(Fact("host_name", "Computer name", identity.host_names[0]))
    if settings["report.include_user_name"] and identity.user_names:
        out.append(Fact("user_name", "User name", identity.user_names[0]))
    return out


# --- a check ----------------------------------------------------------------------------------------------


def _check_headline(result: CheckResult, assessment: Assessment, thresholds: Thresholds) -> Headline:
    tone, words = OVERALL.get(assessment.overall, OVERALL["unknown"])
    sentence = assessment.sentence
    if result.status is Status.CANCELLED:
        sentence += " (The check was cancelled before it finished.)"
    activities = [
        ActivityLine(
            activity=v.activity,
            label=_label(thresholds, v.activity),
            state=v.state if v.state in STATES else "unknown",
            sentence=v.sentence,
        )
        for v in assessment.verdicts
    ]
    return Headline(state=tone, verdict=words, sentence=sentence, activities=activities)


def _label(thresholds: Thresholds, activity: str) -> str:
    a = thresholds.activities.get(activity)
    return a.label if a else activity.capitalize()


def _ended(result: CheckResult) -> str | None:
    try:
        end = datetime.fromisoformat(result.started_at) + timedelta(seconds=result.duration_s)
    except ValueError:
        return None
    return end.isoformat(timespec="seconds")


def build_check_report(
    result: CheckResult,
    settings: Settings,
    *,
    identity: Identity | None = None,
    system: SystemInfo | None = None,
    now: datetime | None = None,
) -> Report:
    """The report of one check, masked as the settings ask."""
    b = _Builder(settings, system, now, identity, [result])
    result = cut_command_lines(result, b.redactor)
    r = b.report
    r.kind, r.started_at, r.ended_at, r.checks = "check", result.started_at, _ended(result), [result]
    assessment = b.gather("assessment", lambda: b.assessment(result))
    if assessment is not None:
        r.headline = (
            b.gather("headline", lambda: _check_headline(result, assessment, b.thresholds)) or r.headline
        )
        r.headline.cause = b.gather("cause", lambda: check_cause(result, assessment))
        r.measurements = b.gather(
            "measurements",
            lambda: check_measurements(
                result, assessment, b.thresholds, f"The check of {_when(result.started_at)}"
            ),
        )
        r.advice = b.gather(
            "advice", lambda: advice_section(assessment, "What connectcheck advised after the check")
        )
    r.programs = b.gather(
        "programs",
        lambda: local_programs(result.local, "During the check") if result.local else None,
        empty="This computer's programs were not looked at in this check.",
    )
    r.computer = (
        b.gather("computer", lambda: computer_facts(result, b.system, identity_facts(settings, b.identity)))
        or []
    )
    return b.finish()


def _when(iso: str) -> str:
    try:
        return describe_time(datetime.fromisoformat(iso))
    except ValueError:
        return iso


# --- a monitored lesson -------------------------------------------------------------------------------


def lesson_end(lesson: LessonRecord) -> str | None:
    return lesson.ended_at or (lesson.samples[-1].at if lesson.samples else None)


def _activity_line(lesson: LessonRecord, activity: str, label: str, step: float) -> ActivityLine:
    states = [s.states.get(activity, "unknown") for s in lesson.samples]
    held = {state: step * states.count(state) for state in ("degraded", "fail")}
    alerted = [a.state for a in lesson.alerts if a.activity == activity and a.state in BAD]
    sustained = [state for state, seconds in held.items() if seconds >= SUSTAINED_S]
    state = _worst(alerted + sustained)
    if state == "unknown" and any(s in ("good", "degraded", "fail") for s in states):
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
    state = _worst([a.state for a in activities])
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
    text = OUTCOMES.get(record.outcome or "") or default_procedure().outcomes.get(record.outcome or "", "")
    if record.outcome == "rearranged" and record.rearranged_to:
        try:
            text = text.rstrip(".") + f", to {describe_date(datetime.fromisoformat(record.rearranged_to))}."
        except ValueError:
            text = text.rstrip(".") + f", to {record.rearranged_to}."
    return text


def _median(values: Sequence[float]) -> float | None:
    return statistics.median(values) if values else None


def _tenth_worst(values: Sequence[float]) -> float | None:
    return sorted(values)[int(0.9 * (len(values) - 1))] if values else None


def lesson_measurements(lesson: LessonRecord, thresholds: Thresholds) -> Measurements | None:
    """Typical round trip, jitter and loss over the lesson, judged against the same limits."""
    rows = []
    for key in TIMELINE_METRICS:
        values = [
            v
            for s in lesson.samples
            if (v := judged_loss(s) if key == "loss_pct" else getattr(s, key)) is not None
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
                worst=_tenth_worst(values),
                state=_worst([c.state for c in cells]),
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


def clock_of(iso: str) -> str:
    try:
        return datetime.fromisoformat(iso).strftime("%H:%M")
    except ValueError:
        return iso


def judged_loss(s: MonitorSample) -> float | None:
    """The loss the sample's states judge: over the last half minute of probes, when recorded (one
    burst of a few probes alone jumps between 0, 10 and 20 %)."""
    return s.window_loss_pct if s.window_loss_pct is not None else s.loss_pct


def _point(s: MonitorSample) -> TimelinePoint:
    return TimelinePoint(
        t_s=s.t_s,
        rtt_ms=s.rtt_ms,
        jitter_ms=s.jitter_ms,
        loss_pct=judged_loss(s),
        down_mbps=s.down_mbps,
        up_mbps=s.up_mbps,
        state=_worst(list(s.states.values())),
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
        out = local_programs(check.local, f"During the check at {clock_of(check.started_at)}")
    elif during:
        out = Programs(source="While the lesson was monitored")
    else:
        return None
    out.during_lesson = during
    return out


def _worst_check(checks: Sequence[CheckResult], b: _Builder) -> tuple[CheckResult, Assessment] | None:
    rank = ("ready", "unknown", "limited", "cannot")
    judged = [(c, b.assessment(c)) for c in checks]
    if not judged:
        return None
    return max(reversed(judged), key=lambda ca: rank.index(ca[1].overall) if ca[1].overall in rank else 0)


def lesson_advice(
    checks: Sequence[CheckResult], chosen: tuple[CheckResult, Assessment], b: _Builder
) -> AdviceSection:
    check, assessment = chosen
    out = advice_section(
        assessment, f"What connectcheck advised after the check at {clock_of(check.started_at)}"
    )
    if len(checks) >= 2:
        first, last = checks[0], checks[-1]
        before, after = judge_activities(first, b.thresholds), judge_activities(last, b.thresholds)
        out.rechecks = [
            f"From {clock_of(first.started_at)} to {clock_of(last.started_at)}: {change}"
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
    b = _Builder(settings, system, now, identity, lesson.checks)
    lesson = cut_command_lines(lesson, b.redactor)
    r = b.report
    r.kind, r.started_at, r.ended_at, r.checks = (
        "lesson",
        lesson.started_at,
        lesson_end(lesson),
        list(lesson.checks),
    )
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
                f"The check at {clock_of(chosen[0].started_at)} during the lesson",
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
