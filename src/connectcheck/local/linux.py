"""Linux: exact bytes per TCP connection from the kernel's socket statistics, without ``ss``.

The kernel's sock_diag netlink interface (``NETLINK_SOCK_DIAG``, what ``ss -ti`` reads) lists every
TCP socket with its ``tcp_info``, whose ``tcpi_bytes_received`` and ``tcpi_bytes_acked`` count the
payload received and delivered. A socket is tied to its program through its inode, found among
the links in ``/proc/<pid>/fd`` (only for sockets that moved data, and remembered, so a sample
stays cheap). UDP (QUIC, calls) has no such counters: it is left to the "unattributed" remainder
of the network cards' totals. ``/proc/<pid>/io`` is no help: ``send()``/``recv()`` bypass it.
"""

from __future__ import annotations

import os
import socket
import struct
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psutil

from connectcheck.core.model import WifiInfo
from connectcheck.local import wifi as wifi_readers
from connectcheck.local.base import MB, Flow, LocalBackend, ProcessInfo, TrafficMeter, is_local_address
from connectcheck.local.commands import PLAIN_LOCALE

NETLINK_SOCK_DIAG = 4
SOCK_DIAG_BY_FAMILY = 20
NLM_F_REQUEST, NLM_F_DUMP = 0x1, 0x300
NLMSG_ERROR, NLMSG_DONE = 2, 3
INET_DIAG_INFO = 2
# TCP states that can carry data and have a tcp_info: ESTABLISHED, SYN_SENT, SYN_RECV, FIN_WAIT1,
# FIN_WAIT2, CLOSE_WAIT, LAST_ACK, CLOSING (LISTEN, TIME_WAIT and CLOSE have none).
STATES = sum(1 << s for s in (1, 2, 3, 4, 5, 8, 9, 11))
ALL_STATES = 0xFFFFFFFF
# UDP ports of the system's own chatter (DNS, DHCP, NTP, NetBIOS, SSDP, mDNS, LLMNR): never a call.
SERVICE_PORTS = frozenset({53, 67, 68, 123, 137, 138, 1900, 5353, 5355})
NLMSG_HDR = struct.Struct("=IHHII")
DIAG_REQ = struct.Struct("=BBBxI48x")  # inet_diag_req_v2 with an empty inet_diag_sockid
DIAG_MSG_LEN = 72  # sizeof(struct inet_diag_msg)
RTATTR = struct.Struct("=HH")
TCPI_BYTES = struct.Struct("=QQ")  # tcpi_bytes_acked, tcpi_bytes_received
TCPI_BYTES_OFFSET = 120
RECV_BUFFER = 1 << 18
NETLINK_TIMEOUT_S = 1.0
# A socket's program is searched for once it moved this much in an interval: a keep-alive's few
# bytes are not worth reading every process's file descriptors (they stay unattributed).
MIN_OWNER_BYTES = 4096
UNOWNED_RETRY_S = 10.0  # a socket whose owner could not be found is searched again after this
PF_KTHREAD = 0x00200000
SYS_NET = Path("/sys/class/net")
MOBILE_DRIVERS = ("qmi_wwan", "cdc_mbim", "cdc_ncm", "rndis_host", "cdc_ether", "ipheth", "huawei_cdc_ncm")
ARPHRD_ETHER, ARPHRD_PPP, ARPHRD_LOOPBACK, ARPHRD_NONE = 1, 512, 772, 65534


class SockDiagError(OSError):
    """The kernel's socket statistics could not be read."""


@dataclass(frozen=True)
class TcpSocket:
    """One TCP socket's identity and payload byte counts."""

    cookie: int  # the kernel's unique id of the socket
    inode: int
    uid: int
    local: bool  # both ends on this computer
    source: str  # this end's address
    bytes_received: int
    bytes_acked: int


def _recv_all(sock: socket.socket, seq: int) -> Iterator[bytes]:
    """The payloads of one dump's netlink messages, until NLMSG_DONE."""
    while True:
        data = sock.recv(RECV_BUFFER)
        if not data:
            return
        offset = 0
        while offset + NLMSG_HDR.size <= len(data):
            length, kind, _flags, msg_seq, _pid = NLMSG_HDR.unpack_from(data, offset)
            if length < NLMSG_HDR.size:
                raise SockDiagError("the kernel sent a malformed socket list")
            if msg_seq == seq:
                if kind == NLMSG_DONE:
                    return
                if kind == NLMSG_ERROR:
                    (errno,) = struct.unpack_from("=i", data, offset + NLMSG_HDR.size)
                    if errno:
                        raise SockDiagError(-errno, os.strerror(-errno))
                elif kind == SOCK_DIAG_BY_FAMILY:
                    yield data[offset + NLMSG_HDR.size : offset + length]
            offset += (length + 3) & ~3


