"""Lesson monitoring: the alert gate, the judgement of light samples, the monitor's thread with
fast fake samplers, and real runs against loopback STUN and TCP servers."""

import socket
import sqlite3
import threading
import time

import pytest

from connectcheck.assess.thresholds import default_thresholds
from connectcheck.config.profile import load_profile
from connectcheck.config.settings import defaults
from connectcheck.core.model import Connectivity, LocalFindings, ProcessUsage, Section, Status
from connectcheck.core.model import InterfaceUsage as Card
from connectcheck.history import History
from connectcheck.monitor import (
    AlertGate,
    Burst,
    LessonJudge,
    LocalTraffic,
    MediaPathProbe,
    Monitor,
    MonitorOptions,
    loss_bound_pct,
    traffic_from,
)
from tests.lab.stun_server import StunServer

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
    assert sound.startswith("Sound will probably break up or drop out: the round trip is 455 ms")
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


def test_traffic_is_read_from_the_default_card_and_the_busiest_program():
    findings = LocalFindings(
        interfaces=[Card("wlan0", "wifi", True, 12.5, 0.8), Card("docker0", "other", False, 300.0, 300.0)],
        processes=[ProcessUsage("steam", app="Steam", down_mbps=11.0, up_mbps=0.2),
                   ProcessUsage("firefox", down_mbps=1.0)],
        sections={"rates": Section(Status.OK)})
    traffic = traffic_from(findings)
    assert (traffic.down_mbps, traffic.up_mbps, traffic.top_program, traffic.top_program_mbps) == \
        (12.5, 0.8, "Steam", 11.2)
    first = traffic_from(LocalFindings(interfaces=[Card("eth0", "ethernet", True)],
                                       sections={"rates": Section(Status.ERROR, "no access to sockets")}))
    assert first.down_mbps is None and first.top_program is None and first.error == "no access to sockets"


def test_options_come_from_the_settings_and_the_profile():
    settings = defaults()
    settings.set("monitor.interval_s", 3.0)
    settings.set("monitor.probes", 12)
    settings.set("monitor.alert_after_s", 30.0)
    settings.set("monitor.alert_gap_s", 300.0)
    settings.set("latency.interval_ms", 25)
    profile = load_profile(settings["organisation.profile"])
    options = MonitorOptions.from_settings(settings, profile)
    assert (options.interval_s, options.probes) == (3.0, 12)
    assert (options.alert_after_s, options.alert_gap_s) == (30.0, 300.0)
    assert options.probe_interval_s == 0.025 and options.probe_timeout_s == 1.0
    assert options.stun_servers[: len(profile.stun_servers)] == list(profile.stun_servers)
    assert options.platform_urls == list(profile.platform_urls)
    assert options.thresholds is not None and options.loss_window_s == 30.0


# --- the monitor, with fast fake samplers --------------------------------------------------------


class Collect:
    def __init__(self):
        self.samples, self.alerts = [], []
        self.more = threading.Event()

    def sample(self, s):
        self.samples.append(s)
        self.more.set()

    def alert(self, a):
        self.alerts.append(a)

    def wait_for(self, n, timeout=10.0):
        end = time.monotonic() + timeout
        while len(self.samples) < n and time.monotonic() < end:
            self.more.wait(0.05)
            self.more.clear()
        assert len(self.samples) >= n, f"only {len(self.samples)} samples came"


class Script:
    """A fake probe that plays a list of bursts, then repeats the last one."""

    def __init__(self, bursts):
        self.bursts = list(bursts)
        self.calls = 0

    def __call__(self, cancel):
        burst = self.bursts[min(self.calls, len(self.bursts) - 1)]
        self.calls += 1
        return burst


class FakeClock:
    """Five seconds of lesson time per sample."""

    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        value = self.now
        self.now += 5.0
        return value


def fast_options(**kw):
    return MonitorOptions(**{"interval_s": 0.02, "alert_after_s": 20, "alert_gap_s": 120, **kw})


