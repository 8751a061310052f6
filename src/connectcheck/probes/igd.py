"""Other devices' traffic, from the home router's own counters (UPnP Internet Gateway Device).

SSDP discovery on the home network (one M-SEARCH to 239.255.255.250:1900), the router's device
description, then only the read-only actions of ``WANCommonInterfaceConfig``:
``GetTotalBytesReceived``, ``GetTotalBytesSent``, ``GetCommonLinkProperties`` (the line's rates)
and, to tell "only packets move" apart, ``GetTotalPacketsReceived``. A FRITZ!Box (AVM) also answers
``GetAddonInfos``, asked first: one request gives both counters, and on FRITZ!OS that has them its
64-bit ones (``NewX_AVM_DE_TotalBytesReceived64``/``Sent64``), which do not go round at 4 GiB as the
standard 32-bit ones do every few minutes on a fast line; a router without it answers a UPnP fault
and the standard actions are used. (Its ``NewByteReceiveRate`` is the box's own average over a
period it does not state, so the rate is still taken from two readings over a known window, the
one this computer's own traffic is counted over.) Two readings ``window_s``
apart give the household's internet rate; the check takes this computer's own rate off it.
No action that changes the router is ever sent: :data:`READ_ONLY_ACTIONS` is checked before
every request.

Why a small client of our own and not a library: miniupnpc (C, with bindings) and the Python
packages for UPnP (async_upnp_client, upnpclient) bring an event loop or lxml and a whole device
model for the four reads needed here; what matters most, treating the router's answers as
untrusted, is easier to hold in 200 lines. XML is parsed with ``defusedxml`` (no DTD, no entity
expansion) after a size limit on every answer; the description and the control URL must point at
the address the SSDP answer came from (a router cannot send us elsewhere).

Real routers often lie; each of these makes the result "the router does not tell us"
(``status`` ERROR, ``problem`` set) rather than a figure:

* ``stuck``: a counter at 4294967295 (a 32-bit counter pinned at its top) or not moving at all
  while this computer itself moved data through it;
* ``zero``: counters always 0;
* ``wrap``: a 32-bit counter that went round during the reading is corrected (modulo 2**32) when
  the corrected rate is possible; a counter that went back otherwise (a reset) tells nothing;
* ``above_line``: a rate beyond the line's own rate (+10 %);
* ``packets_only``: byte counters refused while packet counters answer.

The router's internet-side address (``GetExternalIPAddress`` of its WANIPConnection or
WANPPPConnection service, read-only too) tells carrier-grade NAT apart: an address in
100.64.0.0/10 is the provider's shared space (RFC 6598), a private one a second router in front of
this one. Only that finding (``wan_side``) is kept, never the address.
"""

from __future__ import annotations

import ipaddress
import re
import select
import socket
import threading
import time
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit
from xml.etree.ElementTree import Element

import defusedxml.ElementTree as SafeET
from defusedxml import DefusedXmlException

from connectcheck.core.model import RouterCounters, Status
from connectcheck.core.tasks import Cancelled, Deadline
from connectcheck.probes.net import ProtocolError, connect_tcp, parse_http_head, recv_some, send_all

SSDP_ADDRESS = ("239.255.255.250", 1900)
SEARCH_TARGETS = (
    "urn:schemas-upnp-org:device:InternetGatewayDevice:1",
    "urn:schemas-upnp-org:device:InternetGatewayDevice:2",
)
WAN_COMMON = "urn:schemas-upnp-org:service:WANCommonInterfaceConfig:1"
WAN_CONNECTIONS = ("urn:schemas-upnp-org:service:WANIPConnection:",
                   "urn:schemas-upnp-org:service:WANPPPConnection:")
READ_ONLY_ACTIONS = frozenset({
    "GetTotalBytesReceived", "GetTotalBytesSent", "GetTotalPacketsReceived", "GetTotalPacketsSent",
    "GetCommonLinkProperties", "GetExternalIPAddress", "GetAddonInfos",
})
ADDON_WIDE = ("NewX_AVM_DE_TotalBytesReceived64", "NewX_AVM_DE_TotalBytesSent64")
ADDON_NARROW = ("NewTotalBytesReceived", "NewTotalBytesSent")
SHARED_SPACE = ipaddress.ip_network("100.64.0.0/10")  # carrier-grade NAT (RFC 6598)
MAX_SSDP_BYTES = 2048
MAX_XML_BYTES = 64 * 1024
COUNTER_TOP = 2**32 - 1
LINE_MARGIN = 1.10
NOT_TOLD = "the home router does not tell us how much the household uses"


