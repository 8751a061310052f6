"""The app's log and its last line of defence.

* A rotating log file in the platformdirs log folder; a console handler only when there is a
  console (in a windowed build ``sys.stderr`` is None, and writing to it would crash).
* Qt's own warnings go into the same log.
* Any uncaught exception, in the GUI thread or another one, is logged with its traceback and
  shown as a calm message that names the log file: never a silent death.
"""

from __future__ import annotations

import getpass
import logging
import logging.handlers
import sys
import tempfile
import threading
import traceback
from collections.abc import Callable
from pathlib import Path
from types import TracebackType

from PySide6.QtCore import QMessageLogContext, QtMsgType, qInstallMessageHandler

from connectcheck import __version__
from connectcheck.core import paths

LOG_NAME = "connectcheck.log"
MAX_BYTES = 1_000_000
BACKUPS = 3
FORMAT = "%(asctime)s %(levelname)-7s %(threadName)s %(name)s: %(message)s"

log = logging.getLogger("connectcheck.ui")
qt_log = logging.getLogger("qt")
_previous_qt_handler: list[Callable[..., object] | None] = []  # before setup_logging: one, or none

_QT_LEVELS = {
    QtMsgType.QtDebugMsg: logging.DEBUG,
    QtMsgType.QtInfoMsg: logging.INFO,
    QtMsgType.QtWarningMsg: logging.WARNING,
    QtMsgType.QtCriticalMsg: logging.ERROR,
    QtMsgType.QtFatalMsg: logging.CRITICAL,
}


def log_file() -> Path:
    return paths.log_dir() / LOG_NAME


def setup_logging(level: int = logging.INFO) -> Path:
    """Log to the rotating file (and to the console when there is one); route Qt's messages
    into the log. Returns the log file's path. Calling it again replaces the earlier handlers.

    A log folder that cannot be written (a full disk, a locked-down profile) must not stop the
    app: the log then goes to the system's temporary folder.
    """
    root = logging.getLogger()
    for handler in [h for h in root.handlers if getattr(h, "_connectcheck", False)]:
        root.removeHandler(handler)
        handler.close()
    path, file_handler = _file_handler(log_file())
    handlers: list[logging.Handler] = [file_handler]
    if _has_console():
        console = logging.StreamHandler(sys.stderr)
        console.setLevel(logging.WARNING)
        handlers.append(console)
    for handler in handlers:
        handler.setFormatter(logging.Formatter(FORMAT))
        handler._connectcheck = True  # type: ignore[attr-defined]
        root.addHandler(handler)
    root.setLevel(level)
    previous = qInstallMessageHandler(qt_message)
    if previous is not qt_message:  # set up again: keep the one from before the first time
        _previous_qt_handler[:] = [previous]
    log.info("connectcheck %s starting (Python %s, %s)", __version__, sys.version.split()[0], sys.platform)
    return path


def _file_handler(path: Path) -> tuple[Path, logging.Handler]:
    for candidate in (path, Path(tempfile.gettempdir()) / f"connectcheck-{getpass.getuser()}.log"):
        try:
            candidate.parent.mkdir(parents=True, exist_ok=True)
            handler = logging.handlers.RotatingFileHandler(
                candidate, maxBytes=MAX_BYTES, backupCount=BACKUPS, encoding="utf-8"
            )
        except OSError:
            continue
        return candidate, handler
    return path, logging.NullHandler()


def _has_console() -> bool:
    stream = sys.stderr
    try:
        return stream is not None and stream.isatty()
    except (AttributeError, ValueError):  # a replaced or closed stream
        return False


def restore_qt_messages() -> None:
    """Give Qt's messages back to the handler from before :func:`setup_logging` (Qt's own in the
    app). Called when the app stops: what Qt says while it tears down (plugins unloading, after
    Python has begun to shut down) must not call into the log's handler, or the process dies with
    a segmentation fault at exit."""
    if _previous_qt_handler:
        qInstallMessageHandler(_previous_qt_handler.pop())


def qt_message(kind: QtMsgType, context: QMessageLogContext, message: str) -> None:
    """Qt's warnings and errors, into the log with where Qt says they came from."""
    where = f" ({context.category})" if context.category and context.category != "default" else ""
    qt_log.log(_QT_LEVELS.get(kind, logging.WARNING), "%s%s", message, where)


ShowFn = Callable[[str], None]


class CrashHandler:
    """Catches what nothing else caught: logs it and shows ``show(text)`` (a calm message).

    Install it once the GUI can show messages; ``show`` is called on the GUI thread (the
    ``to_gui`` wrapper of the app's worker brings other threads' crashes there).
    """

    def __init__(self, show: ShowFn, to_gui: Callable[[ShowFn], ShowFn], log_path: Path) -> None:
        self.show = show
        self.show_from_thread = to_gui(show)
        self.log_path = log_path
        self._previous: tuple[object, object] | None = None

    def message(self, exc: BaseException) -> str:
        return (
            f"Something went wrong inside connectcheck ({type(exc).__name__}: {exc}).\n\n"
            "It is still running and your connection is not affected. If it happens again, "
            f"please send this file to support:\n{self.log_path}"
        )

    def handle(
        self,
        kind: type[BaseException],
        exc: BaseException,
        tb: TracebackType | None,
        *,
        thread: str | None = None,
    ) -> None:
        """Log the exception with its traceback and tell the user calmly."""
        text = "".join(traceback.format_exception(kind, exc, tb))
        log.error("uncaught exception%s:\n%s", f" in thread {thread}" if thread else "", text.rstrip())
        if issubclass(kind, KeyboardInterrupt):
            return
        try:
            (self.show_from_thread if thread else self.show)(self.message(exc))
        except Exception:  # showing failed too: the log still has it
            log.exception("could not show the error message")

    def install(self) -> None:
        self._previous = (sys.excepthook, threading.excepthook)
        sys.excepthook = self.handle
        threading.excepthook = self._thread_hook

    def uninstall(self) -> None:
        if self._previous is not None:
            sys.excepthook, threading.excepthook = self._previous  # type: ignore[assignment]
            self._previous = None

    def _thread_hook(self, args: threading.ExceptHookArgs) -> None:
        if args.exc_value is None:
            return
        name = args.thread.name if args.thread else "?"
        self.handle(args.exc_type, args.exc_value, args.exc_traceback, thread=name)
