"""The home network lab: this computer behind a home router, on an impaired Wi-Fi segment, with a
second (wired) device sharing the broadband line, and the line and the platform as in
:mod:`tests.lab.netlab`.

Topology::

    ccl-pc (this computer)      ccl-gw (home router)               ccl-rtr (the line)    ccl-srv
    cclp0 10.77.3.2 <-Wi-Fi-> cclh0 10.77.3.1  cclw 10.77.1.1 <--> ccl0r 10.77.1.2  ccl1r <--> ccl1 10.77.2.2
    ccl-dev (second device)        |
    ccld0 10.77.4.2 <-cable-> cclh1 10.77.4.1

* The line (rate, delay, jitter, loss, queue) is :class:`~tests.lab.netlab.NetLab`'s, unchanged:
  its shapers sit on ``ccl0r`` / ``ccl1r``, so this computer and the second device share the same
  queues in both directions. Nobody in the root namespace: the computer's default route really is
  the home router (``/proc/net/route`` of ccl-pc names 10.77.3.1), so the product finds it itself.
* The Wi-Fi segment (:class:`WifiSpec`) is impaired apart from the line, in the home router's
  namespace: ``tbf`` on ``cclh0`` (towards the computer) and on ``cclp0`` (from it); loss by
  iptables ``statistic`` once per direction (upstream: INPUT/FORWARD ``-i cclh0``; downstream:
  FORWARD/OUTPUT ``-o cclh0``); delay and jitter by a second :mod:`tests.lab.delay_relay` on TUN
  ``cclt1``, fed by policy rules for everything from the computer (``iif cclh0``, the router's own
  address included: the ``local`` table's rule is moved behind them) and everything to it
  (``iif cclw`` and ``iif lo`` to 10.77.3.0/24: the router's own replies are delayed too). The wired
  device's packets never match, so it is unaffected. Every direction keeps packet order (the
  relay's FIFO model, right-skewed delays), as on the line.
* The router forwards (no NAT); the line's router knows the two home subnets.
* ``spawn(argv, ns="pc" | "device" | "gateway" | "server" | "router")``.
"""

from __future__ import annotations

import json
import random
import select
import subprocess
import sys
from dataclasses import dataclass

from tests.lab.netlab import (
    NAMESPACES,
    RTR_CLIENT_IF,
    RTR_CLIENT_IP,
    RTR_SERVER_IF,
    RTR_SERVER_IP,
    SERVER_IF,
    SERVER_IP,
    LabError,
    LinkSpec,
    NetLab,
    _ip_batch,
    _run,
    _sysctl,
    relay_message,
    tbf_params,
)

GW, PC, DEV = NAMESPACES["gateway"], NAMESPACES["pc"], NAMESPACES["device"]
GW_WAN_IF, GW_WAN_IP = "cclw", "10.77.1.1"
GW_WIFI_IF, GW_WIFI_IP, PC_IF, PC_IP = "cclh0", "10.77.3.1", "cclp0", "10.77.3.2"
GW_LAN_IF, GW_LAN_IP, DEV_IF, DEV_IP = "cclh1", "10.77.4.1", "ccld0", "10.77.4.2"
WIFI_NET, LAN_NET = "10.77.3.0/24", "10.77.4.0/24"
WIFI_TUN, WIFI_TABLE = "cclt1", 178


@dataclass
class WifiSpec:
    """The Wi-Fi segment between this computer and the router (rates in Mbit/s, None = unshaped)."""

    rtt_ms: float = 0.0
    jitter_ms: float = 0.0
    loss_pct: float = 0.0
    down_mbit: float | None = None
    up_mbit: float | None = None
    queue_ms: float = 50.0
    seed: int | None = None
    delay_model: str = "fifo"

    def __post_init__(self) -> None:
        self._link()

    def _link(self) -> LinkSpec:
        return LinkSpec(self.down_mbit, self.up_mbit, self.rtt_ms, self.jitter_ms, self.loss_pct,
                        self.queue_ms, delay_model=self.delay_model)

    @property
    def delayed(self) -> bool:
        return self.rtt_ms > 0 or self.jitter_ms > 0

    def per_direction_loss(self) -> float:
        return self._link().per_direction_loss()

    def expected_rtt_ms(self) -> float:
        """Median round trip the segment adds, as one-at-a-time probes see it (LinkSpec's)."""
        return self._link().expected_rtt_ms()


