"""Words the windows share: states, times and numbers with their units, and names from the
computer made printable (program names are untrusted: the windows show them as plain text, never
as markup)."""

from __future__ import annotations

import re
from datetime import datetime

from connectcheck.core.words import clean, quantity

NOT_KNOWN = "–"

VERDICT_WORDS = {"good": "Good", "degraded": "Weak", "fail": "Failing", "unknown": "Not measured"}
OVERALL_WORDS = {
    "ready": "Ready for the lesson",
    "limited": "The lesson can go ahead with limits",
    "cannot": "The lesson cannot go ahead online",
    "unknown": "Not sure yet",
}
ACTIVITY_WORDS = {"sound": "Sound", "video": "Video", "whiteboard": "Whiteboard"}


def value(number: float | None, unit: str) -> str:
    """ "18.2 Mbit/s", "24 ms", or a dash when it was not measured."""
    return NOT_KNOWN if number is None else quantity(number, unit)


_UNIT = re.compile(r"(\d) (Mbit/s|kbit/s|ms|%|dBm|MB|kB|s\b)")


def unbroken(text: str) -> str:
    """Text for a wrapped label: a number stays on the line of its unit, "Mbit/s" stays whole."""
    return _UNIT.sub("\\1\u00a0\\2", text).replace("bit/s", "bit/\u2060s")


def plain(text: str | None) -> str:
    """A name from the computer as printable text (control characters replaced)."""
    return clean(text or "")


def parse_time(iso: str | None) -> datetime | None:
    if not iso:
        return None
    try:
        return datetime.fromisoformat(iso)
    except ValueError:
        return None


def when(iso: str | None, now: datetime | None = None) -> str:
    """ "at 14:05" today, "yesterday at 14:05", else "on Mon 21 Oct at 14:05"."""
    moment = parse_time(iso)
    if moment is None:
        return "at an unknown time"
    now = now or datetime.now(moment.tzinfo)
    days = (now.date() - moment.date()).days
    clock = f"{moment:%H:%M}"
    if days == 0:
        return f"at {clock}"
    if days == 1:
        return f"yesterday at {clock}"
    return f"on {moment:%a} {moment.day} {moment:%b} at {clock}"


def duration(seconds: float) -> str:
    """ "45 s", "12 min", "1 h 05 min"."""
    if seconds < 60:
        return f"{seconds:.0f} s"
    minutes = int(seconds // 60)
    if minutes < 60:
        return f"{minutes} min"
    return f"{minutes // 60} h {minutes % 60:02d} min"
