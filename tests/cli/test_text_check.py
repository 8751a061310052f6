"""The check in the terminal: the call-like stream's line beside the idle figures (real checks
against servers on 127.0.0.1 that the tests start)."""

import pytest

from connectcheck.check import CheckOptions, run_check
from connectcheck.cli.text import format_check
from connectcheck.core.model import CheckKind
from tests.lab.endpoints import WebServer, make_pki
from tests.lab.stun_server import StunServer


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    return make_pki(tmp_path_factory.mktemp("pki"))


def quick(pki, web, stun_servers):
    return run_check(CheckOptions(kind=CheckKind.QUICK, stun_servers=stun_servers,
                                  platform_urls=[web.url("/")], ca_file=str(pki.ca_file), icmp=False,
                                  local=False, time_limit_s=3.0))


def test_the_call_stream_is_shown_after_the_idle_headline(pki):
    with WebServer(cert=pki.cert, key=pki.key) as web, StunServer(drop_every=10) as stun:
        text = format_check(quick(pki, web, [stun.address]))
    lines = text.splitlines()
    at = next(i for i, line in enumerate(lines) if line.startswith("Call-like stream"))
    assert lines[at] == "Call-like stream (what the lesson's sound meets: 50 packets a second over STUN)"
    assert lines[at + 1].startswith("  50 packets in 1 s: 10 % missed (10 % lost, 0 % too late for a 60 ms")
    assert "; round trip " in lines[at + 1] and ", jitter " in lines[at + 1]
    assert at > next(i for i, line in enumerate(lines) if line.startswith("  round trip (idle)"))


def test_without_a_stun_server_the_call_stream_is_not_measured_and_says_why(pki):
    with WebServer(cert=pki.cert, key=pki.key) as web:
        text = format_check(quick(pki, web, []))
    assert "  not measured: no STUN server to send a call-like stream to (it needs one)" in text.splitlines()
