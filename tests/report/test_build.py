"""Gathering a report: each section on its own (a failing one says so in place), the verdicts and
limits of ``assess`` reused as they are, the lesson's window, timeline, programs, advice and guide."""

from __future__ import annotations

import copy
import time

import pytest

from connectcheck.assess import assess_check
from connectcheck.assess.thresholds import default_thresholds
from connectcheck.assess.verdicts import judge_metric
from connectcheck.core.model import ProcessUsage
from connectcheck.report import build_check_report, build_lesson_report
from connectcheck.report.build import SystemInfo, time_zone
from connectcheck.report.html import render_html
from tests.assess.fixtures import weak_wifi
from tests.report.fixtures import steam_check, troubled_lesson

SYSTEM = SystemInfo(
    os_name="Linux", os_version="Debian GNU/Linux 12 (bookworm), kernel 6.1.0", cores=4, python="3.11.2"
)


def test_every_part_of_a_lesson_report_is_gathered(settings):
    report = build_lesson_report(troubled_lesson(), settings)
    assert {name: part.status for name, part in report.parts.items()} == dict.fromkeys(
        (
            "assessment",
            "headline",
            "cause",
            "measurements",
            "timeline",
            "programs",
            "advice",
            "procedure",
            "computer",
        ),
        "ok",
    )


def test_a_section_that_fails_says_so_in_its_place_and_the_rest_comes_out(lab_check, settings):
    broken = copy.deepcopy(lab_check)
    # a program record damaged on its way (a rate that is not a number), as a bad history row could give
    broken.local.processes.append(ProcessUsage(name="odd", down_mbps="fast", rate_source="measured"))  # type: ignore
    broken.assessment = assess_check(lab_check)
    report = build_check_report(broken, settings)
    assert report.parts["programs"].status == "error"
    assert "could not be put together (TypeError" in report.parts["programs"].error
    assert report.programs is None
    assert {n for n, p in report.parts.items() if p.status == "ok"} >= {
        "headline",
        "measurements",
        "computer",
    }
    page = render_html(report)
    programs = page[page.index('<section id="programs">') : page.index('<section id="advice">')]
    assert (
        "This section could not be put together: this part could not be put together (TypeError" in programs
    )
    assert '<section id="measurements">' in page and '<section id="computer">' in page


def test_a_check_without_an_assessment_is_judged_by_assess(lab_check, settings):
    bare = copy.deepcopy(lab_check)
    bare.assessment = None
    report = build_check_report(bare, settings)
    expected = assess_check(lab_check)
    assert [(a.activity, a.state, a.sentence) for a in report.headline.activities] == [
        (v.activity, v.state, v.sentence) for v in expected.verdicts
    ]


def test_measurements_carry_each_activitys_limits_and_states_as_judged(settings):
    result = steam_check()
    report = build_check_report(result, settings, system=SYSTEM)
    rows = {r.metric: r for r in report.measurements.rows}
    assert list(rows) == [
        "download_mbps",
        "upload_mbps",
        "rtt_ms",
        "jitter_ms",
        "loss_pct",
        "rtt_increase_ms",
    ]
    for v in result.assessment.verdicts:
        for m in v.metrics:
            cell = next(c for c in rows[m.metric].limits if c.activity == v.activity)
            assert (cell.state, cell.good, cell.fail) == (m.state, m.good, m.fail)
    assert rows["rtt_increase_ms"].state == "fail" and rows["upload_mbps"].state == "good"
    assert rows["download_mbps"].value == 2.4


def test_the_computer_section(settings):
    result = steam_check(wifi=weak_wifi())
    report = build_check_report(result, settings, system=SYSTEM)
    facts = {f.key: f.value for f in report.computer}
    assert facts["os"] == "Linux (Debian GNU/Linux 12 (bookworm), kernel 6.1.0)"
    assert facts["app_version"] == "0.1.0" and facts["python"] == "3.11.2"
    assert facts["connection_type"] == "Wi-Fi"
    assert facts["wifi_signal"] == "-78 dBm, signal 30 %, link 12 Mbit/s"
    assert facts["cpu"] == "20 % over 4 cores" and facts["memory"] == "55 % in use"
    assert facts["speed_engine"] == "connectcheck's own multi-stream engine, 4 parallel connections"
    assert facts["speed_servers"].startswith(
        "Exeter — Example Broadband (speedtest, speedtest, 14.2 km, 11 ms away)"
    )
    assert facts["check"] == "full check, took 21.7 s, used 61.4 MB of data"
    assert "wifi_network" not in facts  # weak_wifi() has no network name


def test_the_real_system_is_described(lab_check, settings):
    facts = {f.key: f.value for f in build_check_report(lab_check, settings).computer}
    assert facts["os"].startswith("Linux (") and facts["connection_type"]


def test_the_lesson_headline_says_when_what_and_how_it_ended(settings):
    report = build_lesson_report(troubled_lesson(), settings)
    h = report.headline
    assert (report.kind, report.started_at, report.ended_at) == (
        "lesson",
        "2024-10-24T16:00:00+01:00",
        "2024-10-24T16:55:00+01:00",
    )
    assert h.state == "fail" and h.verdict == "The connection failed during the lesson"
    assert h.sentence.startswith("Monitored for 55 min; troubled for 15 min of it. The tutor was alerted")
    sound = h.activities[0]
    assert sound.state == "fail" and sound.fail_s == 275.0 and sound.degraded_s == 620.0
    assert (
        sound.sentence
        == "Sound was failing for 5 min and weak for 10 min (16:12–16:19, 16:35–16:40 and 16:44)."
    )
    assert h.outcome == "The lesson was moved to another time, this once, to Tuesday 29 October 2024."
    assert (
        report.procedure.tried[-1] == "Agreed a one-off replacement lesson on Tuesday 29 October 2024, "
        "as an exception."
    )


