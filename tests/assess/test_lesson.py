"""Judging a monitored lesson: the alert gate, the loss window's bound, and the judgement of light
samples with the words of their alerts."""

from connectcheck.assess.lesson import (
    AlertGate,
    Burst,
    LessonJudge,
    LocalTraffic,
    NamesReading,
    judge_light,
    light_thresholds,
    loss_bound_pct,
)
from connectcheck.assess.thresholds import default_thresholds
from connectcheck.core.model import Connectivity, Summary
from connectcheck.monitor import MonitorOptions

GOOD = {"sound": "good", "video": "good", "whiteboard": "good"}


def feed(gate, pattern, step_s=5.0, activity="sound"):
    """Feed ``pattern`` (one state per sample, ``step_s`` apart); returns the decisions with their time."""
    out = []
    for i, state in enumerate(pattern):
        out += [(d.t_s, d.state, d.previous) for d in gate.update(i * step_s, {activity: state})]
    return out


# --- the alert gate ------------------------------------------------------------------------------


def test_a_worsening_that_lasts_is_told_once_and_its_recovery_once():
    gate = AlertGate(after_s=20, gap_s=120)
    told = feed(gate, ["good"] * 3 + ["fail"] * 12 + ["good"] * 8)
    # fail from t=15: told at t=35 (20 s later), once; good from t=75: told at t=95, once
    assert told == [(35.0, "fail", "good"), (95.0, "good", "fail")]


def test_a_short_dip_is_not_told():
    gate = AlertGate(after_s=20, gap_s=120)
    assert feed(gate, ["good"] * 3 + ["fail"] * 4 + ["good"] * 20) == []  # 15 s of failing


def test_the_level_told_is_the_one_the_whole_run_reached():
    gate = AlertGate(after_s=20, gap_s=60)
    told = feed(gate, ["degraded", "fail", "fail", "degraded", "fail"] + ["fail"] * 20)
    assert told[0] == (20.0, "degraded", "good")  # at least degraded all along, not always failing
    assert told[1] == (80.0, "fail", "degraded")  # the escalation waits for the gap (60 s)
    assert len(told) == 2


def test_a_flapping_state_floods_nothing():
    gate = AlertGate(after_s=20, gap_s=120)
    assert feed(gate, ["good", "fail"] * 200) == []  # every other sample, for 33 minutes
    slow = AlertGate(after_s=20, gap_s=120)
    told = feed(slow, (["fail"] * 6 + ["good"] * 6) * 20)  # 30 s bad, 30 s good, for 20 minutes
    alerts = [t for t in told if t[1] != "good"]
    assert len(alerts) <= 1 + 20 * 60 / 120  # never two alerts within the gap
    times = [t[0] for t in alerts]
    assert all(b - a >= 120 for a, b in zip(times, times[1:], strict=False))
    recoveries = [t for t in told if t[1] == "good"]
    assert len(recoveries) <= len(alerts)  # a recovery only ever follows an alert


def test_a_worsening_within_the_gap_is_told_when_the_gap_ends_if_it_still_lasts():
    gate = AlertGate(after_s=20, gap_s=120)
    pattern = ["fail"] * 5 + ["good"] * 5 + ["fail"] * 40  # alert at 20, better at 45, worse again from 50
    told = feed(gate, pattern)
    assert told == [(20.0, "fail", "good"), (45.0, "good", "fail"), (140.0, "fail", "good")]
    ended = AlertGate(after_s=20, gap_s=120)
    pattern = ["fail"] * 5 + ["good"] * 5 + ["fail"] * 12 + ["good"] * 30  # worse again, but over by 110
    assert feed(ended, pattern) == [(20.0, "fail", "good"), (45.0, "good", "fail")]


def test_unknown_samples_neither_confirm_nor_break_a_run():
    gate = AlertGate(after_s=20, gap_s=120)
    told = feed(gate, ["fail", "unknown", "fail", "unknown", "unknown", "fail"])
    assert told == [(25.0, "fail", "good")]


def test_a_partial_improvement_is_not_told_but_a_new_worsening_is():
    gate = AlertGate(after_s=20, gap_s=30)
    told = feed(gate, ["fail"] * 5 + ["degraded"] * 6 + ["fail"] * 6)
    # told "fail" at 20; "degraded" from 25 is taken as known at 45 (silently); "fail" from 55 told at 75
    assert told == [(20.0, "fail", "good"), (75.0, "fail", "degraded")]


