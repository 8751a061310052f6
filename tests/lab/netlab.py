"""The emulated-link network lab: a shaped, delayed, lossy link between this process and a
"server" network namespace.

Topology (fixed; tests and benchmarks rely on it)::

    root ns (the test process)        router ns ccl-rtr                     server ns ccl-srv
    ccl0 10.77.1.1/24  <--veth-->  ccl0r 10.77.1.2   ccl1r 10.77.2.1  <--veth-->  ccl1 10.77.2.2/24
                                    |  tbf (download)  tbf (upload) |
                                    +-- TUN cclt0 <-> delay_relay --+   (only when delay/jitter > 0)
                                    iptables FORWARD statistic DROP, once per direction

* Rate: ``tbf`` on the router's egress towards the client (download) and the server (upload),
  queue ``queue_ms`` long at the configured rate.
* Loss: iptables ``statistic`` on packets *entering* the router from either veth, so every packet
  is tested exactly once per direction (packets coming back out of the TUN enter on cclt0).
* Delay and jitter: policy routing sends everything that enters from the veths into the TUN;
  ``tests.lab.delay_relay`` holds each packet and writes it back (see its docstring for the
  distribution).
* Routes carry ``congctl cubic`` (``LinkSpec.congctl``): this kernel's default BBR hides
  bufferbloat.

Only one lab exists at a time on the machine: :class:`NetLab` holds an exclusive ``flock`` on
``/tmp/connectcheck-netlab.lock`` for its whole life. Run ``python -m tests.lab.netlab echo
--port N`` in the server namespace for a UDP echo service; :func:`udp_rtt_series` measures round
trips against it.
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import fcntl
import json
import math
import os
import random
import re
import select
import shutil
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from tests.lab.delay_relay import GAMMA2_MEDIAN, MODELS, fifo_delay_ms, one_way_delay_ms

REPO_ROOT = Path(__file__).resolve().parents[2]
LOCK_PATH = "/tmp/connectcheck-netlab.lock"

# The home lab (tests/lab/homelab.py) adds the home router, this computer and a second device.
NAMESPACES = {"router": "ccl-rtr", "server": "ccl-srv",
              "gateway": "ccl-gw", "pc": "ccl-pc", "device": "ccl-dev"}
CLIENT_IF, RTR_CLIENT_IF, RTR_SERVER_IF, SERVER_IF, TUN_IF = "ccl0", "ccl0r", "ccl1r", "ccl1", "cclt0"
CLIENT_IP, RTR_CLIENT_IP, RTR_SERVER_IP, SERVER_IP = "10.77.1.1", "10.77.1.2", "10.77.2.1", "10.77.2.2"
SERVER_NET = "10.77.2.0/24"
RELAY_TABLE = 177
TUN_QUEUE_PACKETS = 10000

# A full Ethernet frame as tbf counts it (1500 IP + 14 header) and the TCP payload inside it
# (1500 - 20 IP - 20 TCP - 12 timestamp option).
FRAME_BYTES = 1514
TCP_PAYLOAD_BYTES = 1448
# tbf bucket: at least this many full frames, or this many ms at the rate if that is more.
BURST_MIN_FRAMES = 2
BURST_MS = 1.0


class LabError(RuntimeError):
    """The lab could not be built or changed (the message says which command failed)."""


def relay_message(delay_model: str, rtt_ms: float, jitter_ms: float) -> dict[str, float | int | str]:
    """The delay relay's control message for a link of ``rtt_ms`` and ``jitter_ms`` in ``delay_model``."""
    message: dict[str, float | int | str] = {"model": delay_model}
    if delay_model == "fifo":
        message["base_ms"], message["tail_ms"] = fifo_delay_ms(rtt_ms, jitter_ms)
    else:
        message["base_ms"], message["spread_ms"] = one_way_delay_ms(rtt_ms, jitter_ms)
    return message


