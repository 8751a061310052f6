"""What a report says, in order, as a renderer-neutral outline: the HTML, the PDF and the terminal
text all render this one outline, so they show the same content in the same order.

The answer comes first (the verdict, each activity, the likely cause with its evidence), then the
evidence below it: measurements against their limits, the lesson's timeline, the programs using
the connection, the advice and re-checks, the failed-lesson guide, the computer, the details of
each check, and what was masked. A section whose gathering failed says so in its place.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from connectcheck.core.model import BandwidthResult, CheckResult, Status
from connectcheck.core.words import (
    STATE_WORDS,
    clock,
    describe_date,
    describe_time,
    join_words,
    limit_number,
    number,
    parse_time,
    quantity,
    time_words,
)
from connectcheck.report.charts import alert_moments, finite, measurement_bars, timeline_chart
from connectcheck.report.model import MeasurementRow, Programs, Report
from connectcheck.report.redact import CATEGORIES

ACTIVITY_LABELS = {"sound": "Sound", "video": "Video", "whiteboard": "The whiteboard"}
STATE_TITLES = {"good": "Good", "degraded": "Weak", "fail": "Failing", "unknown": "Not known"}


@dataclass
class Para:
    text: str
    style: str = "normal"  # "normal" | "lead" | "muted" | "error" | "strong"


@dataclass
class Item:
    text: str
    sub: str | None = None  # a second, quieter line (the evidence behind an action)


@dataclass
class Bullets:
    items: list[Item]
    numbered: bool = False


@dataclass
class Cell:
    text: str
    sub: str | None = None
    tone: str | None = None  # a state: the cell is coloured like it
    numeric: bool = False
    bold: bool = False


@dataclass
class Table:
    header: list[str]
    rows: list[list[Cell]]


@dataclass
class Chart:
    svg: str
    caption: str


@dataclass
class Heading:
    text: str


@dataclass
class Verdict:
    tone: str
    title: str
    text: str


@dataclass
class Light:
    label: str
    tone: str
    text: str


@dataclass
class Lights:
    items: list[Light]


@dataclass
class CauseBox:
    title: str
    text: str
    evidence: list[str] = field(default_factory=list)
    also: list[str] = field(default_factory=list)
    tone: str = "unknown"


@dataclass
class Facts:
    rows: list[tuple[str, str]]


Block = Para | Bullets | Table | Chart | Heading | Verdict | Lights | CauseBox | Facts


@dataclass
class Section:
    id: str
    title: str
    blocks: list[Block] = field(default_factory=list)


@dataclass
class Document:
    title: str
    when: str
    meta: list[tuple[str, str]]
    sections: list[Section]
    footer: str


# --- small words ------------------------------------------------------------------------------------------


def when_text(report: Report) -> str:
    """When, in words: the check's time ("Thursday 24 October 2024 at 16:05, GMT (UTC+00:00)") or the
    lesson's window."""
    start, end = parse_time(report.started_at), parse_time(report.ended_at)
    zone = f", {report.time_zone}" if report.time_zone else ""
    if start is None:
        return report.started_at or "time not recorded"
    if report.kind == "check":
        return f"{describe_time(start)}{zone}"
    if end is None:
        return f"{describe_time(start)}{zone} (the end was not recorded)"
    until = f"{end:%H:%M}" if end.date() == start.date() else describe_time(end)
    return f"{describe_date(start)}, {start:%H:%M} to {until}{zone}"


def _rate(value: float | None, source: str = "measured") -> str:
    if value is None or finite(value) is None:
        return "–"
    return ("~" if source == "estimate" else "") + quantity(finite(value) or 0.0, "Mbit/s")


def _ms(value: float | None) -> str:
    return "–" if finite(value) is None else quantity(finite(value) or 0.0, "ms")


def _pct(value: float | None) -> str:
    return "–" if finite(value) is None else quantity(finite(value) or 0.0, "%")


def _seconds(value: float | None) -> str:
    v = finite(value)
    if v is None:
        return "–"
    return f"{v:.0f} s" if v < 90 else f"{v / 60:.0f} min"


# --- the sections ---------------------------------------------------------------------------------------


