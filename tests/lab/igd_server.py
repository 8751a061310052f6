"""A small UPnP Internet Gateway Device for the tests and the lab's home router: SSDP answers, a
device description, and WANCommonInterfaceConfig's read-only actions, whose byte counters are
the router namespace's real WAN counters (``/proc/net/dev`` of its internet-side card).

Variants copy what real routers do wrong: ``honest``; ``stuck`` (counters pinned at 4294967295);
``zero`` (always 0); ``wrap`` (32-bit counters that go round a moment after the start);
``above_line`` (a line rate far below what moves); ``packets_only`` (byte counters refused with
UPnP error 401, packet counters answered); ``bomb`` (a description with an entity-expansion bomb);
``huge`` (a description of 1 MB). Every variant refuses ``GetAddonInfos`` (UPnP error 401, as
routers other than AVM's do) except the FRITZ!Box ones, which answer it in the layout of real
FRITZ!OS answers (tests/probes/corpus/igd): ``fritz`` with the 64-bit counters beside the 32-bit
ones, which go round a moment after the start as in ``wrap``; ``fritz_32`` with the 32-bit ones
only (older FRITZ!OS), going round the same way.

Its WANIPConnection answers ``GetExternalIPAddress`` with the WAN card's own IPv4 address (or the
one given, as a provider's carrier-grade NAT would hand out 100.64.x.x); every other action there
is refused, as the router must never be changed.

``python -m tests.lab.igd_server --host 10.77.3.1 --wan cclw --variant honest`` (in the gateway
namespace) runs it; :class:`IgdServer` runs the HTTP part in a thread of the test process.
"""

from __future__ import annotations

import argparse
import contextlib
import re
import socket
import struct
import subprocess
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

VARIANTS = ("honest", "stuck", "zero", "wrap", "above_line", "packets_only", "bomb", "huge",
            "fritz", "fritz_32")
SERVICE = "urn:schemas-upnp-org:service:WANCommonInterfaceConfig:1"
CONNECTION = "urn:schemas-upnp-org:service:WANIPConnection:1"
DEVICE = "urn:schemas-upnp-org:device:InternetGatewayDevice:1"
TOP = 2**32 - 1

DESCRIPTION = """<?xml version="1.0"?>
<root xmlns="urn:schemas-upnp-org:device-1-0">
<specVersion><major>1</major><minor>0</minor></specVersion>
<device><deviceType>{device}</deviceType><friendlyName>Lab router &lt;test&gt;</friendlyName>
<deviceList><device><deviceType>urn:schemas-upnp-org:device:WANDevice:1</deviceType>
<serviceList><service><serviceType>{service}</serviceType>
<serviceId>urn:upnp-org:serviceId:WANCommonIFC1</serviceId>
<controlURL>/ctl/CommonIfCfg</controlURL><eventSubURL>/evt/CommonIfCfg</eventSubURL>
<SCPDURL>/WANCfg.xml</SCPDURL></service></serviceList>
<deviceList><device><deviceType>urn:schemas-upnp-org:device:WANConnectionDevice:1</deviceType>
<serviceList><service><serviceType>{connection}</serviceType>
<serviceId>urn:upnp-org:serviceId:WANIPConn1</serviceId>
<controlURL>/ctl/IPConn</controlURL><eventSubURL>/evt/IPConn</eventSubURL>
<SCPDURL>/WANIPCn.xml</SCPDURL></service></serviceList></device></deviceList>
</device></deviceList></device></root>
"""
BOMB = """<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>
<root xmlns="urn:schemas-upnp-org:device-1-0"><device><friendlyName>&lol3;</friendlyName></device></root>
"""


def wan_address(iface: str) -> str | None:
    """The IPv4 address of ``iface`` (what an honest router reports as its external address)."""
    out = subprocess.run(["ip", "-o", "-4", "addr", "show", "dev", iface], capture_output=True, text=True,
                         check=False).stdout
    found = re.search(r"\binet (\d+\.\d+\.\d+\.\d+)/", out)
    return found.group(1) if found else None


def wan_counters(iface: str) -> Callable[[], tuple[int, int, int, int]]:
    """(bytes received, bytes sent, packets received, packets sent) of ``iface``, read now."""

    def read() -> tuple[int, int, int, int]:
        for line in Path("/proc/net/dev").read_text().splitlines()[2:]:
            name, _, rest = line.partition(":")
            if name.strip() == iface:
                f = rest.split()
                return int(f[0]), int(f[8]), int(f[1]), int(f[9])
        raise OSError(f"no interface {iface}")

    return read


