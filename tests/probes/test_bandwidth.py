"""Our bandwidth engine against the lab speed server on 127.0.0.1 (and over the emulated link)."""

import http.client
import shutil
import socket
import threading
import time

import pytest

from connectcheck.core.model import SpeedServer, Status
from connectcheck.probes import bandwidth
from connectcheck.probes.bandwidth import (
    MIB,
    SPEEDTEST_IMAGE_BYTES,
    WINDOW_S,
    HttpStatusError,
    StalledError,
    describe_error,
    download_size,
    measure_bandwidth,
    request_path,
    steady_rate,
    upload_size,
)
from tests.lab.speed_server import LabSpeedServer, make_tls_files

PROTOCOLS = ("librespeed", "cloudflare", "speedtest")
DIRECTIONS = ("download", "upload")


def lab_server(srv: LabSpeedServer, protocol: str) -> SpeedServer:
    url = {"librespeed": srv.librespeed_url, "cloudflare": srv.cloudflare_url,
           "speedtest": srv.speedtest_upload_url}[protocol]
    return SpeedServer(source="custom", protocol=protocol, url=url, host=srv.host)


def measure(server, direction, *, time_limit_s=2.0, data_limit_bytes=300_000_000, streams=4, **kw):
    kw.setdefault("cancel", threading.Event())
    return measure_bandwidth(server, direction, streams=streams, time_limit_s=time_limit_s,
                             data_limit_bytes=data_limit_bytes, **kw)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(predicate, timeout_s=2.0):
    end = time.monotonic() + timeout_s
    while not predicate() and time.monotonic() < end:
        time.sleep(0.02)
    return predicate()


# --- the rate arithmetic ------------------------------------------------------------------


def series(rates_bytes_per_window):
    times, totals = [0.0], [0]
    for r in rates_bytes_per_window:
        times.append(times[-1] + WINDOW_S)
        totals.append(totals[-1] + r)
    return times, totals


def test_steady_rate_leaves_out_a_ramp_longer_than_the_minimum():
    times, totals = series([1000, 2000, 4000, 6000] + [10_000] * 12)
    est = steady_rate(times, totals, first_data=0, min_start=0)
    assert est.start == 2  # the next second reaches 70 % of the last second's rate
    assert not est.stable  # the first half still holds the end of the ramp
    times, totals = series([1000, 2000, 4000, 6000] + [10_000] * 40)
    est = steady_rate(times, totals, first_data=0, min_start=0)
    assert est.stable
    assert est.bits_per_s == pytest.approx(8 * (4000 + 6000 + 40 * 10_000) / (42 * WINDOW_S))


def test_steady_rate_does_not_start_right_after_a_dip():
    # a lost packet holds bytes back (2000), they arrive with the next window (18000):
    # starting after the dip would read 7 % too much
    times, totals = series([10_000] * 2 + [2000, 18_000] + [10_000] * 10)
    est = steady_rate(times, totals, first_data=0, min_start=2)
    assert est.start == 2
    assert est.bits_per_s == pytest.approx(8 * 10_000 / WINDOW_S)
    assert est.stable


def test_steady_rate_keeps_a_dip_with_its_catch_up():
    # adding a stream often costs a loss just where the minimum ramp-up ends
    times, totals = series([19_000] * 4 + [8000, 30_000] + [19_000] * 10)
    est = steady_rate(times, totals, first_data=0, min_start=5)
    assert est.start == 4
    assert est.bits_per_s == pytest.approx(8 * 19_000 / WINDOW_S)


def test_steady_rate_is_not_stable_while_the_rate_still_climbs():
    times, totals = series([1000 * (i + 1) for i in range(15)])
    assert not steady_rate(times, totals, first_data=0, min_start=2).stable


def test_steady_rate_is_not_stable_when_the_halves_disagree():
    times, totals = series([10_000] * 6 + [13_000] * 6)
    est = steady_rate(times, totals, first_data=0, min_start=0)
    assert not est.stable


def test_steady_rate_after_a_burst_starts_at_the_minimum_ramp():
    # a tbf bucket lets the first windows through faster than the rate
    times, totals = series([30_000, 20_000] + [10_000] * 10)
    est = steady_rate(times, totals, first_data=0, min_start=2)
    assert est.start == 2
    assert est.bits_per_s == pytest.approx(8 * 10_000 / WINDOW_S)