def _answer(report: Report) -> list[Block]:
    h = report.headline
    blocks: list[Block] = [Verdict(h.state, h.verdict or STATE_TITLES.get(h.state, ""), h.sentence)]
    if h.activities:
        blocks.append(Lights([Light(a.label, a.state, a.sentence) for a in h.activities]))
    if h.outcome:
        blocks.append(Para(f"How the lesson ended: {h.outcome}", "strong"))
    c = h.cause
    if c is not None:
        tone = "good" if c.key == "no_fault" else "unknown" if c.key == "unclear" else h.state
        blocks.append(CauseBox(f"Likely cause: {c.title}", c.sentence, c.evidence, c.also, tone))
    return blocks


def _limit_cell(row: MeasurementRow, activity: str) -> Cell:
    cell = next((c for c in row.limits if c.activity == activity), None)
    if cell is None or finite(cell.good) is None:
        return Cell("–")
    good, fail = limit_number(finite(cell.good) or 0.0), limit_number(finite(cell.fail) or 0.0)
    need = f"needs ≥ {good}, fails < {fail}" if row.higher_is_better else f"needs ≤ {good}, fails > {fail}"
    judged = finite(cell.value)
    if judged is not None:
        need = f"call-like stream: {quantity(judged, row.unit)}; {need}"
    return Cell(STATE_WORDS.get(cell.state, cell.state), sub=need, tone=cell.state)


def _measurements(report: Report) -> list[Block]:
    m = report.measurements
    if m is None:
        return []
    activities = list(dict.fromkeys(c.activity for r in m.rows for c in r.limits))
    labels = {a.activity: a.label for a in report.headline.activities}
    worst = any(r.worst is not None for r in m.rows)
    header = ["Measurement", "Value", *(labels.get(a) or ACTIVITY_LABELS.get(a, a) for a in activities)]
    rows = []
    for r in m.rows:
        value = finite(r.value)
        shown = "not measured" if value is None else quantity(value, r.unit)
        sub = (
            f"worst tenth: {quantity(finite(r.worst) or 0.0, r.unit)}"
            if worst and r.worst is not None
            else None
        )
        rows.append(
            [
                Cell(r.label.capitalize(), bold=True),
                Cell(shown, sub=sub, numeric=True, bold=value is not None),
                *(_limit_cell(r, a) for a in activities),
            ]
        )
    blocks: list[Block] = [
        Para(m.source, "muted"),
        Chart(
            measurement_bars(m.rows),
            "Each measurement against "
            "the most demanding activity's limits: green is good, amber weak, red failing.",
        ),
    ]
    blocks.append(Table(header, rows))
    blocks += [Para(n, "muted") for n in m.notes]
    return blocks


def _timeline(report: Report) -> list[Block]:
    t = report.timeline
    if t is None:
        return []
    blocks: list[Block] = [
        Chart(
            timeline_chart(t),
            "Shaded: stretches when that panel's measurement was weak (amber) or failing (red) for "
            "the most demanding activity. Dashed: the most demanding activity's limits (green good, "
            "red failing) and the best speed a check measured during the lesson. Numbered marks: the "
            "alerts below.",
        )
    ]
    if t.alerts:
        rows = [
            [
                Cell(str(n), numeric=True),
                Cell(clock(a.at)),
                Cell(
                    f"{ACTIVITY_LABELS.get(a.activity, a.activity)}: "
                    f"{STATE_WORDS.get(a.previous, a.previous)} → {STATE_WORDS.get(a.state, a.state)}",
                    tone=a.state,
                ),
                Cell(a.message),
            ]
            for n, a in zip(alert_moments(t), t.alerts, strict=True)
        ]
        blocks += [Heading("Alerts shown to the tutor"), Table(["#", "Time", "Change", "Message"], rows)]
    else:
        blocks.append(Para("No alert was shown to the tutor during the lesson.", "muted"))
    return blocks + [Para(n, "muted") for n in t.notes]


