"""Windows: no per-program byte counts without admin rights, so an estimate.

Which programs hold internet connections comes from ``psutil.net_connections()`` (no admin
needed); how busy each is comes from its I/O counters (``io_counters()``: reads, writes and
"other" operations, where Windows counts socket traffic). The network card's totals are shared
out among those programs in proportion to that activity, never more than a program's own I/O.
The result is an activity hint, marked "estimate" everywhere it is shown; the catalogue still
names a running Steam, OneDrive or torrent client outright.
"""

from __future__ import annotations

import ctypes
import re
import sys
import threading

import psutil

from connectcheck.core.model import WifiInfo
from connectcheck.local import wifi as wifi_readers
from connectcheck.local.base import Flow, LocalBackend, NicCounters, TrafficMeter, is_local_address
from connectcheck.local.interfaces import counter_delta, payload_bytes

POWER_SAVER_SCHEME = "a1841308-3541-4fab-bc81-f71556f20b4a"  # Windows' built-in "Power saver" plan
# Windows 10 and 11 lay a power mode (Settings, System, Power) over the plan, which powercfg
# /getactivescheme does not show: "Best power efficiency" is GUID_POWER_MODE_BEST_EFFICIENCY
# (Microsoft's PowerGetEffectiveOverlayScheme documentation). The one in use is in the registry.
POWER_MODE_BEST_EFFICIENCY = "961cc777-2547-4f9d-8174-7d86181b8a7a"
POWER_SCHEMES_KEY = r"SYSTEM\CurrentControlSet\Control\Power\User\PowerSchemes"
POWER_MODE_VALUES = {True: "ActiveOverlayAcPowerScheme", False: "ActiveOverlayDcPowerScheme"}


_IPV4 = re.compile(r"^\d{1,3}(?:\.\d{1,3}){3}$")


def parse_route_print(text: str) -> list[str]:
    """The interface addresses of the default routes in ``route print -4 0.0.0.0``, best metric first.

    An active route is ``0.0.0.0 0.0.0.0 gateway interface metric``, where an on-link gateway is a
    word or two in the display language ("On-link", "Auf Verbindung"); the persistent routes below
    them have no interface column and are left out.
    """
    found = []
    for line in text.splitlines():
        parts = line.split()
        if (
            len(parts) >= 5
            and parts[0] == "0.0.0.0"
            and parts[1] == "0.0.0.0"
            and parts[-1].isdigit()
            and _IPV4.match(parts[-2])
        ):
            found.append((int(parts[-1]), parts[-2]))
    return [address for _, address in sorted(found)]


def parse_powercfg(text: str) -> bool | None:
    """Whether the active power plan is Windows' Power saver (by its fixed id, any language)."""
    m = re.search(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}", text)
    return None if m is None else m.group().lower() == POWER_SAVER_SCHEME


def power_saving(plan: bool | None, power_mode: str | None, energy_saver: bool | None) -> bool | None:
    """Whether Windows is saving power: the Power saver plan, the "Best power efficiency" power mode or
    Energy Saver (battery saver) on. True when any says so; False only when all three were read and
    none does; None when one could not be read and none says so (not known, never a guess).

    ``power_mode`` is the power mode's GUID, "" when the PC has none set.
    """
    mode_on = None if power_mode is None else power_mode.strip().lower() == POWER_MODE_BEST_EFFICIENCY
    states = (plan, mode_on, energy_saver)
    if any(states):
        return True
    return None if None in states else False


class _SystemPowerStatus(ctypes.Structure):
    _fields_ = [
        ("ACLineStatus", ctypes.c_ubyte),
        ("BatteryFlag", ctypes.c_ubyte),
        ("BatteryLifePercent", ctypes.c_ubyte),
        ("SystemStatusFlag", ctypes.c_ubyte),
        ("BatteryLifeTime", ctypes.c_ulong),
        ("BatteryFullLifeTime", ctypes.c_ulong),
    ]


def read_power_status() -> tuple[bool | None, bool | None]:
    """(on mains power, Energy Saver on) from ``GetSystemPowerStatus``; None where not known.

    SystemStatusFlag is "battery saver" (Windows 10) and Energy Saver (Windows 11), both announced by
    GUID_POWER_SAVING_STATUS in Microsoft's documentation.
    """
    if sys.platform != "win32":
        return None, None
    status = _SystemPowerStatus()
    try:
        ok = ctypes.windll.kernel32.GetSystemPowerStatus(ctypes.byref(status))  # type: ignore[attr-defined]
    except (AttributeError, OSError):
        return None, None
    if not ok:
        return None, None
    on_ac = {0: False, 1: True}.get(status.ACLineStatus)
    return on_ac, {0: False, 1: True}.get(status.SystemStatusFlag)


