"""Traffic generators for the tests: programs with a chosen name that move a known rate.

``python -m tests.local.traffic_gen send --name steam --to 127.0.0.1:PORT --mbit 8 --dir up``
sets its own process name (``prctl(PR_SET_NAME)``, what ``/proc/<pid>/comm`` shows), connects
and sends (``up``) or asks the sink to send to it (``down``) at the rate, paced every few
milliseconds, for ``--seconds`` (it stops by itself). ``--proto udp`` sends datagrams instead
(traffic no per-socket counter sees); ``--burst`` alternates 0.5 s at twice the rate with 0.5 s
of silence (the same average). ``idle`` only sits there with its name, its extra arguments
(a browser's ``--type=renderer``) and named children. ``sink`` accepts TCP connections (it
discards what it gets, or sends at the rate a client asks for) and discards UDP on the same
port; it prints its port.
"""

from __future__ import annotations

import argparse
import ctypes
import ctypes.util
import signal
import socket
import subprocess
import sys
import threading
import time

CHUNK = 16384
UDP_PAYLOAD = 1200
PACE_S = 0.005
MAX_CATCH_UP_S = 0.05  # a sender held up longer than this skips the rest, like a paced stream
PR_SET_NAME = 15


def set_name(name: str) -> None:
    """Set this process's name as the kernel shows it (15 characters at most)."""
    libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
    libc.prctl(PR_SET_NAME, ctypes.c_char_p(name.encode()[:15]), 0, 0, 0)


def paced(rate_bps: float, seconds: float, burst: bool, write) -> None:
    """Call ``write(n)`` so that bytes go out at ``rate_bps`` (bits/s) for ``seconds``."""
    start = time.monotonic()
    sent = 0
    on_time = 0.0
    last = start
    while (now := time.monotonic()) - start < seconds:
        on = not burst or int((now - start) / 0.5) % 2 == 0
        if on:
            on_time += now - last
        last = now
        due = rate_bps / 8 * on_time * (2 if burst else 1) - sent
        if due > (most := rate_bps / 8 * MAX_CATCH_UP_S * (2 if burst else 1)):
            sent += due - most  # descheduled for a while (a loaded machine): no burst to catch up
            due = most
        if due >= 1:
            sent += write(int(due))
        time.sleep(PACE_S)


def send(args: argparse.Namespace) -> None:
    set_name(args.name)
    host, port = args.to.rsplit(":", 1)
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    rate = args.mbit * 1e6
    if args.proto == "udp":
        sock = socket.socket(family, socket.SOCK_DGRAM)
        sock.connect((host.strip("[]"), int(port)))
        payload = b"u" * UDP_PAYLOAD
        print("ready", flush=True)

        def write_udp(n: int) -> int:
            count = max(1, n // UDP_PAYLOAD)
            for _ in range(count):
                sock.send(payload)
            return count * UDP_PAYLOAD

        paced(rate, args.seconds, args.burst, write_udp)
        return
    sock = socket.create_connection((host.strip("[]"), int(port)), timeout=5)
    sock.settimeout(None)
    if args.dir == "down":
        sock.sendall(f"D {rate} {args.seconds} {int(args.burst)}\n".encode())
        print("ready", flush=True)
        end = time.monotonic() + args.seconds + 1
        sock.settimeout(1.0)
        while time.monotonic() < end:
            try:
                if not sock.recv(65536):
                    break
            except TimeoutError:
                continue
        return
    sock.sendall(b"U\n")
    print("ready", flush=True)
    paced(rate, args.seconds, args.burst, tcp_writer(sock))


def tcp_writer(sock: socket.socket):
    """A ``write(n)`` for :func:`paced` that sends n bytes on a TCP socket."""
    block = b"x" * CHUNK

    def write(n: int) -> int:
        left = n
        while left > 0:
            part = min(left, CHUNK)
            sock.sendall(block[:part])
            left -= part
        return n

    return write


def serve_client(conn: socket.socket) -> None:
    """One sink connection: "U" discards what comes, "D rate seconds burst" sends at that rate."""
    with conn:
        header = b""
        while not header.endswith(b"\n"):
            part = conn.recv(1)
            if not part:
                return
            header += part
        words = header.split()
        if words[0] == b"D":
            try:
                paced(float(words[1]), float(words[2]), words[3] == b"1", tcp_writer(conn))
            except OSError:
                return
        else:
            while conn.recv(65536):
                pass


def sink(args: argparse.Namespace) -> None:
    set_name(args.name)
    family = socket.AF_INET6 if ":" in args.bind else socket.AF_INET
    tcp = socket.socket(family, socket.SOCK_STREAM)
    tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    tcp.bind((args.bind, args.port))
    tcp.listen(64)
    port = tcp.getsockname()[1]
    udp = socket.socket(family, socket.SOCK_DGRAM)
    udp.bind((args.bind, port))
    threading.Thread(target=lambda: [udp.recv(65536) for _ in iter(int, 1)], daemon=True).start()
    print(port, flush=True)
    deadline = time.monotonic() + args.seconds
    tcp.settimeout(0.5)
    while time.monotonic() < deadline:
        try:
            conn, _ = tcp.accept()
        except TimeoutError:
            continue
        threading.Thread(target=serve_client, args=(conn,), daemon=True).start()


def idle(args: argparse.Namespace, extra: list[str]) -> None:
    """A program that only exists: a name, arguments, children (``--child NAME[:ARG]``).

    Stopped (SIGTERM), it stops its children first: left behind, they would be counted as a browser's
    processes by the next test that looks for that browser.
    """
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    set_name(args.name)
    children: list[subprocess.Popen] = []
    try:
        for spec in args.child:
            name, _, arg = spec.partition(":")
            command = [
                sys.executable,
                "-m",
                "tests.local.traffic_gen",
                "idle",
                "--name",
                name,
                "--seconds",
                str(args.seconds),
            ] + ([arg] if arg else [])
            children.append(subprocess.Popen(command, stdout=subprocess.DEVNULL))
        print("ready", flush=True)
        time.sleep(args.seconds)
    finally:
        for child in children:
            child.terminate()
            child.wait()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="traffic_gen")
    sub = parser.add_subparsers(dest="command", required=True)
    s = sub.add_parser("send")
    s.add_argument("--name", required=True)
    s.add_argument("--to", required=True)
    s.add_argument("--mbit", type=float, required=True)
    s.add_argument("--dir", choices=("up", "down"), default="up")
    s.add_argument("--proto", choices=("tcp", "udp"), default="tcp")
    s.add_argument("--seconds", type=float, default=30.0)
    s.add_argument("--burst", action="store_true")
    k = sub.add_parser("sink")
    k.add_argument("--name", default="cc-sink")
    k.add_argument("--bind", default="127.0.0.1")
    k.add_argument("--port", type=int, default=0)
    k.add_argument("--seconds", type=float, default=120.0)
    i = sub.add_parser("idle")
    i.add_argument("--name", required=True)
    i.add_argument("--seconds", type=float, default=30.0)
    i.add_argument("--child", action="append", default=[])
    args, extra = parser.parse_known_args(argv)
    try:
        if args.command == "idle":
            idle(args, extra)
        else:
            send(args) if args.command == "send" else sink(args)
    except (BrokenPipeError, ConnectionResetError, KeyboardInterrupt):
        pass
    sys.exit(0)


if __name__ == "__main__":
    main()
