"""Test servers for reachability and latency tests: good, wrong, slow, dead and black-holed.

* :func:`make_pki` makes a throwaway test CA and certificates with the ``openssl`` command line:
  a good server certificate (for ``localhost``, ``127.0.0.1``, ``::1`` and any extra names),
  one for the same names from *another* CA, and one from the test CA for the wrong name.
* :class:`WebServer`: HTTP or HTTPS, keep-alive.  Paths: ``/`` (200), ``/status/NNN`` (that
  status), ``/close`` (200, then closes the connection), ``/ws`` (WebSocket upgrade: 101 with a
  correct ``Sec-WebSocket-Accept``), ``/ws-wrong-key`` (101 with a wrong one); an upgrade asked
  of any other path gets that path's status, e.g. ``/status/403``.
* :class:`SlowServer`: accepts TCP connections and never says a word.
* :func:`dead_port`: a TCP/UDP port on which nothing listens (connections are refused).
* :class:`BlackHole`: a TCP port whose SYNs are never answered (a listener with its accept
  queue full) and a UDP port that never replies.

Run ``python -m tests.lab.endpoints --host H --pki DIR`` (e.g. inside a lab namespace) to serve
them all until interrupted; it prints one JSON line with the ports.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import socket
import socketserver
import ssl
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

WEBSOCKET_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


# ---------------------------------------------------------------------------------------
# certificates


@dataclass(frozen=True)
class Pki:
    """Paths of the test CA and of the server certificates (PEM)."""

    ca_file: Path  # the test CA clients are told to trust
    cert: Path  # good: test CA, right names
    key: Path
    other_ca_cert: Path  # right names, signed by another CA
    other_ca_key: Path
    wrong_name_cert: Path  # test CA, but for wrong.example only
    wrong_name_key: Path


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=30)


def _ca(folder: Path, name: str) -> None:
    _openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
             "-keyout", f"{name}.key", "-out", f"{name}.pem", "-days", "3",
             "-subj", f"/CN=connectcheck {name}",
             "-addext", "basicConstraints=critical,CA:TRUE",
             "-addext", "keyUsage=critical,keyCertSign,cRLSign", cwd=folder)


def _leaf(folder: Path, name: str, ca: str, names: list[str]) -> None:
    sans = ",".join(f"IP:{n}" if _is_ip(n) else f"DNS:{n}" for n in names)
    (folder / f"{name}.ext").write_text(
        f"subjectAltName={sans}\nbasicConstraints=CA:FALSE\n"
        "keyUsage=digitalSignature\nextendedKeyUsage=serverAuth\n")
    _openssl("req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
             "-keyout", f"{name}.key", "-out", f"{name}.csr", "-subj", f"/CN={names[0]}", cwd=folder)
    _openssl("x509", "-req", "-in", f"{name}.csr", "-CA", f"{ca}.pem", "-CAkey", f"{ca}.key",
             "-CAcreateserial", "-out", f"{name}.pem", "-days", "2", "-extfile", f"{name}.ext", cwd=folder)


def _is_ip(name: str) -> bool:
    try:
        socket.inet_pton(socket.AF_INET6 if ":" in name else socket.AF_INET, name)
    except OSError:
        return False
    return True


def make_pki(folder: Path, extra_names: tuple[str, ...] = ()) -> Pki:
    """Create the test CA and certificates in ``folder`` (takes well under a second)."""
    folder.mkdir(parents=True, exist_ok=True)
    names = ["localhost", "127.0.0.1", "::1", *extra_names]
    _ca(folder, "test-ca")
    _ca(folder, "other-ca")
    _leaf(folder, "server", "test-ca", names)
    _leaf(folder, "other", "other-ca", names)
    _leaf(folder, "wrong-name", "test-ca", ["wrong.example"])
    return Pki(folder / "test-ca.pem", folder / "server.pem", folder / "server.key",
               folder / "other.pem", folder / "other.key", folder / "wrong-name.pem",
               folder / "wrong-name.key")


# ---------------------------------------------------------------------------------------
# HTTP(S) and WebSocket


def websocket_accept(key: str) -> str:
    """The Sec-WebSocket-Accept value for a client's key (RFC 6455 §4.2.2)."""
    return base64.b64encode(hashlib.sha1((key + WEBSOCKET_GUID).encode()).digest()).decode()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive
    timeout = 15  # a silent client does not hold a thread for ever

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_HEAD(self) -> None:
        self._answer(body=False)

    def do_GET(self) -> None:
        self._answer(body=True)

    def _answer(self, body: bool) -> None:
        path = self.path.split("?", 1)[0]
        status = 200
        if path.startswith("/status/") and path[8:].isdigit():
            status = int(path[8:])
        if self.headers.get("Upgrade", "").lower() == "websocket" and status == 200:
            self._upgrade(path)
            return
        payload = f"{status} from the connectcheck test server\n".encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(payload)))
        if path == "/close":
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        if body:
            self.wfile.write(payload)

    def _upgrade(self, path: str) -> None:
        key = self.headers.get("Sec-WebSocket-Key", "")
        if path not in ("/ws", "/ws-wrong-key") or not key:
            self.send_response(400)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        accept = websocket_accept(key if path == "/ws" else key + "x")
        self.send_response(101)
        self.send_header("Upgrade", "websocket")
        self.send_header("Connection", "Upgrade")
        self.send_header("Sec-WebSocket-Accept", accept)
        self.end_headers()
        self.wfile.flush()
        self.close_connection = True
        self.rfile.read(1)  # hold the WebSocket open until the client closes (or the timeout)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    tls: ssl.SSLContext | None = None
    connections = 0

    def server_bind(self) -> None:
        """Bind without HTTPServer's reverse lookup of the address (no DNS in a lab namespace)."""
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = str(self.server_address[0]), self.server_address[1]

    def get_request(self) -> tuple[socket.socket, tuple]:
        sock, address = self.socket.accept()
        self.connections += 1
        if self.tls is not None:  # the handshake happens in the handler's thread, on first read
            sock = self.tls.wrap_socket(sock, server_side=True, do_handshake_on_connect=False)
        return sock, address

    def handle_error(self, request: object, client_address: object) -> None:
        pass  # clients of these tests hang up rudely on purpose


