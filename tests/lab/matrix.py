"""The faults of issue 14, each produced for real in the home lab, and `connectcheck check --json
--report` run on this computer (the pc namespace) against each: the cause the report gives is
compared with the truth the lab was built with.

Used by tests/lab/test_matrix.py (asserts every cause) and benchmarks/home.py (times and numbers).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from tests.lab.homelab import GW, GW_WAN_IF, HomeLab, WifiSpec
from tests.lab.netlab import LinkSpec, _run
from tests.lab.services import STUN_PORT, LabServices, start_services

PLATFORM_NAME = "platform.lab.test"  # looked up through the home router's DNS, which knows no name
# While this file exists, the router's DNS blocks the platform's name as a filter does (0.0.0.0)
DNS_FILTER_FLAG = Path("/tmp/connectcheck-lab-dns-filter")
NETNS_ETC = Path("/etc/netns/ccl-pc")  # ip netns exec binds these over /etc in the pc namespace


@dataclass
class Fault:
    name: str
    expected: str  # the cause key the report must give
    # A clean line keeps a short queue (15 ms): a 100 ms one fills under the speed test, which is
    # bufferbloat on the line, a fault of its own (the judge names the line then, as it should).
    line: LinkSpec = field(default_factory=lambda: LinkSpec(down_mbit=20, up_mbit=5, rtt_ms=20, queue_ms=15))
    wifi: WifiSpec = field(default_factory=WifiSpec)
    setup: Callable[[HomeLab, LabServices], None] | None = None  # after the services are up
    by_name: bool = False  # the platform addressed by a name (looked up through the router)
    expected_link: str = ""


def _bulk(ns: str) -> Callable[[HomeLab, LabServices], None]:
    def start(lab: HomeLab, services: LabServices) -> None:
        lab.spawn([sys.executable, "-m", "tests.lab.tcp_reference", "serve", "--port", "5202"])
        lab.wait_port(5202)
        lab.spawn([sys.executable, "-m", "tests.lab.tcp_reference", "run", "--host", lab.server_ip, "--port",
                   "5202", "--direction", "download", "--streams", "4", "--duration", "120"], ns=ns)
        time.sleep(2.0)  # the transfer at full rate, as a film already playing would be

    return start


def _block_udp(lab: HomeLab, services: LabServices) -> None:
    rules = "\n".join(["*filter", ":INPUT ACCEPT [0:0]", ":FORWARD ACCEPT [0:0]", ":OUTPUT ACCEPT [0:0]",
                       f"-A FORWARD -p udp --dport {STUN_PORT} -j DROP", "COMMIT", ""])
    _run(["iptables-restore"], ns=GW, stdin=rules)


def _offline(lab: HomeLab, services: LabServices) -> None:
    _run(["ip", "-n", GW, "link", "set", GW_WAN_IF, "down"])


FAULTS = [
    Fault("clean", "no_fault"),
    Fault("slow line", "line_too_slow", line=LinkSpec(down_mbit=1.2, up_mbit=0.4, rtt_ms=20, queue_ms=15),
          expected_link="line"),
    Fault("a program here saturating the line", "other_program",
          line=LinkSpec(down_mbit=8, up_mbit=2, rtt_ms=20), setup=_bulk("pc"), expected_link="computer"),
    Fault("another device saturating the line", "others_at_home",
          line=LinkSpec(down_mbit=8, up_mbit=2, rtt_ms=20), setup=_bulk("device"), expected_link="router"),
    Fault("weak Wi-Fi", "weak_wifi", wifi=WifiSpec(rtt_ms=25, jitter_ms=12, loss_pct=4),
          expected_link="wifi"),
    Fault("unsteady line, clean Wi-Fi", "line_unsteady",
          line=LinkSpec(down_mbit=20, up_mbit=5, rtt_ms=30, jitter_ms=25, loss_pct=4, queue_ms=15),
          expected_link="line"),
    Fault("the platform's names filtered by DNS", "platform_unreachable", by_name=True,
          expected_link="platform"),
    Fault("UDP blocked", "network_blocks_udp", setup=_block_udp, expected_link="router"),
    Fault("offline", "no_connection", setup=_offline, expected_link="line"),
]


@dataclass
class Outcome:
    fault: str
    expected: str
    cause: str
    broken: str
    duration_s: float
    wall_s: float
    first_hop: dict | None
    router: dict | None
    evidence: list[str]
    result: dict = field(default_factory=dict, repr=False)


def _resolver(on: bool) -> None:
    """The pc namespace's resolver: the home router (which answers NXDOMAIN for every name it was not
    given)."""
    if on:
        NETNS_ETC.mkdir(parents=True, exist_ok=True)
        (NETNS_ETC / "resolv.conf").write_text("nameserver 10.77.3.1\noptions timeout:1 attempts:1\n")
    elif NETNS_ETC.exists():
        shutil.rmtree(NETNS_ETC)


def _start_router(lab: HomeLab, line: LinkSpec, *, names_platform: bool = False) -> None:
    """The home router's DNS forwarder and web page, and its IGD counting the line's real traffic.
    ``names_platform``: its DNS gives the platform's name the server's address, until
    :data:`DNS_FILTER_FLAG` appears."""
    gw = lab.gateway_ip
    names = ["--name", f"{PLATFORM_NAME}={lab.server_ip}", "--filter-when", str(DNS_FILTER_FLAG)]
    lab.spawn([sys.executable, "-m", "tests.lab.gateway", "--host", gw, "--http-port", "80",
               *(names if names_platform else [])], ns="gateway")
    lab.spawn([sys.executable, "-m", "tests.lab.igd_server", "--host", gw, "--wan", GW_WAN_IF,
               "--line-down-mbit", str(line.down_mbit or 1000), "--line-up-mbit", str(line.up_mbit or 1000)],
              ns="gateway")


def run_fault(fault: Fault, folder: Path, quick: bool = False) -> Outcome:
    """Build the lab for ``fault``, run the check on this computer, read the report's JSON."""
    _resolver(True)
    try:
        with HomeLab(fault.line, fault.wifi) as lab:
            _start_router(lab, fault.line)
            services = start_services(lab, folder)
            if fault.setup is not None:
                fault.setup(lab, services)
            args = services.check_args()
            if fault.by_name:
                named = services.platform_url.replace(lab.server_ip, PLATFORM_NAME)
                args[args.index("--platform") + 1] = named
            report = folder / f"{fault.name.replace(' ', '_').replace(',', '')}.json"
            env = {k: v for k, v in os.environ.items() if k != "CONNECTCHECK_HOME_ROUTER"}
            started = time.monotonic()
            argv = [sys.executable, "-m", "connectcheck", "check", "--json", "--report", str(report),
                    *(["--quick"] if quick else []), *args]
            proc = lab.spawn(argv, ns="pc", env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True)
            out, err = proc.communicate(timeout=180)
            wall = time.monotonic() - started
    finally:
        _resolver(False)
    if proc.returncode not in (0,):
        raise RuntimeError(f"connectcheck check failed ({proc.returncode}): {err[-3000:]}")
    result = json.loads(out)
    data = json.loads(report.read_text())
    cause = data["headline"]["cause"]
    return Outcome(fault.name, fault.expected, cause["key"], cause["broken"], result["duration_s"], wall,
                   result.get("first_hop"), result.get("router"), cause["evidence"], result)


