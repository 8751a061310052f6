"""A home router's small services, for the tests and the lab's gateway namespace: a DNS forwarder
that answers from its "cache" at once (every query gets an answer with its ID: NXDOMAIN, or the
address of a name it was told with ``--name``), and a web page that accepts connections.

``--filter-when PATH`` makes it a DNS filter as Pi-hole, AdGuard Home or NextDNS are by default:
while PATH exists, the names it knows are answered with 0.0.0.0 (A) and :: (AAAA), the "blocked"
address, not with NXDOMAIN (a lesson lab switches the filter on midway by creating the file).

``python -m tests.lab.gateway --host 10.77.3.1 --dns-port 53 --http-port 80`` runs them until
killed. :class:`DnsResponder` runs the DNS part in a thread of the test process.
"""

from __future__ import annotations

import argparse
import contextlib
import ipaddress
import socket
import struct
import threading
from pathlib import Path

NXDOMAIN = 3
TYPE_A, TYPE_AAAA, CLASS_IN = 1, 28, 1
TTL_S = 5  # short, as a filter's answers are: a name blocked midway is seen at the next lookup


def _question(query: bytes) -> tuple[str, int, int] | None:
    """The first question's name (lower case), type and the offset after it."""
    labels, i = [], 12
    while i < len(query):
        n = query[i]
        if n == 0:
            if i + 5 > len(query):
                return None
            qtype = struct.unpack_from("!H", query, i + 1)[0]
            return ".".join(labels).lower(), qtype, i + 5
        if n & 0xC0 or i + 1 + n > len(query):
            return None
        labels.append(query[i + 1:i + 1 + n].decode("ascii", "replace"))
        i += 1 + n
    return None


def name_answer(query: bytes, names: dict[str, str], filtered: bool) -> bytes | None:
    """The answer for a name in ``names`` (None: not one of them): its address, or the filter's
    0.0.0.0 / :: while ``filtered``; a type it has no address of gets NOERROR with no records."""
    if len(query) < 12:
        return None
    found = _question(query)
    if found is None or found[0] not in names:
        return None
    name, qtype, end = found
    ident, flags, _ = struct.unpack_from("!HHH", query)
    address = ipaddress.ip_address(names[name])
    if filtered:
        address = ipaddress.ip_address("0.0.0.0" if qtype == TYPE_A else "::")
    want = TYPE_A if address.version == 4 else TYPE_AAAA
    records = b""
    if qtype == want:
        data = address.packed
        records = struct.pack("!HHHIH", 0xC00C, want, CLASS_IN, TTL_S, len(data)) + data
    answer_flags = 0x8000 | 0x0080 | (flags & 0x0100)  # QR, RA, RD as asked, NOERROR
    return struct.pack("!HHHHHH", ident, answer_flags, 1, 1 if records else 0, 0, 0) + query[12:end] + records


def dns_answer(query: bytes) -> bytes | None:
    """The answer a caching forwarder gives for a name it knows to be absent: the query's ID and
    question, QR and RA set, NXDOMAIN, no records (None for anything that is not a query)."""
    if len(query) < 12:
        return None
    ident, flags, qdcount = struct.unpack_from("!HHH", query)
    if flags & 0x8000:
        return None
    answer_flags = 0x8000 | 0x0080 | (flags & 0x0100) | NXDOMAIN  # QR, RA, RD as asked, the code
    return struct.pack("!HHHHHH", ident, answer_flags, qdcount, 0, 0, 0) + query[12:]


def serve_dns(sock: socket.socket, stop: threading.Event | None = None, names: dict[str, str] | None = None,
              filter_when: Path | None = None) -> None:
    sock.settimeout(0.2)
    while not (stop and stop.is_set()):
        try:
            data, peer = sock.recvfrom(2048)
        except TimeoutError:
            continue
        except OSError:
            return
        answer = None
        if names:
            answer = name_answer(data, names, filter_when is not None and filter_when.exists())
        answer = answer or dns_answer(data)
        if answer is not None:
            with contextlib.suppress(OSError):
                sock.sendto(answer, peer)


class DnsResponder:
    """The DNS part on ``host``, a free port, in a thread: ``with DnsResponder() as dns: dns.port``."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((host, 0))
        self.port = self.sock.getsockname()[1]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=serve_dns, args=(self.sock, self._stop), daemon=True)

    def __enter__(self) -> DnsResponder:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(1.0)
        self.sock.close()


def serve_http(sock: socket.socket) -> None:
    """Accept connections and close them (what a router's login page does for a connect probe)."""
    while True:
        try:
            conn, _ = sock.accept()
        except OSError:
            return
        conn.close()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="a home router's DNS forwarder and web page")
    parser.add_argument("--host", required=True)
    parser.add_argument("--dns-port", type=int, default=53)
    parser.add_argument("--http-port", type=int, default=0, help="0: no web page")
    parser.add_argument("--name", action="append", default=[], metavar="NAME=ADDRESS",
                        help="a name the forwarder answers with an address")
    parser.add_argument("--filter-when", type=Path, help="while this file exists, the names are blocked")
    args = parser.parse_args(argv)
    names = dict(item.lower().split("=", 1) for item in args.name)
    if args.http_port:
        web = socket.create_server((args.host, args.http_port), backlog=64)
        threading.Thread(target=serve_http, args=(web,), daemon=True).start()
    dns = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    dns.bind((args.host, args.dns_port))
    serve_dns(dns, names=names, filter_when=args.filter_when)


if __name__ == "__main__":
    main()