def test_steady_rate_of_a_transfer_shorter_than_the_ramp_is_rough_and_never_stable():
    times, totals = series([0, 5000, 7000])
    est = steady_rate(times, totals, first_data=1, min_start=4)
    assert (est.start, est.end, est.stable) == (1, 3, False)
    assert steady_rate(*series([0]), first_data=1, min_start=4) is None


# --- protocols ----------------------------------------------------------------------------


def test_request_paths_follow_each_protocol():
    libre = SpeedServer("org", "librespeed", "https://speed.example.org/backend")
    cloud = SpeedServer("cloudflare", "cloudflare", "https://speed.example.net")
    st = SpeedServer("speedtest", "speedtest", "http://st.example.net:8080/speedtest/upload.php")
    assert request_path(libre, "download", 3 * MIB).startswith("/backend/garbage.php?ckSize=3&r=")
    assert request_path(libre, "upload").startswith("/backend/empty.php?r=")
    assert request_path(cloud, "download", 5000).startswith("/__down?bytes=5000&r=")
    assert request_path(cloud, "upload").startswith("/__up?r=")
    assert request_path(st, "download", SPEEDTEST_IMAGE_BYTES[1500]).startswith(
        "/speedtest/random1500x1500.jpg?x=")
    assert request_path(st, "upload").startswith("/speedtest/upload.php?x=")
    assert request_path(st, "ping").startswith("/speedtest/latency.txt?x=")
    assert request_path(libre, "ping") != request_path(libre, "ping")  # cache busting


def test_download_sizes_are_what_each_protocol_can_serve_within_what_is_left():
    assert download_size("librespeed", 5 * MIB + 7, 100 * MIB) == 5 * MIB
    assert download_size("librespeed", 10, 100 * MIB) == MIB
    assert download_size("librespeed", 5 * MIB, MIB - 1) == 0
    assert download_size("speedtest", 3_000_000, 100 * MIB) == SPEEDTEST_IMAGE_BYTES[1000]
    assert download_size("speedtest", 10 * MIB, 600_000) == SPEEDTEST_IMAGE_BYTES[500]
    assert download_size("speedtest", 1, 200_000) == 0
    assert download_size("cloudflare", 123_456, 100_000) == 100_000
    assert upload_size(10, 1 * MIB) == bandwidth.MIN_REQUEST_BYTES
    assert upload_size(10 * MIB, 1000) == 0


def test_errors_are_described_in_plain_words():
    assert "HTTP 403" in describe_error(HttpStatusError(403, "Forbidden"))
    assert "busy" in describe_error(HttpStatusError(429, "Too Many Requests"))
    assert describe_error(TimeoutError(), timeout_s=3, stage="connect").startswith(
        "the server did not answer within 3 s")
    assert "did not answer within 3 s" in describe_error(TimeoutError(), timeout_s=3, stage="http")
    assert "stopped exchanging data for 3 s" in describe_error(StalledError(), timeout_s=3)
    assert describe_error(ConnectionRefusedError(), stage="connect", port=80) == (
        "the server refused the connection (nothing is listening on port 80)")
    assert "ended an answer before the length it announced" in describe_error(
        http.client.IncompleteRead(b"", 10))
    assert "in the middle of the test" in describe_error(http.client.RemoteDisconnected())
    assert "not valid HTTP" in describe_error(http.client.BadStatusLine("garbage"))


@pytest.mark.parametrize("protocol", PROTOCOLS)
@pytest.mark.parametrize("direction", DIRECTIONS)
def test_measures_every_protocol_in_both_directions(protocol, direction):
    with LabSpeedServer(throttle_mbps=250) as srv:
        result = measure(lab_server(srv, protocol), direction, time_limit_s=1.2)
        assert result.status is Status.OK, result.error
        assert result.engine == "adaptive" and result.server.protocol == protocol
        assert result.rate_mbps > 0
        assert result.stop_reason in ("stable", "data cap", "time cap")
        assert 0 < result.bytes_transferred <= 300_000_000
        assert result.window_s == WINDOW_S and len(result.window_mbps) == 6
        assert 0 <= result.ramp_up_s < result.duration_s <= 1.7
        assert 1 <= result.streams <= 4
        # never more than the server saw: it sent (download) or its TCP stack received (upload;
        # the stream's reset throws away what the server had not read yet) at least that
        server_side = (lambda: srv.stats.bytes_sent) if direction == "download" else (
            lambda: srv.stats.wire_received)
        assert wait_for(lambda: server_side() >= result.bytes_transferred)