class Counters:
    """What the router says, per variant, from the real counters."""

    def __init__(self, source: Callable[[], tuple[int, int, int, int]], variant: str,
                 line_down_bps: int, line_up_bps: int, external: str | None = None) -> None:
        if variant not in VARIANTS:
            raise ValueError(f"variant must be one of {VARIANTS}")
        self.source, self.variant = source, variant
        self.external = external  # the WAN side's IPv4 address as the router reports it
        self.line = (line_down_bps, line_up_bps)
        rx, tx, _, _ = source()
        # wrap: go round 200 kB after the start; the others count from 1 kB, as a router does from
        # its start, so the whole 32-bit range lies ahead (this machine's own counter may sit near it)
        wraps = variant in ("wrap", "fritz", "fritz_32")
        self.offset = ((TOP - rx - 200_000, TOP - tx - 200_000) if wraps
                       else (1000 - rx % 2**32, 1000 - tx % 2**32))

    def bytes(self) -> tuple[int, int] | None:
        if self.variant == "packets_only":
            return None
        if self.variant == "stuck":
            return TOP, TOP
        if self.variant == "zero":
            return 0, 0
        rx, tx, _, _ = self.source()
        return (rx + self.offset[0]) % 2**32, (tx + self.offset[1]) % 2**32

    def addon(self) -> dict[str, object] | None:
        """A FRITZ!Box's GetAddonInfos answer (None: the action is refused)."""
        if self.variant not in ("fritz", "fritz_32"):
            return None
        rx, tx, prx, ptx = self.source()
        wide = rx + self.offset[0], tx + self.offset[1]
        values: dict[str, object] = {
            "NewByteSendRate": 0, "NewByteReceiveRate": 0, "NewPacketSendRate": 0, "NewPacketReceiveRate": 0,
            "NewTotalBytesSent": wide[1] % 2**32, "NewTotalBytesReceived": wide[0] % 2**32,
            "NewAutoDisconnectTime": 0, "NewIdleDisconnectTime": 0,
            "NewDNSServer1": "192.0.2.53", "NewDNSServer2": "192.0.2.54",
            "NewVoipDNSServer1": "0.0.0.0", "NewVoipDNSServer2": "0.0.0.0",
            "NewUpnpControlEnabled": 1, "NewRoutedBridgedModeBoth": 1,
        }
        if self.variant == "fritz":
            values["NewX_AVM_DE_TotalBytesSent64"] = wide[1]
            values["NewX_AVM_DE_TotalBytesReceived64"] = wide[0]
            values["NewX_AVM_DE_WANAccessType"] = "Ethernet"
        return values

    def packets(self) -> tuple[int, int]:
        _, _, prx, ptx = self.source()
        return prx % 2**32, ptx % 2**32

    def link(self) -> tuple[int, int]:
        if self.variant == "above_line":
            return 100_000, 100_000  # 0.1 Mbit/s
        return self.line


def _envelope(action: str, values: dict[str, object]) -> bytes:
    inner = "".join(f"<{k}>{v}</{k}>" for k, v in values.items())
    return (f'<?xml version="1.0"?><s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/">'
            f'<s:Body><u:{action}Response xmlns:u="{SERVICE}">{inner}</u:{action}Response>'
            "</s:Body></s:Envelope>").encode()


FAULT = (b'<?xml version="1.0"?><s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body>'
         b"<s:Fault><faultcode>s:Client</faultcode><faultstring>UPnPError</faultstring><detail>"
         b'<UPnPError xmlns="urn:schemas-upnp-org:control-1-0"><errorCode>401</errorCode>'
         b"<errorDescription>Invalid Action</errorDescription></UPnPError></detail></s:Fault>"
         b"</s:Body></s:Envelope>")


