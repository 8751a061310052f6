"""Small widgets the windows share: a banner for messages, a verdict light, a number tile."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QEnterEvent, QFocusEvent, QGuiApplication
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QLayout,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from connectcheck.report.charts import PathColours
from connectcheck.ui import icons, style
from connectcheck.ui.text import ACTIVITY_WORDS, VERDICT_WORDS, unbroken


def place_on_screen(window: QWidget, title_bar: int = 40) -> None:
    """Make a new top-level window fit the screen's free area (a 1366×768 laptop with its panel)
    and centre it there, its title bar included, so no part opens below the screen's edge."""
    screen = window.screen() or QGuiApplication.primaryScreen()
    if screen is None:
        return
    room = screen.availableGeometry()
    width = min(window.width(), room.width() - 20)
    height = min(window.height(), room.height() - title_bar - 20)
    window.resize(width, height)
    window.move(room.x() + (room.width() - width) // 2,
                room.y() + title_bar + max(0, (room.height() - title_bar - height) // 2))


def clear_layout(layout: QLayout) -> None:
    """Remove and delete every widget of a layout (hidden at once, deleted by Qt later)."""
    while layout.count():
        item = layout.takeAt(0)
        widget = item.widget()
        if widget is not None:
            widget.hide()
            widget.deleteLater()
        elif item.layout() is not None:
            clear_layout(item.layout())


class Banner(QFrame):
    """A message across the top of a window, with optional buttons and a way to dismiss it."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setProperty("role", "banner")
        self.text = style.label()
        self.text.setAccessibleName("Message")
        self.buttons = QHBoxLayout()
        self.buttons.addStretch(1)
        self.dismiss = QPushButton("Dismiss")
        self.dismiss.setAccessibleName("Dismiss this message")
        self.dismiss.clicked.connect(self.hide)
        self.buttons.addWidget(self.dismiss)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(12, 10, 12, 10)
        layout.addWidget(self.text)
        layout.addLayout(self.buttons)
        self._extra: list[QPushButton] = []
        self.hide()

    def show_message(
        self,
        text: str,
        actions: Sequence[tuple[str, Callable[[], None]]] = (),
        *,
        info: bool = False,
        dismissable: bool = True,
    ) -> None:
        for button in self._extra:
            self.buttons.removeWidget(button)
            button.hide()
            button.deleteLater()
        self._extra = []
        for i, (caption, callback) in enumerate(actions):
            button = QPushButton(caption)
            button.clicked.connect(callback)
            self.buttons.insertWidget(1 + i, button)
            self._extra.append(button)
        self.dismiss.setVisible(dismissable)
        self.setProperty("role", "banner-info" if info else "banner")
        self.style().unpolish(self)
        self.style().polish(self)
        self.text.setText(text)
        self.show()


class Light(QFrame):
    """One of the three lights: the activity, its state as shape, colour and word, and its reason."""

    ICON_SIZE = 30

    def __init__(self, activity: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.activity = activity
        self.setProperty("role", "card")
        self.icon = QLabel()
        self.icon.setFixedSize(self.ICON_SIZE, self.ICON_SIZE)
        self.name = QLabel(ACTIVITY_WORDS.get(activity, activity).upper())
        self.name.setFont(style.scaled_font(self, 1.0, bold=True))
        self.state = QLabel()
        self.state.setFont(style.scaled_font(self, 1.0, bold=True))
        self.reason = style.label(role="secondary")
        self.reason.setMinimumHeight(self.reason.fontMetrics().lineSpacing() * 3)
        self.reason.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        head = QHBoxLayout()
        head.setSpacing(8)
        head.addWidget(self.icon)
        names = QVBoxLayout()
        names.setSpacing(0)
        names.addWidget(self.name)
        names.addWidget(self.state)
        head.addLayout(names, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(12, 10, 12, 10)
        layout.addLayout(head)
        layout.addWidget(self.reason, 1, Qt.AlignmentFlag.AlignTop)
        self.set_verdict("unknown", "Run a check to find out.")

    def set_verdict(self, state: str, sentence: str, figures: str = "") -> None:
        """Show a state and its plain sentence; ``figures`` (the sentence with the numbers) is the
        tooltip and what a screen reader reads after the sentence."""
        self.state_key = state
        self.icon.setPixmap(
            icons.render(icons.icon_file(icons.VERDICT_ICON.get(state, icons.UNCHECKED)), self.ICON_SIZE)
        )
        self.state.setText(VERDICT_WORDS.get(state, state))
        style.set_tone(self.state, state if state in ("good", "degraded", "fail") else "unknown")
        self.reason.setText(unbroken(sentence))
        name = ACTIVITY_WORDS.get(self.activity, self.activity)
        self.setAccessibleName(f"{name}: {VERDICT_WORDS.get(state, state)}")
        more = figures if figures and figures != sentence else ""
        self.setAccessibleDescription(f"{sentence} {more}".strip())
        self.setToolTip(unbroken(more))


class NumberTile(QFrame):
    """A measured number with what it is: "Download speed" over "18.2 Mbit/s", and one line on what it
    means, shown on hover and when the tile has the keyboard focus (Tab)."""

    explained = Signal(str)  # "Delay: how long …" when pointed at or focused

    def __init__(self, caption: str, meaning: str = "", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.meaning = meaning
        self.setToolTip(meaning)
        self.setAccessibleDescription(meaning)
        self.setFocusPolicy(Qt.FocusPolicy.TabFocus if meaning else Qt.FocusPolicy.NoFocus)
        self.setProperty("role", "tile")
        self.caption = style.label(caption, "secondary", wrap=False)
        self.value = style.label("–", "number", wrap=False)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addWidget(self.caption)
        layout.addWidget(self.value)

    def set_value(self, text: str, state: str | None = None) -> None:
        self.value.setText(text)
        style.set_tone(self.value, state if state in ("degraded", "fail") else None)
        self.setAccessibleName(f"{self.caption.text()}: {text}")

    def focusInEvent(self, event: QFocusEvent) -> None:  # the keyboard's way to the meaning
        super().focusInEvent(event)
        self.explained.emit(f"{self.caption.text()}: {self.meaning}")

    def enterEvent(self, event: QEnterEvent) -> None:
        super().enterEvent(event)
        self.explained.emit(f"{self.caption.text()}: {self.meaning}")


def path_colours(p: style.Palette) -> PathColours:
    """The path picture in the window's theme: state words in the theme's state colours, each box a
    light tint of its state over the card (dark mode: a dark one), text in the theme's text colour."""
    words = {s: p.state_text(s) for s in ("good", "degraded", "fail", "unknown")}
    return PathColours(ink=p.text, muted=p.text_secondary, tone=words,
                       zone={s: style.blend(p.bg_card, colour, 0.16) for s, colour in words.items()})


class PathPicture(QWidget):
    """The five links of the path (the report's own picture, report/charts.path_chart), drawn to the
    window's width; its accessible description says each link's state in words."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        from PySide6.QtSvg import QSvgRenderer

        self._renderer = QSvgRenderer(self)
        self._ratio = 112 / 680
        self.setAccessibleName("Where the problem is")
        self.setMinimumHeight(60)
        self.links: list = []

    def set_links(self, links: Sequence, broken: str = "", *, wired: bool = False) -> None:
        from PySide6.QtCore import QByteArray

        from connectcheck.core.words import CABLE_WORD, LINK_WORDS, STATE_WORDS
        from connectcheck.report.charts import path_chart

        self.links = list(links)
        self.setVisible(bool(self.links))
        if not self.links:
            return
        self._renderer.load(QByteArray(path_chart(self.links, broken, wired=wired,
                                                  colours=path_colours(style.current())).encode("utf-8")))
        words = {**LINK_WORDS, **({"wifi": CABLE_WORD} if wired else {})}
        self.setAccessibleDescription("; ".join(
            f"{words[x.link]}: {STATE_WORDS.get(x.state, x.state)}{', ' + x.figure if x.figure else ''}"
            f"{' (broken here)' if x.link == broken else ''}" for x in self.links))
        self.updateGeometry()
        self.update()

    def hasHeightForWidth(self) -> bool:
        return True

    def heightForWidth(self, width: int) -> int:
        return round(width * self._ratio)

    def paintEvent(self, event: object) -> None:
        from PySide6.QtCore import QRectF
        from PySide6.QtGui import QColor, QPainter

        if not self.links:
            return
        painter = QPainter(self)
        height = min(self.height(), self.heightForWidth(self.width()))
        painter.fillRect(self.rect(), QColor(style.current().bg_card))
        self._renderer.render(painter, QRectF(0, 0, self.width(), height))
        painter.end()
