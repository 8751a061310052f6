"""The home lab: a router this computer finds in its own routing table and can probe, a Wi-Fi
segment impaired apart from the line (the router's own replies included), and a second, wired
device whose traffic passes the line's queues. Needs root; skipped with the reason otherwise."""

from __future__ import annotations

import json
import sys
import time

import pytest

from tests.lab.homelab import HomeLab, WifiSpec
from tests.lab.netlab import LinkSpec, require_lab

pytestmark = pytest.mark.lab

ECHO_PORT = 9000

HOP = """
import json, threading
from connectcheck.local.linux import LinuxBackend
from connectcheck.probes.firsthop import measure_first_hop
from connectcheck.core.model import to_dict
g = LinuxBackend().default_gateway()
hop = measure_first_hop(g.address, interface=g.interface, source=g.source, count={count}, interval_s=0.02,
                        time_limit_s=30, cancel=threading.Event(), icmp_allowed={icmp})
print(json.dumps(to_dict(hop)))
"""

RTTS = """
import json
from tests.lab.netlab import udp_rtt_series
print(json.dumps(udp_rtt_series("{host}", {port}, {count}, interval_s=0.02)))
"""


def _hop(lab: HomeLab, count: int = 400, icmp: str = "None") -> dict:
    return json.loads(lab.pc_python(HOP.format(count=count, icmp=icmp)))


