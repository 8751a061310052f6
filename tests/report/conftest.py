"""Shared for the report tests: real checks against servers the tests start, hostile texts, and the
identifying values of this computer planted where a real check would carry them."""

from __future__ import annotations

import copy
import getpass
import shutil
import socket
from pathlib import Path

import pytest

from connectcheck.check import CheckOptions, run_check
from connectcheck.config.settings import Settings
from connectcheck.core.model import CheckKind, CheckResult, ProcessUsage, ReachStep, Status, WifiInfo
from connectcheck.probes.speed import SpeedConfig
from connectcheck.report.redact import Identity
from tests.lab.endpoints import WebServer, dead_port, make_pki
from tests.lab.speed_server import LabSpeedServer
from tests.lab.stun_server import StunServer

SCRIPT = "<script>alert(1)</script>"
IMG = '"><img src=x onerror=alert(1)>'
WIFI_HTML = "<b>Home</b><iframe src=//evil.example>"
CONTROL = "HTTP 503\x1b[31m Service\x07 Un\x00available\u202e"
HOSTILE = (SCRIPT, IMG)
FAKE = Identity(
    user_names=("jane.doe-7781",),
    home_folders=("/home/jane.doe-7781", "C:\\Users\\jane.doe-7781"),
    host_names=("JANES-LAPTOP-4432", "janes-laptop-4432.local"),
)


@pytest.fixture(scope="session")
def pki(tmp_path_factory):
    return make_pki(tmp_path_factory.mktemp("report-pki"))


def _options(stun: StunServer, platform: list[str], ca_file: str, speed: LabSpeedServer) -> CheckOptions:
    return CheckOptions(
        kind=CheckKind.FULL,
        stun_servers=[stun.address],
        platform_urls=platform,
        ca_file=ca_file,
        time_limit_s=20,
        latency_probes=20,
        latency_interval_s=0.02,
        speed=SpeedConfig(
            source="org", org_server_url=speed.librespeed_url, time_limit_s=2.0, data_limit_bytes=100_000_000
        ),
    )


@pytest.fixture(scope="session")
def lab_check(pki) -> CheckResult:
    """A real full check over loopback: STUN, HTTPS platform, speed server, this computer's programs."""
    with StunServer() as stun, WebServer(cert=pki.cert, key=pki.key) as web, LabSpeedServer() as speed:
        result = run_check(_options(stun, [web.url("/")], str(pki.ca_file), speed))
    assert result.status is Status.OK, result.notes
    return result


@pytest.fixture(scope="session")
def unreachable_check(pki) -> CheckResult:
    """A real full check where nothing listens at the lesson platform's address (STUN still answers)."""
    with StunServer() as stun, LabSpeedServer() as speed:
        result = run_check(_options(stun, [f"https://127.0.0.1:{dead_port()}/"], str(pki.ca_file), speed))
    assert result.summary.platform_reachable is False
    return result


def plant(result: CheckResult, identity: Identity, ssid: str) -> CheckResult:
    """A copy of a real check with identifying values where real ones turn up: a program started
    from the home folder with a command line, the computer's name in an error, addresses in notes,
    the Wi-Fi network's name."""
    r = copy.deepcopy(result)
    user, home, host = identity.user_names[0], identity.home_folders[0], identity.host_names[0]
    local = r.local
    assert local is not None
    local.processes.insert(
        0,
        ProcessUsage(
            name=f"{home}/.local/bin/sync-helper --user {user} --dir {home}/Music",
            pid=4242,
            down_mbps=3.2,
            up_mbps=0.4,
            rate_source="measured",
        ),
    )
    local.hungry_apps.append(
        ProcessUsage(
            name=f"python3 {home}/projects/{host}-backup.py",
            pid=4243,
            app="Backup",
            category="backup",
            rate_source="none",
        )
    )
    local.wifi = WifiInfo(interface="wlp3s0", ssid=ssid, signal_dbm=-71.0, signal_pct=42.0)
    local.connection_type = "wifi"
    local.notes.append(f"the network card of {host} (MAC 3c:22:fb:12:34:56) has fe80::1a2b:3cff:fe4d:5e6f")
    r.notes.append(f"{user} ran this check on {host} from {home}; Wi-Fi {ssid}; router 192.168.1.254")
    r.reachability[0].error = f"could not reach the platform from {host} ({user})"
    return r


def hostile(result: CheckResult) -> CheckResult:
    """A copy of a real check where the computer and the servers gave hostile texts: programs named
    like markup, a Wi-Fi name with HTML, a server error with control characters. Its assessment is
    left to the report (the advice then names the hostile programs too)."""
    r = copy.deepcopy(result)
    assert r.local is not None
    r.local.processes[:0] = [
        ProcessUsage(name=SCRIPT, pid=101, down_mbps=6.5, up_mbps=0.2, rate_source="measured"),
        ProcessUsage(
            name=IMG,
            pid=102,
            app=IMG,
            category="video_streaming",
            down_mbps=4.1,
            up_mbps=0.1,
            rate_source="measured",
        ),
    ]
    r.local.wifi = WifiInfo(interface="wlp3s0", ssid=WIFI_HTML, signal_dbm=-80.0, signal_pct=25.0)
    r.local.connection_type = "wifi"
    r.reachability[0].error = CONTROL
    r.reachability[0].steps.append(ReachStep("http", Status.ERROR, None, CONTROL))
    r.notes.append(CONTROL)
    r.summary.download_mbps = 2.0  # slow enough for the advice to name the programs
    r.assessment = None
    return r


@pytest.fixture
def settings() -> Settings:
    return Settings()


def real_values() -> list[str]:
    """This computer's own user name, home folder and host name, as a report must never show them."""
    values = [getpass.getuser(), str(Path.home()), socket.gethostname()]
    return [v for v in values if v]


needs_pdftoppm = pytest.mark.skipif(
    shutil.which("pdftoppm") is None, reason="pdftoppm is not installed (Debian package poppler-utils)"
)
needs_pdftotext = pytest.mark.skipif(
    shutil.which("pdftotext") is None, reason="pdftotext is not installed (Debian package poppler-utils)"
)
