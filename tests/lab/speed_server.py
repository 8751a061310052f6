"""The lab's HTTP speed server: LibreSpeed, Cloudflare-style and speedtest.net legacy protocols.

It serves the same URLs as the real servers so that connectcheck's engines and speedtest-cli
itself can be tested without the internet:

* LibreSpeed: ``GET …/garbage.php?ckSize=N`` (N MiB, sent chunked as PHP does), ``POST
  …/empty.php`` (swallows the body), ``GET …/empty.php`` (a tiny round trip);
* Cloudflare-style: ``GET …/__down?bytes=N`` (Content-Length), ``POST …/__up``;
* speedtest.net legacy: ``GET …/random{N}x{N}.jpg``, ``POST …/upload.php`` (answers
  ``size=N``), ``GET …/latency.txt`` (answers ``test=test``), and what speedtest-cli reads to
  choose a server: ``/speedtest-config.php`` and ``/speedtest-servers-static.php``.

Any folder prefix is accepted (``/backend/garbage.php`` works as well as ``/garbage.php``).
Faults can be set per path (``403``, ``429``, ``stall``, ``stall-body``, ``close``) so that
fallback and error handling can be tested, and the misbehaviour of a hostile server:
``stall-after`` (serves normally for :data:`STALL_AFTER_BYTES`, then sends nothing more on any
connection), ``oversize`` (answers every request with 10 MiB, whatever was asked),
``endless`` (a chunked body that never ends), ``long-length`` (announces twice the size asked,
sends the size, keeps the connection open) and ``short-length`` (announces half the size, sends
all of it: the rest garbles the next answer).  The server is threaded (one thread per
connection, HTTP/1.1 keep-alive) and sends slices of one pre-generated random buffer with
``sendall``, so that it is never the bottleneck of a measurement.

Run it on its own (e.g. inside a network namespace)::

    python -m tests.lab.speed_server --host 10.0.0.1 --port 8080 [--fault PATH=KIND]...

It prints ``listening on http://HOST:PORT`` once it accepts connections.
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import socket
import socketserver
import ssl
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from connectcheck.probes.bandwidth import SPEEDTEST_IMAGE_BYTES  # the sizes real servers serve

FAULTS = ("403", "429", "stall", "stall-body", "close", "stall-after", "oversize", "endless", "long-length",
          "short-length")
MIB = 1024 * 1024
_SEND_PIECE = 256 * 1024
_RANDOM = memoryview(os.urandom(4 * MIB))  # incompressible payload, sliced, never copied
STALL_AFTER_BYTES = 8 * MIB  # "stall-after": the whole server stops sending after this much
OVERSIZE_BYTES = 10 * MIB

_CONFIG_XML = """<?xml version="1.0" encoding="UTF-8"?>
<settings>
<client ip="10.0.0.2" lat="50.7236" lon="-3.5275" isp="{isp}" isprating="3.7" rating="0"
 ispdlavg="0" ispulavg="0" loggedin="0" country="GB"/>
<server-config threadcount="4" ignoreids="" notonmap="" forcepingid="" preferredserverid=""/>
<download testlength="{down_s}" initialtest="250K" mintestsize="250K" threadsperurl="4"/>
<upload testlength="{up_s}" ratio="5" initialtest="0" mintestsize="32K" threads="2"
 maxchunksize="512K" maxchunkcount="50" threadsperurl="4"/>
</settings>
"""


def speedtest_server_entry(url: str, *, server_id: int, lat: float = 50.72, lon: float = -3.53,
                           name: str = "Lab") -> dict[str, str]:
    """One ``<server>`` of the speedtest.net list; ``url`` is its upload.php address."""
    host = urlsplit(url).netloc
    return {"url": url, "lat": str(lat), "lon": str(lon), "name": name, "country": "United Kingdom",
            "cc": "GB", "sponsor": "Lab ISP", "id": str(server_id), "host": host}


def _servers_xml(entries: list[dict[str, str]]) -> str:
    def attrs(entry: dict[str, str]) -> str:
        return " ".join(f'{k}="{_xml_escape(v)}"' for k, v in entry.items())

    lines = "\n".join(f"<server {attrs(e)}/>" for e in entries)
    return ('<?xml version="1.0" encoding="UTF-8"?>\n'
            f"<settings>\n<servers>\n{lines}\n</servers>\n</settings>\n")


def _xml_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace('"', "&quot;").replace("<", "&lt;").replace(">", "&gt;")


class _Stats:
    """What the server moved, for tests that check the client's numbers against it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.bytes_sent = 0
        self.bytes_received = 0
        # what this server's TCP stack received over all closed connections (headers included,
        # and the bytes a reset connection left unread in its buffer): an upper bound for what
        # a client may count as delivered (Linux only; 0 elsewhere)
        self.wire_received = 0
        self.requests: dict[str, int] = {}

    def add(self, *, sent: int = 0, received: int = 0, wire_received: int = 0) -> None:
        with self._lock:
            self.bytes_sent += sent
            self.bytes_received += received
            self.wire_received += wire_received

    def count(self, name: str) -> None:
        with self._lock:
            self.requests[name] = self.requests.get(name, 0) + 1