class IgdError(Exception):
    """The router answered, but not usably; the text says why in plain words."""


@dataclass(frozen=True)
class Igd:
    """A router found by SSDP: where it answered from and its WANCommonInterfaceConfig control URL."""

    address: str
    control_url: str
    name: str | None = None
    connection: tuple[str, str] | None = None  # (service type, control URL) of WANIP/PPPConnection


# --- discovery -----------------------------------------------------------------------------------


def search_message(target: str, mx: int = 1) -> bytes:
    return (f"M-SEARCH * HTTP/1.1\r\nHOST: {SSDP_ADDRESS[0]}:{SSDP_ADDRESS[1]}\r\n"
            f'MAN: "ssdp:discover"\r\nMX: {mx}\r\nST: {target}\r\n\r\n').encode("ascii")


def parse_ssdp_response(data: bytes) -> dict[str, str] | None:
    """The headers of an SSDP answer (names in lower case), None when it is not one."""
    if len(data) > MAX_SSDP_BYTES:
        return None
    lines = data.decode("iso-8859-1").split("\r\n")
    if not re.match(r"^HTTP/1\.[01] 200\b", lines[0]):
        return None
    headers = {}
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if sep:
            headers[name.strip().lower()] = value.strip()
    return headers


def discover(deadline: Deadline, *, gateway: str | None = None, wait_s: float = 1.0) -> list[tuple[str, str]]:
    """(address it answered from, LOCATION) of every IGD answering an M-SEARCH per search target
    within ``wait_s`` (at once when the default gateway answers), the gateway's first. Only http://
    locations on the answering address are kept. Each search goes out again a third of the way
    through (UDP on Wi-Fi gets lost; UPnP asks control points to search more than once)."""
    found: list[tuple[str, str]] = []
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, 2)
        sock.setblocking(False)

        def search() -> None:
            for target in SEARCH_TARGETS:
                try:
                    sock.sendto(search_message(target), SSDP_ADDRESS)
                except OSError as exc:
                    raise IgdError(f"the router search could not be sent ({exc.strerror or exc})") from exc

        search()
        start = time.monotonic()
        end = start + min(wait_s, deadline.remaining())
        again = start + (end - start) / 3
        while (left := end - time.monotonic()) > 0:
            deadline.check()
            if again and time.monotonic() >= again and not found:
                again = 0.0
                search()
            ready, _, _ = select.select([sock], [], [], min(left, 0.2))
            if not ready:
                continue
            try:
                data, (host, _port) = sock.recvfrom(MAX_SSDP_BYTES + 1)
            except OSError:
                continue
            headers = parse_ssdp_response(data)
            location = (headers or {}).get("location", "")
            if location and _same_host(location, host) and (host, location) not in found:
                found.append((host, location))
                if gateway is not None and host == gateway:
                    break  # the home router itself answered: no need to wait for others
    found.sort(key=lambda item: item[0] != gateway)
    return found


def _same_host(url: str, address: str) -> bool:
    parts = urlsplit(url)
    if parts.scheme != "http" or not parts.hostname:
        return False
    try:
        return ipaddress.ip_address(parts.hostname) == ipaddress.ip_address(address)
    except ValueError:
        return False


# --- HTTP and XML ----------------------------------------------------------------------------------


