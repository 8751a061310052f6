"""The tray icon: its shape and colour say the state, its tooltip says it in words with the time of
the last check, a left click opens the status window (where the system sends clicks to the app),
and the right-click menu holds every command. Notifications (lesson alerts, a finished check
when the window is hidden) are shown from here.
"""

from __future__ import annotations

import logging
import os
import sys

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QMenu, QSystemTrayIcon

from connectcheck.ui import icons
from connectcheck.ui.actions import TRAY_MENU, Actions
from connectcheck.ui.controller import Controller
from connectcheck.ui.signals import emit

log = logging.getLogger(__name__)

NOTIFY_MS = 10_000
_LEVEL_ICON = {
    "info": QSystemTrayIcon.MessageIcon.Information,
    "warning": QSystemTrayIcon.MessageIcon.Warning,
}


def build_menu(actions: Actions) -> QMenu:
    menu = QMenu()
    for key in TRAY_MENU:
        if key is None:
            menu.addSeparator()
        else:
            menu.addAction(actions[key])
    return menu


def no_tray_reason(waited_s: float) -> str:
    """Why there is no tray icon, in plain words, and what the window means then."""
    then = "so connectcheck opens as a normal window. Closing the window quits connectcheck."
    platform = QGuiApplication.platformName()
    desktop = os.environ.get("XDG_CURRENT_DESKTOP", "")
    if platform in ("offscreen", "minimal") or (
        sys.platform.startswith("linux")
        and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))
    ):
        return f"There is no desktop with a system tray here, {then}"
    if "GNOME" in desktop.upper():
        return (
            "GNOME shows no tray icons unless the “AppIndicator and KStatusNotifierItem Support” "
            f"extension is installed, {then}"
        )
    waited = f" (connectcheck waited {waited_s:.0f} s for it)" if waited_s >= 1 else ""
    return f"This desktop has no system tray{waited}, {then}"


class Tray(QObject):
    """The icon in the tray, following the controller."""

    open_requested = Signal()

    def __init__(self, controller: Controller, actions: Actions, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.controller = controller
        self.menu = build_menu(actions)
        self.state = controller.icon_state()
        self.old = controller.result_is_old()  # drawn faded with a clock
        self.icon = QSystemTrayIcon(icons.tray_icon(self.state, self.old), self)
        self.icon.setContextMenu(self.menu)
        self.icon.activated.connect(self._activated)
        self.icon.messageClicked.connect(self.open_requested)
        controller.changed.connect(self.refresh)
        self.refresh()

    @staticmethod
    def available() -> bool:
        return QSystemTrayIcon.isSystemTrayAvailable()

    def show(self) -> None:
        self.icon.show()
        log.info("tray icon shown")

    @property
    def visible(self) -> bool:
        return self.icon.isVisible()

    def refresh(self) -> None:
        state, old = self.controller.icon_state(), self.controller.result_is_old()
        if (state, old) != (self.state, self.old):
            self.state, self.old = state, old
            self.icon.setIcon(icons.tray_icon(state, old))
        self.icon.setToolTip(self.controller.tooltip())

    def notify(self, title: str, message: str, level: str = "info") -> bool:
        """Show a notification from the tray; False when the tray cannot (the caller shows it)."""
        if not self.visible or not QSystemTrayIcon.supportsMessages():
            return False
        self.icon.showMessage(title, message, _LEVEL_ICON.get(level, _LEVEL_ICON["info"]), NOTIFY_MS)
        return True

    def _activated(self, reason: QSystemTrayIcon.ActivationReason) -> None:
        # On macOS a click opens the menu (the system's way); elsewhere a left click opens the window.
        if reason in (QSystemTrayIcon.ActivationReason.Trigger, QSystemTrayIcon.ActivationReason.DoubleClick):
            if sys.platform != "darwin":
                emit(self.open_requested)

    def hide(self) -> None:
        self.icon.hide()
