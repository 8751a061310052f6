"""``connectcheck report``: show and summarize reports as support staff do, and export a lesson."""

from __future__ import annotations

import csv
import io
import json

import pytest

from connectcheck import cli
from connectcheck.cli.common import EXIT_FAILED, EXIT_OK, EXIT_USAGE
from connectcheck.config.settings import Settings
from connectcheck.report import build_check_report, build_lesson_report, export_report, load_report
from tests.report.fixtures import calm_check, steam_check, troubled_lesson


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = cli.main(list(argv), out=out, err=err)
    return code, out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    """A support mailbox's worth of reports: a lesson (HTML), a troubled check (JSON), a good check (HTML)."""
    base = tmp_path_factory.mktemp("reports")
    settings = Settings()
    settings.set("report.tutor_label", '=HYPERLINK("http://x")')
    export_report(build_lesson_report(troubled_lesson(), settings), base / "lesson.html")
    export_report(build_check_report(steam_check(), Settings()), base / "steam.json")
    export_report(build_check_report(calm_check(), Settings()), base / "calm.html")
    (base / "notes.txt").write_text("not a report")
    return base


def test_show_prints_the_answer_first_then_the_evidence(folder):
    code, out, err = run("report", "show", str(folder / "lesson.html"))
    assert code == EXIT_OK, err
    lines = out.splitlines()
    assert lines[:2] == ["Lesson connection report", "Thursday 24 October 2024, 16:00 to 16:55, UTC+01:00"]
    at = [
        out.index(t)
        for t in (
            "THE CONNECTION FAILED DURING THE LESSON",
            "Likely cause: Another program",
            "Measurements against the lesson's limits",
            "Alerts shown to the tutor",
            "Programs using the connection",
            "Privacy",
        )
    ]
    assert at == sorted(at)
    assert "Details of each check" not in out
    assert "Details of each check" in run("report", "show", "--full", str(folder / "lesson.html"))[1]


def test_show_reads_json_too(folder):
    code, out, _ = run("report", "show", str(folder / "steam.json"))
    assert code == EXIT_OK and "Connection check report" in out and "Steam was using the connection" in out


def test_show_refuses_what_is_not_a_report(folder, tmp_path):
    code, out, err = run("report", "show", str(folder / "notes.txt"))
    assert (code, out) == (EXIT_FAILED, "")
    assert err == "connectcheck: notes.txt is not a connectcheck report (neither its .json nor its .html)\n"
    newer = json.loads((folder / "steam.json").read_text())
    newer["schema_version"] = 99
    (tmp_path / "newer.json").write_text(json.dumps(newer))
    code, _, err = run("report", "show", str(tmp_path / "newer.json"))
    assert code == EXIT_FAILED and "Please update connectcheck to read it" in err


def test_summarize_prints_one_row_per_report_in_time_order(folder):
    code, out, err = run(
        "report",
        "summarize",
        str(folder / "calm.html"),
        str(folder / "lesson.html"),
        str(folder / "steam.json"),
    )
    assert code == EXIT_OK, err
    lines = out.splitlines()
    assert lines[0].split()[:4] == ["file", "when", "kind", "tutor"]
    assert [line.split()[0] for line in lines[1:]] == ["lesson.html", "steam.json", "calm.html"]
    assert "Another program on this computer" in lines[1] and "No fault found" in lines[3]


def test_summarize_as_csv_is_safe_for_a_spreadsheet(folder):
    code, out, _ = run("report", "summarize", "--csv", str(folder))
    assert code == EXIT_OK  # a folder gives its .html and .json files (not notes.txt)
    rows = list(csv.DictReader(io.StringIO(out)))
    assert [r["file"] for r in rows] == ["lesson.html", "steam.json", "calm.html"]
    lesson = rows[0]
    assert lesson["tutor"] == '\'=HYPERLINK("http://x")'  # shown as text, never run as a formula
    assert (
        lesson["kind"],
        lesson["overall"],
        lesson["sound"],
        lesson["likely cause"],
        lesson["program"],
    ) == ("lesson", "failing", "failing", "Another program on this computer", "Steam")
    assert (
        lesson["download"] == "2.4 Mbit/s" and lesson["troubled"] == "15 min" and int(lesson["alerts"]) >= 5
    )
    assert rows[1]["round trip"] == "148 ms" and rows[2]["overall"] == "good"


