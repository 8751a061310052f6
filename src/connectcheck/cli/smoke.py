"""``connectcheck --smoke-test``: does this installation work? Run by the installer build on the frozen
program, and by the tests from source.

It starts headless (Qt off screen) with temporary folders for settings, data, cache and logs (the
user's are never touched), then goes through the parts a frozen build most often breaks: the
bundled resources and version, the sample data (``resources/samples/``: a real check and a real
monitored lesson), the history in SQLite, the measuring code's libraries, Qt (the application, the
SVG icons, the local socket of the single instance), the reports in HTML, PDF and JSON (each read back
and checked), and the tray app's main window, built and drawn without being shown.

Anything unexpected fails it: an exception, a warning in the log (Qt's own warnings go there), or
any output on the error stream, from Python or from a library underneath (the file descriptor itself
is watched). It prints a line per step and exits 0 when everything passed, 1 otherwise.

No Qt import here: the Qt parts are reached through ``connectcheck.ui`` and the PDF renderer.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

FLAG = "--smoke-test"
FOLDERS = ("CONFIG", "DATA", "CACHE", "LOG")
ICON_PX = 22
PDF_PAGE = re.compile(rb"/Type\s*/Page(?![a-zA-Z])")
WAIT_S = 5.0  # the longest a step waits for Qt (the single instance's message)


class SmokeError(Exception):
    """A check of the smoke test failed; the message says which and why."""


def expect(condition: object, message: str) -> None:
    if not condition:
        raise SmokeError(message)


@dataclass
class Context:
    """What the steps share: the temporary folder, and what earlier steps made."""

    folder: Path
    log_path: Path | None = None
    made: dict[str, Any] = field(default_factory=dict)


# --- the steps: each returns a short line about what it found ------------------------------------------


def step_version(ctx: Context) -> str:
    """The version comes from the package's metadata, which a frozen build must carry along."""
    import platform

    from connectcheck import __version__

    expect("unknown" not in __version__, f"the version is not known ({__version__}): the metadata is missing")
    return f"connectcheck {__version__}, Python {platform.python_version()}, {platform.platform(terse=True)}"


def step_resources(ctx: Context) -> str:
    """The bundled data files: default settings, thresholds, the organisation profile, the icons."""
    from connectcheck.assess.thresholds import default_thresholds
    from connectcheck.config.profile import load_profile
    from connectcheck.config.settings import load_settings
    from connectcheck.core import paths
    from connectcheck.ui import icons

    settings = load_settings()
    expect(not settings.problems, f"the default settings have problems: {settings.problems_text()}")
    default_thresholds()
    profile = load_profile(settings["organisation.profile"])
    missing = [str(icons.icon_file(s, template=t)) for s in icons.STATES for t in (False, True)
               if not icons.icon_file(s, template=t).is_file()]
    expect(not missing, f"icons are missing: {', '.join(missing)}")
    ctx.made["settings"] = settings
    support = "support address known" if profile.support_email else "no support address"
    return f"{paths.resource_dir()} (profile {profile.id}, {support})"


def step_samples(ctx: Context) -> str:
    """The bundled sample check and lesson (``resources/samples/``), read as the app reads results."""
    import json

    from connectcheck.core import model, paths
    from connectcheck.core.model import LessonRecord

    folder = paths.resource_path("samples")
    check = model.loads((folder / "check.json").read_text(encoding="utf-8"))
    lesson = model.from_dict(LessonRecord, json.loads((folder / "lesson.json").read_text(encoding="utf-8")))
    expect(lesson.samples and lesson.checks, "the sample lesson has no samples or no check")
    ctx.made.update(check=check, lesson=lesson)
    return (f"a {check.kind.value} check, a lesson of {len(lesson.samples)} samples, "
            f"{len(lesson.alerts)} alerts and {len(lesson.checks)} check")


