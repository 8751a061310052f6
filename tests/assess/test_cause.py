"""The likely cause, with its evidence: for checks (from the verdicts and the ranked advice of
``assess``) and for monitored lessons (from their samples)."""

from __future__ import annotations

import pytest

from connectcheck.assess import assess_check
from connectcheck.assess.cause import check_cause, lesson_cause
from connectcheck.core.model import LatencyResult
from tests.assess.fixtures import check, local, offline_check, program, weak_wifi
from tests.report.fixtures import calm_check, steam_check, troubled_lesson


def cause_of(result):
    return check_cause(result, result.assessment or assess_check(result))


def quiet():
    return local(processes=[program("Google Chrome", "browser", down=0.3, up=0.1)], unattributed=(0.05, 0.02))


def test_nothing_answered_means_no_connection():
    c = cause_of(offline_check())
    assert c.key == "no_connection" and c.title == "No connection at all"
    assert "Nothing answered" in c.sentence


def test_a_platform_that_does_not_answer_is_named(unreachable_check):
    c = cause_of(unreachable_check)
    assert c.key == "platform_unreachable"
    host = unreachable_check.reachability[0].url.split("://")[1].split("/")[0]
    assert host in c.sentence and "could not be reached" in c.sentence


def test_a_busy_program_is_named_with_its_rate():
    c = cause_of(steam_check())
    assert c.key == "other_program" and c.program == "Steam"
    assert c.sentence == "Steam was using the connection at 18 Mbit/s while the lesson needed it."
    assert c.evidence == [
        "Steam (game launcher) was moving 17.6 Mbit/s down and 0.4 Mbit/s up during the check."
    ]
    assert not any(a.startswith("The home line is too slow") for a in c.also)  # Steam explains the low speed


def test_latency_rising_under_load_while_this_computer_is_quiet_points_at_someone_at_home():
    c = cause_of(check(local=quiet(), rtt_increase_ms=160.0, jitter_ms=22.0))
    assert c.key == "others_at_home" and c.title == "Someone else on the home network"
    assert "160 ms" in c.sentence and "0.47 Mbit/s" in c.sentence


def test_a_queue_during_the_idle_measurement_while_quiet_points_at_someone_at_home():
    r = check(local=quiet(), rtt_ms=70.0, jitter_ms=24.0, rtt_increase_ms=20.0)
    r.summary.latency_target = "stun stun.example.org:3478"
    r.latency = [
        LatencyResult(
            target="stun.example.org:3478",
            method="stun",
            samples_sent=50,
            samples=50,
            rtt_ms_min=21.0,
            rtt_ms_median=70.0,
            rtt_ms_p90=138.0,
            jitter_ms=24.0,
            loss_pct=0.0,
        )
    ]
    c = cause_of(r)
    assert c.key == "others_at_home"
    assert c.evidence == [
        "round trip from 21 ms up to 138 ms (90th percentile) to stun.example.org:3478",
        "this computer moved only 0.47 Mbit/s meanwhile",
    ]


def test_weak_wifi():
    c = cause_of(check(local=local(wifi=weak_wifi(), connection="wifi"), loss_pct=2.5, jitter_ms=18.0))
    assert c.key == "weak_wifi" and "-78 dBm" in c.sentence


def test_an_overloaded_computer():
    c = cause_of(check(local=local(cpu=97.0, memory=93.0), jitter_ms=19.0))
    assert c.key == "computer_overloaded" and "97 %" in c.sentence


def test_a_line_too_slow_for_the_lesson():
    c = cause_of(check(local=quiet(), download_mbps=1.5, upload_mbps=0.4))
    assert c.key == "line_too_slow"
    assert c.evidence == [
        "download 1.5 Mbit/s (video needs at least 3 Mbit/s)",
        "upload 0.4 Mbit/s (video needs at least 2.5 Mbit/s)",
    ]


def test_an_unsteady_line_with_nothing_here_to_blame():
    c = cause_of(check(local=quiet(), loss_pct=4.0))
    assert c.key == "line_unsteady"
    assert c.evidence == ["packet loss 4 % (sound needs at most 1 %)"]


def test_a_network_that_blocks_calls():
    c = cause_of(check(local=quiet(), udp_ok=False))
    assert c.key == "network_blocks_udp"


def test_a_good_check_has_no_fault():
    c = cause_of(calm_check())
    assert c.key == "no_fault" and c.sentence == "Every measurement is within the lesson's limits."


def test_other_factors_come_along_as_also():
    c = cause_of(steam_check(wifi=weak_wifi()))
    assert c.key == "other_program"
    assert any(a.startswith("Weak Wi-Fi — The Wi-Fi signal is weak (-78 dBm, 30 %)") for a in c.also)


# --- lessons ------------------------------------------------------------------------------------------


def test_a_lesson_troubled_by_steam_then_others_then_a_drop():
    lesson = troubled_lesson()
    c = lesson_cause(lesson, None, None)
    assert c.key == "other_program" and c.program == "Steam"
    assert (
        c.sentence.startswith("Steam was using the connection at about 17") and "(16:12–16:19)" in c.sentence
    )
    assert c.evidence == [
        "Steam was the busiest program for 8 min of the trouble",
        "Steam was not busy when the lesson ran smoothly",
    ]
    assert [a.split(" — ")[0] for a in c.also] == ["Someone else on the home network", "No connection at all"]
    assert "(16:35–16:40)" in c.also[0] and "Nothing answered for 60 s during the lesson (16:44)" in c.also[1]


@pytest.mark.parametrize(
    "episodes, key", [(("others",), "others_at_home"), (("drop",), "no_connection"), ((), "no_fault")]
)
def test_a_lesson_with_one_kind_of_trouble(episodes, key):
    lesson = troubled_lesson(episodes=episodes, with_checks=False, with_procedure=False)
    assert lesson_cause(lesson, None, None).key == key


def test_the_browser_carrying_the_lesson_itself_is_not_blamed():
    lesson = troubled_lesson(episodes=("others",), with_checks=False, with_procedure=False)
    assert all(s.top_program == "Google Chrome" for s in lesson.samples if s.top_program)
    c = lesson_cause(lesson, None, None)
    assert c.key == "others_at_home" and c.program is None
    assert c.evidence[1].endswith("Mbit/s when the lesson ran smoothly")


def test_a_check_during_the_lesson_adds_what_samples_cannot_see():
    lesson = troubled_lesson(episodes=("others",), with_procedure=False)
    weak = steam_check(wifi=weak_wifi())
    c = lesson_cause(lesson, weak, weak.assessment)
    assert c.key == "others_at_home"
    assert any(a.startswith("Another program on this computer — Steam") for a in c.also)
    assert any(a.startswith("Weak Wi-Fi") for a in c.also)
