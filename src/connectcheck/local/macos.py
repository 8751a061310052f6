"""macOS: per-program bytes from ``nettop`` (TCP and UDP alike), the rest from psutil and the
system's own tools (``route``, ``pmset``, ``system_profiler``).

``nettop -P -L 1 -x -J bytes_in,bytes_out`` prints one CSV line per program, ``name.pid`` and
its byte counts since it started; two of them some seconds apart give the rates.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass

from connectcheck.core.model import WifiInfo
from connectcheck.local import wifi as wifi_readers
from connectcheck.local.base import Flow, LocalBackend, TrafficMeter
from connectcheck.local.commands import PLAIN_LOCALE, Runner

NETTOP_TIMEOUT_S = 1.5  # twice this (first and last reading) fits in sample_local's extra time


class NettopError(RuntimeError):
    """nettop could not be run or its output read."""


@dataclass(frozen=True)
class NettopRow:
    name: str
    pid: int
    bytes_in: int
    bytes_out: int


# Some macOS releases start every row with the time of the reading ("00:39:56.876945,apsd.576,0,0,"),
# under a header "time,,bytes_in,bytes_out,"; others print ",bytes_in,bytes_out," and no time.
_NETTOP_TIME = re.compile(r"^\d{1,2}:\d{2}:\d{2}(?:\.\d+)?,")


def parse_nettop(text: str) -> list[NettopRow]:
    """The per-process lines of ``nettop -P -x -J bytes_in,bytes_out`` output.

    A line is ``name.pid,bytes_in,bytes_out,``, after a leading time column on the macOS releases
    that print one; names may hold dots, spaces and commas, so the numbers are taken from the right.
    Header lines and anything else are skipped.
    """
    rows = []
    for line in text.splitlines():
        line = _NETTOP_TIME.sub("", line.strip(), count=1)
        parts = line.rstrip(",").rsplit(",", 2)
        if len(parts) != 3:
            continue
        who, bytes_in, bytes_out = parts
        name, dot, pid = who.rpartition(".")
        if not dot or not name or not pid.isdigit() or not bytes_in.isdigit() or not bytes_out.isdigit():
            continue
        rows.append(NettopRow(name, int(pid), int(bytes_in), int(bytes_out)))
    return rows


class NettopMeter(TrafficMeter):
    """Per-program bytes from two nettop readings (cumulative counts, so no step is needed)."""

    def __init__(self, run: Runner, loopback: bool = False) -> None:
        self.run = run
        self.argv = ["nettop", "-P", "-L", "1", "-x", "-J", "bytes_in,bytes_out"]
        if not loopback:
            self.argv += ["-t", "external"]
        self._last: dict[int, NettopRow] | None = None

    def read(self, cancel: threading.Event | None = None) -> dict[int, Flow]:
        result = self.run(self.argv, timeout_s=NETTOP_TIMEOUT_S, cancel=cancel, env=PLAIN_LOCALE)
        if not result.ok:
            raise NettopError(result.error or f"nettop failed: {result.stderr.strip()[:200]}")
        rows = {r.pid: r for r in parse_nettop(result.stdout)}
        last, self._last = self._last, rows
        if last is None:
            return {}
        flows = {}
        for pid, row in rows.items():
            before = last.get(pid)
            if before is not None and before.name != row.name:
                before = None  # the pid was reused
            down = row.bytes_in - (before.bytes_in if before else 0)
            up = row.bytes_out - (before.bytes_out if before else 0)
            if down > 0 or up > 0:
                flows[pid] = Flow(max(0, down), max(0, up), 0, row.name)
        return flows


def parse_route_get(text: str) -> str | None:
    """The ``interface:`` line of ``route -n get default``."""
    for line in text.splitlines():
        key, _, value = line.strip().partition(":")
        if key == "interface" and value.strip():
            return value.strip()
    return None


# pmset's energy mode: "lowpowermode 0|1" (older macOS), "powermode 0|1|2" where a Mac has High Power
# Mode (0 automatic, 1 Low Power, 2 High Power). Only Low Power Mode is a power saver.
PMSET_LOW_POWER = {"lowpowermode": {"0": False, "1": True}, "powermode": {"0": False, "1": True, "2": False}}


def parse_pmset(text: str) -> bool | None:
    """Low Power Mode from ``pmset -g`` (None when this Mac does not say, or says a mode not known).

    ``powermode`` is read before ``lowpowermode`` when a Mac prints both (the newer name).
    """
    found: dict[str, str] = {}
    for line in text.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[0] in PMSET_LOW_POWER:
            found.setdefault(parts[0], parts[1])
    for key in ("powermode", "lowpowermode"):
        if key in found:
            return PMSET_LOW_POWER[key].get(found[key])
    return None


class MacBackend(LocalBackend):
    """macOS: nettop for per-program traffic."""

    os_name = "macos"
    method = "nettop"
    rate_source = "measured"
    notes = ()
    max_reading_s = NETTOP_TIMEOUT_S + 0.3

    def traffic_meter(self) -> TrafficMeter:
        return NettopMeter(self.run, loopback=self.scope.loopback)

    def default_interfaces(self, cancel: threading.Event | None = None) -> list[str]:
        names = []
        for argv in (["route", "-n", "get", "default"], ["route", "-n", "get", "-inet6", "default"]):
            result = self.run(argv, timeout_s=1.0, cancel=cancel, env=PLAIN_LOCALE)
            name = parse_route_get(result.stdout) if result.ok else None
            if name and name not in names:
                names.append(name)
        return names

    def wifi(self, cancel: threading.Event | None = None) -> WifiInfo | None:
        return wifi_readers.read_macos(self.run, cancel)

    def power_saver(self, cancel: threading.Event | None = None) -> bool | None:
        result = self.run(["pmset", "-g"], timeout_s=2.0, cancel=cancel, env=PLAIN_LOCALE)
        return parse_pmset(result.stdout) if result.ok else None
