"""The diagnostic report support staff read: built from a check or a monitored lesson, masked by
default, written as self-contained HTML, PDF or JSON, and read back by support tools.

    report = build_check_report(result, settings)      # or build_lesson_report(lesson, settings)
    export_report(report, Path("connectcheck-report.html"))
    report = load_report(Path("connectcheck-report.html"))

Plain Python: only ``report.pdf`` imports Qt, and only when a PDF is written.
"""

from __future__ import annotations

from connectcheck.report.build import build_check_report
from connectcheck.report.export import (
    ExportError,
    default_folder,
    export_report,
    file_name,
    write_check_report,
    write_lesson_report,
)
from connectcheck.report.lesson import build_lesson_report
from connectcheck.report.load import load_report, loads_report
from connectcheck.report.model import NewerReportError, Report, ReportError

__all__ = [
    "ExportError",
    "NewerReportError",
    "Report",
    "ReportError",
    "build_check_report",
    "build_lesson_report",
    "default_folder",
    "export_report",
    "file_name",
    "load_report",
    "loads_report",
    "write_check_report",
    "write_lesson_report",
]
