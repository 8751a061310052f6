"""``connectcheck report``: write the report of a monitored lesson, and read reports back.

    connectcheck report export [--lesson last|ID] [--format html|pdf|json] [PATH]
    connectcheck report show FILE [--full]
    connectcheck report summarize FILE... [--by cause|tutor|provider|connection|hour|weekday] [--csv]
    connectcheck report dashboard PATH... [-o FILE]

``show`` and ``summarize`` read a report's ``.html`` (its embedded data), ``.json`` or ``.pdf``
(its attached data); ``summarize`` also takes folders and, where the shell does not expand them
(Windows), patterns such as ``reports/*.html``. ``summarize --by`` groups the reports (one row per
cause, tutor, provider, connection, hour or weekday) as the ``dashboard`` page does, which is one
self-contained HTML page over all the reports in the folders given (``report/dashboard``).
"""

from __future__ import annotations

import argparse
import glob
from pathlib import Path
from typing import Any, TextIO

from connectcheck.cli.common import (
    EXIT_FAILED,
    EXIT_OK,
    EXIT_USAGE,
    UsageError,
    add_settings_arguments,
    open_history,
    settings_from_args,
)
from connectcheck.config.settings import Settings
from connectcheck.core.model import LessonRecord
from connectcheck.report.dashboard import BY, OUTPUT_NAME
from connectcheck.report.model import ReportError

READABLE = (".html", ".htm", ".json", ".pdf")


def register(subparsers: Any) -> None:
    """Add ``report`` and its actions to the ``connectcheck`` command line."""
    report = subparsers.add_parser(
        "report",
        help="write, show and summarize the diagnostic reports support staff read",
        description="Write the report of a monitored lesson, or read reports back (support tools).",
    )
    actions = report.add_subparsers(dest="report_action", metavar="ACTION")

    export = actions.add_parser(
        "export",
        help="write the report of a monitored lesson from the history",
        description="Write the report of a monitored lesson (the last one unless --lesson says which). "
        "The format comes from the file's extension: .html, .pdf or .json.",
    )
    export.add_argument(
        "--lesson", default="last", metavar="last|ID", help="which lesson (default: the last one)"
    )
    export.add_argument(
        "--format",
        choices=("html", "pdf", "json"),
        help="the format, when PATH is a folder or has no extension (default html)",
    )
    export.add_argument(
        "path",
        nargs="?",
        metavar="PATH",
        help="the file to write, or a folder (default: the reports folder of the settings)",
    )
    add_settings_arguments(export)
    export.set_defaults(func=cmd_export)

    show = actions.add_parser(
        "show",
        help="print a report's summary in the terminal",
        description="Print a report (its .html, .json or .pdf file) as text.",
    )
    show.add_argument("file", metavar="FILE")
    show.add_argument("--full", action="store_true", help="also print the details of each check")
    show.set_defaults(func=cmd_show)

    summarize = actions.add_parser(
        "summarize",
        help="one row per report: when, tutor, verdicts, likely cause, key numbers",
        description="Print one row per report, to see patterns across many. "
        "Takes files, folders and patterns.",
    )
    summarize.add_argument("files", nargs="+", metavar="FILE")
    summarize.add_argument(
        "--csv", action="store_true", help="write CSV (for a spreadsheet) instead of a table"
    )
    summarize.add_argument(
        "--by",
        choices=BY,
        help="one row per group instead of per report (a provider is named only with at least "
        "5 different tutors)",
    )
    summarize.set_defaults(func=cmd_summarize)

    dashboard = actions.add_parser(
        "dashboard",
        help="one HTML page over many reports: causes, when trouble happens, tutors, providers",
        description="Read every report (.html, .json, .pdf) in the folders and files given and write one "
        "self-contained HTML page over them: reports over time, likely causes, an hour × weekday grid, "
        "per tutor, per provider and connection. Copies of the same report are counted once; files "
        "that cannot be read are listed with the reason.",
    )
    dashboard.add_argument("paths", nargs="+", metavar="PATH")
    dashboard.add_argument(
        "-o",
        "--output",
        metavar="FILE",
        help=f"the page to write (default: {OUTPUT_NAME} in the first folder given, or here)",
    )
    dashboard.set_defaults(func=cmd_dashboard)

    report.set_defaults(func=lambda args, out, err: _usage(report, err))


def _usage(parser: argparse.ArgumentParser, err: TextIO) -> int:
    parser.print_help(err)
    return EXIT_USAGE


# --- export -------------------------------------------------------------------------------------------


def _lesson(settings: Settings, which: str, err: TextIO) -> LessonRecord:
    """The lesson from the history: the last one, or the one with this number.

    Raises UsageError for a number that is not one, and ReportError when there is no such lesson
    or the history cannot be read (the history's own words say why)."""
    from connectcheck.history import HistoryError

    if which != "last" and not which.isdigit():
        raise UsageError(f"--lesson {which!r}: write last or a lesson's number")
    history = open_history(settings, err, read_only=True)
    try:
        lesson = history.last_lesson() if which == "last" else history.lesson(int(which))
    except HistoryError as exc:
        raise ReportError(str(exc)) from None
    finally:
        history.close()
    if lesson is None:
        raise ReportError("there is no monitored lesson in the history yet")
    return lesson


