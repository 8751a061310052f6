"""Where the speed server comes from: plans, protocol guessing, checks, speedtest.net search, cache."""

import json
import socket
import threading
import time

import pytest

from connectcheck.core.model import SpeedServer
from connectcheck.core.tasks import Cancelled, Deadline
from connectcheck.probes.servers import (
    Candidate,
    ServerFinder,
    ServerUnavailable,
    TookTooLong,
    cache_path,
    guess_protocol,
    load_cached_server,
    make_speedtest,
    normalize_url,
    ping_server,
    plan,
    provider_from_config,
    run_bounded,
    save_cached_server,
)
from tests.lab.speed_server import LabSpeedServer, speedtest_server_entry


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def finder(srv: LabSpeedServer | None = None, **kw) -> ServerFinder:
    kw.setdefault("cancel", threading.Event())
    return ServerFinder(speedtest_base_url=srv.speedtest_base_url if srv else None, **kw)


# --- plans and addresses -------------------------------------------------------------------


@pytest.mark.parametrize(("url", "protocol"), [
    ("http://st.example.net:8080/speedtest/upload.php", "speedtest"),
    ("http://st.example.net/speedtest", "speedtest"),
    ("http://st.example.net/x/random350x350.jpg", "speedtest"),
    ("https://speed.example.org/backend/garbage.php", "librespeed"),
    ("https://speed.example.org/empty.php", "librespeed"),
    ("https://speed.example.org/", "librespeed"),
    ("https://speed.cloudflare.com", "cloudflare"),
    ("https://edge.example.net/__down", "cloudflare"),
])
def test_guess_protocol(url, protocol):
    assert guess_protocol(url) == protocol


def test_normalize_url_gives_the_base_each_engine_expects():
    assert normalize_url("librespeed", "https://s.example.org/backend/garbage.php?ckSize=4") == (
        "https://s.example.org/backend")
    assert normalize_url("cloudflare", "https://s.example.net/__down") == "https://s.example.net"
    assert normalize_url("speedtest", "http://s.example.net:8080/speedtest/") == (
        "http://s.example.net:8080/speedtest/upload.php")
    assert normalize_url("speedtest", "http://s.example.net/speedtest/latency.txt") == (
        "http://s.example.net/speedtest/upload.php")


def test_auto_plan_tries_org_then_speedtest_then_cloudflare():
    cands = plan("auto", org_url="", cloudflare_url="https://speed.cloudflare.com")
    assert [c.source for c in cands] == ["org", "speedtest", "cloudflare"]
    assert cands[0].skip == "not configured"
    assert cands[2].url == "https://speed.cloudflare.com" and cands[2].protocol == "cloudflare"


def test_plan_for_one_source_and_for_a_fixed_server():
    assert [c.source for c in plan("cloudflare", cloudflare_url="https://c.example")] == ["cloudflare"]
    fixed = plan("auto", server_url="http://h:8080/speedtest/upload.php", org_url="https://o")
    assert fixed == [Candidate("custom", "http://h:8080/speedtest/upload.php", "speedtest")]
    forced = plan("cloudflare", server_url="https://h.example/speed")
    assert forced[0].protocol == "cloudflare"


def test_classic_plans_only_speedtest_servers():
    cands = plan("auto", org_url="https://o", cloudflare_url="https://c", classic=True)
    assert [c.source for c in cands] == ["speedtest"]
    assert "only works with speedtest.net" in plan("org", org_url="https://o", classic=True)[0].skip
    assert plan("auto", server_url="https://o/backend", classic=True)[0].skip


# --- checking a server ------------------------------------------------------------------------


def test_a_server_that_answers_is_used_with_its_latency():
    with LabSpeedServer() as srv:
        f = finder()
        server = f.find(Candidate("org", srv.librespeed_url, "librespeed"), Deadline(3))
        assert server.source == "org" and server.latency_ms > 0
        ms = f"{server.latency_ms:.0f}"
        assert f.tried == [f"organisation server ({srv.librespeed_url}): answered in {ms} ms"]
        assert f.bytes_used > 0