class _Server6(_Server):
    address_family = socket.AF_INET6


class WebServer:
    """An HTTP server (HTTPS when given a certificate) on ``host`` in a thread of its own."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, *, cert: Path | None = None,
                 key: Path | None = None) -> None:
        self._server = (_Server6 if ":" in host else _Server)((host, port), _Handler)
        if cert is not None:
            tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            tls.load_cert_chain(cert, key)
            self._server.tls = tls
        self.host = host
        self.port = self._server.server_address[1]
        self.scheme = "https" if cert is not None else "http"
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.1},
                                        name="test web server", daemon=True)

    def url(self, path: str = "/", scheme: str | None = None) -> str:
        """The URL of ``path`` here; ``scheme`` "ws"/"wss" for WebSocket addresses."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{scheme or self.scheme}://{host}:{self.port}{path}"

    @property
    def connections(self) -> int:
        """How many connections the server has accepted so far."""
        return self._server.connections

    def ws_url(self, path: str = "/ws") -> str:
        return self.url(path, "wss" if self.scheme == "https" else "ws")

    def __enter__(self) -> WebServer:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        if self._thread.is_alive():
            self._server.shutdown()
        self._server.server_close()


# ---------------------------------------------------------------------------------------
# slow, dead and black-holed


class SlowServer:
    """Accepts TCP connections and never answers (holds them until closed)."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self._listener = socket.create_server((host, port), family=_family(host))
        self.host, self.port = host, self._listener.getsockname()[1]
        self._held: list[socket.socket] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept, name="slow server", daemon=True)

    def _accept(self) -> None:
        self._listener.settimeout(0.1)
        while not self._stop.is_set():
            try:
                self._held.append(self._listener.accept()[0])
            except TimeoutError:
                continue
            except OSError:
                return

    def __enter__(self) -> SlowServer:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(1.0)
        self._listener.close()
        for sock in self._held:
            sock.close()


def _family(host: str) -> socket.AddressFamily:
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def dead_port(host: str = "127.0.0.1") -> int:
    """A port on ``host`` where nothing listens, TCP nor UDP (it was free a moment ago)."""
    with socket.socket(_family(host), socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port = sock.getsockname()[1]
    with socket.socket(_family(host), socket.SOCK_DGRAM) as udp:
        udp.bind((host, port))  # fails if a UDP socket took the number meanwhile
    return port


class BlackHole:
    """A TCP port whose connection requests go unanswered, and a UDP port that never replies.

    TCP: a listener with an accept queue of one, filled by a connection nobody accepts; the
    kernel then drops every further SYN, as a firewall that drops packets would.  UDP: a bound
    socket that never reads, so no "port unreachable" comes back either.
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 0, udp_port: int | None = None) -> None:
        family = _family(host)
        self._listener = socket.socket(family, socket.SOCK_STREAM)
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind((host, port))
        self._listener.listen(0)
        self.host, self.port = host, self._listener.getsockname()[1]
        self.udp = socket.socket(family, socket.SOCK_DGRAM)
        self.udp.bind((host, self.port if udp_port is None else udp_port))
        self.udp_port = self.udp.getsockname()[1]
        self._fillers: list[socket.socket] = []
        self._fill()

    def _fill(self) -> None:
        """Connect until a connection request goes unanswered: the queue is then full."""
        for _ in range(8):
            filler = socket.socket(self._listener.family, socket.SOCK_STREAM)
            filler.setblocking(False)
            filler.connect_ex((self.host, self.port))
            self._fillers.append(filler)
            time.sleep(0.05)
            if filler.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) == 0 and not _connected(filler):
                return
        raise RuntimeError("could not fill the accept queue of the black-hole listener")

    def __enter__(self) -> BlackHole:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        for sock in [*self._fillers, self._listener, self.udp]:
            sock.close()


def _connected(sock: socket.socket) -> bool:
    try:
        sock.getpeername()
    except OSError:
        return False
    return True


# ---------------------------------------------------------------------------------------
# as a program


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="connectcheck's test endpoints")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--pki", type=Path, required=True, help="folder for the test certificates")
    parser.add_argument("--https-port", type=int, default=8443)
    parser.add_argument("--http-port", type=int, default=8080)
    parser.add_argument("--slow-port", type=int, default=8099)
    parser.add_argument("--blackhole-port", type=int, default=8098)
    args = parser.parse_args(argv)
    pki = make_pki(args.pki, (args.host,))
    servers = [WebServer(args.host, args.https_port, cert=pki.cert, key=pki.key),
               WebServer(args.host, args.http_port), SlowServer(args.host, args.slow_port)]
    hole = BlackHole(args.host, args.blackhole_port)
    for server in servers:
        server.__enter__()
    print(json.dumps({"https": args.https_port, "http": args.http_port, "slow": args.slow_port,
                      "blackhole": hole.port, "udp_blackhole": hole.udp_port,
                      "ca_file": str(pki.ca_file)}), flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        for server in servers:
            server.close()
        hole.close()
    sys.exit(0)


if __name__ == "__main__":
    main()