def _program_table(p: Programs) -> list[Block]:
    rows = [
        [
            Cell(r.name, bold=True),
            Cell(r.category or ""),
            Cell(_rate(r.down_mbps, r.rate_source) if r.rate_source != "none" else "not known", numeric=True),
            Cell(_rate(r.up_mbps, r.rate_source) if r.rate_source != "none" else "not known", numeric=True),
        ]
        for r in p.rows
    ]
    if p.unattributed_down_mbps is not None or p.unattributed_up_mbps is not None:
        rows.append(
            [
                Cell("not traced to a program", sub=join_words(p.unattributed_programs) or None),
                Cell(""),
                Cell(_rate(p.unattributed_down_mbps), numeric=True),
                Cell(_rate(p.unattributed_up_mbps), numeric=True),
            ]
        )
    if not rows:
        return [Para("No program was using the connection.", "muted")]
    blocks: list[Block] = [Table(["Program", "Kind", "Download", "Upload"], rows)]
    if any(r.rate_source == "estimate" for r in p.rows):
        blocks.append(Para("~ an estimate: this system does not count each program's traffic.", "muted"))
    return blocks


def _programs(report: Report) -> list[Block]:
    p = report.programs
    if p is None:
        return []
    window = f" (over {number(finite(p.window_s) or 0.0)} s)" if finite(p.window_s) else ""
    blocks: list[Block] = [Para(f"{p.source}{window}", "muted")]
    if p.rows or p.unattributed_down_mbps is not None:
        blocks += _program_table(p)
    if p.during_lesson:
        blocks += [
            Heading("Busiest program on the connection while the lesson was monitored"),
            Table(
                ["Program", "Busiest for", "Typical rate", "Highest"],
                [
                    [
                        Cell(r.name, bold=True),
                        Cell(_seconds(r.top_s), numeric=True),
                        Cell(_rate(r.mbps), numeric=True),
                        Cell(_rate(r.peak_mbps), numeric=True),
                    ]
                    for r in p.during_lesson
                ],
            ),
        ]
    if p.browsers:
        blocks += [
            Heading("Browsers (page processes show the load, not the number of tabs)"),
            Bullets([Item(b) for b in p.browsers]),
        ]
    if p.busiest_cpu:
        blocks += [
            Heading("Busiest programs on the processor"),
            Table(
                ["Program", "Processor (of one core)", "Memory"],
                [
                    [
                        Cell(r.name),
                        Cell(_pct(r.cpu_pct), numeric=True),
                        Cell(
                            "–" if finite(r.memory_mb) is None else f"{finite(r.memory_mb):,.0f} MB",
                            numeric=True,
                        ),
                    ]
                    for r in p.busiest_cpu
                ],
            ),
        ]
    blocks += [Para(n, "muted") for n in p.notes]
    return blocks


def _advice(report: Report) -> list[Block]:
    a = report.advice
    if a is None:
        return []
    blocks: list[Block] = [Para(a.source, "muted")]
    if a.advice:
        blocks.append(
            Bullets(
                [Item(x.action, f"Why: {x.evidence}" if x.evidence else None) for x in a.advice],
                numbered=True,
            )
        )
    else:
        blocks.append(Para("No advice was needed.", "muted"))
    if a.rechecks:
        verdict = (
            {True: " — things improved", False: " — things got worse"}.get(a.improved, "")
            if a.improved is not None
            else ""
        )
        blocks += [Heading(f"Checked again{verdict}"), Bullets([Item(x) for x in a.rechecks])]
    return blocks


def _procedure(report: Report) -> list[Block]:
    p = report.procedure
    if p is None:
        return []
    blocks: list[Block] = []
    if p.outcome_text:
        blocks.append(Para(f"Outcome: {p.outcome_text}", "strong"))
    elif not p.finished:
        blocks.append(Para("The guide was not finished.", "muted"))
    if p.last_allowed_date:
        day = parse_time(p.last_allowed_date)
        blocks.append(
            Para(
                f"A replacement lesson may be until {describe_date(day) if day else p.last_allowed_date} "
                "(7 days, counting the lesson's own day).",
                "muted",
            )
        )
    if p.tried:
        blocks += [Heading("What the tutor tried"), Bullets([Item(t) for t in p.tried])]
    asked = [s for s in p.steps if s.kind in ("question", "date")]
    if asked:
        blocks += [
            Heading("The guide's questions and the tutor's answers"),
            Table(
                ["Time", "Question", "Answer"],
                [[Cell(clock(s.at)), Cell(s.text), Cell(s.answer or "–", bold=True)] for s in asked],
            ),
        ]
    return blocks


