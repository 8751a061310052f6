"""Latency probes against real servers the tests start: STUN/UDP, TCP connect, HTTP(S), ICMP.

The loopback tests check the bookkeeping exactly (what the server dropped is what the probe
counts as lost).  The ``lab`` tests measure an emulated link and compare with its settings.
"""

import functools
import socket
import statistics
import sys
import threading
import time

import pytest

from connectcheck.core.model import Status
from connectcheck.probes import dns, latency
from connectcheck.probes.latency import (
    LatencySampler,
    LatencyTarget,
    measure_latency,
    split_host_port,
)
from tests.lab.endpoints import BlackHole, SlowServer, WebServer, dead_port, make_pki
from tests.lab.stun_server import StunServer


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    return make_pki(tmp_path_factory.mktemp("pki"))


stun_target = functools.partial(LatencyTarget.from_host_port, "stun")


def measure(targets, count=20, interval_s=0.01, timeout_s=0.5, time_limit_s=5.0, cancel=None, **kw):
    return measure_latency(targets, count=count, interval_s=interval_s, timeout_s=timeout_s,
                           time_limit_s=time_limit_s, cancel=cancel or threading.Event(), **kw)


def has_ipv6_loopback():
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as sock:
            sock.bind(("::1", 0))
    except OSError:
        return False
    return True


# ---------------------------------------------------------------------------------------
# targets


@pytest.mark.parametrize("spec, host, port", [
    ("stun.example.org:3478", "stun.example.org", 3478),
    ("stun:stun.example.org:19302", "stun.example.org", 19302),
    ("stun.example.org", "stun.example.org", 3478),
    ("[2001:db8::1]:3479", "2001:db8::1", 3479),
])
def test_stun_targets_are_read_from_what_users_write(spec, host, port):
    target = stun_target(spec)
    assert (target.method, target.host, target.port, target.name) == ("stun", host, port, spec)


def test_url_targets_take_the_scheme_default_port():
    tcp = LatencyTarget.from_url("tcp", "https://lessons.example.org/app")
    assert (tcp.method, tcp.host, tcp.port, tcp.url) == ("tcp", "lessons.example.org", 443, None)
    http = LatencyTarget.from_url("http", "http://[::1]:8080/x")
    assert (http.host, http.port, http.url) == ("::1", 8080, "http://[::1]:8080/x")
    ping = LatencyTarget.from_url("icmp", "wss://board.example.org/live")
    assert (ping.host, ping.port, ping.name) == ("board.example.org", 0, "board.example.org")


def test_other_targets_and_their_names():
    assert LatencyTarget.from_host_port("tcp", "speed.example.org:8080").port == 8080
    assert LatencyTarget.from_host_port("icmp", "[2001:db8::5]").host == "2001:db8::5"
    assert LatencyTarget("icmp", "192.0.2.9").name == "192.0.2.9"
    assert LatencyTarget("tcp", "::1", 443).name == "[::1]:443"
    with pytest.raises(ValueError):
        LatencyTarget.from_host_port("tcp", "speed.example.org")  # no port, no default


@pytest.mark.parametrize("bad", ["host:0", "host:99999", "host:port", ":3478", "[::1"])
def test_malformed_host_port_is_refused(bad):
    with pytest.raises(ValueError):
        split_host_port(bad, 3478)


def test_bad_targets_are_refused():
    with pytest.raises(ValueError):
        LatencyTarget("carrier-pigeon", "x")
    with pytest.raises(ValueError):
        LatencyTarget("http", "x")  # no url
    with pytest.raises(ValueError):
        LatencyTarget.from_url("tcp", "ftp://files.example.org/")


# ---------------------------------------------------------------------------------------
# STUN over UDP on loopback


def test_stun_round_trips_against_a_responder():
    with StunServer() as server:
        [result] = measure([stun_target(server.address)])
    assert result.status is Status.OK, result.error
    assert (result.samples_sent, result.samples, result.loss_pct) == (20, 20, 0.0)
    assert server.requests == 20
    assert result.address == "127.0.0.1"
    assert 0 < result.rtt_ms_min <= result.rtt_ms_median <= result.rtt_ms_p90 < 500
    assert result.jitter_ms is not None and len(result.rtt_ms_samples) == 20