@pytest.mark.parametrize("chunked", [True, False])
def test_downloads_with_chunked_or_content_length_answers_over_keep_alive(chunked):
    with LabSpeedServer(chunked=chunked, throttle_mbps=200) as srv:
        result = measure(lab_server(srv, "librespeed"), "download", streams=2, time_limit_s=1.5)
        assert result.status is Status.OK, result.error
        # several requests per connection: keep-alive worked
        assert srv.stats.requests["garbage.php"] > result.streams
        assert srv.stats.requests.get("garbage.php", 0) >= 2


@pytest.mark.parametrize("direction", DIRECTIONS)
def test_a_known_rate_is_measured_accurately(direction):
    # The server paces each transfer to 40 Mbit/s; one stream must read 40 Mbit/s.
    with LabSpeedServer(throttle_mbps=40) as srv:
        result = measure(lab_server(srv, "cloudflare"), direction, streams=1, time_limit_s=4)
        assert result.status is Status.OK, result.error
        assert result.rate_mbps == pytest.approx(40, rel=0.05)
        assert result.stop_reason == "stable"
        assert result.ramp_up_s >= bandwidth.MIN_RAMP_S


def test_adds_streams_when_the_link_is_fast():
    with LabSpeedServer(throttle_mbps=40) as srv:
        result = measure(lab_server(srv, "cloudflare"), "download", streams=6, time_limit_s=3)
        assert result.streams == 6
        assert result.rate_mbps == pytest.approx(240, rel=0.1)


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command to make a lab CA")
def test_over_tls_with_the_lab_ca(tmp_path):
    tls = make_tls_files(tmp_path)
    with LabSpeedServer(tls=(tls.cert_file, tls.key_file)) as srv:
        server = lab_server(srv, "librespeed")
        ok = measure(server, "download", ca_file=tls.ca_file, time_limit_s=1.5)
        assert ok.status is Status.OK, ok.error
        untrusted = measure(server, "download", time_limit_s=1.5)
        assert untrusted.status is Status.ERROR
        assert untrusted.error.startswith("the certificate is not signed by an authority")
        wrong_name = SpeedServer("custom", "librespeed", server.url.replace("127.0.0.1", "localhost"))
        mismatch = measure(wrong_name, "upload", ca_file=tls.ca_file, time_limit_s=1.5)
        assert mismatch.error.startswith("the certificate is not valid for this name")


# --- failures, caps and cancel ------------------------------------------------------------


@pytest.mark.parametrize("code", ["403", "429"])
@pytest.mark.parametrize("direction", DIRECTIONS)
def test_refusals_give_a_clean_error(code, direction):
    path = "garbage.php" if direction == "download" else "empty.php"
    with LabSpeedServer(faults={path: code}) as srv:
        result = measure(lab_server(srv, "librespeed"), direction)
        assert result.status is Status.ERROR
        assert f"HTTP {code}" in result.error
        assert result.stop_reason == "server error"
        assert result.rate_mbps is None
        # the lab reads an upload before refusing it: those bytes crossed and are counted
        assert result.bytes_transferred == (0 if direction == "download" else srv.stats.bytes_received)
        assert result.duration_s < 1.0


def test_a_refused_connection_gives_a_clean_error():
    port = free_port()
    result = measure(SpeedServer("custom", "cloudflare", f"http://127.0.0.1:{port}"), "download")
    assert result.status is Status.ERROR
    assert result.error == f"the server refused the connection (nothing is listening on port {port})"


def test_a_server_that_never_answers_is_left_within_the_time_bound():
    with LabSpeedServer(faults={"__down": "stall"}) as srv:
        started = time.monotonic()
        result = measure(lab_server(srv, "cloudflare"), "download", time_limit_s=2.0)
        assert time.monotonic() - started < 2.5
        assert result.status in (Status.TIMEOUT, Status.ERROR)
        assert result.bytes_transferred == 0
        assert "no data within 2 s" in result.error or "did not answer" in result.error


def test_a_server_that_stalls_mid_transfer_keeps_the_partial_data():
    with LabSpeedServer(faults={"__down": "stall-body"}) as srv:
        started = time.monotonic()
        result = measure(lab_server(srv, "cloudflare"), "download", time_limit_s=4.0)
        assert time.monotonic() - started < 4.5
        assert result.bytes_transferred > 0  # the first 16 KiB of each stream
        assert "stopped exchanging data" in result.error
        assert result.rate_mbps is None and result.status is Status.ERROR  # not "0 Mbit/s"


