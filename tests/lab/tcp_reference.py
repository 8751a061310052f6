"""A reference bulk TCP transfer: N parallel streams, measured at the receiving end.

It answers "what does a plain N-stream TCP transfer get on this link?" for the lab's
self-tests and the benchmarks, and serves as background load ("someone else at home is
streaming").

Protocol, per stream: the client connects and sends one JSON line
``{"direction": "download"|"upload", "duration_s": D, "interval_s": I}``.

* download: the server sends for D seconds (plus a grace period) or until the client goes away;
  the client counts received bytes in I-second bins from its connect time.
* upload: the client sends for D seconds; the server counts received bytes in I-second bins
  from the header and reports each bin as it completes (a line ``"<index> <bytes>"``), so even
  an upload stopped early knows its rate. The client then aborts the connection (RST),
  throwing its unsent buffer away rather than letting it drain for seconds on a slow link.

The goodput excludes the first ``omit_s`` seconds (TCP ramp-up), like iperf's ``--omit``.

Command line (from the repository root)::

    python -m tests.lab.tcp_reference serve [--port 5201]
    python -m tests.lab.tcp_reference run --host 10.77.2.2 [--direction download] [--streams 4]
        [--duration 5] [--omit 1]
"""

from __future__ import annotations

import argparse
import json
import socket
import socketserver
import struct
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

DEFAULT_PORT = 5201
CHUNK = b"\x5a" * 65536
RECV_BYTES = 262144
IO_TIMEOUT_S = 0.2
CONNECT_TIMEOUT_S = 3.0
SERVER_GRACE_S = 3.0
REPLY_TIMEOUT_S = 5.0
DIRECTIONS = ("download", "upload")


@dataclass
class TransferResult:
    """Outcome of one multi-stream transfer; rates in Mbit/s of TCP payload."""

    direction: str
    streams: int
    duration_s: float
    omit_s: float
    interval_s: float
    bytes_total: int = 0
    mbps: float = 0.0
    mbps_total: float = 0.0
    interval_mbps: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def to_json(self) -> str:
        """The result as one JSON object."""
        return json.dumps(asdict(self))


def _set_abort_on_close(sock: socket.socket) -> None:
    """Make close() send RST: unsent data is thrown away instead of trickling out for seconds."""
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    except OSError:
        pass


def _abort(sock: socket.socket) -> None:
    _set_abort_on_close(sock)
    sock.close()


def receive_bins(sock: socket.socket, duration_s: float, interval_s: float,
                 cancel: threading.Event | None = None,
                 on_bin: Callable[[int, int], None] | None = None) -> list[int]:
    """Read from ``sock`` for ``duration_s``; bytes received per ``interval_s`` bin.

    ``on_bin(index, bytes)`` is called as each bin completes (the server reports uploads so).
    """
    bins = [0] * max(1, round(duration_s / interval_s))
    reported = 0
    start = time.monotonic()
    sock.settimeout(IO_TIMEOUT_S)
    while not (cancel and cancel.is_set()) and time.monotonic() - start < duration_s:
        try:
            data = sock.recv(RECV_BYTES)
            if not data:
                break  # the peer closed
        except TimeoutError:
            data = b""
        except OSError:
            break
        index = int((time.monotonic() - start) / interval_s)
        if index < len(bins):
            bins[index] += len(data)
        if on_bin is not None:
            reported = _report_bins(bins, reported, index, on_bin)
    if on_bin is not None:
        _report_bins(bins, reported, int((time.monotonic() - start) / interval_s), on_bin)
    return bins


def _report_bins(bins: list[int], reported: int, current: int, on_bin: Callable[[int, int], None]) -> int:
    """Report the bins before ``current`` not reported yet; returns the new count reported."""
    upto = min(current, len(bins))
    for index in range(reported, upto):
        on_bin(index, bins[index])
    return max(reported, upto)