@pytest.mark.skipif(not has_ipv6_loopback(), reason="this machine has no IPv6 loopback")
def test_stun_over_ipv6():
    with StunServer("::1") as server:
        [result] = measure([stun_target(server.address)], count=5)
    assert result.status is Status.OK, result.error
    assert result.samples == 5 and result.address == "::1"


def test_dropped_requests_are_counted_as_lost_and_kept_out_of_the_rtt():
    with StunServer(drop_every=4) as server:
        [result] = measure([stun_target(server.address)], count=40, timeout_s=0.2)
    assert server.dropped == 10
    assert result.samples_sent == 40 and result.samples == 30
    assert result.loss_pct == 25.0
    assert [i for i, rtt in enumerate(result.rtt_ms_samples) if rtt is None] == [3, 7, 11, 15, 19, 23, 27,
                                                                                  31, 35, 39]
    assert result.rtt_ms_p90 < 200  # a lost probe's waiting time never counts as a round trip
    assert result.status is Status.OK


def test_late_answers_count_as_lost_even_when_they_arrive():
    # Every third answer comes 150 ms late against a 100 ms timeout, while probing goes on.
    with StunServer(late_every=3, late_ms=150) as server:
        [result] = measure([stun_target(server.address)], count=30, interval_s=0.02,
                           timeout_s=0.1)
    assert server.late == 10
    assert result.samples == 20 and result.loss_pct == pytest.approx(100 / 3)
    assert all(rtt < 100 for rtt in result.rtt_ms_samples if rtt is not None)


def test_duplicates_and_strangers_are_ignored():
    with StunServer(duplicate=True, stranger=True) as server:
        [result] = measure([stun_target(server.address)], count=20)
    assert result.status is Status.OK
    assert (result.samples_sent, result.samples) == (20, 20)
    assert len(result.rtt_ms_samples) == 20


def test_a_closed_udp_port_is_reported_plainly():
    port = dead_port()
    [result] = measure([stun_target(f"127.0.0.1:{port}")], count=5, timeout_s=0.3)
    assert result.status is Status.ERROR
    assert result.loss_pct == 100.0 and result.samples == 0
    assert f"nothing listens on UDP port {port}" in result.error


def test_silence_is_a_timeout_within_the_bound():
    with BlackHole() as hole:
        start = time.monotonic()
        [result] = measure([stun_target(f"127.0.0.1:{hole.udp_port}")], count=5,
                           timeout_s=0.3, time_limit_s=2.0)
    assert time.monotonic() - start < 2.0
    assert result.status is Status.TIMEOUT
    assert result.error == "no answer to any of the 5 probes (each was given 0.3 s)"
    assert result.rtt_ms_median is None


def test_the_time_limit_cuts_a_long_run_and_keeps_what_was_measured():
    with StunServer() as server:
        start = time.monotonic()
        [result] = measure([stun_target(server.address)], count=10_000, interval_s=0.01,
                           time_limit_s=0.6)
        elapsed = time.monotonic() - start
    assert 0.6 <= elapsed < 0.6 + 0.5
    assert result.status is Status.TIMEOUT
    assert "time limit ran out after" in result.error
    assert 10 < result.samples_sent < 10_000 and result.rtt_ms_median is not None
    assert result.loss_pct == 0.0  # probes still in flight at the end are left out, not lost


def test_cancel_stops_every_target_within_a_second():
    cancel = threading.Event()
    with StunServer() as server, BlackHole() as hole:
        threading.Timer(0.3, cancel.set).start()
        start = time.monotonic()
        results = measure([stun_target(server.address),
                           LatencyTarget.from_url("tcp", f"http://127.0.0.1:{hole.port}/")],
                          count=10_000, time_limit_s=30.0, cancel=cancel)
    assert time.monotonic() - start < 0.3 + 1.0
    assert [r.status for r in results] == [Status.CANCELLED, Status.CANCELLED]
    assert results[0].samples > 0