def step_history(ctx: Context) -> str:
    """The history in SQLite (``_sqlite3`` must be bundled): the samples written and read back."""
    import sqlite3

    from connectcheck.history import History

    check, lesson = ctx.made["check"], ctx.made["lesson"]
    history = History(ctx.folder / "data" / "history.sqlite3", max_age_days=365_000)  # samples never age out
    expect(history.available, f"the history cannot be opened: {history.problem}")
    ctx.made["history"] = history
    check_id = history.add_check(check)
    expect(history.check(check_id).started_at == check.started_at, "a check read back differs")
    lesson_id = history.start_lesson(lesson.label, lesson.interval_s, started_at=lesson.started_at)
    for sample in lesson.samples:
        history.add_sample(lesson_id, sample)
    for alert in lesson.alerts:
        history.add_alert(lesson_id, alert)
    history.end_lesson(lesson_id)
    back = history.lesson(lesson_id)
    expect((len(back.samples), len(back.alerts)) == (len(lesson.samples), len(lesson.alerts)),
           "a lesson read back from the history lost samples or alerts")
    return f"SQLite {sqlite3.sqlite_version}: a check and a lesson written and read back"


def step_measuring(ctx: Context) -> str:
    """The measuring code's libraries: psutil's C part, speedtest-cli (which wraps the output streams
    when imported, and fails where there are none), and the certificate authorities HTTPS checks need."""
    import ssl

    import psutil
    import speedtest

    from connectcheck.probes.net import tls_context

    expect(psutil.cpu_count() and psutil.net_io_counters(), "psutil cannot read this computer's counters")
    cas = tls_context().cert_store_stats()["x509_ca"]
    capath = ssl.get_default_verify_paths().capath  # certificates there are read when needed
    found_dir = capath is not None and any(Path(capath).iterdir())
    expect(cas or found_dir, "no certificate authorities are found: every HTTPS check would fail")
    return (f"psutil {psutil.__version__}, speedtest-cli {speedtest.__version__}, "
            f"{cas or 'a folder of'} certificate authorities")


def step_qt(ctx: Context) -> str:
    """The app's QApplication, off screen (Qt's platform plugin found and loaded)."""
    from connectcheck.ui.app import make_application

    qt = make_application()
    expect(qt.platformName() == "offscreen", f"Qt runs on {qt.platformName()!r}, not off screen")
    ctx.made["qt"] = qt
    return f"QApplication on {qt.platformName()}"


def step_icons(ctx: Context) -> str:
    """Every tray icon (and its menu bar version) drawn from its SVG: something must be painted."""
    from connectcheck.ui import icons

    drawn = 0
    for state in icons.STATES:
        for template in (False, True):
            image = icons.render(icons.icon_file(state, template=template), ICON_PX).toImage()
            expect(any(image.pixelColor(x, y).alpha() for x in range(ICON_PX) for y in range(ICON_PX)),
                   f"the {state} icon{' (menu bar)' if template else ''} draws nothing")
            drawn += 1
    expect(not icons.app_icon().isNull(), "the app icon is empty")
    return f"{drawn} tray icons drawn from SVG"


def step_quit(ctx: Context) -> str:
    """What an installer does before replacing or removing the app: start it again with ``--quit``
    (a second process, as the installer's) and see the word reach the running instance."""
    import subprocess

    from connectcheck.ui import autostart, single

    instance = single.SingleInstance()
    try:
        expect(instance.listen(), "another connectcheck already listens on this smoke test's socket")
        words: list[str] = []
        instance.command.connect(words.append)
        command = [*autostart.launch_command()[:-1], "--quit"]  # this program, as start at login runs it
        child = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        deadline = time.monotonic() + WAIT_S
        while child.poll() is None and time.monotonic() < deadline:
            ctx.made["qt"].processEvents()
            time.sleep(0.005)
        ctx.made["qt"].processEvents()
        if child.poll() is None:
            child.kill()
        out, err = child.communicate()
        expect(child.returncode == 0 and words == [single.QUIT],
               f"{' '.join(command)} did not reach the running app (exit {child.returncode}, heard {words})")
        said = (out + err).decode(errors="replace").strip()
        expect(not said, f"{' '.join(command)} wrote: {said}")
    finally:
        instance.close()
    return f"{Path(command[0]).name} {' '.join(command[1:])} reached the running app"