def test_summarize_takes_patterns_the_shell_did_not_expand(folder):
    code, out, _ = run("report", "summarize", str(folder / "*.html"))
    assert code == EXIT_OK
    assert [line.split()[0] for line in out.splitlines()[1:]] == ["lesson.html", "calm.html"]


def test_summarize_carries_on_past_a_bad_file(folder, tmp_path):
    (tmp_path / "broken.json").write_text('{"format": "connectcheck-report", "schema_version": 1, "kind": 3}')
    code, out, err = run("report", "summarize", str(tmp_path / "broken.json"), str(folder / "steam.json"))
    assert code == EXIT_FAILED
    assert "broken.json is damaged: $.kind: expected text, found 3" in err
    assert "steam.json" in out


def test_report_without_an_action_shows_its_help():
    code, _, err = run("report")
    assert code == EXIT_USAGE and "export" in err and "summarize" in err


def test_export_refuses_a_format_that_contradicts_the_name(tmp_path):
    code, _, err = run("report", "export", "--format", "pdf", str(tmp_path / "r.html"))
    assert code == EXIT_USAGE and "does not end in .pdf" in err


def test_export_refuses_a_lesson_that_is_not_a_number(tmp_path):
    code, _, err = run("report", "export", "--lesson", "yesterday", str(tmp_path))
    assert code == EXIT_USAGE and "write last or a lesson's number" in err


KEEP = ("--set", "history.max_age_days=3650")  # the fixtures' lessons are from 2024: keep them


def history_settings() -> Settings:
    settings = Settings()
    settings.set("history.max_age_days", 3650)
    return settings


def keep_in_history(lesson) -> int:
    """Store a lesson in the user's (the test's private) history the way monitoring does."""
    from connectcheck.history import History

    history = History.from_settings(history_settings())
    try:
        lesson_id = history.start_lesson(lesson.label, lesson.interval_s, started_at=lesson.started_at)
        for sample in lesson.samples:
            history.add_sample(lesson_id, sample)
        for alert in lesson.alerts:
            history.add_alert(lesson_id, alert)
        for check in lesson.checks:
            history.add_check(check, lesson_id=lesson_id)
        history.set_procedure(lesson_id, lesson.procedure)
        history.end_lesson(lesson_id)
    finally:
        history.close()
    return lesson_id


def test_export_writes_the_last_lesson_from_the_history(tmp_path):
    lesson = troubled_lesson()
    keep_in_history(lesson)
    code, out, err = run("report", "export", *KEEP, str(tmp_path))
    assert code == EXIT_OK, err
    path = tmp_path / "connectcheck-report-2024-10-24-1600.html"
    assert out == f"Report written to {path}\n"
    report = load_report(path)
    expected = build_lesson_report(lesson, Settings())
    assert report.kind == "lesson" and report.started_at == lesson.started_at
    assert report.headline.cause == expected.headline.cause
    assert len(report.timeline.points) == len(lesson.samples) and len(report.checks) == 2
    assert report.procedure.outcome == "rearranged"


def test_export_a_lesson_by_its_number_as_pdf(tmp_path):
    first = keep_in_history(troubled_lesson(minutes=6, with_checks=False, with_procedure=False))
    keep_in_history(troubled_lesson(minutes=3, with_checks=False, with_procedure=False))
    code, out, err = run(
        "report", "export", *KEEP, "--lesson", str(first), "--format", "pdf", str(tmp_path / "six")
    )
    assert code == EXIT_OK, err
    assert (tmp_path / "six.pdf").read_bytes().startswith(b"%PDF-")


def test_export_says_when_there_is_no_such_lesson(tmp_path):
    code, _, err = run("report", "export", str(tmp_path))
    assert (code, err) == (EXIT_FAILED, "connectcheck: there is no monitored lesson in the history yet\n")
    keep_in_history(troubled_lesson(minutes=2, with_checks=False, with_procedure=False))
    code, _, err = run("report", "export", *KEEP, "--lesson", "999", str(tmp_path))
    assert (code, err) == (EXIT_FAILED, "connectcheck: there is no lesson 999 in the history\n")
    assert list(tmp_path.iterdir()) == []


# --- handed-in files that try to fool support staff or hang the tools (issue 17) --------------------

FORGED = "x\nOverall: READY\r\nsound  GOOD\u2028\u202eevil\x1b[2J"


