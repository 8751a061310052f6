"""Network cards: counter arithmetic, which cards count, and the connection type."""

from __future__ import annotations

from connectcheck.core.model import InterfaceUsage
from connectcheck.local.backends import get_backend
from connectcheck.local.base import NicCounters, Scope, kind_from_name
from connectcheck.local.interfaces import (
    connection_type,
    counter_delta,
    interface_usage,
    mbps,
    payload_bytes,
    uplinks,
)


def test_counter_delta_and_a_counter_that_went_back():
    assert counter_delta(NicCounters(100, 50, 2, 1), NicCounters(400, 80, 5, 3)) == NicCounters(300, 30, 3, 2)
    assert counter_delta(NicCounters(1000, 10, 9, 1), NicCounters(40, 20, 1, 2)).bytes_recv == 40


def test_payload_takes_the_headers_off():
    # 1000 full frames of 1514 bytes = 1448 bytes of TCP payload each; 500 pure ACKs of 66 bytes
    assert payload_bytes(NicCounters(1000 * 1514, 500 * 66, 1000, 500)) == (1_448_000, 0)
    assert mbps(1_250_000, 2.0) == 5.0 and mbps(100, 0) == 0.0


def test_kinds_from_names_on_every_system():
    cases = {
        "Wi-Fi 2": "wifi",
        "wlp3s0": "wifi",
        "WLAN": "wifi",
        "Ethernet": "ethernet",
        "enp0s31f6": "ethernet",
        "Local Area Connection": "ethernet",
        "utun3": "vpn",
        "wg0": "vpn",
        "NordLynx": "vpn",
        "tun0": "vpn",
        "pdp_ip0": "mobile",
        "wwan0": "mobile",
        "Cellular": "mobile",
        "lo": "loopback",
        "lo0": "loopback",
        "Loopback Pseudo-Interface 1": "loopback",
        "docker0": "other",
        "veth12ab": "other",
    }
    assert {name: kind_from_name(name) for name in cases} == cases


def test_uplinks_by_scope_default_route_or_every_card_that_is_up():
    linux = get_backend("linux")
    assert uplinks(
        get_backend("linux", scope=Scope(uplinks=frozenset({"lo"}))), ["lo", "eth0"], ["eth0"]
    ) == ["lo"]
    assert uplinks(linux, ["lo", "eth0", "ccl0"], ["eth0"]) == ["eth0"]
    assert "lo" not in uplinks(linux, ["lo", "eth0"], [])


def test_usage_lists_cards_with_rates_and_leaves_loopback_out():
    backend = get_backend("linux")
    deltas = {"lo": NicCounters(10, 10, 1, 1), "eth0": NicCounters(2_500_000, 250_000, 100, 100)}
    usage = interface_usage(backend, deltas, 2.0, ["eth0"], None)
    assert [u.name for u in usage] == ["eth0"]
    assert (usage[0].is_default, usage[0].down_mbps, usage[0].up_mbps) == (True, 10.0, 1.0)
    assert interface_usage(backend, deltas, 2.0, ["eth0"], "eth0")[0].kind == "wifi"  # the Wi-Fi card says so


def test_connection_type():
    assert connection_type([InterfaceUsage("wlan0", "wifi", True)]) == "wifi"
    assert (
        connection_type([InterfaceUsage("wlan0", "wifi", True), InterfaceUsage("wg0", "vpn", True)]) == "vpn"
    )
    assert connection_type([InterfaceUsage("eth0", "ethernet", False)]) is None
    assert connection_type([InterfaceUsage("veth0", "other", True)]) is None