class _Relay:
    """A delay relay on a TUN of its own, driven by JSON lines (see tests.lab.delay_relay)."""

    def __init__(self, lab: NetLab, ns_key: str, dev: str) -> None:
        self.proc = lab.spawn([sys.executable, "-m", "tests.lab.delay_relay", "--dev", dev], ns=ns_key,
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self.read(10.0)

    def call(self, msg: dict) -> dict:
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps(msg) + "\n")
        self.proc.stdin.flush()
        return self.read(5.0)

    def read(self, timeout_s: float) -> dict:
        assert self.proc.stdout is not None
        ready, _, _ = select.select([self.proc.stdout], [], [], timeout_s)
        line = self.proc.stdout.readline() if ready else ""
        if not line:
            raise LabError(f"the Wi-Fi delay relay did not answer within {timeout_s:.0f} s")
        return json.loads(line)


def _wifi_iptables(p_drop: float) -> str:
    rules = ["*filter", ":INPUT ACCEPT [0:0]", ":FORWARD ACCEPT [0:0]", ":OUTPUT ACCEPT [0:0]"]
    if p_drop > 0:
        match = f"-m statistic --mode random --probability {p_drop:.6f} -j DROP"
        rules += [f"-A INPUT -i {GW_WIFI_IF} {match}", f"-A FORWARD -i {GW_WIFI_IF} {match}",
                  f"-A FORWARD -o {GW_WIFI_IF} {match}", f"-A OUTPUT -o {GW_WIFI_IF} {match}"]
    return "\n".join([*rules, "COMMIT", ""])


