"""Self-tests of the network lab: it gives the rate, delay, jitter, loss and queue it is
configured for, changes them live, and leaves nothing behind.

The first part (the arithmetic, the relay's scheduling, the reference transfer and the UDP echo
over 127.0.0.1) runs anywhere; the tests marked ``lab`` need root and skip with the reason
otherwise.
"""

import contextlib
import fcntl
import math
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import textwrap
import threading
import time

import pytest

from tests.lab import netlab
from tests.lab.delay_relay import PROTO_TCP, Relay, direction_key, fifo_delay_ms, flow_key, one_way_delay_ms
from tests.lab.netlab import (
    LinkSpec,
    NetLab,
    require_lab,
    tbf_params,
    udp_echo,
    udp_rtt_one_at_a_time,
    udp_rtt_series,
)
from tests.lab.tcp_reference import BulkLoad, make_server, run_transfer

ECHO_PORT = 9000
TCP_PORT = 5201


# ---------------------------------------------------------------------------------------------
# Runs anywhere


def test_goodput_ceiling_is_rate_times_payload_share_of_a_full_frame():
    spec = LinkSpec(down_mbit=20, up_mbit=5)
    assert spec.goodput_ceiling_mbps("download") == pytest.approx(20 * 1448 / 1514)
    assert spec.goodput_ceiling_mbps("upload") == pytest.approx(5 * 0.9564, rel=1e-3)
    assert LinkSpec().goodput_ceiling_mbps("download") is None


def test_per_direction_loss_combines_to_the_pair_loss():
    spec = LinkSpec(loss_pct=3.0)
    p = spec.per_direction_loss()
    assert 1 - (1 - p) ** 2 == pytest.approx(0.03)


def test_expected_rtt_is_the_configured_rtt_unless_jitter_is_wider():
    legacy = {"delay_model": "independent"}
    assert LinkSpec(rtt_ms=100, jitter_ms=10, **legacy).expected_rtt_ms() == pytest.approx(100)
    assert LinkSpec(rtt_ms=40, jitter_ms=20, **legacy).expected_rtt_ms() == pytest.approx(20 * 15 / 7)
    assert LinkSpec(rtt_ms=0, jitter_ms=0).expected_rtt_ms() == 0


def test_fifo_expected_rtt_is_the_skewed_median_below_the_configured_mean():
    # The medians of issue 13's "truth" column: 2 base + 1.678 tail, tail = jitter / 1.5.
    for rtt, jitter, median in ((20, 2, 19.6), (45, 5, 43.9), (120, 30, 113.6), (80, 40, 71.4)):
        spec = LinkSpec(rtt_ms=rtt, jitter_ms=jitter)
        assert spec.expected_rtt_ms() == pytest.approx(median, abs=0.05)
        assert spec.expected_rtt_mean_ms() == pytest.approx(rtt)
    assert LinkSpec(rtt_ms=30).rtt_median_sampling_error_ms(50) == 0


def test_fifo_relay_delays_are_base_plus_an_exponential_tail():
    relay = Relay(-1)
    base, tail = fifo_delay_ms(80, 40)
    relay.configure({"model": "fifo", "base_ms": base, "tail_ms": tail, "seed": 5})
    delays = [1000 * relay.delay_s() for _ in range(40000)]
    assert min(delays) >= base
    assert statistics.fmean(delays) == pytest.approx(base + tail, rel=0.02)
    # Exponential: P(tail > t) = exp(-t / tail), right-skewed (median below the mean).
    for k in (0.5, 1, 2, 3):
        share = sum(d - base > k * tail for d in delays) / len(delays)
        assert share == pytest.approx(math.exp(-k), abs=0.01), k
    assert statistics.median(delays) < statistics.fmean(delays)
    # One-at-a-time round trips (two independent directions) give the configured jitter and median.
    spec = LinkSpec(rtt_ms=80, jitter_ms=40)
    rtts = [1000 * (relay.delay_s() + relay.delay_s()) for _ in range(40000)]
    diffs = [abs(b - a) for a, b in zip(rtts, rtts[1:], strict=False)]
    assert statistics.fmean(diffs) == pytest.approx(spec.expected_jitter_ms(), rel=0.03)
    assert statistics.median(rtts) == pytest.approx(spec.expected_rtt_ms(), rel=0.02)


