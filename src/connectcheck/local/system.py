"""The rest of the computer: CPU load per core and the busiest programs, memory pressure, battery
and power saver. A computer that is overloaded makes sound and video stutter whatever the line.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from typing import Any

import psutil

from connectcheck.core.model import ProcessUsage, SystemLoad
from connectcheck.local.base import ProcessInfo
from connectcheck.local.catalogue import Catalogue

BUSIEST = 5  # programs named in the busiest list
MIN_BUSY_PCT = 1.0  # of one core: below this a program is not "busy"
MB = 1024 * 1024


def process_cpu(
    before: Mapping[int, ProcessInfo], after: Mapping[int, ProcessInfo], seconds: float
) -> dict[int, float]:
    """CPU use of each process between two tables, in % of one core (a reused pid is left out)."""
    out = {}
    for pid, p in after.items():
        q = before.get(pid)
        if q is None or q.name != p.name or p.cpu_s is None or q.cpu_s is None or seconds <= 0:
            continue
        out[pid] = max(0.0, (p.cpu_s - q.cpu_s) / seconds * 100)
    return out


def _busy_fraction(before: Any, after: Any) -> float:
    def total(t: Any) -> float:  # Linux counts guest time inside user time already
        return sum(t) - getattr(t, "guest", 0.0) - getattr(t, "guest_nice", 0.0)

    spent = total(after) - total(before)
    idle = (after.idle + getattr(after, "iowait", 0.0)) - (before.idle + getattr(before, "iowait", 0.0))
    return 0.0 if spent <= 0 else min(100.0, max(0.0, 100 * (spent - idle) / spent))


def cpu_per_core(before: Sequence[Any], after: Sequence[Any]) -> list[float]:
    """Each core's load in % between two ``psutil.cpu_times(percpu=True)`` readings."""
    return [round(_busy_fraction(b, a), 1) for b, a in zip(before, after, strict=False)]


def busiest(
    table: Mapping[int, ProcessInfo],
    cpu: Mapping[int, float],
    catalogue: Catalogue,
    exclude_pids: Collection[int] = (),
) -> list[ProcessUsage]:
    """The programs using the most CPU, busiest first (Windows' "System Idle Process", pid 0, is
    idle time, not a program)."""
    ranked = sorted(
        ((pct, pid) for pid, pct in cpu.items() if pct >= MIN_BUSY_PCT and pid and pid not in exclude_pids),
        reverse=True,
    )[:BUSIEST]
    out = []
    for pct, pid in ranked:
        p = table[pid]
        entry = catalogue.app_for(p.name)
        out.append(
            ProcessUsage(
                name=p.name,
                pid=pid,
                app=entry.app if entry else None,
                category=entry.category if entry else None,
                advice_key=entry.advice_key if entry else None,
                cpu_pct=round(pct, 1),
                memory_mb=p.memory_mb,
            )
        )
    return out


def system_load(cores: list[float] | None, top: list[ProcessUsage], power_saver: bool | None) -> SystemLoad:
    """Memory and battery now, with the CPU figures measured over the window (None: not yet)."""
    load = SystemLoad(cpu_pct_per_core=cores or [], busiest=top, power_saver=power_saver)
    if cores:
        load.cpu_pct = round(sum(cores) / len(cores), 1)
    memory = psutil.virtual_memory()
    load.memory_used_pct = round(memory.percent, 1)
    load.memory_available_mb = round(memory.available / MB, 1)
    battery = psutil.sensors_battery() if hasattr(psutil, "sensors_battery") else None
    if battery is not None:
        load.battery_pct = round(battery.percent, 1)
        load.on_battery = None if battery.power_plugged is None else not battery.power_plugged
    return load