def test_a_lesson_without_checks_is_measured_from_its_samples(settings):
    lesson = troubled_lesson(with_checks=False)
    report = build_lesson_report(lesson, settings)
    assert report.parts["advice"].status == "empty"
    assert report.parts["advice"].note == "No check was run during this lesson."
    rows = {r.metric: r for r in report.measurements.rows}
    assert list(rows) == ["rtt_ms", "jitter_ms", "loss_pct"]
    rtts = sorted(s.rtt_ms for s in lesson.samples if s.rtt_ms is not None)
    t = default_thresholds()
    row = rows["rtt_ms"]
    assert row.worst == rtts[int(0.9 * (len(rtts) - 1))]
    for cell in row.limits:
        assert (
            cell.state == judge_metric(t.metrics["rtt_ms"], t.limit(cell.activity, "rtt_ms"), row.value).state
        )


def test_the_timeline_has_the_samples_alerts_limits_and_the_lines_best_speed(settings):
    lesson = troubled_lesson()
    t = build_lesson_report(lesson, settings).timeline
    assert len(t.points) == len(lesson.samples) and len(t.alerts) == len(lesson.alerts)
    assert t.interval_s == 5.0
    lines = {(ln.metric, ln.kind): ln.value for ln in t.lines}
    assert lines[("rtt_ms", "good")] == 100.0 and lines[("jitter_ms", "fail")] == 30.0
    assert lines[("down_mbps", "capacity")] == 19.2  # the calm check, not the one Steam slowed down


def test_rechecks_during_a_lesson_say_what_improved(settings):
    advice = build_lesson_report(troubled_lesson(), settings).advice
    assert advice.improved is True
    assert (
        advice.rechecks[0]
        == "From 16:14 to 16:21: download 2.4 → 19.2 Mbit/s (better) after Steam was closed"
    )


def test_a_lesson_still_being_monitored_ends_at_its_last_sample(settings):
    lesson = troubled_lesson(minutes=5, with_checks=False, with_procedure=False)
    lesson.ended_at = None
    report = build_lesson_report(lesson, settings)
    assert report.ended_at == lesson.samples[-1].at
    assert report.parts["procedure"].note == "The guide for a lesson that cannot go on was not opened."


@pytest.fixture
def london(monkeypatch):
    monkeypatch.setenv("TZ", "Europe/London")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def test_time_zones_are_named_where_this_computer_knows_them(london):
    assert time_zone("2024-10-24T16:00:00+01:00") == "BST (UTC+01:00)"
    assert time_zone("2024-11-28T16:05:00+00:00") == "GMT (UTC+00:00)"
    assert time_zone("2024-11-28T16:05:00+05:30") == "UTC+05:30"
    assert time_zone("2024-11-28T16:05:00") == "local time (no time zone recorded)"


def test_a_report_gives_the_same_one_answer_as_the_window(settings):
    """A check whose sound fails is "Not ready as it is" in red in the report too, with the line that
    goes with it, never "can go ahead with limits"."""
    from tests.assess.fixtures import check

    result = check(rtt_increase_ms=150, upload_mbps=0.5)  # sound and video fail, the whiteboard works
    h = build_check_report(result, settings, system=SYSTEM).headline
    assert h.verdict == ("Not ready as it is: your internet line is unsteady — use a phone for sound "
                         "and turn the cameras off")  # the likely cause named, as in the window
    assert h.state == "fail"
    assert h.sentence.startswith("Sound will not work well over this connection")
    assert "go ahead" not in h.sentence
    video_only = build_check_report(check(upload_mbps=0.2), settings, system=SYSTEM).headline
    assert video_only.verdict == "Ready with the cameras off (your internet line is too slow)"
    assert video_only.state == "degraded"


def test_a_check_report_shows_the_call_stream_and_the_figures_sound_was_judged_on(pki, settings):
    # Every 5th STUN answer comes 200 ms late: the idle probes lose nothing, the call-like stream
    # has 20 % of its packets too late for the jitter buffer; sound is judged on that.
    from connectcheck.check import CheckOptions, run_check
    from connectcheck.core.model import CheckKind
    from tests.lab.endpoints import WebServer
    from tests.lab.stun_server import StunServer

    with StunServer(late_every=5, late_ms=200) as stun, WebServer(cert=pki.cert, key=pki.key) as web:
        result = run_check(CheckOptions(kind=CheckKind.QUICK, stun_servers=[stun.address],
                                        platform_urls=[web.url("/")], ca_file=str(pki.ca_file), icmp=False,
                                        local=False, time_limit_s=3.0))
    assert result.summary.call_loss_pct == 20.0 and result.summary.loss_pct == 0.0
    report = build_check_report(result, settings, system=SYSTEM)
    loss = next(r for r in report.measurements.rows if r.metric == "loss_pct")
    assert loss.value == 0.0
    cells = {c.activity: c for c in loss.limits}
    assert cells["sound"].value == 20.0 and cells["sound"].state == "fail"
    assert cells["video"].value is None and cells["video"].state == "good"
    assert any(n.startswith("Sound is judged on the call-like stream") and "20 % missed" in n
               for n in report.measurements.notes)
    page = render_html(report)
    assert "call-like stream: 20 %; needs ≤ 1" in page
    assert "Call-like stream to" in page  # the details, with the STUN server (its address masked)