@pytest.mark.parametrize(("fault", "words"), [
    ("403", "HTTP 403"), ("429", "HTTP 429"), ("stall", "did not answer within 1 s")])
def test_a_server_that_refuses_or_stalls_is_left_with_the_reason(fault, words):
    with LabSpeedServer(faults={"empty.php": fault}) as srv:
        f = finder()
        started = time.monotonic()
        with pytest.raises(ServerUnavailable, match=words):
            f.find(Candidate("org", srv.librespeed_url, "librespeed"), Deadline(1))
        assert time.monotonic() - started < 1.5
        assert f.tried[0].startswith("organisation server (") and words in f.tried[0]


def test_a_server_that_is_not_there_is_left_with_the_reason():
    f = finder()
    with pytest.raises(ServerUnavailable, match="refused the connection"):
        f.find(Candidate("cloudflare", f"http://127.0.0.1:{free_port()}", "cloudflare"), Deadline(2))


def test_not_configured_is_recorded():
    f = finder()
    with pytest.raises(ServerUnavailable):
        f.find(Candidate("org", skip="not configured"), Deadline(1))
    assert f.tried == ["organisation server: not configured"]


def test_ping_is_cancelled():
    cancel = threading.Event()
    cancel.set()
    with LabSpeedServer() as srv, pytest.raises(Cancelled):
        ping_server(SpeedServer("org", "librespeed", srv.librespeed_url), Deadline(2, cancel))


# --- speedtest.net through speedtest-cli -----------------------------------------------------


def test_the_seam_points_speedtest_cli_at_the_lab():
    with LabSpeedServer() as srv:
        client = make_speedtest(threading.Event(), base_url=srv.speedtest_base_url)
        assert srv.stats.requests["speedtest-config.php"] == 1
        closest = client.speedtest.get_closest_servers()
        assert closest[0]["url"] == srv.speedtest_upload_url
        assert client.plumbing.bytes > 1000  # the config and the list were counted


def test_the_provider_is_read_from_speedtest_nets_configuration():
    with LabSpeedServer(isp="Lab\tFibre <b>Ltd</b>") as srv:
        f = finder(srv)
        f.find(Candidate("speedtest", protocol="speedtest"), Deadline(5))
        assert f.provider == "Lab Fibre <b>Ltd</b>"  # tidied, kept as text (escaped where shown)
    assert provider_from_config({"client": {"ip": "203.0.113.9", "isp": ""}}) is None
    assert provider_from_config({"client": {"ip": "203.0.113.9"}}) is None
    assert provider_from_config(None) is None
    assert provider_from_config({"client": {"isp": "x" * 500}}) == "x" * 80


def test_a_provider_that_cannot_be_fetched_is_recorded_not_raised():
    with LabSpeedServer(faults={"speedtest-config.php": "403"}) as srv:
        f = finder(srv)
        assert f.learn_provider(Deadline(2)) is None
        assert "the internet provider's name could not be had" in f.tried[-1]


def test_search_picks_the_fastest_of_the_nearest_and_remembers_it():
    with LabSpeedServer() as alive:
        dead = speedtest_server_entry(f"http://127.0.0.1:{free_port()}/speedtest/upload.php", server_id=1,
                                      lat=50.7236, lon=-3.5275, name="Dead but nearest")
        alive.extra_speedtest_servers.append(dead)
        f = finder(alive)
        server = f.find(Candidate("speedtest", protocol="speedtest"), Deadline(5))
        assert server.url == alive.speedtest_upload_url
        assert server.name == "Lab Exeter — Lab ISP" and server.latency_ms > 0
        assert f.tried[-1].startswith("speedtest.net: chose Lab Exeter")
        assert load_cached_server(24, alive.speedtest_base_url) == server

        # the next check uses the remembered server without searching again
        g = finder(alive)
        again = g.find(Candidate("speedtest", protocol="speedtest"), Deadline(5))
        assert again.url == server.url
        assert alive.stats.requests["speedtest-config.php"] == 1
        assert "remembered" in g.tried[0]