def test_relay_delay_distribution_gives_the_configured_jitter_and_mean():
    rng = random.Random(1)
    spec = LinkSpec(rtt_ms=40, jitter_ms=20, delay_model="independent")
    base, spread = one_way_delay_ms(spec.rtt_ms, spec.jitter_ms)
    rtts = [2 * base + spread * (rng.random() + rng.random()) for _ in range(40000)]
    diffs = [abs(b - a) for a, b in zip(rtts, rtts[1:], strict=False)]
    assert statistics.fmean(diffs) == pytest.approx(spec.expected_jitter_ms(), rel=0.02)
    assert statistics.fmean(rtts) == pytest.approx(spec.expected_rtt_ms(), rel=0.01)
    assert statistics.median(rtts) == pytest.approx(spec.expected_rtt_ms(), rel=0.01)


@pytest.mark.parametrize("rate", [1, 5, 20, 50, 100])
def test_tbf_bucket_holds_two_frames_and_queue_is_queue_ms_of_the_rate(rate):
    burst, limit = tbf_params(rate, 100)
    assert burst >= 2 * 1514
    assert limit == pytest.approx(rate * 1e6 / 8 * 0.1, rel=0.01)


def test_link_spec_rejects_nonsense():
    for bad in ({"down_mbit": 0}, {"loss_pct": 100}, {"rtt_ms": -1}, {"queue_ms": 0}):
        with pytest.raises(ValueError):
            LinkSpec(**bad)


def test_lab_refuses_plainly_without_root(monkeypatch):
    monkeypatch.setattr(netlab, "_availability", {})
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    ok, reason = netlab.lab_available()
    assert not ok and "needs root" in reason
    with pytest.raises(netlab.LabError, match="needs root"):
        NetLab().start()


def test_lab_names_the_missing_tool(monkeypatch):
    monkeypatch.setattr(netlab, "_availability", {})
    monkeypatch.setattr(os, "geteuid", lambda: 0)
    monkeypatch.setattr(netlab.shutil, "which", lambda tool: None if tool == "iptables-restore" else "/bin/x")
    ok, reason = netlab.lab_available(loss=True)
    assert not ok and "iptables-restore" in reason and "not installed" in reason


def _ip_tcp(src_port: int, seq: int) -> bytes:
    header = bytes([0x45, 0, 0, 44, 0, 0, 0, 0, 64, PROTO_TCP, 0, 0, 10, 77, 1, 1, 10, 77, 2, 2])
    return header + src_port.to_bytes(2, "big") + (80).to_bytes(2, "big") + seq.to_bytes(4, "big") + bytes(16)


def _ip_udp(seq: int) -> bytes:
    header = bytes([0x45, 0, 0, 32, 0, 0, 0, 0, 64, 17, 0, 0, 10, 77, 1, 1, 10, 77, 2, 2])
    return header + bytes(8) + seq.to_bytes(4, "big")


def _run_relay(packets, spread_ms, model="independent"):
    """Push ``packets`` through the relay's scheduler over a datagram socketpair; return them
    in the order the relay writes them back."""
    ours, its = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
    with ours, its:
        its.setblocking(False)
        relay = Relay(its.fileno())
        relay.configure({"model": model, "base_ms": 1.0, "spread_ms": spread_ms, "tail_ms": spread_ms / 2,
                         "seed": 7})
        for packet in packets:
            ours.send(packet)
        relay.take_in(time.monotonic())
        while relay.heap:
            time.sleep(relay.timeout(time.monotonic()) or 0)
            relay.release_due(time.monotonic())
        ours.settimeout(1)
        return [ours.recv(2048) for _ in packets]


def _ip_udp_to(dst_last: int, seq: int) -> bytes:
    packet = bytearray(_ip_udp(seq))
    packet[19] = dst_last
    return bytes(packet)


def test_fifo_relay_keeps_every_direction_in_order_whatever_the_protocol():
    # Interleaved UDP, TCP and ICMP-like packets towards two destinations (two directions).
    packets = []
    for i in range(60):
        packets.append(_ip_udp_to(2 if i % 3 else 1, i))
        packets.append(_ip_tcp(1000 + i % 2, i))
    out = _run_relay(packets, spread_ms=20, model="fifo")
    assert sorted(out) == sorted(packets)
    for dst in {direction_key(p) for p in packets}:
        assert [p for p in out if direction_key(p) == dst] == [p for p in packets if direction_key(p) == dst]
    # A packet is held at least its own delay, and never released before the one ahead of it.
    relay = Relay(-1)
    relay.configure({"model": "fifo", "base_ms": 2.0, "tail_ms": 30.0, "seed": 1})
    releases = [relay.schedule(_ip_udp(i), now=i * 0.001) for i in range(500)]
    assert all(b >= a for a, b in zip(releases, releases[1:], strict=False))
    assert all(r >= i * 0.001 + 0.002 for i, r in enumerate(releases))
    # ...which is why closely spaced packets wait much longer than their own draw on average.
    assert statistics.fmean(r - i * 0.001 for i, r in enumerate(releases)) > 0.002 + 0.030 * 1.5


