"""The look: a light and a dark palette, the states' colours, spacing, and a style sheet built
from the palette in use on top of the platform's own style (so the app still looks native and
follows the system's font size).

Every colour the windows draw comes from :data:`LIGHT` or :data:`DARK`; nothing is hard-coded in
a window. The palette follows the system (Qt's colour scheme, else how dark the platform's own
palette is; ``CONNECTCHECK_THEME=light|dark`` overrides both) and is applied to the whole
application, so that text drawn in the system's colour never lands on a background of the other
theme. ``tests/ui/test_contrast.py`` computes the contrast (WCAG 2) of every text against every
background it can sit on, in both palettes, and of every label in every window.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QFont, QGuiApplication, QPalette
from PySide6.QtWidgets import QApplication, QLabel, QWidget

SPACING = 12
MARGIN = 18
MIN_CONTRAST = 4.5  # WCAG 2 AA for body text
THEME_ENV = "CONNECTCHECK_THEME"


@dataclass(frozen=True)
class Palette:
    """One theme's colours. ``text_*`` are colours for text, ``bg_*`` backgrounds text sits on;
    the rest (``line_*``, ``fill_*``) are drawn shapes that carry no text."""

    name: str
    bg_window: str
    bg_card: str
    bg_reminder: str
    bg_banner: str
    bg_info: str
    bg_base: str  # input fields, lists and tables
    bg_chart: str
    text: str
    text_secondary: str
    text_link: str
    text_good: str
    text_degraded: str
    text_fail: str
    text_unknown: str
    text_button: str
    bg_button: str
    bg_highlight: str
    text_highlight: str
    line_card: str
    line_reminder: str
    line_reminder_edge: str
    line_info: str
    line_grid: str
    line_limit: str
    line_rtt: str
    line_jitter: str
    line_loss: str
    line_alert: str
    line_recovery: str
    fill_states: dict[str, str] = field(default_factory=dict)  # the chart's strip of sample states

    def state_text(self, state: str | None) -> str:
        """The colour of a state's word ("Good", "Weak", "Failing") on any background."""
        return {
            "good": self.text_good,
            "degraded": self.text_degraded,
            "fail": self.text_fail,
        }.get(state or "", self.text_unknown)

    def texts(self) -> dict[str, str]:
        names = [f.name for f in fields(self) if f.name == "text" or f.name.startswith("text_")]
        return {n: getattr(self, n) for n in names}

    def backgrounds(self) -> dict[str, str]:
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name.startswith("bg_")}


LIGHT = Palette(
    name="light",
    bg_window="#f4f5f7",
    bg_card="#ffffff",
    bg_reminder="#fff4d6",
    bg_banner="#fff4d6",
    bg_info="#e8f0fb",
    bg_base="#ffffff",
    bg_chart="#ffffff",
    text="#1b1f24",
    text_secondary="#4a5360",
    text_link="#1a56b0",
    text_good="#196c3b",
    text_degraded="#805300",
    text_fail="#a8231b",
    text_unknown="#4a5360",
    text_button="#1b1f24",
    bg_button="#e9ecef",
    bg_highlight="#1a56b0",
    text_highlight="#ffffff",
    line_card="#d3d8de",
    line_reminder="#e0b84f",
    line_reminder_edge="#c98a00",
    line_info="#a9c4ea",
    line_grid="#e3e6ea",
    line_limit="#7b848e",
    line_rtt="#2e6fcf",
    line_jitter="#8e44ad",
    line_loss="#c0392b",
    line_alert="#c0392b",
    line_recovery="#1e8449",
    fill_states={"good": "#1e8449", "degraded": "#d99e0b", "fail": "#c0392b", "unknown": "#9aa3ad"},
)