def _tcp_bytes(msg: bytes) -> tuple[int, int] | None:
    """(bytes_acked, bytes_received) from the message's INET_DIAG_INFO attribute, if any."""
    offset = DIAG_MSG_LEN
    while offset + RTATTR.size <= len(msg):
        length, kind = RTATTR.unpack_from(msg, offset)
        if length < RTATTR.size:
            return None
        if kind == INET_DIAG_INFO and length - RTATTR.size >= TCPI_BYTES_OFFSET + TCPI_BYTES.size:
            return TCPI_BYTES.unpack_from(msg, offset + RTATTR.size + TCPI_BYTES_OFFSET)
        offset += (length + 3) & ~3
    return None


def _address(family: int, raw: bytes) -> str:
    return socket.inet_ntop(family, raw[:4] if family == socket.AF_INET else raw)


def _dump(protocol: int, ext: int, states: int) -> Iterator[tuple[int, bytes]]:
    """(family, inet_diag_msg) for every socket of ``protocol`` in this namespace, IPv4 and IPv6."""
    with socket.socket(socket.AF_NETLINK, socket.SOCK_DGRAM, NETLINK_SOCK_DIAG) as sock:
        sock.settimeout(NETLINK_TIMEOUT_S)
        for seq, family in enumerate((socket.AF_INET, socket.AF_INET6), 1):
            request = DIAG_REQ.pack(family, protocol, ext, states)
            header = NLMSG_HDR.pack(
                NLMSG_HDR.size + len(request), SOCK_DIAG_BY_FAMILY, NLM_F_REQUEST | NLM_F_DUMP, seq, 0
            )
            sock.send(header + request)
            for msg in _recv_all(sock, seq):
                if len(msg) >= DIAG_MSG_LEN:
                    yield family, msg


def tcp_sockets(local_addresses: frozenset[str] = frozenset()) -> list[TcpSocket]:
    """Every TCP socket of this network namespace (IPv4 and IPv6) with its byte counts."""
    found = []
    for family, msg in _dump(socket.IPPROTO_TCP, 1 << (INET_DIAG_INFO - 1), STATES):
        counts = _tcp_bytes(msg)
        if counts is None:
            continue
        (cookie,) = struct.unpack_from("=Q", msg, 44)
        uid, inode = struct.unpack_from("=II", msg, 64)
        peer = _address(family, msg[24:40])
        local = is_local_address(peer) or peer in local_addresses
        found.append(TcpSocket(cookie, inode, uid, local, _address(family, msg[8:24]), counts[1], counts[0]))
    return found


@dataclass(frozen=True)
class UdpSocket:
    """One UDP socket: who holds it and where it is bound (UDP has no byte counters)."""

    inode: int
    uid: int
    source: str
    port: int
    peer: str | None  # None when not connected


def udp_sockets() -> list[UdpSocket]:
    """Every UDP socket of this network namespace (IPv4 and IPv6)."""
    found = []
    for family, msg in _dump(socket.IPPROTO_UDP, 0, ALL_STATES):
        port, peer_port = struct.unpack_from("!HH", msg, 4)
        uid, inode = struct.unpack_from("=II", msg, 64)
        peer = _address(family, msg[24:40]) if peer_port else None
        found.append(UdpSocket(inode, uid, _address(family, msg[8:24]), port, peer))
    return found


def _loopback(address: str) -> bool:
    return is_local_address(address) and address not in ("0.0.0.0", "::")