def _median(values: list[float | None]) -> float:
    answered = sorted(v for v in values if v is not None)
    return answered[len(answered) // 2]


def _start_gateway_services(lab: HomeLab) -> None:
    lab.spawn([sys.executable, "-m", "tests.lab.gateway", "--host", lab.gateway_ip], ns="gateway")
    lab.spawn([sys.executable, "-m", "tests.lab.netlab", "echo", "--port", str(ECHO_PORT)])
    lab.wait_port(ECHO_PORT, "udp")
    time.sleep(0.3)  # the gateway's DNS socket (its namespace has no wait_port)


def test_the_router_is_found_and_its_round_trip_is_the_wifi_segments_alone():
    """The computer reads 10.77.3.1 from its own /proc/net/route; the round trip to it is the
    Wi-Fi's (the line's 40 ms is beyond it), and with ping allowed ICMP is used."""
    require_lab(loss=True, delay=True)
    line, wifi = LinkSpec(rtt_ms=40), WifiSpec(rtt_ms=10, jitter_ms=2)
    with HomeLab(line, wifi, ping_allowed=True) as lab:
        _start_gateway_services(lab)
        hop = _hop(lab, count=200)
        server = json.loads(lab.pc_python(RTTS.format(host=lab.server_ip, port=ECHO_PORT, count=100)))
    assert (hop["gateway"], hop["interface"], hop["source"]) == ("10.77.3.1", "cclp0", "proc_net_route")
    assert hop["method"] == "icmp" and hop["status"] == "ok"
    # the FIFO model's median (9.57 ms for 10 ms with 2 ms of jitter: the delay is right-skewed),
    # plus the relay's own passes (under a millisecond)
    assert -0.5 <= hop["idle"]["rtt_ms_median"] - wifi.expected_rtt_ms() <= 1.5
    # the line's fixed 40 ms beyond the router, and the Wi-Fi's again
    assert -0.5 <= _median(server) - (line.expected_rtt_ms() + wifi.expected_rtt_ms()) <= 2.5


def test_wifi_delay_jitter_and_loss_reach_the_routers_own_replies():
    """Ping not allowed (this namespace's default ping_group_range): a DNS query to the router."""
    require_lab(loss=True, delay=True)
    wifi = WifiSpec(rtt_ms=20, jitter_ms=5, loss_pct=5, seed=7)
    with HomeLab(LinkSpec(), wifi) as lab:
        _start_gateway_services(lab)
        hop = _hop(lab, count=600)
    idle = hop["idle"]
    assert hop["method"] == "dns" and hop["tried"][0].startswith("ping: ")
    assert abs(idle["rtt_ms_median"] - wifi.expected_rtt_ms()) < 1.5
    assert abs(idle["jitter_ms"] - 5) < 3
    assert 2 <= idle["loss_pct"] <= 8.5  # 5 % of 600: sd 0.9 point


def test_the_second_device_shares_the_lines_queue_but_not_the_wifi():
    """Its download fills the line's queue (this computer's round trips beyond the router grow),
    while the router stays as quick to reach as before: the queue is on the line, not the Wi-Fi."""
    require_lab(loss=True, delay=True)
    with HomeLab(LinkSpec(down_mbit=10, up_mbit=5, rtt_ms=20), WifiSpec(rtt_ms=4)) as lab:
        _start_gateway_services(lab)
        lab.spawn([sys.executable, "-m", "tests.lab.tcp_reference", "serve"])
        lab.wait_port(5201)
        idle = json.loads(lab.pc_python(RTTS.format(host=lab.server_ip, port=ECHO_PORT, count=100)))
        before = lab.device_bytes()
        load = lab.spawn([sys.executable, "-m", "tests.lab.tcp_reference", "run", "--host", lab.server_ip,
                          "--direction", "download", "--streams", "4", "--duration", "8"], ns="device")
        time.sleep(3)
        loaded = json.loads(lab.pc_python(RTTS.format(host=lab.server_ip, port=ECHO_PORT, count=100)))
        hop = _hop(lab, count=100)
        load.wait(20)
        moved = lab.device_bytes()[0] - before[0]
    assert _median(loaded) - _median(idle) > 40  # the 100 ms queue on the line fills
    assert hop["idle"]["rtt_ms_median"] < 6  # the Wi-Fi's 4 ms, no queue
    assert moved > 5_000_000  # the device really moved about 10 Mbit/s for 8 s


ROUTER = """
import json, threading
from connectcheck.probes.igd import measure_router
from connectcheck.core.model import to_dict
from tests.lab.netlab import udp_rtt_series
if {traffic}:  # about 1 Mbit/s each way through the router while it is read
    args = ("10.77.2.2", 9000, 200, 0.01, 0.5, 1200)
    threading.Thread(target=udp_rtt_series, args=args, daemon=True).start()
print(json.dumps(to_dict(measure_router(gateway="10.77.3.1", cancel=threading.Event(), window_s={window}))))
"""


def _igd(lab: HomeLab, variant: str) -> None:
    lab.spawn([sys.executable, "-m", "tests.lab.igd_server", "--host", lab.gateway_ip, "--wan", "cclw",
               "--variant", variant, "--line-down-mbit", "10", "--line-up-mbit", "5"], ns="gateway")
    time.sleep(0.5)


@pytest.mark.parametrize("variant", ["honest", "fritz"])
def test_other_devices_rate_from_the_routers_real_wan_counters(variant):
    """SSDP from this computer finds the router's IGD; its WAN counters over the reading give what
    the second device moves (the line saturated at 10 Mbit/s by its download), within 10 %. As a
    FRITZ!Box, they come from GetAddonInfos's 64-bit counters (its 32-bit ones go round meanwhile)."""
    require_lab()
    with HomeLab(LinkSpec(down_mbit=10, up_mbit=5)) as lab:
        _igd(lab, variant)
        lab.spawn([sys.executable, "-m", "tests.lab.tcp_reference", "serve"])
        lab.wait_port(5201)
        load = lab.spawn([sys.executable, "-m", "tests.lab.tcp_reference", "run", "--host", lab.server_ip,
                          "--direction", "download", "--streams", "4", "--duration", "10"], ns="device")
        time.sleep(3)
        t0, b0 = time.monotonic(), lab.device_bytes()[0]
        router = json.loads(lab.pc_python(ROUTER.format(window=3.0, traffic=False)))
        t1, b1 = time.monotonic(), lab.device_bytes()[0]
        load.wait(20)
    truth = (b1 - b0) * 8 / (t1 - t0) / 1e6
    assert router["status"] == "ok" and router["device"] == "Lab router <test>"
    assert (router["line_down_mbps"], router["line_up_mbps"]) == (10.0, 5.0)
    assert abs(router["down_mbps"] - truth) <= 0.1 * truth, (router, truth)


def test_a_search_the_router_missed_is_sent_again():
    """The first M-SEARCH goes unanswered (as a datagram lost on the Wi-Fi): the search is repeated
    within the same second and the router is found."""
    require_lab()
    with HomeLab(LinkSpec()) as lab:
        lab.spawn([sys.executable, "-m", "tests.lab.igd_server", "--host", lab.gateway_ip, "--wan", "cclw",
                   "--miss", "1"], ns="gateway")
        time.sleep(0.5)
        router = json.loads(lab.pc_python(ROUTER.format(window=0.5, traffic=False)))
    assert router["status"] == "ok" and router["device"] == "Lab router <test>", router


@pytest.mark.parametrize("variant", ["stuck", "zero", "above_line", "packets_only"])
def test_a_lying_router_is_said_not_to_tell(variant):
    require_lab()
    with HomeLab(LinkSpec()) as lab:
        _igd(lab, variant)
        lab.spawn([sys.executable, "-m", "tests.lab.netlab", "echo", "--port", str(ECHO_PORT)])
        lab.wait_port(ECHO_PORT, "udp")
        router = json.loads(lab.pc_python(ROUTER.format(window=1.0, traffic=True)))
    assert (router["status"], router["problem"]) == ("error", variant)
    assert router["down_mbps"] is None


NAT_PROBE = """
import json, threading
from connectcheck.core.model import to_dict
from connectcheck.probes.nat import measure_nat
print(json.dumps(to_dict(measure_nat({servers!r}, cancel=threading.Event(), time_limit_s=3.0))))
"""


CGNAT_ADDRESS = "100.64.0.1"  # the provider's shared space (RFC 6598)


@pytest.mark.parametrize(("nat", "behaviour"), [
    (None, None), ("MASQUERADE", "endpoint_independent"),
    ("MASQUERADE --random-fully", "address_and_port_dependent"),
    (f"SNAT --to-source {CGNAT_ADDRESS}", "endpoint_independent"),
])
def test_the_nat_mapping_is_read_from_two_stun_servers_the_lab_starts(nat, behaviour):
    """The home router with no NAT, a Linux NAT that keeps one mapping per socket (RFC 4787's
    endpoint-independent mapping), one that picks a new port per destination (symmetric), and one
    whose outside address is in 100.64.0.0/10, as behind a provider's carrier-grade NAT."""
    require_lab(loss=False, delay=False)
    from tests.lab.homelab import GW, GW_WAN_IF
    from tests.lab.netlab import NAMESPACES, SERVER_IF, _run

    with HomeLab(LinkSpec()) as lab:
        _run(["ip", "-n", NAMESPACES["server"], "addr", "add", "10.77.2.3/24", "dev", SERVER_IF])
        servers = [f"{lab.server_ip}:3478", "10.77.2.3:3478", "10.77.2.3:3479"]
        for spec in servers:
            host, port = spec.split(":")
            lab.spawn([sys.executable, "-m", "tests.lab.stun_server", "--host", host, "--port", port])
            lab.wait_port(int(port), "udp")
        time.sleep(0.3)  # the second server on port 3478 (the port was already bound by the first)
        if nat and CGNAT_ADDRESS in nat:  # the shared-space address on the router's outside, routed back
            _run(["ip", "-n", GW, "addr", "add", f"{CGNAT_ADDRESS}/32", "dev", GW_WAN_IF])
            _run(["ip", "-n", NAMESPACES["router"], "route", "add", f"{CGNAT_ADDRESS}/32", "via",
                  "10.77.1.1"])
        if nat:
            _run(["ip", "netns", "exec", GW, "iptables", "-t", "nat", "-A", "POSTROUTING", "-o", GW_WAN_IF,
                  "-j", *nat.split()])
        found = json.loads(lab.pc_python(NAT_PROBE.format(servers=servers)))
    assert found["servers_answered"] == 3 and found["status"] == "ok", found
    assert (found["nat"], found["behaviour"]) == (nat is not None, behaviour), found
    assert found["cgnat"] is (CGNAT_ADDRESS in (nat or "")), found
    assert "10.77" not in json.dumps(found) and "100.64" not in json.dumps(found)  # no address kept
