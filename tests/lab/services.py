"""The lab's servers, started inside the server namespace: speed server, STUN, HTTPS platform.

Used by the end-to-end lab tests and by the benchmarks, so both measure against the same setup.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

from tests.lab.netlab import NetLab

SPEED_PORT = 8080
STUN_PORT = 3478
HTTPS_PORT = 8443


@dataclass
class LabServices:
    speed_url: str  # LibreSpeed / Cloudflare-style / speedtest.net legacy, all on one server
    stun: str  # host:port
    platform_url: str  # https://…/ with a certificate from the lab's own CA
    ca_file: str

    def check_args(self) -> list[str]:
        """`connectcheck check` arguments that point every probe at these servers."""
        return ["--source", "org", "--speed-server", self.speed_url, "--stun", self.stun,
                "--platform", self.platform_url, "--ca-file", self.ca_file]


def start_services(lab: NetLab, folder: Path) -> LabServices:
    """Start the servers in ``lab``'s server namespace (they stop with the lab)."""
    ip = lab.server_ip
    lab.spawn([sys.executable, "-m", "tests.lab.speed_server", "--host", ip, "--port", str(SPEED_PORT)])
    lab.spawn([sys.executable, "-m", "tests.lab.stun_server", "--host", ip, "--port", str(STUN_PORT)])
    lab.spawn([sys.executable, "-m", "tests.lab.endpoints", "--host", ip, "--pki", str(folder),
               "--https-port", str(HTTPS_PORT), "--http-port", "8081", "--slow-port", "8099",
               "--blackhole-port", "8098"])
    for port in (SPEED_PORT, HTTPS_PORT):
        lab.wait_port(port, timeout_s=20)
    lab.wait_port(STUN_PORT, "udp", timeout_s=20)
    return LabServices(speed_url=f"http://{ip}:{SPEED_PORT}/", stun=f"{ip}:{STUN_PORT}",
                       platform_url=f"https://{ip}:{HTTPS_PORT}/", ca_file=str(folder / "test-ca.pem"))
