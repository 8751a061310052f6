"""The result types every layer speaks: plain dataclasses, units in the field names.

A check result is serialised to versioned JSON (``schema_version``).  Loading refuses a
file written by a newer version with a clear message, and a damaged file with the path of
the first field that is wrong.  No logic lives here beyond (de)serialisation.
"""

from __future__ import annotations

import dataclasses
import enum
import json
import re
import types
import typing
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, TypeVar

SCHEMA_VERSION = 1


class ModelError(ValueError):
    """A result file or dictionary could not be read back."""


class NewerVersionError(ModelError):
    """The file was written by a newer connectcheck than this one."""


class Status(enum.StrEnum):
    """How a probe or a section of a check ended."""

    OK = "ok"  # ran and produced its measurements
    ERROR = "error"  # could not run or failed (see ``error``)
    TIMEOUT = "timeout"  # its time bound ran out before it finished
    CANCELLED = "cancelled"  # the user cancelled
    SKIPPED = "skipped"  # not part of this kind of check, or nothing to do
    UNAVAILABLE = "unavailable"  # not possible on this OS / without privileges


class CheckKind(enum.StrEnum):
    QUICK = "quick"
    FULL = "full"


class Connectivity(enum.StrEnum):
    ONLINE = "online"  # servers answered
    LIMITED = "limited"  # some answered, some did not (e.g. UDP blocked)
    OFFLINE = "offline"  # nothing answered: no connection
    UNKNOWN = "unknown"  # the check was cancelled before it could tell


class State(enum.StrEnum):
    """How well an activity (or a metric, a sample, a report) will go, from best to worst;
    ``UNKNOWN`` stands apart: not measured, or not judged. The one order every judge, the
    history and the reports rank states by."""

    GOOD = "good"
    DEGRADED = "degraded"  # shown to people as "weak"
    FAIL = "fail"  # shown as "failing"
    UNKNOWN = "unknown"

    @property
    def severity(self) -> int | None:
        """0 good, 1 degraded, 2 fail; None for unknown."""
        return None if self is State.UNKNOWN else KNOWN_STATES.index(self)


KNOWN_STATES = (State.GOOD, State.DEGRADED, State.FAIL)  # best to worst

CHOICES = "choices"  # dataclass field metadata key


def choice(choices: tuple[str, ...], default: str) -> Any:
    """A text field that holds one of ``choices`` (connectcheck's vocabulary, not free text)."""
    return field(default=default, metadata={CHOICES: choices})


STATES = tuple(s.value for s in State)  # every state a stored field may hold


def severity(state: str) -> int | None:
    """The rank of ``state`` (0 good … 2 fail); None when it is unknown or not a state at all."""
    return KNOWN_STATES.index(State(state)) if state in KNOWN_STATES else None


def worst_state(states: Iterable[str]) -> State:
    """The worst known state among ``states``; UNKNOWN when none is known."""
    known = [State(s) for s in states if s in KNOWN_STATES]
    return max(known, key=KNOWN_STATES.index) if known else State.UNKNOWN


def state_of(value: object) -> State:
    """``value`` as a state; anything that is not one (a damaged or newer file) is UNKNOWN."""
    return State(value) if isinstance(value, str) and value in STATES else State.UNKNOWN


@dataclass
class Section:
    """Status of one part of a check, recorded even when it failed."""

    status: Status = Status.SKIPPED
    error: str | None = None
    duration_s: float = 0.0


@dataclass
class LatencyResult:
    """Round trips to one target by one method.

    ``rtt_ms_samples`` holds every probe in the order sent; ``None`` marks a probe that got
    no answer in time.  Jitter is the mean absolute difference of consecutive answered
    round trips (RFC 3550 style).
    """

    target: str  # "host:port" or URL as configured
    method: str  # "stun" | "tcp" | "http" | "icmp"
    status: Status = Status.OK
    error: str | None = None
    address: str | None = None  # the IP actually probed
    samples_sent: int = 0
    samples: int = 0  # answered probes
    loss_pct: float | None = None
    rtt_ms_min: float | None = None
    rtt_ms_median: float | None = None
    rtt_ms_p90: float | None = None
    rtt_ms_mean: float | None = None
    jitter_ms: float | None = None
    rtt_ms_samples: list[float | None] = field(default_factory=list)
    duration_s: float = 0.0


