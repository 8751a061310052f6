"""How well and how cheaply ``local/`` finds what on this computer uses the connection.

Run from the repository root (as root for the realistic accuracy run through a network card;
otherwise it runs over loopback)::

    python -m benchmarks.local [--repeats 3] [--processes 500] [--monitor-s 60] [--out FILE.md]

1. Accuracy: a program called "steam" moves a steady 2, 5, 10 and 20 Mbit/s over TCP (upload, then
   download) while "spotify" moves 1 Mbit/s beside it; ``sample_local(window_s=3)`` must report
   steam within ±15 % and as the top consumer. As root the traffic leaves through a veth card to a
   network namespace the benchmark builds (the far end's sockets are not on this computer, as on a
   tutor's); otherwise over loopback.
2. Cost: idle processes are started until about ``--processes`` run, two programs keep moving data
   (through the same card as above), and the CPU time of one full sample (process table, sockets,
   cards, CPU, browsers, apps) is measured, with its parts; target ≤ 60 ms. Also a whole
   ``sample_local`` and, for comparison, psutil's process table.
3. Monitoring: ``connectcheck top``'s loop every 5 s for ``--monitor-s`` seconds, its CPU time over
   the wall time; target < 2 % of one core.

The machine has 2 cores and others' work may run at the same time: the load average is printed.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import resource
import socket
import statistics
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
from tests.local.generators import PEER_IP, namespace_link, sender, sink

from connectcheck.cli.text import run_top
from connectcheck.local import LocalBackend, LocalSampler, Scope, get_backend, sample_local
from connectcheck.local.linux import pids, socket_inodes

RATES_MBIT = (2.0, 5.0, 10.0, 20.0)
WINDOW_S = 3.0
TARGET_ERROR = 0.15
COST_SAMPLES = 10
MONITOR_INTERVAL_S = 5.0
FDS_EACH = 20


def load() -> str:
    return ", ".join(f"{x:.2f}" for x in os.getloadavg())


@contextlib.contextmanager
def setting(root: bool) -> Iterator[tuple[str, LocalBackend, str]]:
    """(sink address, backend, description): through a namespace's card as root, else loopback."""
    if root:
        with namespace_link() as (ns, card), sink(bind=PEER_IP, netns=ns) as port:
            yield (
                f"{PEER_IP}:{port}",
                get_backend("linux", scope=Scope(uplinks=frozenset({card}))),
                f"through a veth card to a namespace ({card})",
            )
    else:
        with sink() as port:
            yield (
                f"127.0.0.1:{port}",
                get_backend("linux", scope=Scope(uplinks=frozenset({"lo"}), loopback=True)),
                "over loopback",
            )


def accuracy(repeats: int, to: str, backend: LocalBackend, where: str) -> list[str]:
    rows = []
    for direction in ("up", "down"):
        for rate in RATES_MBIT:
            errors, tops = [], 0
            for _ in range(repeats):
                with sender("steam", to, rate, direction), sender("spotify", to, 1.0, direction):
                    time.sleep(0.5)
                    f = sample_local(window_s=WINDOW_S, backend=backend, exclude_pids={os.getpid()})
                users = [p for p in f.processes if p.name != "cc-sink"]
                steam = next((p for p in users if p.name == "steam"), None)
                measured = (
                    None if steam is None else (steam.up_mbps if direction == "up" else steam.down_mbps)
                )
                errors.append(float("nan") if measured is None else (measured - rate) / rate)
                tops += bool(users) and users[0].name == "steam"
            worst = max(errors, key=abs)
            rows.append(
                f"| {direction} | {rate:g} | {statistics.median(errors) * 100:+.1f} | {worst * 100:+.1f} "
                f"| {'yes' if abs(worst) <= TARGET_ERROR else 'NO'} | {tops}/{repeats} |"
            )
    head = [
        f"### Accuracy: one program at a steady rate beside another at 1 Mbit/s, {WINDOW_S:g} s window, "
        f"{where}, {repeats} runs each",
        "",
        "| direction | set Mbit/s | median error % | worst error % | within ±15 % | top consumer right |",
        "|:-:|---:|---:|---:|:-:|:-:|",
    ]
    return head + rows


@contextlib.contextmanager
def crowd(target: int) -> Iterator[int]:
    """Start idle processes until about ``target`` run; yields how many run.

    Each holds ``FDS_EACH`` open files besides its standard ones, as real programs hold many:
    finding a socket's owner means looking through them all.
    """
    started = []
    held = [os.open(os.devnull, os.O_RDONLY) for _ in range(FDS_EACH)]
    try:
        for _ in range(max(0, target - len(psutil.pids()))):
            started.append(subprocess.Popen(["sleep", "900"], pass_fds=held))
        yield len(psutil.pids())
    finally:
        for fd in held:
            os.close(fd)
        for p in started:
            p.kill()
        for p in started:
            p.wait()


def cpu_ms(fn) -> float:
    start = time.process_time()
    fn()
    return (time.process_time() - start) * 1000