def _bandwidth_row(b: BandwidthResult) -> list[Cell]:
    if b.status is not Status.OK:
        return [
            Cell(b.direction, bold=True),
            Cell("failed", sub=b.error or b.status.value, tone="fail"),
            Cell(""),
            Cell(""),
            Cell(""),
            Cell(b.stop_reason or ""),
        ]
    loaded = ""
    if b.loaded is not None and b.loaded.rtt_ms_median is not None:
        loaded = _ms(b.loaded.rtt_ms_median)
        if b.loaded.rtt_increase_ms is not None:
            loaded += f" (+{_ms(b.loaded.rtt_increase_ms)})"
    data = f"{b.bytes_transferred / 1e6:.1f} MB"
    return [
        Cell(b.direction, bold=True),
        Cell(_rate(b.rate_mbps), numeric=True),
        Cell(loaded, numeric=True),
        Cell(f"{finite(b.duration_s) or 0.0:.1f} s", numeric=True),
        Cell(data, numeric=True),
        Cell(b.stop_reason or ""),
    ]


def _check_details(check: CheckResult) -> list[Block]:
    blocks: list[Block] = [
        Heading(
            f"The check at {clock(check.started_at)}: {check.kind.value}, "
            f"{finite(check.duration_s) or 0.0:.1f} s, connection {check.connectivity.value}"
        )
    ]
    if check.latency:
        blocks.append(
            Table(
                ["Round trips to", "Method", "Median", "90th percentile", "Jitter", "Loss", "Answered"],
                [
                    [
                        Cell(x.target, sub=x.error if x.status is not Status.OK else x.address),
                        Cell(x.method.upper()),
                        Cell(_ms(x.rtt_ms_median), numeric=True),
                        Cell(_ms(x.rtt_ms_p90), numeric=True),
                        Cell(_ms(x.jitter_ms), numeric=True),
                        Cell(_pct(x.loss_pct), numeric=True),
                        Cell(f"{x.samples}/{x.samples_sent}", numeric=True),
                    ]
                    for x in check.latency
                ],
            )
        )
    call = check.call
    if call is not None:
        blocks.append(
            Table(
                ["Call-like stream to", "Packets", "Lost", "Too late", "Missed in a row (longest)",
                 "Round trip", "95th percentile", "Jitter"],
                [
                    [
                        Cell(call.target, sub=call.error if call.status is not Status.OK else
                             f"{call.packets_per_s} packets a second of {call.packet_bytes} bytes; too late: "
                             f"beyond a {_ms(call.buffer_ms)} jitter buffer"),
                        Cell(f"{call.packets_answered}/{call.packets_sent}", numeric=True),
                        Cell(_pct(call.loss_pct), numeric=True),
                        Cell(_pct(call.late_pct), numeric=True),
                        Cell(str(call.burst_max), numeric=True),
                        Cell(_ms(call.rtt_ms_median), numeric=True),
                        Cell(_ms(call.rtt_ms_p95), numeric=True),
                        Cell(_ms(call.jitter_ms), numeric=True),
                    ]
                ],
            )
        )
    if check.dns:
        blocks.append(
            Table(
                ["Name looked up", "Time", "Result"],
                [
                    [
                        Cell(d.host),
                        Cell(_ms(d.dns_ms), numeric=True),
                        Cell(
                            "answered" if d.status is Status.OK else (d.error or d.status.value),
                            tone=None if d.status is Status.OK else "fail",
                        ),
                    ]
                    for d in check.dns
                ],
            )
        )
    if check.reachability:
        blocks.append(
            Table(
                ["Lesson platform", "Result", "Steps"],
                [
                    [
                        Cell(e.url),
                        Cell(
                            "reachable" if e.reachable else "not reachable",
                            sub=None if e.reachable else e.error,
                            tone="good" if e.reachable else "fail",
                        ),
                        Cell(
                            " · ".join(
                                f"{s.name.upper()} "
                                f"{_ms(s.duration_ms) if s.status is Status.OK else s.status.value}"
                                + (f" ({s.detail})" if s.detail else "")
                                for s in e.steps
                            ),
                            sub=e.note,
                        ),
                    ]
                    for e in check.reachability
                ],
            )
        )
    if check.bandwidth:
        blocks.append(
            Table(
                ["Speed", "Rate", "Round trip under load", "Time", "Data", "Stopped because"],
                [_bandwidth_row(b) for b in check.bandwidth],
            )
        )
    problems = [
        f"{name}: {s.status.value}" + (f" — {s.error}" if s.error else "")
        for name, s in check.sections.items()
        if s.status is not Status.OK and (s.status is not Status.SKIPPED or s.error)
    ]
    if problems:
        blocks += [Heading("Parts of the check that did not complete"), Bullets([Item(p) for p in problems])]
    if check.speed_servers_tried:
        blocks += [
            Heading("How the speed server was chosen"),
            Bullets([Item(n) for n in check.speed_servers_tried]),
        ]
    if check.notes:
        blocks += [Heading("Notes"), Bullets([Item(n) for n in check.notes])]
    return blocks