DARK = Palette(
    name="dark",
    bg_window="#1d2025",
    bg_card="#272b31",
    bg_reminder="#362c12",
    bg_banner="#362c12",
    bg_info="#1c2c42",
    bg_base="#24282e",
    bg_chart="#24282e",
    text="#e9ebee",
    text_secondary="#b3bbc5",
    text_link="#8ab8ff",
    text_good="#6fd69a",
    text_degraded="#f2bd52",
    text_fail="#ff9a8f",
    text_unknown="#b3bbc5",
    text_button="#e9ebee",
    bg_button="#363b43",
    bg_highlight="#3d6fb8",
    text_highlight="#ffffff",
    line_card="#3e454e",
    line_reminder="#8a6a1c",
    line_reminder_edge="#e0a21a",
    line_info="#36557f",
    line_grid="#363b43",
    line_limit="#98a2ad",
    line_rtt="#6aa4ff",
    line_jitter="#c88ce0",
    line_loss="#ff6f61",
    line_alert="#ff6f61",
    line_recovery="#4fc17e",
    fill_states={"good": "#3fae6c", "degraded": "#e0a21a", "fail": "#e4574a", "unknown": "#6b7580"},
)

PALETTES = {"light": LIGHT, "dark": DARK}
_current: Palette = LIGHT
_system_palette: QPalette | None = None  # the platform's own, before ours replaced it


def current() -> Palette:
    """The palette in use."""
    return _current


def luminance(colour: str) -> float:
    """Relative luminance (WCAG 2) of ``#rrggbb``."""
    c = QColor(colour)

    def channel(v: int) -> float:
        s = v / 255
        return s / 12.92 if s <= 0.04045 else ((s + 0.055) / 1.055) ** 2.4

    return 0.2126 * channel(c.red()) + 0.7152 * channel(c.green()) + 0.0722 * channel(c.blue())


def blend(base: str, tint: str, share: float) -> str:
    """``base`` with ``share`` (0..1) of ``tint`` mixed in, as ``#rrggbb``."""
    a, b = QColor(base), QColor(tint)
    mix = [round(x + (y - x) * share) for x, y in ((a.red(), b.red()), (a.green(), b.green()),
                                                     (a.blue(), b.blue()))]
    return "#{:02x}{:02x}{:02x}".format(*mix)


def contrast(foreground: str, background: str) -> float:
    """The WCAG 2 contrast ratio of two colours, 1 to 21."""
    a, b = sorted((luminance(foreground), luminance(background)), reverse=True)
    return (a + 0.05) / (b + 0.05)


def system_theme(app: QGuiApplication | None = None) -> str:
    """"dark" or "light": the override in the environment, else the system's colour scheme, else
    how dark the platform's own palette is (GTK themes, older Qt platform plugins)."""
    wanted = os.environ.get(THEME_ENV, "").strip().lower()
    if wanted in PALETTES:
        return wanted
    app = app or QGuiApplication.instance()  # type: ignore[assignment]
    if app is None:
        return "light"
    scheme = app.styleHints().colorScheme()
    if scheme == Qt.ColorScheme.Dark:
        return "dark"
    if scheme == Qt.ColorScheme.Light:
        return "light"
    window = (_system_palette or app.palette()).color(QPalette.ColorRole.Window)
    return "dark" if window.lightness() < 128 else "light"


def qt_palette(p: Palette) -> QPalette:
    """The application palette of a theme (every role a widget may draw text or ground with)."""
    q = QPalette()
    roles = {
        QPalette.ColorRole.Window: p.bg_window,
        QPalette.ColorRole.WindowText: p.text,
        QPalette.ColorRole.Base: p.bg_base,
        QPalette.ColorRole.AlternateBase: p.bg_card,
        QPalette.ColorRole.Text: p.text,
        QPalette.ColorRole.Button: p.bg_button,
        QPalette.ColorRole.ButtonText: p.text_button,
        QPalette.ColorRole.ToolTipBase: p.bg_card,
        QPalette.ColorRole.ToolTipText: p.text,
        QPalette.ColorRole.PlaceholderText: p.text_secondary,
        QPalette.ColorRole.Highlight: p.bg_highlight,
        QPalette.ColorRole.HighlightedText: p.text_highlight,
        QPalette.ColorRole.Link: p.text_link,
        QPalette.ColorRole.LinkVisited: p.text_link,
        QPalette.ColorRole.BrightText: p.text_highlight,
        QPalette.ColorRole.Light: p.bg_card,
        QPalette.ColorRole.Midlight: p.line_card,
        QPalette.ColorRole.Mid: p.line_card,
        QPalette.ColorRole.Dark: p.line_limit,
        QPalette.ColorRole.Shadow: "#000000",
    }
    for role, colour in roles.items():
        q.setColor(QPalette.ColorGroup.All, role, QColor(colour))
    for role in (QPalette.ColorRole.WindowText, QPalette.ColorRole.Text, QPalette.ColorRole.ButtonText):
        q.setColor(QPalette.ColorGroup.Disabled, role, QColor(p.text_secondary))
    return q


