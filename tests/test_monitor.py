"""Lesson monitoring: the options, the monitor's thread with fast fake samplers, and real runs
against loopback STUN and TCP servers (the judging itself: tests/assess/test_lesson.py)."""

import functools
import socket
import sqlite3
import threading
import time

import pytest

from connectcheck.assess.lesson import LessonJudge, LocalTraffic, NamesReading
from connectcheck.assess.thresholds import default_thresholds
from connectcheck.config.profile import load_profile
from connectcheck.config.settings import defaults
from connectcheck.core.model import Connectivity, LocalFindings, ProcessUsage, Section, Status
from connectcheck.core.model import InterfaceUsage as Card
from connectcheck.history import History
from connectcheck.monitor import (
    HomeWatch,
    MediaPathProbe,
    Monitor,
    MonitorOptions,
    NameWatch,
    platform_names,
    traffic_from,
)
from connectcheck.probes import igd
from connectcheck.probes.dns import resolve_hosts
from connectcheck.probes.firsthop import UNKNOWN_TEXT, HopPorts
from tests.assess.test_lesson import stun_burst
from tests.lab.endpoints import BlackHole
from tests.lab.gateway import DnsResponder
from tests.lab.igd_server import Counters, IgdServer, wan_counters
from tests.lab.stun_server import StunServer

GOOD = {"sound": "good", "video": "good", "whiteboard": "good"}


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


def test_a_history_held_by_another_writer_loses_no_sample_they_are_written_once_it_is_free(tmp_path):
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
    assert [s.t_s for s in stored.samples] == [s.t_s for s in got.samples]  # every one, in order
    assert stored.samples[-1].t_s > got.samples[held - 1].t_s  # writing resumed afterwards
    assert monitor.history_problem is None and monitor.unwritten == 0 and monitor.lost == 0
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


# --- the home router beside each burst (real services on 127.0.0.1) ---------------------------------


def test_the_home_router_is_left_alone_unless_the_settings_ask():
    assert MonitorOptions().home_router == "off"
    assert MonitorOptions.from_settings(defaults(), None).home_router == "off"  # tests/conftest.py
    got = Collect()
    monitor = Monitor(options=fast_options(), history=None, on_sample=got.sample, on_alert=got.alert,
                      probe=Script([stun_burst([10.0] * 10)]), local=None)
    monitor.start()
    got.wait_for(3)
    monitor.stop()
    assert all(s.hop_probes == 0 and s.hop_rtt_ms is None and s.others_mbps is None for s in got.samples)


def test_the_router_is_probed_beside_each_burst_by_the_way_it_answers(tmp_path):
    history = History(tmp_path / "h.sqlite3")
    got = Collect()
    with DnsResponder() as dns, StunServer() as stun:
        options = real_options(stun_servers=[stun.address], probe_timeout_s=1.0, home_router="127.0.0.1",
                               icmp=False, router_ports=HopPorts(dns=dns.port, tcp=()))
        monitor = Monitor(options=options, history=history, on_sample=got.sample, on_alert=got.alert)
        monitor.start("router")
        got.wait_for(4)
        record = monitor.stop()
    for s in record.samples:
        assert (s.hop_method, s.hop_probes, s.hop_loss_pct) == ("dns", 5, 0.0)
        assert 0 < s.hop_rtt_ms < 50 and s.hop_jitter_ms is not None
        assert s.others_mbps is None  # its counters were not asked for
    assert record.samples[0].hop_rtt_ms == history.lesson(record.id).samples[0].hop_rtt_ms  # kept
    history.close()


def test_a_router_that_answers_nothing_is_not_measured_and_delays_no_sample():
    with BlackHole() as hole:
        options = real_options(home_router="127.0.0.1", icmp=False, reselect_s=60.0,
                               router_ports=HopPorts(dns=hole.udp_port, tcp=(hole.port,)))
        watch = HomeWatch(options)
        first = watch(threading.Event())
        assert first.rtt_ms_samples == [] and first.error == UNKNOWN_TEXT
        started = time.monotonic()
        again = watch(threading.Event())  # not looked for again before reselect_s
        assert again.rtt_ms_samples == [] and time.monotonic() - started < 0.05


def test_other_devices_rate_comes_from_the_routers_counters_less_this_computers_own():
    with DnsResponder() as dns, IgdServer(Counters(wan_counters("lo"), "honest", 10**12, 10**12)) as router:
        options = real_options(home_router="127.0.0.1", icmp=False, router_counters=True,
                               router_ports=HopPorts(dns=dns.port, tcp=()), igd_location=router.location)
        watch = HomeWatch(options)
        first = watch(threading.Event())
        assert first.household_mbps is None  # one reading: no rate yet
        mover = threading.Thread(target=_loopback_traffic, args=(0.5,), daemon=True)
        mover.start()
        second = watch(threading.Event())
        mover.join()
    assert second.household_mbps is not None and second.household_mbps > 10  # loopback counts both ways
    assert set(router.calls) <= igd.READ_ONLY_ACTIONS
    judge = LessonJudge(options)
    sample, _ = judge.judge(0.0, "2026-12-03T16:00:00+00:00", stun_burst([10.0] * 5),
                            LocalTraffic(down_mbps=3.0, up_mbps=1.0), second)
    assert sample.others_mbps == pytest.approx(second.household_mbps - 4.0, abs=0.01)
    assert sample.hop_method == "dns" and sample.hop_probes == 5


