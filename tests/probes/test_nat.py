"""How this network maps calls (RFC 5780's mapping test against two STUN servers): real STUN servers
on 127.0.0.1 and 127.0.0.2 (no NAT on loopback), and the reading of what servers saw. The lab
(tests/lab/test_home.py) puts a real NAT of each kind on the home router."""

from __future__ import annotations

import threading
import time

from connectcheck.core.model import Status
from connectcheck.probes.nat import classify, measure_nat
from tests.lab.endpoints import BlackHole
from tests.lab.stun_server import StunServer

A, B = ("198.51.100.1", 3478), ("203.0.113.7", 3478)
B2 = ("203.0.113.7", 3479)
HERE = ("192.168.1.20", 40000)


def test_two_servers_on_loopback_see_this_computers_own_address_so_there_is_no_nat():
    with StunServer("127.0.0.1") as one, StunServer("127.0.0.2") as two:
        found = measure_nat([one.address, two.address], cancel=threading.Event(), time_limit_s=2.0)
    assert found.status is Status.OK and found.nat is False and found.behaviour is None
    assert found.servers_answered == 2 and found.requests >= 2 and found.cgnat is False
    assert "127.0.0" not in repr(found)  # no address is kept


def test_one_server_answering_tells_no_nat_but_no_behaviour_and_the_wait_is_bounded():
    with StunServer("127.0.0.1") as one, BlackHole("127.0.0.2") as hole:
        started = time.monotonic()
        found = measure_nat([one.address, f"127.0.0.2:{hole.udp_port}"], cancel=threading.Event(),
                            time_limit_s=0.6)
        took = time.monotonic() - started
    assert found.servers_answered == 1 and found.nat is False and found.behaviour is None
    assert took < 1.0 and found.requests >= 3  # the silent one was asked again within the bound
    alone = measure_nat(["127.0.0.1:3478"], cancel=threading.Event())
    assert alone.status is Status.UNAVAILABLE and "two STUN servers" in alone.error


def test_what_the_servers_saw_is_read_as_rfc_5780_says():
    public = ("81.2.69.160", 51000)
    assert classify(HERE, [(A, HERE), (B, HERE)]) == (None, False)
    assert classify(HERE, [(A, public), (B, public)]) == ("endpoint_independent", True)
    assert classify(HERE, [(A, public), (B, ("81.2.69.160", 51001))]) == ("dependent", True)
    assert classify(HERE, [(A, public), (B, ("81.2.69.160", 51001)), (B2, ("81.2.69.160", 51001))]) == (
        "address_dependent", True)
    assert classify(HERE, [(A, public), (B, ("81.2.69.160", 51001)), (B2, ("81.2.69.160", 51002))]) == (
        "address_and_port_dependent", True)
    assert classify(HERE, [(B, public), (B2, public)]) == (None, True)  # one server address: not enough
    assert classify(HERE, []) == (None, None)