@dataclass
class LinkSpec:
    """What the emulated link does. Rates in Mbit/s (None = unshaped), times in ms.

    ``seed`` reseeds the delay relay's random numbers when the spec is applied (None: keep the
    relay's stream, seeded at random when it starts; :attr:`NetLab.seed` tells with what).
    ``congctl`` is the TCP congestion control on the lab's routes (both ends), for
    connections opened after it is applied. ``delay_model`` is the relay's model (see
    :mod:`tests.lab.delay_relay`): "fifo" (every direction keeps packet order, delays
    ``base + Exp(tail)``) or the old "independent" one (uniform, UDP/ICMP reordered).
    """

    down_mbit: float | None = None
    up_mbit: float | None = None
    rtt_ms: float = 0.0
    jitter_ms: float = 0.0
    loss_pct: float = 0.0
    queue_ms: float = 100.0
    seed: int | None = None
    congctl: str = "cubic"
    delay_model: str = "fifo"

    def __post_init__(self) -> None:
        if self.delay_model not in MODELS:
            raise ValueError(f"delay_model must be one of {MODELS}, not {self.delay_model!r}")
        for name in ("down_mbit", "up_mbit"):
            rate = getattr(self, name)
            if rate is not None and not rate > 0:
                raise ValueError(f"{name} must be positive or None, not {rate}")
        if self.rtt_ms < 0 or self.jitter_ms < 0 or self.queue_ms <= 0:
            raise ValueError("rtt_ms and jitter_ms must be >= 0 and queue_ms > 0")
        if not 0 <= self.loss_pct < 100:
            raise ValueError(f"loss_pct must be in [0, 100), not {self.loss_pct}")

    def goodput_ceiling_mbps(self, direction: str) -> float | None:
        """Highest TCP goodput the tbf rate allows with full frames: rate x 1448/1514."""
        rate = {"download": self.down_mbit, "upload": self.up_mbit}[direction]
        return None if rate is None else rate * TCP_PAYLOAD_BYTES / FRAME_BYTES

    def expected_jitter_ms(self) -> float:
        """Mean |RTT_i - RTT_{i-1}| of widely spaced probes (the relay is built for it)."""
        return self.jitter_ms

    def expected_rtt_ms(self) -> float:
        """Median RTT the lab adds to an idle link, as one-at-a-time probes see it.

        FIFO model: ``2 base + 1.678 tail`` (below ``rtt_ms``: the delay is right-skewed, and
        ``rtt_ms`` is its mean). Independent model: ``max(rtt_ms, 15/7 jitter_ms)`` (mean =
        median; it equals ``rtt_ms`` unless the jitter is too wide to spread symmetrically).
        """
        if self.delay_model == "fifo":
            base, tail = fifo_delay_ms(self.rtt_ms, self.jitter_ms)
            return 2 * base + GAMMA2_MEDIAN * tail
        base, spread = one_way_delay_ms(self.rtt_ms, self.jitter_ms)
        return 2 * base + spread

    def expected_rtt_mean_ms(self) -> float:
        """Mean RTT the lab adds to an idle link (one-at-a-time probes)."""
        if self.delay_model == "fifo":
            base, tail = fifo_delay_ms(self.rtt_ms, self.jitter_ms)
            return 2 * base + 2 * tail
        return self.expected_rtt_ms()

    def rtt_median_sampling_error_ms(self, probes: int) -> float:
        """Standard error of the median of ``probes`` one-at-a-time RTTs (FIFO model; 0 when
        there is no jitter): ``1 / (2 f(median) sqrt(n))`` with Gamma(2, tail)'s density."""
        _, tail = fifo_delay_ms(self.rtt_ms, self.jitter_ms)
        if tail <= 0 or probes <= 0:
            return 0.0
        density = GAMMA2_MEDIAN / tail * math.exp(-GAMMA2_MEDIAN)
        return 1.0 / (2.0 * density * math.sqrt(probes))

    def per_direction_loss(self) -> float:
        """Drop probability per direction so that a request/response pair is lost with loss_pct."""
        return 1.0 - math.sqrt(1.0 - self.loss_pct / 100.0)

    @property
    def delayed(self) -> bool:
        """Whether packets go through the delay relay at all."""
        return self.rtt_ms > 0 or self.jitter_ms > 0


