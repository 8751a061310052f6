"""The plain-text rendering and ``connectcheck top``: units on every number, names made safe
for the terminal, in-place refresh on a terminal, appending into a pipe, Ctrl-C ends cleanly."""

from __future__ import annotations

import io
import os
import re
import signal
import subprocess
import sys
import threading
import time

from connectcheck.cli.text import format_local, run_top
from connectcheck.core.model import (
    BrowserUsage,
    InterfaceUsage,
    LocalFindings,
    ProcessUsage,
    Section,
    Status,
    SystemLoad,
    WifiInfo,
)
from tests.local.generators import REPO_ROOT


def findings() -> LocalFindings:
    return LocalFindings(
        os="windows",
        backend="estimate",
        window_s=3.0,
        connection_type="wifi",
        interfaces=[InterfaceUsage("Wi-Fi", "wifi", True, 21.5, 1.25, 866.0)],
        processes=[
            ProcessUsage(
                "steam.exe",
                4242,
                "Steam",
                "game_launcher",
                "pause_game_launcher",
                18.2,
                0.4,
                "estimate",
                3,
                4.5,
                310.0,
            ),
            ProcessUsage("evil\x1b[2Jname", 77, down_mbps=0.5, up_mbps=0.05, rate_source="estimate"),
        ],
        unattributed_down_mbps=2.3,
        unattributed_up_mbps=0.1,
        hungry_apps=[
            ProcessUsage(
                "steam.exe", 4242, "Steam", "game_launcher", "pause_game_launcher", 18.2, 0.4, "estimate"
            ),
            ProcessUsage("OneDrive.exe", 900, "OneDrive", "cloud_sync", "pause_cloud_sync"),
        ],
        browsers=[
            BrowserUsage("Google Chrome", 14, 9, 22.5, 1834.2, 1.5, 0.2),
            BrowserUsage("Firefox", 6, 3),
        ],
        wifi=WifiInfo(
            interface="Wi-Fi", signal_pct=34.0, link_rate_mbps=72.2, frequency_mhz=2412.0, connected=True
        ),
        system=SystemLoad(
            cpu_pct=91.5,
            cpu_pct_per_core=[88.0, 95.0],
            memory_used_pct=93.0,
            memory_available_mb=512.0,
            battery_pct=41.0,
            on_battery=True,
            power_saver=True,
            busiest=[ProcessUsage("chrome.exe", 10, "Google Chrome", cpu_pct=60.0)],
        ),
        sections={
            "rates": Section(Status.OK),
            "wifi": Section(Status.OK),
            "system": Section(Status.ERROR, "the processor load could not be read (denied)"),
        },
        notes=["Windows does not count each program's traffic."],
    )


def test_everything_is_said_with_units():
    text = format_local(findings())
    for expected in (
        "Steam (steam.exe) [4242]",
        "~18.2 Mbit/s",
        "not traced to a program",
        "2.3 Mbit/s",
        "OneDrive",
        "rate not known",
        "Google Chrome",
        "9 page processes",
        "memory 1,834 MB",
        "2 browsers are open",
        "Connection: Wi-Fi via Wi-Fi",
        "signal 34 %",
        "link 72.2 Mbit/s",
        "2.4 GHz",
        "processor 91.5 % busy",
        "battery 41 %, on battery",
        "power saver on",
        "Could not tell",
        "denied",
        "~ an estimate",
    ):
        assert expected in text, expected
    assert "\x1b" not in text and "evil?[2Jname" in text


def test_columns_are_aligned():
    lines = format_local(findings()).splitlines()
    rows = [line for line in lines if "Mbit/s" in line and ("[4242]" in line or "[77]" in line)]
    assert len(rows) == 2 and len({r.index("Mbit/s") for r in rows}) == 1


def test_nothing_measured_yet():
    text = format_local(
        LocalFindings(
            os="linux",
            backend="sock_diag",
            sections={"rates": Section(Status.SKIPPED, "the rates come with the next sample")},
        )
    )
    assert "the rates come with the next sample" in text and "none running" in text


def test_top_appends_into_a_pipe(loopback_backend):
    out = io.StringIO()
    assert run_top(out, interval_s=0.3, iterations=2, backend=loopback_backend) == 0
    text = out.getvalue()
    assert text.count("connectcheck top —") == 3 and "\x1b[" not in text
    assert "the rates come in a moment" in text and re.search(r"\(over 0\.\d+ s\)", text)


def test_top_redraws_in_place_on_a_terminal(loopback_backend):
    master, slave = os.openpty()
    chunks = []

    def read() -> None:
        try:
            while data := os.read(master, 65536):
                chunks.append(data)
        except OSError:  # the terminal was closed
            pass

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    with open(slave, "w", closefd=True) as out:
        assert run_top(out, interval_s=0.2, iterations=1, backend=loopback_backend) == 0
    reader.join(2)
    os.close(master)
    text = b"".join(chunks).decode()
    assert text.startswith("\x1b[H\x1b[J") and text.count("\x1b[H\x1b[J") == 2


def test_top_stops_when_cancelled(loopback_backend):
    cancel = threading.Event()
    threading.Timer(0.5, cancel.set).start()
    start = time.monotonic()
    assert run_top(io.StringIO(), interval_s=5.0, cancel=cancel, backend=loopback_backend) == 0
    assert time.monotonic() - start < 1.5


def test_ctrl_c_ends_top_cleanly():
    code = ("import sys; from connectcheck.cli.text import run_top; "
            "sys.exit(run_top(sys.stdout, interval_s=0.5))")
    proc = subprocess.Popen(
        [sys.executable, "-c", code], cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    time.sleep(2.0)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=10)
    assert proc.returncode == 0 and "Traceback" not in err
    assert "connectcheck top —" in out
