"""The Linux backend: sock_diag byte counts, sockets tied to programs, /proc, routes, and the
races of processes that end or deny access in the middle of a scan — all with real processes."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pytest

from connectcheck.local.linux import (
    LinuxBackend,
    SockDiagMeter,
    default_route_interfaces,
    read_proc_stat,
    tcp_sockets,
)
from tests.local.generators import sender
from tests.local.replay import recorded


def _pair(family: int, host: str):
    server = socket.create_server((host, 0), family=family)
    client = socket.create_connection((host, server.getsockname()[1]))
    accepted, _ = server.accept()
    server.close()
    return client, accepted


@pytest.mark.parametrize("family, host", [(socket.AF_INET, "127.0.0.1"), (socket.AF_INET6, "::1")])
def test_byte_counts_are_exact_per_socket(family, host):
    client, accepted = _pair(family, host)
    with client, accepted:
        client.sendall(b"x" * 300_000)
        received = 0
        while received < 300_000:
            received += len(accepted.recv(65536))
        accepted.sendall(b"y" * 5_000)
        client.recv(5_000, socket.MSG_WAITALL)
        time.sleep(0.05)
        by_inode = {s.inode: s for s in tcp_sockets()}
        sent = by_inode[os.fstat(client.fileno()).st_ino]
        got = by_inode[os.fstat(accepted.fileno()).st_ino]
    assert sent.bytes_acked in (300_000, 300_001)  # the SYN counts as one acked byte
    assert sent.bytes_received == 5_000
    assert got.bytes_received == 300_000 and got.bytes_acked in (5_000, 5_001)
    assert sent.local and got.local and sent.source == host


def test_meter_ties_traffic_to_the_program(loopback_sink):
    meter = SockDiagMeter(loopback=True)
    assert meter.read() == {}
    with sender("cc-uploader", f"127.0.0.1:{loopback_sink}", 8) as proc:
        time.sleep(1.0)
        flows = meter.read()
    flow = flows[proc.pid]
    assert flow.name == "cc-uploader" and flow.connections == 1
    assert 0.6e6 < flow.up_bytes < 1.4e6 and flow.down_bytes == 0


def test_meter_keeps_connections_that_closed_before_the_read(loopback_sink):
    """A program that sent and ended between two reads is counted if a step saw it alive."""
    meter = SockDiagMeter(loopback=True)
    meter.read()
    with sender("cc-brief", f"127.0.0.1:{loopback_sink}", 8, seconds=1.2) as proc:
        pid = proc.pid
        deadline = time.monotonic() + 5
        while proc.poll() is None and time.monotonic() < deadline:
            meter.step()
            time.sleep(0.3)
    assert proc.poll() is not None  # it ended before the read
    flows = meter.read()
    assert pid in flows and 0.6e6 < flows[pid].up_bytes < 1.6e6


def test_loopback_is_left_out_unless_asked(loopback_sink):
    meter = SockDiagMeter(loopback=False)
    meter.read()
    with sender("cc-local", f"127.0.0.1:{loopback_sink}", 4) as proc:
        time.sleep(0.6)
        assert proc.pid not in meter.read()


def _churn(port: int, stop: threading.Event, started: list) -> None:
    """Start programs that connect, send and end at once, over and over."""
    code = (
        f"import socket, time, random; s=socket.create_connection(('127.0.0.1',{port})); "
        "s.sendall(b'U\\n'+b'z'*100000); time.sleep(random.random() / 3); s.sendall(b'z'*100000)"
    )
    while not stop.is_set():
        p = subprocess.Popen([sys.executable, "-c", code])
        started.append(p)
        time.sleep(0.05)
        for q in [q for q in started if q.poll() is not None]:
            started.remove(q)


def test_processes_ending_mid_scan_are_skipped(loopback_sink):
    """Meters and the process table keep working while programs come and go under them."""
    backend = LinuxBackend()
    meter = SockDiagMeter(loopback=True)
    stop, started = threading.Event(), []
    churn = threading.Thread(target=_churn, args=(loopback_sink, stop, started))
    churn.start()
    tables, total_up = [], 0
    try:
        meter.read()
        end = time.monotonic() + 3
        while time.monotonic() < end:
            tables.append(backend.processes())
            meter.step()
            total_up += sum(f.up_bytes for f in meter.read().values())
            for p in list(started):
                backend.cmdline(p.pid)
    finally:
        stop.set()
        churn.join()
        for p in started:
            p.wait()
    assert len(tables) > 10 and all(os.getpid() in t for t in tables)
    assert total_up > 200_000  # some of the short-lived senders were caught alive


def _copy_for_another_user(dest: Path) -> None:
    """What the sampler imports (the package with its resources, psutil, platformdirs), copied into
    a folder every user can read: the checkout may sit where only root can enter (mode 0700)."""
    import platformdirs
    import psutil

    import connectcheck
    from connectcheck.core.paths import resource_dir

    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    shutil.copytree(Path(connectcheck.__file__).parent, dest / "connectcheck", ignore=ignore)
    shutil.copytree(resource_dir(), dest / "connectcheck" / "resources", ignore=ignore, dirs_exist_ok=True)
    for module in (psutil, platformdirs):
        shutil.copytree(Path(module.__file__).parent, dest / module.__name__, ignore=ignore)
    for folder in [dest, *dest.rglob("*")]:
        folder.chmod(0o755 if folder.is_dir() else 0o644)


def _python_for(user: list[str]) -> tuple[str | None, str]:
    """An interpreter of this Python's version that the other user can run, and why not if none."""
    why = ""
    version = f"{sys.version_info[0]}.{sys.version_info[1]}"
    for python in (os.path.realpath(sys.executable), f"/usr/bin/python{version}"):
        if not os.path.exists(python):
            continue
        tried = subprocess.run([*user, python, "-c", "pass"], capture_output=True, text=True, timeout=30)
        if tried.returncode == 0:
            return python, ""
        why = f"{python}: {tried.stderr.strip()[-200:]}"
    return None, why or "no such Python"


