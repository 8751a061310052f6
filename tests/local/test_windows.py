"""The Windows backend: its parsers on recorded outputs, and its estimate run for real on Linux
(psutil's connections and I/O counters work here too)."""

from __future__ import annotations

import time

from connectcheck.core.model import Status
from connectcheck.local import Scope, sample_local
from connectcheck.local.windows import WindowsBackend, parse_powercfg, parse_route_print
from tests.local.generators import sender
from tests.local.replay import Replay, recorded


def test_route_print_defaults_best_metric_first():
    assert parse_route_print(recorded("route_print_windows.txt")) == ["10.8.0.6", "192.168.1.23"]


def test_powercfg_in_any_language():
    assert parse_powercfg(recorded("powercfg_saver.txt")) is True
    assert parse_powercfg(recorded("powercfg_balanced_fr.txt")) is False
    assert parse_powercfg("") is None


def test_a_forced_windows_sample_names_programs_with_estimates(loopback_sink):
    run = Replay({("netsh",): ["netsh_location_refused.txt"], ("powercfg",): ["powercfg_saver.txt"]})
    backend = WindowsBackend(run=run, scope=Scope(uplinks=frozenset({"lo"}), loopback=True))
    with sender("steam.exe", f"127.0.0.1:{loopback_sink}", 4) as proc:
        time.sleep(0.3)
        f = sample_local(window_s=1.5, backend=backend)
    assert f.backend == "estimate" and f.status is Status.OK and "estimates" in f.notes[0]
    steam = [a for a in f.hungry_apps if a.pid == proc.pid]
    assert steam and steam[0].app == "Steam" and steam[0].rate_source == "estimate"
    assert steam[0].up_mbps is not None and steam[0].up_mbps >= 0.0
    held = [p for p in f.processes if p.pid == proc.pid]
    assert all(p.rate_source == "estimate" and p.connections >= 1 for p in held)
    assert f.wifi.status is Status.UNAVAILABLE and "Location" in f.wifi.error
    assert f.sections["wifi"].status is Status.UNAVAILABLE and f.system.power_saver is True
