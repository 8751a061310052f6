"""The report's charts as SVG text, drawn here: bars for the measurements against their limits,
and the lesson's timeline (round trip, jitter, loss and throughput over time, with the limits
and the moments alerts fired).

The same SVG goes inline into the HTML and, through ``QSvgRenderer``, into the PDF, so it keeps
to what SVG Tiny 1.2 draws: rectangles, lines, polylines, circles and text with presentation
attributes (no CSS, no scripts, no links). Every text is escaped; every number is clamped, so a
report read back from a damaged or hostile file still draws.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from xml.sax.saxutils import escape

from connectcheck.core.model import LinkEvidence
from connectcheck.core.words import CABLE_WORD, LINK_WORDS, STATE_WORDS, limit_number, number
from connectcheck.report.model import MeasurementRow, ThresholdLine, Timeline, TimelinePoint

FONT = "Segoe UI, Helvetica Neue, Arial, DejaVu Sans, sans-serif"
INK, MUTED, GRID, PAPER = "#1f2933", "#5f6b76", "#d9dee3", "#ffffff"
TONE = {"good": "#2f7d4f", "degraded": "#b06f00", "fail": "#b3261e", "unknown": "#6b7680"}
ZONE = {"good": "#e3f1e8", "degraded": "#fbefd9", "fail": "#f8e1de", "unknown": "#eef1f4"}
DOWN, UP, LINE = "#2b5d8a", "#8a4fa8", "#2b5d8a"
SUBJECTS = {"sound": "sound", "video": "video", "whiteboard": "the whiteboard"}
LARGEST = 1e6  # values are clamped to this before drawing
WIDTH = 680


def clean(text: str) -> str:
    """Text safe to put in a document: control, format and unpaired surrogate characters (terminal
    escapes, direction overrides, invalid XML) become U+FFFD; new lines stay."""
    return "".join(c if c == "\n" or c.isprintable() else "\ufffd" for c in str(text))


def xml_text(text: str) -> str:
    """Escaped text for XML and HTML content and attribute values."""
    return escape(clean(text), {'"': "&quot;", "'": "&#39;"})


def finite(value: float | None) -> float | None:
    """A number fit to draw: None for NaN, clamped to ±LARGEST."""
    if value is None or not isinstance(value, (int, float)) or math.isnan(value):
        return None
    return max(-LARGEST, min(LARGEST, float(value)))


def nice_ceiling(value: float) -> float:
    """The smallest 1, 2, 2.5 or 5 × 10ⁿ at or above ``value`` (an axis end people read easily)."""
    if value <= 0:
        return 1.0
    power = 10 ** math.floor(math.log10(value))
    return next(step * power for step in (1, 2, 2.5, 5, 10) if step * power >= value * 0.999)


@dataclass
class Svg:
    """A small SVG writer: shapes with presentation attributes, text escaped."""

    width: float
    height: float
    title: str
    parts: list[str] = field(default_factory=list)

    def rect(
        self, x: float, y: float, w: float, h: float, fill: str, stroke: str = "none", rx: float = 0
    ) -> None:
        if w > 0 and h > 0:
            self.parts.append(
                f'<rect x="{x:.1f}" y="{y:.1f}" width="{w:.1f}" height="{h:.1f}" rx="{rx:g}" '
                f'fill="{fill}" stroke="{stroke}"/>'
            )

    def line(
        self,
        x1: float,
        y1: float,
        x2: float,
        y2: float,
        stroke: str,
        width: float = 1,
        dash: str | None = None,
    ) -> None:
        extra = f' stroke-dasharray="{dash}"' if dash else ""
        self.parts.append(
            f'<line x1="{x1:.1f}" y1="{y1:.1f}" x2="{x2:.1f}" y2="{y2:.1f}" stroke="{stroke}" '
            f'stroke-width="{width:g}"{extra}/>'
        )

    def polyline(self, points: Sequence[tuple[float, float]], stroke: str, width: float = 1.6) -> None:
        if len(points) == 1:
            self.circle(points[0][0], points[0][1], width, stroke)
        elif points:
            coords = " ".join(f"{x:.1f},{y:.1f}" for x, y in points)
            self.parts.append(
                f'<polyline points="{coords}" fill="none" stroke="{stroke}" stroke-width="{width:g}" '
                f'stroke-linejoin="round"/>'
            )

    def circle(self, cx: float, cy: float, r: float, fill: str, stroke: str = "none") -> None:
        self.parts.append(f'<circle cx="{cx:.1f}" cy="{cy:.1f}" r="{r:g}" fill="{fill}" stroke="{stroke}"/>')

    def text(
        self,
        x: float,
        y: float,
        text: str,
        size: float = 11,
        fill: str = INK,
        anchor: str = "start",
        bold: bool = False,
    ) -> None:
        weight = ' font-weight="bold"' if bold else ""
        self.parts.append(
            f'<text x="{x:.1f}" y="{y:.1f}" font-family="{FONT}" font-size="{size:g}" '
            f'fill="{fill}" text-anchor="{anchor}"{weight}>{xml_text(text)}</text>'
        )

    def render(self) -> str:
        return (
            f'<svg xmlns="http://www.w3.org/2000/svg" version="1.2" baseProfile="tiny" '
            f'width="{self.width:g}" height="{self.height:g}" viewBox="0 0 {self.width:g} {self.height:g}">'
            f"<title>{xml_text(self.title)}</title>{''.join(self.parts)}</svg>"
        )


# --- measurements against their limits -------------------------------------------------------------


def strictest(row: MeasurementRow) -> tuple[str, float, float] | None:
    """(activity, good, fail) of the activity with the most demanding "good" limit (then "fail")."""
    cells = [
        (c.activity, g, f)
        for c in row.limits
        if (g := finite(c.good)) is not None and (f := finite(c.fail)) is not None
    ]
    if not cells:
        return None
    sign = -1 if row.higher_is_better else 1
    return min(cells, key=lambda c: (sign * c[1], sign * c[2]))


def _scale_end(row: MeasurementRow, good: float, fail: float, value: float | None) -> float:
    if row.higher_is_better:
        end = max(good * 2, min(value * 1.15, good * 4) if value is not None else 0)
    else:
        end = max(fail * 1.25, min(value * 1.15, fail * 3) if value is not None else 0)
    return nice_ceiling(max(end, 1e-6))


def measurement_bars(rows: Sequence[MeasurementRow]) -> str:
    """One bullet bar per measurement: the value over the zones good / weak / failing of the most
    demanding activity, the limits marked, the value and its state written at the right."""
    track_x, track_w, row_h = 190, 320, 44
    svg = Svg(WIDTH, 8 + row_h * max(1, len(rows)), "Measurements against the lesson's limits")
    for i, row in enumerate(rows):
        y = 6 + i * row_h
        svg.text(0, y + 15, row.label.capitalize(), 12.5, INK, bold=True)
        value, limits = finite(row.value), strictest(row)
        if limits is None:
            svg.rect(track_x, y + 5, track_w, 14, ZONE["unknown"])
        else:
            activity, good, fail = limits
            end = _scale_end(row, good, fail, value)

            def x_of(v: float, end: float = end) -> float:
                return track_x + track_w * max(0.0, min(1.0, v / end))

            low, high = (fail, good) if row.higher_is_better else (good, fail)
            order = ("fail", "degraded", "good") if row.higher_is_better else ("good", "degraded", "fail")
            for (a, b), tone in zip(((0, low), (low, high), (high, end)), order, strict=True):
                svg.rect(x_of(a), y + 5, x_of(b) - x_of(a), 14, ZONE[tone])
            for mark in (good, fail):
                if 0 < mark < end:
                    svg.line(x_of(mark), y + 2, x_of(mark), y + 22, MUTED, 1)
                    svg.text(x_of(mark), y + 33, limit_number(mark), 9.5, MUTED, "middle")
            svg.text(0, y + 30, f"limits for {SUBJECTS.get(activity, activity)}", 9.5, MUTED)
            if value is not None:
                svg.rect(track_x, y + 9, x_of(max(value, 0.0)) - track_x, 6, TONE.get(row.state, INK))
                if value > end:
                    svg.text(track_x + track_w + 2, y + 17, "»", 12, TONE.get(row.state, INK))
        shown = "not measured" if value is None else f"{number(value)} {row.unit}"
        svg.text(track_x + track_w + 16, y + 15, shown, 12.5, INK, bold=value is not None)
        svg.text(
            track_x + track_w + 16,
            y + 31,
            STATE_WORDS.get(row.state, row.state),
            10.5,
            TONE.get(row.state, MUTED),
        )
    return svg.render()


# --- the lesson's timeline ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Panel:
    title: str
    keys: tuple[str, ...]  # TimelinePoint fields drawn as lines
    colours: tuple[str, ...]
    minimum_top: float  # the axis reaches at least this high


PANELS = (
    Panel("Delay: the round trip (ms)", ("rtt_ms",), (LINE,), 10.0),
    Panel("Delay variation: jitter (ms)", ("jitter_ms",), (LINE,), 5.0),
    Panel("Lost data: packet loss (%)", ("loss_pct",), (LINE,), 5.0),
    Panel("This computer's traffic (Mbit/s): download, upload", ("down_mbps", "up_mbps"), (DOWN, UP), 1.0),
)
LEFT, RIGHT, PANEL_H, GAP, MARK_ROW = 40, 92, 88, 36, 17
MARK_ROWS = 3  # alert marks that would overlap are stacked up to this many rows


def _tick_minutes(span_s: float) -> int:
    return next((m for m in (1, 2, 5, 10, 15, 30, 60, 120, 240) if span_s / (m * 60) <= 8), 480)


def _start(timeline: Timeline) -> datetime | None:
    try:
        return datetime.fromisoformat(timeline.start)
    except ValueError:
        return None


def alert_moments(timeline: Timeline) -> list[int]:
    """The mark number of each alert: alerts within one sample of each other share a mark."""
    interval = finite(timeline.interval_s) or 5.0
    numbers, current, first_t = [], 0, None
    for alert in timeline.alerts:
        t = finite(alert.t_s) or 0.0
        if first_t is None or abs(t - first_t) > interval * 1.5:
            current, first_t = current + 1, t
        numbers.append(current)
    return numbers


def panel_state(value: float | None, lines: Sequence[ThresholdLine]) -> str | None:
    """One metric's own state at one sample, by the panel's limit lines (beyond "fails" it fails,
    beyond "good" it is weak); None when it has no value or the panel has no limits."""
    good = next((v for ln in lines if ln.kind == "good" and (v := finite(ln.value)) is not None), None)
    fail = next((v for ln in lines if ln.kind == "fail" and (v := finite(ln.value)) is not None), None)
    if value is None or good is None or fail is None:
        return None
    return "fail" if value > fail else "degraded" if value > good else "good"


def _runs(
    points: Sequence[TimelinePoint], interval: float,
    state_of: Callable[[TimelinePoint], str | None] = lambda p: p.state,
) -> list[tuple[float, float, str]]:
    """(from, to, state) for each run of consecutive troubled samples (troubled by ``state_of``:
    a panel's own metric): failing when at least a third of the run failed, else weak (so that
    flickering states read as one stretch)."""
    runs: list[tuple[float, float, list[str]]] = []
    for p in points:
        t = finite(p.t_s)
        state = state_of(p)
        if t is None or state not in ("degraded", "fail"):
            continue
        if runs and t - runs[-1][1] <= interval * 1.5:
            runs[-1] = (runs[-1][0], t + interval, runs[-1][2] + [state])
        else:
            runs.append((t, t + interval, [state]))
    return [
        (a, b, "fail" if 3 * states.count("fail") >= len(states) else "degraded") for a, b, states in runs
    ]


def _segments(points: Sequence[TimelinePoint], key: str) -> list[list[tuple[float, float]]]:
    """The (t, value) runs of one series, broken where a sample has no value."""
    out: list[list[tuple[float, float]]] = [[]]
    for p in points:
        v, t = finite(getattr(p, key)), finite(p.t_s)
        if v is None or t is None:
            if out[-1]:
                out.append([])
            continue
        out[-1].append((t, max(0.0, v)))
    return [s for s in out if s]


def _axis_top(panel: Panel, data: list[float], limits: list[float]) -> float:
    """An axis end that shows the limits and nearly all the data: a few values far above the rest
    (a minute with every probe lost) are drawn clipped at the top rather than squash the rest."""
    ordered = sorted(data)
    typical_top = ordered[int(0.95 * (len(ordered) - 1))] * 1.1 if ordered else 0.0
    return nice_ceiling(max([panel.minimum_top, typical_top, *(v * 1.2 for v in limits)]))


def _place_labels(
    wanted: list[tuple[float, str, str]], top: float, bottom: float
) -> list[tuple[float, str, str]]:
    """Label positions (y, text, colour) moved apart so that none overlaps the one above it."""
    placed: list[tuple[float, str, str]] = []
    for y, text, colour in sorted(wanted):
        y = max(y, placed[-1][0] + 11 if placed else top + 8)
        placed.append((min(y, bottom + 4), text, colour))
    return placed


def timeline_chart(timeline: Timeline) -> str:
    """The lesson's four panels sharing one time axis: troubled stretches shaded, limits dashed and
    labelled at the right, alerts as numbered marks (numbered as in the alerts table)."""
    points = timeline.points
    interval = finite(timeline.interval_s) or 5.0
    times = [t for p in points if (t := finite(p.t_s)) is not None] + [
        t for a in timeline.alerts if (t := finite(a.t_s)) is not None
    ]
    t0, t1 = min(times, default=0.0), max(times, default=0.0) + interval
    plot_w = WIDTH - LEFT - RIGHT
    marks_h = MARK_ROW * MARK_ROWS + 6
    panels_top = marks_h + 18
    bottom = panels_top + len(PANELS) * (PANEL_H + GAP) - GAP
    svg = Svg(WIDTH, bottom + 24, "The lesson over time")

    def x_of(t: float) -> float:
        return LEFT + plot_w * (t - t0) / (t1 - t0 if t1 > t0 else 1.0)

    for index, panel in enumerate(PANELS):
        _panel(svg, panel, timeline, panels_top + index * (PANEL_H + GAP), x_of, interval)
    _time_axis(svg, timeline, t0, t1, bottom + 14, x_of)
    _alert_marks(svg, timeline, x_of, panels_top, bottom)
    return svg.render()


def _alert_marks(
    svg: Svg, timeline: Timeline, x_of: Callable[[float], float], top: float, bottom: float
) -> None:
    """One numbered mark per moment, coloured by the worst change at that moment; marks that would
    overlap are stacked in rows."""
    rank = {"fail": 3, "degraded": 2, "good": 1}
    moments: dict[int, tuple[float, str]] = {}
    for n, alert in zip(alert_moments(timeline), timeline.alerts, strict=True):
        t = finite(alert.t_s)
        if t is None:
            continue
        x, state = moments.get(n, (x_of(t), alert.state))
        moments[n] = (x, state if rank.get(state, 0) >= rank.get(alert.state, 0) else alert.state)
    last_x = [-1e9] * MARK_ROWS
    for n, (x, state) in moments.items():
        row = next((r for r in range(MARK_ROWS) if x - last_x[r] >= 18), MARK_ROWS - 1)
        last_x[row] = x
        colour = TONE.get(state, MUTED)
        y = 9 + row * MARK_ROW
        svg.line(x, y + 8, x, bottom, colour, 1, "2 3")
        svg.circle(x, y, 8, colour)
        svg.text(x, y + 3.5, str(n), 9.5, PAPER, "middle", bold=True)


def _panel(
    svg: Svg, panel: Panel, timeline: Timeline, top: float, x_of: Callable[[float], float], interval: float
) -> None:
    lines = [ln for ln in timeline.lines if ln.metric in panel.keys and finite(ln.value) is not None]
    series = {key: _segments(timeline.points, key) for key in panel.keys}
    data = [v for segments in series.values() for seg in segments for _, v in seg]
    y_top = _axis_top(panel, data, [finite(ln.value) or 0.0 for ln in lines if ln.kind != "fail"])
    bottom, right = top + PANEL_H, WIDTH - RIGHT

    def y_of(v: float) -> float:
        return bottom - PANEL_H * max(0.0, min(1.0, v / y_top))

    svg.text(0, top - 8, panel.title, 11.5, INK, bold=True)
    svg.rect(LEFT, top, right - LEFT, PANEL_H, "#fbfcfd", GRID)
    limits = [ln for ln in lines if ln.kind in ("good", "fail")]
    key = panel.keys[0]  # shaded where this panel's own metric was weak or failing, not another's

    def state_of(p: TimelinePoint) -> str | None:
        return panel_state(finite(getattr(p, key)), limits) if len(panel.keys) == 1 else None

    for start, end, state in _runs(timeline.points, interval, state_of):
        svg.rect(x_of(start), top, min(x_of(end), right) - x_of(start), PANEL_H, ZONE[state])
    for step in (0.5, 1.0):
        svg.line(LEFT, y_of(y_top * step), right, y_of(y_top * step), GRID, 0.8)
        svg.text(LEFT - 5, y_of(y_top * step) + 4, number(y_top * step), 9.5, MUTED, "end")
    svg.text(LEFT - 5, bottom + 3, "0", 9.5, MUTED, "end")
    labels = []
    for ln in lines:
        value = finite(ln.value) or 0.0
        if value > y_top:
            continue
        colour = {"good": TONE["good"], "fail": TONE["fail"]}.get(
            ln.kind, DOWN if ln.metric == "down_mbps" else UP
        )
        svg.line(LEFT, y_of(value), right, y_of(value), colour, 1.1, "6 4")
        labels.append((y_of(value) + 3.5, ln.label, colour))
    for y, text, colour in _place_labels(labels, top, bottom):
        svg.text(right + 6, y, text, 9.5, colour)
    for key, colour in zip(panel.keys, panel.colours, strict=True):
        for seg in series[key]:
            svg.polyline([(x_of(t), y_of(v)) for t, v in seg], colour)
            _clipped(svg, seg, y_top, x_of, top, colour)


def _clipped(
    svg: Svg,
    seg: list[tuple[float, float]],
    y_top: float,
    x_of: Callable[[float], float],
    top: float,
    colour: str,
) -> None:
    """The highest value of each run drawn above the axis end, written at the top edge."""
    run: list[tuple[float, float]] = []
    for point in [*seg, (0.0, -1.0)]:
        if point[1] > y_top:
            run.append(point)
        elif run:
            peak = max(v for _, v in run)
            svg.text(
                x_of((run[0][0] + run[-1][0]) / 2),
                top + 10,
                f"↑{number(peak)}",
                9.5,
                colour,
                "middle",
                bold=True,
            )
            run = []


def _time_axis(
    svg: Svg, timeline: Timeline, t0: float, t1: float, y: float, x_of: Callable[[float], float]
) -> None:
    start = _start(timeline)
    step = _tick_minutes(t1 - t0) * 60
    first = math.ceil(t0 / step) * step
    t = first
    while t <= t1 and t - first <= 100 * step:
        try:
            label = (start + timedelta(seconds=t)).strftime("%H:%M") if start else f"{t / 60:.0f} min"
        except OverflowError:  # a start at the very end of the calendar
            label = f"{t / 60:.0f} min"
        svg.text(x_of(t), y, label, 9.5, MUTED, "middle")
        t += step


# --- the path: this computer -> Wi-Fi -> router -> broadband line -> lesson platform ------------------


def _short(text: str, limit: int) -> str:
    text = clean(text)
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


@dataclass(frozen=True)
class PathColours:
    """The path picture's colours: the report's light ones by default; the window passes its theme's."""

    ink: str = INK
    muted: str = MUTED
    tone: dict[str, str] = field(default_factory=lambda: dict(TONE))  # each state's word and edge
    zone: dict[str, str] = field(default_factory=lambda: dict(ZONE))  # each state's box fill


