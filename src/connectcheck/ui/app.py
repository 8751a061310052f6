"""Starting the tray app: the log, one instance only, the tray icon (or the status window when
there is no tray, saying why), the windows, and a calm message instead of a silent death.

``run_app(argv)`` is what ``connectcheck`` without a subcommand runs. Its own options:
``--autostart`` (started at login: wait longer for the tray and open no window), ``--quit`` (ask
the running instance to quit, for installers).
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Qt, QTimer, Signal
from PySide6.QtWidgets import QApplication, QMessageBox, QWidget

from connectcheck.config.settings import Settings, load_settings
from connectcheck.core.model import CheckKind
from connectcheck.history import History, open_history
from connectcheck.monitor import Monitor, MonitorOptions
from connectcheck.ui import autostart, icons, logs, single, style, syslibs
from connectcheck.ui.about import AboutDialog
from connectcheck.ui.actions import Actions
from connectcheck.ui.autostart import AUTOSTART_FLAG
from connectcheck.ui.controller import Controller, MonitorFactory, OptionsFactory
from connectcheck.ui.desktop import Prompts
from connectcheck.ui.export import Exporter
from connectcheck.ui.guide import GuideDialog
from connectcheck.ui.history_window import HistoryWindow
from connectcheck.ui.reports_page import ReportsPage
from connectcheck.ui.settings_dialog import SettingsDialog
from connectcheck.ui.signals import emit
from connectcheck.ui.status import StatusWindow
from connectcheck.ui.tray import Tray, no_tray_reason
from connectcheck.ui.widgets import place_on_screen
from connectcheck.ui.worker import Worker

log = logging.getLogger(__name__)

TRAY_WAIT_S = 3.0  # started by hand: the window opens at once, the tray gets this long to appear
TRAY_WAIT_AT_LOGIN_S = 60.0  # at login the desktop's tray may come up after the app
TRAY_POLL_MS = 500


class App(QObject):
    """The running app: controller, actions, tray, windows. ``quit_requested`` ends the event loop
    (connected by :func:`run_app`; tests watch it instead)."""

    quit_requested = Signal()

    def __init__(
        self,
        settings: Settings,
        *,
        log_path: Path,
        worker: Worker | None = None,
        prompts: Prompts | None = None,
        history: History | None = None,
        problems: list[str] | None = None,
        monitor_factory: MonitorFactory = Monitor,
        monitor_options: OptionsFactory = MonitorOptions.from_settings,
        at_login: bool = False,
        check_on_open: bool = True,
    ) -> None:
        super().__init__()
        self.check_on_open = check_on_open  # opening the window checks when the last check is old
        self.log_path = log_path
        self.at_login = at_login
        self.prompts = prompts or Prompts()
        self.worker = worker or Worker()
        self.worker.on_error = self.background_error
        self.crash = logs.CrashHandler(self.show_error, self.worker.to_gui, log_path)
        self.controller = Controller(
            settings,
            self.worker,
            history=history,
            monitor_factory=monitor_factory,
            monitor_options=monitor_options,
            problems=problems,
        )
        self.actions = Actions(self.controller, self._handlers(), self)
        self.status = StatusWindow(self.controller, self.actions)
        self.tray = Tray(self.controller, self.actions, self)
        self.exporter = Exporter(self.controller, self.prompts)
        self.reports_page = ReportsPage(self.controller, self.prompts)
        self.windows: dict[str, QWidget] = {}
        self.tray.open_requested.connect(self.open_status)
        self.controller.notify.connect(self.notify)
        self.status.hidden_to_tray.connect(
            lambda: self.notify("connectcheck is still running",
                                "It stays in the tray: click its icon to open the window again.", "info")
        )
        self.controller.check_finished.connect(self._check_finished)
        self.controller.email_can_go.connect(
            lambda text: self.status.notice_banner.show_message(
                text, [("E-mail support…", self.actions["email"].trigger)], info=True)
        )
        self._tray_deadline = 0.0
        self._started = 0.0
        self._tray_timer = QTimer(self)  # polls for a tray that comes up after the app
        self._tray_timer.setSingleShot(True)
        self._tray_timer.setInterval(TRAY_POLL_MS)
        self._tray_timer.timeout.connect(self._place_tray)

    def _handlers(self) -> dict[str, Callable[[], None]]:
        c = self.controller
        return {
            "open": self.open_status,
            "check": lambda: c.start_check(CheckKind.FULL),
            "quick": lambda: c.start_check(CheckKind.QUICK),
            "cancel": c.cancel_check,
            "monitor": lambda: c.stop_monitoring() if c.monitoring else c.start_monitoring(),
            "advice": self.show_advice,
            "guide": self.open_guide,
            "export": lambda: self.exporter.export_check(self.status),
            "email": lambda: self.exporter.email_support(self.status),
            "history": self.open_history,
            "reports": lambda: self.reports_page.open_reports(self.status),
            "settings": self.open_settings,
            "about": self.open_about,
            "quit": self.quit,
        }

    # --- starting ---

    def start(self) -> None:
        """Show the tray icon (waiting a while for the tray when needed), or the window instead."""
        self._started = time.monotonic()
        self._tray_deadline = self._started + (TRAY_WAIT_AT_LOGIN_S if self.at_login else TRAY_WAIT_S)
        if not self.at_login:
            self.open_status()
        self._place_tray()
        if self.controller.settings["app.start_at_login"]:  # the entry follows the app when it moves
            self.worker.run(
                lambda cancel: autostart.enable(),
                failed=lambda exc: log.warning("start at login: %s", exc),
                name="autostart",
            )

    def _place_tray(self) -> None:
        if Tray.available():
            self.tray.show()
            self._up()
        elif time.monotonic() < self._tray_deadline:
            self._tray_timer.start()
        else:
            reason = no_tray_reason(time.monotonic() - self._started)
            log.info("no system tray: %s", reason)
            self.status.show_tray_missing(reason)
            self.status.bring_forward()
            self._up()

    def _up(self) -> None:
        """The app is in place: now show what went wrong while starting, and ask once for the
        support address when the profile does not carry it (at the first start, never in the
        middle of a failed lesson)."""
        settings = self.controller.settings
        if not (self.at_login or settings["app.asked_support_address"] or settings.problems):
            QTimer.singleShot(0, lambda: self.exporter.ask_support_address(self.status))
        if not (self.at_login or settings["app.asked_start_at_login"] or settings.problems):
            self._offer_start_at_login()
        problems = self.controller.problems
        if problems:
            for text in problems:
                log.warning("at start: %s", text)
            self.status.problem_banner.show_message(
                "\n\n".join(problems), [("Open settings", self.open_settings)]
            )
            self.status.bring_forward()

    def _offer_start_at_login(self) -> None:
        """Start at login is off until the tutor says yes: offer it once, at the first start."""
        try:
            if autostart.is_enabled():
                return
        except OSError:
            return
        self.status.offer_banner.show_message(
            "connectcheck can start by itself when you log in, so that it is ready in the tray "
            "before each lesson. Start it at login?",
            [("Start at login", lambda: self._answer_start_at_login(True)),
             ("Not now", lambda: self._answer_start_at_login(False))],
            info=True, dismissable=False,
        )

    def _answer_start_at_login(self, yes: bool) -> None:
        c = self.controller
        settings = Settings(values=dict(c.settings.values), path=c.settings.path,
                            file_was_bad=c.settings.file_was_bad)
        settings.set("app.asked_start_at_login", True)
        settings.set("app.start_at_login", yes)
        problem = c.apply_settings(settings)
        banner = self.status.offer_banner
        if problem:
            banner.show_message(problem, info=False)
        elif yes:
            banner.show_message("Done: connectcheck will start when you log in. You can change this "
                                "in Settings, on the Start tab.", info=True)
        else:
            banner.show_message("connectcheck will not start at login. You can turn it on later in "
                                "Settings, on the Start tab.", info=True)

    def handle_command(self, word: str) -> None:
        """A word from a later start of the app (see :mod:`single`)."""
        if word == single.QUIT:
            self.quit()
        else:
            self.open_status()

    # --- showing ---

    def open_status(self) -> None:
        """Bring the window forward; a quick check starts by itself when the last check is more
        than a few minutes old (or there is none), so the window never shows a stale answer."""
        self.status.bring_forward()
        if self.check_on_open and self.controller.wants_check_on_open():
            log.info("the window opened on an old result: a quick check starts")
            self.controller.start_check(CheckKind.QUICK)

    def show_advice(self) -> None:
        self.status.show_advice()
        if self.controller.last_result is None and not self.controller.checking:
            self.controller.start_check(CheckKind.QUICK)

    def notify(self, title: str, message: str, level: str = "info") -> None:
        """A notification from the tray; in the window when there is no tray."""
        if not self.tray.notify(title, message, level):
            self.status.notice_banner.show_message(f"{title}\n{message}", info=level == "info")
            QApplication.alert(self.status)

    def _check_finished(self, result: Any) -> None:
        if result is not None and not self.status.isVisible():
            self.notify(
                self.controller.headline(), result.assessment.sentence if result.assessment else "", "info"
            )

    def background_error(self, exc: BaseException) -> None:
        """Work started without its own error handling failed: as calm as any uncaught error."""
        self.crash.handle(type(exc), exc, exc.__traceback__)

    def show_error(self, text: str) -> None:
        self.prompts.inform(
            self.status if self.status.isVisible() else None, "connectcheck", text, warning=True
        )

    def _window(self, key: str, make: Callable[[], QWidget]) -> QWidget:
        """The window of a kind, brought forward; made anew once the previous one was closed (a
        guide opened again starts from the first step, a History window reads the history again)."""
        window = self.windows.get(key)
        if window is None:
            window = self.windows[key] = make()
            place_on_screen(window)  # History is 620 px tall: never partly below a 768-pixel screen
            window.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
            window.destroyed.connect(lambda *_: self.windows.pop(key, None))
        window.show()
        window.raise_()
        window.activateWindow()
        return window

    def open_guide(self) -> QWidget:
        return self._window("guide", lambda: GuideDialog(self.controller, self.exporter.email_support))

    def open_history(self) -> QWidget:
        window = self._window("history", lambda: HistoryWindow(self.controller, self.exporter))
        assert isinstance(window, HistoryWindow)
        window.reload()
        return window

    def open_settings(self) -> QWidget:
        def make() -> QWidget:
            dialog = SettingsDialog(self.controller)
            dialog.accepted.connect(lambda: dialog.failure and self.show_error(dialog.failure))
            return dialog

        window = self._window("settings", make)
        assert isinstance(window, SettingsDialog)
        return window

    def open_about(self) -> QWidget:
        return self._window("about", lambda: AboutDialog(self.log_path))

    # --- ending ---

    def quit(self) -> None:
        log.info("quitting")
        self._tray_timer.stop()
        self.controller.shutdown()
        self.tray.hide()
        for window in list(self.windows.values()):
            window.close()
        self.status.hide()
        emit(self.quit_requested)


def end_on_termination(app: App) -> Callable[[], None]:
    """SIGTERM (logout, shutdown, ``kill``) and SIGHUP quit the app as its menu does: a lesson
    being monitored is ended and kept, not left "not ended" for ever. Qt's loop runs no Python
    of its own, so a timer wakes Python up twice a second to see a signal. Returns what undoes
    it (the previous handlers back)."""

    def on_signal(signum: int, frame: object) -> None:
        log.info("signal %s: quitting", signum)
        QTimer.singleShot(0, app.quit)

    saved = []
    for name in ("SIGTERM", "SIGHUP"):
        number = getattr(signal, name, None)
        if number is not None:
            saved.append((number, signal.signal(number, on_signal)))
    waker = QTimer()
    waker.timeout.connect(lambda: None)
    waker.start(500)

    def undo() -> None:
        waker.stop()
        for number, handler in saved:
            signal.signal(number, handler)

    return undo


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="connectcheck", add_help=True, description="The connectcheck tray app."
    )
    parser.add_argument(
        AUTOSTART_FLAG,
        action="store_true",
        dest="autostart",
        help="started at login: wait for the tray and open no window",
    )
    parser.add_argument("--quit", action="store_true", help="ask the running connectcheck to quit")
    return parser.parse_args(argv)


def make_application() -> QApplication:
    """The QApplication (named connectcheck: its X11 class and the name the desktop shows).

    On Linux, Qt's GTK theme (GNOME, XFCE, Cinnamon, MATE) loads GTK into the process, and GTK
    sets up OpenGL, which maps the GL driver (some 50 MB of it with Mesa's software renderer, the
    same order with a GPU driver built on LLVM). connectcheck draws nothing with OpenGL, so GTK's
    is turned off unless the user set ``GDK_GL`` (see benchmarks/ui.py for the numbers).
    """
    if sys.platform.startswith("linux"):
        os.environ.setdefault("GDK_GL", "disable")
    existing = QApplication.instance()
    app = existing if isinstance(existing, QApplication) else QApplication(["connectcheck"])
    app.setApplicationName("connectcheck")
    app.setApplicationDisplayName("connectcheck")
    app.setDesktopFileName("connectcheck")
    app.setWindowIcon(icons.app_icon())
    app.setQuitOnLastWindowClosed(False)
    style.apply_theme(app)
    style.follow_system(app)
    return app


def display_problem(env: dict[str, str] | None = None, platform: str | None = None,
                    find_library: Callable[[str], str | None] | None = None) -> str | None:
    """Why Qt could not open a window here, told before Qt tries (when Qt finds no usable
    display it aborts the process with its message in the log only), or None.

    Linux only: a desktop needs DISPLAY or WAYLAND_DISPLAY, and Qt's X11 plugin needs system
    libraries (xcb-cursor since Qt 6.5, xcb-icccm, xcb-keysyms...) that minimal systems lack: the
    message names the packages to install (``resources/linux/libraries.tsv``).
    """
    env = os.environ if env is None else env
    platform = sys.platform if platform is None else platform
    if not platform.startswith("linux") or env.get("QT_QPA_PLATFORM"):
        return None
    if not env.get("DISPLAY") and not env.get("WAYLAND_DISPLAY"):
        return ("There is no desktop here to show connectcheck's window (neither DISPLAY nor "
                "WAYLAND_DISPLAY is set). The command line works without one: try `connectcheck check`.")
    if not env.get("WAYLAND_DISPLAY"):
        return syslibs.window_problem(find_library)
    return None


def run_app(argv: list[str]) -> int:
    """Run the tray app until it quits; the exit code."""
    args = parse_args(argv)
    log_path = logs.setup_logging()
    try:
        return _run(args, log_path)
    finally:
        # Qt talks while it tears down, after Python has begun to: not into the log's Python handler
        logs.restore_qt_messages()


def _run(args: argparse.Namespace, log_path: Path) -> int:
    problem = display_problem()
    if problem:
        log.error("%s", problem)
        if sys.stderr is not None:
            print(f"connectcheck: {problem}", file=sys.stderr)
        return 1
    qt = make_application()
    instance = single.SingleInstance()
    if not instance.listen():
        word = single.QUIT if args.quit else single.SHOW
        sent = single.send(word, instance.name)
        log.info(
            "connectcheck is already running: sent %r (%s)", word, "delivered" if sent else "not delivered"
        )
        return 0 if sent else 1
    if args.quit:
        instance.close()
        return 0
    try:
        settings = load_settings()
        history, messages = open_history(settings)
        app = App(settings, log_path=log_path, history=history, problems=messages, at_login=args.autostart)
    except Exception as exc:  # the app cannot even start: say so rather than vanish
        log.exception("connectcheck could not start")
        QMessageBox.critical(
            None,
            "connectcheck could not start",
            f"connectcheck could not start ({type(exc).__name__}: {exc}).\n\n"
            f"Please send this file to support:\n{log_path}",
        )
        instance.close()
        return 1
    app.crash.install()
    instance.command.connect(app.handle_command)
    app.quit_requested.connect(qt.quit)
    undo_signals = end_on_termination(app)
    app.start()
    try:
        return qt.exec()
    finally:
        undo_signals()
        app.controller.shutdown()  # a quit by the desktop's own path too: the lesson is kept
        app.crash.uninstall()
        instance.close()
        log.info("connectcheck stopped")
