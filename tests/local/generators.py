"""Starting the traffic generators of ``traffic_gen.py`` from tests and benchmarks.

Each runs as its own process (so it has its own name and pid), optionally inside a network
namespace, and is stopped when its ``with`` block ends (it also stops by itself after its time).
"""

from __future__ import annotations

import contextlib
import fcntl
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
# Addresses of the private veth link the namespace tests build (their own, not the shared lab's).
HOST_IP, PEER_IP = "10.79.1.1", "10.79.1.2"
LOCK_PATH = "/tmp/connectcheck-local-netns.lock"


def _command(args: list[str], netns: str | None) -> list[str]:
    base = [sys.executable, "-m", "tests.local.traffic_gen", *args]
    return ["ip", "netns", "exec", netns, *base] if netns else base


def _first_line(proc: subprocess.Popen) -> str:
    line = proc.stdout.readline().strip()
    if not line:
        proc.kill()
        raise RuntimeError(f"traffic generator did not start: {proc.stderr.read()}")
    return line


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=3)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    for stream in (proc.stdout, proc.stderr):
        if stream:
            stream.close()


@contextlib.contextmanager
def sink(
    bind: str = "127.0.0.1", netns: str | None = None, seconds: float = 120.0, name: str = "cc-sink"
) -> Iterator[int]:
    """A sink: discards TCP and UDP, or sends at a client's rate; yields its port."""
    proc = subprocess.Popen(
        _command(["sink", "--bind", bind, "--seconds", str(seconds), "--name", name], netns),
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        yield int(_first_line(proc))
    finally:
        _stop(proc)


@contextlib.contextmanager
def sender(
    name: str,
    to: str,
    mbit: float,
    direction: str = "up",
    proto: str = "tcp",
    seconds: float = 30.0,
    burst: bool = False,
    netns: str | None = None,
) -> Iterator[subprocess.Popen]:
    """A program called ``name`` moving ``mbit`` Mbit/s to or from a sink; yields its process."""
    args = [
        "send",
        "--name",
        name,
        "--to",
        to,
        "--mbit",
        str(mbit),
        "--dir",
        direction,
        "--proto",
        proto,
        "--seconds",
        str(seconds),
    ] + (["--burst"] if burst else [])
    proc = subprocess.Popen(
        _command(args, netns), cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        if _first_line(proc) != "ready":
            raise RuntimeError("traffic generator said something unexpected")
        yield proc
    finally:
        _stop(proc)


@contextlib.contextmanager
def idle(
    name: str, *args: str, children: tuple[str, ...] = (), seconds: float = 30.0
) -> Iterator[subprocess.Popen]:
    """A program called ``name`` with these arguments and children ("NAME" or "NAME:ARG"), doing nothing."""
    command = ["idle", "--name", name, "--seconds", str(seconds), *[f"--child={c}" for c in children], *args]
    proc = subprocess.Popen(
        _command(command, None), cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        if _first_line(proc) != "ready":
            raise RuntimeError("idle program said something unexpected")
        yield proc
    finally:
        _stop(proc)


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, text=True)


def _remove_stale_links() -> None:
    """Links of a run that was killed before it could clean up (their address would clash)."""
    shown = subprocess.run(["ip", "-o", "-4", "addr", "show"], capture_output=True, text=True).stdout
    for line in shown.splitlines():
        parts = line.split()
        if len(parts) > 3 and f"{HOST_IP}/30" in parts and parts[1].startswith("cclh"):
            subprocess.run(["ip", "link", "del", parts[1].split("@")[0]], capture_output=True)


@contextlib.contextmanager
def namespace_link() -> Iterator[tuple[str, str]]:
    """A network namespace joined to this one by a veth pair: yields (namespace, host-side card).

    Needs root. Traffic to PEER_IP leaves through the host-side card as traffic to the internet
    leaves through a real one, and the far end's sockets are not this namespace's. One such link
    at a time (a lock file): they share their addresses.
    """
    tag = uuid.uuid4().hex[:6]
    ns, host_if, peer_if = f"ccloc-{tag}", f"cclh{tag}", f"cclp{tag}"
    with open(LOCK_PATH, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        _remove_stale_links()
        _ip("netns", "add", ns)
        try:
            _ip("link", "add", host_if, "type", "veth", "peer", "name", peer_if)
            _ip("link", "set", peer_if, "netns", ns)
            _ip("addr", "add", f"{HOST_IP}/30", "dev", host_if)
            _ip("link", "set", host_if, "up")
            _ip("-n", ns, "addr", "add", f"{PEER_IP}/30", "dev", peer_if)
            _ip("-n", ns, "link", "set", peer_if, "up")
            _ip("-n", ns, "link", "set", "lo", "up")
            yield ns, host_if
        finally:
            subprocess.run(["ip", "link", "del", host_if], capture_output=True)
            subprocess.run(["ip", "netns", "del", ns], capture_output=True)