def test_a_remembered_server_that_is_gone_leads_to_a_new_search():
    with LabSpeedServer() as srv:
        save_cached_server(SpeedServer("speedtest", "speedtest", f"http://127.0.0.1:{free_port()}/x/upload.php",
                                       name="Gone"), srv.speedtest_base_url)
        f = finder(srv)
        server = f.find(Candidate("speedtest", protocol="speedtest"), Deadline(5))
        assert server.url == srv.speedtest_upload_url
        assert "the remembered server Gone did not answer" in f.tried[0]


@pytest.mark.parametrize(("fault", "words"), [("403", "HTTP 403"), ("429", "HTTP 429")])
def test_speedtest_refusing_its_configuration_is_reported(fault, words):
    with LabSpeedServer(faults={"speedtest-config.php": fault}) as srv:
        f = finder(srv)
        with pytest.raises(ServerUnavailable, match=words):
            f.find(Candidate("speedtest", protocol="speedtest"), Deadline(3))
        assert f.tried[0].startswith("speedtest.net: ")


def test_speedtest_search_that_stalls_is_bounded():
    with LabSpeedServer(faults={"speedtest-config.php": "stall"}) as srv:
        started = time.monotonic()
        with pytest.raises(ServerUnavailable, match="took longer than 1.5 s"):
            finder(srv).find(Candidate("speedtest", protocol="speedtest"), Deadline(1.5))
        assert time.monotonic() - started < 2.0


def test_speedtest_without_a_server_list():
    faults = {"speedtest-servers-static.php": "403", "speedtest-servers.php": "403"}
    with LabSpeedServer(faults=faults) as srv:
        with pytest.raises(ServerUnavailable, match="server list was empty"):
            finder(srv).find(Candidate("speedtest", protocol="speedtest"), Deadline(3))


# --- the cache ---------------------------------------------------------------------------------


def test_cache_fresh_stale_other_base_and_disabled():
    server = SpeedServer("speedtest", "speedtest", "http://h:8080/speedtest/upload.php", name="H",
                         latency_ms=3.0)
    save_cached_server(server, "http://lab")
    assert load_cached_server(24, "http://lab") == server
    assert load_cached_server(24, None) is None  # found through another speedtest.net
    assert load_cached_server(0, "http://lab") is None
    data = json.loads(cache_path().read_text())
    data["saved_at"] -= 25 * 3600
    cache_path().write_text(json.dumps(data))
    assert load_cached_server(24, "http://lab") is None
    assert load_cached_server(48, "http://lab") == server


@pytest.mark.parametrize("content", ["{not json", "[]", '{"version": 1}', '{"version": 1, "saved_at": 0}',
                                     json.dumps({"version": 1, "saved_at": 1e12, "base_url": "",
                                                 "server": {"source": 3}}), ""])
def test_a_damaged_cache_is_ignored(content):
    cache_path().parent.mkdir(parents=True, exist_ok=True)
    cache_path().write_text(content)
    assert load_cached_server(24) is None


def test_no_cache_at_all():
    assert not cache_path().exists()
    assert load_cached_server(24) is None


# --- bounded calls -------------------------------------------------------------------------------


def test_run_bounded_returns_raises_and_gives_up():
    assert run_bounded(lambda: 42, Deadline(1), "answer") == 42
    with pytest.raises(ZeroDivisionError):
        run_bounded(lambda: 1 / 0, Deadline(1), "division")
    release = threading.Event()
    started = time.monotonic()
    with pytest.raises(TookTooLong, match="waiting took longer than 0.3 s"):
        run_bounded(lambda: release.wait(5), Deadline(0.3), "waiting")
    assert time.monotonic() - started < 0.5
    stopped = []
    assert run_bounded(lambda: release.wait(5), Deadline(0.2), "waiting",
                       stop=lambda: (stopped.append(1), release.set()), grace_s=0.5) is True
    assert stopped == [1]
