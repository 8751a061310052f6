"""The macOS backend run on Linux: nettop's recorded output parsed and diffed, route, pmset and
system_profiler replayed; the sample names programs from nettop even though they are not here."""

from __future__ import annotations

import os
import sys
import time

import pytest

from connectcheck.core.model import Status
from connectcheck.local import sample_local
from connectcheck.local.macos import MacBackend, NettopMeter, parse_nettop, parse_pmset, parse_route_get
from tests.local.replay import Replay, recorded


def test_nettop_lines():
    rows = {r.pid: r for r in parse_nettop(recorded("nettop_first.csv"))}
    assert rows[1520].name == "Google Chrome H" and rows[1520].bytes_in == 184023331
    assert rows[5120].name == "Foo, Bar.app"  # commas and dots in a name
    assert 0 not in rows and len(rows) == 10


def test_nettop_meter_diffs_two_readings():
    meter = NettopMeter(Replay({("nettop",): ["nettop_first.csv", "nettop_second.csv"]}))
    assert meter.read() == {}
    flows = meter.read()
    assert flows[3001].down_bytes == 6_750_000 and flows[3001].up_bytes == 150_000
    assert flows[3001].name == "Steam Helper"
    assert flows[5500].down_bytes == 3_000_000  # a program that appeared between the readings
    assert 2998 not in flows and 1 not in flows  # nothing moved


def test_nettop_leaves_loopback_out_unless_asked():
    run = Replay({("nettop",): ["nettop_first.csv"]})
    NettopMeter(run).read()
    NettopMeter(run, loopback=True).read()
    assert run.calls[0][-2:] == ("-t", "external") and "-t" not in run.calls[1]


def test_route_and_pmset():
    assert parse_route_get(recorded("route_get_macos.txt")) == "en0"
    assert parse_pmset(recorded("pmset_low_power.txt")) is True
    assert parse_pmset("System-wide power settings:\n sleep 1\n") is None


def test_a_forced_macos_sample():
    run = Replay(
        {
            ("nettop",): ["nettop_first.csv", "nettop_second.csv"],
            ("system_profiler",): ["system_profiler_weak_redacted.json"],
            ("route",): ["route_get_macos.txt"],
            ("pmset",): ["pmset_low_power.txt"],
        }
    )
    f = sample_local(window_s=1.0, backend=MacBackend(run=run))
    assert f.os == "macos" and f.backend == "nettop" and f.status is Status.OK
    steam = next(p for p in f.processes if p.pid == 3001)
    assert steam.app == "Steam" and steam.rate_source == "measured"
    assert steam.down_mbps == pytest.approx(6_750_000 * 8 / 1e6 / f.window_s, rel=0.005)
    chrome = next(p for p in f.processes if p.pid == 1520)
    assert chrome.app == "Google Chrome" and chrome.category == "browser"
    assert f.processes[0].pid == 3001  # the top consumer
    zoom = next(p for p in f.processes if p.pid == 4100)
    assert zoom.app == "Zoom" and zoom.advice_key == "close_call_app"
    assert f.wifi.signal_dbm == -79.0 and f.system.power_saver is True


def test_hanging_tools_are_cut_off_within_the_time_bound(tmp_path, monkeypatch):
    """Real commands that never answer (nettop, system_profiler, route, pmset) on the PATH."""
    for tool in ("nettop", "system_profiler", "route", "pmset"):
        path = tmp_path / tool
        path.write_text(f"#!{sys.executable}\nimport time\ntime.sleep(60)\n")
        path.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")
    start = time.monotonic()
    f = sample_local(window_s=1.0, backend=MacBackend())
    assert time.monotonic() - start < 1.0 + 2.5 + 0.5
    assert f.sections["rates"].status is Status.ERROR and "nettop did not answer" in f.sections["rates"].error
    assert f.sections["wifi"].status is Status.TIMEOUT
