"""The façade the check calls: server choice with fallback, both directions, data split, cancel."""

import socket
import threading
import time

import pytest

from connectcheck.config.settings import defaults
from connectcheck.core.model import Status
from connectcheck.probes.speed import FIRST_DIRECTION_SHARE, SpeedConfig, SpeedSession
from tests.lab.speed_server import LabSpeedServer


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def config(srv, **kw) -> SpeedConfig:
    kw.setdefault("cloudflare_url", srv.cloudflare_url)
    kw.setdefault("speedtest_base_url", srv.speedtest_base_url)
    kw.setdefault("time_limit_s", 2.0)
    return SpeedConfig(**kw)


def session(cfg, cancel=None) -> SpeedSession:
    return SpeedSession(cfg, cancel=cancel or threading.Event())


def test_auto_uses_the_organisation_server_first():
    with LabSpeedServer(throttle_mbps=100) as srv:
        s = session(config(srv, org_server_url=srv.librespeed_url, time_limit_s=1.2))
        section = s.choose_server(5)
        assert section.status is Status.OK and section.error is None
        assert s.server.source == "org" and s.server.protocol == "librespeed"
        down = s.measure("download")
        up = s.measure("upload")
        assert down.status is Status.OK and up.status is Status.OK
        assert down.server.source == "org" and down.engine == "adaptive"
        assert s.bytes_used >= down.bytes_transferred + up.bytes_transferred
        assert len(s.tried) == 1


def test_auto_falls_back_from_a_refusing_org_server_to_speedtest():
    with LabSpeedServer(faults={"empty.php": "403"}) as srv:
        s = session(config(srv, org_server_url=srv.librespeed_url))
        assert s.choose_server(5).status is Status.OK
        assert s.server.source == "speedtest"
        assert "HTTP 403" in s.tried[0] and s.tried[0].startswith("organisation server")
        assert s.tried[1].startswith("speedtest.net: chose Lab Exeter")


def test_auto_falls_back_to_cloudflare_when_the_others_fail():
    with LabSpeedServer(faults={"speedtest-config.php": "429"}) as srv:
        s = session(config(srv, org_server_url=f"http://127.0.0.1:{free_port()}/backend"))
        assert s.choose_server(5).status is Status.OK
        assert s.server.source == "cloudflare"
        assert "refused the connection" in s.tried[0]
        assert "HTTP 429" in s.tried[1]


def test_no_server_at_all_is_a_clean_error():
    dead = f"http://127.0.0.1:{free_port()}"
    with LabSpeedServer(faults={"speedtest-config.php": "403"}) as srv:
        s = session(config(srv, cloudflare_url=dead))
        section = s.choose_server(5)
        assert section.status is Status.ERROR
        assert section.error.startswith("no speed server could be used")
        assert [line.split(" (")[0].split(":")[0] for line in s.tried] == [
            "organisation server", "speedtest.net", "Cloudflare-style server"]
        result = s.measure("download")
        assert result.status is Status.ERROR and result.stop_reason == "no server"


def test_a_server_that_answers_but_refuses_the_transfer_is_left_during_the_measurement():
    with LabSpeedServer(faults={"garbage.php": "403"}) as srv:
        s = session(config(srv, org_server_url=srv.librespeed_url, time_limit_s=4.0))
        s.choose_server(5)
        assert s.server.source == "org"
        result = s.measure("download")
        assert result.status is Status.OK, result.error
        assert result.server.source == "speedtest"
        assert any("left during the download test" in line and "HTTP 403" in line for line in s.tried)
        # the windows count from the second attempt
        assert time.monotonic() - s.engine_started_at == pytest.approx(result.duration_s, abs=0.3)


def test_a_chosen_source_does_not_fall_back():
    with LabSpeedServer(faults={"garbage.php": "429"}) as srv:
        s = session(config(srv, source="org", org_server_url=srv.librespeed_url))
        s.choose_server(5)
        result = s.measure("download")
        assert result.status is Status.ERROR and "HTTP 429" in result.error
        assert result.server.source == "org"