def test_time_cap_is_respected():
    with LabSpeedServer(throttle_mbps=20) as srv:
        started = time.monotonic()
        # 1 s is too short to call anything stable (ramp + 8 windows)
        result = measure(lab_server(srv, "cloudflare"), "upload", time_limit_s=1.0)
        assert time.monotonic() - started < 1.5
        assert result.stop_reason == "time cap" and result.status is Status.OK


@pytest.mark.parametrize("direction", DIRECTIONS)
def test_data_cap_is_never_exceeded(direction):
    cap = 12_000_000
    with LabSpeedServer() as srv:
        result = measure(lab_server(srv, "librespeed"), direction, data_limit_bytes=cap)
        assert result.stop_reason == "data cap"
        assert result.bytes_transferred <= cap
        # every request is reserved against the cap before it is sent: the server moved no more
        time.sleep(0.2)
        assert max(srv.stats.bytes_sent, srv.stats.bytes_received) <= cap + 1000


def test_nothing_left_of_the_data_cap():
    with LabSpeedServer() as srv:
        result = measure(lab_server(srv, "librespeed"), "download", data_limit_bytes=1000)
        assert result.status is Status.ERROR and result.stop_reason == "data cap"
        assert result.error == "too little of the data cap was left for this test"
        assert srv.stats.requests == {}


def test_cancel_stops_within_a_second():
    with LabSpeedServer(throttle_mbps=5) as srv:
        cancel = threading.Event()
        out = {}
        worker = threading.Thread(target=lambda: out.setdefault("r", measure(
            lab_server(srv, "speedtest"), "download", time_limit_s=20, cancel=cancel)))
        worker.start()
        time.sleep(0.7)
        cancel.set()
        cancelled_at = time.monotonic()
        worker.join(3)
        assert time.monotonic() - cancelled_at < 1.0
        assert out["r"].status is Status.CANCELLED and out["r"].stop_reason == "cancelled"
        assert out["r"].bytes_transferred > 0  # partial data kept


# --- over the emulated link ---------------------------------------------------------------


@pytest.mark.lab
def test_measures_a_shaped_link_within_its_ceiling():
    """10 Mbit/s down, 2 Mbit/s up, 20 ms RTT: within ±15 % of the TCP goodput ceiling
    (the benchmark's target is ±10 %; the test is looser for a busy 2-core machine)."""
    import sys

    from tests.lab.netlab import LinkSpec, NetLab, require_lab

    require_lab(delay=True)
    spec = LinkSpec(down_mbit=10, up_mbit=2, rtt_ms=20)
    with NetLab(spec) as lab:
        lab.spawn([sys.executable, "-m", "tests.lab.speed_server", "--host", lab.server_ip, "--port", "8080"])
        lab.wait_port(8080)
        server = SpeedServer("custom", "librespeed", f"http://{lab.server_ip}:8080/backend")
        for direction in DIRECTIONS:
            result = measure(server, direction, time_limit_s=6.0)
            ceiling = spec.goodput_ceiling_mbps(direction)
            assert result.status is Status.OK, result.error
            assert result.rate_mbps == pytest.approx(ceiling, rel=0.15), result.window_mbps
            assert result.duration_s <= 6.5


# ---------------------------------------------------------------------------------------
# streams added while the rate grows (issue 13: a lossy line holds each stream back)


class _FakeStream:
    finished = False
    error = None
    connect_s = 0.02

    def counted(self):
        return 0


def _simulate_growth(rate_of_streams, max_streams, windows=40, time_limit_s=60):
    """Drive a controller's stream decisions with a synthetic rate that depends only on the
    number of streams; return the stream count per window and the controller."""
    from types import SimpleNamespace

    from connectcheck.core.tasks import Deadline

    job = SimpleNamespace(budget=SimpleNamespace(exhausted=False), request_bytes=0, deadline=Deadline(60),
                          direction="download")
    ctl = bandwidth._Controller(job, max_streams, None, time_limit_s)
    ctl._add_stream = lambda: ctl.streams.append(_FakeStream())
    for _ in range(bandwidth.START_STREAMS):
        ctl._add_stream()
    ctl.first_data = 0
    counts = []
    for n in range(1, windows + 1):
        bytes_per_window = rate_of_streams(len(ctl.streams)) * 1e6 / 8 * bandwidth.WINDOW_S
        ctl.times.append(n * bandwidth.WINDOW_S)
        ctl.totals.append(int(ctl.totals[-1] + bytes_per_window))
        ctl._adapt()
        counts.append(len(ctl.streams))
    return counts, ctl


