"""``connectcheck history``: the checks and lessons kept on this computer (``list``, the default),
one check in full (``show ID``) or one lesson's timeline (``lesson ID``); ``--json`` for the same
as JSON."""

from __future__ import annotations

import argparse
import json
from typing import Any, TextIO

from connectcheck.cli.common import (
    EXIT_FAILED,
    EXIT_OK,
    add_settings_arguments,
    open_history,
    settings_from_args,
)
from connectcheck.cli.text import alert_line, count_of, format_check_full, sample_line, table
from connectcheck.core import model
from connectcheck.core.model import CheckResult, LessonRecord
from connectcheck.core.words import NOT_KNOWN, clean, clock, mbps, ms, printable, stamp
from connectcheck.history import History, HistoryError


def cmd_history(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    settings = settings_from_args(args, err)
    history = open_history(settings, err, read_only=True)
    if not history.available:  # open_history told why, once
        history.close()
        return EXIT_FAILED
    try:
        if args.action == "show":
            text = _show_check(history.check(args.id), args.json)
        elif args.action == "lesson":
            text = _show_lesson(history.lesson(args.id), args.json)
        else:
            text = _list(history, args.json)
    except (HistoryError, model.ModelError) as exc:
        print(f"connectcheck: {exc}", file=err)
        return EXIT_FAILED
    finally:
        history.close()
    out.write(text)
    return EXIT_OK


def _list(history: History, as_json: bool) -> str:
    lessons, checks = history.lessons(), history.checks()
    if as_json:
        data = {"lessons": [model.to_dict(x) for x in lessons], "checks": [model.to_dict(x) for x in checks]}
        return json.dumps(data, ensure_ascii=False, indent=2) + "\n"
    lines = ["Lessons"]
    rows = [["#", "started", "ended", "samples", "alerts", "worst", "label"]]
    rows += [[str(x.id), stamp(x.started_at), clock(x.ended_at, seconds=True) if x.ended_at else "not ended",
              str(x.samples), str(x.alerts), x.worst, clean(x.label or "")] for x in lessons]
    lines += table(rows) if lessons else ["  none yet: connectcheck monitor watches a lesson"]
    lines += ["", "Checks"]
    rows = [["#", "started", "kind", "overall", "down", "up", "RTT", "lesson"]]
    rows += [[str(c.id), stamp(c.started_at), c.kind or "", c.overall or NOT_KNOWN, mbps(c.download_mbps),
              mbps(c.upload_mbps), ms(c.rtt_ms), str(c.lesson_id or "")]
             + ([] if c.readable else ["(written by a newer connectcheck)"]) for c in checks]
    width = max(len(r) for r in rows)
    lines += table([r + [""] * (width - len(r)) for r in rows]) if checks else ["  none yet"]
    return "\n".join(lines) + "\n"


def _show_check(result: CheckResult, as_json: bool) -> str:
    return model.dumps(result) + "\n" if as_json else format_check_full(result)


def _show_lesson(record: LessonRecord, as_json: bool) -> str:
    if as_json:
        return json.dumps(model.to_dict(record), ensure_ascii=False, indent=2) + "\n"
    head = f"Lesson {record.id}" + (f" — {clean(record.label)}" if record.label else "")
    ended = f"ended {stamp(record.ended_at)}" if record.ended_at else "not ended (running, or cut short)"
    counts = ", ".join(count_of(len(items), word) for items, word in
                       ((record.samples, "sample"), (record.alerts, "alert"), (record.checks, "check")))
    lines = [head, f"  started {stamp(record.started_at)}, {ended}",
             f"  {counts}; a sample every {record.interval_s or 0:g} s", "", "Timeline"]
    events = [(s.t_s, 0, printable(sample_line(s))) for s in record.samples]
    events += [(a.t_s, 1, alert_line(a)) for a in record.alerts]
    lines += [f"  {text}" for _, _, text in sorted(events, key=lambda e: (e[0], e[1]))]
    for result in record.checks:
        overall = result.assessment.overall if result.assessment else NOT_KNOWN
        lines.append(f"  check at {clock(result.started_at, seconds=True)}: {result.kind.value}, {overall}, "
                     f"down {mbps(result.summary.download_mbps)}, up {mbps(result.summary.upload_mbps)}")
    if record.procedure is not None:
        p = record.procedure
        lines += ["", f"Procedure followed: {p.outcome or 'not finished'}"
                  + (f", rearranged to {p.rearranged_to}" if p.rearranged_to else "")]
    if record.notes:
        lines += ["", "Notes"] + [f"  {n}" for n in record.notes]
    return "\n".join(lines) + "\n"


def register(subparsers: Any) -> None:
    """Add ``history`` and its actions to the ``connectcheck`` command line."""
    history = subparsers.add_parser(
        "history", help="list the checks and lessons kept, or show one",
        description="The checks and monitored lessons kept on this computer.")
    add_settings_arguments(history)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--json", action="store_true", help="print as JSON")
    actions = history.add_subparsers(dest="action", metavar="ACTION")
    actions.add_parser("list", parents=[common], help="the newest lessons and checks (the default)")
    show = actions.add_parser("show", parents=[common], help="one check, in full")
    show.add_argument("id", type=int, help="the check's number, as listed")
    lesson = actions.add_parser("lesson", parents=[common], help="one lesson's timeline and alerts")
    lesson.add_argument("id", type=int, help="the lesson's number, as listed")
    history.set_defaults(func=cmd_history, action=None, json=False)