def path_chart(links: Sequence[LinkEvidence], broken: str = "", *, wired: bool = False,
               colours: PathColours | None = None) -> str:
    """The five links as boxes joined by arrows, each coloured by what was measured on it, with its
    figure beneath; the broken one drawn thicker and marked "broken here"."""
    c = colours or PathColours()
    n = max(1, len(links))
    gap, height = 26.0, 112.0
    box_w = (WIDTH - gap * (n - 1)) / n
    svg = Svg(WIDTH, height, "Where the problem is: " + " → ".join(
        _link_label(link.link, wired) for link in links))
    for i, link in enumerate(links):
        state = link.state if link.state in c.tone else "unknown"
        x = i * (box_w + gap)
        marked = link.link == broken
        edge = c.tone["fail"] if marked else c.tone[state]
        svg.rect(x + 1, 8, box_w - 2, 46, c.zone[state], edge, rx=6)
        if marked:
            svg.rect(x + 3, 10, box_w - 6, 42, "none", c.tone["fail"], rx=5)
        svg.text(x + box_w / 2, 28, _link_label(link.link, wired), 12, c.ink, "middle", bold=True)
        svg.text(x + box_w / 2, 45, STATE_WORDS.get(state, state), 10.5, c.tone[state], "middle")
        for row, words in enumerate(_figure_lines(link.figure)):
            svg.text(x + box_w / 2, 70 + 13 * row, words, 10.5, c.ink, "middle")
        if marked:
            svg.text(x + box_w / 2, 104, "broken here", 10.5, c.tone["fail"], "middle", bold=True)
        if i < n - 1:
            ax = x + box_w
            svg.line(ax + 3, 31, ax + gap - 5, 31, c.muted, 1.6)
            svg.polyline([(ax + gap - 10, 26), (ax + gap - 4, 31), (ax + gap - 10, 36)], c.muted, 1.6)
    return svg.render()


def _figure_lines(figure: str, width: int = 21) -> list[str]:
    """A link's figure on at most two lines, broken after a comma where it can be."""
    figure = clean(figure)
    if len(figure) <= width:
        return [figure] if figure else []
    cut = figure.rfind(", ", 0, width + 1)
    if cut > 0:
        first, rest = figure[: cut + 1], figure[cut + 2 :]
    else:
        cut = figure.rfind(" ", 0, width + 1)
        first, rest = (figure[:cut], figure[cut + 1 :]) if cut > 0 else (figure[:width], figure[width:])
    return [first, _short(rest, width + 3)]


def _link_label(key: str, wired: bool) -> str:
    return CABLE_WORD if key == "wifi" and wired else LINK_WORDS.get(key, key)