def make_handler(counters: Counters, calls: list[str]) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def _send(self, status: int, body: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Type", 'text/xml; charset="utf-8"')
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:
            if self.path != "/rootDesc.xml":
                self._send(404, b"")
            elif counters.variant == "bomb":
                self._send(200, BOMB.encode())
            else:
                padding = b" " * 1_000_000 if counters.variant == "huge" else b""
                self._send(200, DESCRIPTION.format(device=DEVICE, service=SERVICE,
                                                   connection=CONNECTION).encode() + padding)

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            self.rfile.read(min(length, 65536))
            action = re.search(r"#(\w+)", self.headers.get("SOAPAction", ""))
            name = action.group(1) if action else ""
            calls.append(name)
            values: dict[str, object] | None
            if self.path == "/ctl/IPConn":  # only the address is read there
                external = counters.external if name == "GetExternalIPAddress" else None
                values = None if external is None else {"NewExternalIPAddress": external}
            elif name in ("GetTotalBytesReceived", "GetTotalBytesSent"):
                got = counters.bytes()
                received = name.endswith("Received")
                values = None if got is None else (
                    {"NewTotalBytesReceived": got[0]} if received else {"NewTotalBytesSent": got[1]})
            elif name in ("GetTotalPacketsReceived", "GetTotalPacketsSent"):
                got = counters.packets()
                values = {"NewTotalPacketsReceived": got[0]} if name.endswith("Received") else {
                    "NewTotalPacketsSent": got[1]}
            elif name == "GetAddonInfos":
                values = counters.addon()
            elif name == "GetCommonLinkProperties":
                down, up = counters.link()
                values = {"NewWANAccessType": "Ethernet", "NewLayer1UpstreamMaxBitRate": up,
                          "NewLayer1DownstreamMaxBitRate": down, "NewPhysicalLinkStatus": "Up"}
            else:
                values = None
            if values is None:
                self._send(500, FAULT)
            else:
                self._send(200, _envelope(name, values))

    return Handler


class IgdServer:
    """The HTTP part on ``host``, a free port, in a thread (``location`` is its description)."""

    def __init__(self, counters: Counters, host: str = "127.0.0.1", port: int = 0) -> None:
        self.calls: list[str] = []
        self.httpd = ThreadingHTTPServer((host, port), make_handler(counters, self.calls))
        self.location = f"http://{host}:{self.httpd.server_address[1]}/rootDesc.xml"
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> IgdServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def serve_ssdp(host: str, location: str, miss: int = 0) -> None:
    """Answer M-SEARCHes for an IGD (or ssdp:all) arriving on the interface of ``host``; the first
    ``miss`` are not answered (as when the Wi-Fi loses them)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("239.255.255.250", 1900))
    membership = struct.pack("4s4s", socket.inet_aton("239.255.255.250"), socket.inet_aton(host))
    sock.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, membership)
    # Answers go from the router's own LAN address, as a real router's do: from the group socket the
    # source would be whatever the route out has (in the lab, the Wi-Fi relay's TUN has none).
    answers = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    answers.bind((host, 0))
    while True:
        data, peer = sock.recvfrom(2048)
        text = data.decode("iso-8859-1", "replace")
        if not text.startswith("M-SEARCH"):
            continue
        st = re.search(r"(?im)^ST:\s*(\S+)", text)
        target = st.group(1) if st else ""
        if target not in (DEVICE, "ssdp:all", "upnp:rootdevice"):
            continue
        if miss > 0:
            miss -= 1
            continue
        answer = (f"HTTP/1.1 200 OK\r\nCACHE-CONTROL: max-age=120\r\nST: {target}\r\n"
                  f"USN: uuid:lab-igd::{target}\r\nEXT:\r\nSERVER: lab/1.0 UPnP/1.1 igd/1.0\r\n"
                  f"LOCATION: {location}\r\n\r\n")
        with contextlib.suppress(OSError):
            answers.sendto(answer.encode("ascii"), peer)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="a small UPnP IGD on the lab's home router")
    parser.add_argument("--host", required=True)
    parser.add_argument("--port", type=int, default=49000)
    parser.add_argument("--wan", required=True, help="the router's internet-side card")
    parser.add_argument("--variant", choices=VARIANTS, default="honest")
    parser.add_argument("--line-down-mbit", type=float, default=100.0)
    parser.add_argument("--line-up-mbit", type=float, default=20.0)
    parser.add_argument("--external", help="the external address to report (default: the WAN card's own)")
    parser.add_argument("--miss", type=int, default=0, help="leave the first N searches unanswered")
    args = parser.parse_args(argv)
    counters = Counters(wan_counters(args.wan), args.variant, int(args.line_down_mbit * 1e6),
                        int(args.line_up_mbit * 1e6), args.external or wan_address(args.wan))
    server = IgdServer(counters, args.host, args.port)
    with server:
        serve_ssdp(args.host, server.location, args.miss)


if __name__ == "__main__":
    main()