def test_targets_run_at_once_and_come_back_in_order():
    with StunServer() as first, StunServer() as second:
        start = time.monotonic()
        results = measure([stun_target(first.address), stun_target(second.address)],
                          count=30, interval_s=0.02)
        elapsed = time.monotonic() - start
    assert [r.target for r in results] == [first.address, second.address]
    assert all(r.samples == 30 for r in results)
    assert elapsed < 2 * 30 * 0.02  # concurrently, not one after the other


def test_progress_goes_from_zero_to_one():
    reports = []
    with StunServer() as server:
        measure([stun_target(server.address)], count=30, interval_s=0.01,
                progress=reports.append)
    fractions = [r.fraction for r in reports]
    assert fractions[0] == 0.0 and fractions[-1] == 1.0
    assert fractions == sorted(fractions)
    assert {r.phase for r in reports} == {"latency"}


def test_an_unknown_name_fails_cleanly(monkeypatch):
    # A real lookup that fails without asking any name server: numeric hosts only.
    numeric_only = functools.partial(socket.getaddrinfo, flags=socket.AI_NUMERICHOST)
    monkeypatch.setattr(latency, "resolve", functools.partial(dns.resolve, resolver=numeric_only))
    with StunServer() as server:
        results = measure([stun_target("stun.example.org:3478"),
                           stun_target(server.address)], count=3)
    assert results[0].status is Status.ERROR
    assert results[0].error == ("could not look up stun.example.org: "
                                "the name could not be found (DNS has no address for it)")
    assert results[0].samples_sent == 0
    assert results[1].status is Status.OK


# ---------------------------------------------------------------------------------------
# TCP connect and HTTP


def test_tcp_connect_times_the_handshake(pki):
    with WebServer() as server:
        [result] = measure([LatencyTarget.from_url("tcp", server.url())], count=10)
    assert result.status is Status.OK, result.error
    assert result.samples == 10 and result.rtt_ms_median < 100


def test_tcp_connect_to_a_closed_port_is_refused():
    port = dead_port()
    [result] = measure([LatencyTarget("tcp", "127.0.0.1", port)], count=3)
    assert result.status is Status.ERROR
    assert result.error == f"the server refused the connection (nothing is listening on port {port})"


def test_tcp_connect_into_a_black_hole_times_out_in_bound():
    with BlackHole() as hole:
        start = time.monotonic()
        [result] = measure([LatencyTarget("tcp", "127.0.0.1", hole.port)], count=3, timeout_s=0.3,
                           time_limit_s=1.5)
    assert time.monotonic() - start < 1.5 + 0.5
    assert result.status is Status.TIMEOUT and result.loss_pct == 100.0


def test_http_round_trips_reuse_one_verified_connection(pki):
    with WebServer(cert=pki.cert, key=pki.key) as server:
        [result] = measure([LatencyTarget.from_url("http", server.url())], count=15, interval_s=0.02,
                           ca_file=str(pki.ca_file))
        connections = server.connections
    assert result.status is Status.OK, result.error
    assert result.samples == 15
    assert connections == 1  # keep-alive: connecting is not part of the round trip


def test_http_reconnects_when_the_server_closes_each_time():
    with WebServer() as server:
        [result] = measure([LatencyTarget.from_url("http", server.url("/close"))], count=5, interval_s=0.02)
        connections = server.connections
    assert result.status is Status.OK, result.error
    assert result.samples == 5 and connections == 5


def test_http_with_an_untrusted_certificate_fails_with_the_reason(pki):
    with WebServer(cert=pki.other_ca_cert, key=pki.other_ca_key) as server:
        [result] = measure([LatencyTarget.from_url("http", server.url())], count=3, ca_file=str(pki.ca_file))
    assert result.status is Status.ERROR
    assert "not signed by an authority this computer trusts" in result.error


def test_http_to_a_server_that_never_answers_is_bounded():
    with SlowServer() as slow:
        start = time.monotonic()
        [result] = measure([LatencyTarget.from_url("http", f"http://127.0.0.1:{slow.port}/")], count=50,
                           timeout_s=0.3, time_limit_s=1.2)
    assert time.monotonic() - start < 1.2 + 0.5
    assert result.status is Status.TIMEOUT and result.samples == 0


