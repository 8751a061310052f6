"""Re-check: what changed since the previous check."""

from connectcheck.assess import assess_check
from connectcheck.core.model import Connectivity

from .fixtures import check, local, offline_check, program


def test_the_issue_example_after_steam_was_paused():
    before = check(download_mbps=2.1, upload_mbps=0.4, rtt_increase_ms=180,
                   local=local(processes=[program("Steam", "game_launcher", 18.2, 0.3)]))
    after = check(download_mbps=8.9, upload_mbps=0.42, rtt_increase_ms=20,
                  local=local(processes=[program("Steam", "game_launcher", 0.0, 0.0)]))
    changes = assess_check(after, previous=before).changes
    assert changes[0] == "download 2.1 → 8.9 Mbit/s (better) after Steam was paused"
    assert "delay when busy 180 → 20 ms (better)" in changes
    assert not any(c.startswith("upload") for c in changes)  # 0.4 → 0.42: noise
    assert "sound: now good (was failing)" in changes
    assert "whiteboard: now weak (was weak)" not in changes


def test_a_closed_program_and_a_worse_line():
    before = check(download_mbps=20.0, local=local(processes=[program("OneDrive", "cloud_sync", 0.2, 4.0)]))
    after = check(download_mbps=6.0, jitter_ms=25.0, local=local())
    changes = assess_check(after, previous=before).changes
    assert changes[0] == "download 20 → 6 Mbit/s (worse)"
    assert "delay variation 2.1 → 25 ms (worse)" in changes
    assert "no clear improvement, although OneDrive was closed" in changes
    assert "sound: now weak (was good)" in changes


def test_connection_back_and_unknown_values_are_not_compared():
    changes = assess_check(check(), previous=offline_check()).changes
    assert changes[0] == "the connection is back (the previous check found none)"
    assert not any("→" in c for c in changes)  # nothing was measured before
    assert "video: now good (was failing)" in changes


def test_no_change_says_nothing():
    assert assess_check(check(), previous=check()).changes == []


def test_connection_lost():
    previous = check()
    current = offline_check()
    assert current.connectivity is Connectivity.OFFLINE
    changes = assess_check(current, previous=previous).changes
    assert changes[0] == "the connection is gone (the previous check had one)"