def socket_inodes(pid: int) -> list[int]:
    """The socket inodes a process holds (none when it vanished or denies access).

    The links are read relative to the opened fd folder: a quarter cheaper than by full path.
    """
    try:
        folder = os.open(f"/proc/{pid}/fd", os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return []
    found = []
    try:
        for fd in os.listdir(folder):
            try:
                target = os.readlink(fd, dir_fd=folder)
            except OSError:
                continue
            if target.startswith("socket:["):
                found.append(int(target[8:-1]))
    except OSError:
        pass
    finally:
        os.close(folder)
    return found


def _comm(pid: int) -> str | None:
    try:
        with open(f"/proc/{pid}/comm", encoding="utf-8", errors="replace") as f:
            return f.read().rstrip("\n")
    except OSError:
        return None


def pids() -> list[int]:
    """The process ids in /proc."""
    return [int(e.name) for e in os.scandir("/proc") if e.name.isdigit()]


def _uid(pid: int) -> int | None:
    try:
        return os.stat(f"/proc/{pid}").st_uid
    except OSError:
        return None


class SockDiagMeter(TrafficMeter):
    """Per-program TCP payload bytes from sock_diag, sockets tied to programs by inode."""

    def __init__(self, loopback: bool = False) -> None:
        self.loopback = loopback
        self._last: dict[int, TcpSocket] = {}  # cookie -> the socket when last seen
        self._moved: dict[int, list[int]] = {}  # cookie -> [down, up, inode] this interval
        self._owner: dict[int, tuple[int, str | None]] = {}  # inode -> (pid, name)
        self._holders: dict[int, None] = {}  # processes that held sockets before, looked at first
        self._unowned: dict[int, float] = {}  # inode -> when a search found no owner
        self._primed = False

    def step(self) -> None:
        """Add what every socket moved since the last look to this interval's counts."""
        local = frozenset(a.address.split("%")[0] for addrs in psutil.net_if_addrs().values() for a in addrs)
        seen: dict[int, TcpSocket] = {}
        wanted: dict[int, int] = {}  # inode -> uid of sockets that moved data and have no owner yet
        for s in tcp_sockets(local):
            seen[s.cookie] = s
            if not self._primed or not self._counts(s):
                continue
            before = self._last.get(s.cookie)  # a new socket counts from zero
            down = s.bytes_received - before.bytes_received if before else s.bytes_received
            up = s.bytes_acked - before.bytes_acked if before else s.bytes_acked
            if down > 0 or up > 0:
                moved = self._moved.setdefault(s.cookie, [0, 0, s.inode])
                moved[0] += max(0, down)
                moved[1] += max(0, up)
                if s.inode and s.inode not in self._owner and moved[0] + moved[1] >= MIN_OWNER_BYTES:
                    wanted[s.inode] = s.uid
        self._last = seen
        self._primed = True
        if wanted:
            self._resolve(wanted)

    def _counts(self, s: TcpSocket) -> bool:
        """Whether a socket's traffic uses the connection (see :attr:`TrafficMeter.addresses`)."""
        if s.local:
            return self.loopback
        return self.addresses is None or s.source in self.addresses

    def _resolve(self, wanted: dict[int, int]) -> None:
        """Find the processes holding these socket inodes.

        Earlier socket holders are looked at first, then the programs the sampler saw busy
        (:attr:`TrafficMeter.likely_pids`: sending takes CPU), then the newest; the search stops
        when all are found. An ordinary user can only look into its own processes, so others are
        not even tried. An inode nobody readable holds is not searched again for a while: each
        search reads every file descriptor of every process.
        """
        now = time.monotonic()
        self._unowned = {i: t for i, t in self._unowned.items() if now - t < UNOWNED_RETRY_S}
        wanted = {i: uid for i, uid in wanted.items() if i not in self._unowned}
        uids = None if os.geteuid() == 0 else set(wanted.values())
        first = list(self._holders) + [p for p in self.likely_pids if p not in self._holders]
        looked = set(first)
        others = sorted((p for p in pids() if p not in looked), reverse=True) if wanted else []
        for pid in first + others:
            if not wanted:
                return
            if uids is not None and _uid(pid) not in uids:
                continue
            hits = [i for i in socket_inodes(pid) if i in wanted]
            if not hits:
                continue
            name = _comm(pid)
            for inode in hits:
                self._owner[inode] = (pid, name)
                del wanted[inode]
            self._holders[pid] = None
        self._unowned.update(dict.fromkeys(wanted, now))

    def unmetered(self) -> dict[int, str | None]:
        """Programs holding UDP sockets that may carry traffic through the connection (calls, QUIC)."""
        wanted: dict[int, int] = {}
        for u in udp_sockets():
            if not u.inode or u.port in SERVICE_PORTS:
                continue
            if _loopback(u.source) or (u.peer is not None and is_local_address(u.peer)):
                if not self.loopback:
                    continue
            elif (
                self.addresses is not None
                and u.source not in self.addresses
                and u.source not in ("0.0.0.0", "::")
            ):
                continue
            wanted[u.inode] = u.uid
        unknown = {i: uid for i, uid in wanted.items() if i not in self._owner}
        if unknown:
            self._resolve(unknown)
        return dict(self._owner[i] for i in wanted if i in self._owner)

    def read(self, cancel: threading.Event | None = None) -> dict[int, Flow]:
        self.step()
        flows: dict[int, Flow] = {}
        for down, up, inode in self._moved.values():
            owner = self._owner.get(inode)
            if owner is None:
                continue  # nobody readable holds it: left to the unattributed remainder
            flow = flows.setdefault(owner[0], Flow(name=owner[1]))
            flow.down_bytes += down
            flow.up_bytes += up
            flow.connections += 1
        self._moved = {}
        live = {s.inode for s in self._last.values()}
        self._owner = {i: o for i, o in self._owner.items() if i in live}
        self._holders = {p: None for p in self._holders if os.path.exists(f"/proc/{p}")}
        return flows


def read_proc_stat(pid: int, raw: bytes, tick_s: float, page_mb: float) -> ProcessInfo | None:
    """A process from its ``/proc/<pid>/stat`` line (None for kernel threads)."""
    left, right = raw.find(b"("), raw.rfind(b")")
    fields = raw[right + 2 :].split()
    if left < 0 or right < 0 or len(fields) < 22 or int(fields[6]) & PF_KTHREAD:
        return None
    return ProcessInfo(
        pid,
        raw[left + 1 : right].decode(errors="replace"),
        int(fields[1]),
        (int(fields[11]) + int(fields[12])) * tick_s,
        int(fields[21]) * page_mb,
    )


def default_route_interfaces(route: str, ipv6_route: str) -> list[str]:
    """The interfaces of the default routes in ``/proc/net/route`` and ``/proc/net/ipv6_route``.

    IPv4 first, each family by metric; duplicates, loopback and unusable routes left out.
    """
    found: list[tuple[int, int, str]] = []
    for line in route.splitlines()[1:]:
        f = line.split()
        if len(f) >= 8 and f[1] == "00000000" and f[7] == "00000000" and int(f[3], 16) & 0x1:
            found.append((0, int(f[6]), f[0]))
    for line in ipv6_route.splitlines():
        f = line.split()
        flags = int(f[8], 16) if len(f) >= 10 else 0
        if len(f) >= 10 and f[0] == "0" * 32 and f[1] == "00" and flags & 0x1 and not flags & 0x200:
            found.append((1, int(f[5], 16), f[9]))
    names: list[str] = []
    for _, _, name in sorted(found):
        if name != "lo" and name not in names:
            names.append(name)
    return names


def _read(path: Path) -> str:
    try:
        return path.read_text(errors="replace")
    except OSError:
        return ""


class LinuxBackend(LocalBackend):
    """Linux: sock_diag byte counts, the process table from /proc, Wi-Fi from nmcli/iw."""

    os_name = "linux"
    method = "sock_diag"
    rate_source = "measured"
    notes = (
        "UDP traffic (video calls, QUIC) and other users' programs cannot be tied to a program: "
        "they are counted as unattributed.",
    )

    def traffic_meter(self) -> TrafficMeter:
        return SockDiagMeter(loopback=self.scope.loopback)

    def processes(self) -> dict[int, ProcessInfo]:
        """The process table read straight from /proc (psutil takes ten times longer)."""
        tick_s = 1.0 / os.sysconf("SC_CLK_TCK")
        page_mb = os.sysconf("SC_PAGE_SIZE") / MB
        table = {}
        for entry in os.scandir("/proc"):
            if not entry.name.isdigit():
                continue
            try:
                with open(f"/proc/{entry.name}/stat", "rb") as f:
                    raw = f.read()
            except OSError:  # it ended, or hides from us
                continue
            try:
                info = read_proc_stat(int(entry.name), raw, tick_s, page_mb)
            except (ValueError, IndexError):
                continue
            if info is not None:
                table[info.pid] = info
        return table

    def default_interfaces(self, cancel: threading.Event | None = None) -> list[str]:
        return default_route_interfaces(_read(Path("/proc/net/route")), _read(Path("/proc/net/ipv6_route")))

    def interface_kind(self, name: str) -> str:
        """From sysfs: wireless entries, the device type (wwan, wireguard), tun, the driver."""
        base = wifi_readers.SYS_NET / name
        if (base / "wireless").exists() or (base / "phy80211").exists():
            return "wifi"
        devtype = dict(line.partition("=")[::2] for line in _read(base / "uevent").splitlines()).get(
            "DEVTYPE"
        )
        kinds = {"wlan": "wifi", "wwan": "mobile", "wireguard": "vpn"}
        if devtype in kinds:
            return kinds[devtype]
        arphrd = _read(base / "type").strip()
        if arphrd == str(ARPHRD_LOOPBACK):
            return "loopback"
        if arphrd == str(ARPHRD_NONE) or (base / "tun_flags").exists():
            return "vpn"
        if arphrd == str(ARPHRD_ETHER) and (base / "device").exists():
            driver = os.path.basename(os.path.realpath(base / "device" / "driver"))
            return "mobile" if driver in MOBILE_DRIVERS else "ethernet"
        return super().interface_kind(name) if arphrd != str(ARPHRD_ETHER) else "other"

    def wifi(self, cancel: threading.Event | None = None) -> WifiInfo | None:
        return wifi_readers.read_linux(self.run, cancel)

    def power_saver(self, cancel: threading.Event | None = None) -> bool | None:
        """The ACPI platform profile, else power-profiles-daemon; None when neither tells."""
        profile = _read(Path("/sys/firmware/acpi/platform_profile")).strip()
        if profile:
            return profile in ("low-power", "quiet")
        result = self.run(["powerprofilesctl", "get"], timeout_s=2.0, cancel=cancel, env=PLAIN_LOCALE)
        return result.stdout.strip() == "power-saver" if result.ok else None
