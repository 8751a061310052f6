"""``connectcheck monitor`` (lesson monitoring without the tray app) and ``connectcheck history``
(the checks and lessons kept).

``monitor`` prints a line per sample and each alert as it comes; Ctrl-C (or ``--minutes``) ends
it, and the lesson is kept in the history. ``history`` lists what is kept (``list``, the default),
prints one check (``show ID``) or one lesson's timeline (``lesson ID``); ``--json`` gives the
same as JSON (one object per line for ``monitor``).
"""

from __future__ import annotations

import argparse
import json
import threading
from typing import Any, TextIO

from connectcheck.cli.common import (
    EXIT_OK,
    UsageError,
    add_settings_arguments,
    apply_override,
    open_history,
    profile_or_none,
    run_cancellable,
    settings_from_args,
)
from connectcheck.cli.text import alert_line, count_of, sample_line
from connectcheck.core import model
from connectcheck.core.model import LessonAlert, LessonRecord, MonitorSample
from connectcheck.core.words import printable
from connectcheck.monitor import Monitor, MonitorOptions


def register(subparsers: Any) -> None:
    """Add the ``monitor`` subcommand."""
    monitor = subparsers.add_parser(
        "monitor", help="watch the connection during a lesson (Ctrl-C to stop)",
        description="Light sampling every few seconds (round trip, jitter, loss, this computer's traffic "
                    "and busiest program), with an alert when sound, video or the whiteboard gets worse "
                    "and stays worse. No speed test. The lesson is kept in the history.")
    monitor.add_argument("--minutes", type=float, metavar="N", help="stop after N minutes (default: Ctrl-C)")
    monitor.add_argument("--json", action="store_true", help="print each sample and alert as a line of JSON")
    monitor.add_argument("--label", help="your own label for this lesson in the history")
    monitor.add_argument("--stun", metavar="HOST:PORT", action="append",
                         help="STUN server to measure against (repeat for several; replaces the settings)")
    monitor.add_argument("--platform", metavar="URL", action="append",
                         help="lesson platform address, measured by TCP connects when UDP is blocked")
    add_settings_arguments(monitor)
    monitor.set_defaults(func=cmd_monitor)


# --- text ----------------------------------------------------------------------------------------


class _Printer:
    """Prints samples and alerts from the monitor's thread, one whole line at a time."""

    def __init__(self, out: TextIO, as_json: bool) -> None:
        self.out = out
        self.as_json = as_json
        self.lock = threading.Lock()

    def _write(self, kind: str, item: Any, text: str) -> None:
        line = json.dumps({"type": kind, **model.to_dict(item)}, ensure_ascii=False) if self.as_json else text
        with self.lock:
            self.out.write(line + "\n")
            self.out.flush()

    def sample(self, sample: MonitorSample) -> None:
        self._write("sample", sample, printable(sample_line(sample)))

    def alert(self, alert: LessonAlert) -> None:
        self._write("alert", alert, alert_line(alert))


# --- monitor -----------------------------------------------------------------------------------


def cmd_monitor(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    if args.minutes is not None and not args.minutes > 0:
        raise UsageError("--minutes: give a number of minutes above 0")
    settings = settings_from_args(args, err)
    for flag, key, value in (("--stun", "network.stun_servers", args.stun),
                             ("--platform", "network.platform_urls", args.platform)):
        if value:
            apply_override(settings, key, value, flag)
    options = MonitorOptions.from_settings(settings, profile_or_none(settings, err))
    if options.thresholds is not None and options.thresholds.notes:
        print("\n".join(options.thresholds.notes), file=err)
    history = open_history(settings, err)
    printer = _Printer(out, args.json)
    monitor = Monitor(options=options, history=history if history.available else None,
                      on_sample=printer.sample, on_alert=printer.alert)

    def work(cancel: threading.Event) -> LessonRecord:
        until = f" for {args.minutes:g} minutes" if args.minutes else ""
        print(f"Monitoring the connection every {options.interval_s:g} s{until}; Ctrl-C to stop.", file=err)
        monitor.start(args.label)
        cancel.wait(args.minutes * 60 if args.minutes else None)
        return monitor.stop()

    try:
        record, _ = run_cancellable(work, err)
        record = record or monitor.stop()
    finally:
        history.close()
    try:
        _report_end(record, monitor, out, err, args.json)
    except (OSError, ValueError):  # the terminal was closed (SIGHUP): the lesson is kept anyway
        pass
    return EXIT_OK


def _report_end(record: LessonRecord, monitor: Monitor, out: TextIO, err: TextIO, as_json: bool) -> None:
    if as_json:
        end = {"type": "end", "lesson_id": record.id, "started_at": record.started_at,
               "ended_at": record.ended_at, "samples": len(record.samples), "alerts": len(record.alerts)}
        out.write(json.dumps(end) + "\n")
    measured = monitor.snapshot()  # what was measured, beside what the history holds (record)
    counts = f"{count_of(len(measured.samples), 'sample')}, {count_of(len(measured.alerts), 'alert')}"
    kept = len(record.samples) if record.id is not None else 0
    if record.id is not None and monitor.history_problem is None and kept == len(measured.samples):
        print(f"Lesson {record.id} kept in the history ({counts}). "
              f"See it again with: connectcheck history lesson {record.id}", file=err)
    elif record.id is not None:
        why = monitor.history_problem or "some could not be written"
        print(f"Monitoring ended ({counts} measured); lesson {record.id} is in the history with {kept} "
              f"of the {count_of(len(measured.samples), 'sample')}: {why}", file=err)
    else:
        why = monitor.history_problem or "the history could not be used"
        print(f"Monitoring ended ({counts}); the lesson was not kept: {why}", file=err)


# --- history -----------------------------------------------------------------------------------








