"""speedtest-cli's own transfer (the classic engine), pointed at the lab's speedtest.net emulation."""

import threading
import time

import pytest

from connectcheck.core.model import SpeedServer, Status
from connectcheck.probes.bandwidth import SPEEDTEST_IMAGE_BYTES
from connectcheck.probes.classic import measure_classic
from connectcheck.probes.servers import make_speedtest
from tests.lab.speed_server import LabSpeedServer


def run(srv, direction, *, time_limit_s=10.0, data_limit_bytes=500_000_000, cancel=None, server=None):
    cancel = cancel or threading.Event()
    client = make_speedtest(cancel, base_url=srv.speedtest_base_url)
    server = server or SpeedServer("speedtest", "speedtest", srv.speedtest_upload_url, name="Lab")
    return measure_classic(server, direction, client=client, time_limit_s=time_limit_s,
                           data_limit_bytes=data_limit_bytes, cancel=cancel)


@pytest.mark.parametrize("direction", ["download", "upload"])
def test_speedtest_cli_measures_the_lab_server(direction):
    with LabSpeedServer(throttle_mbps=200) as srv:
        result = run(srv, direction, data_limit_bytes=60_000_000)
        assert result.status is Status.OK, result.error
        assert result.engine == "classic" and result.ramp_up_s == 0.0 and result.window_s is None
        assert result.rate_mbps > 0 and result.bytes_transferred > 0
        assert result.stop_reason == "finished"
        # its own requests reached the lab: images for the download, upload.php for the upload
        names = srv.stats.requests
        if direction == "download":
            assert names.get("random350x350.jpg", 0) == 4  # threadsperurl in the configuration
            assert result.bytes_transferred <= srv.stats.bytes_sent
        else:
            assert names.get("upload.php", 0) >= 2
        assert names["latency.txt"] == 3  # its get_best_server on the server we gave it


def test_the_data_cap_trims_speedtest_clis_plan():
    with LabSpeedServer() as srv:
        cap = 10_000_000
        result = run(srv, "download", data_limit_bytes=cap)
        assert result.status is Status.OK
        assert result.bytes_transferred <= cap
        # speedtest-cli fetches 4 of each size, smallest first: the largest sizes were left out
        fitting, total = set(), 0
        for side, size in sorted(SPEEDTEST_IMAGE_BYTES.items()):
            total += 4 * size
            if total <= cap:
                fitting.add(f"random{side}x{side}.jpg")
        assert {n for n in srv.stats.requests if n.startswith("random")} == fitting


def test_upload_plan_is_trimmed_to_the_cap():
    with LabSpeedServer() as srv:
        result = run(srv, "upload", data_limit_bytes=3_000_000)
        assert result.status is Status.OK
        assert 0 < result.bytes_transferred <= 3_000_000
        assert srv.stats.bytes_received <= 3_000_000


def test_time_cap_stops_speedtest_cli():
    with LabSpeedServer(throttle_mbps=20, speedtest_test_s=10) as srv:
        started = time.monotonic()
        result = run(srv, "download", time_limit_s=2.0)
        assert time.monotonic() - started < 2.6
        assert result.stop_reason == "time cap"
        assert result.status is Status.OK and result.bytes_transferred > 0


def test_cancel_stops_speedtest_cli_within_a_second():
    with LabSpeedServer(throttle_mbps=20) as srv:
        cancel = threading.Event()
        out = {}
        worker = threading.Thread(target=lambda: out.setdefault("r", run(srv, "upload", cancel=cancel)))
        worker.start()
        time.sleep(1.0)
        cancel.set()
        cancelled_at = time.monotonic()
        worker.join(3)
        assert time.monotonic() - cancelled_at < 1.0
        assert out["r"].status is Status.CANCELLED


def test_only_speedtest_servers():
    with LabSpeedServer() as srv:
        result = run(srv, "download", server=SpeedServer("org", "librespeed", srv.librespeed_url))
        assert result.status is Status.ERROR and "only works with speedtest.net" in result.error