def tbf_params(rate_mbit: float, queue_ms: float) -> tuple[int, int]:
    """(burst, limit) in bytes for a tbf at ``rate_mbit`` with a ``queue_ms`` queue."""
    bytes_per_ms = rate_mbit * 1e6 / 8 / 1000
    burst = max(BURST_MIN_FRAMES * FRAME_BYTES, int(bytes_per_ms * BURST_MS))
    limit = max(2 * FRAME_BYTES, int(bytes_per_ms * queue_ms))
    return burst, limit


# ---------------------------------------------------------------------------------------------
# Running commands


def _run(argv: list[str], ns: str | None = None, stdin: str | None = None, check: bool = True) -> str:
    """Run a command (inside namespace ``ns`` if given); LabError with its output on failure."""
    full = ["ip", "netns", "exec", ns, *argv] if ns else argv
    proc = subprocess.run(full, input=stdin, capture_output=True, text=True, timeout=30)
    if check and proc.returncode != 0:
        raise LabError(f"`{' '.join(full)}` failed: {proc.stderr.strip() or proc.stdout.strip()}")
    return proc.stdout


def _ip_batch(lines: list[str], ns: str | None = None, check: bool = True) -> None:
    """Run several ``ip`` commands in one process (``-force`` carries on past errors if unchecked)."""
    argv = ["ip"] + (["-n", ns] if ns else []) + ([] if check else ["-force"]) + ["-batch", "-"]
    _run(argv, stdin="\n".join(lines) + "\n", check=check)


def _sysctl(ns: str, settings: dict[str, str | int]) -> None:
    """Set sysctls inside ``ns`` by writing /proc/sys there (no procps needed)."""
    writes = [f"echo {value} > /proc/sys/{key.replace('.', '/')}" for key, value in settings.items()]
    _run(["sh", "-ec", "; ".join(writes)], ns=ns)


def _link_exists(name: str) -> bool:
    return os.path.exists(f"/sys/class/net/{name}")


def _netns_exists(name: str) -> bool:
    return os.path.exists(f"/run/netns/{name}")


def _kill_netns_processes(ns: str) -> None:
    """SIGKILL whatever still runs inside ``ns`` (stale relays and servers of a crashed run)."""
    for pid in _run(["ip", "netns", "pids", ns], check=False).split():
        try:
            os.kill(int(pid), signal.SIGKILL)
        except ProcessLookupError:
            pass


def remove_leftovers() -> None:
    """Delete every namespace, link and process a lab may have left behind."""
    for ns in NAMESPACES.values():
        if _netns_exists(ns):
            _kill_netns_processes(ns)
    if _link_exists(CLIENT_IF):
        _run(["ip", "link", "del", CLIENT_IF], check=False)
    for ns in NAMESPACES.values():
        if _netns_exists(ns):
            _run(["ip", "netns", "del", ns], check=False)


# ---------------------------------------------------------------------------------------------
# Availability


_availability: dict[tuple[bool, bool], tuple[bool, str]] = {}


def lab_available(loss: bool = False, delay: bool = False) -> tuple[bool, str]:
    """Whether this machine can build the lab: (True, "") or (False, the reason in plain words).

    Tried for real once per process in a throwaway namespace (tbf, and iptables ``statistic``
    and TUN when asked for).
    """
    key = (loss, delay)
    if key not in _availability:
        _availability[key] = _check_available(loss, delay)
    return _availability[key]


def require_lab(loss: bool = False, delay: bool = False) -> None:
    """Skip the calling pytest test, with the reason, when the lab cannot be built here."""
    ok, reason = lab_available(loss, delay)
    if not ok:
        import pytest

        pytest.skip(reason)


def _check_available(loss: bool, delay: bool) -> tuple[bool, str]:
    if not sys.platform.startswith("linux"):
        return False, "the network lab needs Linux network namespaces"
    if os.geteuid() != 0:
        return False, "the network lab needs root (network namespaces, tc, iptables)"
    tools = ["ip", "tc"] + (["iptables-restore", "iptables-save"] if loss else [])
    missing = [tool for tool in tools if shutil.which(tool) is None]
    if missing:
        return False, f"the network lab needs {', '.join(missing)}, which is not installed"
    if delay and not os.path.exists("/dev/net/tun"):
        return False, "the network lab needs /dev/net/tun for delay and jitter"
    return _try_features(loss, delay)


