"""Sampling this computer: two readings some seconds apart become rates per program, per card,
per core; with the catalogue, the browsers, the Wi-Fi link and the load around them.

:func:`sample_local` is the one-shot sample the check takes during its idle phase;
:class:`LocalSampler` is the continuous one (``connectcheck top``, lesson monitoring), cheap
enough to run every few seconds. Every section is built in its own ``try``: one that fails is
recorded with its error in ``LocalFindings.sections`` while the others still come.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from typing import Any, TypeVar

import psutil

from connectcheck.core.model import LocalFindings, ProcessUsage, Section, Status, WifiInfo
from connectcheck.core.tasks import ProgressFn, report
from connectcheck.local.backends import get_backend
from connectcheck.local.base import Flow, LocalBackend, NicCounters, ProcessInfo, TrafficMeter
from connectcheck.local.browsers import browser_usage
from connectcheck.local.catalogue import BROWSER, Catalogue, load_catalogue
from connectcheck.local.interfaces import (
    connection_type,
    interface_usage,
    mbps,
    nic_deltas,
    payload_bytes,
    uplinks,
)
from connectcheck.local.system import busiest, cpu_per_core, process_cpu, system_load

T = TypeVar("T")
PHASE = "local"
STEP_S = 1.0  # the traffic meter looks this often during a window, to catch short connections
MIN_PROCESS_MBPS = 0.01  # programs moving less are not listed as network users
MAX_PROCESSES = 10
SLOW_EVERY_S = 30.0  # Wi-Fi, default route and power saver are read this often by the continuous sampler
EXTRA_TIME_S = 2.5  # sample_local's time bound: window_s plus this
NAME_UNATTRIBUTED_MBPS = 0.5  # from this much unattributed traffic, the programs that may cause it are named
SMOOTH_SLACK = 1.1  # intervals run a little longer than asked: a smoothing window may too
LIKELY_FIRST = 50  # before CPU can be measured, the programs that used most CPU searched first
SECTION_WORDS = {
    "rates": "the network use of each program",
    "apps": "the list of known programs",
    "browsers": "the browsers",
    "interfaces": "the network cards",
    "system": "the processor and memory load",
    "wifi": "the Wi-Fi link",
}


@dataclass
class _Reading:
    at: float
    table: dict[int, ProcessInfo] = field(default_factory=dict)
    nics: dict[str, NicCounters] = field(default_factory=dict)
    cores: list[Any] | None = None
    errors: dict[str, str] = field(default_factory=dict)  # what could not be read, and why

    def require(self, *parts: str) -> None:
        """Raise if one of these parts could not be read (inside a section's builder)."""
        for part in parts:
            if part in self.errors:
                raise RuntimeError(self.errors[part])


@dataclass
class _Interval:
    seconds: float
    flows: dict[int, Flow]
    nics: dict[str, NicCounters]


@dataclass
class _Slow:
    """What is read less often: it spawns commands."""

    wifi: WifiInfo | None = None
    power_saver: bool | None = None
    errors: dict[str, str] = field(default_factory=dict)


def _plain_error(section: str, exc: BaseException) -> str:
    detail = str(exc) or type(exc).__name__
    return f"{SECTION_WORDS.get(section, section)} could not be read ({detail})"


def _section(findings: LocalFindings, name: str, build: Callable[[], T]) -> T | None:
    """Run one section's builder and record how it went; never raises."""
    start = time.monotonic()
    try:
        result = build()
    except Exception as exc:  # one section failing must not take the others with it
        findings.sections[name] = Section(Status.ERROR, _plain_error(name, exc), time.monotonic() - start)
        return None
    findings.sections.setdefault(name, Section(Status.OK, None, 0.0)).duration_s = time.monotonic() - start
    return result


def _sum_flows(intervals: list[_Interval]) -> dict[int, Flow]:
    total: dict[int, Flow] = {}
    for interval in intervals:
        for pid, f in interval.flows.items():
            t = total.setdefault(pid, Flow(name=f.name))
            t.down_bytes += f.down_bytes
            t.up_bytes += f.up_bytes
            t.connections = max(t.connections, f.connections)
            t.name = t.name or f.name
    return total


def _sum_nics(intervals: list[_Interval]) -> dict[str, NicCounters]:
    total: dict[str, list[int]] = {}
    for interval in intervals:
        for name, c in interval.nics.items():
            t = total.setdefault(name, [0, 0, 0, 0])
            for i, v in enumerate((c.bytes_recv, c.bytes_sent, c.packets_recv, c.packets_sent)):
                t[i] += v
    return {name: NicCounters(*v) for name, v in total.items()}


def _likely_senders(table: dict[int, ProcessInfo], cpu: dict[int, float] | None) -> tuple[int, ...]:
    """Programs to search first for a socket's owner: busy in the last interval (sending takes CPU),
    or before the first interval, those that used the most CPU so far (browsers, launchers)."""
    if cpu:
        return tuple(sorted((p for p in cpu if cpu[p] > 0), key=lambda p: -cpu[p]))
    return tuple(
        sorted((p for p in table if table[p].cpu_s), key=lambda p: -(table[p].cpu_s or 0.0))[:LIKELY_FIRST]
    )


class LocalSampler:
    """Continuous sampling: each :meth:`sample` gives the rates since the previous one.

    ``smooth_s``: rates are averaged over the last intervals that fit in it (at least the last
    one), so a program that sends in bursts shows its average, not zero one time and full the next.
    The first call only primes the counters and returns what needs no second reading.
    """

    def __init__(
        self,
        *,
        interval_s: float = 2.0,
        backend: LocalBackend | None = None,
        exclude_pids: Collection[int] = (),
        smooth_s: float | None = None,
        catalogue: Catalogue | None = None,
    ) -> None:
        self.interval_s = interval_s
        self.backend = backend or get_backend()
        self.catalogue = catalogue or load_catalogue(self.backend.os_name)
        self.exclude_pids = frozenset(exclude_pids)
        self.smooth_s = smooth_s if smooth_s is not None else interval_s
        self._meter: TrafficMeter | None = None
        self._meter_error: str | None = None
        self._unmetered_pids: dict[int, str] = {}  # this sample's programs with flows nobody counts
        self._previous: _Reading | None = None
        self._history: deque[_Interval] = deque(maxlen=32)
        self._slow: _Slow | None = None
        self._slow_at = 0.0
        self._slow_lock = threading.Lock()
        self._defaults: list[str] = []  # the default route's cards, as the last slow refresh found them

    # --- reading -----------------------------------------------------------------------------------

    def refresh_slow(self, cancel: threading.Event | None = None) -> None:
        """Read the default route's cards, the Wi-Fi link and the power saver (they may spawn commands)."""
        with self._slow_lock:
            try:
                self._defaults = self.backend.default_interfaces(cancel)
            except Exception:  # then every card that is up counts (see uplinks())
                self._defaults = []
            slow = _Slow()
            for name, read in (("wifi", self.backend.wifi), ("power_saver", self.backend.power_saver)):
                try:
                    setattr(slow, name, read(cancel))
                except Exception as exc:
                    slow.errors[name] = _plain_error("wifi" if name == "wifi" else "system", exc)
            self._slow, self._slow_at = slow, time.monotonic()

    def _counted_addresses(self) -> frozenset[str]:
        """This computer's addresses on the cards whose traffic counts."""
        every = psutil.net_if_addrs()
        names = uplinks(self.backend, every.keys(), self._defaults)
        return frozenset(a.address.split("%")[0] for n in names for a in every.get(n, ()))

    def step(self) -> None:
        """Let the traffic meter look between samples (short connections are caught this way)."""
        if self._meter is not None:
            try:
                self._meter.addresses = self._counted_addresses()
                self._meter.step()
            except Exception as exc:
                self._meter_error = str(exc) or type(exc).__name__

    def _flows(self, cancel: threading.Event | None) -> dict[int, Flow] | None:
        try:
            if self._meter is None:
                self._meter = self.backend.traffic_meter()
            self._meter.addresses = self._counted_addresses()
            return self._meter.read(cancel)
        except Exception as exc:
            self._meter_error = str(exc) or type(exc).__name__
            return None

    def _reading(self, cancel: threading.Event | None) -> tuple[_Reading, dict[int, Flow] | None]:
        reading = _Reading(0.0)
        # The card counters are read right before the programs' counters, and timed, so the two
        # cover the same interval.
        for attr, read in (
            ("table", self.backend.processes),
            ("cores", lambda: psutil.cpu_times(percpu=True)),
            ("at", time.monotonic),
            ("nics", self.backend.nic_counters),
        ):
            try:
                setattr(reading, attr, read())
            except Exception as exc:  # the sections that need it say so
                reading.errors[attr] = str(exc) or type(exc).__name__
        return reading, self._flows(cancel)

    # --- the sample --------------------------------------------------------------------------------

    def sample(self, cancel: threading.Event | None = None, refresh_slow: bool = True) -> LocalFindings:
        """The findings since the previous call (the first call primes the rates). Never raises."""
        b = self.backend
        findings = LocalFindings(os=b.os_name, backend=b.method, notes=list(b.notes))
        self._unmetered_pids = {}
        if refresh_slow and (self._slow is None or time.monotonic() - self._slow_at >= SLOW_EVERY_S):
            self.refresh_slow(cancel)
        slow = self._slow or _Slow()
        current, flows = self._reading(cancel)
        previous, self._previous = self._previous, current
        interval = None
        if previous is not None:
            seconds = current.at - previous.at
            self._history.append(_Interval(seconds, flows or {}, nic_deltas(previous.nics, current.nics)))
            interval = self._window()
            findings.window_s = round(interval.seconds, 3)
        # CPU over the last interval only: the tables are one interval apart
        cpu = process_cpu(previous.table, current.table, current.at - previous.at) if previous else None
        self._fill(findings, slow, previous, current, interval, flows is not None, cpu)
        if self._meter is not None:
            self._meter.likely_pids = _likely_senders(current.table, cpu)
        return findings

    def _window(self) -> _Interval:
        chosen: list[_Interval] = []
        for interval in reversed(self._history):
            if chosen and sum(i.seconds for i in chosen) + interval.seconds > self.smooth_s * SMOOTH_SLACK:
                break
            chosen.append(interval)
        return _Interval(sum(i.seconds for i in chosen), _sum_flows(chosen), _sum_nics(chosen))

    def _fill(
        self,
        findings: LocalFindings,
        slow: _Slow,
        previous: _Reading | None,
        current: _Reading,
        interval: _Interval | None,
        have_flows: bool,
        cpu: dict[int, float] | None,
    ) -> None:
        seconds = interval.seconds if interval else None
        rates = None
        if interval is not None and have_flows:
            rates = {
                pid: (mbps(f.down_bytes, interval.seconds), mbps(f.up_bytes, interval.seconds))
                for pid, f in interval.flows.items()
                if pid not in self.exclude_pids
            }
        deltas = interval.nics if interval else {n: NicCounters(0, 0, 0, 0) for n in current.nics}
        findings.interfaces = (
            _section(findings, "interfaces", lambda: self._interfaces(slow, current, deltas, seconds)) or []
        )
        findings.connection_type = connection_type(findings.interfaces)
        _section(findings, "rates", lambda: self._rates(findings, current, interval, rates, cpu))
        findings.hungry_apps = _section(findings, "apps", lambda: self._apps(current, rates, cpu)) or []
        findings.browsers = _section(findings, "browsers", lambda: self._browsers(current, cpu, rates)) or []
        findings.system = _section(findings, "system", lambda: self._system(slow, previous, current, cpu))
        self._wifi(findings, slow)

    def _browsers(
        self, current: _Reading, cpu: dict[int, float] | None, rates: dict[int, tuple[float, float]] | None
    ) -> list:
        current.require("table")
        return browser_usage(current.table, self.catalogue, self.backend.cmdline, cpu, rates)

    def _interfaces(
        self, slow: _Slow, current: _Reading, deltas: dict[str, NicCounters], seconds: float | None
    ) -> list:
        current.require("nics")
        wifi_if = slow.wifi.interface if slow.wifi is not None else None
        return interface_usage(self.backend, deltas, seconds, self._defaults, wifi_if)

    def _usage(
        self, pid: int, name: str, info: ProcessInfo | None, cpu: dict[int, float] | None
    ) -> ProcessUsage:
        entry = self.catalogue.app_for(name)
        return ProcessUsage(
            name=name,
            pid=pid,
            app=entry.app if entry else None,
            category=entry.category if entry else None,
            advice_key=entry.advice_key if entry else None,
            cpu_pct=round(cpu[pid], 1) if cpu is not None and pid in cpu else None,
            memory_mb=round(info.memory_mb, 1) if info and info.memory_mb is not None else None,
        )

    def _rates(
        self,
        findings: LocalFindings,
        current: _Reading,
        interval: _Interval | None,
        rates: dict[int, tuple[float, float]] | None,
        cpu: dict[int, float] | None,
    ) -> None:
        if interval is None:
            findings.sections["rates"] = Section(Status.SKIPPED, "the rates come with the next sample")
            return
        if rates is None:
            findings.sections["rates"] = Section(
                Status.ERROR,
                f"this computer would not show what each program moves ({self._meter_error}); "
                "all its traffic is counted as unattributed",
            )
        if "nics" not in current.errors:
            self._unattributed(findings, current, interval)
        listed = []
        for pid, (down, up) in (rates or {}).items():
            if down + up < MIN_PROCESS_MBPS:
                continue
            info, flow = current.table.get(pid), interval.flows[pid]
            usage = self._usage(pid, info.name if info else flow.name or f"process {pid}", info, cpu)
            usage.down_mbps, usage.up_mbps = round(down, 3), round(up, 3)
            usage.rate_source, usage.connections = self.backend.rate_source, flow.connections
            listed.append(usage)
        listed.sort(key=lambda u: -((u.down_mbps or 0.0) + (u.up_mbps or 0.0)))
        findings.processes = listed[:MAX_PROCESSES]

    def _unattributed(self, findings: LocalFindings, current: _Reading, interval: _Interval) -> None:
        """What the cards that count moved beyond what the programs did (headers estimated off)."""
        total = [0, 0]
        for n in uplinks(self.backend, interval.nics.keys(), self._defaults):
            for i, v in enumerate(payload_bytes(interval.nics[n])):
                total[i] += v
        named_down = sum(f.down_bytes for f in interval.flows.values())
        named_up = sum(f.up_bytes for f in interval.flows.values())
        findings.unattributed_down_mbps = round(mbps(max(0, total[0] - named_down), interval.seconds), 3)
        findings.unattributed_up_mbps = round(mbps(max(0, total[1] - named_up), interval.seconds), 3)
        if findings.unattributed_down_mbps + findings.unattributed_up_mbps >= NAME_UNATTRIBUTED_MBPS:
            self._unmetered_pids = self._unmetered(current)
            findings.unattributed_programs = sorted(set(self._unmetered_pids.values()))

    def _unmetered(self, current: _Reading) -> dict[int, str]:
        """pid → name (the catalogue's where known) of the programs holding flows nobody can count."""
        try:
            holders = self._meter.unmetered() if self._meter is not None else {}
        except Exception:  # only a hint: its absence is no error
            return {}
        found = {}
        for pid, name in holders.items():
            info = current.table.get(pid)
            name = info.name if info else name
            if pid in self.exclude_pids or not name:
                continue
            entry = self.catalogue.app_for(name)
            found[pid] = entry.app if entry else name
        return found

    def _apps(
        self, current: _Reading, rates: dict[int, tuple[float, float]] | None, cpu: dict[int, float] | None
    ) -> list[ProcessUsage]:
        """Every running process of a catalogue program (browsers aside), with its rates where known."""
        current.require("table")
        found = []
        for pid, info in current.table.items():
            entry = self.catalogue.app_for(info.name)
            if entry is None or entry.category == BROWSER or pid in self.exclude_pids:
                continue
            usage = self._usage(pid, info.name, info, cpu)
            # a program with flows nobody counts (a call over UDP) has no known rate, not zero
            if rates is not None and pid not in self._unmetered_pids:
                usage.down_mbps, usage.up_mbps = (round(r, 3) for r in rates.get(pid, (0.0, 0.0)))
                usage.rate_source = self.backend.rate_source
            found.append(usage)
        found.sort(key=lambda u: (-((u.down_mbps or 0.0) + (u.up_mbps or 0.0)), u.app or "", u.pid or 0))
        return found

    def _system(
        self, slow: _Slow, previous: _Reading | None, current: _Reading, cpu: dict[int, float] | None
    ) -> Any:
        cores = (
            cpu_per_core(previous.cores, current.cores)
            if previous and previous.cores and current.cores
            else None
        )
        top = busiest(current.table, cpu or {}, self.catalogue, self.exclude_pids)
        return system_load(cores, top, slow.power_saver)

    def _wifi(self, findings: LocalFindings, slow: _Slow) -> None:
        if self._slow is None:
            findings.sections["wifi"] = Section(Status.SKIPPED, "the Wi-Fi link was not read")
        elif "wifi" in slow.errors:
            findings.sections["wifi"] = Section(Status.ERROR, slow.errors["wifi"])
        elif slow.wifi is None:
            findings.sections["wifi"] = Section(Status.SKIPPED, "this computer has no Wi-Fi")
        else:
            findings.wifi = slow.wifi
            findings.sections["wifi"] = Section(slow.wifi.status, slow.wifi.error)


def sample_local(
    *,
    window_s: float = 3.0,
    cancel: threading.Event | None = None,
    progress: ProgressFn | None = None,
    backend: LocalBackend | None = None,
    exclude_pids: Collection[int] = (),
) -> LocalFindings:
    """What on this computer may be eating the connection, measured over ``window_s`` seconds.

    Never raises; takes at most ``window_s`` + 2.5 s; on cancel it stops within a fraction of a
    second and keeps what it measured. ``exclude_pids`` (connectcheck itself) are never blamed:
    their traffic is neither listed nor counted as unattributed.
    """
    cancel = cancel if cancel is not None else threading.Event()
    start = time.monotonic()
    report(progress, PHASE, 0.0, "looking at the programs on this computer")
    try:
        sampler = LocalSampler(
            interval_s=window_s, backend=backend, exclude_pids=exclude_pids, smooth_s=window_s
        )
    except Exception as exc:
        return LocalFindings(
            status=Status.ERROR, error=f"this computer's programs could not be looked at ({exc})"
        )
    slow = threading.Thread(target=sampler.refresh_slow, args=(cancel,), name="local-slow", daemon=True)
    slow.start()
    sampler.sample(cancel, refresh_slow=False)
    end = start + window_s
    while (left := end - time.monotonic()) > 0 and not cancel.wait(min(STEP_S, left)):
        sampler.step()
        report(
            progress, PHASE, 0.9 * (time.monotonic() - start) / window_s, "measuring what each program moves"
        )
    deadline = start + window_s + EXTRA_TIME_S - sampler.backend.max_reading_s  # room for the last reading
    while slow.is_alive() and not cancel.is_set() and time.monotonic() < deadline:
        slow.join(0.1)
    findings = sampler.sample(cancel, refresh_slow=False)
    if slow.is_alive() and not cancel.is_set():
        findings.sections["wifi"] = Section(
            Status.TIMEOUT, f"the Wi-Fi details did not come in time ({time.monotonic() - start:.1f} s)"
        )
    if cancel.is_set():
        findings.status, findings.error = Status.CANCELLED, "stopped early: the check was cancelled"
    elif findings.sections and all(s.status is Status.ERROR for s in findings.sections.values()):
        findings.status, findings.error = Status.ERROR, "nothing could be read about this computer"
    report(progress, PHASE, 1.0, "done")
    return findings
