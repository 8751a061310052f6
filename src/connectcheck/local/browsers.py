"""Web browsers: which are running, what they take (CPU, memory, traffic) and a rough count of
their page processes.

The count of content/renderer processes is a load indication, not a tab count: browsers share
one process between tabs of a site, and keep spare ones. Several browsers open at once is worth
saying, since the procedure asks tutors to keep only the whiteboard's.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from connectcheck.core.model import BrowserUsage
from connectcheck.local.base import ProcessInfo
from connectcheck.local.catalogue import BrowserEntry, Catalogue

ANCESTORS = 6  # how far up the parent chain a helper process is traced to its browser


def browser_of(pid: int, table: Mapping[int, ProcessInfo], catalogue: Catalogue) -> BrowserEntry | None:
    """The browser a process belongs to: by its own name, else by a parent's."""
    seen = 0
    while pid in table and seen <= ANCESTORS:
        entry = catalogue.browser_for(table[pid].name)
        if entry is not None:
            return entry
        parent = table[pid].ppid
        if parent is None or parent == pid:
            return None
        pid, seen = parent, seen + 1
    return None


def browser_usage(
    table: Mapping[int, ProcessInfo],
    catalogue: Catalogue,
    cmdline: Callable[[int], list[str]],
    cpu: Mapping[int, float] | None = None,
    rates: Mapping[int, tuple[float, float]] | None = None,
) -> list[BrowserUsage]:
    """One entry per running browser, the busiest (by memory) first.

    ``cpu``: % of one core per pid (None before CPU can be measured); ``rates``: (down, up) Mbit/s
    per pid where measured.
    """
    found: dict[str, BrowserUsage] = {}
    for pid, p in table.items():
        entry = browser_of(pid, table, catalogue)
        if entry is None:
            continue
        measured = 0.0 if rates is not None else None
        b = found.setdefault(
            entry.app,
            BrowserUsage(
                app=entry.app,
                memory_mb=0.0,
                down_mbps=measured,
                up_mbps=measured,
                cpu_pct=0.0 if cpu is not None else None,
            ),
        )
        b.processes += 1
        needs_args = bool(entry.content_args) and p.name.casefold() not in {
            n.casefold() for n in entry.content_names
        }
        if entry.is_content(p.name, cmdline(pid) if needs_args else []):
            b.content_processes += 1
        if p.memory_mb is not None:
            b.memory_mb = (b.memory_mb or 0.0) + p.memory_mb
        if cpu is not None:
            b.cpu_pct = (b.cpu_pct or 0.0) + cpu.get(pid, 0.0)
        if rates is not None and pid in rates:
            down, up = rates[pid]
            b.down_mbps, b.up_mbps = (b.down_mbps or 0.0) + down, (b.up_mbps or 0.0) + up
    for b in found.values():
        b.memory_mb = round(b.memory_mb or 0.0, 1)
        b.cpu_pct = None if b.cpu_pct is None else round(b.cpu_pct, 1)
    return sorted(found.values(), key=lambda b: -(b.memory_mb or 0.0))
