"""The look: calm colours for the states, spacing, and a light style sheet on top of the
platform's own style (so the app still looks native and follows the system's font size)."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QFont
from PySide6.QtWidgets import QLabel, QWidget

# verdict and sample states, in the hues of the icons
STATE_COLOURS = {"good": "#1e8449", "degraded": "#c98a00", "fail": "#c0392b", "unknown": "#9aa3ad"}

SPACING = 12
MARGIN = 18

STYLE_SHEET = """
QLabel[role="secondary"] { color: #5b6675; }
QLabel[role="section"] { font-weight: 600; margin-top: 6px; }
QFrame[role="card"] { border: 1px solid #dde1e6; border-radius: 8px; background: #ffffff; }
QFrame[role="reminder"] { border: 1px solid #e6c36a; border-left: 4px solid #d99e0b; border-radius: 6px;
                          background: #fff8e5; }
QFrame[role="banner"] { border: 1px solid #e6c36a; border-radius: 6px; background: #fff8e5; }
QFrame[role="banner-info"] { border: 1px solid #a9c4ea; border-radius: 6px; background: #eef4fc; }
QLabel[role="number"] { font-size: 15px; font-weight: 600; }
"""


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
