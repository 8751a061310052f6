"""Writing a report to a file: the format from the extension (``.html``, ``.pdf``, ``.json``), a name
like ``connectcheck-report-2026-11-28-1605.html`` when only a folder is given, and an atomic write
(``fileio``): a crash or a full disk leaves the old file or none, never half a report. A folder
that cannot be written gives a plain message naming another folder that can.
"""

from __future__ import annotations

import errno
import os
import tempfile
from datetime import datetime
from pathlib import Path

import platformdirs

from connectcheck.config.settings import Settings
from connectcheck.core.files import atomic_write_bytes
from connectcheck.core.model import CheckResult, LessonRecord
from connectcheck.report.model import Report, ReportError, dumps_report

FORMATS = {".html": "html", ".htm": "html", ".pdf": "pdf", ".json": "json"}


class ExportError(ReportError):
    """The report could not be written; ``alternative`` is a folder that can be written, if any."""

    def __init__(self, message: str, alternative: Path | None = None) -> None:
        super().__init__(message)
        self.alternative = alternative


def file_name(report: Report, fmt: str) -> str:
    """``connectcheck-report-2026-11-28-1605.html``: the time the check or the lesson started."""
    for iso in (report.started_at, report.created_at):
        try:
            when = datetime.fromisoformat(iso)
            break
        except ValueError:
            continue
    else:
        when = datetime.now()
    return f"connectcheck-report-{when:%Y-%m-%d-%H%M}.{fmt}"


def default_folder(settings: Settings) -> Path:
    """The folder reports go to: the setting ``report.folder``, else the Documents folder."""
    chosen = settings["report.folder"].strip()
    if chosen:
        return Path(chosen).expanduser()
    documents = Path(platformdirs.user_documents_dir())
    return documents if documents.is_dir() else Path.home()


def format_of(path: Path) -> str:
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise ReportError(f"{path.name}: a report's file name must end in .html, .pdf or .json")
    return fmt


def render(report: Report, fmt: str) -> bytes:
    """The bytes of the report in one format ("html", "pdf" or "json")."""
    if fmt == "json":
        return (dumps_report(report) + "\n").encode("utf-8")
    if fmt == "html":
        from connectcheck.report.html import render_html

        return render_html(report).encode("utf-8")
    if fmt == "pdf":
        from connectcheck.report.pdf import render_pdf  # Qt is loaded only for a PDF

        return render_pdf(report)
    raise ReportError(f"unknown report format {fmt!r}: use html, pdf or json")


def _unique(path: Path) -> Path:
    n = 2
    candidate = path
    while candidate.exists():
        candidate = path.with_name(f"{path.stem}-{n}{path.suffix}")
        n += 1
    return candidate


def _writable_elsewhere(failed: Path) -> Path | None:
    for folder in (Path(platformdirs.user_documents_dir()), Path.home(), Path(tempfile.gettempdir())):
        if folder.is_dir() and folder.resolve() != failed.resolve() and os.access(folder, os.W_OK):
            return folder
    return None


def _plain(exc: OSError, path: Path) -> str:
    folder = path.parent
    reasons = {
        errno.EACCES: f"connectcheck is not allowed to write in the folder {folder}",
        errno.EPERM: f"connectcheck is not allowed to write in the folder {folder}",
        errno.EROFS: f"the folder {folder} is on a disk that cannot be written to",
        errno.ENOSPC: f"the disk that holds {folder} is full",
        errno.EDQUOT: f"your share of the disk that holds {folder} is used up",
        errno.ENOTDIR: f"{folder} is not a folder",
        errno.ENAMETOOLONG: f"the name {path.name} is too long",
    }
    if folder.exists() and not folder.is_dir():
        reason = reasons[errno.ENOTDIR]
    else:
        reason = reasons.get(exc.errno or 0, f"{path} could not be written ({exc.strerror or exc})")
    return f"the report was not saved: {reason}. Nothing was left half-written."


def export_report(report: Report, path: Path, fmt: str | None = None) -> Path:
    """Write ``report`` to ``path`` (a file, or a folder to put a new file in); returns the file.

    Raises ReportError for a name without a known extension and ExportError (with another folder
    to suggest) when the file cannot be written.
    """
    path = Path(path).expanduser()
    if path.is_dir():
        path = _unique(path / file_name(report, fmt or "html"))
    elif fmt is not None and not path.suffix:
        path = path.with_name(f"{path.name}.{fmt}")
    actual = format_of(path)
    if fmt is not None and fmt != actual:
        raise ReportError(f"{path.name} ends in {path.suffix}, which does not match the format {fmt}")
    data = render(report, actual)
    try:
        atomic_write_bytes(path, data)
    except OSError as exc:
        alternative = _writable_elsewhere(path.parent)
        hint = (
            f" Choose another folder, for example {alternative}."
            if alternative
            else " Choose another folder."
        )
        raise ExportError(_plain(exc, path) + hint, alternative) from None
    return path


def write_check_report(result: CheckResult, path: Path, settings: Settings) -> Path:
    """Build the report of one check and write it (``connectcheck check --report PATH``, Export report…)."""
    from connectcheck.report.build import build_check_report

    return export_report(build_check_report(result, settings), path)


def write_lesson_report(lesson: LessonRecord, path: Path, settings: Settings) -> Path:
    """Build the report of a monitored lesson and write it (the History window's Export report…)."""
    from connectcheck.report.lesson import build_lesson_report

    return export_report(build_lesson_report(lesson, settings), path)