@dataclass
class DnsResult:
    host: str
    status: Status = Status.OK
    error: str | None = None
    dns_ms: float | None = None
    addresses: list[str] = field(default_factory=list)


@dataclass
class ReachStep:
    """One step of reaching an endpoint: dns, tcp, tls, http, websocket, stun."""

    name: str
    status: Status
    duration_ms: float | None = None
    detail: str | None = None  # e.g. "HTTP 200", "TLS 1.3", the error text


@dataclass
class ReachabilityResult:
    """Whether one address of the lesson platform (or a STUN server) could be reached, and the
    steps that got there or the one that failed: name lookup, TCP, TLS, HTTP or a STUN answer."""

    url: str  # https://…, wss://…, stun:host:port
    reachable: bool = False
    status: Status = Status.OK
    error: str | None = None
    steps: list[ReachStep] = field(default_factory=list)
    http_status: int | None = None
    note: str | None = None  # plain words, e.g. what blocked UDP means for the lesson


@dataclass
class SpeedServer:
    """The server a bandwidth test used."""

    source: str  # "org" | "speedtest" | "cloudflare" | "custom"
    protocol: str  # "librespeed" | "speedtest" | "cloudflare"
    url: str  # base URL of the server
    name: str | None = None  # e.g. "Exeter — Example ISP"
    host: str | None = None
    distance_km: float | None = None
    latency_ms: float | None = None  # as measured when choosing it


@dataclass
class LoadedLatency:
    """Latency measured while a transfer loads the link (the bufferbloat number)."""

    samples: int = 0
    samples_sent: int = 0
    rtt_ms_median: float | None = None
    rtt_ms_p90: float | None = None
    rtt_increase_ms: float | None = None  # loaded median minus idle median
    rpm: float | None = None  # round trips per minute under load: 60000 / median RTT
    method: str | None = None  # how it was probed ("stun", "tcp")
    target: str | None = None


@dataclass
class CallResult:
    """A call-like stream over STUN: what the lesson's sound would see (see probes/call.py)."""

    target: str
    method: str = "stun"
    status: Status = Status.OK
    error: str | None = None
    packets_per_s: int = 0
    packet_bytes: int = 0
    packets_sent: int = 0
    packets_answered: int = 0
    loss_pct: float | None = None  # never answered
    late_pct: float | None = None  # answered after the jitter buffer would have played them
    effective_loss_pct: float | None = None  # lost plus late: what the listener misses
    burst_max: int = 0  # longest run of missed packets
    bursts: int = 0  # runs of two or more missed packets
    buffer_ms: float | None = None  # the jitter buffer judged against
    rtt_ms_median: float | None = None
    rtt_ms_p95: float | None = None
    jitter_ms: float | None = None  # mean |difference| of consecutive answered round trips
    duration_s: float = 0.0


@dataclass
class BandwidthResult:
    """One direction of the speed test: the rate the line carried once its streams were settled,
    how it was measured (server, engine, streams, windows) and why it stopped; ``loaded`` holds the
    round trips measured while it filled the line."""

    direction: str  # "download" | "upload"
    status: Status = Status.OK
    error: str | None = None
    engine: str = ""  # "adaptive" | "classic"
    server: SpeedServer | None = None
    rate_mbps: float | None = None
    bytes_transferred: int = 0
    duration_s: float = 0.0  # time spent transferring
    streams: int = 0
    streams_reason: str | None = None  # why no more streams were added, in words
    stop_reason: str | None = None  # "stable" | "time cap" | "data cap" | "cancelled" | …
    window_mbps: list[float] = field(default_factory=list)  # throughput per sample window
    window_s: float | None = None
    ramp_up_s: float | None = None  # time at the start left out of the rate (TCP ramp-up)
    loaded: LoadedLatency | None = None


