"""Lesson monitoring in the window: start and stop, a live timeline chart, the latest sample in
words, and the alerts told so far.

The chart is drawn with QPainter (no chart library): round trip and jitter as lines against the
sound limits (dashed), lost probes as red ticks along the bottom, a strip of the verdict state
of each sample, and a mark where each alert fired. The same widget shows a past lesson in the
History window.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from PySide6.QtCore import QPointF, QRectF, QSize, Qt, QTimer
from PySide6.QtGui import (
    QColor,
    QFont,
    QFontMetricsF,
    QPainter,
    QPainterPath,
    QPaintEvent,
    QPen,
    QResizeEvent,
)
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QListView,
    QListWidget,
    QPushButton,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from connectcheck.assess.thresholds import Thresholds
from connectcheck.core.model import LessonAlert, MonitorSample
from connectcheck.core.words import parse_time
from connectcheck.ui import style
from connectcheck.ui.controller import Controller
from connectcheck.ui.text import ACTIVITY_WORDS, VERDICT_WORDS, duration, plain, value

Scale = Callable[[float], float]  # a value to a pixel position
MAX_ALERT_ROWS = 8  # the alert list grows to this many rows before it scrolls



def colour(name: str) -> QColor:
    """A colour of the palette in use (``style.current()``), by its field name."""
    return QColor(getattr(style.current(), name))


def worst_state(sample: MonitorSample) -> str:
    states = set(sample.states.values())
    for state in ("fail", "degraded", "good"):
        if state in states:
            return state
    return "unknown"


def sample_words(sample: MonitorSample) -> str:
    """The latest sample in one line, units on every number."""
    parts = [
        f"delay {value(sample.rtt_ms, 'ms')}",
        f"delay variation {value(sample.jitter_ms, 'ms')}",
        f"lost data {value(sample.loss_pct, '%')}",
    ]
    if sample.down_mbps is not None:
        parts.append(
            f"this computer {value(sample.down_mbps, 'Mbit/s')} down, {value(sample.up_mbps, 'Mbit/s')} up"
        )
    text = ", ".join(parts)
    if sample.top_program:
        text += f"; busiest program: {plain(sample.top_program)} ({value(sample.top_program_mbps, 'Mbit/s')})"
    return text


def alert_words(alert: LessonAlert) -> str:
    moment = parse_time(alert.at)
    clock = f"{moment:%H:%M}" if moment else ""
    what = ACTIVITY_WORDS.get(alert.activity, alert.activity)
    state = VERDICT_WORDS.get(alert.state, alert.state).lower() if alert.state != "good" else "back to good"
    return f"{clock}  {what}: {state} — {plain(alert.message)}".strip()


class TimelineChart(QWidget):
    """Round trip, jitter and loss over the lesson, with the limits and the alerts."""

    MARGIN_LEFT, MARGIN_RIGHT, MARGIN_BOTTOM = 48, 12, 34
    STRIP = 8
    LEGEND_ROW = 16

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.samples: list[MonitorSample] = []
        self.alerts: list[LessonAlert] = []
        self.limits: list[tuple[str, float]] = []  # (label, ms) drawn as dashed lines
        self.setMinimumHeight(190)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        self.setAccessibleName("Lesson timeline chart")
        self.setFocusPolicy(Qt.FocusPolicy.TabFocus)
        self._describe()

    def sizeHint(self) -> QSize:
        return QSize(520, 210)

    def set_thresholds(self, thresholds: Thresholds | None) -> None:
        """Draw the sound limits for round trip (good) and jitter (good) as reference lines."""
        self.limits = []
        if thresholds is not None and ("sound", "rtt_ms") in thresholds.limits:
            self.limits.append(("delay for sound", thresholds.limit("sound", "rtt_ms").good))
            self.limits.append(("delay variation for sound", thresholds.limit("sound", "jitter_ms").good))
        self.update()

    def set_data(self, samples: Sequence[MonitorSample], alerts: Sequence[LessonAlert]) -> None:
        self.samples, self.alerts = list(samples), list(alerts)
        self._describe()
        self.update()

    def add_sample(self, sample: MonitorSample) -> None:
        self.samples.append(sample)
        self._describe()
        self.update()

    def add_alert(self, alert: LessonAlert) -> None:
        self.alerts.append(alert)
        self._describe()
        self.update()

    def _describe(self) -> None:
        """A text alternative for screen readers: what the chart shows, in numbers."""
        if not self.samples:
            self.setAccessibleDescription("No samples yet.")
            return
        rtts = [s.rtt_ms for s in self.samples if s.rtt_ms is not None]
        span = duration(self.samples[-1].t_s)
        text = f"{len(self.samples)} samples over {span}."
        if rtts:
            text += f" Delay from {value(min(rtts), 'ms')} to {value(max(rtts), 'ms')}."
        text += f" {len(self.alerts)} alerts. Latest: {sample_words(self.samples[-1])}."
        self.setAccessibleDescription(text)

    # --- drawing ---

    def _small_font(self) -> QFont:
        small = QFont(self.font())
        small.setPointSizeF(max(7.0, small.pointSizeF() * 0.85))
        return small

    def _plot(self) -> QRectF:
        top = 12 + len(self._legend_rows()) * self.LEGEND_ROW
        return QRectF(
            self.MARGIN_LEFT,
            top,
            max(10, self.width() - self.MARGIN_LEFT - self.MARGIN_RIGHT),
            max(10, self.height() - top - self.MARGIN_BOTTOM - self.STRIP - 4),
        )

    def _span_s(self) -> float:
        last = self.samples[-1].t_s if self.samples else 0.0
        return max(60.0, last)

    def _top_ms(self) -> float:
        values = [v for s in self.samples for v in (s.rtt_ms, s.jitter_ms) if v is not None]
        values += [ms for _, ms in self.limits]
        top = max(values, default=100.0) * 1.15
        for nice in (10, 20, 50, 100, 200, 250, 500, 1000, 2000, 5000, 10000):
            if top <= nice:
                return float(nice)
        return top

    def paintEvent(self, event: QPaintEvent) -> None:
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        p.fillRect(self.rect(), colour("bg_chart"))
        plot = self._plot()
        span, top = self._span_s(), self._top_ms()

        def x(t: float) -> float:
            return plot.left() + plot.width() * min(1.0, t / span)

        def y(ms: float) -> float:
            return plot.bottom() - plot.height() * min(1.0, ms / top)

        self._grid(p, plot, span, top, x, y)
        for label, ms in self.limits:
            p.setPen(QPen(colour("line_limit"), 1, Qt.PenStyle.DashLine))
            p.drawLine(QPointF(plot.left(), y(ms)), QPointF(plot.right(), y(ms)))
            p.setPen(colour("text_secondary"))
            p.drawText(
                QRectF(plot.left(), y(ms) - 16, plot.width() - 4, 14),
                Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignBottom,
                f"{label} {ms:g} ms",
            )
        self._line(
            p,
            [(x(s.t_s), y(s.rtt_ms)) if s.rtt_ms is not None else None for s in self.samples],
            colour("line_rtt"),
            2.0,
        )
        self._line(
            p,
            [(x(s.t_s), y(s.jitter_ms)) if s.jitter_ms is not None else None for s in self.samples],
            colour("line_jitter"),
            1.4,
        )
        for s in self.samples:  # lost probes: a red tick up from the axis, its height the loss
            if s.loss_pct:
                h = max(3.0, plot.height() * 0.25 * min(1.0, s.loss_pct / 20))
                p.setPen(QPen(colour("line_loss"), 2.5))
                p.drawLine(QPointF(x(s.t_s), plot.bottom()), QPointF(x(s.t_s), plot.bottom() - h))
        self._strip(p, plot, x)
        self._alerts(p, plot, x)
        self._legend(p)
        if not self.samples:
            p.setPen(colour("text_secondary"))
            p.drawText(plot, Qt.AlignmentFlag.AlignCenter, "The first sample comes in a few seconds.")
        p.end()

    def _grid(self, p: QPainter, plot: QRectF, span: float, top: float, x: Scale, y: Scale) -> None:
        p.setFont(self._small_font())
        for i in range(5):
            ms = top * i / 4
            yy = y(ms)
            p.setPen(QPen(colour("line_grid"), 1))
            p.drawLine(QPointF(plot.left(), yy), QPointF(plot.right(), yy))
            p.setPen(colour("text_secondary"))
            p.drawText(
                QRectF(0, yy - 8, self.MARGIN_LEFT - 6, 16),
                Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter,
                f"{ms:g} ms",
            )
        step = _minute_step(span)
        t = 0.0
        while t <= span + 1:
            xx = x(t)
            p.setPen(QPen(colour("line_grid"), 1))
            p.drawLine(QPointF(xx, plot.top()), QPointF(xx, plot.bottom()))
            p.setPen(colour("text_secondary"))
            label = "0" if t == 0 else f"{t / 60:g} min"
            box = QRectF(min(xx - 30, self.width() - 62), self.height() - 18, 60, 16)
            p.drawText(box, Qt.AlignmentFlag.AlignCenter, label)
            t += step

    @staticmethod
    def _line(p: QPainter, points: list[tuple[float, float] | None], colour: QColor, width: float) -> None:
        path = QPainterPath()
        pen_down = False
        for pt in points:
            if pt is None:
                pen_down = False
                continue
            if pen_down:
                path.lineTo(*pt)
            else:
                path.moveTo(*pt)
                pen_down = True
        p.setPen(QPen(colour, width))
        p.setBrush(Qt.BrushStyle.NoBrush)
        p.drawPath(path)
        for pt in points:  # single points would vanish without a dot
            if pt is not None and len(points) < 3:
                p.setBrush(colour)
                p.drawEllipse(QPointF(*pt), 2.5, 2.5)

    def _strip(self, p: QPainter, plot: QRectF, x: Scale) -> None:
        top = plot.bottom() + 4
        for i, s in enumerate(self.samples):
            left = x(s.t_s)
            right = x(self.samples[i + 1].t_s) if i + 1 < len(self.samples) else left + 3
            p.fillRect(
                QRectF(left, top, max(2.0, right - left), self.STRIP),
                QColor(style.current().fill_states[worst_state(s)]),
            )

    def _alerts(self, p: QPainter, plot: QRectF, x: Scale) -> None:
        for a in self.alerts:
            xx = x(a.t_s)
            mark = colour("line_recovery") if a.state == "good" else colour("line_alert")
            p.setPen(QPen(mark, 1.5, Qt.PenStyle.DotLine))
            p.drawLine(QPointF(xx, plot.top()), QPointF(xx, plot.bottom()))
            _triangle(p, xx, plot.top() - 1, mark)

    LEGEND = (  # (words, what is drawn, colour field)
        ("delay", "line", "line_rtt"),
        ("delay variation", "line", "line_jitter"),
        ("lost data", "tick", "line_loss"),
        ("limit for sound", "dash", "line_limit"),
        ("alert", "mark", "line_alert"),
        ("good", "band", "good"),
        ("weak", "band", "degraded"),
        ("failing", "band", "fail"),
    )

    def _legend_rows(self) -> list[list[tuple[float, str, str, str]]]:
        """The legend laid out in rows that fit the width: (x, words, kind, colour) per item."""
        metrics = QFontMetricsF(self._small_font())
        rows: list[list[tuple[float, str, str, str]]] = [[]]
        xx = float(self.MARGIN_LEFT)
        for words, kind, name in self.LEGEND:
            width = 20 + metrics.horizontalAdvance(words) + 14
            if rows[-1] and xx + width > self.width() - self.MARGIN_RIGHT:
                rows.append([])
                xx = float(self.MARGIN_LEFT)
            rows[-1].append((xx, words, kind, name))
            xx += width
        return rows

    def _legend(self, p: QPainter) -> None:
        strip = style.current().fill_states
        for r, row in enumerate(self._legend_rows()):
            base = 14 + r * self.LEGEND_ROW
            for xx, words, kind, name in row:
                if kind == "band":
                    p.fillRect(QRectF(xx, base - 8, 16, self.STRIP), QColor(strip[name]))
                elif kind == "mark":
                    _triangle(p, xx + 8, base, colour(name))
                elif kind == "tick":
                    p.setPen(QPen(colour(name), 2.5))
                    p.drawLine(QPointF(xx + 8, base), QPointF(xx + 8, base - 9))
                else:
                    style_ = Qt.PenStyle.DashLine if kind == "dash" else Qt.PenStyle.SolidLine
                    p.setPen(QPen(colour(name), 2.5, style_))
                    p.drawLine(QPointF(xx, base - 4), QPointF(xx + 16, base - 4))
                p.setPen(colour("text_secondary"))
                p.drawText(QPointF(xx + 20, base), words)


def _triangle(p: QPainter, x: float, bottom: float, fill: QColor) -> None:
    """The mark of an alert: a small triangle pointing down at ``(x, bottom)``."""
    p.setPen(Qt.PenStyle.NoPen)
    p.setBrush(fill)
    tri = QPainterPath()
    tri.moveTo(x - 5, bottom - 7)
    tri.lineTo(x + 5, bottom - 7)
    tri.lineTo(x, bottom)
    tri.closeSubpath()
    p.drawPath(tri)
    p.setBrush(Qt.BrushStyle.NoBrush)


def _minute_step(span_s: float) -> float:
    for minutes in (0.5, 1, 2, 5, 10, 15, 30, 60):
        if span_s / (minutes * 60) <= 6:
            return minutes * 60
    return 3600.0


class LessonPanel(QWidget):
    """The monitoring part of the status window."""

    def __init__(self, controller: Controller, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.controller = controller
        self.button = QPushButton()
        self.button.clicked.connect(self._toggle)
        self.status = QLabel()
        self.status.setWordWrap(True)
        self.status.setTextFormat(Qt.TextFormat.PlainText)
        self.latest = QLabel()
        self.latest.setWordWrap(True)
        self.latest.setTextFormat(Qt.TextFormat.PlainText)
        self.latest.setProperty("role", "secondary")
        self.chart = TimelineChart()
        self.alerts = QListWidget()
        self.alerts.setAccessibleName("Alerts during this lesson")
        self.alerts.setWordWrap(True)  # whole lines, never cut at the right
        self.alerts.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.alerts.setResizeMode(QListView.ResizeMode.Adjust)
        top = QHBoxLayout()
        top.addWidget(self.status, 1)
        top.addWidget(self.button, 0, Qt.AlignmentFlag.AlignTop)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(top)
        layout.addWidget(self.chart)
        layout.addWidget(self.latest)
        layout.addWidget(self.alerts)
        controller.monitoring_changed.connect(self.refresh)
        controller.sample_added.connect(self._sample)
        controller.alert_raised.connect(self._alert)
        controller.settings_changed.connect(self._thresholds)
        controller.changed.connect(self._status_text)
        self._thresholds()
        self.refresh()

    def _thresholds(self) -> None:
        self.chart.set_thresholds(self.controller.thresholds())

    def _toggle(self) -> None:
        if self.controller.monitoring:
            self.controller.stop_monitoring()
        else:
            self.controller.start_monitoring()

    def refresh(self) -> None:
        c = self.controller
        self.button.setText("Stop lesson monitoring" if c.monitoring else "Start lesson monitoring")
        self.button.setAccessibleName(self.button.text())
        showing = c.monitoring or bool(c.samples)
        self.chart.setVisible(showing)
        self.latest.setVisible(showing and bool(c.samples))
        self.alerts.setVisible(bool(c.alerts))
        self.chart.set_data(c.samples, c.alerts)
        self.alerts.clear()
        for a in c.alerts:
            self.alerts.addItem(alert_words(a))
        self.fit_alerts()
        if c.samples:
            self.latest.setText("Latest: " + sample_words(c.samples[-1]))
        self._status_text()

    def _status_text(self) -> None:
        c = self.controller
        if c.monitoring:
            since = f"{c.lesson_started:%H:%M}" if c.lesson_started else "now"
            every = c.monitor.options.interval_s if c.monitor else c.settings["monitor.interval_s"]
            text = (
                f"Monitoring this lesson since {since}: a light check every {every:g} s, using very "
                "little data. You will get a notice if sound, video or the whiteboard gets worse."
            )
        elif c.last_lesson is not None:
            text = _lesson_words(c.last_lesson.started_at, c.last_lesson.ended_at, len(c.last_lesson.alerts))
        else:
            text = (
                "Start monitoring when the lesson begins: connectcheck then watches the connection "
                "quietly and tells you if something gets worse."
            )
        self.status.setText(text)

    def _sample(self, sample: MonitorSample) -> None:
        self.chart.add_sample(sample)
        self.chart.setVisible(True)
        self.latest.setVisible(True)
        self.latest.setText("Latest: " + sample_words(sample))

    def _alert(self, alert: LessonAlert) -> None:
        self.chart.add_alert(alert)
        self.alerts.addItem(alert_words(alert))
        self.alerts.setVisible(True)
        self.fit_alerts()
        self.alerts.scrollToBottom()

    def fit_alerts(self) -> None:
        """The list as tall as its wrapped lines, up to MAX_ALERT_ROWS (the newest in view beyond)."""
        view = self.alerts
        view.doItemsLayout()
        rows = view.count()
        shown = range(max(0, rows - MAX_ALERT_ROWS), rows)
        heights = [view.visualItemRect(view.item(i)).height() for i in shown]
        line = view.fontMetrics().lineSpacing() + 4
        view.setFixedHeight(sum(h or line for h in heights) + 2 * view.frameWidth() + 4 if heights else line)

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        if self.alerts.count():
            QTimer.singleShot(0, self.fit_alerts)  # the lines wrap anew at the new width


def _lesson_words(started: str, ended: str | None, alerts: int) -> str:
    a, b = parse_time(started), parse_time(ended)
    span = f"from {a:%H:%M} to {b:%H:%M}" if a and b else "earlier"
    told = "no alerts" if alerts == 0 else f"{alerts} alert" + ("s" if alerts > 1 else "")
    return (
        f"The last monitored lesson ran {span} ({told}); it is kept in the History. "
        "Start monitoring again for the next lesson."
    )


def lesson_span(started: str, ended: str | None) -> str:
    """ "Mon 21 Oct 14:00–14:45" for lists."""
    a, b = parse_time(started), parse_time(ended)
    if a is None:
        return started
    end = f"–{b:%H:%M}" if b else " (not ended)"
    return f"{a:%a} {a.day} {a:%b} {a:%H:%M}{end}"
