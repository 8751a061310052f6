"""A STUN responder for tests: answers RFC 5389 Binding requests, and misbehaves on request.

Importable (``with StunServer(drop_every=5) as srv: ... srv.port``) for loopback tests, and
runnable inside a network namespace::

    python -m tests.lab.stun_server --host 10.77.2.2 --port 3478 [--drop-pct 3 --seed 1]

Misbehaviours, each counted so that tests can compare exactly:

* ``drop_every=N`` drops every N-th request (the N-th, 2N-th, ...); ``drop_pct`` drops at
  random (seeded);
* ``late_every=N`` answers every N-th request ``late_ms`` late (other answers go at once);
* ``duplicate`` answers every request twice;
* ``stranger`` also sends, before each answer, a non-STUN datagram and a STUN answer with a
  transaction ID nobody asked for from the same port, and a copy of the real answer from
  another port (which a connected client socket never sees).
"""

from __future__ import annotations

import argparse
import heapq
import os
import random
import select
import socket
import sys
import threading
import time

from connectcheck.probes import stun

SOFTWARE = "connectcheck test STUN server"


class StunServer:
    """A threaded STUN responder on UDP ``host:port`` (port 0: any free port)."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, *, drop_every: int = 0,
                 drop_pct: float = 0.0, late_every: int = 0, late_ms: float = 0.0,
                 duplicate: bool = False, stranger: bool = False, seed: int | None = None) -> None:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.sock = socket.socket(family, socket.SOCK_DGRAM)
        self.sock.bind((host, port))
        self.host, self.port = self.sock.getsockname()[:2]
        self.drop_every, self.drop_pct = drop_every, drop_pct
        self.late_every, self.late_ms = late_every, late_ms
        self.duplicate, self.stranger = duplicate, stranger
        self.requests = self.answered = self.dropped = self.late = 0
        self._random = random.Random(seed)
        self._other = socket.socket(family, socket.SOCK_DGRAM) if stranger else None
        self._queue: list[tuple[float, int, bytes, tuple]] = []  # (due, n, packet, address)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self.serve, name="stun server", daemon=True)

    @property
    def address(self) -> str:
        """``host:port`` as a STUN target is written."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"

    def __enter__(self) -> StunServer:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(2.0)
        self.sock.close()
        if self._other is not None:
            self._other.close()

    def serve(self) -> None:
        """Answer requests until closed (or forever, when run as a program)."""
        while not self._stop.is_set():
            now = time.monotonic()
            while self._queue and self._queue[0][0] <= now:
                _, _, packet, address = heapq.heappop(self._queue)
                self._send(packet, address)
            wait = min(0.1, self._queue[0][0] - now) if self._queue else 0.1
            if select.select([self.sock], [], [], max(0.0, wait))[0]:
                self._handle(*self.sock.recvfrom(2048))

    def _handle(self, data: bytes, address: tuple) -> None:
        request = stun.parse_message(data)
        if request is None or request.msg_type != stun.BINDING_REQUEST:
            return
        self.requests += 1
        n = self.requests
        if (self.drop_every and n % self.drop_every == 0) or self._random.random() * 100 < self.drop_pct:
            self.dropped += 1
            return
        answer = stun.encode_binding_response(request.transaction_id, address[:2], software=SOFTWARE)
        delay = 0.0
        if self.late_every and n % self.late_every == 0:
            self.late += 1
            delay = self.late_ms / 1000.0
        self.answered += 1
        if self.stranger:
            self._send(b"not a STUN packet", address)
            self._send(stun.encode_binding_response(os.urandom(12), address[:2]), address)
            assert self._other is not None
            self._other.sendto(answer, address)
        copies = 2 if self.duplicate else 1
        for _ in range(copies):
            if delay:
                heapq.heappush(self._queue, (time.monotonic() + delay, n, answer, address))
            else:
                self._send(answer, address)

    def _send(self, packet: bytes, address: tuple) -> None:
        try:
            self.sock.sendto(packet, address)
        except OSError:
            pass  # the client went away: nothing to answer


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="STUN responder for connectcheck's tests")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=3478)
    parser.add_argument("--drop-every", type=int, default=0)
    parser.add_argument("--drop-pct", type=float, default=0.0)
    parser.add_argument("--late-every", type=int, default=0)
    parser.add_argument("--late-ms", type=float, default=0.0)
    parser.add_argument("--duplicate", action="store_true")
    parser.add_argument("--stranger", action="store_true")
    parser.add_argument("--seed", type=int, default=None)
    args = parser.parse_args(argv)
    server = StunServer(args.host, args.port, drop_every=args.drop_every, drop_pct=args.drop_pct,
                        late_every=args.late_every, late_ms=args.late_ms, duplicate=args.duplicate,
                        stranger=args.stranger, seed=args.seed)
    print(f"STUN server listening on {server.address}", flush=True, file=sys.stderr)
    try:
        server.serve()
    except KeyboardInterrupt:
        pass
    finally:
        server.close()


if __name__ == "__main__":
    main()