def test_relay_keeps_each_tcp_flow_in_order_but_lets_udp_jitter_freely():
    tcp = [_ip_tcp(1000 + i % 2, i) for i in range(40)]
    out = _run_relay(tcp, spread_ms=20)
    for port in (1000, 1001):
        flow = [p for p in out if flow_key(p) == flow_key(_ip_tcp(port, 0))]
        assert flow == [p for p in tcp if p[20:22] == port.to_bytes(2, "big")]
    udp = [_ip_udp(i) for i in range(40)]
    assert _run_relay(udp, spread_ms=20) != udp  # reordered: each datagram drew its own delay
    assert flow_key(_ip_udp(0)) is None


def test_tcp_reference_measures_both_directions_over_loopback():
    with make_server("127.0.0.1", 0) as server:
        threading.Thread(target=server.serve_forever, daemon=True).start()
        port = server.server_address[1]
        for direction in ("download", "upload"):
            result = run_transfer("127.0.0.1", port, direction, streams=2, duration_s=1.0, omit_s=0.3)
            assert result.errors == []
            assert result.mbps > 10
            assert len(result.interval_mbps) == 10
        with BulkLoad("127.0.0.1", port, "upload", streams=2, duration_s=30, omit_s=0.2) as load:
            time.sleep(0.8)
            stopped = load.stop()
        assert stopped is not None and stopped.duration_s < 2 and stopped.mbps > 10
        server.shutdown()


def test_tcp_reference_reports_an_unreachable_server_in_words():
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    result = run_transfer("127.0.0.1", port, streams=1, duration_s=0.5, omit_s=0)
    assert result.mbps == 0 and "could not connect" in result.errors[0]


def test_udp_rtt_series_over_loopback():
    stop = threading.Event()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        echo = threading.Thread(target=udp_echo, args=(sock, stop))
        echo.start()
        rtts = udp_rtt_series("127.0.0.1", sock.getsockname()[1], count=20, interval_s=0.005, timeout_s=0.5)
        stop.set()
        echo.join()
    assert all(r is not None and 0 < r < 500 for r in rtts)


def test_udp_rtt_series_counts_probes_to_a_closed_port_as_lost():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    assert udp_rtt_series("127.0.0.1", port, count=5, interval_s=0.01, timeout_s=0.2) == [None] * 5


# ---------------------------------------------------------------------------------------------
# The lab itself (root)


class _SharedLab:
    """One lab (with a UDP echo and a reference TCP server) for the module's lab tests, so the
    machine-wide lock is taken once; tests that build their own lab close it first."""

    def __init__(self):
        self.lab = None

    def get(self):
        if self.lab is None:
            require_lab(loss=True, delay=True)
            self.lab = NetLab()
            self.lab.start()
            self.lab.spawn([sys.executable, "-m", "tests.lab.netlab", "echo", "--port", str(ECHO_PORT)])
            self.lab.spawn([sys.executable, "-m", "tests.lab.tcp_reference", "serve", "--port",
                            str(TCP_PORT)])
            self.lab.wait_port(ECHO_PORT, "udp")
            self.lab.wait_port(TCP_PORT)
        return self.lab

    def close(self):
        if self.lab is not None:
            self.lab.close()
            self.lab = None


@pytest.fixture(scope="module")
def shared_lab():
    holder = _SharedLab()
    yield holder
    holder.close()


@pytest.fixture
def lab(shared_lab):
    return shared_lab.get()


@pytest.fixture
def own_lab(shared_lab):
    """For tests that build labs themselves: the shared one must not hold the lock meanwhile."""
    shared_lab.close()
    require_lab(loss=True, delay=True)


def _rtts(lab, count, interval_s=0.02):
    return udp_rtt_series(lab.server_ip, ECHO_PORT, count, interval_s)


def _median(rtts):
    return statistics.median(r for r in rtts if r is not None)


