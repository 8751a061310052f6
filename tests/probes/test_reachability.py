"""Reachability of platform endpoints against real local servers: good, wrong, slow, dead."""

import threading
import time

import pytest

from connectcheck.core.model import Status
from connectcheck.probes.reachability import (
    UDP_BLOCKED_NOTE,
    check_endpoints,
    status_meaning,
    websocket_accept,
)
from tests.lab.endpoints import BlackHole, SlowServer, WebServer, dead_port, make_pki
from tests.lab.stun_server import StunServer


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    return make_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture(scope="module")
def good(pki):
    with WebServer(cert=pki.cert, key=pki.key) as server:
        yield server


@pytest.fixture(scope="module")
def plain():
    with WebServer() as server:
        yield server


def check(urls, pki, timeout_s=1.0, time_limit_s=4.0, cancel=None, **kw):
    return check_endpoints(urls, timeout_s=timeout_s, time_limit_s=time_limit_s,
                           cancel=cancel or threading.Event(), ca_file=str(pki.ca_file), **kw)


def steps(result):
    return [(s.name, s.status) for s in result.steps]


OK = Status.OK


def test_a_good_https_endpoint_passes_every_step(good, pki):
    [result] = check([good.url("/app")], pki)
    assert result.reachable and result.status is OK and result.error is None
    assert steps(result) == [("dns", OK), ("tcp", OK), ("tls", OK), ("http", OK)]
    assert result.http_status == 200
    assert all(s.duration_ms is not None and s.duration_ms >= 0 for s in result.steps)
    assert result.steps[2].detail.startswith("TLSv1.")
    assert result.steps[3].detail == "HTTP 200 OK: the server answered normally"


def test_the_certificate_name_is_checked_for_host_names_too(good, pki):
    [result] = check([f"https://localhost:{good.port}/"], pki)
    assert result.reachable, result.error


def test_a_certificate_from_an_unknown_authority_is_explained(pki):
    with WebServer(cert=pki.other_ca_cert, key=pki.other_ca_key) as server:
        [result] = check([server.url()], pki)
    assert not result.reachable and result.status is Status.ERROR
    assert steps(result)[-1] == ("tls", Status.ERROR)
    assert result.error.startswith("the certificate is not signed by an authority this computer trusts")


def test_a_certificate_for_another_name_is_explained(pki):
    with WebServer(cert=pki.wrong_name_cert, key=pki.wrong_name_key) as server:
        by_address, by_name = check([server.url(), f"https://localhost:{server.port}/"], pki)
    assert by_address.error.startswith("the certificate is not valid for this address")
    assert by_name.error.startswith("the certificate is not valid for this name")
    assert not by_address.reachable and not by_name.reachable


@pytest.mark.parametrize("code, words", [
    (301, "points elsewhere"), (403, "refused this request"), (404, "has nothing at this address"),
    (429, "fewer requests"), (503, "has a problem of its own"),
])
def test_any_http_status_means_the_server_is_there(good, pki, code, words):
    [result] = check([good.url(f"/status/{code}")], pki)
    assert result.reachable and result.status is OK
    assert result.http_status == code
    assert words in result.steps[-1].detail
    assert (result.note is not None) == (code >= 500)


def test_plain_http_has_no_tls_step(plain, pki):
    [result] = check([plain.url()], pki)
    assert steps(result) == [("dns", OK), ("tcp", OK), ("http", OK)]


@pytest.mark.parametrize("secure", [True, False])
def test_a_websocket_upgrade_with_the_right_key_passes(good, plain, pki, secure):
    server = good if secure else plain
    [result] = check([server.ws_url()], pki)
    assert result.reachable, result.error
    assert steps(result)[-1] == ("websocket", OK)
    assert result.http_status == 101


def test_a_websocket_upgrade_with_a_wrong_key_fails(good, pki):
    [result] = check([good.ws_url("/ws-wrong-key")], pki)
    assert not result.reachable
    assert steps(result)[-1] == ("websocket", Status.ERROR)
    assert "wrong key" in result.error


def test_a_refused_websocket_upgrade_says_what_the_server_answered(good, pki):
    [result] = check([good.ws_url("/status/403")], pki)
    assert not result.reachable and result.http_status == 403
    assert result.error.startswith("the server did not accept the WebSocket connection (HTTP 403")


def test_a_dead_port_is_refused_at_once(pki):
    port = dead_port()
    start = time.monotonic()
    [result] = check([f"https://127.0.0.1:{port}/"], pki, timeout_s=3.0)
    assert time.monotonic() - start < 1.0
    assert steps(result) == [("dns", OK), ("tcp", Status.ERROR)]
    assert result.error == f"the server refused the connection (nothing is listening on port {port})"