def _try_features(loss: bool, delay: bool) -> tuple[bool, str]:
    ns = f"ccl-chk{os.getpid()}"
    try:
        _run(["ip", "netns", "add", ns])
        _ip_batch(["link add cclchk0 type veth peer name cclchk1"], ns=ns)
        _run(["tc", "-n", ns, "qdisc", "add", "dev", "cclchk0", "root", "tbf", "rate", "1mbit",
              "burst", "3028", "limit", "12500"])
        if loss:
            _run(["iptables-restore"], ns=ns, stdin=_iptables_rules(0.5))
        if delay:
            _ip_batch(["tuntap add dev cclchkt mode tun"], ns=ns)
        return True, ""
    except (LabError, OSError, subprocess.TimeoutExpired) as exc:
        return False, f"the network lab cannot be built here: {exc}"
    finally:
        _run(["ip", "netns", "del", ns], check=False)


def _iptables_rules(p_drop: float) -> str:
    """The router's filter table: drop with probability ``p_drop`` once per direction."""
    rules = ["*filter", ":INPUT ACCEPT [0:0]", ":FORWARD ACCEPT [0:0]", ":OUTPUT ACCEPT [0:0]"]
    if p_drop > 0:
        for iface in (RTR_CLIENT_IF, RTR_SERVER_IF):
            rules.append(f"-A FORWARD -i {iface} -m statistic --mode random "
                         f"--probability {p_drop:.6f} -j DROP")
    return "\n".join([*rules, "COMMIT", ""])


# ---------------------------------------------------------------------------------------------
# The lab


_active_lab: NetLab | None = None