def test_a_fixed_server_guesses_its_protocol():
    with LabSpeedServer() as srv:
        s = session(config(srv, server_url=srv.speedtest_upload_url, data_limit_bytes=20_000_000))
        assert s.choose_server(3).status is Status.OK
        assert (s.server.source, s.server.protocol) == ("custom", "speedtest")
        assert s.measure("download").status is Status.OK


def test_the_data_cap_is_shared_between_the_directions():
    cap = 30_000_000
    with LabSpeedServer() as srv:
        s = session(config(srv, source="cloudflare", data_limit_bytes=cap))
        s.choose_server(3)
        down = s.measure("download")
        assert down.bytes_transferred <= cap * FIRST_DIRECTION_SHARE
        up = s.measure("upload")
        assert up.stop_reason == "data cap"
        assert s.bytes_used <= cap
        assert srv.stats.bytes_sent + srv.stats.bytes_received <= cap


def test_measure_without_choose_finds_a_server_itself():
    with LabSpeedServer() as srv:
        s = session(config(srv, source="cloudflare", data_limit_bytes=20_000_000))
        assert s.measure("upload").status is Status.OK
        assert s.server.source == "cloudflare"


def test_classic_engine_through_the_session():
    with LabSpeedServer(throttle_mbps=200) as srv:
        s = session(config(srv, engine="classic", org_server_url=srv.librespeed_url,
                           data_limit_bytes=30_000_000))
        s.choose_server(5)
        assert s.server.source == "speedtest"  # the only kind classic can use
        result = s.measure("download")
        assert result.engine == "classic" and result.status is Status.OK, result.error
        assert srv.stats.requests["speedtest-config.php"] == 1  # the search's client was reused


def test_cancel_during_measure():
    with LabSpeedServer(throttle_mbps=5) as srv:
        cancel = threading.Event()
        s = session(config(srv, source="cloudflare", time_limit_s=20), cancel)
        s.choose_server(3)
        threading.Timer(0.5, cancel.set).start()
        started = time.monotonic()
        result = s.measure("download")
        assert time.monotonic() - started < 1.6
        assert result.status is Status.CANCELLED
        assert s.choose_server(3).status is Status.CANCELLED


def test_config_from_settings_takes_the_profile_server_when_none_is_set():
    settings = defaults()
    cfg = SpeedConfig.from_settings(settings, profile_speed_url="https://speed.example.org/backend",
                                    engine="classic")
    assert cfg.org_server_url == "https://speed.example.org/backend"
    assert cfg.engine == "classic"
    assert cfg.data_limit_bytes == int(settings["speed.data_limit_mb"] * 1_000_000)
    assert cfg.time_limit_s == settings["speed.time_limit_s"]


@pytest.mark.lab
def test_the_whole_chain_over_the_emulated_link():
    """speedtest.net search then both directions, server in its own namespace, 20/4 Mbit/s,
    30 ms: within ±15 % of the ceiling (benchmark target ±10 %; looser for a busy machine)."""
    import sys

    from tests.lab.netlab import LinkSpec, NetLab, require_lab

    require_lab(delay=True)
    spec = LinkSpec(down_mbit=20, up_mbit=4, rtt_ms=30)
    with NetLab(spec) as lab:
        lab.spawn([sys.executable, "-m", "tests.lab.speed_server", "--host", lab.server_ip, "--port", "8080"])
        lab.wait_port(8080)
        base = f"http://{lab.server_ip}:8080"
        s = session(SpeedConfig(speedtest_base_url=base, cloudflare_url=base, time_limit_s=6.0))
        assert s.choose_server(5).status is Status.OK
        assert s.server.source == "speedtest"
        for direction in ("download", "upload"):
            result = s.measure(direction)
            assert result.status is Status.OK, result.error
            assert result.rate_mbps == pytest.approx(spec.goodput_ceiling_mbps(direction), rel=0.15)