# ---------------------------------------------------------------------------------------
# ICMP (works or says it is unavailable)


def test_icmp_measures_or_says_it_is_unavailable():
    [result] = measure([LatencyTarget.from_host_port("icmp", "127.0.0.1")], count=5)
    if result.status is Status.UNAVAILABLE:
        assert "allows ping only with administrator rights" in result.error
        assert result.samples_sent == 0
    else:
        assert result.status is Status.OK, result.error
        assert result.samples == 5


# ---------------------------------------------------------------------------------------
# the continuous sampler


def test_sampler_samples_until_stopped():
    with StunServer(drop_every=5) as server:
        sampler = LatencySampler(stun_target(server.address), interval_s=0.02, timeout_s=0.2)
        sampler.start()
        time.sleep(0.5)
        running = sampler.samples()
        start = time.monotonic()
        samples = sampler.stop()
        stopped_in = time.monotonic() - start
    assert len(running) > 5
    assert samples[: len(running)] == running
    assert stopped_in < 0.2 + 0.5
    sent_times = [t for t, _ in samples]
    assert sent_times == sorted(sent_times)
    assert abs(sent_times[-1] - sent_times[0] - 0.02 * (len(samples) - 1)) < 0.1
    lost = sum(rtt is None for _, rtt in samples)
    assert lost == server.dropped or lost == server.dropped - 1  # the last drop may still be in flight
    assert sampler.bytes_used >= len(samples) * (20 + 28)
    assert sampler.error is None and sampler.address == "127.0.0.1"


def test_sampler_stopped_before_it_started_has_nothing():
    sampler = LatencySampler(LatencyTarget("stun", "127.0.0.1", 9), interval_s=0.1, timeout_s=0.1)
    assert sampler.stop() == [] and sampler.bytes_used == 0


def test_sampler_by_tcp_connect(pki):
    with WebServer() as server:
        sampler = LatencySampler(LatencyTarget.from_url("tcp", server.url()), interval_s=0.02, timeout_s=0.5)
        sampler.start()
        time.sleep(0.3)
        samples = sampler.stop()
    answered = [rtt for _, rtt in samples if rtt is not None]
    assert len(answered) >= 5 and statistics.median(answered) < 100


# ---------------------------------------------------------------------------------------
# over the emulated link (root and network namespaces)


@pytest.mark.lab
def test_stun_over_an_emulated_link_measures_what_was_configured():
    """40 ms RTT, 10 ms jitter, 3 % loss; 400 probes.

    Tolerances are looser than the benchmark targets (RTT ±10 % or ±3 ms, jitter ±5 ms, loss
    ±1 point): RTT ±15 % or ±4 ms, jitter ±6 ms, and loss within 3 binomial standard deviations
    (±2.6 points at 400 probes), since iptables drops at random and the test must not flake.
    """
    from tests.lab.netlab import LinkSpec, NetLab, require_lab

    require_lab(loss=True, delay=True)
    spec = LinkSpec(rtt_ms=40, jitter_ms=10, loss_pct=3, seed=7)
    with NetLab(spec) as lab:
        lab.spawn([sys.executable, "-m", "tests.lab.stun_server", "--host", lab.server_ip, "--port", "3478"])
        lab.wait_port(3478, "udp")
        [result] = measure_latency([stun_target(f"{lab.server_ip}:3478")], count=400,
                                   interval_s=0.015, timeout_s=1.0, time_limit_s=15.0,
                                   cancel=threading.Event())
    assert result.status is Status.OK, result.error
    expected_rtt = spec.expected_rtt_ms()
    assert abs(result.rtt_ms_median - expected_rtt) <= max(0.15 * expected_rtt, 4.0), result.rtt_ms_median
    assert abs(result.jitter_ms - spec.expected_jitter_ms()) <= 6.0, result.jitter_ms
    sd_pct = 100 * (0.03 * 0.97 / 400) ** 0.5
    assert abs(result.loss_pct - 3.0) <= 3 * sd_pct, result.loss_pct



