"""Fixtures of the local/ tests: a loopback sink, and a private network namespace for tests that
need traffic to really leave this computer's stack (root only)."""

from __future__ import annotations

import os
import shutil

import pytest

from connectcheck.local.backends import get_backend
from connectcheck.local.base import Scope
from tests.local.generators import namespace_link, sink


@pytest.fixture
def loopback_sink():
    with sink() as port:
        yield port


@pytest.fixture
def loopback_backend():
    """The Linux backend counting loopback traffic: both ends of every connection are here."""
    return get_backend("linux", scope=Scope(uplinks=frozenset({"lo"}), loopback=True))


@pytest.fixture
def netns_link():
    """A network namespace joined to this one by a veth pair: (namespace, host-side card)."""
    if os.geteuid() != 0:
        pytest.skip("needs root to create a network namespace")
    if shutil.which("ip") is None:
        pytest.skip("needs the ip command (iproute2)")
    with namespace_link() as link:
        yield link