def _details(report: Report) -> list[Block]:
    return [b for check in report.checks for b in _check_details(check)]


def _privacy(report: Report) -> list[Block]:
    masked = {r.what for r in report.redactions}
    items = [
        Item(
            f"{r.label}"
            + (f": shown as “{r.replaced_by}”" if r.replaced_by else "")
            + (f" ({r.count} place{'s' if r.count != 1 else ''} in this report)" if r.count else "")
        )
        for r in report.redactions
    ]
    blocks: list[Block] = (
        [Para("Reports travel by e-mail, so these details are left out or masked:", "muted"), Bullets(items)]
        if items
        else [Para("Nothing was masked in this report.", "muted")]
    )
    shown = [label for what, (label, _) in CATEGORIES.items() if what not in masked]
    if shown and report.redactions:
        blocks.append(Para(f"Shown because the settings allow it: {join_words(shown)}.", "muted"))
    return blocks


# (section id, title, builder, the parts whose failures show in it)
SECTIONS = (
    ("answer", "In short", _answer, ("assessment", "headline", "cause")),
    ("measurements", "Measurements against the lesson's limits", _measurements, ("measurements",)),
    ("timeline", "The lesson over time", _timeline, ("timeline",)),
    ("programs", "Programs using the connection", _programs, ("programs",)),
    ("advice", "Advice shown and re-checks", _advice, ("advice",)),
    ("procedure", "The guide for a lesson that cannot go on", _procedure, ("procedure",)),
    (
        "computer",
        "This computer",
        lambda r: [Facts([(f.label, f.value) for f in r.computer])] if r.computer else [],
        ("computer",),
    ),
    ("details", "Details of each check", _details, ()),
    ("privacy", "Privacy", _privacy, ()),
)


def _section(
    report: Report, id_: str, title: str, build: Callable[[Report], list[Block]], parts: tuple[str, ...]
) -> Section | None:
    blocks: list[Block] = []
    for name in parts:
        part = report.parts.get(name)
        if part is not None and part.status == "error":
            blocks.append(
                Para(f"This section could not be put together: {part.error or 'unknown error'}", "error")
            )
    try:
        blocks += build(report)
    except Exception as exc:  # a section that cannot be drawn says so; the others still come out
        blocks.append(Para(f"This section could not be shown ({type(exc).__name__}: {exc}).", "error"))
    if not blocks:
        notes = [p.note for name in parts if (p := report.parts.get(name)) is not None and p.note]
        if not notes:
            return None
        blocks = [Para(n, "muted") for n in notes]
    return Section(id_, title, blocks)


def document(report: Report) -> Document:
    """The outline of a report: title, when, who, then its sections in order, the answer first."""
    title = "Lesson connection report" if report.kind == "lesson" else "Connection check report"
    meta = [
        (k, v)
        for k, v in (
            ("Tutor", report.tutor_label or ""),
            ("Organisation", report.organisation or ""),
            (
                "Report made",
                time_words(report.created_at),
            ),
        )
        if v
    ]
    sections = [
        s for id_, t, build, parts in SECTIONS if (s := _section(report, id_, t, build, parts)) is not None
    ]
    footer = (
        f"Made by connectcheck {report.app_version or '(version not known)'}, report format "
        f"{report.schema_version}. Support tools read this file back with: connectcheck report show FILE"
    )
    return Document(title, when_text(report), meta, sections, footer)
