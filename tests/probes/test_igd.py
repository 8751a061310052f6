"""The UPnP IGD client against a small IGD the tests start on 127.0.0.1, whose counters are this
machine's real loopback counters (the lab's test_home.py reads a router's real WAN counters
through SSDP). No test here sends SSDP: multicast would leave this machine."""

from __future__ import annotations

import socket
import threading
import time
import tomllib
from pathlib import Path

import pytest

from connectcheck.core.model import RouterCounters, Status
from connectcheck.probes import igd
from connectcheck.probes.igd import NOT_TOLD, Reading, judge, measure_router, soap_body
from tests.lab.igd_server import FAULT as FAULT_ANSWER
from tests.lab.igd_server import Counters, IgdServer, wan_counters


def _traffic(seconds: float, most: int = 1 << 40) -> int:
    """Move bytes over loopback for ``seconds`` (at most ``most`` of them); how many."""
    server = socket.create_server(("127.0.0.1", 0))
    moved = 0
    with socket.create_connection(server.getsockname()) as client:
        conn, _ = server.accept()
        chunk = b"x" * 65536
        end = time.monotonic() + seconds
        while time.monotonic() < end and moved < most:
            client.sendall(chunk)
            moved += len(conn.recv(1 << 20))
        conn.close()
    server.close()
    return moved


def _measure(variant: str, traffic_s: float = 0.0, window_s: float = 0.6, line=(10**12, 10**12),
             external: str | None = None, most: int = 1 << 40):
    with IgdServer(Counters(wan_counters("lo"), variant, *line, external=external)) as server:
        mover = threading.Thread(target=_traffic, args=(traffic_s, most), daemon=True) if traffic_s else None
        if mover:
            mover.start()
        result = measure_router(gateway=None, cancel=threading.Event(), window_s=window_s,
                                location=server.location)
        if mover:
            mover.join()
    return result, server.calls


def test_an_honest_router_gives_the_households_rate_with_read_only_calls():
    result, calls = _measure("honest", traffic_s=0.8)
    assert result.status is Status.OK and result.problem is None
    assert result.device == "Lab router <test>" and 0.5 <= result.window_s <= 1.0
    assert result.down_mbps > 10 and result.up_mbps > 10  # loopback: both sides count the same bytes
    assert (result.line_down_mbps, result.line_up_mbps) == (1e6, 1e6)  # loopback moves gigabits
    assert set(calls) <= igd.READ_ONLY_ACTIONS and "GetTotalBytesReceived" in calls


@pytest.mark.parametrize("variant", ["stuck", "zero", "packets_only"])
def test_a_router_that_lies_is_named_and_gives_no_figure(variant):
    result, _ = _measure(variant)
    assert result.status is Status.ERROR and result.problem == variant
    assert result.error.startswith(NOT_TOLD) and result.down_mbps is None


def test_rates_above_the_line_the_router_reports_are_not_believed():
    # 200 MB at most: 2,700 times the 0.1 Mbit/s line in the window, yet far from the 4.3 GB at which
    # the router's 32-bit counter, started at 1 kB, would go round (which this line could not explain:
    # "wrap"; the full suite saw it twice running when loopback's own counter was used unshifted)
    result, _ = _measure("above_line", traffic_s=0.8, most=200_000_000)
    assert (result.status, result.problem, result.down_mbps) == (Status.ERROR, "above_line", None)


def test_a_32_bit_counter_going_round_during_the_reading_is_corrected():
    result, _ = _measure("wrap", traffic_s=0.8)
    assert result.status is Status.OK and result.down_mbps > 10


@pytest.mark.parametrize(("variant", "words"), [("bomb", "DTDForbidden"), ("huge", "too large")])
def test_hostile_descriptions_are_refused(variant, words):
    result, calls = _measure(variant)
    assert result.status is Status.UNAVAILABLE and words in result.error and calls == []


def test_the_judge_of_two_readings():
    def j(a, b, line=(100.0, 20.0), own=None):
        return judge(Reading(0.0, *a), Reading(2.0, *b), *line, RouterCounters(), own)

    ok = j((1000, 1000), (2_501_000, 251_000))
    assert (ok.down_mbps, ok.up_mbps, ok.status) == (10.0, 1.0, Status.OK)
    wrapped = j((2**32 - 1_000_000, 0), (1_500_000, 250_000))
    assert wrapped.down_mbps == 10.0
    assert j((5_000_000, 0), (1_000, 0), line=(1.0, 1.0)).problem == "wrap"  # went back: a reset
    assert j((2**32 - 1, 5), (2**32 - 1, 9)).problem == "stuck"
    assert j((0, 0), (0, 0)).problem == "zero"
    assert j((0, 0), (100_000_000, 0)).problem == "above_line"
    assert j((7, 7), (7, 7), own=1_000_000).problem == "stuck"  # this computer moved 1 MB through it
    assert j((7, 7), (7, 7)).status is Status.OK  # a quiet household


def test_no_action_that_changes_the_router_can_be_sent():
    assert b"GetTotalBytesSent" in soap_body("GetTotalBytesSent")
    for action in ("ForceTermination", "AddPortMapping", "SetEnabledForInternet"):
        with pytest.raises(ValueError):
            soap_body(action)


