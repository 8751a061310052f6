"""Starting the traffic generators of ``traffic_gen.py`` from tests and benchmarks.

Each runs as its own process (so it has its own name and pid), optionally inside a network
namespace, and is stopped when its ``with`` block ends (it also stops by itself after its time).
"""

from __future__ import annotations

import contextlib
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT_S = 10.0


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