@dataclass
class Summary:
    """The headline numbers the verdicts, reports and summaries read."""

    rtt_ms: float | None = None  # idle median round trip on the media path
    jitter_ms: float | None = None
    # the idle probes to that target, and the call-like stream's packets when it went there
    # too (the same path: more packets, a loss figure with less sampling error)
    loss_pct: float | None = None
    latency_target: str | None = None  # which target the three numbers above came from
    dns_ms: float | None = None  # median resolution time over the platform hosts
    download_mbps: float | None = None
    upload_mbps: float | None = None
    loaded_rtt_ms_download: float | None = None
    loaded_rtt_ms_upload: float | None = None
    rtt_increase_ms: float | None = None  # the worse of the two directions
    rpm: float | None = None  # responsiveness under load (the worse direction)
    platform_reachable: bool | None = None
    udp_ok: bool | None = None  # STUN over UDP answered
    # What a call would see (the call-like stream; the sound verdict and MOS use these).
    call_rtt_ms: float | None = None
    call_jitter_ms: float | None = None
    call_loss_pct: float | None = None  # lost plus too late for the jitter buffer


# --- this computer (local/) ------------------------------------------------------------


@dataclass
class ProcessUsage:
    """One program on this computer and what it does to the connection and the machine.

    ``name`` comes from the operating system and is untrusted: escape it wherever it is shown.
    """

    name: str
    pid: int | None = None
    app: str | None = None  # the catalogue's display name, e.g. "Steam"
    category: str | None = None  # catalogue category, e.g. "game_launcher", "video_streaming", "browser"
    advice_key: str | None = None  # the advice rule the catalogue points to
    down_mbps: float | None = None
    up_mbps: float | None = None
    rate_source: str = "none"  # "measured" (socket byte counts) | "estimate" (activity hint) | "none"
    connections: int = 0
    cpu_pct: float | None = None  # of one core
    memory_mb: float | None = None


@dataclass
class BrowserUsage:
    app: str  # "Chrome", "Firefox", …
    processes: int = 0
    content_processes: int = 0  # renderer/content processes: a rough load indication, not a tab count
    cpu_pct: float | None = None
    memory_mb: float | None = None
    down_mbps: float | None = None
    up_mbps: float | None = None


@dataclass
class InterfaceUsage:
    name: str
    kind: str = "other"  # "ethernet" | "wifi" | "mobile" | "vpn" | "loopback" | "other"
    is_default: bool = False  # carries the default route
    down_mbps: float | None = None
    up_mbps: float | None = None
    link_mbps: float | None = None


@dataclass
class HeardNetwork:
    """One Wi-Fi radio this computer hears in the system's last scan (its name and hardware
    address are never kept: only where it sits and how strong it is)."""

    channel: int | None = None
    band_ghz: float | None = None  # 2.4, 5 or 6
    signal_pct: float | None = None
    in_use: bool = False  # the radio this computer is connected to (when the system says which)


@dataclass
class WifiNeighbours:
    """The other Wi-Fi networks around, from the system's cached scan (``source``: "nmcli",
    "system_profiler" or "netsh"). ``own_listed``: the scan lists this computer's own network
    too without saying which it is (netsh). UNAVAILABLE with ``error`` when the system would not
    tell (Windows without the Location permission), said in plain words."""

    status: Status = Status.OK
    error: str | None = None
    source: str | None = None
    heard: list[HeardNetwork] = field(default_factory=list)
    own_listed: bool = False


@dataclass
class WifiInfo:
    """The Wi-Fi this computer is on, as the system reports it (signal, link rate, band); None
    fields were not reported. Read on every OS by its own backend, never guessed."""

    status: Status = Status.OK
    error: str | None = None
    interface: str | None = None
    ssid: str | None = None  # identifying: masked in reports unless the user allows it
    signal_dbm: float | None = None
    signal_pct: float | None = None
    link_rate_mbps: float | None = None
    frequency_mhz: float | None = None
    # joined to a network (False: not joined, Wi-Fi on, or turned off when error says so; None: unknown)
    connected: bool | None = None
    neighbours: WifiNeighbours | None = None  # the networks around (None: not looked at)


