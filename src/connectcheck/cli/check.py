"""``connectcheck check`` (measure now, print the verdicts, write a report) and ``connectcheck top``
(which programs use the connection, live)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any, TextIO

from connectcheck.assess.compare import recent
from connectcheck.cli.common import (
    EXIT_CANCELLED,
    EXIT_FAILED,
    EXIT_OK,
    ProgressLine,
    UsageError,
    add_settings_arguments,
    apply_override,
    open_history,
    profile_or_none,
    run_cancellable,
    settings_from_args,
)
from connectcheck.config.settings import Settings
from connectcheck.core import model
from connectcheck.core.model import CheckKind, Status
from connectcheck.history import HistoryError


def build_settings(args: argparse.Namespace, err: TextIO) -> Settings:
    """Settings for ``check``: the file, ``--set``, then the check's own options."""
    settings = settings_from_args(args, err)
    for flag, key, value in (("--stun", "network.stun_servers", args.stun),
                             ("--platform", "network.platform_urls", args.platform),
                             ("--engine", "speed.engine", args.engine),
                             ("--source", "speed.source", args.source),
                             ("--speed-server", "speed.server_url", args.speed_server)):
        if value:
            apply_override(settings, key, value, flag)
    return settings


def cmd_check(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from connectcheck.check import CheckOptions, run_check
    from connectcheck.cli.text import format_check_full

    settings = build_settings(args, err)
    kind = CheckKind.QUICK if args.quick else CheckKind.FULL
    options = CheckOptions.from_settings(settings, profile_or_none(settings, err), kind)
    if options.thresholds is not None and options.thresholds.notes:
        print("\n".join(options.thresholds.notes), file=err)
    if args.report and not Path(args.report).is_dir():
        from connectcheck.report import ReportError
        from connectcheck.report.export import format_of

        try:
            format_of(Path(args.report))
        except ReportError as exc:
            raise UsageError(f"--report: {exc}") from None
    history = open_history(settings, err)
    if not history.available:  # a check runs without it
        history.close()
        history = None
    previous = recent(history.latest_check()) if history else None
    if args.ca_file:
        if not Path(args.ca_file).is_file():
            raise UsageError(f"--ca-file: there is no file {args.ca_file}")
        options.ca_file = options.speed.ca_file = args.ca_file
    line = ProgressLine(err)
    result, _ = run_cancellable(
        lambda cancel: run_check(options, cancel=cancel, progress=line, previous=previous), err)
    line.clear()
    if result is None:
        print("connectcheck: the check did not stop in time after cancelling", file=err)
        return EXIT_CANCELLED
    out.write(model.dumps(result) + "\n" if args.json else format_check_full(result))
    if history is not None:
        told = history.notice
        try:
            history.add_check(result)
        except HistoryError as exc:
            print(f"connectcheck: this check could not be kept in the history: {exc}", file=err)
        finally:
            history.close()
        if history.notice and history.notice != told:  # what keeping it found (a clock, the size)
            print(f"connectcheck: {history.notice}", file=err)
    code = EXIT_CANCELLED if result.status is Status.CANCELLED else EXIT_OK
    if args.report:
        from connectcheck.report import ReportError, write_check_report

        try:
            written = write_check_report(result, Path(args.report), settings)
        except ReportError as exc:
            print(f"connectcheck: {exc}", file=err)
            return EXIT_FAILED
        print(f"Report written to {written}", file=err)
    return code


def cmd_top(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from connectcheck.cli.text import run_top

    return run_top(out, interval_s=args.interval, iterations=args.count)


def register(subparsers: Any) -> None:
    """Add ``check`` and ``top`` to the ``connectcheck`` command line."""
    sub = subparsers
    check = sub.add_parser("check", help="measure the connection now and print the result",
                           description="Measure latency, jitter, loss, DNS, the lesson platform and "
                                       "(unless --quick) download, upload and latency under load.")
    check.add_argument("--quick", action="store_true",
                       help="latency, jitter, loss, DNS and the platform only (a few seconds; no speed test)")
    check.add_argument("--json", action="store_true", help="print the result as JSON")
    check.add_argument("--engine", choices=("auto", "classic"),
                       help="auto: connectcheck's own engine; classic: speedtest-cli's own transfer")
    check.add_argument("--source", choices=("auto", "speedtest", "org", "cloudflare"),
                       help="where the speed server comes from (or the protocol of --speed-server)")
    check.add_argument("--speed-server", metavar="URL", help="use this speed server instead of searching")
    check.add_argument("--stun", metavar="HOST:PORT", action="append",
                       help="STUN server for latency over UDP (repeat for several; replaces the settings)")
    check.add_argument("--platform", metavar="URL", action="append",
                       help="lesson platform address to check (https://, wss://, stun:host:port; repeatable)")
    add_settings_arguments(check)
    check.add_argument("--report", metavar="PATH",
                       help="also write a report for support (.html, .pdf or .json, from the name)")
    check.add_argument("--ca-file", metavar="FILE",
                       help="also trust the certificate authority in this PEM file (private servers)")
    check.set_defaults(func=cmd_check)

    top = sub.add_parser("top", help="show live which programs use the connection (Ctrl-C to stop)",
                         description="Which programs on this computer use the connection, refreshed live, "
                                     "with the Wi-Fi signal and the load of the computer.")
    top.add_argument("--interval", type=float, default=2.0, metavar="SECONDS",
                     help="seconds between two refreshes (default 2)")
    top.add_argument("--count", type=int, metavar="N", help="stop after N refreshes")
    top.set_defaults(func=cmd_top)
