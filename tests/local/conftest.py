"""Fixtures of the local/ tests: a loopback sink, and a private network namespace for tests that
need traffic to really leave this computer's stack (root only)."""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import uuid

import pytest

from connectcheck.local.base import Scope, get_backend
from tests.local.generators import sink

# Addresses of the private veth link the namespace tests build (their own, not the shared lab's).
HOST_IP, PEER_IP = "10.79.1.1", "10.79.1.2"
LOCK_PATH = "/tmp/connectcheck-local-netns.lock"


@pytest.fixture
def loopback_sink():
    with sink() as port:
        yield port


@pytest.fixture
def loopback_backend():
    """The Linux backend counting loopback traffic: both ends of every connection are here."""
    return get_backend("linux", scope=Scope(uplinks=frozenset({"lo"}), loopback=True))


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, text=True)


@pytest.fixture
def netns_link():
    """A network namespace joined to this one by a veth pair: (namespace, host-side card).

    Traffic to PEER_IP leaves through the host-side card like traffic to the internet leaves
    through a real one, and the far end's sockets are not this namespace's.
    """
    if os.geteuid() != 0:
        pytest.skip("needs root to create a network namespace")
    if shutil.which("ip") is None:
        pytest.skip("needs the ip command (iproute2)")
    tag = uuid.uuid4().hex[:6]
    ns, host_if, peer_if = f"ccloc-{tag}", f"cclh{tag}", f"cclp{tag}"
    lock = open(LOCK_PATH, "w")  # one such link at a time: they share their addresses
    fcntl.flock(lock, fcntl.LOCK_EX)
    _ip("netns", "add", ns)
    try:
        _ip("link", "add", host_if, "type", "veth", "peer", "name", peer_if)
        _ip("link", "set", peer_if, "netns", ns)
        _ip("addr", "add", f"{HOST_IP}/30", "dev", host_if)
        _ip("link", "set", host_if, "up")
        _ip("-n", ns, "addr", "add", f"{PEER_IP}/30", "dev", peer_if)
        _ip("-n", ns, "link", "set", peer_if, "up")
        _ip("-n", ns, "link", "set", "lo", "up")
        yield ns, host_if
    finally:
        subprocess.run(["ip", "link", "del", host_if], capture_output=True)
        subprocess.run(["ip", "netns", "del", ns], capture_output=True)
        lock.close()
