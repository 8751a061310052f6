"""``connectcheck report dashboard`` and ``report summarize --by``: the support desk's groupings,
from real reports of checks and lessons, in a page and in the terminal."""

from __future__ import annotations

import csv
import dataclasses
import io
from datetime import timedelta

import pytest

from connectcheck import cli
from connectcheck.cli.common import EXIT_FAILED, EXIT_OK, EXIT_USAGE
from connectcheck.config.settings import Settings
from connectcheck.report import build_check_report, build_lesson_report, export_report
from connectcheck.report.dashboard import OUTPUT_NAME
from tests.report.fixtures import START, calm_check, steam_check, troubled_lesson


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = cli.main(list(argv), out=out, err=err)
    return code, out.getvalue(), err.getvalue()


@pytest.fixture
def folder(tmp_path):
    """Six tutors' reports with one provider, a lesson, a calm check, a copy and a newer report."""
    base = tmp_path / "mail"
    base.mkdir()
    for i in range(6):
        r = build_check_report(steam_check(START + timedelta(days=i, hours=3)), Settings())
        export_report(
            dataclasses.replace(r, tutor_label=f"Tutor {i}", provider="Big Telecom"), base / f"c{i}.json"
        )
    lesson = build_lesson_report(troubled_lesson(minutes=30), Settings())
    export_report(dataclasses.replace(lesson, tutor_label="=cmd|' /C calc'!A0"), base / "lesson.html")
    export_report(build_check_report(calm_check(), Settings()), base / "calm.html")
    export_report(build_check_report(calm_check(), Settings()), base / "calm.json")  # the same check again
    (base / "newer.json").write_text('{"format": "connectcheck-report", "schema_version": 99}')
    return base


def test_dashboard_writes_the_page_into_the_folder_and_lists_what_it_could_not_read(folder):
    code, out, err = run("report", "dashboard", str(folder))
    assert code == EXIT_OK, err
    page = folder / OUTPUT_NAME
    assert out.strip() == f"Page written to {page} (8 reports, 1 copy counted once, 1 file not read)"
    assert "newer.json was written by a newer connectcheck" in err
    text = page.read_text(encoding="utf-8")
    assert "Big Telecom" in text and 'href="./lesson.html"' in text


def test_dashboard_output_elsewhere_links_back(folder, tmp_path):
    target = tmp_path / "desk" / "page.html"
    target.parent.mkdir()
    code, _, err = run("report", "dashboard", str(folder), "-o", str(target))
    assert code == EXIT_OK, err
    assert 'href="./../mail/lesson.html"' in target.read_text(encoding="utf-8")


def test_dashboard_refuses_what_it_cannot_use(folder, tmp_path):
    code, _, err = run("report", "dashboard", str(tmp_path / "nowhere"))
    assert code == EXIT_USAGE and "there is no file or folder" in err
    code, _, err = run("report", "dashboard", str(folder), "-o", str(tmp_path / "page.txt"))
    assert code == EXIT_USAGE and "does not end in .html" in err
    empty = tmp_path / "empty"
    empty.mkdir()
    code, _, err = run("report", "dashboard", str(empty))
    assert code == EXIT_FAILED and "no report files found" in err


def test_summarize_by_provider_names_one_with_five_tutors(folder):
    code, out, err = run("report", "summarize", str(folder), "--by", "provider", "--csv")
    assert code == EXIT_FAILED  # newer.json could not be read (said on stderr), the rest is there
    assert "newer.json" in err and "8 reports, 1 copy counted once, 1 file not read" in err
    rows = list(csv.DictReader(io.StringIO(out)))
    assert [(r["provider"], r["reports"], r["tutors"]) for r in rows] == [
        ("Big Telecom", "6", "6"),
        ("provider not named", "2", "2"),
    ]


def test_summarize_by_cause_tutor_connection_hour_weekday(folder):
    _, out, _ = run("report", "summarize", str(folder), "--by", "cause", "--csv")
    causes = {r["cause"]: r for r in csv.DictReader(io.StringIO(out))}
    assert causes["Another program on this computer"]["reports"] == "7"  # six Steam checks and the lesson
    _, out, _ = run("report", "summarize", str(folder), "--by", "tutor", "--csv")
    tutors = [r["tutor"] for r in csv.DictReader(io.StringIO(out))]
    assert "'=cmd|' /C calc'!A0" in tutors  # a spreadsheet shows it as text
    _, out, _ = run("report", "summarize", str(folder), "--by", "connection")
    assert out.splitlines()[0].split()[:2] == ["connection", "reports"] and "Ethernet" in out
    _, out, _ = run("report", "summarize", str(folder), "--by", "hour", "--csv")
    hours = {r["hour"]: r for r in csv.DictReader(io.StringIO(out))}
    assert int(hours["16:00–17:00"]["minutes with trouble"]) > 0 and hours["19:00–20:00"]["checks"] == "6"
    _, out, _ = run("report", "summarize", str(folder), "--by", "weekday", "--csv")
    days = [r["weekday"] for r in csv.DictReader(io.StringIO(out))]
    assert days[0] == "Monday" and "Thursday" in days


def test_summarize_by_refuses_an_unknown_grouping(folder):
    with pytest.raises(SystemExit) as exit_:  # argparse's own usage message and status
        run("report", "summarize", str(folder), "--by", "colour")
    assert exit_.value.code == EXIT_USAGE
