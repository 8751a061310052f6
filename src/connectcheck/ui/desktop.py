"""The app's questions to the user and its hand-offs to the desktop, each in one place.

:class:`Prompts` asks in modal dialogs (save where? which address?) and tells in
non-modal messages; tests give the app a scripted one instead. Opening a ``mailto:`` link or a
folder goes through ``QDesktopServices``, and revealing a file uses the system's own way
(Explorer's ``/select``, Finder's ``open -R``, the freedesktop file manager's ``ShowItems``
over D-Bus), falling back to opening its folder.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

from PySide6.QtCore import QProcess, Qt, QUrl
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import QFileDialog, QInputDialog, QLineEdit, QMessageBox, QWidget

log = logging.getLogger(__name__)


class Prompts:
    """Every question the app asks in a dialog. Tests replace it with scripted answers."""

    def save_path(self, parent: QWidget | None, title: str, suggested: Path, filters: str) -> Path | None:
        """Where to save a file; None when the user cancelled."""
        chosen, _ = QFileDialog.getSaveFileName(parent, title, str(suggested), filters)
        return Path(chosen) if chosen else None

    def folder(self, parent: QWidget | None, title: str, start: Path) -> Path | None:
        """A folder to read; None when the user cancelled."""
        chosen = QFileDialog.getExistingDirectory(parent, title, str(start))
        return Path(chosen) if chosen else None

    def text(self, parent: QWidget | None, title: str, label: str, value: str = "") -> str | None:
        """One line of text; None when the user cancelled."""
        answer, ok = QInputDialog.getText(parent, title, label, QLineEdit.EchoMode.Normal, value)
        return answer if ok else None

    def inform(self, parent: QWidget | None, title: str, text: str, *, warning: bool = False) -> None:
        """A message that does not block: the window behind it stays usable."""
        box = QMessageBox(
            QMessageBox.Icon.Warning if warning else QMessageBox.Icon.Information,
            title,
            text,
            QMessageBox.StandardButton.Ok,
            parent,
        )
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.open()


def open_url(url: str) -> bool:
    """Hand a link (``mailto:``, ``https:``, ``file:``) to the desktop; False if nothing took it."""
    ok = QDesktopServices.openUrl(QUrl(url))
    if not ok:
        log.warning("the desktop could not open %s", url.split("?")[0])
    return ok


def open_folder(folder: Path) -> bool:
    return open_url(QUrl.fromLocalFile(str(folder)).toString())


def reveal(path: Path) -> bool:
    """Show the file selected in the system's file manager (its folder where that is not possible)."""
    if sys.platform.startswith("win"):
        return QProcess.startDetached("explorer.exe", [f"/select,{path}"])[0]
    if sys.platform == "darwin":
        return QProcess.startDetached("open", ["-R", str(path)])[0]
    if _freedesktop_show(path):
        return True
    return open_folder(path.parent)


def _freedesktop_show(path: Path) -> bool:
    try:
        from PySide6.QtDBus import QDBusConnection, QDBusInterface
    except ImportError:
        return False
    bus = QDBusConnection.sessionBus()
    if not bus.isConnected():
        return False
    manager = QDBusInterface(
        "org.freedesktop.FileManager1", "/org/freedesktop/FileManager1", "org.freedesktop.FileManager1", bus
    )
    if not manager.isValid():
        return False
    reply = manager.call("ShowItems", [QUrl.fromLocalFile(str(path)).toString()], "")
    return not reply.errorName()