def test_streams_double_while_the_rate_grows_with_them_and_stop_when_it_does_not():
    # Each stream gets 0.4 Mbit/s (loss-limited), the line carries 2.5: 2 → 4 → 8 grow the rate,
    # 8 → 16 does not, so no stream is added after that.
    counts, ctl = _simulate_growth(lambda k: min(0.4 * k, 2.5), max_streams=16)
    assert counts[0] == 2 and max(counts) == 16
    steps = sorted(set(counts))
    assert steps == [2, 4, 8, 16]
    assert counts[-1] == 16 and counts[counts.index(16):] == [16] * len(counts[counts.index(16):])
    assert ctl.growth_done and "stopped growing" in ctl.streams_reason and "8 → 16" in ctl.streams_reason


def test_streams_stop_at_the_limit_while_the_rate_still_grows():
    counts, ctl = _simulate_growth(lambda k: 0.4 * k, max_streams=6)
    assert max(counts) == 6 and ctl.growth_done
    assert "most allowed" in ctl.streams_reason


def test_no_streams_are_added_when_too_little_time_is_left_to_measure_them():
    # The rate would grow up to 16 streams, but in a 2.4 s test the doubling due at 1.8 s would
    # leave 0.6 s, less than two windows and MIN_STEADY_AFTER_GROWTH_S: it keeps the 8 it has.
    counts, ctl = _simulate_growth(lambda k: 0.4 * k, max_streams=16, windows=12, time_limit_s=2.4)
    assert sorted(set(counts)) == [2, 4, 8]
    assert ctl.growth_done and ctl.streams_reason == "too little time was left to try more than 8 streams"


def test_a_saturated_line_gets_one_doubling_and_no_more():
    counts, ctl = _simulate_growth(lambda k: 2.0, max_streams=16)
    assert sorted(set(counts)) == [2, 4]
    assert "stopped growing" in ctl.streams_reason and "2 → 4" in ctl.streams_reason


def test_stable_is_not_declared_while_streams_may_still_be_added():
    _, ctl = _simulate_growth(lambda k: 2.0, max_streams=16)
    assert ctl._stop_reason() == "stable"
    ctl.growth_done = False  # as while the rate still grew with the last streams added
    assert ctl._stop_reason() is None


def test_the_stream_count_grows_against_a_server_that_paces_every_stream():
    # Each transfer paced to 20 Mbit/s: every stream added adds rate, up to the most allowed.
    with LabSpeedServer(throttle_mbps=20) as srv:
        result = measure(lab_server(srv, "librespeed"), "download", streams=8, time_limit_s=4.0)
    assert result.status is Status.OK, result.error
    assert result.streams == 8 and "most allowed" in result.streams_reason
    assert result.rate_mbps > 4 * 20


def test_an_aborted_stream_throws_away_what_it_had_queued_to_send():
    # A plain close would have the system send every queued byte first (after an upload on a
    # slow line that kept the line full for seconds after the check); an abort resets instead.
    import socket

    with socket.create_server(("127.0.0.1", 0)) as server:
        client = socket.create_connection(server.getsockname())
        peer, _ = server.accept()
        with peer:
            client.setblocking(False)
            queued = 0
            try:
                while True:
                    queued += client.send(b"x" * 65536)
            except BlockingIOError:
                pass  # the buffers are full: the peer has not read anything yet
            bandwidth.abort_socket(client)
            client.close()
            got = 0
            with pytest.raises(ConnectionResetError):
                while chunk := peer.recv(1 << 20):
                    got += len(chunk)
            assert got < queued


def test_a_measurement_can_start_with_more_streams():
    with LabSpeedServer(throttle_mbps=20) as srv:
        result = measure(lab_server(srv, "librespeed"), "download", streams=8, time_limit_s=1.0,
                         start_streams=6)
        assert result.status is Status.OK, result.error
        assert result.streams >= 6
        assert srv.stats.requests["garbage.php"] >= 6
        plain = measure(lab_server(srv, "librespeed"), "download", streams=8, time_limit_s=1.0)
        assert plain.status is Status.OK and plain.streams <= 4  # two, doubled once in a second
