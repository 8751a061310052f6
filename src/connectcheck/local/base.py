"""The one interface every operating system's backend offers, and the choice of backend.

A backend knows how to read, on its system: the process table (names, CPU time, memory), the
bytes each program moves (a :class:`TrafficMeter`), the network cards' counters, which card
carries the default route and what kind it is, the Wi-Fi link and the power-saver state. The
sampler (``local/sampler.py``) turns two readings into rates; nothing here keeps time.

The choice can be forced (``get_backend("macos")``) so that every backend's logic runs on
Linux in the tests, with recorded outputs of the other systems' tools.
"""

from __future__ import annotations

import ipaddress
import threading
from abc import ABC, abstractmethod
from dataclasses import dataclass

import psutil

from connectcheck.core.model import WifiInfo
from connectcheck.local.commands import Runner, run_command

OS_NAMES = ("linux", "macos", "windows")
MB = 1024 * 1024
# Words in interface names that tell their kind on every system (Windows' "Wi-Fi 2", Linux's
# "wlp3s0", macOS's "utun3"); the first that matches wins.
NAME_KINDS = (
    ("loopback", ("loopback",)),
    (
        "vpn",
        (
            "tun",
            "tap",
            "wg",
            "utun",
            "ipsec",
            "ppp",
            "vpn",
            "wintun",
            "wireguard",
            "nordlynx",
            "openvpn",
            "tailscale",
            "zerotier",
        ),
    ),
    ("mobile", ("wwan", "ww", "pdp_ip", "cellular", "mobile", "rmnet", "usb0")),
    ("wifi", ("wlan", "wlp", "wl", "wi-fi", "wifi", "wireless", "airport")),
    ("ethernet", ("eth", "enp", "eno", "ens", "en", "ethernet", "local area connection")),
)



def kind_from_name(name: str) -> str:
    """An interface's kind guessed from its name alone ("other" when the name says nothing)."""
    folded = name.casefold()
    if folded == "lo" or folded.startswith("lo0"):
        return "loopback"
    for kind, prefixes in NAME_KINDS:
        if any(folded.startswith(p) for p in prefixes):
            return kind
    return "other"


def is_local_address(address: str) -> bool:
    """Whether an IP address is this computer itself (loopback), so traffic to it never leaves."""
    try:
        ip = ipaddress.ip_address(address.split("%")[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_loopback or ip.is_unspecified


@dataclass
class ProcessInfo:
    """One process as the process table shows it."""

    pid: int
    name: str
    ppid: int | None = None
    cpu_s: float | None = None  # CPU time used since it started (user + system)
    memory_mb: float | None = None  # resident memory


@dataclass
class Flow:
    """What one program moved over the network during an interval."""

    down_bytes: int = 0
    up_bytes: int = 0
    connections: int = 0  # connections that moved data (Linux, macOS) or that it holds (Windows)
    name: str | None = None  # the process name, when the meter knows it


@dataclass(frozen=True)
class NicCounters:
    """A network card's counters since boot."""

    bytes_recv: int
    bytes_sent: int
    packets_recv: int
    packets_sent: int


@dataclass(frozen=True)
class Scope:
    """Which traffic counts as this computer's use of the connection.

    ``uplinks``: the cards whose totals count (None: the one(s) carrying the default route,
    else every card that is up and not loopback). ``loopback``: whether traffic between two
    programs on this computer counts (only tests that run over 127.0.0.1 want that; on a tutor's
    computer it never touches the connection).
    """

    uplinks: frozenset[str] | None = None
    loopback: bool = False


class TrafficMeter(ABC):
    """Counts the bytes each program moves, between successive :meth:`read` calls.

    ``addresses``: this computer's addresses on the cards that count (see :class:`Scope`), set by
    the sampler; a connection from another address (a lab or container network) is left out.
    None: every connection counts.
    """

    addresses: frozenset[str] | None = None
    likely_pids: tuple[int, ...] = ()  # programs to look at first for a socket's owner (busiest first)

    def step(self) -> None:  # noqa: B027 (a meter of cumulative counters has nothing to do here)
        """Look now without ending the interval (catches connections that close before its end)."""

    @abstractmethod
    def read(self, cancel: threading.Event | None = None) -> dict[int, Flow]:
        """Bytes moved per process id since the previous read (an empty dict the first time).

        ``cancel`` stops a meter that runs a command (nettop) early; it then raises."""

    def unmetered(self) -> dict[int, str | None]:
        """pid → name of programs holding flows this meter cannot count (UDP on Linux): the
        programs the unattributed traffic may come from. Empty where every flow is counted."""
        return {}


class LocalBackend(ABC):
    """What one operating system can tell about its programs, network cards and Wi-Fi."""

    os_name: str = ""
    method: str = ""  # how per-program rates are obtained: "sock_diag" | "nettop" | "estimate"
    rate_source: str = "none"  # what those rates are: "measured" | "estimate"
    notes: tuple[str, ...] = ()  # what this system cannot tell, in plain words
    max_reading_s: float = 0.5  # the longest one reading (process table, counters, meter) may take

    def __init__(self, *, run: Runner = run_command, scope: Scope | None = None) -> None:
        self.run = run
        self.scope = scope or Scope()

    @abstractmethod
    def traffic_meter(self) -> TrafficMeter:
        """A new meter of per-program traffic (the sampler leaves out the programs it must not blame)."""

    @abstractmethod
    def default_interfaces(self, cancel: threading.Event | None = None) -> list[str]:
        """The cards that carry the default route, best first (empty when unknown)."""

    @abstractmethod
    def wifi(self, cancel: threading.Event | None = None) -> WifiInfo | None:
        """The Wi-Fi link (None when this computer has no Wi-Fi)."""

    @abstractmethod
    def power_saver(self, cancel: threading.Event | None = None) -> bool | None:
        """Whether a power-saving mode is on (None when unknown)."""

    def processes(self) -> dict[int, ProcessInfo]:
        """The process table; processes that vanish or deny access are left out."""
        table = {}
        for p in psutil.process_iter(["name", "ppid", "cpu_times", "memory_info"]):
            info = p.info
            times, mem = info.get("cpu_times"), info.get("memory_info")
            table[p.pid] = ProcessInfo(
                p.pid,
                info.get("name") or "",
                info.get("ppid"),
                times.user + times.system if times else None,
                mem.rss / MB if mem else None,
            )
        return table

    def cmdline(self, pid: int) -> list[str]:
        """A process's arguments (empty when it vanished or denies access)."""
        try:
            return psutil.Process(pid).cmdline()
        except (psutil.Error, OSError):
            return []

    def nic_counters(self) -> dict[str, NicCounters]:
        """Every network card's counters."""
        return {
            name: NicCounters(c.bytes_recv, c.bytes_sent, c.packets_recv, c.packets_sent)
            for name, c in psutil.net_io_counters(pernic=True).items()
        }

    def interface_kind(self, name: str) -> str:
        """ "ethernet" | "wifi" | "mobile" | "vpn" | "loopback" | "other"."""
        return kind_from_name(name)