def test_start_and_stop_within_a_second_with_the_lesson_kept(tmp_path):
    history = History(tmp_path / "h.sqlite3")
    got = Collect()
    local_calls = []
    monitor = Monitor(options=fast_options(), history=history, on_sample=got.sample, on_alert=got.alert,
                      probe=Script([stun_burst([20.0] * 10)]),
                      local=lambda cancel: local_calls.append(1) or LocalTraffic(down_mbps=1.0, up_mbps=0.2))
    lesson_id = monitor.start("fake lesson")
    assert monitor.running and monitor.lesson_id == lesson_id
    got.wait_for(5)
    started = time.monotonic()
    record = monitor.stop()
    assert time.monotonic() - started < 1.5
    assert not monitor.running
    assert record.id == lesson_id and record.label == "fake lesson" and record.ended_at
    assert len(record.samples) >= 5 and record.samples[0].down_mbps == 1.0 and local_calls
    assert record.samples[0].states == GOOD and record.alerts == []
    assert [s.t_s for s in record.samples] == sorted(s.t_s for s in record.samples)
    assert history.lessons()[0].ended_at is not None
    history.close()


def test_alerts_reach_the_callback_and_the_history_debounced(tmp_path):
    history = History(tmp_path / "h.sqlite3")
    got = Collect()
    bad, good = stun_burst([480.0] * 10), stun_burst([20.0] * 10)
    script = Script([good] * 2 + [bad] * 3 + [good] + [bad] * 8 + [good] * 8)  # a dip, then 40 s bad
    monitor = Monitor(options=fast_options(), history=history, on_sample=got.sample, on_alert=got.alert,
                      probe=script, local=lambda cancel: LocalTraffic(), clock=FakeClock())
    monitor.start()
    got.wait_for(22)
    record = monitor.stop()
    told = [(a.activity, a.state, a.t_s) for a in record.alerts]
    # samples at 5, 10, 15 … s: bad 15-25 (too short), good at 30, bad from 35 to 70, good from 75
    assert told == [("sound", "fail", 55.0), ("video", "fail", 55.0), ("whiteboard", "degraded", 55.0),
                    ("sound", "good", 95.0), ("video", "good", 95.0), ("whiteboard", "good", 95.0)]
    assert [(a.activity, a.state) for a in got.alerts] == [(x[0], x[1]) for x in told]
    assert "should work well again" in record.alerts[3].message
    assert history.lesson(record.id).alerts == record.alerts
    history.close()


def test_callbacks_and_samplers_that_raise_do_not_stop_monitoring(tmp_path, caplog):
    history = History(tmp_path / "h.sqlite3")
    calls = {"sample": 0, "probe": 0}

    def bad_sample(sample):
        calls["sample"] += 1
        raise RuntimeError("the window went away")

    def flaky_probe(cancel):
        calls["probe"] += 1
        if calls["probe"] % 2:
            raise ValueError("a bug in the probe")
        return stun_burst([20.0] * 10)

    def bad_local(cancel):
        raise OSError("no /proc")

    monitor = Monitor(options=fast_options(alert_after_s=0.01), history=history, on_sample=bad_sample,
                      on_alert=lambda a: 1 / 0, probe=flaky_probe, local=bad_local)
    monitor.start()
    end = time.monotonic() + 10
    while calls["sample"] < 10 and time.monotonic() < end:
        time.sleep(0.02)
    assert monitor.running
    record = monitor.stop()
    assert calls["sample"] >= 10 and len(record.samples) >= 10
    failed = [s for s in record.samples if s.probes == 0]
    assert failed and "could not be measured" in failed[0].error
    assert "a bug in the probe" in caplog.text and "the window went away" in caplog.text
    history.close()