@dataclass
class SystemLoad:
    cpu_pct: float | None = None  # whole machine, 0..100
    cpu_pct_per_core: list[float] = field(default_factory=list)
    memory_used_pct: float | None = None
    memory_available_mb: float | None = None
    battery_pct: float | None = None
    on_battery: bool | None = None
    power_saver: bool | None = None
    busiest: list[ProcessUsage] = field(default_factory=list)  # by CPU


@dataclass
class LocalFindings:
    """What on this computer may be eating the connection, sampled over ``window_s``."""

    status: Status = Status.OK
    error: str | None = None
    os: str = ""  # "linux" | "macos" | "windows"
    backend: str = ""  # how per-program rates were obtained, e.g. "sock_diag", "nettop", "estimate"
    window_s: float | None = None
    connection_type: str | None = None  # of the default route: "ethernet" | "wifi" | "mobile" | "vpn"
    interfaces: list[InterfaceUsage] = field(default_factory=list)
    processes: list[ProcessUsage] = field(default_factory=list)  # top network users, busiest first
    unattributed_down_mbps: float | None = None  # traffic no program could be named for (UDP, others)
    unattributed_up_mbps: float | None = None
    # programs holding UDP or other flows with no byte counts (calls, QUIC): what the unattributed may be
    unattributed_programs: list[str] = field(default_factory=list)
    hungry_apps: list[ProcessUsage] = field(default_factory=list)  # catalogue apps running, rates or not
    browsers: list[BrowserUsage] = field(default_factory=list)
    wifi: WifiInfo | None = None
    system: SystemLoad | None = None
    sections: dict[str, Section] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)  # what this OS cannot tell, in plain words


# --- verdicts and advice (assess/) -------------------------------------------------------


@dataclass
class MetricVerdict:
    metric: str  # a Summary field name, e.g. "upload_mbps", "jitter_ms"
    state: str  # "good" | "degraded" | "fail" | "unknown"
    value: float | None = None
    good: float | None = None  # the limit for "good"
    fail: float | None = None  # the limit beyond which it fails
    margin: float | None = None  # how far inside (+) or outside (-) the limit that decided the state


@dataclass
class ActivityVerdict:
    activity: str  # "sound" | "video" | "whiteboard"
    state: str  # "good" | "degraded" | "fail" | "unknown"
    sentence: str  # one plain sentence for the tutor
    deciding: list[MetricVerdict] = field(default_factory=list)
    metrics: list[MetricVerdict] = field(default_factory=list)
    mos: float | None = None  # sound only: estimated call quality out of 5 (E-model)


@dataclass
class Advice:
    key: str  # the rule that produced it
    rank: int  # 1 = do this first
    action: str  # what to do, in plain words
    evidence: str = ""  # why, with the numbers
    program: str | None = None  # the program it names, if any (untrusted text)


@dataclass
class Assessment:
    overall: str  # "ready" | "limited" | "cannot" | "unknown"
    sentence: str  # the overall line for the lesson
    verdicts: list[ActivityVerdict] = field(default_factory=list)
    advice: list[Advice] = field(default_factory=list)
    changes: list[str] = field(default_factory=list)  # compared with the previous check


@dataclass
class FirstHop:
    """The home router (the first hop, the default gateway), probed idle and under load.

    ``status`` UNAVAILABLE: no gateway could be found, or it answered no probe of any kind; that
    is "unknown", never "bad" (many routers ignore pings). ``method`` is how it answered: "icmp"
    (echo without privileges), "dns" (a query to the router's DNS forwarder) or "tcp" (connect to
    its web page); ``tried`` says, per method, why the ones before it were not used.
    """

    status: Status = Status.OK
    error: str | None = None
    gateway: str | None = None  # the router's address on this side (masked in reports)
    interface: str | None = None  # the card whose default route goes through it
    source: str | None = None  # where it was read: "proc_net_route" | "route_get" | "route_print" | "given"
    method: str | None = None  # "icmp" | "dns" | "tcp"
    target: str | None = None  # what was probed: "192.168.1.1", "192.168.1.1:53", "192.168.1.1:80"
    idle: LatencyResult | None = None
    loaded: dict[str, LoadedLatency] = field(default_factory=dict)  # "download" / "upload"
    tried: list[str] = field(default_factory=list)


