"""The icons: one SVG per state of the connection in ``resources/icons/``, rendered crisp at
every size a taskbar asks for, and the monochrome template versions for the macOS menu bar.

The shapes differ as well as the colours (a circle with a tick, an amber triangle, a red
octagon, a purple square for no connection…), so that a colour-blind tutor reads the state too;
a light halo keeps them visible on a dark taskbar. An old result is drawn faded with a small
clock (:func:`render_stale`): it is never shown as if it were current.
"""

from __future__ import annotations

import functools
import sys
from pathlib import Path

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QIcon, QPainter, QPen, QPixmap
from PySide6.QtSvg import QSvgRenderer

from connectcheck.core import paths

# The states of the tray icon, in the words of the issue.
UNCHECKED = "unchecked"  # not checked yet
CHECKING = "checking"
GOOD = "good"
DEGRADED = "degraded"
FAILING = "failing"
OFFLINE = "offline"
MONITORING = "monitoring"
STATES = (UNCHECKED, CHECKING, GOOD, DEGRADED, FAILING, OFFLINE, MONITORING)

# A verdict's state ("good" | "degraded" | "fail" | "unknown") drawn with the same shapes.
VERDICT_ICON = {"good": GOOD, "degraded": DEGRADED, "fail": FAILING, "unknown": UNCHECKED}

SIZES = (16, 20, 22, 24, 32, 40, 48, 64, 128)


def icon_file(name: str, *, template: bool = False) -> Path:
    """The SVG of a state (or ``"app"``); ``template``: the macOS menu bar version."""
    folder = paths.resource_path("icons", "template") if template else paths.resource_path("icons")
    return folder / f"{name}.svg"


def render(path: Path, size: int) -> QPixmap:
    """The SVG at ``size`` × ``size`` pixels on a transparent background."""
    renderer = QSvgRenderer(str(path))
    if not renderer.isValid():
        raise ValueError(f"the icon {path} cannot be read")
    pixmap = QPixmap(size, size)
    pixmap.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    renderer.render(painter, QRectF(0, 0, size, size))
    painter.end()
    return pixmap


STALE_OPACITY = 0.4


def render_stale(path: Path, size: int, *, template: bool = False) -> QPixmap:
    """An old result: the state's icon faded, with a small clock in the lower right corner."""
    base = render(path, size)
    pixmap = QPixmap(size, size)
    pixmap.fill(Qt.GlobalColor.transparent)
    p = QPainter(pixmap)
    p.setRenderHint(QPainter.RenderHint.Antialiasing)
    p.setOpacity(STALE_OPACITY)
    p.drawPixmap(0, 0, base)
    p.setOpacity(1.0)
    r = size * 0.24
    centre = QPointF(size - r - 0.5, size - r - 0.5)
    black, white = QColor("#000000"), QColor("#ffffff")
    p.setPen(QPen(black if template else white, max(1.0, size / 24)))  # its halo
    p.setBrush(black if template else QColor("#2b3038"))
    p.drawEllipse(centre, r, r)
    if template:  # the hands cut out of the black face
        p.setCompositionMode(QPainter.CompositionMode.CompositionMode_Clear)
    p.setPen(QPen(white, max(1.0, size / 16), Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap))
    p.drawLine(centre, centre + QPointF(0, -r * 0.62))
    p.drawLine(centre, centre + QPointF(r * 0.5, 0))
    p.end()
    return pixmap


@functools.cache
def icon(name: str, template: bool = False, stale: bool = False) -> QIcon:
    """A QIcon with the SVG pre-rendered at every usual size (crisper than scaling one)."""
    path = icon_file(name, template=template)
    result = QIcon()
    for size in SIZES:
        result.addPixmap(render_stale(path, size, template=template) if stale else render(path, size))
    if template:
        result.setIsMask(True)
    return result


def tray_icon(state: str, stale: bool = False) -> QIcon:
    """The tray icon of a state (faded with a clock when the result is old): the template
    version in the macOS menu bar."""
    if state not in STATES:
        raise ValueError(f"unknown icon state {state!r}")
    return icon(state, template=sys.platform == "darwin", stale=stale)


def app_icon() -> QIcon:
    return icon("app")
