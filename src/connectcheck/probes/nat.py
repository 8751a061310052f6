"""How this network's NAT maps calls, from two (or more) STUN servers (the mapping test of RFC 5780
§4.3, done against separate servers rather than one server's alternate address).

One UDP socket sends a Binding request to each server; each answer says which public address and
port the server saw (XOR-MAPPED-ADDRESS). Then:

* every server saw the socket's own address: **no NAT** on the way (``nat`` False);
* every server saw the same public address and port: the mapping is **endpoint-independent**
  (what RFC 4787 asks of NATs; calls can connect directly, peer to peer);
* servers on different addresses saw different ports or addresses: the mapping depends on the
  server (**address-dependent**, or **address-and-port-dependent** when two servers on one address
  but different ports saw different ports too, a "symmetric" NAT). Direct connections between two
  homes then often fail, and calls go through a relay (TURN) server;
* a public address seen in 100.64.0.0/10 is the provider's shared space: carrier-grade NAT.

Only these findings are kept: never an address. Every part is bounded (``time_limit_s``) and
cancellable; fewer than two servers answering, or two that share an address and port, is
"unknown".
"""

from __future__ import annotations

import ipaddress
import select
import socket
import threading
import time
from dataclasses import dataclass

from connectcheck.core.model import NatMapping, Status
from connectcheck.probes import stun
from connectcheck.probes.latency import split_host_port

SHARED_SPACE = ipaddress.ip_network("100.64.0.0/10")  # RFC 6598
STUN_PORT = 3478
RETRY_S = 0.25  # a request unanswered for this long is sent again
BEHAVIOURS = ("endpoint_independent", "address_dependent", "address_and_port_dependent", "dependent")


@dataclass
class _Server:
    spec: str
    address: tuple[str, int] | None = None  # where it was reached (resolved)
    transaction: bytes = b""
    mapped: tuple[str, int] | None = None
    sent_at: float = 0.0
    error: str | None = None


def _resolve(spec: str) -> tuple[str, int]:
    host, port = split_host_port(spec, STUN_PORT)
    infos = socket.getaddrinfo(host, port, socket.AF_INET, socket.SOCK_DGRAM)
    if not infos:
        raise OSError(f"{host} has no IPv4 address")
    address = infos[0][4]
    return str(address[0]), int(address[1])


def _own_address(toward: tuple[str, int]) -> str | None:
    """The address this computer sends from towards a server (no packet is sent)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(toward)
            return str(probe.getsockname()[0])
        except OSError:
            return None


def classify(local: tuple[str | None, int], seen: list[tuple[tuple[str, int], tuple[str, int]]]
             ) -> tuple[str | None, bool | None]:
    """(behaviour, nat) from this socket's own (address, port) and, per server that answered,
    (the server's address, the mapped address it saw). Behaviour None: not enough to tell."""
    if not seen:
        return None, None
    mapped = {m for _, m in seen}
    if all(m == (local[0], local[1]) for m in mapped):
        return None, False  # no translation at all
    servers = {s for s, _ in seen}
    if len(servers) < 2:
        return None, True
    if len(mapped) == 1:
        hosts = {s[0] for s in servers}
        return ("endpoint_independent" if len(hosts) >= 2 else None), True
    by_host: dict[str, set[tuple[str, int]]] = {}
    for server, m in seen:
        by_host.setdefault(server[0], set()).add(m)
    if len(by_host) < 2:  # only one server address, several ports: the port part alone
        return "address_and_port_dependent", True
    one_host_many_ports = [maps for maps in by_host.values() if len(maps) > 1]
    if one_host_many_ports:
        return "address_and_port_dependent", True
    same_per_host = all(len(maps) == 1 for maps in by_host.values())
    several_ports = any(len({s for s, _ in seen if s[0] == h}) > 1 for h in by_host)
    if same_per_host and several_ports:
        return "address_dependent", True
    return "dependent", True  # differs by server address; its port dependence not tested


def measure_nat(servers: list[str], *, cancel: threading.Event, time_limit_s: float = 1.0) -> NatMapping:
    """The NAT's mapping behaviour against ``servers`` (host:port of STUN servers)."""
    out = NatMapping()
    wanted = list(dict.fromkeys(servers))
    if len(wanted) < 2:
        out.status = Status.UNAVAILABLE
        out.error = "it takes two STUN servers to tell how this network maps calls"
        return out
    end = time.monotonic() + time_limit_s
    targets = []
    for spec in wanted:
        target = _Server(spec)
        try:
            target.address = _resolve(spec)
        except (OSError, ValueError) as exc:
            target.error = f"{spec}: {getattr(exc, 'strerror', None) or exc}"
        targets.append(target)
    live = [t for t in targets if t.address is not None]
    if len({t.address for t in live}) < 2:
        out.status = Status.UNAVAILABLE
        out.error = "fewer than two STUN servers could be found to tell how this network maps calls"
        return out
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("0.0.0.0", 0))
        sock.setblocking(False)
        port = sock.getsockname()[1]
        own = _own_address(live[0].address) if live[0].address else None
        by_transaction: dict[bytes, _Server] = {}
        while not cancel.is_set() and (left := end - time.monotonic()) > 0:
            now = time.monotonic()
            for t in live:
                if t.mapped is None and now - t.sent_at >= RETRY_S and t.address is not None:
                    t.transaction = stun.new_transaction_id()
                    by_transaction[t.transaction] = t
                    t.sent_at = now
                    try:
                        sock.sendto(stun.encode_binding_request(t.transaction), t.address)
                        out.requests += 1
                    except OSError as exc:
                        t.error = f"{t.spec}: {exc.strerror or exc}"
            if all(t.mapped is not None or t.error for t in live):
                break
            ready, _, _ = select.select([sock], [], [], min(left, 0.05))
            if not ready:
                continue
            try:
                data, peer = sock.recvfrom(2048)
            except OSError:
                continue
            message = stun.parse_message(data)
            t = by_transaction.get(message.transaction_id) if message is not None else None
            if t is None or message is None or (str(peer[0]), int(peer[1])) != t.address:
                continue  # not an answer we asked for, or from elsewhere
            if message.msg_type == stun.BINDING_SUCCESS and message.mapped_address is not None:
                t.mapped = message.mapped_address
    if cancel.is_set():
        out.status, out.error = Status.CANCELLED, "cancelled"
        return out
    answered = [t for t in live if t.mapped is not None and t.address is not None]
    out.servers_answered = len(answered)
    seen = [(t.address, t.mapped) for t in answered if t.address is not None and t.mapped is not None]
    out.behaviour, out.nat = classify((own, port), seen)
    mapped_hosts = {m[0] for _, m in seen}
    out.cgnat = any(_shared(h) for h in mapped_hosts) if mapped_hosts else None
    if out.behaviour is None and out.nat is not False:
        out.status = Status.UNAVAILABLE
        out.error = ("fewer than two STUN servers on different addresses answered, so how this network maps "
                     "calls could not be told")
    return out


def _shared(host: str) -> bool:
    try:
        return ipaddress.ip_address(host) in SHARED_SPACE
    except ValueError:
        return False