def test_access_denied_is_skipped_and_counted_as_unattributed(loopback_sink):
    """An ordinary user cannot look into root's programs: their traffic stays unattributed."""
    if os.geteuid() != 0 or shutil.which("setpriv") is None:
        pytest.skip("needs root (to run the sampler as another user) and setpriv")
    user = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
    python, why = _python_for(user)
    if python is None:
        pytest.skip(f"the other user can run no Python {sys.version_info[:2]} here: {why}")
    code = (
        "import json; from connectcheck.local import sample_local, get_backend, Scope; print('started'); "
        "b = get_backend('linux', scope=Scope(uplinks=frozenset({'lo'}), loopback=True)); "
        "f = sample_local(window_s=2.0, backend=b); "
        "print(json.dumps([[p.name for p in f.processes], f.unattributed_up_mbps, f.status.value]))"
    )
    shared = Path(tempfile.mkdtemp(prefix="cc-otheruser-", dir="/tmp"))
    try:
        _copy_for_another_user(shared)
        with sender("cc-rootsender", f"127.0.0.1:{loopback_sink}", 6):
            out = subprocess.run(
                [*user, python, "-s", "-c", code],
                cwd=shared,
                capture_output=True,
                text=True,
                timeout=30,
                env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": "/tmp",
                     "PYTHONPATH": str(shared), "PYTHONDONTWRITEBYTECODE": "1"},
            )
    finally:
        shutil.rmtree(shared, ignore_errors=True)
    if not out.stdout.startswith("started"):
        pytest.skip(f"the sampler could not start as the other user: {out.stderr.strip()[-300:]}")
    names, unattributed_up, status = json.loads(out.stdout.splitlines()[1])
    assert status == "ok"
    assert "cc-rootsender" not in names and "cc-sink" not in names
    assert unattributed_up > 4.0  # ~6 Mbit/s: nobody could be named for it


def test_proc_stat_lines():
    raw = b"4242 (Web Content) S 4000 4242 4242 0 -1 4194560 9 0 0 0 150 50 0 0 20 0 30 0 1 0 2560 0"
    p = read_proc_stat(4242, raw, 0.01, 0.004)
    assert (p.pid, p.name, p.ppid, p.cpu_s, p.memory_mb) == (4242, "Web Content", 4000, 2.0, 10.24)
    odd = b"7 (a) b (c)) R 1 7 7 0 -1 4194304 0 0 0 0 1 1 0 0 20 0 1 0 1 0 10 0"
    assert read_proc_stat(7, odd, 0.01, 0.004).name == "a) b (c)"
    kernel = b"2 (kthreadd) S 0 0 0 0 -1 2129984 0 0 0 0 0 0 0 0 20 0 1 0 24 0 0 0"
    assert read_proc_stat(2, kernel, 0.01, 0.004) is None


def test_process_table_of_this_computer():
    table = LinuxBackend().processes()
    me = table[os.getpid()]
    assert me.ppid == os.getppid() and me.memory_mb > 1 and me.cpu_s > 0
    with open(f"/proc/{os.getpid()}/comm") as comm:
        assert me.name == comm.read().strip()


def test_default_route_interfaces_from_recorded_tables():
    names = default_route_interfaces(recorded("proc_net_route.txt"), recorded("proc_net_ipv6_route.txt"))
    assert names == ["wg0", "wlp2s0"]  # the VPN's lower metric first; lo's reject route left out
    assert default_route_interfaces("Iface\tDestination\n", "") == []


def test_interface_kinds_from_sysfs(netns_link):
    _, card = netns_link
    backend = LinuxBackend()
    assert backend.interface_kind("lo") == "loopback"
    assert backend.interface_kind(card) == "other"  # a veth is no network card of its own
    assert backend.interface_kind("wwan0") == "mobile"  # unknown here: its name tells


def test_power_saver_reads_what_the_system_offers():
    assert LinuxBackend().power_saver() in (True, False, None)
