"""Every command of the app as one QAction, shared by the tray menu and the window's menus, so
that a command is enabled, named and handled the same way wherever it is offered."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from PySide6.QtCore import QObject
from PySide6.QtGui import QAction, QKeySequence

from connectcheck.ui.controller import Controller


@dataclass(frozen=True)
class Command:
    key: str
    text: str
    tip: str
    shortcut: QKeySequence.StandardKey | str | None = None


COMMANDS = (
    Command("open", "Open connectcheck", "Show the status window"),
    Command(
        "check",
        "Check now",
        "Measure the connection fully: speed, delay, loss and the lesson platform",
        "Ctrl+R",
    ),
    Command(
        "quick",
        "Quick check",
        "A few seconds: delay, loss and the lesson platform, no speed test",
        "Ctrl+Shift+R",
    ),
    Command("cancel", "Cancel the check", "Stop the check that is running", "Esc"),
    Command("monitor", "Start lesson monitoring", "Watch the connection quietly during the lesson", "Ctrl+L"),
    Command("advice", "What should I do?", "Show what to do now for a better lesson"),
    Command(
        "guide",
        "The lesson can't go on…",
        "Step by step through what to do when the lesson cannot go on",
        "Ctrl+G",
    ),
    Command("export", "Export report…", "Save a report of the last check for support", "Ctrl+E"),
    Command("email", "E-mail support…", "Write to support with the report attached"),
    Command("history", "History", "Past checks and monitored lessons", "Ctrl+H"),
    Command(
        "reports",
        "Open reports…",
        "For the support desk: one page over a folder of reports (causes, when, tutors, providers)",
    ),
    Command(
        "settings",
        "Settings",
        "Organisation, measuring, thresholds, privacy, start at login",
        QKeySequence.StandardKey.Preferences,
    ),
    Command("about", "About connectcheck", "Version, log file and licences"),
    Command(
        "quit", "Quit", "Stop connectcheck (a monitored lesson is saved first)", QKeySequence.StandardKey.Quit
    ),
)

# the tray's right-click menu, in the order of the issue (None: a separator)
TRAY_MENU = (
    "open",
    None,
    "check",
    "quick",
    "monitor",
    None,
    "advice",
    "guide",
    None,
    "export",
    "email",
    None,
    "history",
    "reports",
    "settings",
    "about",
    None,
    "quit",
)


class Actions(QObject):
    """The QActions, connected to ``handlers[key]``; :meth:`refresh` follows the controller."""

    def __init__(
        self,
        controller: Controller,
        handlers: Mapping[str, Callable[[], None]],
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.controller = controller
        self.by_key: dict[str, QAction] = {}
        for command in COMMANDS:
            action = QAction(command.text, self)
            action.setToolTip(command.tip)
            action.setStatusTip(command.tip)
            if command.shortcut is not None:
                action.setShortcut(QKeySequence(command.shortcut))
                action.setShortcutVisibleInContextMenu(False)  # the keys work in the window, not the tray
            action.triggered.connect(handlers[command.key])
            self.by_key[command.key] = action
        font = self.by_key["open"].font()
        font.setBold(True)
        self.by_key["open"].setFont(font)
        controller.changed.connect(self.refresh)
        self.refresh()

    def __getitem__(self, key: str) -> QAction:
        return self.by_key[key]

    def refresh(self) -> None:
        c = self.controller
        self["check"].setEnabled(not c.checking)
        self["quick"].setEnabled(not c.checking)
        self["cancel"].setEnabled(c.checking)
        self["monitor"].setText("Stop lesson monitoring" if c.monitoring else "Start lesson monitoring")
