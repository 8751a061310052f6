"""The lesson's own call, for the lesson lab: a steady two-way UDP stream the size of a small video
call (by default 1.5 Mbit/s down, 0.8 Mbit/s up), as the browser's would be, so that a line that
turns too slow for the lesson shows as it does at home: the lesson's own traffic no longer fits.

    python -m tests.lab.call_stream serve --host 10.77.9.2 --port 5300     # the platform's side
    python -m tests.lab.call_stream run --host 10.77.9.2 --port 5300      # this computer's side

The client sends ``--up-kbit`` of 1000-byte packets, paced by the clock; the server answers every
peer heard from within the last two seconds with ``--down-kbit`` of 1200-byte packets. Neither
side adapts its rate (a real call would lower it after a while; the first seconds of trouble
look the same). Each side runs until killed.
"""

from __future__ import annotations

import argparse
import contextlib
import socket
import threading
import time
from collections.abc import Callable

UP_BYTES = 1000
DOWN_BYTES = 1200
PEER_TIMEOUT_S = 2.0


def _pace(rate_kbit: float, size: int, send: Callable[[], None], stop: threading.Event) -> None:
    gap = size * 8 / (rate_kbit * 1000.0)
    next_at = time.monotonic()
    while not stop.is_set():
        send()
        next_at += gap
        delay = next_at - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        elif delay < -1.0:  # fell far behind (a stalled process): no burst to catch up
            next_at = time.monotonic()


def serve(host: str, port: int, down_kbit: float) -> None:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind((host, port))
    peers: dict[tuple[str, int], float] = {}
    lock = threading.Lock()
    stop = threading.Event()
    payload = b"\x00" * DOWN_BYTES

    def listen() -> None:
        while True:
            try:
                _, peer = sock.recvfrom(4096)
            except OSError:
                return
            with lock:
                peers[peer] = time.monotonic()

    def send() -> None:
        now = time.monotonic()
        with lock:
            live = [p for p, seen in peers.items() if now - seen < PEER_TIMEOUT_S]
        for peer in live:
            with contextlib.suppress(OSError):
                sock.sendto(payload, peer)

    threading.Thread(target=listen, daemon=True).start()
    _pace(down_kbit, DOWN_BYTES, send, stop)


def run(host: str, port: int, up_kbit: float) -> None:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.connect((host, port))
    stop = threading.Event()
    payload = b"\x01" * UP_BYTES

    def drain() -> None:
        while True:
            try:
                sock.recv(4096)
            except ConnectionRefusedError:
                continue  # the server not up yet
            except OSError:
                return

    def send() -> None:
        with contextlib.suppress(OSError):
            sock.send(payload)

    threading.Thread(target=drain, daemon=True).start()
    _pace(up_kbit, UP_BYTES, send, stop)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="a call-sized two-way UDP stream")
    parser.add_argument("role", choices=("serve", "run"))
    parser.add_argument("--host", required=True)
    parser.add_argument("--port", type=int, default=5300)
    parser.add_argument("--down-kbit", type=float, default=1500.0)
    parser.add_argument("--up-kbit", type=float, default=800.0)
    args = parser.parse_args(argv)
    if args.role == "serve":
        serve(args.host, args.port, args.down_kbit)
    else:
        run(args.host, args.port, args.up_kbit)


if __name__ == "__main__":
    main()