def http_exchange(url: str, deadline: Deadline, body: bytes = b"", headers: tuple[tuple[str, str], ...] = (),
                  limit: int = MAX_XML_BYTES) -> tuple[int, bytes]:
    """(status, body) of one GET (or POST with ``body``) to an http:// URL, at most ``limit`` bytes."""
    parts = urlsplit(url)
    host, port = parts.hostname or "", parts.port or 80
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    method = "POST" if body else "GET"
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}:{port}", "Connection: close",
             *(f"{k}: {v}" for k, v in headers)]
    if body:
        lines.append(f"Content-Length: {len(body)}")
    request = ("\r\n".join(lines) + "\r\n\r\n").encode("ascii") + body
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        sock = connect_tcp(family, (host, port), deadline)
    except (OSError, TimeoutError) as exc:
        raise IgdError(f"the router's UPnP service did not accept a connection ({exc})") from exc
    try:
        send_all(sock, request, deadline)
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = recv_some(sock, deadline)
            if not chunk:
                raise IgdError("the router closed the connection without answering")
            data += chunk
            if len(data) > limit + 16384:
                raise IgdError("the router's answer is too large")
        head_raw, _, rest = data.partition(b"\r\n\r\n")
        head = parse_http_head(head_raw)
        length = head.headers.get("content-length")
        if length is not None and (not length.isdigit() or int(length) > limit):
            raise IgdError("the router's answer is too large")
        while length is None or len(rest) < int(length):
            chunk = recv_some(sock, deadline)
            if not chunk:
                break
            rest += chunk
            if len(rest) > limit:
                raise IgdError("the router's answer is too large")
        if head.headers.get("transfer-encoding", "").lower() == "chunked":
            rest = _unchunk(rest)
        return head.status, rest if length is None else rest[: int(length)]
    except (OSError, TimeoutError, ProtocolError) as exc:
        why = "no answer in time" if isinstance(exc, TimeoutError) else (str(exc) or type(exc).__name__)
        raise IgdError(f"the router's UPnP service did not answer properly ({why})") from exc
    finally:
        sock.close()


def _unchunk(data: bytes) -> bytes:
    out = b""
    while data:
        size_line, _, data = data.partition(b"\r\n")
        size = int(size_line.split(b";")[0] or b"0", 16)
        if size == 0:
            break
        out, data = out + data[:size], data[size + 2 :]
    return out