def test_without_a_usable_history_monitoring_goes_on(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    history = History(blocker / "h.sqlite3")  # unusable: its folder cannot be made
    got = Collect()
    monitor = Monitor(options=fast_options(), history=history, on_sample=got.sample, on_alert=got.alert,
                      probe=Script([stun_burst([20.0] * 10)]), local=lambda cancel: LocalTraffic())
    assert monitor.start() is None and "cannot be created" in monitor.history_problem
    got.wait_for(3)
    record = monitor.stop()
    assert record.id is None and len(record.samples) >= 3 and record.ended_at
    alone = Monitor(options=fast_options(), history=None, on_sample=got.sample, on_alert=got.alert,
                    probe=Script([stun_burst([20.0] * 10)]), local=lambda cancel: LocalTraffic())
    assert alone.start() is None
    assert alone.stop().ended_at


def test_a_history_held_by_another_writer_loses_samples_but_not_the_lesson(tmp_path):
    path = tmp_path / "h.sqlite3"
    history = History(path, busy_timeout_s=0.05)
    got = Collect()
    monitor = Monitor(options=fast_options(interval_s=0.05), history=history, on_sample=got.sample,
                      on_alert=got.alert, probe=Script([stun_burst([20.0] * 10)]),
                      local=lambda c: LocalTraffic())
    monitor.start()
    got.wait_for(3)
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    got.wait_for(len(got.samples) + 4)
    assert "in use by another program" in monitor.history_problem
    other.execute("ROLLBACK")
    other.close()
    held = len(got.samples)
    got.wait_for(held + 4)
    record = monitor.stop()
    stored = history.lesson(record.id)
    assert record.ended_at and stored.ended_at  # the lesson and its end were kept
    assert 0 < len(stored.samples) < len(got.samples)  # some samples went missing while it was held
    assert stored.samples[-1].t_s > got.samples[held - 1].t_s  # writing resumed afterwards
    history.close()


def test_stop_returns_within_about_a_second_even_when_the_probe_hangs():
    entered = threading.Event()

    def stubborn(cancel):
        entered.set()
        time.sleep(5)  # ignores cancel
        return stun_burst([20.0])

    monitor = Monitor(options=fast_options(), history=None, on_sample=lambda s: None, on_alert=lambda a: None,
                      probe=stubborn, local=lambda c: LocalTraffic())
    monitor.start()
    assert entered.wait(5)
    started = time.monotonic()
    monitor.stop()
    assert time.monotonic() - started < 1.5
    assert not monitor.running


def test_a_second_start_while_running_is_refused_and_a_new_lesson_can_follow(tmp_path):
    history = History(tmp_path / "h.sqlite3")
    got = Collect()
    monitor = Monitor(options=fast_options(), history=history, on_sample=got.sample, on_alert=got.alert,
                      probe=Script([stun_burst([20.0] * 10)]), local=lambda c: LocalTraffic())
    first = monitor.start("one")
    with pytest.raises(RuntimeError, match="already"):
        monitor.start("two")
    got.wait_for(2)
    monitor.stop()
    second = monitor.start("two")
    got.wait_for(len(got.samples) + 2)
    assert monitor.snapshot().label == "two"
    monitor.stop()
    assert second != first and [x.label for x in history.lessons()] == ["two", "one"]
    history.close()


# --- real runs on loopback ------------------------------------------------------------------------


def real_options(**kw):
    return MonitorOptions(**{"interval_s": 0.25, "probes": 5, "probe_interval_s": 0.01,
                             "probe_timeout_s": 0.25, "alert_after_s": 0.6, "alert_gap_s": 60, **kw})


def test_a_real_lesson_against_a_loopback_stun_server(tmp_path):
    history = History(tmp_path / "h.sqlite3")
    got = Collect()
    with StunServer() as good_server, StunServer(drop_every=2) as lossy_server:
        # a generous timeout: a busy test machine must not turn a slow answer into a lost one
        monitor = Monitor(options=real_options(stun_servers=[good_server.address], probe_timeout_s=1.0),
                          history=history, on_sample=got.sample, on_alert=got.alert)
        monitor.start("loopback")
        got.wait_for(6)
        record = monitor.stop()
        assert good_server.requests >= 6 * 5
        for s in record.samples:
            assert (s.method, s.target, s.probes, s.loss_pct) == ("stun", good_server.address, 5, 0.0)
            assert 0 < s.rtt_ms < 100 and s.states == GOOD
        assert record.alerts == []
        assert any(s.down_mbps is not None for s in record.samples)  # this computer's traffic was read

        lossy = Monitor(options=real_options(stun_servers=[lossy_server.address]), history=history,
                        on_sample=got.sample, on_alert=got.alert)
        lossy.start("lossy")
        end = time.monotonic() + 15
        while not got.alerts and time.monotonic() < end:
            time.sleep(0.05)
        record = lossy.stop()
    assert record.samples[-1].window_loss_pct == pytest.approx(50.0, abs=15)
    assert {(a.activity, a.state) for a in record.alerts} >= {("sound", "fail"), ("video", "fail")}
    assert "test packets were lost" in record.alerts[0].message
    assert [x.label for x in history.lessons()] == ["lossy", "loopback"]
    history.close()


@pytest.fixture
def tcp_listener():
    with socket.create_server(("127.0.0.1", 0), backlog=128) as server:
        yield f"http://127.0.0.1:{server.getsockname()[1]}/"


def closed_udp_port():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_when_udp_gets_no_answer_it_falls_back_to_tcp_connects(tcp_listener):
    options = real_options(stun_servers=[f"127.0.0.1:{closed_udp_port()}"], platform_urls=[tcp_listener])
    probe = MediaPathProbe(options)
    assert [t.method for t in probe.candidates()] == ["stun", "tcp"]
    burst = probe(threading.Event())
    assert (burst.method, burst.target, burst.udp_ok) == ("tcp", tcp_listener, False)
    assert all(r is not None for r in burst.rtt_ms_samples) and len(burst.rtt_ms_samples) == 5
    sample, _ = LessonJudge(options).judge(0.0, "now", burst, LocalTraffic())
    assert sample.states == {"sound": "degraded", "video": "degraded", "whiteboard": "good"}


def test_when_the_server_stops_answering_the_target_is_chosen_again(tcp_listener):
    server = StunServer()
    server.__enter__()
    options = real_options(stun_servers=[server.address], platform_urls=[tcp_listener])
    probe = MediaPathProbe(options)
    try:
        assert probe(threading.Event()).method == "stun"
        assert probe(threading.Event()).method == "stun"  # the pinned target, probed alone
    finally:
        server.close()
    burst = probe(threading.Event())  # no answer: all candidates again, and TCP answers
    assert (burst.method, burst.udp_ok) == ("tcp", False)


def test_the_target_is_chosen_again_in_time_so_udp_is_used_again_once_it_answers(tcp_listener):
    port = closed_udp_port()
    options = real_options(stun_servers=[f"127.0.0.1:{port}"], platform_urls=[tcp_listener], reselect_s=0.0)
    probe = MediaPathProbe(options)
    assert probe(threading.Event()).method == "tcp"
    with StunServer(port=port):
        burst = probe(threading.Event())
    assert (burst.method, burst.udp_ok) == ("stun", True)


def test_no_server_answering_is_offline_and_no_server_at_all_is_unknown():
    options = real_options(stun_servers=[f"127.0.0.1:{closed_udp_port()}"])
    burst = MediaPathProbe(options)(threading.Event())
    assert burst.connectivity is Connectivity.OFFLINE and burst.rtt_ms_samples == [None] * 5
    assert burst.error.startswith("no server answered") and "nothing listens" in burst.error
    nothing = MediaPathProbe(real_options())(threading.Event())
    assert nothing.connectivity is Connectivity.UNKNOWN and "no server to measure against" in nothing.error


def test_the_default_thresholds_are_used_when_none_are_given():
    judge_ = LessonJudge(MonitorOptions())
    assert judge_.thresholds is default_thresholds()