def _tcp_bytes_received(sock: socket.socket) -> int:
    """The connection's ``tcpi_bytes_received`` (Linux ``TCP_INFO``, offset 128), 0 elsewhere."""
    try:
        info = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 192)
    except (OSError, AttributeError):
        return 0
    return int.from_bytes(info[128:136], "little") if len(info) >= 136 else 0


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "LabSpeed/1.0"
    disable_nagle_algorithm = True
    server: _Server

    def setup(self) -> None:
        super().setup()
        self.server.track(self.connection, add=True)

    def finish(self) -> None:
        try:
            super().finish()
        except OSError:
            pass  # the client reset the connection: nothing left to flush
        finally:
            self.server.stats.add(wire_received=_tcp_bytes_received(self.connection))
            self.server.track(self.connection, add=False)

    def log_message(self, format: str, *args: object) -> None:
        pass

    # --- dispatch -------------------------------------------------------------------

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def _dispatch(self, method: str) -> None:
        parts = urlsplit(self.path)
        name = parts.path.rsplit("/", 1)[-1]
        self.server.stats.count(name)
        fault = self.server.fault_for(parts.path)
        if fault:
            self._drain_body()
            self._fault(fault)
            return
        query = parse_qs(parts.query)
        if method == "POST" and name in ("empty.php", "__up", "upload.php"):
            received = self._drain_body()
            self._reply(200, f"size={received}" if name == "upload.php" else "")
        elif name == "empty.php" or name == "__up":
            self._reply(200, "")
        elif name == "latency.txt":
            self._reply(200, "test=test")
        elif name == "garbage.php":
            mib = _int(query.get("ckSize", ["4"])[0], 4)
            self._send_random(min(max(mib, 1), 1024) * MIB, chunked=self.server.chunked is not False)
        elif name == "__down":
            self._send_random(min(_int(query.get("bytes", ["0"])[0], 0), 4_000 * MIB),
                              chunked=bool(self.server.chunked))
        elif m := re.fullmatch(r"random(\d+)x(\d+)\.jpg", name):
            size = SPEEDTEST_IMAGE_BYTES.get(int(m.group(1))) if m.group(1) == m.group(2) else None
            if size is None:
                self._reply(404, "no such image")
            else:
                self._send_random(size, chunked=bool(self.server.chunked), ctype="image/jpeg")
        elif name == "speedtest-config.php":
            self._reply(200, _CONFIG_XML.format(down_s=self.server.speedtest_test_s,
                                                up_s=self.server.speedtest_test_s,
                                                isp=_xml_escape(self.server.owner.isp)), "text/xml")
        elif name in ("speedtest-servers-static.php", "speedtest-servers.php"):
            self._reply(200, _servers_xml(self.server.speedtest_entries()), "text/xml")
        else:
            self._reply(404, "not found")

    # --- answers ----------------------------------------------------------------------

    def _reply(self, code: int, body: str, ctype: str = "text/plain") -> None:
        data = body.encode()
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-store")
        if code == 429:
            self.send_header("Retry-After", "30")
        self.end_headers()
        self.wfile.write(data)
        self.server.stats.add(sent=len(data))

    def _fault(self, fault: str) -> None:
        if fault == "403":
            self._reply(403, "Forbidden")
        elif fault == "429":
            self._reply(429, "Too many requests, slow down")
        elif fault == "close":
            self.close_connection = True
        elif fault == "stall":
            self.server.stopping.wait()
            self.close_connection = True
        elif fault in ("stall-after", "oversize", "endless", "long-length", "short-length"):
            self._hostile(fault)
        elif fault == "stall-body":
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", str(self._asked()))
            self.end_headers()
            self.connection.sendall(_RANDOM[:16 * 1024])
            self.server.stats.add(sent=16 * 1024)
            self.server.stopping.wait()
            self.close_connection = True

    def _asked(self) -> int:
        """The bytes a download request asked for, in any of the protocols."""
        parts = urlsplit(self.path)
        query = parse_qs(parts.query)
        name = parts.path.rsplit("/", 1)[-1]
        if name == "garbage.php":
            return min(max(_int(query.get("ckSize", ["4"])[0], 4), 1), 1024) * MIB
        if m := re.fullmatch(r"random(\d+)x\d+\.jpg", name):
            return SPEEDTEST_IMAGE_BYTES.get(int(m.group(1)), 245_388)
        return min(_int(query.get("bytes", ["0"])[0], 0), 4_000 * MIB)

    def _hostile(self, fault: str) -> None:
        asked, sock, stats = self._asked(), self.connection, self.server.stats
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        if fault == "endless":
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            while not self.server.stopping.is_set():
                sock.sendall(b"%x\r\n" % _SEND_PIECE)
                sock.sendall(_RANDOM[:_SEND_PIECE])
                sock.sendall(b"\r\n")
                stats.add(sent=_SEND_PIECE)
            return
        announced = {"oversize": OVERSIZE_BYTES, "long-length": 2 * asked, "short-length": asked // 2,
                     "stall-after": asked}[fault]
        sent = OVERSIZE_BYTES if fault == "oversize" else asked
        self.send_header("Content-Length", str(announced))
        self.end_headers()
        offset, pace = 0, _Pace(self.server.throttle_mbps)
        while sent > 0:
            if fault == "stall-after" and stats.bytes_sent >= STALL_AFTER_BYTES:
                self.server.stopping.wait()  # the whole server stops sending, connections open
                self.close_connection = True
                return
            n = min(pace.piece, sent, len(_RANDOM) - offset)
            sock.sendall(_RANDOM[offset:offset + n])
            stats.add(sent=n)
            pace.sent(n)
            sent -= n
            offset = (offset + n) % len(_RANDOM)
        if fault == "long-length":
            self.server.stopping.wait()
            self.close_connection = True

    def _send_random(self, size: int, *, chunked: bool, ctype: str = "application/octet-stream") -> None:
        self.send_response(200)
        self.send_header("Content-Type", ctype)
        self.send_header("Cache-Control", "no-store, no-cache, must-revalidate")
        if chunked:
            self.send_header("Transfer-Encoding", "chunked")
        else:
            self.send_header("Content-Length", str(size))
        self.end_headers()
        sock, stats, left, offset = self.connection, self.server.stats, size, 0
        pace = _Pace(self.server.throttle_mbps)
        while left > 0:
            n = min(pace.piece, left, len(_RANDOM) - offset)
            if chunked:
                sock.sendall(b"%x\r\n" % n)
            piece = memoryview(_RANDOM)[offset:offset + n]
            while piece:  # counted as it goes: a client's reset may end it half-way
                k = sock.send(piece)
                stats.add(sent=k)
                piece = piece[k:]
            if chunked:
                sock.sendall(b"\r\n")
            pace.sent(n)
            left -= n
            offset = (offset + n) % len(_RANDOM)
        if chunked:
            sock.sendall(b"0\r\n\r\n")

    def _drain_body(self) -> int:
        """Read and discard the request body (Content-Length); returns the bytes read."""
        length = _int(self.headers.get("Content-Length", "0"), 0)
        buf = memoryview(self.server.scratch())
        received = 0
        pace = _Pace(self.server.throttle_mbps)
        while received < length:
            n = self.rfile.readinto(buf[:min(pace.piece, length - received)])
            if not n:
                self.close_connection = True  # the client gave up in the middle of the body
                break
            received += n
            self.server.stats.add(received=n)
            pace.sent(n)
        return received