def _loopback_traffic(seconds):
    server = socket.create_server(("127.0.0.1", 0))
    with socket.create_connection(server.getsockname()) as client:
        conn, _ = server.accept()
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            client.sendall(b"x" * 65536)
            conn.recv(1 << 20)
        conn.close()
    server.close()


def test_samples_measured_while_the_disk_is_full_are_written_once_there_is_room(tmp_path):
    import os
    import subprocess

    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    disk = tmp_path / "disk"
    disk.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(disk)], check=True)
    try:
        history = History(disk / "h.sqlite3")
        got = Collect()
        monitor = Monitor(options=fast_options(interval_s=0.05), history=history, on_sample=got.sample,
                          on_alert=got.alert, probe=Script([stun_burst([20.0] * 10)]),
                          local=lambda c: LocalTraffic())
        monitor.start("a full disk")
        got.wait_for(3)
        fd = os.open(disk / "filler", os.O_WRONLY | os.O_CREAT)  # the disk fills up (another program)
        try:
            while os.write(fd, b"\0" * 65536):
                pass
        except OSError:
            pass
        finally:
            os.close(fd)
        assert _eventually(lambda: monitor.unwritten >= 5)
        assert "disk is full" in monitor.history_problem
        os.unlink(disk / "filler")  # room again
        measured = len(got.samples)
        got.wait_for(measured + 3)
        record = monitor.stop()
        stored = history.lesson(record.id)
        assert [s.t_s for s in stored.samples] == [s.t_s for s in monitor.snapshot().samples]
        assert stored.ended_at and monitor.unwritten == 0 and monitor.history_problem is None
        history.close()
    finally:
        subprocess.run(["umount", "-l", str(disk)], check=False)


def _eventually(predicate, timeout_s=10.0):
    end = time.monotonic() + timeout_s
    while not predicate() and time.monotonic() < end:
        time.sleep(0.02)
    return predicate()


def test_the_platforms_names_are_those_of_its_addresses_that_are_not_numbers():
    urls = ["https://lessons.example/", "wss://lessons.example/ws", "https://127.0.0.1:8443/",
            "https://[::1]/", "stun:stun.example:3478", "https://[broken/"]
    assert platform_names(urls) == ["lessons.example", "stun.example"]


def test_the_names_are_looked_up_through_the_real_resolver(tmp_path):
    watch = NameWatch(MonitorOptions(platform_urls=["http://localhost:8080/"]))
    reading = watch(threading.Event())
    assert (reading.ok, reading.failed, reading.error) == (True, [], None)
    assert NameWatch(MonitorOptions(platform_urls=["https://127.0.0.1/"]))(threading.Event()).ok is None


def test_names_are_looked_up_again_every_half_minute_and_every_sample_while_one_fails(monkeypatch):
    filtered, asked = set(), []

    def resolver(host, port, *args, **kw):  # the system's resolver, as a filter on it answers
        asked.append(host)
        if host in filtered:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("192.0.2.7", 0))]

    now = [1000.0]
    monkeypatch.setattr("connectcheck.monitor.time.monotonic", lambda: now[0])
    watch = NameWatch(MonitorOptions(platform_urls=["https://lessons.example/"], names_every_s=30.0),
                      lookup=functools.partial(resolve_hosts, resolver=resolver))
    cancel = threading.Event()
    assert watch(cancel).ok is True and asked == ["lessons.example"]
    now[0] += 5.0
    filtered.add("lessons.example")
    assert watch(cancel).ok is True and len(asked) == 1  # the last lookup stands for half a minute
    now[0] += 25.0
    reading = watch(cancel)
    assert reading.ok is False and reading.failed == ["lessons.example"] and len(asked) == 2
    assert reading.error and reading.error.startswith("lessons.example: ")
    now[0] += 5.0
    assert watch(cancel).ok is False and len(asked) == 3  # while it fails: at every sample
    filtered.clear()
    now[0] += 5.0
    assert watch(cancel).ok is True and len(asked) == 4


def test_a_lesson_whose_platform_name_stops_resolving_fails_every_activity(tmp_path):
    got = Collect()
    gone = NamesReading(ok=False, failed=["p"], error="p: not found")
    answers = iter([NamesReading(ok=True)] * 3 + [gone] * 100)
    monitor = Monitor(options=fast_options(), history=None, on_sample=got.sample, on_alert=got.alert,
                      probe=Script([stun_burst([20.0] * 10)]), local=None,
                      names=lambda cancel: next(answers))
    monitor.start()
    got.wait_for(6)
    record = monitor.stop()
    assert [s.names_ok for s in record.samples[:4]] == [True, True, True, False]
    assert record.samples[0].states == GOOD and set(record.samples[3].states.values()) == {"fail"}