@contextlib.contextmanager
def own_traffic(to: str) -> Iterator[None]:
    """This (old) process sends to the sink from a thread while the block runs."""
    host, port = to.rsplit(":", 1)
    stop = threading.Event()
    conn = socket.create_connection((host, int(port)))
    conn.sendall(b"U\n")

    def send() -> None:
        while not stop.wait(0.01):
            conn.sendall(b"o" * 16384)

    thread = threading.Thread(target=send, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()
        conn.close()


def cost(running: int, to: str, backend: LocalBackend) -> list[str]:
    lines = []
    with sender("steam", to, 10), sender("spotify", to, 2, "down"):
        sampler = LocalSampler(interval_s=1.0, backend=backend)
        sampler.sample()
        samples = []
        for _ in range(COST_SAMPLES):
            time.sleep(1.0)
            samples.append(cpu_ms(sampler.sample))
        parts = {
            "process table (/proc/*/stat)": cpu_ms(backend.processes),
            "psutil process_iter, for comparison": cpu_ms(
                lambda: [p.info for p in psutil.process_iter(["name", "ppid", "cpu_times", "memory_info"])]
            ),
            "card counters": cpu_ms(backend.nic_counters),
            "CPU times per core": cpu_ms(lambda: psutil.cpu_times(percpu=True)),
        }
        fresh = LocalSampler(interval_s=0.5, backend=backend)
        fresh.sample()
        time.sleep(0.5)
        parts["a full sample by a new sampler (every socket's program searched for)"] = cpu_ms(fresh.sample)
        time.sleep(0.5)
        parts["its next full sample (programs remembered)"] = cpu_ms(fresh.sample)
        with own_traffic(to):  # the oldest program sends: every other process is searched first
            oldest = LocalSampler(interval_s=0.5, backend=backend)
            oldest.sample()
            time.sleep(0.5)
            parts["the same when the sender is older than all the others"] = cpu_ms(oldest.sample)
        parts["reading every process's open files once (the most a search for owners costs)"] = cpu_ms(
            lambda: [socket_inodes(p) for p in pids()]
        )
        whole = cpu_ms(lambda: sample_local(window_s=WINDOW_S, backend=backend))
    lines += [
        f"### Cost of one sample with {running} processes ({FDS_EACH}+ open files each, 2 moving data)",
        "",
        f"One full sample (`LocalSampler.sample()`: all processes, sockets, cards, cores, browsers, apps), "
        f"{COST_SAMPLES} samples 1 s apart: median **{statistics.median(samples):.1f} ms** CPU, "
        f"max {max(samples):.1f} ms (target ≤ 60 ms).",
        "",
        f"A whole `sample_local(window_s={WINDOW_S:g})` (two full readings, a socket look every second, "
        f"Wi-Fi and power in a thread): {whole:.1f} ms CPU.",
        "",
        "| part | CPU ms |",
        "|:--|---:|",
    ]
    lines += [f"| {name} | {ms:.1f} |" for name, ms in parts.items()]
    return lines


def monitoring(seconds: float) -> list[str]:
    iterations = max(1, int(seconds / MONITOR_INTERVAL_S))
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu0, wall0 = time.process_time(), time.monotonic()
    run_top(io.StringIO(), interval_s=MONITOR_INTERVAL_S, iterations=iterations)
    wall = time.monotonic() - wall0
    cpu = time.process_time() - cpu0
    spawned = resource.getrusage(resource.RUSAGE_CHILDREN)
    child_cpu = (spawned.ru_utime + spawned.ru_stime) - (children.ru_utime + children.ru_stime)
    share = 100 * (cpu + child_cpu) / wall
    return [
        f"### Monitoring: `connectcheck top` every {MONITOR_INTERVAL_S:g} s for {wall:.0f} s "
        f"({len(psutil.pids())} processes)",
        "",
        f"CPU {cpu * 1000:.0f} ms (+ {child_cpu * 1000:.0f} ms in commands it ran) over {wall:.0f} s: "
        f"**{share:.2f} % of one core** (target < 2 %).",
    ]


NOTES = [
    "### Reading these numbers",
    "",
    "* The rates are TCP payload bytes counted by the kernel per socket (`tcpi_bytes_acked`, "
    "`tcpi_bytes_received`), so a steady sender is reported to a fraction of a percent; the generator's "
    "own pacing is the reference.",
    "* Finding a socket's program means reading every file descriptor of every process (what `ss -p` "
    "does): that is why a new sampler's first sample costs more. It is paid once per new program "
    "with traffic: owners are remembered; earlier socket holders are looked at first, then the "
    "programs that were busy (sending takes CPU; before the first interval, those that used most CPU "
    "so far), then the newest; a socket is only searched for once it moved 4 kB in an interval, and "
    "one nobody readable holds is not searched again for 10 s. The last rows show the cost when the "
    "sender is none of those, and the most a search can cost.",
    "* psutil's process table is shown for comparison only: on Linux the table is read from "
    "`/proc/<pid>/stat` directly, about five times cheaper.",
    "* CPU times are this process's own (`time.process_time`), plus the commands it ran; the machine "
    "is shared with other people's tests.",
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--processes", type=int, default=500)
    parser.add_argument("--monitor-s", type=float, default=60.0)
    parser.add_argument("--out", default="benchmarks/results/local.md")
    args = parser.parse_args()
    root = os.geteuid() == 0
    started, load_before = time.time(), load()
    with setting(root) as (to, backend, where):
        sections = [accuracy(args.repeats, to, backend, where)]
        with crowd(args.processes) as running:
            sections += [cost(running, to, backend), monitoring(args.monitor_s)]
    sections.append(NOTES)
    took = time.time() - started
    text = "\n".join(
        [
            "## This computer (local/): per-program rates, cost of sampling",
            "",
            f"Measured {time.strftime('%Y-%m-%d %H:%M', time.localtime(started))} in {took:.0f} s; "
            f"load average before {load_before}, after {load()} (2 cores, shared with other work: "
            "numbers can be noisy).",
            "",
        ]
        + [line for s in sections for line in s + [""]]
    )
    print(text)
    Path(args.out).write_text(text)


if __name__ == "__main__":
    main()