def _check_pdf(path: Path) -> int:
    """The number of pages of a PDF report, after checking it is one and carries its data."""
    from connectcheck.report.pdf import ATTACHMENT

    data = path.read_bytes()
    expect(data.startswith(b"%PDF-"), f"{path.name} is not a PDF")
    pages = len(PDF_PAGE.findall(data))
    expect(pages >= 1, f"{path.name} has no pages")
    names = (ATTACHMENT.encode("ascii"), ATTACHMENT.encode("utf-16-be"))  # Qt writes the name in UTF-16
    expect(b"/EmbeddedFiles" in data and any(n in data for n in names), f"{path.name} lacks its data")
    return pages


def step_reports(ctx: Context) -> str:
    """The reports of the sample check and lesson in HTML, PDF (Qt's PDF writer) and JSON, each read
    back (the HTML through its data block) or, for the PDF, checked for pages and its attached data."""
    from connectcheck.report import build_check_report, build_lesson_report, export_report, load_report
    from connectcheck.report.model import DATA_ID

    settings = ctx.made["settings"]
    reports = {"check": build_check_report(ctx.made["check"], settings),
               "lesson": build_lesson_report(ctx.made["lesson"], settings)}
    said = []
    for kind, report in reports.items():
        sizes = []
        for fmt in ("html", "pdf", "json"):
            path = export_report(report, ctx.folder / "reports" / f"{kind}.{fmt}")
            if fmt == "pdf":
                sizes.append(f"PDF {_check_pdf(path)} pages")
                continue
            if fmt == "html":
                text = path.read_text(encoding="utf-8")
                expect(f'id="{DATA_ID}"' in text, f"{path.name} has no data block")
            back = load_report(path)
            expect((back.kind, back.started_at, len(back.checks)) == (report.kind, report.started_at,
                                                                      len(report.checks)),
                   f"{path.name} read back differs from the report written")
            sizes.append(f"{fmt.upper()} {path.stat().st_size // 1024} KB")
        said.append(f"{kind}: {', '.join(sizes)}")
    return "; ".join(said)


def step_window(ctx: Context) -> str:
    """The tray app (controller, tray, status window) built around the history, the window drawn
    with the sample check without being shown, then shut down as on quitting."""
    from connectcheck.ui.app import App

    app = App(ctx.made["settings"], log_path=ctx.log_path or ctx.folder / "log", history=ctx.made["history"])
    try:
        expect(not app.status.isVisible(), "the status window showed itself")
        picture = app.status.grab()
        expect(not picture.isNull() and picture.width() > 0, "the status window could not be drawn")
        expect(app.controller.last_result is not None, "the status window has no check to show")
        return f"status window drawn at {picture.width()}x{picture.height()} with the sample check"
    finally:
        app.quit()
        app.status.deleteLater()
        app.deleteLater()
        ctx.made["qt"].processEvents()


Steps = tuple[tuple[str, Callable[[Context], str]], ...]
STEPS: Steps = (
    ("version", step_version),
    ("resources", step_resources),
    ("sample data", step_samples),
    ("history (SQLite)", step_history),
    ("measuring libraries", step_measuring),
    ("Qt off screen", step_qt),
    ("icons (SVG)", step_icons),
    ("quit from a second start", step_quit),
    ("reports (HTML, PDF, JSON)", step_reports),
    ("tray app window", step_window),
)


# --- the watch on the error stream and the log ---------------------------------------------------------


