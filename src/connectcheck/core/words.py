"""Words shown to people: numbers with their units, lists as in a sentence, dates and times, states,
names made safe to print. Every user-facing formatting helper lives here, once."""

from __future__ import annotations

from collections.abc import Collection, Sequence
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
# The five links of a tutor's path (core/model.LINKS), as the picture names them.
LINK_WORDS = {
    "computer": "This computer",
    "wifi": "Wi-Fi",
    "router": "Router",
    "line": "Broadband line",
    "platform": "Lesson platform",
}
CABLE_WORD = "Cable"  # the second link when this computer is wired to the router


# The overall answer of a check ("ready" | "limited" | "cannot" | "unknown"): a headline, and the
# few words a tight space (a table cell, a terminal line) has for it.
# What to do when a lesson alert says an activity got worse, in the policy's order (typing
# first, then a phone, then the guide): (activity, state) -> one line.
ALERT_ADVICE = {
    ("sound", "fail"): "Type on the whiteboard meanwhile. If the sound does not come back, open "
                       "“The lesson can't go on…”.",
    ("sound", "degraded"): "Ask everyone at home to pause streaming and downloads, and close other programs.",
    ("video", "fail"): "Turn the cameras off and carry on by voice and typing.",
    ("video", "degraded"): "If the picture freezes, turn the cameras off.",
    ("whiteboard", "fail"): "Refresh the whiteboard page. If it stays like this, open "
                            "“The lesson can't go on…”.",
    ("whiteboard", "degraded"): "Close other browser tabs and programs; refresh the whiteboard page "
                                "if it lags.",
}

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


# The likely cause (assess/cause keys) in the few words a headline has, said to the tutor.
CAUSE_HEADLINE = {
    "weak_wifi": "your Wi-Fi is weak",
    "others_at_home": "someone else at home is using the line",
    "other_program": "a program on this computer is using the line",
    "computer_overloaded": "this computer is overloaded",
    "line_too_slow": "your internet line is too slow",
    "line_unsteady": "your internet line is unsteady",
    "network_blocks_udp": "this network blocks calls",
    "platform_unreachable": "the lesson platform cannot be reached",
    "no_connection": "there is no internet connection",
}


def answer(overall: str, failing: Collection[str] = (), cause: str | None = None) -> str:
    """The one answer a tutor reads first, consistent with the cards: a check that can go ahead
    only "with limits" because sound or the whiteboard fails is "Not ready" as it is (``failing``:
    the activities found failing). Where the likely cause is known (``cause``: its key), the answer
    names it: "Not ready: your Wi-Fi is weak"."""
    why = CAUSE_HEADLINE.get(cause or "")
    if overall == "limited" and failing:
        if "whiteboard" in failing:
            return f"Not ready: {why}, so the whiteboard will not work" if why else \
                "Not ready: the whiteboard will not work"
        if "sound" in failing:
            cameras = " and turn the cameras off" if "video" in failing else ""
            head = f"Not ready as it is: {why}" if why else "Not ready as it is"
            return f"{head}{' — ' if why else ': '}use a phone for sound{cameras}"
        return f"Ready with the cameras off ({why})" if why else "Ready with the cameras off"
    if why and overall == "cannot":
        return f"Not ready: {why}"
    if why and overall == "limited":
        return f"Can go ahead with limits: {why}"
    return OVERALL_WORDS.get(overall, OVERALL_WORDS["unknown"])


def short_answer(overall: str, failing: Collection[str] = ()) -> str:
    """:func:`answer` in the few words a table cell or a terminal line has."""
    if overall == "limited" and set(failing) - {"video"}:
        return "Not ready"
    return OVERALL_SHORT.get(overall, OVERALL_SHORT["unknown"])

# Each measured figure in words a non-technical person knows: what it is called, and one line on
# what it means for a lesson (shown on hover and focus beside the figure).
FIGURE_WORDS = {
    "download_mbps": ("Download speed", "How fast the lesson reaches you: the student's voice, picture and "
                      "the whiteboard. Higher is better."),
    "upload_mbps": ("Upload speed", "How fast what you send leaves this computer: your voice and your "
                    "camera. Higher is better."),
    "rtt_ms": ("Delay", "How long a message takes to get there and back. When it is long, you and the "
               "student talk over each other. Lower is better."),
    "jitter_ms": ("Delay variation", "How much that delay jumps about. When it jumps, voices break up and "
                  "the picture stutters. Lower is better."),
    "loss_pct": ("Lost data", "How much of what is sent never arrives. Lost data means gaps in the sound "
                 "and frozen pictures. Lower is better."),
    "rtt_increase_ms": ("Delay when busy", "How much longer the delay gets while the line is in full use "
                        "(a download, a film). Large means someone else's use will spoil the lesson. "
                        "Lower is better."),
    "call_rtt_ms": ("A call's delay", "The delay a call-like stream of small packets saw, as sound "
                    "in a lesson travels. Sound is judged by this one when it was measured. Lower is "
                    "better."),
    "call_jitter_ms": ("A call's delay variation", "How much the delay of that call-like stream "
                       "jumped about. Lower is better."),
    "call_loss_pct": ("A call's missed data", "How much of that call-like stream never arrived, or "
                      "arrived too late to be played. Lower is better."),
}
# What is wrong, without a number, for the cards: (pseudo-)metric -> words after "…: ".
PROBLEM_WORDS = {
    "download_mbps": "the connection brings things in too slowly",
    "upload_mbps": "the connection sends too slowly",
    "rtt_ms": "everything arrives late",
    "jitter_ms": "the delay keeps jumping about",
    "loss_pct": "some of what is sent gets lost",
    "rtt_increase_ms": "the line slows right down when it is busy",
    "udp_ok": "this network blocks the direct route calls take, so they go through a slower relay",
}

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


def data_amount(size_bytes: float) -> str:
    """Data moved over the network as people read it: "350 kB", "23 MB", "1.2 GB"."""
    if size_bytes < 1_000_000:
        return f"{max(1, round(size_bytes / 1000))} kB"
    if size_bytes < 1_000_000_000:
        return f"{number(size_bytes / 1e6)} MB"
    return f"{number(size_bytes / 1e9)} GB"


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


def age_words(seconds: float) -> str:
    """How long ago, roughly: "just now", "4 minutes ago", "3 hours ago", "6 days ago"."""
    if seconds < 90:
        return "just now"
    if seconds < 90 * 60:
        n, name = round(seconds / 60), "minute"
    elif seconds < 36 * 3600:
        n, name = round(seconds / 3600), "hour"
    else:
        n, name = int(seconds // 86_400), "day"
    return f"{n} {name}{'' if n == 1 else 's'} ago"


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