# --- a monitored lesson with the fault starting midway ----------------------------------------------


@dataclass
class LessonFault:
    name: str
    expected: str
    expected_link: str
    change: Callable[[HomeLab], None]  # the fault, applied ``calm_s`` into the lesson
    line: LinkSpec = field(default_factory=lambda: LinkSpec(down_mbit=20, up_mbit=5, rtt_ms=20, queue_ms=15))
    by_name: bool = False  # the platform addressed by its name, which the router's DNS gives
    start: Callable[[HomeLab], None] | None = None  # before the lesson (e.g. the lesson's own call)


def _wifi_impaired(lab: HomeLab) -> None:
    lab.set_wifi(WifiSpec(rtt_ms=25, jitter_ms=12, loss_pct=4))


def _line_breaks(lab: HomeLab) -> None:
    lab.set_link(LinkSpec(down_mbit=20, up_mbit=5, rtt_ms=30, jitter_ms=25, loss_pct=4, queue_ms=15))


def _line_down(lab: HomeLab) -> None:
    _offline(lab, None)  # type: ignore[arg-type]


def _device_streams(lab: HomeLab) -> None:
    _bulk("device")(lab, None)  # type: ignore[arg-type]


def _program_streams(lab: HomeLab) -> None:
    _bulk("pc")(lab, None)  # type: ignore[arg-type]


def _udp_blocked(lab: HomeLab) -> None:
    _block_udp(lab, None)  # type: ignore[arg-type]