@dataclass
class RouterCounters:
    """The home router's own byte counters for its internet side (UPnP IGD), read twice.

    ``status`` UNAVAILABLE: no router answered the discovery, or it does not offer the counters;
    ERROR with ``problem`` set: it answered, but its figures cannot be believed ("stuck" at one
    value, "zero" while traffic moved, "wrap" of a 32-bit counter during the reading, "above_line"
    rates faster than the line it reports, "packets_only"). Rates are the whole household's.
    """

    status: Status = Status.OK
    error: str | None = None
    problem: str | None = None
    device: str | None = None  # the router's own name for itself (untrusted text)
    window_s: float | None = None  # time between the two readings
    down_mbps: float | None = None  # the household's internet traffic during the window
    up_mbps: float | None = None
    line_down_mbps: float | None = None  # the line's rates as the router reports them
    line_up_mbps: float | None = None
    own_down_mbps: float | None = None  # this computer's traffic in the same window
    own_up_mbps: float | None = None
    others_down_mbps: float | None = None  # the household minus this computer
    others_up_mbps: float | None = None
    # The router's internet-side address, as a finding only (the address is never kept): "public",
    # "cgnat" (100.64.0.0/10: the provider shares one address among many homes) or "private"
    # (another router in front of this one); None when the router does not say.
    wan_side: str | None = choice(("public", "cgnat", "private", None), None)  # type: ignore[arg-type]


NAT_BEHAVIOURS = ("endpoint_independent", "address_dependent", "address_and_port_dependent", "dependent")


@dataclass
class NatMapping:
    """How this network's NAT maps calls, from two or more STUN servers (RFC 5780's mapping test):
    ``behaviour`` "endpoint_independent" (one public address and port whatever the server: calls can
    connect directly), "address_dependent" / "address_and_port_dependent" (a new one per server
    address, or per address and port: direct connections often fail and calls need a relay) or
    "dependent" (differs by server address, its port dependence not tested); None when it could
    not be told. ``nat`` False: the servers saw this computer's own address. No address is kept."""

    status: Status = Status.OK
    error: str | None = None
    behaviour: str | None = choice((*NAT_BEHAVIOURS, None), None)  # type: ignore[arg-type]
    nat: bool | None = None
    cgnat: bool | None = None  # the address the servers saw is in 100.64.0.0/10
    servers_answered: int = 0
    requests: int = 0  # Binding requests sent (about 60 bytes each)


@dataclass
class CheckResult:
    """Everything one check found: its kind and time, whether anything answered, the summary the
    verdicts judge, each probe's own result, this computer's findings and, once judged, the
    assessment. Saved as versioned JSON (:func:`dumps`, :func:`loads`) and kept in the history."""

    kind: CheckKind
    started_at: str  # ISO 8601 with time zone offset
    schema_version: int = SCHEMA_VERSION
    app_version: str = ""
    duration_s: float = 0.0
    status: Status = Status.OK  # ok = ran (whatever it found); cancelled; error
    connectivity: Connectivity = Connectivity.UNKNOWN
    summary: Summary = field(default_factory=Summary)
    sections: dict[str, Section] = field(default_factory=dict)
    latency: list[LatencyResult] = field(default_factory=list)
    dns: list[DnsResult] = field(default_factory=list)
    reachability: list[ReachabilityResult] = field(default_factory=list)
    call: CallResult | None = None  # the call-like stream
    bandwidth: list[BandwidthResult] = field(default_factory=list)
    engine: str | None = None  # "adaptive" | "classic"
    speed_servers_tried: list[str] = field(default_factory=list)  # how the speed server was chosen
    # the internet provider of the network the check ran on, by name only, as the speed service
    # named it (speedtest.net's configuration answer); never the address it also gives
    provider: str | None = None
    bytes_used: int = 0  # all bytes the check moved (both directions, all probes)
    metered: str | None = None  # why the connection was taken as metered (its data capped); None: it was not
    notes: list[str] = field(default_factory=list)  # plain-words remarks of the check
    local: LocalFindings | None = None  # this computer: programs, Wi-Fi, load
    assessment: Assessment | None = None  # verdicts and advice
    first_hop: FirstHop | None = None  # the home router, probed idle and under load
    router: RouterCounters | None = None  # the router's own counters (other devices' traffic)
    nat: NatMapping | None = None  # how this network maps calls (two STUN servers)


