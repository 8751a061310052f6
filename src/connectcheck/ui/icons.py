"""The icons: one SVG per state of the connection in ``resources/icons/``, rendered crisp at
every size a taskbar asks for, and the monochrome template versions for the macOS menu bar.

The shapes differ as well as the colours (a circle with a tick, an amber triangle, a red
octagon…), so that a colour-blind tutor reads the state too; a light halo keeps them visible on
a dark taskbar.
"""

from __future__ import annotations

import functools
import sys
from pathlib import Path

from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QIcon, QPainter, QPixmap
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


@functools.cache
def icon(name: str, template: bool = False) -> QIcon:
    """A QIcon with the SVG pre-rendered at every usual size (crisper than scaling one)."""
    path = icon_file(name, template=template)
    result = QIcon()
    for size in SIZES:
        result.addPixmap(render(path, size))
    if template:
        result.setIsMask(True)
    return result


def tray_icon(state: str) -> QIcon:
    """The tray icon of a state: the template version in the macOS menu bar."""
    if state not in STATES:
        raise ValueError(f"unknown icon state {state!r}")
    return icon(state, template=sys.platform == "darwin")


def app_icon() -> QIcon:
    return icon("app")