def style_sheet(p: Palette) -> str:
    """The application's style sheet for a palette."""
    tones = "\n".join(
        f'QLabel[tone="{state}"] {{ color: {p.state_text(state)}; }}'
        for state in ("good", "degraded", "fail", "unknown")
    )
    return f"""
QLabel[role="secondary"] {{ color: {p.text_secondary}; }}
QLabel[role="section"] {{ font-weight: 600; margin-top: 6px; }}
QLabel[role="number"] {{ font-size: 15px; font-weight: 600; }}
{tones}
QFrame[role="card"] {{ border: 1px solid {p.line_card}; border-radius: 8px; background: {p.bg_card}; }}
QFrame[role="reminder"] {{ border: 1px solid {p.line_reminder}; border-left: 4px solid {p.line_reminder_edge};
                          border-radius: 6px; background: {p.bg_reminder}; }}
QFrame[role="banner"] {{ border: 1px solid {p.line_reminder}; border-radius: 6px;
                        background: {p.bg_banner}; }}
QFrame[role="banner-info"] {{ border: 1px solid {p.line_info}; border-radius: 6px; background: {p.bg_info}; }}
QFrame[role="tile"] {{ border: 1px solid transparent; border-radius: 4px; }}
QFrame[role="tile"]:focus {{ border: 1px solid {p.text_link}; }}
"""


def apply_theme(app: QApplication, theme: str | None = None) -> Palette:
    """Use a theme ("light", "dark", or the system's when None) for the whole application."""
    global _current, _system_palette
    if _system_palette is None:
        _system_palette = QPalette(app.palette())
    _current = PALETTES[theme or system_theme(app)]
    app.setPalette(qt_palette(_current))
    app.setStyleSheet(style_sheet(_current))
    return _current


def follow_system(app: QApplication) -> None:
    """Switch theme when the system does (Qt 6.5+ tells; older versions keep the first one)."""
    hints = app.styleHints()
    if hasattr(hints, "colorSchemeChanged"):
        hints.colorSchemeChanged.connect(lambda *_: apply_theme(app))


def set_tone(widget: QWidget, state: str | None) -> None:
    """Colour a label's text as a state ("good", "degraded", "fail", "unknown"), or plain (None)."""
    if (widget.property("tone") or "") == (state or ""):
        return
    widget.setProperty("tone", state or "")
    widget.style().unpolish(widget)
    widget.style().polish(widget)


def set_role(widget: QWidget, role: str | None) -> None:
    """Change a widget's role (its look in the style sheet) after it was shown."""
    if widget.property("role") == role:
        return
    widget.setProperty("role", role)
    widget.style().unpolish(widget)
    widget.style().polish(widget)


def scaled_font(widget: QWidget, factor: float, bold: bool = False) -> QFont:
    """The widget's font, larger or smaller by ``factor`` (respects the system's size)."""
    font = QFont(widget.font())
    font.setPointSizeF(max(7.0, font.pointSizeF() * factor))
    font.setBold(bold)
    return font


def label(text: str = "", role: str | None = None, *, wrap: bool = True, plain: bool = True) -> QLabel:
    """A label for text that may come from the computer: plain text (never markup), wrapped,
    selectable with the mouse so that it can be copied into an e-mail."""
    w = QLabel(text)
    w.setWordWrap(wrap)
    if plain:
        w.setTextFormat(Qt.TextFormat.PlainText)
        w.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    if role:
        w.setProperty("role", role)
    return w