# --- hostile servers: nothing they send moves more than the cap or becomes a verdict on the line ----


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_a_server_answering_every_request_with_10_mib_stays_within_the_data_cap(protocol):
    cap = 20_000_000
    path = {"librespeed": "garbage.php", "cloudflare": "__down", "speedtest": "random"}[protocol]
    with LabSpeedServer() as srv:
        srv.faults[path if protocol != "speedtest" else "/random"] = "oversize"
        srv.faults.update({f"random{n}x{n}.jpg": "oversize" for n in SPEEDTEST_IMAGE_BYTES})
        result = measure(lab_server(srv, protocol), "download", data_limit_bytes=cap, time_limit_s=3.0)
        time.sleep(0.3)
        assert result.bytes_transferred <= cap
        assert srv.stats.bytes_sent <= cap  # what the server got onto the wire, buffers included
        assert result.status is Status.ERROR and result.rate_mbps is None
        assert "announced 10,485,760 bytes for a request of" in result.error


@pytest.mark.parametrize("protocol", ["librespeed", "cloudflare"])
def test_an_endless_chunked_body_stays_within_the_data_cap_and_is_no_rate(protocol):
    cap = 20_000_000
    with LabSpeedServer(chunked=True) as srv:
        srv.faults["garbage.php" if protocol == "librespeed" else "__down"] = "endless"
        result = measure(lab_server(srv, protocol), "download", data_limit_bytes=cap, time_limit_s=3.0)
        time.sleep(0.3)
        assert result.bytes_transferred <= cap and srv.stats.bytes_sent <= cap
        assert result.status is Status.ERROR and result.rate_mbps is None
        assert "sent more than the" in result.error


def test_a_server_that_stalls_after_a_few_megabytes_could_not_be_measured_it_is_not_0_mbps():
    with LabSpeedServer() as srv:
        srv.faults["__down"] = "stall-after"
        result = measure(lab_server(srv, "cloudflare"), "download", time_limit_s=6.0)
        assert result.rate_mbps is None and result.status is Status.ERROR
        assert result.error.startswith("could not be measured: ")
        assert "stopped" in result.error
        assert result.stop_reason == "server error"


def test_a_server_that_would_stall_only_after_the_rate_is_stable_gives_that_rate():
    import tests.lab.speed_server as lab

    old, lab.STALL_AFTER_BYTES = lab.STALL_AFTER_BYTES, 80 * MIB  # about 3.4 s at 200 Mbit/s
    try:
        with LabSpeedServer(throttle_mbps=200) as srv:
            srv.faults["__down"] = "stall-after"
            result = measure(lab_server(srv, "cloudflare"), "download", time_limit_s=6.0, streams=1)
    finally:
        lab.STALL_AFTER_BYTES = old
    assert result.status is Status.OK and result.stop_reason == "stable" and not result.error
    assert 170 < result.rate_mbps < 215


@pytest.mark.parametrize("fault", ["long-length", "short-length"])
def test_a_wrong_content_length_could_not_be_measured_it_is_not_a_slow_line(fault):
    with LabSpeedServer() as srv:
        srv.faults["__down"] = fault
        result = measure(lab_server(srv, "cloudflare"), "download", time_limit_s=5.0)
        assert result.rate_mbps is None and result.status is Status.ERROR, result
        words = {"long-length": "announced", "short-length": "not valid HTTP"}[fault]
        assert words in result.error


def test_a_speedtest_image_a_little_larger_than_known_is_read_within_the_cap():
    server_sizes = dict(SPEEDTEST_IMAGE_BYTES)
    import tests.lab.speed_server as lab
    bigger = {side: int(n * 1.03) for side, n in server_sizes.items()}
    old = dict(lab.SPEEDTEST_IMAGE_BYTES)
    lab.SPEEDTEST_IMAGE_BYTES.clear()
    lab.SPEEDTEST_IMAGE_BYTES.update(bigger)
    try:
        with LabSpeedServer() as srv:
            cap = 30_000_000
            result = measure(lab_server(srv, "speedtest"), "download", data_limit_bytes=cap)
            time.sleep(0.2)
    finally:
        lab.SPEEDTEST_IMAGE_BYTES.clear()
        lab.SPEEDTEST_IMAGE_BYTES.update(old)
    assert result.status is Status.OK and result.rate_mbps and not result.error
    assert result.bytes_transferred <= cap and srv.stats.bytes_sent <= cap