def test_a_black_hole_times_out_within_the_bound(pki):
    with BlackHole() as hole:
        start = time.monotonic()
        [result] = check([f"https://127.0.0.1:{hole.port}/"], pki, timeout_s=0.5)
        elapsed = time.monotonic() - start
    assert 0.5 <= elapsed < 0.5 + 0.5
    assert result.status is Status.TIMEOUT and not result.reachable
    assert result.error.startswith("the server did not answer within 0.5 s")


@pytest.mark.parametrize("scheme, stage, words", [
    ("https", "tls", "did not complete the secure handshake within 0.5 s"),
    ("http", "http", "did not answer within 0.5 s"),
    ("wss", "tls", "did not complete the secure handshake"),
])
def test_a_server_that_accepts_but_never_answers(pki, scheme, stage, words):
    with SlowServer() as slow:
        [result] = check([f"{scheme}://127.0.0.1:{slow.port}/"], pki, timeout_s=0.5)
    assert steps(result)[-1] == (stage, Status.TIMEOUT)
    assert words in result.error


def test_stun_over_udp_answers(pki):
    with StunServer() as server:
        [result] = check([f"stun:{server.address}"], pki)
    assert result.reachable and steps(result) == [("dns", OK), ("stun", OK)]
    assert result.steps[-1].detail.startswith("3 of 3 requests answered over UDP")
    assert result.note is None


def test_udp_silence_while_tcp_works_says_udp_looks_blocked(good, pki):
    with BlackHole() as hole:
        web, media = check([good.url(), f"stun:127.0.0.1:{hole.udp_port}"], pki, timeout_s=0.6)
    assert web.reachable
    assert not media.reachable and steps(media)[-1] == ("stun", Status.TIMEOUT)
    assert media.note == UDP_BLOCKED_NOTE
    assert "relay over TCP (TURN/TCP)" in media.note


def test_no_udp_blocked_claim_when_nothing_works_over_tcp_either(pki):
    with BlackHole() as hole:
        web, media = check([f"https://127.0.0.1:{hole.port}/", f"stun:127.0.0.1:{hole.udp_port}"], pki,
                           timeout_s=0.6)
    assert not web.reachable and not media.reachable
    assert media.note is None


@pytest.mark.parametrize("url", ["ftp://files.example.org/", "https://board.example.org:port/",
                                 "stun:[2001:db8::1", "stun:turn.example.org:99999", "https:///nohost"])
def test_an_address_of_another_kind_is_refused_plainly(pki, url):
    [result] = check([url], pki)
    assert result.status is Status.ERROR and not result.reachable and result.steps == []
    assert "cannot check this kind of address" in result.error


def test_many_hanging_endpoints_respect_the_overall_limit(pki):
    with BlackHole() as hole, SlowServer() as slow:
        urls = [f"https://127.0.0.1:{hole.port}/{i}" for i in range(4)] + [f"http://127.0.0.1:{slow.port}/"]
        start = time.monotonic()
        results = check(urls, pki, timeout_s=5.0, time_limit_s=1.0)
    assert time.monotonic() - start < 1.0 + 0.5
    assert all(r.status is Status.TIMEOUT for r in results)
    assert [r.url for r in results] == urls


def test_cancel_ends_the_check_within_a_second(pki):
    cancel = threading.Event()
    with BlackHole() as hole:
        threading.Timer(0.2, cancel.set).start()
        start = time.monotonic()
        [result] = check([f"https://127.0.0.1:{hole.port}/"], pki, timeout_s=10, time_limit_s=10,
                         cancel=cancel)
    assert time.monotonic() - start < 0.2 + 1.0
    assert result.status is Status.CANCELLED


def test_progress_reaches_the_end(good, pki):
    reports = []
    check([good.url(), good.ws_url()], pki, progress=reports.append)
    assert reports[0].fraction == 0.0 and reports[-1].fraction == 1.0
    assert {r.phase for r in reports} == {"reachability"}


def test_websocket_accept_matches_rfc6455():
    assert websocket_accept("dGhlIHNhbXBsZSBub25jZQ==") == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="


def test_status_meanings_name_the_code():
    assert status_meaning(204) == "HTTP 204: the server answered normally"
    assert status_meaning(500, "Internal Server Error").startswith("HTTP 500 Internal Server Error: ")
    assert "did not accept this request" in status_meaning(418)