def send_for(sock: socket.socket, seconds: float, cancel: threading.Event | None = None) -> None:
    """Send bulk data for ``seconds``, or until cancel or the peer going away."""
    end = time.monotonic() + seconds
    sock.settimeout(IO_TIMEOUT_S)
    while time.monotonic() < end and not (cancel and cancel.is_set()):
        try:
            sock.send(CHUNK)
        except TimeoutError:
            pass
        except OSError:
            return


# ---------------------------------------------------------------------------------------------
# Server


class _StreamHandler(socketserver.StreamRequestHandler):
    rbufsize = 0  # read the header byte by byte: upload data after it must reach the bins

    def handle(self) -> None:
        try:
            header = json.loads(self.rfile.readline(4096))
            duration_s, interval_s = float(header["duration_s"]), float(header["interval_s"])
            direction = header["direction"]
        except (ValueError, KeyError, TypeError, OSError):
            return
        sock = self.connection
        if direction == "download":
            send_for(sock, duration_s + SERVER_GRACE_S)
        elif direction == "upload":
            receive_bins(sock, duration_s, interval_s, on_bin=lambda i, n: sock.sendall(b"%d %d\n" % (i, n)))
            sock.shutdown(socket.SHUT_WR)
            receive_bins(sock, SERVER_GRACE_S, SERVER_GRACE_S)

    def finish(self) -> None:
        _set_abort_on_close(self.connection)
        super().finish()


