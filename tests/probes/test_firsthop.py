"""The first hop (home router) probe against real services the tests start on 127.0.0.1: a DNS
forwarder answering from its cache, a web page, and a router that answers nothing. The lab's
tests (tests/lab/test_home.py) measure a real gateway across an impaired Wi-Fi segment."""

from __future__ import annotations

import socket
import threading
import time

from connectcheck.core.model import Status
from connectcheck.probes import icmp
from connectcheck.probes.firsthop import (
    NO_GATEWAY_TEXT,
    UNKNOWN_TEXT,
    HopPorts,
    HopSampler,
    choose_target,
    hop_target,
    measure_first_hop,
)
from connectcheck.probes.latency import LatencyTarget, encode_dns_question, measure_latency
from tests.lab.endpoints import BlackHole, dead_port
from tests.lab.gateway import DnsResponder, dns_answer


def test_a_dns_query_counts_as_answered_whatever_its_code():
    with DnsResponder() as dns:
        target = LatencyTarget("dns", "127.0.0.1", dns.port, question="example.org")
        result = measure_latency([target], count=20, interval_s=0.005, timeout_s=0.5, time_limit_s=3,
                                 cancel=threading.Event())[0]
    assert result.status is Status.OK and result.samples == 20 and result.loss_pct == 0
    assert result.rtt_ms_median < 50


def test_dns_question_encoding_and_the_answer_is_matched_by_its_id():
    assert encode_dns_question(".", 2) == b"\0\0\x02\0\x01"
    assert encode_dns_question("a.bc") == b"\x01a\x02bc\0\0\x01\0\x01"
    query = b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00" + encode_dns_question("a.bc")
    answer = dns_answer(query)
    assert answer[:2] == b"\x12\x34" and answer[2] & 0x80 and answer[12:] == query[12:]
    assert dns_answer(answer) is None  # an answer is never answered


def test_the_best_method_the_router_answers_is_chosen_and_the_others_say_why():
    web = socket.create_server(("127.0.0.1", 0))
    try:
        closed = dead_port()
        with DnsResponder() as dns:
            target, tried = choose_target("127.0.0.1", cancel=threading.Event(), icmp_allowed=False,
                                          ports=HopPorts(dns=dns.port, tcp=(closed, web.getsockname()[1])))
            assert target.method == "dns" and target.port == dns.port and tried == []
        target, tried = choose_target("127.0.0.1", cancel=threading.Event(), icmp_allowed=False,
                                      ports=HopPorts(dns=closed, tcp=(closed, web.getsockname()[1])))
        assert (target.method, target.port) == ("tcp", web.getsockname()[1])
        assert tried[0].startswith("DNS query: ") and tried[1].startswith(f"connection to port {closed}: ")
    finally:
        web.close()


def test_ping_where_the_system_forbids_it_is_said_and_the_next_method_used():
    """This machine's ping_group_range decides; either way the result says what was used and why."""
    with DnsResponder() as dns:
        hop = measure_first_hop("127.0.0.1", count=30, interval_s=0.005, cancel=threading.Event(),
                                ports=HopPorts(dns=dns.port, tcp=()), source="given")
    assert hop.status is Status.OK and hop.idle.samples == 30
    if icmp.unavailable_reason() is None:
        assert hop.method == "icmp" and hop.tried == []
    else:
        assert hop.method == "dns" and hop.tried == [f"ping: {icmp.UNAVAILABLE_TEXT}"]
        assert hop.target == f"127.0.0.1:{dns.port}"
    assert hop.idle.rtt_ms_samples == [] and hop.idle.rtt_ms_median is not None


def test_a_router_that_answers_nothing_is_unknown_within_its_bound():
    with BlackHole() as hole:
        started = time.monotonic()
        hop = measure_first_hop("127.0.0.1", cancel=threading.Event(), icmp_allowed=False,
                                ports=HopPorts(dns=hole.udp_port, tcp=(hole.port,)), time_limit_s=2)
        took = time.monotonic() - started
    assert hop.status is Status.UNAVAILABLE and hop.error == UNKNOWN_TEXT and hop.idle is None
    assert len(hop.tried) == 2 and took < 1.5


def test_no_gateway_is_unknown_at_once():
    hop = measure_first_hop(None, cancel=threading.Event())
    assert (hop.status, hop.error, hop.method) == (Status.UNAVAILABLE, NO_GATEWAY_TEXT, None)


def test_cancel_ends_it_within_a_second():
    cancel = threading.Event()
    with DnsResponder() as dns:
        threading.Timer(0.3, cancel.set).start()
        started = time.monotonic()
        hop = measure_first_hop("127.0.0.1", count=1000, interval_s=0.01, time_limit_s=20, cancel=cancel,
                                icmp_allowed=False, ports=HopPorts(dns=dns.port, tcp=()))
    assert time.monotonic() - started < 1.3 and hop.status is Status.CANCELLED


def test_the_router_is_probed_again_under_load_on_the_method_it_answered():
    with DnsResponder() as dns:
        hop = measure_first_hop("127.0.0.1", count=10, interval_s=0.005, cancel=threading.Event(),
                                icmp_allowed=False, ports=HopPorts(dns=dns.port, tcp=()))
        target = hop_target(hop)
        assert (target.method, target.port) == ("dns", dns.port)
        sampler = HopSampler(target, interval_s=0.02)
        sampler.start()
        time.sleep(0.5)
        samples = sampler.stop()
    assert len(samples) >= 15 and all(rtt is not None for _, rtt in samples)
    assert sampler.bytes_used > 0