def cmd_export(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from connectcheck.report import build_lesson_report, default_folder, export_report

    settings = settings_from_args(args, err)
    if (
        args.path
        and args.format
        and Path(args.path).suffix
        and not Path(args.path).is_dir()
        and Path(args.path).suffix.lower().lstrip(".") != args.format
    ):
        raise UsageError(f"{args.path} does not end in .{args.format}")
    try:
        lesson = _lesson(settings, args.lesson, err)
        written = export_report(
            build_lesson_report(lesson, settings), Path(args.path or default_folder(settings)), args.format
        )
    except ReportError as exc:
        print(f"connectcheck: {exc}", file=err)
        return EXIT_FAILED
    print(f"Report written to {written}", file=out)
    return EXIT_OK


# --- reading reports back --------------------------------------------------------------------------------


def cmd_show(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from connectcheck.report import load_report
    from connectcheck.report.summary import format_report

    try:
        report = load_report(Path(args.file))
    except ReportError as exc:
        print(f"connectcheck: {exc}", file=err)
        return EXIT_FAILED
    out.write(format_report(report, full=args.full))
    return EXIT_OK


def report_files(names: list[str]) -> list[Path]:
    """The files named: folders give their reports, patterns are expanded where the shell did not."""
    found: list[Path] = []
    for name in names:
        path = Path(name)
        if path.is_dir():
            found += sorted(p for p in path.iterdir() if p.suffix.lower() in READABLE and p.is_file())
        elif not path.exists() and glob.has_magic(name):
            found += sorted(Path(p) for p in glob.glob(name) if Path(p).is_file())
        else:
            found.append(path)
    return found


def cmd_summarize(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from connectcheck.report import load_report
    from connectcheck.report.summary import format_rows, rows_csv, summary_row

    files = report_files(args.files)
    if args.by:
        return _summarize_by(files, args.by, args.csv, out, err)
    rows, failed = [], 0
    for path in files:
        try:
            rows.append(summary_row(load_report(path), path.name))
        except ReportError as exc:
            failed += 1
            print(f"connectcheck: {exc}", file=err)
    if not files:
        print("connectcheck: no report files found there", file=err)
        return EXIT_FAILED
    rows.sort(key=lambda r: r["when"])
    out.write(rows_csv(rows) if args.csv else format_rows(rows))
    return EXIT_FAILED if failed else EXIT_OK


def _tell_refused(dash: Any, err: TextIO) -> None:
    for name, why in dash.unreadable:
        print(f"connectcheck: {why if name in why else f'{name}: {why}'}", file=err)
    more = dash.unreadable_count - len(dash.unreadable)
    if more:
        print(f"connectcheck: … and {more:,} more files could not be read", file=err)


def _summarize_by(files: list[Path], by: str, as_csv: bool, out: TextIO, err: TextIO) -> int:
    from connectcheck.report.dashboard import BY_COLUMNS, group_note, group_rows, read_reports
    from connectcheck.report.summary import format_rows, rows_csv

    if not files:
        print("connectcheck: no report files found there", file=err)
        return EXIT_FAILED
    dash = read_reports(files, base=Path.cwd())
    _tell_refused(dash, err)
    rows = group_rows(dash, by)
    columns = (by, *BY_COLUMNS[1:])
    rows = [{by: r["group"], **{c: r[c] for c in BY_COLUMNS[1:]}} for r in rows]
    out.write(rows_csv(rows, columns) if as_csv else format_rows(rows, columns))
    print(f"connectcheck: {group_note(dash)}", file=err)
    return EXIT_FAILED if dash.unreadable_count else EXIT_OK


def cmd_dashboard(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from connectcheck.report.dashboard import build_dashboard, group_note

    paths = [Path(p) for p in args.paths]
    missing = [p for p in paths if not p.exists()]
    if missing:
        raise UsageError(f"there is no file or folder {missing[0]}")
    if args.output:
        target = Path(args.output)
        if target.is_dir():
            target = target / OUTPUT_NAME
    else:
        target = (paths[0] if paths[0].is_dir() else Path.cwd()) / OUTPUT_NAME
    if target.suffix.lower() not in (".html", ".htm"):
        raise UsageError(f"{target} does not end in .html")
    try:
        dash = build_dashboard(paths, target)
    except OSError as exc:
        print(f"connectcheck: the page could not be written to {target} ({exc.strerror or exc})", file=err)
        return EXIT_FAILED
    _tell_refused(dash, err)
    if not dash.all.reports and not dash.unreadable_count:
        print("connectcheck: no report files found there", file=err)
        return EXIT_FAILED
    print(f"Page written to {target} ({group_note(dash)})", file=out)
    return EXIT_OK
