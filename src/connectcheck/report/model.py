"""The report: one model that the HTML, the PDF, the JSON and the terminal summary all render.

A report is built once (``report.build``), already in plain words and numbers, so that every
format shows the same thing and none of them recomputes anything. It has its own versioned JSON
(``format`` + ``schema_version``): loading refuses a newer version and a damaged file with a
clear message. The checks the report was built from ride along (``checks``), masked like the
rest, so that support tools can look deeper.

Fields whose values come from connectcheck's own vocabulary (states, kinds, cause keys) are
declared with :func:`choice`: they are checked when a report is read back, and never touched by
the redaction, which looks only at free text.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from connectcheck.core.model import (
    CHOICES,
    STATES,
    Cause,
    CheckResult,
    ModelError,
    choice,
    safe_json,
    to_dict,
)

REPORT_FORMAT = "connectcheck-report"
REPORT_SCHEMA_VERSION = 1
DATA_ID = "connectcheck-report"  # the id of the HTML file's data block that holds the report's JSON

KINDS = ("check", "lesson")
PART_STATUSES = ("ok", "error", "empty")


class ReportError(ValueError):
    """A report could not be built, written or read back; the message says why in plain words."""


class NewerReportError(ReportError):
    """The report was written by a newer connectcheck than this one."""




@dataclass
class Part:
    """How gathering one section of the report went: each is gathered on its own."""

    status: str = choice(PART_STATUSES, "ok")
    error: str | None = None  # what went wrong, shown in place of the section
    note: str | None = None  # why an empty section is empty, e.g. "no check was run during the lesson"


@dataclass
class ActivityLine:
    """The verdict for one activity of the lesson (sound, video, whiteboard)."""

    activity: str  # "sound" | "video" | "whiteboard"
    label: str  # "Sound"
    state: str = choice(STATES, "unknown")
    sentence: str = ""
    degraded_s: float | None = None  # lesson: time spent weak
    fail_s: float | None = None  # lesson: time spent failing




@dataclass
class Headline:
    """The answer, at the top: the overall verdict, each activity, the likely cause."""

    state: str = choice(STATES, "unknown")  # the tone of the whole: good / degraded / fail / unknown
    verdict: str = ""  # a few words: "Ready for the lesson"
    sentence: str = ""
    activities: list[ActivityLine] = field(default_factory=list)
    cause: Cause | None = None
    outcome: str | None = None  # lesson: how it ended, from the failed-lesson guide
    monitored_s: float | None = None  # lesson: time covered by samples
    troubled_s: float | None = None  # lesson: time any activity was weak or failing


@dataclass
class LimitCell:
    """One activity's limits for a metric and the state the value has against them."""

    activity: str
    state: str = choice(STATES, "unknown")
    good: float | None = None
    fail: float | None = None
    value: float | None = None  # the value judged when it is not the row's (sound: the call-like stream's)


@dataclass
class MeasurementRow:
    metric: str  # a Summary field name, e.g. "upload_mbps"
    label: str  # "upload"
    unit: str  # "Mbit/s"
    higher_is_better: bool = True
    value: float | None = None
    worst: float | None = None  # lesson: the value the worst tenth of the samples reached
    state: str = choice(STATES, "unknown")  # the worst over the activities
    limits: list[LimitCell] = field(default_factory=list)


@dataclass
class Measurements:
    source: str = ""  # where the values come from, in plain words
    rows: list[MeasurementRow] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


@dataclass
class TimelinePoint:
    """One monitoring sample as the timeline draws it."""

    t_s: float
    rtt_ms: float | None = None
    jitter_ms: float | None = None
    loss_pct: float | None = None  # over the last half minute of probes, as the states judge it
    down_mbps: float | None = None  # this computer's traffic
    up_mbps: float | None = None
    state: str = choice(STATES, "unknown")  # the worst activity state in this sample


@dataclass
class TimelineAlert:
    t_s: float
    at: str
    activity: str
    state: str = choice(STATES, "unknown")
    previous: str = choice(STATES, "unknown")
    message: str = ""


@dataclass
class ThresholdLine:
    """A limit drawn across a timeline panel."""

    metric: str  # "rtt_ms" | "jitter_ms" | "loss_pct" | "down_mbps" | "up_mbps"
    value: float
    label: str  # "good for sound: 100 ms or less"
    kind: str = choice(("good", "fail", "capacity"), "good")


@dataclass
class Timeline:
    start: str  # ISO 8601: time 0 of the points
    interval_s: float | None = None
    points: list[TimelinePoint] = field(default_factory=list)
    alerts: list[TimelineAlert] = field(default_factory=list)
    lines: list[ThresholdLine] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # what was measured, and what is missing and why


