"""Plain words: numbers with their units, lists joined as in a sentence, and the text block the
command line prints after the numbers (verdict lights, the overall line, ranked advice, changes).
"""

from __future__ import annotations

import re
import textwrap
from collections.abc import Sequence

from connectcheck.model import ActivityVerdict, Assessment

WIDTH = 100

LIGHTS = {"good": "[ OK ]", "degraded": "[WEAK]", "fail": "[FAIL]", "unknown": "[ ?? ]"}
OVERALL = {"ready": "READY", "limited": "WITH LIMITS", "cannot": "CANNOT GO AHEAD", "unknown": "NOT SURE YET"}


def number(value: float) -> str:
    """A measured value as people read it: 450, 18.2, 30, 2.5, 0.4, 0.03."""
    size = abs(value)
    if size >= 100:
        return f"{value:.0f}"
    if size >= 1 or value == 0:
        return f"{value:.1f}".removesuffix(".0")
    return f"{value:.2g}"


def number_beside(value: float, limit: float) -> str:
    """``number(value)``, with more decimals when rounding would make it look equal to the limit
    it is compared with ("2.96" beside "3", not "3" beside "3")."""
    text = number(value)
    for digits in (2, 3, 4):
        if value == limit or text != limit_number(limit):
            break
        text = f"{value:.{digits}f}"
    return text


def limit_number(value: float) -> str:
    """A limit as written in the thresholds: 2.5, 3, 0.03 (no trailing zeros)."""
    return f"{value:g}"


def quantity(value: float, unit: str, *, limit: bool = False) -> str:
    """A number with its unit: "0.4 Mbit/s", "450 ms", "3.0 %"."""
    return f"{limit_number(value) if limit else number(value)} {unit}"


def join_words(items: Sequence[str], last: str = "and") -> str:
    """"a", "a and b", "a, b and c"."""
    items = list(items)
    if len(items) <= 1:
        return "".join(items)
    return f"{', '.join(items[:-1])} {last} {items[-1]}"


_UNIT_SPACE = re.compile(r"(?<=\d) (?=Mbit/s|ms|%|dBm|/ 5)")
_KEEP = "\x00"  # stands for a space that must not become a line break (between a number and its unit)


def _wrap(text: str, first: str, rest: str) -> list[str]:
    lines = textwrap.wrap(_UNIT_SPACE.sub(_KEEP, text), WIDTH, initial_indent=first, subsequent_indent=rest,
                          break_on_hyphens=False) or [first.rstrip()]
    return [line.replace(_KEEP, " ") for line in lines]


def _verdict_lines(v: ActivityVerdict, width: int) -> list[str]:
    head = f"  {v.activity.upper():<{width}}  {LIGHTS.get(v.state, v.state)}  "
    text = v.sentence
    if v.mos is not None:
        text += f" Call quality on a quiet line: {v.mos:.1f} / 5."
    return _wrap(text, head, " " * len(head))


def format_assessment(assessment: Assessment) -> str:
    """The verdicts and advice as aligned plain text for the terminal."""
    a = assessment
    lines = ["Verdict"]
    width = max((len(v.activity) for v in a.verdicts), default=0)
    for v in a.verdicts:
        lines += _verdict_lines(v, width)
    lines += [""] + _wrap(a.sentence, f"Overall: {OVERALL.get(a.overall, a.overall)} — ", "  ")
    if a.advice:
        lines += ["", "What to do now"]
        for item in a.advice:
            mark = f"  {item.rank}. "
            lines += _wrap(item.action, mark, " " * len(mark))
            if item.evidence:
                lines += _wrap(f"Why: {item.evidence}", " " * len(mark), " " * (len(mark) + 5))
    if a.changes:
        lines += ["", "Since the last check"]
        for change in a.changes:
            lines += _wrap(change, "  - ", "    ")
    return "\n".join(lines) + "\n"