# ---------------------------------------------------------------------------------------
# idle latency one probe at a time (issue 13: on an order-keeping line, probes in parallel
# queue behind each other's delay spikes)


def test_probe_schedule_puts_the_primary_first_and_most_often():
    order = latency.probe_schedule(4, 20)
    assert order[:2] == [0, 0]
    assert order.count(0) == 20
    assert all(order.count(i) == 5 for i in (1, 2, 3))
    # Cut anywhere, most probes went to the primary and every other target came in turn.
    head = order[:9]
    assert head.count(0) == 6 and sorted(head[2::3]) == [1, 2, 3]
    assert latency.probe_schedule(1, 5) == [0] * 5
    assert latency.probe_schedule(3, 2) == [0, 0, 1, 2, 1, 2, 1, 2]  # others: at least 3 each
    assert latency.probe_schedule(0, 10) == [] and latency.probe_schedule(2, 0) == []


class _RecordingStun(StunServer):
    """A STUN server that logs when requests arrive and answers leave, in a log shared by
    several servers, and that answers every request ``delay_ms`` late."""

    def __init__(self, log, lock, delay_ms, drop_every=0):
        super().__init__(late_every=1, late_ms=delay_ms, drop_every=drop_every)
        self.log, self.lock = log, lock

    def _handle(self, data, address):
        dropped = self.dropped
        super()._handle(data, address)
        with self.lock:
            self.log.append((time.monotonic(), "lost" if self.dropped > dropped else "request"))

    def _send(self, packet, address):
        with self.lock:
            self.log.append((time.monotonic(), "answer"))
        super()._send(packet, address)


def test_one_at_a_time_never_has_two_probes_in_flight_across_targets():
    log, lock = [], threading.Lock()
    with _RecordingStun(log, lock, 15) as first, _RecordingStun(log, lock, 15, drop_every=4) as second:
        results = latency.measure_latency_one_at_a_time(
            [stun_target(first.address), stun_target(second.address)], count=12, timeout_s=0.3,
            time_limit_s=5.0, cancel=threading.Event())
    in_flight = 0
    for _, event in sorted(log):
        if event == "request":
            assert in_flight == 0, "a probe left before the previous one settled"
            in_flight = 1
        elif event == "answer":
            in_flight -= 1
    primary, other = results
    assert primary.status is Status.OK and other.status is Status.OK
    assert primary.samples == 12 and primary.loss_pct == 0.0
    assert other.samples_sent == 3 and other.samples == 3 - second.dropped
    assert all(r >= 15 for r in primary.rtt_ms_samples)


def test_one_at_a_time_gives_up_on_a_dead_target_and_keeps_to_its_time_limit():
    with StunServer() as live, BlackHole() as hole:
        started = time.monotonic()
        results = latency.measure_latency_one_at_a_time(
            [stun_target(f"127.0.0.1:{hole.udp_port}"), stun_target(live.address)], count=50,
            timeout_s=0.2, time_limit_s=1.5, cancel=threading.Event())
        took = time.monotonic() - started
    assert took < 1.5 + 0.3
    dead, alive = results
    assert dead.samples == 0 and dead.samples_sent == latency.GIVE_UP_AFTER
    assert dead.status in (Status.TIMEOUT, Status.ERROR) and dead.error
    assert alive.samples >= 3 and alive.status is Status.OK


def test_one_at_a_time_takes_its_time_out_from_a_round_trip_measured_before():
    # A server that drops every request: with a round trip of 20 ms known (the call-like
    # stream's), a probe is given max(0.3 s, 3 × 20 ms) instead of the whole second, so more
    # probes fit the same time; the primary's own answers would set it once there are enough.
    with StunServer(drop_every=1) as dead:
        def probes(hint):
            return latency.measure_latency_one_at_a_time(
                [stun_target(dead.address)], count=50, timeout_s=1.0, time_limit_s=1.2,
                cancel=threading.Event(), expected_rtt_ms=hint)[0].samples_sent
        assert probes(None) == 1  # the second would settle only after the time limit
        assert probes(20.0) == latency.GIVE_UP_AFTER  # 0.3 s each, until the target is given up