@pytest.mark.lab
@pytest.mark.parametrize("rate", [5, 20])
def test_rate_reaches_the_goodput_ceiling_both_ways(lab, rate):
    spec = LinkSpec(down_mbit=rate, up_mbit=rate)
    lab.set_link(spec)
    for direction in ("download", "upload"):
        ceiling = spec.goodput_ceiling_mbps(direction)
        # Other tests running on this 2-core machine can starve the receiver and only ever
        # lower the rate: one more try then tells the lab's fault from theirs.
        for _attempt in range(2):
            result = run_transfer(lab.server_ip, TCP_PORT, direction, streams=4, duration_s=3.0, omit_s=1.0)
            assert result.errors == []
            if result.mbps >= 0.95 * ceiling:
                break
        assert 0.95 * ceiling <= result.mbps <= 1.03 * ceiling, (direction, result.mbps, ceiling)


@pytest.mark.lab
def test_added_rtt_and_jitter_are_as_configured(lab):
    lab.set_link(LinkSpec(rtt_ms=30))
    assert 30 <= _median(_rtts(lab, 50)) <= 32
    spec = LinkSpec(rtt_ms=40, jitter_ms=20, seed=3)
    lab.set_link(spec)
    rtts = udp_rtt_one_at_a_time(lab.server_ip, ECHO_PORT, 250, gap_s=0.002)
    # Median sampling error for 250 probes: 1.3 ms; jitter's about 1 ms.
    assert _median(rtts) == pytest.approx(spec.expected_rtt_ms(), abs=4.5)
    assert _jitter(rtts) == pytest.approx(spec.expected_jitter_ms(), abs=4)
    stats = lab.relay_stats()
    assert stats["packets"] >= 500 and stats["write_errors"] == 0
    lab.set_link(LinkSpec(rtt_ms=40, jitter_ms=20, seed=3, delay_model="independent"))
    rtts = _rtts(lab, 250)
    assert _median(rtts) == pytest.approx(LinkSpec(rtt_ms=40, jitter_ms=20, delay_model="independent")
                                          .expected_rtt_ms(), abs=4.5)


@pytest.mark.lab
def test_fifo_link_keeps_order_and_close_probes_queue_behind_each_other(lab):
    spec = LinkSpec(rtt_ms=80, jitter_ms=40, seed=4)
    lab.set_link(spec)
    arrivals = []
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.connect((lab.server_ip, ECHO_PORT))
        for seq in range(100):
            sock.send(seq.to_bytes(4, "big") + bytes(60))
            time.sleep(0.005)
        sock.settimeout(1.0)
        with contextlib.suppress(TimeoutError):
            while len(arrivals) < 100:
                arrivals.append(int.from_bytes(sock.recv(2048)[:4], "big"))
    assert len(arrivals) >= 95 and arrivals == sorted(arrivals)  # never reordered
    # Probes 5 ms apart wait behind each other's delay spikes: far above one-at-a-time's median.
    close = _median(_rtts(lab, 100, interval_s=0.005))
    alone = _median(udp_rtt_one_at_a_time(lab.server_ip, ECHO_PORT, 60))
    assert close > alone + 30, (close, alone)
    assert alone == pytest.approx(spec.expected_rtt_ms(), abs=3 * spec.rtt_median_sampling_error_ms(60) + 1)


def _jitter(rtts):
    answered = [r for r in rtts if r is not None]
    return statistics.fmean(abs(b - a) for a, b in zip(answered, answered[1:], strict=False))


@pytest.mark.lab
def test_loss_is_as_configured_for_request_response_pairs(lab):
    lab.set_link(LinkSpec(loss_pct=10))
    rtts = _rtts(lab, 600, interval_s=0.003)
    lost_pct = 100 * sum(r is None for r in rtts) / len(rtts)
    assert 6 <= lost_pct <= 14  # binomial sd 1.2 points: over 3 sd either way
    dropped = lab.dropped_packets()  # p = 5.1 % of 600 requests and of ~540 answers each way
    assert 12 <= dropped["upload"] <= 55 and 12 <= dropped["download"] <= 55, dropped


@pytest.mark.lab
@pytest.mark.parametrize("direction", ["download", "upload"])
def test_queue_fills_under_a_bulk_transfer(lab, direction):
    lab.set_link(LinkSpec(down_mbit=5, up_mbit=5, rtt_ms=20, queue_ms=100))
    idle = _median(_rtts(lab, 25))
    with BulkLoad(lab.server_ip, TCP_PORT, direction, streams=4):
        time.sleep(1.5)
        loaded = _median(_rtts(lab, 75))
    assert 60 <= loaded - idle <= 130, (idle, loaded)