def read_power_mode(on_ac: bool | None) -> str | None:
    """The power mode in use (a GUID, "" when none is set), from the registry; None when not known.

    Mains and battery have one each; when it is not known which applies, both must agree.
    """
    try:
        import winreg
    except ImportError:
        return None
    names = [POWER_MODE_VALUES[on_ac]] if on_ac is not None else list(POWER_MODE_VALUES.values())
    values = set()
    try:
        with winreg.OpenKey(winreg.HKEY_LOCAL_MACHINE, POWER_SCHEMES_KEY) as key:
            for name in names:
                try:
                    value, _ = winreg.QueryValueEx(key, name)
                except FileNotFoundError:
                    value = ""  # no power mode set on this PC
                values.add(str(value or "").strip().lower())
    except FileNotFoundError:
        return ""  # a Windows without power modes
    except OSError:
        return None
    return values.pop() if len(values) == 1 else None


def _activity(pid: int) -> int | None:
    """All the bytes a process read, wrote or otherwise moved since it started (None: unknown)."""
    try:
        io = psutil.Process(pid).io_counters()
    except (psutil.Error, OSError, AttributeError):
        return None
    return io.read_bytes + io.write_bytes + getattr(io, "other_bytes", 0)


class EstimateMeter(TrafficMeter):
    """Shares the network cards' totals among the programs holding connections."""

    def __init__(self, backend: LocalBackend) -> None:
        self.backend = backend
        self._activity: dict[int, int] = {}
        self._nics: NicCounters | None = None

    def _nic_total(self) -> NicCounters:
        counters = self.backend.nic_counters()
        chosen = self.backend.scope.uplinks
        total = [0, 0, 0, 0]
        for name, c in counters.items():
            if (name in chosen) if chosen is not None else self.backend.interface_kind(name) != "loopback":
                for i, v in enumerate((c.bytes_recv, c.bytes_sent, c.packets_recv, c.packets_sent)):
                    total[i] += v
        return NicCounters(*total)

    def _holders(self) -> dict[int, int]:
        """pid → connections it holds to other computers."""
        held: dict[int, int] = {}
        for c in psutil.net_connections(kind="inet"):
            if not c.pid or not c.raddr:
                continue
            if is_local_address(c.raddr.ip):
                if not self.backend.scope.loopback:
                    continue
            elif self.addresses is not None and c.laddr.ip not in self.addresses:
                continue
            held[c.pid] = held.get(c.pid, 0) + 1
        return held

    def read(self, cancel: threading.Event | None = None) -> dict[int, Flow]:
        held = self._holders()
        nics = self._nic_total()
        activity = {pid: a for pid in held if (a := _activity(pid)) is not None}
        before, self._activity = self._activity, activity
        last_nics, self._nics = self._nics, nics
        if last_nics is None:
            return {}
        down_total, up_total = payload_bytes(counter_delta(last_nics, nics))
        moved = {pid: max(0, a - before[pid]) if pid in before else 0 for pid, a in activity.items()}
        weight = sum(moved.values())
        flows = {}
        for pid, connections in held.items():
            share = moved.get(pid, 0) / weight if weight else 0.0
            mine = moved.get(pid, 0)
            flows[pid] = Flow(
                int(min(mine, down_total * share)), int(min(mine, up_total * share)), connections
            )
        return flows


class WindowsBackend(LocalBackend):
    """Windows: connections and I/O activity as an estimate; netsh, route, and powercfg with the power
    mode and Energy Saver."""

    os_name = "windows"
    method = "estimate"
    rate_source = "estimate"
    notes = (
        "Windows does not count each program's traffic without administrator rights: the rates per "
        "program are estimates from their activity, shared out from the network card's totals.",
    )

    def traffic_meter(self) -> TrafficMeter:
        return EstimateMeter(self)

    def default_interfaces(self, cancel: threading.Event | None = None) -> list[str]:
        result = self.run(["route", "print", "-4", "0.0.0.0"], timeout_s=3.0, cancel=cancel)
        if not result.ok:
            return []
        by_address = {a.address: name for name, addrs in psutil.net_if_addrs().items() for a in addrs}
        return [by_address[a] for a in parse_route_print(result.stdout) if a in by_address]

    def wifi(self, cancel: threading.Event | None = None) -> WifiInfo | None:
        return wifi_readers.read_windows(self.run, cancel)

    def power_saver(self, cancel: threading.Event | None = None) -> bool | None:
        result = self.run(["powercfg", "/getactivescheme"], timeout_s=3.0, cancel=cancel)
        plan = parse_powercfg(result.stdout) if result.ok else None
        on_ac, energy_saver = self.power_status()
        return power_saving(plan, self.power_mode(on_ac), energy_saver)

    def power_status(self) -> tuple[bool | None, bool | None]:
        """(on mains power, Energy Saver on); a seam for tests."""
        return read_power_status()

    def power_mode(self, on_ac: bool | None) -> str | None:
        """The power mode's GUID ("" for none); a seam for tests."""
        return read_power_mode(on_ac)
