"""Bounded name resolution: real lookups of local names, and resolvers that hang or fail.

No test here sends a DNS query anywhere: "localhost" and IP literals are answered by the system
without a name server, the failing resolver is getaddrinfo told to accept numeric hosts only,
and the hanging one is a real blocking call.
"""

import functools
import socket
import threading
import time

import pytest

from connectcheck.core.model import Status
from connectcheck.core.tasks import Deadline
from connectcheck.probes.dns import resolve, resolve_hosts, seconds_text

numeric_only = functools.partial(socket.getaddrinfo, flags=socket.AI_NUMERICHOST)


@pytest.fixture
def hanging_resolver():
    """A resolver that blocks until the test ends, as getaddrinfo does on a dead name server."""
    release = threading.Event()

    def resolver(host, port, **kwargs):
        release.wait(30)
        return socket.getaddrinfo("127.0.0.1", port, **kwargs)

    yield resolver
    release.set()


def test_localhost_resolves_and_is_timed():
    [result] = resolve_hosts(["localhost"], timeout_s=2.0, cancel=threading.Event())
    assert result.status is Status.OK, result.error
    assert result.error is None
    assert "127.0.0.1" in result.addresses
    assert result.dns_ms is not None and result.dns_ms >= 0


def test_addresses_are_listed_once_each_in_order():
    results = resolve_hosts(["127.0.0.1", "::1", "[::1]"], timeout_s=2.0, cancel=threading.Event())
    assert [r.addresses for r in results] == [["127.0.0.1"], ["::1"], ["::1"]]
    assert [r.host for r in results] == ["127.0.0.1", "::1", "::1"]


def test_a_name_that_cannot_be_found_says_so():
    [result] = resolve_hosts(["no-such-host.example"], timeout_s=2.0, cancel=threading.Event(),
                             resolver=numeric_only)
    assert result.status is Status.ERROR
    assert result.error == "the name could not be found (DNS has no address for it)"
    assert result.addresses == []


def test_a_resolver_failure_other_than_not_found_is_worded_plainly():
    def unreachable_server(host, port, **kwargs):
        raise socket.gaierror(socket.EAI_AGAIN, "Temporary failure in name resolution")

    [result] = resolve_hosts(["platform.example"], timeout_s=2.0, cancel=threading.Event(),
                             resolver=unreachable_server)
    assert result.status is Status.ERROR
    assert "could not be reached or did not answer" in result.error


def test_a_hanging_resolver_gives_up_at_the_bound(hanging_resolver):
    start = time.monotonic()
    results = resolve_hosts(["slow.example", "localhost"], timeout_s=0.5, cancel=threading.Event(),
                            resolver=lambda host, port, **kw: (
                                hanging_resolver(host, port, **kw) if host == "slow.example"
                                else socket.getaddrinfo(host, port, **kw)))
    elapsed = time.monotonic() - start
    assert elapsed < 0.5 + 0.3
    assert results[0].status is Status.TIMEOUT
    assert results[0].error == "the name server (DNS) did not answer within 0.5 s"
    assert results[0].dns_ms is None
    assert results[1].status is Status.OK  # the other name is not held up


def test_cancel_stops_the_wait_at_once(hanging_resolver):
    cancel = threading.Event()
    threading.Timer(0.2, cancel.set).start()
    start = time.monotonic()
    [result] = resolve_hosts(["slow.example"], timeout_s=10.0, cancel=cancel, resolver=hanging_resolver)
    assert time.monotonic() - start < 0.2 + 0.3
    assert result.status is Status.CANCELLED


def test_progress_is_reported_until_every_name_is_done():
    reports = []
    resolve_hosts(["localhost", "127.0.0.1"], timeout_s=2.0, cancel=threading.Event(),
                  progress=reports.append)
    assert reports[0].phase == "dns" and reports[0].fraction == 0.0
    assert reports[-1].fraction == 1.0


def test_nothing_to_resolve_returns_nothing():
    assert resolve_hosts([], timeout_s=1.0, cancel=threading.Event()) == []


def test_single_bounded_lookup_gives_socket_addresses(hanging_resolver):
    found, infos = resolve("localhost", 443, Deadline(2.0))
    assert found.status is Status.OK
    assert any(info[4][:2] == ("127.0.0.1", 443) for info in infos)
    found, infos = resolve("slow.example", 443, Deadline(0.2), resolver=hanging_resolver)
    assert found.status is Status.TIMEOUT and infos == []
    assert "within 0.2 s" in found.error


def test_seconds_in_words():
    assert seconds_text(2.0) == "2 s"
    assert seconds_text(0.5) == "0.5 s"
    assert seconds_text(1.2549) == "1.25 s"


def test_a_name_server_that_hangs_does_not_pile_up_threads():
    """A monitor asks every few seconds: a stuck lookup of the same name is joined, and no more
    than MAX_PENDING lookups wait at all (issue 17: 13 -> 93 threads in 90 s)."""
    import threading as _threading

    from connectcheck.core.tasks import Deadline
    from connectcheck.probes import dns

    hang = _threading.Event()

    def stuck(host, port, **kw):
        hang.wait(30)
        raise OSError("gave up")

    before = _threading.active_count()
    try:
        for _ in range(40):  # forty samples asking for the same STUN server's name
            result, infos = dns.resolve("stun.example.org", 3478, Deadline(0.02, _threading.Event()), stuck)
            assert result.status.value == "timeout" and infos == []
        assert _threading.active_count() - before <= 1
        for i in range(40):  # forty different names (settings with many servers)
            result, _ = dns.resolve(f"host{i}.example.org", 3478, Deadline(0.02, _threading.Event()), stuck)
        assert _threading.active_count() - before <= dns.MAX_PENDING
        assert "no more are started" in result.error
    finally:
        hang.set()
    assert wait_until(lambda: _threading.active_count() <= before + 1)


def wait_until(predicate, timeout_s=5.0):
    import time as _time

    end = _time.monotonic() + timeout_s
    while not predicate() and _time.monotonic() < end:
        _time.sleep(0.02)
    return predicate()


def test_the_address_a_dns_filter_gives_for_a_blocked_name_leads_nowhere():
    # Pi-hole, AdGuard Home and NextDNS answer a blocked name with 0.0.0.0 (and :: for IPv6)
    results = resolve_hosts(["0.0.0.0", "::", "127.0.0.1"], timeout_s=2.0, cancel=threading.Event())
    assert [r.status for r in results] == [Status.ERROR, Status.ERROR, Status.OK]
    assert results[0].error == ("the name server answered 0.0.0.0, the address a DNS filter gives for a "
                                "name it blocks, so the name leads nowhere")
    assert results[1].addresses == ["::"]
