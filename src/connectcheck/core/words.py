"""Words shown to people: numbers with their units, lists as in a sentence, dates and times, states,
names made safe to print. Every user-facing formatting helper lives here, once."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime

from connectcheck.core.model import CallResult, Section, Status


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


STATE_WORDS = {"good": "good", "degraded": "weak", "fail": "failing", "unknown": "not known"}
# The overall answer of a check ("ready" | "limited" | "cannot" | "unknown"): a headline, and the
# few words a tight space (a table cell, a terminal line) has for it.
OVERALL_WORDS = {
    "ready": "Ready for the lesson",
    "limited": "The lesson can go ahead with limits",
    "cannot": "The lesson cannot go ahead online",
    "unknown": "Not sure yet",
}
OVERALL_SHORT = {
    "ready": "Ready",
    "limited": "With limits",
    "cannot": "Cannot go ahead",
    "unknown": "Not sure yet",
}
OVERALL_TONE = {"ready": "good", "limited": "degraded", "cannot": "fail", "unknown": "unknown"}

OS_WORDS = {"linux": "Linux", "macos": "macOS", "windows": "Windows"}


KIND_WORDS = {
    "ethernet": "Ethernet",
    "wifi": "Wi-Fi",
    "mobile": "mobile",
    "vpn": "VPN",
    "loopback": "loopback",
    "other": "other",
}


CATEGORY_WORDS = {
    "video_streaming": "video streaming",
    "music_streaming": "music streaming",
    "game_launcher": "game launcher",
    "game": "game",
    "cloud_sync": "cloud sync",
    "backup": "backup",
    "os_updates": "updates",
    "torrent": "torrent",
    "video_call": "call program",
    "browser": "browser",
}


NOT_KNOWN = "–"


def clean(text: str) -> str:
    """A name from the computer, safe to print: control characters (terminal escapes) replaced."""
    return "".join(ch if ch.isprintable() else "?" for ch in text)


def mbps(value: float | None) -> str:
    """A rate with its unit, or a dash when not known."""
    return NOT_KNOWN if value is None else quantity(value, "Mbit/s")


def pct(value: float | None) -> str:
    """A share in percent, or a dash when not known."""
    return NOT_KNOWN if value is None else quantity(value, "%")


def megabytes(value: float | None) -> str:
    """An amount of memory in MB (thousands separated), or a dash when not known."""
    return NOT_KNOWN if value is None else f"{value:,.0f} MB"


def ms(value: float | None) -> str:
    if value is None:
        return "–"
    return f"{value:.0f} ms" if value >= 100 else f"{value:.1f} ms"


_LINE_BREAKS = frozenset("\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029")


def one_line(text: str) -> str:
    """A text that must stay on its line (a table cell, a name, a field of a handed-in file):
    line breaks shown as ⏎, every other control or invisible formatting character (terminal
    escapes, U+202E and other direction overrides) replaced. A crafted text can then neither
    start a line of its own nor reorder what is shown."""
    return "".join("⏎" if c in _LINE_BREAKS else c if c.isprintable() else "\ufffd" for c in text)


def printable(text: str) -> str:
    """Replace control characters (a server's text could carry terminal escape sequences)."""
    return "".join(c if c == "\n" or c.isprintable() else "\ufffd" for c in text)


# --- dates and times: always English and on the moment's own clock (never converted to UTC) -------

_DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September",
           "October", "November", "December")


def parse_time(iso: str | None) -> datetime | None:
    """The moment an ISO 8601 text stands for; None when there is none or it is not a time."""
    if not iso:
        return None
    try:
        return datetime.fromisoformat(iso)
    except (TypeError, ValueError):
        return None


def describe_date(day: date | datetime, *, year: bool = True) -> str:
    """"Wednesday 30 October 2024", in English whatever the system's language."""
    d = day.date() if isinstance(day, datetime) else day
    text = f"{_DAYS[d.weekday()]} {d.day} {_MONTHS[d.month - 1]}"
    return f"{text} {d.year}" if year else text


def describe_time(when: date | datetime) -> str:
    """"Thursday 24 October 2024 at 16:00" (the date alone for a date)."""
    if isinstance(when, datetime):
        return f"{describe_date(when)} at {when:%H:%M}"
    return describe_date(when)


def time_words(iso: str | None) -> str:
    """:func:`describe_time` of an ISO text; a text that is not a time is shown as it is."""
    moment = parse_time(iso)
    return describe_time(moment) if moment else (iso or "")


def clock(iso: str | None, *, seconds: bool = False) -> str:
    """The time of day, "16:05" (or "16:05:09"); a text that is not a time is shown as it is."""
    moment = parse_time(iso)
    if moment is None:
        return iso or ""
    return f"{moment:%H:%M:%S}" if seconds else f"{moment:%H:%M}"


def stamp(iso: str | None, *, weekday: bool = False, zone: bool = False) -> str:
    """A date and time for a table or a heading: "24 Oct 2024 16:05" ("Thu 24 Oct 2024 16:05",
    "24 Oct 2024 16:05 UTC"); a dash when there is none, the text as it is when it is not a time."""
    if not iso:
        return NOT_KNOWN
    moment = parse_time(iso)
    if moment is None:
        return iso
    text = f"{moment:%a %d %b %Y %H:%M}" if weekday else f"{moment:%d %b %Y %H:%M}"
    return f"{text} {moment:%Z}".strip() if zone else text


def sortable_stamp(iso: str | None) -> str:
    """A date and time that sorts as text, with its offset: "2024-10-24 16:05 +0100"."""
    moment = parse_time(iso)
    if moment is None:
        return iso or ""
    return f"{moment:%Y-%m-%d %H:%M}" + (f" {moment:%z}" if moment.tzinfo else "")


def relative_time(iso: str | None, now: datetime | None = None) -> str:
    """ "at 14:05" today, "yesterday at 14:05", else "on Mon 21 Oct at 14:05"."""
    moment = parse_time(iso)
    if moment is None:
        return "at an unknown time"
    now = now or datetime.now(moment.tzinfo)
    days = (now.date() - moment.date()).days
    hm = f"{moment:%H:%M}"
    if days == 0:
        return f"at {hm}"
    if days == 1:
        return f"yesterday at {hm}"
    return f"on {moment:%a} {moment.day} {moment:%b} at {hm}"
def call_words(call: CallResult | None, section: Section | None = None) -> str:
    """What the call-like stream found, in one line ("50 packets in 1 s: 8 % missed (2 % lost,
    6 % too late for a 60 ms jitter buffer), up to 2 missed in a row; round trip 139 ms, jitter
    24 ms"), or why it has no figures ("not measured: ...")."""
    if call is None or not call.packets_answered:
        why = (call.error if call is not None else None) or (section.error if section else None)
        return f"not measured: {why}" if why else "not measured"
    seconds = call.packets_sent / call.packets_per_s if call.packets_per_s else 0.0
    missed = pct(call.effective_loss_pct)
    buffer = f"{call.buffer_ms:.0f} ms " if call.buffer_ms is not None else ""
    text = (f"{call.packets_sent} packets in {number(seconds)} s: {missed} missed "
            f"({pct(call.loss_pct)} lost, {pct(call.late_pct)} too late for a {buffer}jitter buffer)")
    if call.burst_max >= 2:
        text += f", up to {call.burst_max} missed in a row"
    text += f"; round trip {ms(call.rtt_ms_median)}, jitter {ms(call.jitter_ms)}"
    if call.status is Status.CANCELLED:
        text += " (cancelled: from the packets sent until then)"
    return text