def parse_xml(data: bytes) -> Element:
    """Untrusted XML: no DTD, no entities, at most :data:`MAX_XML_BYTES`; raises IgdError."""
    if len(data) > MAX_XML_BYTES:
        raise IgdError("the router's answer is too large")
    try:
        return SafeET.fromstring(data, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except (DefusedXmlException, SafeET.ParseError) as exc:
        raise IgdError(f"the router's answer is not XML we can read ({type(exc).__name__})") from exc


def _local(tag: str) -> str:
    return tag.rpartition("}")[2]


def _text(element: Element, name: str) -> str | None:
    for child in element.iter():
        if _local(child.tag) == name:
            return (child.text or "").strip()
    return None


def parse_description(data: bytes, location: str) -> tuple[str, str | None]:
    """(control URL of WANCommonInterfaceConfig, the router's friendly name) from its description."""
    root = parse_xml(data)
    base = _text(root, "URLBase") or location
    name = _text(root, "friendlyName")
    for service in root.iter():
        if _local(service.tag) != "service":
            continue
        kind = _text(service, "serviceType") or ""
        if kind.startswith(WAN_COMMON.rpartition(":")[0]):
            control = _text(service, "controlURL")
            if control:
                return urljoin(base, control), (name or None)
    raise IgdError("the router does not offer its internet counters (no WANCommonInterfaceConfig)")


def parse_connection(data: bytes, location: str) -> tuple[str, str] | None:
    """(service type, control URL) of the router's WANIPConnection or WANPPPConnection, if any."""
    root = parse_xml(data)
    base = _text(root, "URLBase") or location
    for service in root.iter():
        if _local(service.tag) != "service":
            continue
        kind = _text(service, "serviceType") or ""
        control = _text(service, "controlURL")
        if kind.startswith(WAN_CONNECTIONS) and control and re.fullmatch(r"[\w:.-]+", kind):
            return kind, urljoin(base, control)
    return None


def soap_body(action: str, service: str = WAN_COMMON) -> bytes:
    if action not in READ_ONLY_ACTIONS:
        raise ValueError(f"{action} is not a read-only action")  # never change the router
    return (
        '<?xml version="1.0"?>'
        '<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" '
        's:encodingStyle="http://schemas.xmlsoap.org/soap/encoding/"><s:Body>'
        f'<u:{action} xmlns:u="{service}"/></s:Body></s:Envelope>'
    ).encode("ascii")


def call(igd: Igd, action: str, deadline: Deadline, service: tuple[str, str] | None = None) -> dict[str, str]:
    """The out-arguments of a read-only action (of WANCommonInterfaceConfig, or of ``service``:
    (type, control URL)); raises IgdError (a UPnP fault included)."""
    kind, url = service or (WAN_COMMON, igd.control_url)
    body = soap_body(action, kind)
    status, answer = http_exchange(url, deadline, body, (
        ("Content-Type", 'text/xml; charset="utf-8"'), ("SOAPAction", f'"{kind}#{action}"')))
    return parse_answer(status, answer, action)


def parse_answer(status: int, answer: bytes, action: str) -> dict[str, str]:
    """The out-arguments in a router's answer to ``action``; raises IgdError (a UPnP fault, an
    answer that is not XML or has no result)."""
    root = parse_xml(answer)
    if status != 200:
        code = _text(root, "errorCode")
        raise IgdError(f"the router refused {action} (UPnP error {code or status})")
    for element in root.iter():
        if _local(element.tag) == f"{action}Response":
            return {_local(child.tag): (child.text or "").strip() for child in element}
    raise IgdError(f"the router's answer to {action} has no result")


def _counter(values: dict[str, str], name: str) -> int:
    text = values.get(name, "")
    if not text.isdigit():
        raise IgdError(f"the router's {name} is not a number")
    return int(text)


def find_igd(deadline: Deadline, gateway: str | None = None, location: str | None = None) -> Igd:
    """The router's IGD, from SSDP (or a known LOCATION); raises IgdError when there is none."""
    if location is None:
        answers = discover(deadline, gateway=gateway)
        if not answers:
            raise IgdError("no router answered the UPnP search (UPnP may be switched off on it)")
        address, location = answers[0]
    else:
        address = urlsplit(location).hostname or ""
    status, data = http_exchange(location, deadline)
    if status != 200:
        raise IgdError(f"the router's description could not be read (HTTP {status})")
    control, name = parse_description(data, location)
    if not _same_host(control, address):
        raise IgdError("the router's control address points elsewhere; it was not followed")
    connection = parse_connection(data, location)
    if connection is not None and not _same_host(connection[1], address):
        connection = None
    return Igd(address, control, name, connection)


def wan_side(text: str | None) -> str | None:
    """What the router's internet-side address is: "cgnat" (100.64.0.0/10, the provider's shared
    space), "private" (another router in front of this one), "public", or None (not told)."""
    try:
        address = ipaddress.ip_address((text or "").strip())
    except ValueError:
        return None
    if address.version != 4 or address.is_unspecified or address.is_loopback or address.is_link_local:
        return None
    if address in SHARED_SPACE:
        return "cgnat"
    return "private" if address.is_private else "public" if address.is_global else None


def read_wan_side(igd: Igd, deadline: Deadline) -> str | None:
    """The kind of the router's internet-side address (the address itself is not kept)."""
    if igd.connection is None:
        return None
    try:
        answer = call(igd, "GetExternalIPAddress", deadline, igd.connection)
    except IgdError:
        return None
    return wan_side(answer.get("NewExternalIPAddress"))


@dataclass
class Reading:
    at: float
    received: int
    sent: int
    wide: bool = False  # 64-bit counters (FRITZ!Box): they do not go round, and 4294967295 is a count


def addon_reading(values: dict[str, str], at: float) -> Reading:
    """The counters in a GetAddonInfos answer: the 64-bit ones where the box gives both, else the
    standard 32-bit ones; raises IgdError when neither pair is numbers."""
    for names, wide in ((ADDON_WIDE, True), (ADDON_NARROW, False)):
        if all(values.get(name, "").isdigit() for name in names):
            return Reading(at, int(values[names[0]]), int(values[names[1]]), wide)
    raise IgdError("the router's GetAddonInfos has no byte counters")


def read_counters(igd: Igd, deadline: Deadline, addon: list[bool] | None = None) -> Reading:
    """One reading of the router's byte counters. ``addon``: a one-item list saying whether to ask
    GetAddonInfos first; set to False when the router does not answer it (asked once)."""
    if addon is not None and addon[0]:
        try:
            return addon_reading(call(igd, "GetAddonInfos", deadline), time.monotonic())
        except IgdError:
            addon[0] = False  # not a FRITZ!Box, or one without it: the standard actions from now on
    received = _counter(call(igd, "GetTotalBytesReceived", deadline), "NewTotalBytesReceived")
    sent = _counter(call(igd, "GetTotalBytesSent", deadline), "NewTotalBytesSent")
    return Reading(time.monotonic(), received, sent)


def judge(first: Reading, second: Reading, line_down_mbps: float | None, line_up_mbps: float | None,
          out: RouterCounters, own_bytes: int | None = None) -> RouterCounters:
    """Rates from two readings, or the router's lie named (see the module docstring)."""
    window = second.at - first.at
    out.window_s = round(window, 3)
    if window <= 0:
        return _lie(out, "stuck", "the router's two readings came at the same moment")
    if first.wide != second.wide:
        return _lie(out, "wrap", "its two readings came from different counters")
    wide = first.wide
    if not wide and COUNTER_TOP in (first.received, first.sent, second.received, second.sent):
        return _lie(out, "stuck", "its counters are pinned at 4294967295")
    if first.received == first.sent == second.received == second.sent == 0:
        return _lie(out, "zero", "its counters always say 0")
    rates = []
    for before, after, line in ((first.received, second.received, line_down_mbps),
                                (first.sent, second.sent, line_up_mbps)):
        delta = after - before
        if delta < 0:
            if wide:  # a 64-bit counter does not go round: it was reset
                return _lie(out, "wrap", "a counter went back during the reading")
            wrapped = after + 2**32 - before
            if before <= COUNTER_TOP and wrapped * 8 / window / 1e6 <= (line or float("inf")) * LINE_MARGIN:
                delta = wrapped  # a 32-bit counter went round during the reading
            else:
                return _lie(out, "wrap", "a counter went back during the reading")
        rate = delta * 8 / window / 1e6
        if line is not None and rate > line * LINE_MARGIN:
            return _lie(out, "above_line", f"it reports {rate:.1f} Mbit/s on a {line:.1f} Mbit/s line")
        rates.append(rate)
    if own_bytes is not None and own_bytes > 50_000 and first.received == second.received \
            and first.sent == second.sent:
        return _lie(out, "stuck", "its counters did not move while this computer used the line")
    out.down_mbps, out.up_mbps = round(rates[0], 3), round(rates[1], 3)
    return out


def _lie(out: RouterCounters, problem: str, why: str) -> RouterCounters:
    out.status, out.problem, out.error = Status.ERROR, problem, f"{NOT_TOLD}: {why}"
    return out


def measure_router(
    *,
    gateway: str | None,
    cancel: threading.Event,
    window_s: float = 1.5,
    time_limit_s: float = 4.0,
    location: str | None = None,
) -> RouterCounters:
    """The household's internet rate from the router's counters over ``window_s``; status
    UNAVAILABLE when no router offers them, ERROR with ``problem`` when its figures lie."""
    deadline = Deadline(time_limit_s, cancel)
    out = RouterCounters()
    try:
        igd = find_igd(deadline, gateway, location)
        out.device = igd.name[:80] if igd.name else None
        try:
            link = call(igd, "GetCommonLinkProperties", deadline)
            out.line_down_mbps = mbps(link.get("NewLayer1DownstreamMaxBitRate"))
            out.line_up_mbps = mbps(link.get("NewLayer1UpstreamMaxBitRate"))
        except IgdError:
            pass  # the rates are a help, not a need
        out.wan_side = read_wan_side(igd, deadline)
        addon = [True]
        try:
            first = read_counters(igd, deadline, addon)
        except IgdError as exc:
            try:
                call(igd, "GetTotalPacketsReceived", deadline)
            except IgdError:
                raise exc from None
            return _lie(out, "packets_only", "it counts packets but not bytes")
        deadline.wait(min(window_s, max(0.0, deadline.remaining() - 0.5)))
        second = read_counters(igd, deadline, addon)
        return judge(first, second, out.line_down_mbps, out.line_up_mbps, out)
    except Cancelled:
        out.status, out.error = Status.CANCELLED, "cancelled"
    except IgdError as exc:
        out.status, out.error = Status.UNAVAILABLE, f"{NOT_TOLD}: {exc}"
    return out


def mbps(text: str | None) -> float | None:
    if not text or not text.isdigit() or int(text) in (0, COUNTER_TOP):
        return None
    return round(int(text) / 1e6, 3)