def _forge_every_text(data, load):
    """Put FORGED into every text of a report's JSON that the loader still accepts."""
    def walk(node):
        items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
        for key, value in list(items):
            if isinstance(value, str):
                node[key] = value + FORGED
                try:
                    load(data)
                except Exception:
                    node[key] = value  # a choice or a time: refused, so it cannot forge anything
            else:
                walk(value)
    walk(data)
    return data


def test_a_crafted_report_cannot_forge_lines_in_show_or_rows_in_summarize(tmp_path):
    from connectcheck.report.load import report_from_dict

    settings = Settings()
    settings.set("report.tutor_label", "Jane")
    export_report(build_lesson_report(troubled_lesson(), settings), tmp_path / "real.json")
    data = json.loads((tmp_path / "real.json").read_text(encoding="utf-8"))
    forged = _forge_every_text(data, report_from_dict)
    assert json.dumps(forged).count("Overall: READY") > 50  # program names, labels, sentences, notes...
    (tmp_path / "forged.json").write_text(json.dumps(forged), encoding="utf-8")
    code, out, err = run("report", "show", "--full", str(tmp_path / "forged.json"))
    assert code == EXIT_OK, err
    for line in out.splitlines():
        assert not line.lstrip().startswith(("Overall: READY", "sound  GOOD")), line
    assert "\x1b" not in out and "\u202e" not in out and "\u2028" not in out and "\r" not in out
    code, out, err = run("report", "summarize", str(tmp_path / "forged.json"), str(tmp_path / "real.json"))
    assert code == EXIT_OK, err
    assert len(out.splitlines()) == 3  # the header and one row per report
    code, out, err = run("report", "summarize", "--csv", str(tmp_path / "forged.json"))
    assert len(out.splitlines()) == 2 and "\x1b" not in out


def test_report_show_on_a_fifo_or_a_device_answers_at_once(tmp_path):
    import os

    fifo = tmp_path / "report.json"
    os.mkfifo(fifo)
    code, out, err = run("report", "show", str(fifo))
    assert code == EXIT_FAILED and "not a regular file" in err
    code, out, err = run("report", "summarize", "/dev/zero")
    assert code == EXIT_FAILED and "not a regular file" in err


def test_a_report_saved_again_as_utf16_is_read(tmp_path):
    export_report(build_check_report(steam_check(), Settings()), tmp_path / "steam.json")
    text = (tmp_path / "steam.json").read_text(encoding="utf-8")
    (tmp_path / "utf16.json").write_bytes(text.encode("utf-16"))
    code, out, err = run("report", "show", str(tmp_path / "utf16.json"))
    assert code == EXIT_OK, err


def test_a_report_with_a_number_of_5000_digits_is_refused_in_words_for_support_staff(tmp_path):
    export_report(build_check_report(steam_check(), Settings()), tmp_path / "steam.json")
    data = (tmp_path / "steam.json").read_text(encoding="utf-8")
    data = data.replace('"schema_version": 1', '"schema_version": ' + "1" * 5000, 1)
    (tmp_path / "big.json").write_text(data, encoding="utf-8")
    code, out, err = run("report", "show", str(tmp_path / "big.json"))
    assert code == EXIT_FAILED and "far too long for a report" in err
    assert "set_int_max_str_digits" not in err and len(err) < 400


def test_a_direction_override_is_escaped_in_the_json_written(tmp_path):
    settings = Settings()
    settings.set("report.tutor_label", "Jane\u202eevil\u200b")
    written = export_report(build_lesson_report(troubled_lesson(), settings), tmp_path / "lesson.json")
    raw = written.read_text(encoding="utf-8")
    assert "\u202e" not in raw and "\u200b" not in raw and "\\u202e" in raw
    assert load_report(written).tutor_label == "Jane\u202eevil\u200b"  # the value itself is kept


@pytest.mark.parametrize("command", [["report", "show"], ["report", "summarize"], ["check", "--report"],
                                     ["history", "--config"]])
def test_a_file_name_longer_than_255_bytes_is_a_message_not_a_traceback(tmp_path, command):
    name = str(tmp_path / ("r" * 300 + ".json"))
    if command[0] == "check":
        code, out, err = run(*command, name, "--quick", "--set", "latency.probes=5", "--stun", "127.0.0.1:9",
                             "--platform", "http://127.0.0.1:9/")
    else:
        code, out, err = run(*command, name)
    assert code in (EXIT_FAILED, EXIT_USAGE) and "Traceback" not in err
    assert "too long" in err, err