class NetLab:
    """The lab as a context manager: ``with NetLab(LinkSpec(down_mbit=20)) as lab: ...``.

    Building it takes the machine-wide lock (waiting up to ``lock_timeout_s`` for another lab
    to finish), removes leftovers of a crashed run, builds the namespaces and applies ``spec``.
    Leaving it (also on an exception, Ctrl-C or SIGTERM) kills every process it started and
    deletes everything it created.
    """

    server_ip = SERVER_IP
    client_ip = CLIENT_IP

    def __init__(self, spec: LinkSpec | None = None, lock_timeout_s: float = 900.0) -> None:
        self.spec = spec if spec is not None else LinkSpec()
        self.lock_timeout_s = lock_timeout_s
        self.seed: int | None = None
        self._lock_file: IO[str] | None = None
        self._procs: list[subprocess.Popen] = []
        self._relay: subprocess.Popen | None = None
        self._relay_io = threading.Lock()
        self._applied: LinkSpec | None = None
        self._iptables_used = False
        self._old_sigterm: Any = None

    # -- life cycle -------------------------------------------------------------------------

    def __enter__(self) -> NetLab:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def start(self) -> None:
        """Take the lock, build the lab and apply the spec (what ``with`` does)."""
        global _active_lab
        if _active_lab is not None:
            raise LabError("a network lab is already running in this process")
        ok, reason = lab_available(loss=self.spec.loss_pct > 0, delay=self.spec.delayed)
        if not ok:
            raise LabError(reason)
        self._take_lock()
        _active_lab = self
        atexit.register(self.close)
        self._catch_sigterm()
        try:
            remove_leftovers()
            self._build()
            self.set_link(self.spec)
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        """Stop every process, delete the namespaces and links, release the lock. Idempotent."""
        global _active_lab
        if _active_lab is not self:
            return
        try:
            for proc in [*self._procs, *([self._relay] if self._relay else [])]:
                _stop_process(proc)
            self._procs.clear()
            self._relay = None
            self._applied = None
            self._iptables_used = False
            remove_leftovers()
        finally:
            _active_lab = None
            atexit.unregister(self.close)
            self._restore_sigterm()
            self._release_lock()

    def _take_lock(self) -> None:
        lock_file = open(LOCK_PATH, "a+")  # held for the lab's whole life
        deadline = time.monotonic() + self.lock_timeout_s
        while True:
            try:
                fcntl.flock(lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    lock_file.close()
                    raise LabError(
                        f"another network lab has held {LOCK_PATH} for over {self.lock_timeout_s:.0f} s"
                    ) from None
                time.sleep(0.2)
        lock_file.truncate(0)
        lock_file.write(f"{os.getpid()}\n")
        lock_file.flush()
        self._lock_file = lock_file

    def _release_lock(self) -> None:
        if self._lock_file is not None:
            fcntl.flock(self._lock_file, fcntl.LOCK_UN)
            self._lock_file.close()
            self._lock_file = None

    def _catch_sigterm(self) -> None:
        """Turn SIGTERM into KeyboardInterrupt so that ``with`` blocks clean up."""
        if threading.current_thread() is not threading.main_thread():
            return
        if signal.getsignal(signal.SIGTERM) == signal.SIG_DFL:
            self._old_sigterm = signal.signal(signal.SIGTERM, _sigterm_to_interrupt)

    def _restore_sigterm(self) -> None:
        if self._old_sigterm is not None and threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGTERM, self._old_sigterm)
            self._old_sigterm = None

    def _build(self) -> None:
        rtr, srv = NAMESPACES["router"], NAMESPACES["server"]
        _ip_batch([f"netns add {rtr}", f"netns add {srv}"])
        # No IPv6 on the lab's links (no router solicitations crossing the shaper); loopback
        # keeps ::1 for servers that bind to it.
        quiet = {"net.ipv6.conf.default.disable_ipv6": 1}
        _sysctl(rtr, {
            **quiet,
            "net.ipv4.ip_forward": 1,
            "net.ipv4.conf.all.rp_filter": 0,
            "net.ipv4.conf.default.rp_filter": 0,
            "net.ipv4.conf.all.send_redirects": 0,
            "net.ipv4.conf.default.send_redirects": 0,
        })
        _sysctl(srv, quiet)
        _ip_batch([f"link add {CLIENT_IF} type veth peer name {RTR_CLIENT_IF} netns {rtr}"])
        Path(f"/proc/sys/net/ipv6/conf/{CLIENT_IF}/disable_ipv6").write_text("1")
        _ip_batch([
            f"addr add {CLIENT_IP}/24 dev {CLIENT_IF}",
            f"link set {CLIENT_IF} up",
        ])
        _ip_batch([
            f"link add {RTR_SERVER_IF} type veth peer name {SERVER_IF} netns {srv}",
            f"addr add {RTR_CLIENT_IP}/24 dev {RTR_CLIENT_IF}",
            f"addr add {RTR_SERVER_IP}/24 dev {RTR_SERVER_IF}",
            "link set lo up",
            f"link set {RTR_CLIENT_IF} up",
            f"link set {RTR_SERVER_IF} up",
        ], ns=rtr)
        _ip_batch([
            f"addr add {SERVER_IP}/24 dev {SERVER_IF}",
            "link set lo up",
            f"link set {SERVER_IF} up",
        ], ns=srv)
        self._set_routes(self.spec.congctl, "add")

    def _set_routes(self, congctl: str, verb: str) -> None:
        _ip_batch([f"route {verb} {SERVER_NET} via {RTR_CLIENT_IP} dev {CLIENT_IF} congctl {congctl}"])
        _ip_batch([f"route {verb} default via {RTR_SERVER_IP} dev {SERVER_IF} congctl {congctl}"],
                  ns=NAMESPACES["server"])

    # -- the link ---------------------------------------------------------------------------

    def set_link(self, spec: LinkSpec) -> None:
        """Change rate, delay, jitter, loss and congestion control on the fly.

        Packets already queued or held keep their fate; a new congestion control applies to
        connections opened from now on.
        """
        old = self._applied
        self.spec = spec
        for iface, attr in ((RTR_CLIENT_IF, "down_mbit"), (RTR_SERVER_IF, "up_mbit")):
            shaper = (getattr(spec, attr), spec.queue_ms)
            if old is None or shaper != (getattr(old, attr), old.queue_ms):
                self._set_rate(iface, *shaper)
        p_drop = spec.per_direction_loss()
        if p_drop > 0 or self._iptables_used:
            _run(["iptables-restore"], ns=NAMESPACES["router"], stdin=_iptables_rules(p_drop))
            self._iptables_used = True
        self._set_delay(spec, was_delayed=old is not None and old.delayed)
        if old is not None and old.congctl != spec.congctl:
            self._set_routes(spec.congctl, "replace")
        self._applied = spec

    def _set_rate(self, iface: str, rate_mbit: float | None, queue_ms: float) -> None:
        """A fresh tbf (or none): what is queued is dropped, as on a real link that retrains.

        (``tc qdisc change`` would keep a queue longer than the new limit, e.g. 0.5 MB left by
        100 Mbit/s draining at 1 Mbit/s for seconds.)
        """
        tc = ["tc", "-n", NAMESPACES["router"], "qdisc"]
        _run([*tc, "del", "dev", iface, "root"], check=False)
        if rate_mbit is not None:
            burst, limit = tbf_params(rate_mbit, queue_ms)
            _run([*tc, "add", "dev", iface, "root", "tbf", "rate", f"{rate_mbit * 1000:.0f}kbit",
                  "burst", str(burst), "limit", str(limit)])

    def _set_delay(self, spec: LinkSpec, was_delayed: bool) -> None:
        rules = [f"rule {{verb}} iif {iface} lookup {RELAY_TABLE} pref {100 + i}"
                 for i, iface in enumerate((RTR_CLIENT_IF, RTR_SERVER_IF))]
        if not spec.delayed:
            if was_delayed:
                _ip_batch([r.format(verb="del") for r in rules], ns=NAMESPACES["router"])
            return
        if self._relay is None:
            self._start_relay()
        message = relay_message(spec.delay_model, spec.rtt_ms, spec.jitter_ms)
        if spec.seed is not None or self.seed is None:
            self.seed = spec.seed if spec.seed is not None else random.SystemRandom().randrange(2**32)
            message["seed"] = self.seed
        self._relay_call(message)
        if not was_delayed:
            _ip_batch([r.format(verb="add") for r in rules], ns=NAMESPACES["router"])

    def _start_relay(self) -> None:
        rtr = NAMESPACES["router"]
        _ip_batch([f"tuntap add dev {TUN_IF} mode tun", f"link set {TUN_IF} txqueuelen {TUN_QUEUE_PACKETS}"],
                  ns=rtr)
        relay_argv = [sys.executable, "-m", "tests.lab.delay_relay", "--dev", TUN_IF]
        self._relay = self.spawn(relay_argv, ns="router", stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                 text=True)
        self._procs.remove(self._relay)
        self._relay_read(timeout_s=10.0)
        _ip_batch([f"link set {TUN_IF} up", f"route add default dev {TUN_IF} table {RELAY_TABLE}"], ns=rtr)

    def _relay_call(self, msg: dict) -> dict:
        assert self._relay is not None and self._relay.stdin is not None
        with self._relay_io:
            self._relay.stdin.write(json.dumps(msg) + "\n")
            self._relay.stdin.flush()
            return self._relay_read(timeout_s=5.0)

    def _relay_read(self, timeout_s: float) -> dict:
        assert self._relay is not None and self._relay.stdout is not None
        ready, _, _ = select.select([self._relay.stdout], [], [], timeout_s)
        line = self._relay.stdout.readline() if ready else ""
        if not line:
            raise LabError(f"the delay relay did not answer within {timeout_s:.0f} s "
                           f"(exit code {self._relay.poll()})")
        return json.loads(line)

    def relay_stats(self) -> dict | None:
        """The delay relay's counters plus its CPU seconds so far; None when no relay runs."""
        if self._relay is None:
            return None
        stats = self._relay_call({"cmd": "stats"})
        stats["cpu_s"] = process_cpu_s(self._relay.pid)
        return stats

    def dropped_packets(self) -> dict[str, int]:
        """Packets the random-loss rules dropped per direction since the last ``set_link``."""
        counts = {"download": 0, "upload": 0}
        if not self._iptables_used:
            return counts
        direction_of = {RTR_CLIENT_IF: "upload", RTR_SERVER_IF: "download"}
        for line in _run(["iptables-save", "-c", "-t", "filter"], ns=NAMESPACES["router"]).splitlines():
            match = re.match(r"\[(\d+):\d+\] -A FORWARD -i (\S+) .*-j DROP", line)
            if match and match[2] in direction_of:
                counts[direction_of[match[2]]] += int(match[1])
        return counts

    def qdisc_stats(self, direction: str) -> str:
        """``tc -s qdisc`` of the shaper for "download" or "upload" (for debugging and benchmarks)."""
        iface = {"download": RTR_CLIENT_IF, "upload": RTR_SERVER_IF}[direction]
        return _run(["tc", "-n", NAMESPACES["router"], "-s", "qdisc", "show", "dev", iface])

    # -- processes --------------------------------------------------------------------------

    def spawn(self, argv: list[str], ns: str = "server", **popen_kw: Any) -> subprocess.Popen:
        """Start ``argv`` inside the "server" (or "router"; in the home lab also "gateway", "pc",
        "device") namespace; killed when the lab closes.

        The working directory defaults to the repository root and PYTHONPATH includes it, so
        ``python -m tests.lab.xxx`` works.
        """
        if ns not in NAMESPACES:
            raise ValueError(f"ns must be one of {sorted(NAMESPACES)}, not {ns!r}")
        env = dict(popen_kw.pop("env", None) or os.environ)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")]))
        popen_kw.setdefault("cwd", str(REPO_ROOT))
        popen_kw.setdefault("start_new_session", True)
        proc = subprocess.Popen(["ip", "netns", "exec", NAMESPACES[ns], *argv], env=env, **popen_kw)
        self._procs.append(proc)
        return proc

    def wait_port(self, port: int, proto: str = "tcp", timeout_s: float = 5.0) -> None:
        """Block until a socket listens on ``port`` (TCP) or is bound to it (UDP) in the server ns.

        Read from the namespace's /proc tables, so loss or delay on the link cannot slow it.
        """
        if proto not in ("tcp", "udp"):
            raise ValueError(f"proto must be 'tcp' or 'udp', not {proto!r}")
        deadline = time.monotonic() + timeout_s
        while not self._listening(port, proto):
            if time.monotonic() > deadline:
                died = [p.args[4:] for p in self._procs if p.poll() is not None]
                hint = f"; exited meanwhile: {died}" if died else ""
                raise TimeoutError(f"nothing listened on {proto} port {port} in the server "
                                   f"namespace within {timeout_s:.1f} s{hint}")
            time.sleep(0.05)

    def _listening(self, port: int, proto: str) -> bool:
        tables = _run(["cat", f"/proc/net/{proto}", f"/proc/net/{proto}6"], ns=NAMESPACES["server"],
                      check=False)
        for line in tables.splitlines()[1:]:
            fields = line.split()
            if len(fields) > 3 and ":" in fields[1]:
                local_port = int(fields[1].rsplit(":", 1)[1], 16)
                if local_port == port and (proto == "udp" or fields[3] == "0A"):
                    return True
        return False