# ---------------------------------------------------------------------------------------
# (de)serialisation

T = TypeVar("T")


def to_dict(obj: Any) -> Any:
    """A JSON-ready copy of a result object (dataclasses, enums, lists, dicts)."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: to_dict(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, enum.Enum):
        return obj.value
    if isinstance(obj, (list, tuple)):
        return [to_dict(v) for v in obj]
    if isinstance(obj, dict):
        return {str(k): to_dict(v) for k, v in obj.items()}
    if isinstance(obj, float) and obj != obj:  # NaN is not JSON
        return None
    return obj


def _convert(value: Any, tp: Any, path: str) -> Any:
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if tp is Any:
        return value
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        errors = []
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _convert(value, arg, path)
            except ModelError as exc:
                errors.append(str(exc))
        raise ModelError(errors[0] if errors else f"{path}: unexpected value {value!r}")
    if origin is list:
        if not isinstance(value, list):
            raise ModelError(f"{path}: expected a list, found {type(value).__name__}")
        return [_convert(v, args[0], f"{path}[{i}]") for i, v in enumerate(value)]
    if origin is dict:
        if not isinstance(value, dict):
            raise ModelError(f"{path}: expected an object, found {type(value).__name__}")
        return {str(k): _convert(v, args[1], f"{path}.{k}") for k, v in value.items()}
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        return _from_dict(tp, value, path)
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        try:
            return tp(value)
        except ValueError:
            allowed = ", ".join(repr(m.value) for m in tp)
            raise ModelError(f"{path}: {value!r} is not one of {allowed}") from None
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ModelError(f"{path}: expected a number, found {value!r}")
        return float(value)
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ModelError(f"{path}: expected a whole number, found {value!r}")
        return value
    if tp is bool:
        if not isinstance(value, bool):
            raise ModelError(f"{path}: expected true or false, found {value!r}")
        return value
    if tp is str:
        if not isinstance(value, str):
            raise ModelError(f"{path}: expected text, found {value!r}")
        return value
    raise ModelError(f"{path}: cannot read a value of type {tp!r}")  # pragma: no cover


_HINTS: dict[type, dict[str, Any]] = {}


def _from_dict(cls: type[T], data: Any, path: str) -> T:
    if not isinstance(data, dict):
        raise ModelError(f"{path}: expected an object, found {type(data).__name__}")
    hints = _HINTS.get(cls)
    if hints is None:
        hints = _HINTS[cls] = typing.get_type_hints(cls)
    kwargs = {}
    for f in dataclasses.fields(cls):  # type: ignore[arg-type]
        if f.name in data:
            kwargs[f.name] = _convert(data[f.name], hints[f.name], f"{path}.{f.name}")
        elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            raise ModelError(f"{path}: the field {f.name!r} is missing")
    # Unknown keys are ignored: a file of the same version may carry fields added later.
    return cls(**kwargs)


def from_dict(cls: type[T], data: Any, path: str = "$") -> T:
    """Build a result object of type ``cls`` from plain data, checking every field."""
    return _from_dict(cls, data, path)


def check_result_from_dict(data: Any) -> CheckResult:
    """Read a check result, refusing a newer schema with a clear message."""
    if not isinstance(data, dict):
        raise ModelError("this is not a connectcheck result (expected a JSON object)")
    version = data.get("schema_version")
    if not isinstance(version, int) or isinstance(version, bool):
        raise ModelError("this is not a connectcheck result (no schema_version)")
    if version > SCHEMA_VERSION:
        raise NewerVersionError(
            f"this result was written by a newer connectcheck (format version {version}; "
            f"this one reads up to {SCHEMA_VERSION}). Please update connectcheck to read it."
        )
    if version < 1:
        raise ModelError(f"unknown result format version {version}")
    return from_dict(CheckResult, data)


# json.dumps escapes C0 controls inside strings itself; outside strings only its own whitespace is
_INVISIBLE = re.compile("[\x7f-\x9f\u00ad\u061c\u180e\u200b-\u200f\u2028-\u202e\u2060-\u206f"
                        "\ufeff\ufff9-\ufffb]")


def safe_json(data: Any, indent: int | None = 2) -> str:
    """JSON text in UTF-8 words, with every control and invisible formatting character
    (bidirectional overrides such as U+202E, zero-width spaces, line separators) written as a
    ``\\uXXXX`` escape: a file opened in an editor or a terminal shows what is there. JSON allows
    these characters only inside strings, so the escapes change no value."""
    text = json.dumps(data, indent=indent, ensure_ascii=False, allow_nan=False)
    return _INVISIBLE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def dumps(result: CheckResult, indent: int | None = 2) -> str:
    """The versioned JSON text of a check result."""
    return safe_json(to_dict(result), indent=indent)


def loads(text: str | bytes) -> CheckResult:
    """Read a check result from JSON text; raises ModelError with a clear message."""
    try:
        data = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise ModelError(f"the result file is damaged (not valid JSON: {exc})") from None
    return check_result_from_dict(data)


# ---------------------------------------------------------------------------------------
# the failed-lesson procedure (policy/): the steps the tutor went through and her answers,
# kept for the report and the support e-mail.


@dataclass
class ProcedureStepRecord:
    """One step of the procedure as the tutor went through it."""

    step: str  # the step's id in resources/procedure.toml
    kind: str  # "question" | "info" | "date" | "end"
    text: str  # what the app said, with the lesson's dates and the organisation's notes filled in
    answer: str | None = None  # the answer's value ("yes", "practice", "2024-10-29", "next")
    answer_text: str | None = None  # the answer as the tutor saw it
    tried: str | None = None  # what this answer means was tried, in the tutor's voice, for support
    at: str | None = None  # when it was answered, ISO 8601 with time zone offset


@dataclass
class ProcedureRecord:
    """The organisation's procedure for a lesson the technology stopped, as it was followed."""

    profile: str = ""  # the organisation profile's id
    lesson_start: str | None = None  # ISO 8601 date or date-time of the lesson
    started_at: str | None = None  # when the tutor opened the procedure
    last_allowed_date: str | None = None  # ISO date: the last day a replacement lesson may be on
    steps: list[ProcedureStepRecord] = field(default_factory=list)
    # "resolved" | "continued" | "continued_phone" | "rearranged" | "abandoned" | "not_this_procedure"
    outcome: str | None = None
    rearranged_to: str | None = None  # ISO date of the agreed replacement lesson
    finished: bool = False