class _Pace:
    """Keeps one transfer to ``mbps`` (None: as fast as possible) by sleeping between pieces."""

    def __init__(self, mbps: float | None) -> None:
        self.bytes_per_s = mbps * 1e6 / 8 if mbps else None
        self.start = time.monotonic()
        self.total = 0
        # pieces of about a millisecond when paced (16 KiB at least), else the largest
        self.piece = _SEND_PIECE if self.bytes_per_s is None else int(
            min(max(self.bytes_per_s / 1000, 16 * 1024), _SEND_PIECE))

    def sent(self, n: int) -> None:
        if self.bytes_per_s is None:
            return
        self.total += n
        ahead = self.total / self.bytes_per_s - (time.monotonic() - self.start)
        if ahead > 0:
            time.sleep(ahead)


def _int(text: str, default: int) -> int:
    try:
        return int(text)
    except ValueError:
        return default


class _Server(socketserver.ThreadingMixIn, socketserver.TCPServer):
    allow_reuse_address = True
    daemon_threads = True
    request_queue_size = 128
    block_on_close = False

    def __init__(self, address: tuple[str, int], owner: LabSpeedServer) -> None:
        self.owner = owner
        self.stats = owner.stats
        self.stopping = owner.stopping
        self.chunked = owner.chunked
        self.speedtest_test_s = owner.speedtest_test_s
        self.throttle_mbps = owner.throttle_mbps
        self._conns: set[socket.socket] = set()
        self._conns_lock = threading.Lock()
        self._local = threading.local()
        super().__init__(address, _Handler)

    def get_request(self) -> tuple[socket.socket, tuple[str, int]]:
        sock, addr = super().get_request()
        if self.owner.ssl_context is not None:
            sock = self.owner.ssl_context.wrap_socket(sock, server_side=True, do_handshake_on_connect=False)
        return sock, addr

    def finish_request(self, request: socket.socket, client_address: tuple[str, int]) -> None:
        if isinstance(request, ssl.SSLSocket):
            request.settimeout(10)
            try:
                request.do_handshake()
            except (OSError, ssl.SSLError):
                return
        super().finish_request(request, client_address)

    def handle_error(self, request: object, client_address: object) -> None:
        pass  # a client that went away is normal here

    def fault_for(self, path: str) -> str | None:
        return self.owner.fault_for(path)

    def speedtest_entries(self) -> list[dict[str, str]]:
        return self.owner.speedtest_entries()

    def scratch(self) -> bytearray:
        buf = getattr(self._local, "buf", None)
        if buf is None:
            buf = self._local.buf = bytearray(_SEND_PIECE)
        return buf

    def track(self, sock: socket.socket, *, add: bool) -> None:
        with self._conns_lock:
            (self._conns.add if add else self._conns.discard)(sock)

    def drop_connections(self) -> None:
        with self._conns_lock:
            conns = list(self._conns)
        for sock in conns:
            try:
                socket.socket.shutdown(sock, socket.SHUT_RDWR)
            except OSError:
                pass