def _sigterm_to_interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt(f"terminated by signal {signum}")


def _stop_process(proc: subprocess.Popen) -> None:
    """SIGTERM a spawned process (its whole session when it has one), then SIGKILL after 2 s."""
    own_group = False
    try:
        own_group = os.getpgid(proc.pid) == proc.pid
    except ProcessLookupError:
        pass
    for sig, wait_s in ((signal.SIGTERM, 2.0), (signal.SIGKILL, 5.0)):
        if proc.poll() is not None:
            break
        try:
            os.killpg(proc.pid, sig) if own_group else proc.send_signal(sig)
        except ProcessLookupError:
            break
        try:
            proc.wait(wait_s)
        except subprocess.TimeoutExpired:
            continue
    for stream in (proc.stdin, proc.stdout, proc.stderr):
        if stream is not None:
            stream.close()
    proc.wait()


def process_cpu_s(pid: int) -> float:
    """User + system CPU seconds used so far by process ``pid`` (from /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# ---------------------------------------------------------------------------------------------
# UDP echo and round-trip series (the lab's own ping: there is no ping binary here)

PROBE = struct.Struct("!Id")


def udp_echo(sock: socket.socket, stop: threading.Event | None = None) -> None:
    """Echo every datagram arriving on the bound UDP ``sock`` back to its sender, until ``stop``."""
    sock.settimeout(0.2)
    while not (stop and stop.is_set()):
        try:
            data, addr = sock.recvfrom(65535)
            sock.sendto(data, addr)
        except TimeoutError:
            continue


def udp_rtt_series(host: str, port: int, count: int, interval_s: float = 0.02, timeout_s: float = 1.0,
                   payload_bytes: int = 64) -> list[float | None]:
    """Send ``count`` UDP probes ``interval_s`` apart; the RTT of each in ms, None if not
    answered within ``timeout_s``."""
    sent: list[float] = []
    rtts: list[float | None] = [None] * count
    padding = b"\0" * max(0, payload_bytes - PROBE.size)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.connect((host, port))
        start = time.monotonic()
        end = start + (count - 1) * interval_s + timeout_s
        while True:
            now = time.monotonic()
            if len(sent) < count and now >= start + len(sent) * interval_s:
                with contextlib.suppress(ConnectionRefusedError):  # an earlier probe's ICMP error
                    sock.send(PROBE.pack(len(sent), now) + padding)
                sent.append(now)
                continue
            next_send = start + len(sent) * interval_s if len(sent) < count else end
            wait = min(next_send, end) - now
            if wait <= 0 and len(sent) == count:
                return rtts
            if select.select([sock], [], [], max(0.0, wait))[0]:
                _record_reply(sock, sent, rtts, timeout_s)


def udp_rtt_one_at_a_time(host: str, port: int, count: int, gap_s: float = 0.005, timeout_s: float = 1.0,
                          payload_bytes: int = 64) -> list[float | None]:
    """The "truth" of a jittery link: ``count`` UDP probes, each sent ``gap_s`` after the answer
    to the previous one (or its timeout), so no probe ever waits behind another of ours."""
    rtts: list[float | None] = []
    padding = b"\0" * max(0, payload_bytes - PROBE.size)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.connect((host, port))
        for seq in range(count):
            sent_at = time.monotonic()
            with contextlib.suppress(ConnectionRefusedError):
                sock.send(PROBE.pack(seq, sent_at) + padding)
            rtt = None
            while rtt is None and (left := sent_at + timeout_s - time.monotonic()) > 0:
                if not select.select([sock], [], [], left)[0]:
                    break
                with contextlib.suppress(ConnectionRefusedError):
                    got, _ = PROBE.unpack_from(sock.recv(65535))
                    if got == seq:
                        rtt = (time.monotonic() - sent_at) * 1000.0
            rtts.append(rtt)
            time.sleep(gap_s)
    return rtts


def _record_reply(sock: socket.socket, sent: list[float], rtts: list[float | None], timeout_s: float) -> None:
    try:
        data = sock.recv(65535)
    except ConnectionRefusedError:
        return
    now = time.monotonic()
    seq, sent_at = PROBE.unpack_from(data)
    if seq < len(sent) and now - sent_at <= timeout_s:
        rtts[seq] = (now - sent_at) * 1000.0


def main(argv: list[str] | None = None) -> None:
    """``python -m tests.lab.netlab echo --port N``: a UDP echo service for the lab."""
    parser = argparse.ArgumentParser(description="network lab helpers")
    sub = parser.add_subparsers(dest="cmd", required=True)
    echo = sub.add_parser("echo", help="UDP echo service")
    echo.add_argument("--port", type=int, required=True)
    echo.add_argument("--host", default="0.0.0.0")
    args = parser.parse_args(argv)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind((args.host, args.port))
        udp_echo(sock)


if __name__ == "__main__":
    main()
