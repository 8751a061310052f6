"""The app's questions to the user and its hand-offs to the desktop, each in one place.

:class:`Prompts` asks in modal dialogs (save where? which address?) and tells in
non-modal messages; tests give the app a scripted one instead. Opening a ``mailto:`` link or a
folder goes through ``QDesktopServices``, and revealing a file uses the system's own way
(Explorer's ``/select``, Finder's ``open -R``, the freedesktop file manager's ``ShowItems``
over D-Bus), falling back to opening its folder.
"""

from __future__ import annotations

import logging
import shutil
import sys
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QProcess, Qt, QUrl
from PySide6.QtGui import QDesktopServices, QGuiApplication
from PySide6.QtWidgets import QFileDialog, QInputDialog, QLineEdit, QMessageBox, QWidget

from connectcheck.core.paths import current_os

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


def copy_text(text: str) -> None:
    """Put text on the clipboard (the support message, for webmail or when no mail program opened)."""
    QGuiApplication.clipboard().setText(text)


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


# --- the system's own tools, opened from a piece of advice -----------------------------------------
# tool -> system -> the ways to open it, first that exists wins: ("url", link) or ("run", argv)
SYSTEM_TOOLS: dict[str, dict[str, tuple[tuple[str, tuple[str, ...]], ...]]] = {
    "network": {
        "windows": (("url", ("ms-settings:network-status",)),),
        "macos": (("run", ("open", "/System/Library/PreferencePanes/Network.prefPane")),),
        "linux": (
            ("run", ("gnome-control-center", "wifi")),
            ("run", ("kcmshell6", "kcm_networkmanagement")),
            ("run", ("kcmshell5", "kcm_networkmanagement")),
            ("run", ("nm-connection-editor",)),
        ),
    },
    "tasks": {
        "windows": (("run", ("taskmgr.exe",)),),
        "macos": (("run", ("open", "-a", "Activity Monitor")),),
        "linux": (
            ("run", ("gnome-system-monitor",)),
            ("run", ("plasma-systemmonitor",)),
            ("run", ("ksysguard",)),
            ("run", ("xfce4-taskmanager",)),
            ("run", ("mate-system-monitor",)),
            ("run", ("lxtask",)),
        ),
    },
}
TOOL_WORDS = {  # what the button says, and where to look when it cannot open the tool
    "network": ("Open the network settings",
                "open them from the system menu (usually the network icon near the clock)"),
    "tasks": ("Show the programs running",
              "close the programs from their own windows, or open the system's task manager"),
}


def system_tool(tool: str, os_name: str | None = None,
                which: Callable[[str], str | None] = shutil.which) -> tuple[str, tuple[str, ...]] | None:
    """How this system (or ``os_name``) opens one of its own tools ("network": the network and
    Wi-Fi settings; "tasks": the task manager): ("url", (link,)) or ("run", argv); None when no
    known way exists here (on Linux: none of the desktops' programs is installed)."""
    os_name = os_name or current_os()
    for kind, args in SYSTEM_TOOLS.get(tool, {}).get(os_name, ()):
        if kind == "url" or os_name != "linux" or which(args[0]) is not None:  # Windows and macOS have theirs
            return kind, args
    return None


def open_system_tool(tool: str) -> str | None:
    """Open the system's tool; None when it was asked to open, else what to tell the tutor."""
    way = system_tool(tool)
    started = False
    if way is not None:
        kind, args = way
        started = open_url(args[0]) if kind == "url" else QProcess.startDetached(args[0], list(args[1:]))[0]
    if started:
        return None
    what, instead = TOOL_WORDS[tool]
    log.warning("no way to %s here (%s)", what.lower(), way)
    return f"connectcheck cannot {what[:1].lower() + what[1:]} on this system: {instead}."