def test_activities_are_debounced_each_on_its_own():
    gate = AlertGate(after_s=10, gap_s=60)
    out = []
    for i in range(6):
        states = {"sound": "fail", "video": "good" if i < 3 else "degraded", "whiteboard": "good"}
        out += [(d.activity, d.state, d.t_s) for d in gate.update(i * 5.0, states)]
    assert out == [("sound", "fail", 10.0), ("video", "degraded", 25.0)]


# --- judging light samples ----------------------------------------------------------------------


def test_loss_is_judged_by_the_least_the_probes_prove():
    assert loss_bound_pct(0, 60) == 0.0
    assert loss_bound_pct(1, 60) < 1.0  # one lost probe in 60: no proof of a lossy line
    assert loss_bound_pct(4, 60) > 3.0  # 6.7 % lost: sound fails
    assert loss_bound_pct(10, 10) > 80.0
    assert loss_bound_pct(0, 0) is None


def judge(bursts, options=None, traffic=None, step_s=5.0):
    judge_ = LessonJudge(options or MonitorOptions())
    out = []
    for i, burst in enumerate(bursts):
        out.append(judge_.judge(i * step_s, "2026-11-29T10:00:00+00:00", burst, traffic or LocalTraffic()))
    return out


def stun_burst(rtts):
    return Burst(list(rtts), method="stun", target="lab:3478", udp_ok=True)


def test_a_good_line_is_good_although_bandwidth_is_not_measured():
    sample, alerts = judge([stun_burst([20.0, 21.0, 19.5, 20.5] * 3)])[-1]
    assert sample.states == GOOD and alerts == []
    assert (sample.rtt_ms, sample.loss_pct, sample.probes, sample.method) == (20.25, 0.0, 12, "stun")


def test_a_long_round_trip_fails_and_the_alert_says_by_how_much_and_who_is_busy():
    slow = [stun_burst([450.0, 460.0, 455.0] * 3)] * 6
    traffic = LocalTraffic(down_mbps=19.0, up_mbps=0.4, top_program="Steam", top_program_mbps=18.2)
    results = judge(slow, MonitorOptions(alert_after_s=20), traffic)
    assert results[0][0].states == {"sound": "fail", "video": "fail", "whiteboard": "degraded"}
    alerts = results[4][1]  # 20 s on
    assert [(a.activity, a.state, a.previous) for a in alerts] == [
        ("sound", "fail", "good"), ("video", "fail", "good"), ("whiteboard", "degraded", "good")]
    sound = alerts[0].message
    assert sound.startswith("Sound will probably break up or drop out: the delay is 455 ms")
    assert "at most 100 ms" in sound and "Steam is moving 18.2 Mbit/s" in sound


def test_one_lost_probe_is_forgiven_and_steady_loss_is_not():
    one_lost = [stun_burst([20.0] * 10)] * 5 + [stun_burst([20.0] * 9 + [None])]
    assert judge(one_lost)[-1][0].states == GOOD
    lossy = [stun_burst([20.0] * 8 + [None, None])] * 6  # 20 % lost, 30 s long
    sample, _ = judge(lossy)[-1]
    assert sample.states == {"sound": "fail", "video": "fail", "whiteboard": "fail"}
    assert sample.loss_pct == 20.0 and sample.window_loss_pct == 20.0


def test_nothing_answering_fails_everything_as_no_connection():
    offline = Burst([None] * 10, method="stun", target="lab:3478", connectivity=Connectivity.OFFLINE,
                    error="no server answered")
    results = judge([offline] * 5, MonitorOptions(alert_after_s=20))
    sample, alerts = results[-1]
    assert set(sample.states.values()) == {"fail"} and sample.error == "no server answered"
    assert "nothing answered: the connection seems to be down" in alerts[0].message


def test_blocked_udp_makes_sound_and_video_degraded_and_a_new_path_starts_a_new_loss_count():
    bursts = [stun_burst([20.0] * 5 + [None] * 5)] * 3
    bursts += [Burst([25.0] * 10, method="tcp", target="https://platform.test/", udp_ok=False)]
    sample, _ = judge(bursts)[-1]
    assert sample.states == {"sound": "degraded", "video": "degraded", "whiteboard": "good"}
    assert sample.window_loss_pct == 0.0  # the STUN losses were another path's


def test_nothing_measured_is_unknown_and_never_alerts():
    nothing = Burst(connectivity=Connectivity.UNKNOWN, error="no server to measure against")
    results = judge([nothing] * 10)
    assert results[-1][0].states == {"sound": "unknown", "video": "unknown", "whiteboard": "unknown"}
    assert all(alerts == [] for _, alerts in results)