# ---------------------------------------------------------------------------------------
# lesson monitoring (monitor.py, history.py)


@dataclass
class MonitorSample:
    """One light sample taken while a lesson is monitored (every few seconds, little data)."""

    at: str  # ISO 8601 with time zone offset
    t_s: float  # seconds since the lesson started
    rtt_ms: float | None = None  # median of the probes in this sample
    jitter_ms: float | None = None
    loss_pct: float | None = None
    probes: int = 0  # probes sent in this sample
    down_mbps: float | None = None  # this computer's traffic on the default interface
    up_mbps: float | None = None
    top_program: str | None = None  # the program using most of the connection (untrusted text)
    top_program_mbps: float | None = None
    states: dict[str, str] = field(default_factory=dict)  # activity -> good|degraded|fail|unknown
    # loss over the last half minute or so of probes, as a plain share for people to read; the
    # states judge its one-sided Wilson bound (assess/lesson.loss_bound_pct), one burst being too few
    window_loss_pct: float | None = None
    method: str | None = None  # how the round trips were measured: "stun" | "tcp"
    target: str | None = None  # the server measured, as configured (host:port)
    error: str | None = None  # why figures are missing, in plain words
    udp_ok: bool | None = None  # False: no STUN server answered over UDP when the target was chosen
    # The home router (first hop), probed beside each burst (None: not measured, or no answer).
    hop_rtt_ms: float | None = None
    hop_jitter_ms: float | None = None
    hop_loss_pct: float | None = None
    hop_probes: int = 0  # probes sent to the router in this sample (0: not measured)
    hop_method: str | None = None  # "icmp" | "dns" | "tcp"
    # Other devices at home, from the router's counters since the sample before (None: not told).
    others_mbps: float | None = None
    # The lesson platform's names, as last looked up through this computer's resolver (None: not
    # looked up; False: at least one could not be found, so the browser cannot reach the platform).
    names_ok: bool | None = None