def test_a_description_or_control_url_pointing_elsewhere_is_not_followed():
    assert igd._same_host("http://10.0.0.1:5000/x.xml", "10.0.0.1")
    assert not igd._same_host("http://10.0.0.2:5000/x.xml", "10.0.0.1")
    assert not igd._same_host("https://10.0.0.1/x.xml", "10.0.0.1")
    assert not igd._same_host("http://router.example/x.xml", "10.0.0.1")
    assert igd.parse_ssdp_response(b"HTTP/1.1 200 OK\r\nLOCATION: http://a/\r\n\r\n") == {"location": "http://a/"}
    assert igd.parse_ssdp_response(b"NOTIFY * HTTP/1.1\r\n\r\n") is None
    assert igd.parse_ssdp_response(b"HTTP/1.1 200 OK\r\n" + b"X: y\r\n" * 400) is None  # too long


@pytest.mark.parametrize(("external", "side"), [
    ("100.64.12.34", "cgnat"), ("100.127.255.1", "cgnat"), ("192.168.178.2", "private"),
    ("10.1.2.3", "private"), ("81.2.69.160", "public"), ("0.0.0.0", None), ("", None),
    ("not an address", None),
])
def test_the_routers_internet_side_address_is_read_and_only_its_kind_kept(external, side):
    result, calls = _measure("honest", external=external)
    assert result.wan_side == side and "GetExternalIPAddress" in calls
    assert external not in repr(result) or not external  # the address itself is never kept
    assert set(calls) <= igd.READ_ONLY_ACTIONS


def test_a_router_without_an_address_to_tell_still_gives_its_counters():
    result, calls = _measure("honest", traffic_s=0.3, external=None)  # the action is refused (a fault)
    assert result.status is Status.OK and result.wan_side is None and result.down_mbps is not None


def test_the_address_kind():
    kinds = [igd.wan_side(a) for a in ("100.63.255.255", "100.64.0.0", "100.128.0.1", "127.0.0.1",
                                       "169.254.1.1", "::1")]
    assert kinds == ["public", "cgnat", "public", None, None, None]


# --- FRITZ!Box: GetAddonInfos --------------------------------------------------------------------

CORPUS = Path(__file__).parent / "corpus" / "igd"
ADDON_SAMPLES = tomllib.loads((CORPUS / "INDEX.toml").read_text(encoding="utf-8"))["sample"]


@pytest.mark.parametrize("sample", ADDON_SAMPLES, ids=[s["file"] for s in ADDON_SAMPLES])
def test_real_fritzbox_answers_give_their_counters(sample):
    """Each real answer through the same XML path as a live one (size limit, defusedxml)."""
    answer = (CORPUS / sample["file"]).read_bytes()
    reads = sample["reads"]
    if "error" in reads:  # an answer cut short is not understood, and says so
        with pytest.raises(igd.IgdError):
            igd.addon_reading(igd.parse_answer(200, answer, "GetAddonInfos"), 0.0)
        return
    got = igd.addon_reading(igd.parse_answer(200, answer, "GetAddonInfos"), 0.0)
    assert (got.received, got.sent, got.wide) == (reads["received"], reads["sent"], reads["wide"])


def test_a_refused_or_empty_addon_answer_is_an_error():
    with pytest.raises(igd.IgdError, match="no byte counters"):
        igd.addon_reading({"NewByteSendRate": "10", "NewTotalBytesSent": "", "NewTotalBytesReceived": "x"},
                          0.0)
    with pytest.raises(igd.IgdError, match="UPnP error 401"):
        igd.parse_answer(500, FAULT_ANSWER, "GetAddonInfos")


@pytest.mark.parametrize("variant", ["fritz", "fritz_32"])
def test_a_fritzbox_is_read_with_one_request_a_reading(variant):
    """Its 32-bit counters go round a moment after the start: with the 64-bit ones there is nothing
    to correct; with the 32-bit ones alone the wrap is corrected as for any router."""
    result, calls = _measure(variant, traffic_s=0.8)
    assert result.status is Status.OK and result.down_mbps > 10 and result.up_mbps > 10
    assert calls.count("GetAddonInfos") == 2 and "GetTotalBytesReceived" not in calls
    assert set(calls) <= igd.READ_ONLY_ACTIONS


def test_a_router_that_refuses_addon_infos_is_asked_it_once_then_read_the_standard_way():
    result, calls = _measure("honest", traffic_s=0.3)
    assert result.status is Status.OK
    assert calls.count("GetAddonInfos") == 1 and calls.count("GetTotalBytesReceived") == 2


def test_64_bit_counters_are_not_wrapped_or_pinned():
    def j(a, b, wide=(True, True)):
        return judge(Reading(0.0, *a, wide=wide[0]), Reading(2.0, *b, wide=wide[1]), 1000.0, 1000.0,
                     RouterCounters())

    assert j((2**32 - 1, 0), (2**32 - 1 + 2_500_000, 250_000)).down_mbps == 10.0  # a count, not a pin
    assert j((5 * 2**32, 0), (5 * 2**32 - 10, 0)).problem == "wrap"  # went back: reset, not round
    assert j((2**32 - 1_000_000, 0), (1_500_000, 0)).problem == "wrap"
    assert j((1000, 1000), (2_501_000, 251_000), wide=(True, False)).problem == "wrap"  # mixed counters