class LabSpeedServer:
    """A threaded speed server on ``host:port`` (port 0: any free port), started by ``start()``.

    ``faults`` maps a path (``/garbage.php``) or a file name (``garbage.php``) to one of
    :data:`FAULTS`; ``chunked`` forces chunked (True) or Content-Length (False) downloads
    (None: as the real servers do); ``tls`` is ``(certfile, keyfile)`` to serve HTTPS.
    ``public_host`` is the address put in the speedtest.net server list (default: ``host``);
    ``extra_speedtest_servers`` are more ``<server>`` entries (see :func:`speedtest_server_entry`);
    ``throttle_mbps`` paces each download response and each upload body the server reads (a
    slow server without a shaped link; for uploads TCP flow control slows the client down).
    ``isp`` is the provider ``speedtest-config.php`` names for the client's network, as
    speedtest.net's own configuration answer does (``<client ip=… isp="…">``).
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 0, *, faults: dict[str, str] | None = None,
                 chunked: bool | None = None, tls: tuple[str, str] | None = None,
                 public_host: str | None = None, speedtest_test_s: int = 10,
                 extra_speedtest_servers: list[dict[str, str]] | None = None,
                 throttle_mbps: float | None = None, isp: str = "Lab ISP") -> None:
        self.host = host
        self.isp = isp  # the provider speedtest-config.php names for the client's network
        self._port = port
        self.faults: dict[str, str] = {}
        for path, kind in (faults or {}).items():
            self.set_fault(path, kind)
        self.chunked = chunked
        self.public_host = public_host or host
        self.speedtest_test_s = speedtest_test_s
        self.extra_speedtest_servers = list(extra_speedtest_servers or [])
        self.throttle_mbps = throttle_mbps
        self.stats = _Stats()
        self.stopping = threading.Event()
        self.ssl_context: ssl.SSLContext | None = None
        if tls:
            self.ssl_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            self.ssl_context.load_cert_chain(*tls)
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # --- life cycle ---------------------------------------------------------------------

    def start(self) -> LabSpeedServer:
        """Listen and serve in a background thread."""
        self._server = _Server((self.host, self._port), self)
        self._port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.1},
                                        name="lab-speed-server", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving: stalled answers end, open connections are cut."""
        if self._server is None:
            return
        self.stopping.set()
        self._server.shutdown()
        self._server.drop_connections()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(5)
        self._server = None

    def __enter__(self) -> LabSpeedServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- addresses ------------------------------------------------------------------------

    @property
    def port(self) -> int:
        """The port it listens on (the one chosen by the system when 0 was asked for)."""
        return self._port

    @property
    def url(self) -> str:
        """``http(s)://host:port`` as clients reach it."""
        scheme = "https" if self.ssl_context else "http"
        return f"{scheme}://{self.public_host}:{self._port}"

    @property
    def librespeed_url(self) -> str:
        """A LibreSpeed base URL (under ``backend/``, as real servers often are)."""
        return f"{self.url}/backend"

    @property
    def cloudflare_url(self) -> str:
        """The Cloudflare-style base URL."""
        return self.url

    @property
    def speedtest_upload_url(self) -> str:
        """This server as speedtest.net lists it: its upload.php address."""
        return f"{self.url}/speedtest/upload.php"

    @property
    def speedtest_base_url(self) -> str:
        """Where speedtest-config.php and the server list live (for the speedtest-cli seam)."""
        return self.url

    def speedtest_entries(self) -> list[dict[str, str]]:
        """The ``<server>`` entries of the emulated speedtest.net list: itself first."""
        own = speedtest_server_entry(self.speedtest_upload_url, server_id=4242, name="Lab Exeter")
        return [own, *self.extra_speedtest_servers]

    # --- faults -----------------------------------------------------------------------------

    def set_fault(self, path: str, kind: str | None) -> None:
        """Make requests to ``path`` (a path or a file name) fail as ``kind``; None clears it."""
        if kind is None:
            self.faults.pop(path, None)
            return
        if kind not in FAULTS:
            raise ValueError(f"unknown fault {kind!r} (known: {', '.join(FAULTS)})")
        self.faults[path] = kind

    def fault_for(self, path: str) -> str | None:
        """The fault set for a request path, if any."""
        name = path.rsplit("/", 1)[-1]
        for key, kind in list(self.faults.items()):
            if key == name or path == key or path.startswith(key.rstrip("/") + "/"):
                return kind
        return None