class _Server(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True

    def handle_error(self, request: object, client_address: object) -> None:
        """A client that vanishes mid-transfer is normal here: no traceback."""


def make_server(host: str = "0.0.0.0", port: int = DEFAULT_PORT) -> socketserver.ThreadingTCPServer:
    """A sink/source server (call ``serve_forever()``; port 0 picks a free one)."""
    return _Server((host, port), _StreamHandler)


# ---------------------------------------------------------------------------------------------
# Client


def _client_stream(host: str, port: int, direction: str, duration_s: float, interval_s: float,
                   cancel: threading.Event, out: list[list[int]], errors: list[str]) -> None:
    try:
        sock = socket.create_connection((host, port), timeout=CONNECT_TIMEOUT_S)
    except OSError as exc:
        errors.append(f"could not connect to {host}:{port}: {exc}")
        return
    try:
        header = {"direction": direction, "duration_s": duration_s, "interval_s": interval_s}
        sock.sendall(json.dumps(header).encode() + b"\n")
        if direction == "download":
            out.append(receive_bins(sock, duration_s, interval_s, cancel))
        else:
            start = time.monotonic()
            send_for(sock, duration_s, cancel)
            ran_s = min(duration_s, time.monotonic() - start)
            out.append(_read_reports(sock, round(duration_s / interval_s), int(ran_s / interval_s + 1e-9)))
    except (OSError, ValueError) as exc:
        errors.append(f"{direction} stream failed: {exc}")
    finally:
        _abort(sock)


def _read_reports(sock: socket.socket, n_bins: int, wanted: int) -> list[int]:
    """Collect the server's per-bin byte counts of an upload: the first ``wanted`` of the
    ``n_bins`` (fewer when the upload was stopped early)."""
    bins = [0] * n_bins
    seen = 0
    sock.settimeout(REPLY_TIMEOUT_S)
    with sock.makefile("rb") as reader:
        while seen < wanted:
            line = reader.readline(100)
            if not line:
                break
            index, count = (int(x) for x in line.split())
            bins[index] = count
            seen += 1
    return bins


def run_transfer(host: str, port: int = DEFAULT_PORT, direction: str = "download", streams: int = 4,
                 duration_s: float = 5.0, omit_s: float = 1.0, interval_s: float = 0.1,
                 cancel: threading.Event | None = None) -> TransferResult:
    """Run one ``streams``-stream transfer in ``direction`` for ``duration_s`` and measure it
    (stopped early by ``cancel``, it measures the time it ran)."""
    if direction not in DIRECTIONS:
        raise ValueError(f"direction must be one of {DIRECTIONS}, not {direction!r}")
    if not 0 <= omit_s < duration_s:
        raise ValueError("omit_s must be at least 0 and shorter than duration_s")
    cancel = cancel or threading.Event()
    per_stream: list[list[int]] = []
    errors: list[str] = []
    threads = [
        threading.Thread(target=_client_stream, daemon=True,
                         args=(host, port, direction, duration_s, interval_s, cancel, per_stream, errors))
        for _ in range(streams)
    ]
    start = time.monotonic()
    for thread in threads:
        thread.start()
    cancel.wait(duration_s)
    ran_s = min(duration_s, time.monotonic() - start)
    for thread in threads:
        thread.join()
    return summarise(direction, streams, ran_s, omit_s, interval_s, per_stream, errors)


def summarise(direction: str, streams: int, duration_s: float, omit_s: float, interval_s: float,
              per_stream: list[list[int]], errors: list[str]) -> TransferResult:
    """Add the streams' bins of the first ``duration_s`` together and turn them into rates."""
    result = TransferResult(direction, streams, duration_s, omit_s, interval_s, errors=errors)
    n_bins = int(duration_s / interval_s + 1e-9)
    total = [sum(b[i] for b in per_stream if i < len(b)) for i in range(n_bins)]
    skip = round(omit_s / interval_s)
    result.bytes_total = sum(total)
    result.interval_mbps = [round(b * 8 / interval_s / 1e6, 3) for b in total]
    if n_bins:
        result.mbps_total = result.bytes_total * 8 / (n_bins * interval_s) / 1e6
    if n_bins > skip:
        result.mbps = sum(total[skip:]) * 8 / ((n_bins - skip) * interval_s) / 1e6
    else:
        result.errors.append(f"stopped after {duration_s:.1f} s, within the {omit_s:.1f} s ramp-up")
    return result


class BulkLoad:
    """A transfer running in the background: ``with BulkLoad(host, direction="download"):``.

    ``stop()`` (or leaving the ``with``) ends it early and returns its result.
    """

    def __init__(self, host: str, port: int = DEFAULT_PORT, direction: str = "download", streams: int = 4,
                 duration_s: float = 60.0, omit_s: float = 1.0) -> None:
        self._cancel = threading.Event()
        self._result: TransferResult | None = None
        self._thread = threading.Thread(target=self._run, daemon=True,
                                        args=(host, port, direction, streams, duration_s, omit_s))

    def _run(self, host: str, port: int, direction: str, streams: int, duration_s: float,
             omit_s: float) -> None:
        self._result = run_transfer(host, port, direction, streams, duration_s, omit_s, cancel=self._cancel)

    def start(self) -> BulkLoad:
        """Start the transfer thread."""
        self._thread.start()
        return self

    def stop(self) -> TransferResult | None:
        """Stop the transfer within a second and return what it measured."""
        self._cancel.set()
        self._thread.join()
        return self._result

    def __enter__(self) -> BulkLoad:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def main(argv: list[str] | None = None) -> None:
    """Command line: ``serve`` or ``run`` (prints the result as JSON)."""
    parser = argparse.ArgumentParser(description="reference bulk TCP transfer")
    sub = parser.add_subparsers(dest="cmd", required=True)
    serve = sub.add_parser("serve", help="sink/source server")
    serve.add_argument("--host", default="0.0.0.0")
    serve.add_argument("--port", type=int, default=DEFAULT_PORT)
    run = sub.add_parser("run", help="client: one transfer, result as JSON")
    run.add_argument("--host", required=True)
    run.add_argument("--port", type=int, default=DEFAULT_PORT)
    run.add_argument("--direction", choices=DIRECTIONS, default="download")
    run.add_argument("--streams", type=int, default=4)
    run.add_argument("--duration", type=float, default=5.0)
    run.add_argument("--omit", type=float, default=1.0)
    args = parser.parse_args(argv)
    if args.cmd == "serve":
        with make_server(args.host, args.port) as server:
            server.serve_forever()
    else:
        result = run_transfer(args.host, args.port, args.direction, args.streams, args.duration, args.omit)
        print(result.to_json())


if __name__ == "__main__":
    main()