def test_the_sample_keeps_the_bursts_own_statistics():
    """The probe's median and jitter are kept as the probe computed them, not computed again."""
    burst = Burst([20.0, 30.0, None, 25.0], method="stun", target="lab:3478", udp_ok=True,
                  rtt_ms=24.0, jitter_ms=7.5)
    sample, _ = judge([burst])[-1]
    assert (sample.rtt_ms, sample.jitter_ms, sample.loss_pct) == (24.0, 7.5, 25.0)
    made = Burst([20.0, 30.0, None, 25.0])  # a burst given only its round trips works them out
    assert (made.rtt_ms, made.jitter_ms) == (25.0, 7.5)


def test_a_light_summary_is_judged_without_a_check_result():
    summary = Summary(rtt_ms=480.0, jitter_ms=2.0, loss_pct=0.0, udp_ok=True)
    verdicts = {v.activity: v.state for v in judge_light(summary, Connectivity.ONLINE,
                                                          light_thresholds(default_thresholds()))}
    assert verdicts["sound"] == "fail"
    offline = judge_light(Summary(), Connectivity.OFFLINE, light_thresholds(default_thresholds()))
    assert {v.state for v in offline} == {"fail"}


def test_platform_names_not_found_fail_every_activity_and_the_alert_says_why():
    names = NamesReading(ok=False, failed=["platform.test"], error="platform.test: the name does not exist")
    judge_ = LessonJudge(MonitorOptions(alert_after_s=10))
    out = [judge_.judge(i * 5.0, "2026-11-29T10:00:00+00:00", stun_burst([20.0] * 10), LocalTraffic(), None,
                        names if i >= 2 else NamesReading(ok=True)) for i in range(6)]
    assert out[1][0].states == GOOD and out[1][0].names_ok is True
    sample = out[2][0]
    assert sample.names_ok is False and set(sample.states.values()) == {"fail"}
    assert sample.rtt_ms == 20.0 and "platform.test: the name does not exist" in (sample.error or "")
    alerts = [a for _, got in out for a in got]
    assert alerts and all("the lesson platform's address could not be looked up" in a.message for a in alerts)
    assert judge([stun_burst([20.0] * 10)])[0][0].names_ok is None  # not looked up: not judged


# --- the line filled with the lesson's own traffic -------------------------------------------------


def fill_lesson(calm, after, *, program=None, program_mbps=None):
    """Six calm samples (20 ms, ``calm`` Mbit/s received), then six with ``after`` = (rtt, Mbit/s)."""
    judge_ = LessonJudge(MonitorOptions(alert_after_s=10))
    out = []
    for i in range(12):
        rtt, down = (20.0, calm) if i < 6 else after
        traffic = LocalTraffic(down_mbps=down, up_mbps=0.8, top_program=program if i >= 6 else None,
                               top_program_mbps=program_mbps if i >= 6 else None)
        out.append(judge_.judge(i * 5.0, "2026-11-29T10:00:00+00:00", stun_burst([rtt] * 10), traffic))
    return out


def test_a_line_full_with_the_lesson_alone_weakens_video_and_the_alert_says_so():
    out = fill_lesson(1.56, (62.0, 1.21))
    assert [s.states["video"] for s, _ in out[:6]] == ["good"] * 6
    after = [s.states for s, _ in out[6:]]
    assert all(states == {**GOOD, "video": "degraded"} for states in after)  # sound and board unhurt
    alerts = [a for _, got in out for a in got]
    assert [a.activity for a in alerts] == ["video"]
    assert "receives 1.2 Mbit/s of the lesson, down from 1.6 Mbit/s" in alerts[0].message
    assert "the line is full" in alerts[0].message


def test_a_full_line_needs_the_fall_the_queue_and_a_lesson_worth_carrying():
    assert all(s.states == GOOD for s, _ in fill_lesson(1.56, (62.0, 1.50)))  # no real fall in the rate
    assert all(s.states == GOOD for s, _ in fill_lesson(1.56, (32.0, 1.21)))  # no standing queue
    assert all(s.states == GOOD for s, _ in fill_lesson(0.2, (62.0, 0.05)))  # no call to carry
    # a program busy here: the download is not the lesson's alone, the rule keeps out of it
    busy = fill_lesson(1.56, (62.0, 1.21), program="steam", program_mbps=5.0)
    assert all(s.states == GOOD for s, _ in busy)