@dataclass(frozen=True)
class TlsFiles:
    """A throwaway CA and a server certificate it signed (PEM files)."""

    ca_file: str
    cert_file: str
    key_file: str


def make_tls_files(folder: Path, san: str = "IP:127.0.0.1") -> TlsFiles:
    """Create a lab CA and a server certificate for ``san`` with the ``openssl`` command."""
    folder.mkdir(parents=True, exist_ok=True)
    ca, ca_key = folder / "ca.pem", folder / "ca.key"
    cert, key = folder / "server.pem", folder / "server.key"
    csr, ext = folder / "server.csr", folder / "ext.cnf"
    ext.write_text(f"subjectAltName={san}\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n")
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    for argv in (
        ["req", "-x509", *ec, "-keyout", ca_key, "-out", ca, "-days", "2", "-subj", "/CN=connectcheck lab CA",
         "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign"],
        ["req", *ec, "-keyout", key, "-out", csr, "-subj", "/CN=lab speed server"],
        ["x509", "-req", "-in", csr, "-CA", ca, "-CAkey", ca_key, "-CAcreateserial", "-out", cert,
         "-days", "2", "-extfile", ext],
    ):
        subprocess.run(["openssl", *map(str, argv)], check=True, capture_output=True, timeout=30)
    return TlsFiles(str(ca), str(cert), str(key))


def main(argv: list[str] | None = None) -> int:
    """Command line: serve until SIGTERM or Ctrl-C."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--public-host", default=None, help="address written in the speedtest.net list")
    parser.add_argument("--fault", action="append", default=[], metavar="PATH=KIND",
                        help=f"make PATH fail; KIND is one of {', '.join(FAULTS)}")
    parser.add_argument("--chunked", choices=("auto", "yes", "no"), default="auto")
    parser.add_argument("--tls-cert")
    parser.add_argument("--tls-key")
    parser.add_argument("--speedtest-test-s", type=int, default=10,
                        help="test length speedtest-config.php announces (speedtest.net uses 10)")
    parser.add_argument("--throttle-mbps", type=float, default=None, help="pace each transfer")
    args = parser.parse_args(argv)
    faults = dict(f.split("=", 1) for f in args.fault)
    chunked = {"auto": None, "yes": True, "no": False}[args.chunked]
    tls = (args.tls_cert, args.tls_key) if args.tls_cert else None
    server = LabSpeedServer(args.host, args.port, faults=faults, chunked=chunked, tls=tls,
                            public_host=args.public_host, speedtest_test_s=args.speedtest_test_s,
                            throttle_mbps=args.throttle_mbps)
    server.start()
    print(f"listening on {server.url}", flush=True)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    while not stop.wait(0.5):
        pass
    server.stop()
    time.sleep(0.05)
    return 0


if __name__ == "__main__":
    sys.exit(main())