@dataclass
class ProgramRow:
    name: str  # untrusted text from the computer
    category: str | None = None  # in words: "game launcher"
    down_mbps: float | None = None
    up_mbps: float | None = None
    rate_source: str = choice(("measured", "estimate", "none"), "none")
    cpu_pct: float | None = None
    memory_mb: float | None = None
    mbps: float | None = None  # lesson: its typical rate (down + up) while it was the busiest
    peak_mbps: float | None = None  # lesson: its highest rate
    top_s: float | None = None  # lesson: time it was the busiest program on the connection


@dataclass
class Programs:
    source: str = ""  # where the figures come from, in plain words
    window_s: float | None = None
    rows: list[ProgramRow] = field(default_factory=list)  # using the connection, busiest first
    during_lesson: list[ProgramRow] = field(default_factory=list)  # busiest while monitoring
    browsers: list[str] = field(default_factory=list)  # "Chrome: 14 processes, 9 page processes"
    busiest_cpu: list[ProgramRow] = field(default_factory=list)
    unattributed_down_mbps: float | None = None
    unattributed_up_mbps: float | None = None
    unattributed_programs: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


@dataclass
class AdviceRow:
    rank: int
    action: str
    evidence: str = ""


@dataclass
class AdviceSection:
    source: str = ""
    advice: list[AdviceRow] = field(default_factory=list)
    rechecks: list[str] = field(default_factory=list)  # what changed when checked again
    improved: bool | None = None  # did a re-check find things better (None: no re-check)


@dataclass
class ProcedureLine:
    kind: str  # "question" | "info" | "date" | "end"
    text: str
    answer: str | None = None
    tried: str | None = None
    at: str | None = None


@dataclass
class ProcedureSection:
    outcome: str | None = None  # outcome key from the procedure, e.g. "abandoned"
    outcome_text: str = ""  # in words for support staff
    lesson_start: str | None = None
    rearranged_to: str | None = None
    last_allowed_date: str | None = None
    finished: bool = False
    tried: list[str] = field(default_factory=list)  # in the tutor's voice
    steps: list[ProcedureLine] = field(default_factory=list)


@dataclass
class Fact:
    key: str  # stable name for tools: "os", "connection_type", …
    label: str  # "Operating system"
    value: str


@dataclass
class Redaction:
    """One kind of detail masked in this report."""

    what: str = choice(
        (
            "user_name",
            "home_folder",
            "host_name",
            "ip_addresses",
            "mac_addresses",
            "wifi_name",
            "command_lines",
        ),
        "user_name",
    )
    label: str = ""  # "your user name"
    replaced_by: str = ""  # "[user name]"
    count: int = 0  # places it was masked in this report


@dataclass
class Report:
    """One report for the support e-mail, of a check or of a monitored lesson: gathered once from
    the check or the lesson (``report.build``, ``report.lesson``), masked (``redactions`` says what),
    then rendered as HTML, PDF or text. ``parts`` says how gathering each section went, so a
    section that failed is shown as such and never silently missing."""

    kind: str = choice(KINDS, "check")
    started_at: str = ""  # ISO 8601 with offset: the check's or the lesson's start
    ended_at: str | None = None
    created_at: str = ""
    format: str = REPORT_FORMAT
    schema_version: int = REPORT_SCHEMA_VERSION
    time_zone: str = ""  # e.g. "GMT (UTC+00:00)"
    app_version: str = ""
    tutor_label: str | None = None
    organisation: str | None = None
    # the internet provider's name as the speed service named it in the check(s) behind the report
    # (``CheckResult.provider``): the name only, never an address
    provider: str | None = None
    headline: Headline = field(default_factory=Headline)
    measurements: Measurements | None = None
    timeline: Timeline | None = None
    programs: Programs | None = None
    advice: AdviceSection | None = None
    procedure: ProcedureSection | None = None
    computer: list[Fact] = field(default_factory=list)
    checks: list[CheckResult] = field(default_factory=list)  # the checks behind it, masked
    parts: dict[str, Part] = field(default_factory=dict)  # how gathering each section went
    redactions: list[Redaction] = field(default_factory=list)


def check_choices(obj: Any, path: str = "$") -> None:
    """Raise ModelError when a vocabulary field of the report holds a value outside its choices."""
    if not dataclasses.is_dataclass(obj) or isinstance(obj, type):
        return
    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        allowed = f.metadata.get(CHOICES)
        if allowed is not None and value not in allowed:
            raise ModelError(f"{path}.{f.name}: {value!r} is not one of {', '.join(allowed)}")
        if isinstance(value, list):
            for i, item in enumerate(value):
                check_choices(item, f"{path}.{f.name}[{i}]")
        elif isinstance(value, dict):
            for key, item in value.items():
                check_choices(item, f"{path}.{f.name}.{key}")
        else:
            check_choices(value, f"{path}.{f.name}")


def dumps_report(report: Report, indent: int | None = 2) -> str:
    """The versioned JSON text of a report."""
    return safe_json(to_dict(report), indent=indent)