def _lesson_call(lab: HomeLab) -> None:
    """The lesson's own call, 1.5 Mbit/s down and 0.8 up, from before the monitoring starts."""
    call = [sys.executable, "-m", "tests.lab.call_stream"]
    lab.spawn([*call, "serve", "--host", lab.server_ip, "--port", "5300"])
    lab.spawn([*call, "run", "--host", lab.server_ip, "--port", "5300"], ns="pc")
    time.sleep(1.0)


def _line_slows(lab: HomeLab) -> None:
    lab.set_link(LinkSpec(down_mbit=1.2, up_mbit=0.4, rtt_ms=20, queue_ms=15))


def _dns_filter_on(lab: HomeLab) -> None:
    DNS_FILTER_FLAG.touch()


def _nothing(lab: HomeLab) -> None:
    """A calm lesson: nothing changes."""


LESSON_FAULTS = [
    LessonFault("the Wi-Fi gets weak midway", "weak_wifi", "wifi", _wifi_impaired),
    LessonFault("another device starts saturating the line midway", "others_at_home", "router",
                _device_streams, line=LinkSpec(down_mbit=8, up_mbit=2, rtt_ms=20)),
    LessonFault("the line gets unsteady midway", "line_unsteady", "line", _line_breaks),
    LessonFault("the line goes down midway", "no_connection", "line", _line_down),
    LessonFault("a program here starts saturating the line midway", "other_program", "computer",
                _program_streams, line=LinkSpec(down_mbit=8, up_mbit=2, rtt_ms=20)),
    LessonFault("the router starts blocking UDP midway", "network_blocks_udp", "router", _udp_blocked),
    LessonFault("the line gets too slow for the lesson's call midway", "line_too_slow", "line", _line_slows,
                start=_lesson_call),
    LessonFault("a DNS filter starts blocking the platform's name midway", "platform_unreachable", "platform",
                _dns_filter_on, by_name=True),
    LessonFault("a calm lesson", "no_fault", "", _nothing),
]


@dataclass
class LessonOutcome:
    fault: str
    expected: str
    cause: str
    broken: str
    samples: list[dict]
    cause_json: dict = field(repr=False, default_factory=dict)


def run_lesson(fault: LessonFault, folder: Path, calm_s: float = 20.0, minutes: float = 1.0,
               interval_s: float = 2.0) -> LessonOutcome:
    """Build the home lab, monitor a lesson on this computer (`connectcheck monitor`), bring the
    fault in ``calm_s`` after the start, and read the cause from `connectcheck report export`."""
    env = {k: v for k, v in os.environ.items() if k != "CONNECTCHECK_HOME_ROUTER"}
    DNS_FILTER_FLAG.unlink(missing_ok=True)
    _resolver(fault.by_name)
    try:
        with HomeLab(fault.line, WifiSpec()) as lab:
            _start_router(lab, fault.line, names_platform=fault.by_name)
            services = start_services(lab, folder)
            if fault.start is not None:
                fault.start(lab)
            platform = services.platform_url
            if fault.by_name:
                platform = platform.replace(lab.server_ip, PLATFORM_NAME)
            argv = [sys.executable, "-m", "connectcheck", "monitor", "--json", "--minutes", str(minutes),
                    "--label", fault.name, "--stun", services.stun, "--platform", platform,
                    "--set", f"monitor.interval_s={interval_s}"]
            proc = lab.spawn(argv, ns="pc", env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True)
            time.sleep(calm_s)
            fault.change(lab)
            out, err = proc.communicate(timeout=minutes * 60 + 60)
    finally:
        _resolver(False)
        DNS_FILTER_FLAG.unlink(missing_ok=True)
    if proc.returncode != 0:
        raise RuntimeError(f"connectcheck monitor failed ({proc.returncode}): {err[-3000:]}")
    samples = [line for line in map(json.loads, out.splitlines()) if line.get("type") == "sample"]
    report = folder / "lesson.json"
    export = subprocess.run([sys.executable, "-m", "connectcheck", "report", "export", "--lesson", "last",
                             str(report)], env=env, capture_output=True, text=True, timeout=120)
    if export.returncode != 0:
        raise RuntimeError(f"connectcheck report export failed: {export.stderr[-3000:]}")
    cause = json.loads(report.read_text())["headline"]["cause"]
    return LessonOutcome(fault.name, fault.expected, cause["key"], cause["broken"], samples, cause)
