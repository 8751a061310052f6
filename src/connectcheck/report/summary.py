"""Reports in the terminal, for support staff: ``report show`` prints one report as text (the same
outline as the HTML, charts left out), ``report summarize`` one row per report (when, the tutor's
label, the verdicts, the likely cause with its key and the link it lies on, the key numbers) as an
aligned table or CSV, so that a client manager can see patterns across many reports; the table ends
with the causes counted by key and link.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import textwrap
from collections.abc import Sequence
from typing import TypeVar

from connectcheck.core.words import STATE_WORDS, number, one_line, printable, sortable_stamp
from connectcheck.report.charts import finite
from connectcheck.report.content import (
    Block,
    Bullets,
    CauseBox,
    Cell,
    Chart,
    Facts,
    Heading,
    Lights,
    Para,
    Table,
    Verdict,
    document,
)
from connectcheck.report.model import Report

WIDTH = 100
SHORT = ("answer", "measurements", "timeline", "programs", "advice", "procedure", "computer", "privacy")
COLUMNS = (
    "file",
    "when",
    "kind",
    "tutor",
    "overall",
    "sound",
    "video",
    "whiteboard",
    "likely cause",
    "program",
    "cause",
    "broken",
    "download",
    "upload",
    "round trip",
    "jitter",
    "loss",
    "troubled",
    "alerts",
)
T = TypeVar("T")
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")  # a spreadsheet would run a cell starting so


def _wrap(text: str, indent: str = "", rest: str | None = None) -> list[str]:
    return textwrap.wrap(
        text,
        WIDTH,
        initial_indent=indent,
        subsequent_indent=indent if rest is None else rest,
        break_on_hyphens=False,
    ) or [indent.rstrip()]


def _cell_text(c: Cell) -> str:
    return f"{c.text} ({c.sub})" if c.sub else c.text


def table(rows: Sequence[Sequence[str]], numeric: Sequence[bool] = (), indent: str = "  ") -> list[str]:
    """Rows as aligned columns: text to the left, the columns marked ``numeric`` to the right."""
    if not rows:
        return []
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    right = list(numeric) + [False] * len(widths)
    return [
        (
            indent
            + "  ".join(
                c.rjust(w) if right[i] else c.ljust(w)
                for i, (c, w) in enumerate(zip(row, widths, strict=True))
            )
        ).rstrip()
        for row in rows
    ]


def block_text(block: Block, full: bool) -> list[str]:
    """One block of the outline as lines of plain text."""
    if isinstance(block, Para):
        return _wrap(block.text, "  ")
    if isinstance(block, Heading):
        return ["", f"  {block.text}"]
    if isinstance(block, Bullets):
        lines = []
        for n, item in enumerate(block.items, 1):
            mark = f"  {n}. " if block.numbered else "  - "
            lines += _wrap(item.text, mark, " " * len(mark))
            if item.sub:
                lines += _wrap(item.sub, " " * (len(mark) + 2))
        return lines
    if isinstance(block, Table):
        numeric = [
            all(row[i].numeric for row in block.rows if i < len(row)) for i in range(len(block.header))
        ]
        return table([block.header, *([_cell_text(c) for c in row] for row in block.rows)], numeric)
    if isinstance(block, Chart):
        return [f"  [chart: {block.caption}]"] if full else []
    if isinstance(block, Verdict):
        return [f"  {block.title.upper()}", *_wrap(block.text, "  ")]
    if isinstance(block, Lights):
        width = max((len(x.label) for x in block.items), default=0)
        return [
            line
            for x in block.items
            for line in _wrap(
                x.text,
                f"  {x.label.upper():<{width}}  {STATE_WORDS.get(x.tone, x.tone).upper():<9}  ",
                " " * (width + 15),
            )
        ]
    if isinstance(block, CauseBox):
        lines = ["", *_wrap(block.title, "  "), *_wrap(block.text, "    ")]
        lines += [line for e in block.evidence for line in _wrap(e, "    - ", "      ")]
        if block.also:
            lines.append("    Other factors that may have played a part:")
            lines += [line for a in block.also for line in _wrap(a, "    - ", "      ")]
        return lines
    if isinstance(block, Facts):
        width = max((len(k) for k, _ in block.rows), default=0)
        return [line for k, v in block.rows for line in _wrap(v, f"  {k:<{width}}  ", " " * (width + 4))]
    raise TypeError(f"no text for {type(block).__name__}")  # pragma: no cover - every block type is above


def one_line_strings(obj: T) -> T:
    """A copy of a report (or any part of one) with every text made :func:`one_line`: a text
    from a handed-in file can never start a line of its own in what support staff read."""
    if isinstance(obj, str):
        return one_line(obj)  # type: ignore[return-value]
    if isinstance(obj, list):
        return [one_line_strings(x) for x in obj]  # type: ignore[return-value]
    if isinstance(obj, tuple):
        return tuple(one_line_strings(x) for x in obj)  # type: ignore[return-value]
    if isinstance(obj, dict):
        return {one_line_strings(k): one_line_strings(v) for k, v in obj.items()}  # type: ignore[return-value]
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        changes = {f.name: one_line_strings(getattr(obj, f.name)) for f in dataclasses.fields(obj) if f.init}
        return dataclasses.replace(obj, **changes)
    return obj


def format_report(report: Report, full: bool = False) -> str:
    """The report as terminal text: the answer first; ``full`` adds every check's details.
    Every text from the file stays on its own line (see :func:`one_line_strings`)."""
    doc = document(one_line_strings(report))
    lines = [doc.title, doc.when] + [f"{k}: {v}" for k, v in doc.meta]
    for section in doc.sections:
        if not full and section.id not in SHORT:
            continue
        lines += ["", section.title if section.id != "answer" else "In short", "-" * len(section.title)]
        for block in section.blocks:
            lines += block_text(block, full)
    lines += ["", doc.footer]
    return printable("\n".join(lines)) + "\n"


# --- one row per report --------------------------------------------------------------------------------


def _value(report: Report, metric: str) -> str:
    rows = report.measurements.rows if report.measurements else []
    row = next((r for r in rows if r.metric == metric), None)
    value = finite(row.value) if row else None
    return "" if row is None or value is None else f"{number(value)} {row.unit}"


def summary_row(report: Report, name: str) -> dict[str, str]:
    """One report as one row: when, who, the verdicts, the likely cause and the key numbers
    (every text on one line: a crafted one cannot start a row of its own)."""
    return {key: one_line(value) for key, value in _summary_row(report, name).items()}


def _summary_row(report: Report, name: str) -> dict[str, str]:
    h = report.headline
    states = {a.activity: STATE_WORDS.get(a.state, a.state) for a in h.activities}
    troubled = "" if finite(h.troubled_s) is None else f"{(finite(h.troubled_s) or 0.0) / 60:.0f} min"
    alerts = (
        str(sum(1 for a in report.timeline.alerts if a.state in ("degraded", "fail")))
        if report.timeline
        else ""
    )
    return {
        "file": name,
        "when": sortable_stamp(report.started_at),
        "kind": report.kind,
        "tutor": report.tutor_label or "",
        "overall": STATE_WORDS.get(h.state, h.state),
        "sound": states.get("sound", ""),
        "video": states.get("video", ""),
        "whiteboard": states.get("whiteboard", ""),
        "likely cause": h.cause.title if h.cause else "",
        "program": (h.cause.program or "") if h.cause else "",
        "cause": h.cause.key if h.cause else "",
        "broken": (h.cause.broken or "") if h.cause else "",
        "download": _value(report, "download_mbps"),
        "upload": _value(report, "upload_mbps"),
        "round trip": _value(report, "rtt_ms"),
        "jitter": _value(report, "jitter_ms"),
        "loss": _value(report, "loss_pct"),
        "troubled": troubled,
        "alerts": alerts,
    }


NUMERIC = ("download", "upload", "round trip", "jitter", "loss", "troubled", "alerts", "reports", "lessons",
           "checks", "failing", "weak", "good", "minutes with trouble", "tutors")


def format_rows(rows: Sequence[dict[str, str]], columns: Sequence[str] = COLUMNS) -> str:
    """Rows as an aligned table for the terminal."""
    header = list(columns)
    numeric = [c in NUMERIC for c in header]
    lines = table([header, *([one_line(r.get(c, "")) for c in header] for r in rows)], numeric, indent="")
    counts = cause_counts(rows)
    if counts:
        lines += ["", f"Likely causes in {len(rows)} report{'s' if len(rows) != 1 else ''}"]
        lines += table([[str(n), key, f"on the {link}" if link else ""] for (key, link), n in counts],
                       [True, False, False])
    return "\n".join(lines) + "\n"


def cause_counts(rows: Sequence[dict[str, str]]) -> list[tuple[tuple[str, str], int]]:
    """How many reports gave each cause (by its key and the link it lies on), most first."""
    tally: dict[tuple[str, str], int] = {}
    for r in rows:
        if r.get("cause"):
            key = (r["cause"], r.get("broken", ""))
            tally[key] = tally.get(key, 0) + 1
    return sorted(tally.items(), key=lambda item: (-item[1], item[0]))


def _spreadsheet_safe(text: str) -> str:
    """A cell a spreadsheet shows as text: one starting like a formula gets a leading apostrophe."""
    return f"'{text}" if text.startswith(FORMULA_START) else text


def rows_csv(rows: Sequence[dict[str, str]], columns: Sequence[str] = COLUMNS) -> str:
    """Rows as CSV (a header line, then one line per report or group)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(columns)
    for r in rows:
        writer.writerow([_spreadsheet_safe(one_line(r.get(c, ""))) for c in columns])
    return out.getvalue()