class _Warnings(logging.Handler):
    """Keeps every log record of level WARNING and above."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.records: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(f"{record.levelname} {record.name}: {record.getMessage()}")


@contextlib.contextmanager
def watched_errors(path: Path) -> Iterator[Callable[[], list[str]]]:
    """While inside, everything written to the error stream (file descriptor 2 and ``sys.stderr``)
    goes to ``path``, and warnings logged are kept. Yields a function that returns all of it."""
    handler = _Warnings()
    root = logging.getLogger()
    root.addHandler(handler)
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(AttributeError, ValueError, OSError):
            stream.flush()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    try:
        saved = os.dup(2)
    except OSError:  # no error stream at all (a windowed program)
        saved = None
    os.dup2(fd, 2)
    old_stderr = sys.stderr
    sys.stderr = open(path, "a", encoding="utf-8", buffering=1)  # closed on the way out

    def found() -> list[str]:
        sys.stderr.flush()
        text = path.read_text(encoding="utf-8", errors="replace").strip()
        return handler.records + ([f"on the error stream: {text}"] if text else [])

    try:
        yield found
    finally:
        sys.stderr.close()
        sys.stderr = old_stderr
        if saved is None:
            os.close(2)
        else:
            os.dup2(saved, 2)
            os.close(saved)
        os.close(fd)
        root.removeHandler(handler)


@contextlib.contextmanager
def private_folders(folder: Path) -> Iterator[None]:
    """Settings, data, cache and logs in ``folder``, and Qt off screen, while inside."""
    wanted = {f"CONNECTCHECK_{name}_DIR": str(folder / name.lower()) for name in FOLDERS}
    wanted["QT_QPA_PLATFORM"] = "offscreen"
    before = {key: os.environ.get(key) for key in wanted}
    for name in FOLDERS:
        (folder / name.lower()).mkdir(parents=True, exist_ok=True)
    os.environ.update(wanted)
    try:
        yield
    finally:
        for key, value in before.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _close_app_log() -> None:
    """Detach the app's log file handlers (the temporary folder is removed next)."""
    root = logging.getLogger()
    for handler in [h for h in root.handlers if getattr(h, "_connectcheck", False)]:
        root.removeHandler(handler)
        handler.close()


def _say(out: TextIO | None, text: str) -> None:
    if out is not None:
        print(text, file=out, flush=True)


def run_steps(ctx: Context, out: TextIO | None, steps: Steps = STEPS) -> str | None:
    """Run the steps in order; None when all passed, else what failed (later steps are skipped)."""
    from connectcheck.ui import logs

    ctx.log_path = logs.setup_logging()
    try:
        for name, step in steps:
            started = time.monotonic()
            try:
                detail = step(ctx)
            except Exception as exc:
                failure = f"{name}: {exc if isinstance(exc, SmokeError) else traceback.format_exc()}"
                _say(out, f"FAIL {name}")
                return failure
            _say(out, f"ok   {name:<26} {detail} ({time.monotonic() - started:.2f} s)")
        return None
    finally:
        history = ctx.made.get("history")
        if history is not None:
            history.close()
        _close_app_log()
        logs.restore_qt_messages()


def run_smoke_test(out: TextIO | None = None, err: TextIO | None = None,
                   steps: Steps = STEPS) -> int:
    """Run the smoke test; 0 when everything passed, 1 otherwise (what failed goes to ``err``)."""
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="connectcheck-smoke-") as tmp:
        folder = Path(tmp)
        with private_folders(folder), watched_errors(folder / "errors.txt") as found:
            failure = run_steps(Context(folder), out, steps)
            unexpected = found()
    problems = ([failure] if failure else []) + unexpected
    if problems:
        if err is not None:
            print("connectcheck smoke test FAILED:\n" + "\n".join(problems), file=err, flush=True)
        return 1
    _say(out, f"smoke test passed in {time.monotonic() - started:.1f} s")
    return 0
