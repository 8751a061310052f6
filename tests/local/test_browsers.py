"""Browsers: real processes named like a browser and its page processes, found with their
counts; and the grouping rules on a process table."""

from __future__ import annotations

import time

from connectcheck.local import sample_local
from connectcheck.local.base import ProcessInfo
from connectcheck.local.browsers import browser_of, browser_usage
from connectcheck.local.catalogue import load_catalogue
from tests.local.generators import idle


def test_running_browsers_are_found_with_their_page_processes(loopback_backend):
    with (
        idle(
            "chrome",
            children=("chrome:--type=renderer", "chrome:--type=renderer", "chrome:--type=gpu-process"),
        ),
        idle(
            "firefox",
            children=("Isolated Web Co", "Isolated Web Co", "Isolated Web Co", "RDD Process", "cc-helper"),
        ),
    ):
        time.sleep(1.0)  # the children start
        f = sample_local(window_s=1.0, backend=loopback_backend)
    found = {b.app: b for b in f.browsers}
    assert found["Google Chrome"].processes == 4 and found["Google Chrome"].content_processes == 2
    assert (
        found["Firefox"].processes == 6 and found["Firefox"].content_processes == 3
    )  # cc-helper by its parent
    for b in found.values():
        assert b.memory_mb > 10 and b.cpu_pct is not None and b.down_mbps == 0.0
    assert all(a.category != "browser" for a in f.hungry_apps)


def test_helpers_are_traced_to_their_browser_by_parent():
    cat = load_catalogue("windows")
    table = {
        1: ProcessInfo(1, "explorer.exe"),
        10: ProcessInfo(10, "msedge.exe", 1),
        11: ProcessInfo(11, "identity_helper.exe", 10),
        12: ProcessInfo(12, "notepad.exe", 1),
    }
    assert browser_of(11, table, cat).app == "Microsoft Edge"
    assert browser_of(12, table, cat) is None
    loop = {5: ProcessInfo(5, "a", 6), 6: ProcessInfo(6, "b", 5)}  # a broken parent chain ends
    assert browser_of(5, loop, cat) is None


def test_usage_adds_up_cpu_memory_and_traffic():
    cat = load_catalogue("windows")
    table = {
        10: ProcessInfo(10, "chrome.exe", 1, 5.0, 300.0),
        11: ProcessInfo(11, "chrome.exe", 10, 1.0, 120.5),
        20: ProcessInfo(20, "firefox.exe", 1, 2.0, 400.0),
    }
    argv = {10: ["chrome.exe"], 11: ["chrome.exe", "--type=renderer"], 20: ["firefox.exe"]}
    usage = browser_usage(table, cat, lambda pid: argv[pid], cpu={10: 3.0, 11: 12.5}, rates={11: (2.5, 0.5)})
    assert [b.app for b in usage] == ["Google Chrome", "Firefox"]  # by memory
    chrome = usage[0]
    assert (chrome.processes, chrome.content_processes, chrome.cpu_pct, chrome.memory_mb) == (
        2,
        1,
        15.5,
        420.5,
    )
    assert (chrome.down_mbps, chrome.up_mbps) == (2.5, 0.5)
    assert usage[1].down_mbps == 0.0 and usage[1].cpu_pct == 0.0
    first = browser_usage(table, cat, lambda pid: argv[pid])  # before CPU and rates can be measured
    assert first[0].cpu_pct is None and first[0].down_mbps is None