class HomeLab(NetLab):
    """``with HomeLab(LinkSpec(down_mbit=20), WifiSpec(rtt_ms=10)) as lab:``; see the module doc."""

    client_ip = PC_IP
    gateway_ip = GW_WIFI_IP
    device_ip = DEV_IP

    def __init__(self, spec: LinkSpec | None = None, wifi: WifiSpec | None = None, *,
                 ping_allowed: bool = False, lock_timeout_s: float = 900.0) -> None:
        super().__init__(spec, lock_timeout_s=lock_timeout_s)
        self.wifi = wifi or WifiSpec()
        self.ping_allowed = ping_allowed
        self._wifi_applied: WifiSpec | None = None
        self._wifi_relay: _Relay | None = None
        self._wifi_iptables = False
        self.wifi_seed: int | None = None

    def start(self) -> None:
        super().start()
        try:
            self.set_wifi(self.wifi)
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        self._wifi_relay = None
        self._wifi_applied = None
        self._wifi_iptables = False
        super().close()

    def _build(self) -> None:
        rtr, srv = NAMESPACES["router"], NAMESPACES["server"]
        _ip_batch([f"netns add {ns}" for ns in (rtr, srv, GW, PC, DEV)])
        quiet = {"net.ipv6.conf.default.disable_ipv6": 1, "net.ipv6.conf.all.disable_ipv6": 1}
        forward = {"net.ipv4.ip_forward": 1, "net.ipv4.conf.all.rp_filter": 0,
                   "net.ipv4.conf.default.rp_filter": 0, "net.ipv4.conf.all.send_redirects": 0,
                   "net.ipv4.conf.default.send_redirects": 0}
        _sysctl(rtr, {**quiet, **forward})
        # accept_local: packets the router sent itself come back out of the Wi-Fi relay's TUN.
        # No early demux: it would hand a packet for one of the router's own established TCP
        # sockets (its UPnP or web page) to the socket's cached route before the policy rules send it
        # through the relay, and such packets were lost (the handshake passed, the data did not).
        _sysctl(GW, {**quiet, **forward, "net.ipv4.conf.all.accept_local": 1,
                     "net.ipv4.conf.default.accept_local": 1, "net.ipv4.ip_early_demux": 0,
                     "net.ipv4.tcp_early_demux": 0, "net.ipv4.udp_early_demux": 0})
        ping = "0 2147483647" if self.ping_allowed else "1 0"
        _sysctl(PC, {**quiet, "net.ipv4.ping_group_range": ping})
        _sysctl(DEV, quiet)
        _sysctl(srv, quiet)
        _ip_batch([f"link add {GW_WAN_IF} type veth peer name {RTR_CLIENT_IF} netns {rtr}",
                   f"link add {GW_WIFI_IF} type veth peer name {PC_IF} netns {PC}",
                   f"link add {GW_LAN_IF} type veth peer name {DEV_IF} netns {DEV}",
                   f"addr add {GW_WAN_IP}/24 dev {GW_WAN_IF}",
                   f"addr add {GW_WIFI_IP}/24 dev {GW_WIFI_IF}",
                   f"addr add {GW_LAN_IP}/24 dev {GW_LAN_IF}",
                   "link set lo up",
                   *(f"link set {i} up" for i in (GW_WAN_IF, GW_WIFI_IF, GW_LAN_IF))], ns=GW)
        _ip_batch([f"link add {RTR_SERVER_IF} type veth peer name {SERVER_IF} netns {srv}",
                   f"addr add {RTR_CLIENT_IP}/24 dev {RTR_CLIENT_IF}",
                   f"addr add {RTR_SERVER_IP}/24 dev {RTR_SERVER_IF}",
                   "link set lo up", f"link set {RTR_CLIENT_IF} up", f"link set {RTR_SERVER_IF} up"], ns=rtr)
        _ip_batch([f"addr add {SERVER_IP}/24 dev {SERVER_IF}", "link set lo up", f"link set {SERVER_IF} up"],
                  ns=srv)
        _ip_batch([f"addr add {PC_IP}/24 dev {PC_IF}", "link set lo up", f"link set {PC_IF} up"], ns=PC)
        # The router answers ARP by a route lookup that the relay's rules would send into the TUN:
        # this computer knows the router's hardware address instead (a Wi-Fi station does, once
        # associated).
        mac = _run(["cat", f"/sys/class/net/{GW_WIFI_IF}/address"], ns=GW).strip()
        _ip_batch([f"neigh replace {GW_WIFI_IP} lladdr {mac} dev {PC_IF} nud permanent"], ns=PC)
        _ip_batch([f"addr add {DEV_IP}/24 dev {DEV_IF}", "link set lo up", f"link set {DEV_IF} up"], ns=DEV)
        self._set_routes(self.spec.congctl, "add")

    def _set_routes(self, congctl: str, verb: str) -> None:
        rtr, srv = NAMESPACES["router"], NAMESPACES["server"]
        _ip_batch([f"route {verb} {net} via {GW_WAN_IP} dev {RTR_CLIENT_IF}" for net in (WIFI_NET, LAN_NET)],
                  ns=rtr)
        _ip_batch([f"route {verb} default via {RTR_CLIENT_IP} dev {GW_WAN_IF}"], ns=GW)
        _ip_batch([f"route {verb} default via {GW_WIFI_IP} dev {PC_IF} congctl {congctl}"], ns=PC)
        _ip_batch([f"route {verb} default via {GW_LAN_IP} dev {DEV_IF} congctl {congctl}"], ns=DEV)
        _ip_batch([f"route {verb} default via {RTR_SERVER_IP} dev {SERVER_IF} congctl {congctl}"], ns=srv)

    # -- the Wi-Fi segment ----------------------------------------------------------------------

    def set_wifi(self, wifi: WifiSpec) -> None:
        """Change the Wi-Fi segment's rate, delay, jitter and loss on the fly."""
        old = self._wifi_applied
        self.wifi = wifi
        for ns, iface, rate in ((GW, GW_WIFI_IF, wifi.down_mbit), (PC, PC_IF, wifi.up_mbit)):
            before = None if old is None else ({GW: old.down_mbit, PC: old.up_mbit}[ns], old.queue_ms)
            if before != (rate, wifi.queue_ms):
                _run(["tc", "-n", ns, "qdisc", "del", "dev", iface, "root"], check=False)
                if rate is not None:
                    burst, limit = tbf_params(rate, wifi.queue_ms)
                    _run(["tc", "-n", ns, "qdisc", "add", "dev", iface, "root", "tbf", "rate",
                          f"{rate * 1000:.0f}kbit", "burst", str(burst), "limit", str(limit)])
        p_drop = wifi.per_direction_loss()
        if p_drop > 0 or self._wifi_iptables:
            _run(["iptables-restore"], ns=GW, stdin=_wifi_iptables(p_drop))
            self._wifi_iptables = True
        self._set_wifi_delay(wifi, was_delayed=old is not None and old.delayed)
        self._wifi_applied = wifi

    def _wifi_rules(self, verb: str) -> list[str]:
        return [f"rule {verb} pref 10 iif {GW_WIFI_IF} lookup {WIFI_TABLE}",
                f"rule {verb} pref 11 iif {GW_WAN_IF} to {WIFI_NET} lookup {WIFI_TABLE}",
                f"rule {verb} pref 12 iif lo to {WIFI_NET} lookup {WIFI_TABLE}"]

    def _set_wifi_delay(self, wifi: WifiSpec, was_delayed: bool) -> None:
        if not wifi.delayed:
            if was_delayed:
                _ip_batch(self._wifi_rules("del"), ns=GW)
            return
        if self._wifi_relay is None:
            _ip_batch([f"tuntap add dev {WIFI_TUN} mode tun", f"link set {WIFI_TUN} txqueuelen 10000"], ns=GW)
            self._wifi_relay = _Relay(self, "gateway", WIFI_TUN)  # stopped with the lab's processes
            # The local table's rule (pref 0) would deliver the computer's packets to the router
            # before the relay sees them: it goes behind the relay's rules.
            _ip_batch([f"link set {WIFI_TUN} up", f"route add default dev {WIFI_TUN} table {WIFI_TABLE}",
                       "rule add pref 100 lookup local", "rule del pref 0"], ns=GW)
        # The same relay and delay model as the line's (a Wi-Fi link keeps packet order too).
        message = relay_message(wifi.delay_model, wifi.rtt_ms, wifi.jitter_ms)
        if wifi.seed is not None or self.wifi_seed is None:
            self.wifi_seed = wifi.seed if wifi.seed is not None else random.SystemRandom().randrange(2**32)
            message["seed"] = self.wifi_seed
        self._wifi_relay.call(message)
        if not was_delayed:
            _ip_batch(self._wifi_rules("add"), ns=GW)

    # -- what the devices moved -----------------------------------------------------------------

    def interface_bytes(self, ns_key: str, iface: str) -> tuple[int, int]:
        """(received, sent) bytes of ``iface`` in namespace ``ns_key`` since it was made."""
        for line in _run(["cat", "/proc/net/dev"], ns=NAMESPACES[ns_key]).splitlines()[2:]:
            name, _, rest = line.partition(":")
            if name.strip() == iface:
                fields = rest.split()
                return int(fields[0]), int(fields[8])
        raise LabError(f"no interface {iface} in {ns_key}")

    def device_bytes(self) -> tuple[int, int]:
        """(received, sent) bytes of the second device's card."""
        return self.interface_bytes("device", DEV_IF)

    def pc_python(self, code: str, timeout_s: float = 60.0) -> str:
        """Run Python ``code`` on this computer (the pc namespace); its standard output."""
        proc = self.spawn([sys.executable, "-c", code], ns="pc", stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True)
        try:
            out, err = proc.communicate(timeout=timeout_s)
        finally:
            if proc in self._procs:
                self._procs.remove(proc)
        if proc.returncode != 0:
            raise LabError(f"python in the pc namespace failed ({proc.returncode}): {out[-2000:]}"
                           f"{err.strip()[-2000:]}")
        return out