@pytest.mark.lab
def test_set_link_changes_delay_and_rate_live(lab):
    lab.set_link(LinkSpec(rtt_ms=60))
    assert 60 <= _median(_rtts(lab, 20)) <= 62
    lab.set_link(LinkSpec(down_mbit=20))
    assert _median(_rtts(lab, 20)) < 2
    with BulkLoad(lab.server_ip, TCP_PORT, "download", streams=4, omit_s=0.5) as load:
        time.sleep(1.5)
        lab.set_link(LinkSpec(down_mbit=5))
        time.sleep(1.5)
        result = load.stop()
    fast, slow = result.interval_mbps[5:14], result.interval_mbps[-8:]
    # medians of 0.1 s bins: one bin can still carry the end of the fast rate, or a busy
    # machine can bunch two bins' data into one; the rate itself moved from ~19 to ~4.8
    assert statistics.median(fast) > 15 and statistics.median(slow) < 6.5, (fast, slow)


@pytest.mark.lab
def test_wait_port_says_plainly_when_nothing_listens(lab):
    with pytest.raises(TimeoutError, match="nothing listened on tcp port 5999"):
        lab.wait_port(5999, timeout_s=0.3)
    lab.wait_port(TCP_PORT, timeout_s=0.3)


LAB_NAMES = ("ccl0", "ccl0r", "ccl1", "ccl1r", "cclt0", "10.77.", "ccl-rtr", "ccl-srv", "ccl-chk")


def _lab_traces():
    """Whatever of a lab is left on the machine: links, routes, rules, iptables lines and
    namespaces that name it, and running relays. Looked at while holding the lab lock, so that
    another engineer's lab cannot be half built meanwhile."""
    def mentions_lab(*argv):
        out = subprocess.run(argv, capture_output=True, text=True).stdout.splitlines()
        return [line for line in out if any(name in line for name in LAB_NAMES)]

    with open(netlab.LOCK_PATH, "a+") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        return {
            "links": [n for n in os.listdir("/sys/class/net") if n in LAB_NAMES],
            "routes": mentions_lab("ip", "route", "show", "table", "all"),
            "rules": mentions_lab("ip", "rule"),
            "iptables": mentions_lab("iptables-save"),
            "netns": mentions_lab("ip", "netns", "list"),
            "relays": _relay_pids(),
        }


def _relay_pids():
    pids = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                if b"tests.lab.delay_relay" in f.read():
                    pids.append(pid)
        except OSError:
            pass
    return pids


@pytest.mark.lab
def test_cleanup_leaves_nothing_behind_even_after_an_exception(own_lab):
    spec = LinkSpec(down_mbit=10, up_mbit=10, rtt_ms=10, jitter_ms=2, loss_pct=1, congctl="bbr")
    with pytest.raises(RuntimeError, match="boom"), NetLab(spec) as lab:
        sleeper = lab.spawn(["sleep", "60"])
        assert os.path.exists("/sys/class/net/ccl0") and os.path.exists("/run/netns/ccl-rtr")
        raise RuntimeError("boom")
    assert sleeper.returncode is not None
    assert netlab._active_lab is None and lab._lock_file is None  # the lock is let go
    traces = _lab_traces()
    assert not any(traces.values()), traces


@pytest.mark.lab
def test_leftovers_of_a_crashed_run_are_swept_away(own_lab):
    subprocess.run(["ip", "netns", "add", "ccl-srv"], check=True)
    subprocess.run(["ip", "link", "add", "ccl0", "type", "veth", "peer", "name", "ccl0x"], check=True)
    orphan = subprocess.Popen(["ip", "netns", "exec", "ccl-srv", "sleep", "60"])
    with NetLab(LinkSpec(rtt_ms=5)) as lab:
        assert orphan.wait(5) == -signal.SIGKILL
        assert not os.path.exists("/sys/class/net/ccl0x")
        lab.spawn([sys.executable, "-m", "tests.lab.netlab", "echo", "--port", str(ECHO_PORT)])
        lab.wait_port(ECHO_PORT, "udp")
        assert 5 <= _median(_rtts(lab, 10)) <= 7


@pytest.mark.lab
def test_sigterm_cleans_up(own_lab):
    script = textwrap.dedent("""
        import time
        from tests.lab.netlab import LinkSpec, NetLab
        with NetLab(LinkSpec(rtt_ms=5)):
            print("up", flush=True)
            time.sleep(60)
    """)
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, cwd=netlab.REPO_ROOT)
    assert proc.stdout.readline() == "up\n"
    proc.send_signal(signal.SIGTERM)
    proc.communicate(timeout=15)
    assert proc.returncode != 0
    traces = _lab_traces()
    assert not any(traces.values()), traces