@dataclass
class LessonAlert:
    """A change of verdict that lasted long enough to be told (or its recovery)."""

    at: str
    t_s: float
    activity: str  # "sound" | "video" | "whiteboard"
    state: str  # the new state
    previous: str  # the state before
    message: str  # what the tutor was told


@dataclass
class LessonRecord:
    """A monitored lesson as the history keeps it."""

    id: int | None = None
    started_at: str = ""
    ended_at: str | None = None  # None while monitoring (or after a crash mid-lesson)
    label: str | None = None  # the tutor's own label, if any
    interval_s: float | None = None
    samples: list[MonitorSample] = field(default_factory=list)
    alerts: list[LessonAlert] = field(default_factory=list)
    checks: list[CheckResult] = field(default_factory=list)  # checks run during the lesson
    procedure: ProcedureRecord | None = None  # the failed-lesson guide, if it was followed
    notes: list[str] = field(default_factory=list)  # parts of the record that could not be read back


CAUSES = (
    "no_connection",  # nothing answered at all
    "platform_unreachable",  # the internet works, the lesson platform does not answer
    "other_program",  # a program on this computer uses much of the line
    "others_at_home",  # latency rises while this computer is quiet: another device at home
    "weak_wifi",
    "computer_overloaded",
    "line_too_slow",  # the home line itself is too slow for the lesson
    "line_unsteady",  # round trips, jitter or losses beyond the router while the home is clean
    "network_blocks_udp",  # the direct route calls take (UDP) is blocked
    "no_fault",  # nothing wrong found
    "unclear",  # something was wrong but the evidence points nowhere in particular
)


# The tutor's path, in order: this computer -> Wi-Fi (or cable) -> home router -> broadband line
# -> lesson platform. Every cause lies on one of them.
LINKS = ("computer", "wifi", "router", "line", "platform")


@dataclass
class LinkEvidence:
    """What was measured on one link of the path, for the picture and for support tools."""

    link: str = choice(LINKS, "computer")
    state: str = choice(STATES, "unknown")  # good | degraded | fail | unknown (nothing measured)
    figure: str = ""  # the one figure shown beside the link ("12 ms, 3 % lost")
    evidence: list[str] = field(default_factory=list)  # what the state rests on; what could not be had


@dataclass
class Cause:
    """The likely cause of the trouble, with the evidence that points to it."""

    key: str = choice(CAUSES, "unclear")
    title: str = ""  # "Another program on this computer"
    sentence: str = ""  # the finding in one plain sentence
    evidence: list[str] = field(default_factory=list)  # the numbers behind it
    program: str | None = None  # the program it names (untrusted text)
    also: list[str] = field(default_factory=list)  # other factors that may have played a part
    links: list[LinkEvidence] = field(default_factory=list)  # the five links, what was measured on each
    broken: str | None = choice((*LINKS, ""), "")  # the link the cause lies on ("" when none)
