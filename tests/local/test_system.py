"""CPU per core and per program, the busiest programs, memory and battery."""

from __future__ import annotations

import os
import time

import psutil

from connectcheck.local.base import ProcessInfo
from connectcheck.local.catalogue import load_catalogue
from connectcheck.local.linux import LinuxBackend
from connectcheck.local.system import busiest, cpu_per_core, process_cpu, system_load


def test_process_cpu_leaves_reused_pids_out():
    before = {1: ProcessInfo(1, "a", cpu_s=10.0), 2: ProcessInfo(2, "b", cpu_s=5.0)}
    after = {
        1: ProcessInfo(1, "a", cpu_s=11.0),
        2: ProcessInfo(2, "other", cpu_s=0.1),
        3: ProcessInfo(3, "c", cpu_s=1),
    }
    assert process_cpu(before, after, 2.0) == {1: 50.0}


def test_idle_time_is_no_program():
    table = {0: ProcessInfo(0, "System Idle Process"), 8: ProcessInfo(8, "Zoom.exe")}
    top = busiest(table, {0: 180.0, 8: 12.0}, load_catalogue("windows"))
    assert [(p.pid, p.app, p.cpu_pct) for p in top] == [(8, "Zoom", 12.0)]


def test_a_busy_program_is_named_busiest():
    backend = LinuxBackend()
    before, cores_before = backend.processes(), psutil.cpu_times(percpu=True)
    end = time.monotonic() + 0.6
    while time.monotonic() < end:  # this process keeps one core busy
        pass
    after, cores_after = backend.processes(), psutil.cpu_times(percpu=True)
    cpu = process_cpu(before, after, 0.6)
    top = busiest(after, cpu, load_catalogue("linux"))
    me = [p for p in top if p.pid == os.getpid()]  # others' tests may be busier on this shared machine
    assert me and me[0].cpu_pct > 30 and top == sorted(top, key=lambda p: -p.cpu_pct)
    others = busiest(after, cpu, load_catalogue("linux"), exclude_pids={os.getpid()})
    assert all(p.pid != os.getpid() for p in others)
    cores = cpu_per_core(cores_before, cores_after)
    assert len(cores) == os.cpu_count() and max(cores) > 40 and all(0 <= c <= 100 for c in cores)


def test_system_load_now():
    load = system_load([20.0, 60.0], [], None)
    assert load.cpu_pct == 40.0 and 0 < load.memory_used_pct < 100 and load.memory_available_mb > 0
    battery = psutil.sensors_battery()
    assert (load.battery_pct is None) == (battery is None)
    assert system_load(None, [], True).cpu_pct is None
