"""A home router's small services, for the tests and the lab's gateway namespace: a DNS forwarder
that answers from its "cache" at once (every query gets an answer with its ID, no records), and a
web page that accepts connections.

``python -m tests.lab.gateway --host 10.77.3.1 --dns-port 53 --http-port 80`` runs them until
killed. :class:`DnsResponder` runs the DNS part in a thread of the test process.
"""

from __future__ import annotations

import argparse
import contextlib
import socket
import struct
import threading

NXDOMAIN = 3


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


def serve_dns(sock: socket.socket, stop: threading.Event | None = None) -> None:
    sock.settimeout(0.2)
    while not (stop and stop.is_set()):
        try:
            data, peer = sock.recvfrom(2048)
        except TimeoutError:
            continue
        except OSError:
            return
        answer = dns_answer(data)
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
    args = parser.parse_args(argv)
    if args.http_port:
        web = socket.create_server((args.host, args.http_port), backlog=64)
        threading.Thread(target=serve_http, args=(web,), daemon=True).start()
    dns = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    dns.bind((args.host, args.dns_port))
    serve_dns(dns)


if __name__ == "__main__":
    main()
