"""The Wi-Fi link: signal strength, link rate and band, from each system's own tools.

Linux: ``nmcli`` (NetworkManager), then ``iw`` (signal in dBm, bit rate), then
``/proc/net/wireless``; macOS: ``system_profiler SPAirPortDataType -json``; Windows:
``netsh wlan show interfaces``, which Windows 11 refuses until Location is allowed for desktop
apps (said in plain words). Parsers take the tools' text and are tested on recorded outputs;
readers run the tools through a :data:`~connectcheck.local.commands.Runner`.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from pathlib import Path

from connectcheck.core.model import Status, WifiInfo
from connectcheck.local.commands import PLAIN_LOCALE, Runner

SYS_NET = Path("/sys/class/net")
PROC_WIRELESS = Path("/proc/net/wireless")
NMCLI_FIELDS = "IN-USE,SSID,SIGNAL,RATE,FREQ,DEVICE"
SYSTEM_PROFILER_TIMEOUT_S = 10.0  # it is slow: several seconds on a busy Mac
LOCATION_REFUSED = (
    "Windows only shows the Wi-Fi signal to programs once Location is allowed: in Settings, "
    "Privacy & security, Location, turn on Location services and 'Let desktop apps access your location'."
)
REDACTED_SSID = "macOS hides the Wi-Fi network's name from programs without the Location permission."
# netsh speaks the language of Windows: labels and values seen in English, German, French,
# Spanish, Italian and Portuguese.
NETSH_LABELS = {
    "name": ("name", "nom", "nombre", "nome"),
    "state": ("state", "status", "état", "estado", "stato"),
    "ssid": ("ssid",),
    "signal": ("signal", "señal", "segnale", "sinal"),
    "receive": (
        "receive rate (mbps)",
        "empfangsrate (mbit/s)",
        "réception (mbits/s)",
        "velocidad de recepción (mbps)",
        "velocità ricezione (mbps)",
        "taxa de recepção (mbps)",
    ),
    "transmit": (
        "transmit rate (mbps)",
        "übertragungsrate (mbit/s)",
        "transmission (mbits/s)",
        "velocidad de transmisión (mbps)",
        "velocità trasmissione (mbps)",
        "taxa de transmissão (mbps)",
    ),
    "channel": ("channel", "kanal", "canal", "canale"),
    "band": ("band", "bande", "banda"),
}
NETSH_CONNECTED = {"connected", "verbunden", "connecté", "conectado", "connesso", "ligado"}
NETSH_LOCATION_MARKERS = ("ms-settings:privacy-location", "wlanqueryinterface returns error 5")


def _number(text: str) -> float | None:
    """The first number in a text ("866,7 Mbit/s" → 866.7), or None."""
    m = re.search(r"-?\d+(?:[.,]\d+)?", text)
    return float(m.group().replace(",", ".")) if m else None


def channel_to_mhz(channel: int, band_ghz: float | None = None) -> float | None:
    """The centre frequency of a Wi-Fi channel (2.4, 5 or 6 GHz band; guessed from the channel)."""
    if band_ghz is not None and band_ghz >= 5.9:
        return 5950.0 + 5 * channel
    if channel == 14:
        return 2484.0
    if 1 <= channel <= 13 and (band_ghz is None or band_ghz < 3):
        return 2407.0 + 5 * channel
    if channel >= 32:
        return 5000.0 + 5 * channel
    return None


# --- Linux -------------------------------------------------------------------------------------------


def _nmcli_fields(line: str) -> list[str]:
    r"""Split one line of ``nmcli -t`` output on unescaped colons (``\:`` is a colon in a value)."""
    fields, current, escaped = [], [], False
    for ch in line:
        if escaped:
            current.append(ch)
            escaped = False
        elif ch == "\\":
            escaped = True
        elif ch == ":":
            fields.append("".join(current))
            current = []
        else:
            current.append(ch)
    fields.append("".join(current))
    return fields


def parse_nmcli(text: str) -> WifiInfo | None:
    """``nmcli -t -f IN-USE,SSID,SIGNAL,RATE,FREQ,DEVICE device wifi list``: the network in use.

    None when nmcli listed no network at all (no Wi-Fi, or the radio is off).
    """
    rows = [_nmcli_fields(line) for line in text.splitlines() if line.strip()]
    rows = [r for r in rows if len(r) == 6]
    if not rows:
        return None
    for in_use, ssid, signal, rate, freq, device in rows:
        if in_use.strip() == "*":
            return WifiInfo(
                interface=device or None,
                ssid=ssid or None,
                signal_pct=_number(signal),
                link_rate_mbps=_number(rate),
                frequency_mhz=_number(freq),
                connected=True,
            )
    return WifiInfo(interface=rows[0][5] or None, connected=False)


def parse_iw_link(text: str, interface: str | None = None) -> WifiInfo:
    """``iw dev IFACE link``: SSID, frequency, signal in dBm and the transmit bit rate."""
    if "Not connected" in text or "Connected to" not in text:
        return WifiInfo(interface=interface, connected=False)
    info = WifiInfo(interface=interface, connected=True)
    for raw in text.splitlines():
        key, _, value = raw.strip().partition(":")
        value = value.strip()
        if key == "SSID":
            info.ssid = value or None
        elif key == "freq":
            info.frequency_mhz = _number(value)
        elif key == "signal":
            info.signal_dbm = _number(value)
        elif key == "tx bitrate":
            info.link_rate_mbps = _number(value)
    return info


def parse_proc_wireless(text: str) -> dict[str, tuple[float | None, float | None]]:
    """``/proc/net/wireless``: interface → (link quality in %, signal level in dBm).

    The quality is out of 70 as most drivers count it; a level above 0 is an unsigned byte.
    """
    out = {}
    for line in text.splitlines()[2:]:
        name, _, rest = line.partition(":")
        parts = rest.split()
        if len(parts) < 3:
            continue
        link, level = _number(parts[1]), _number(parts[2])
        quality = None if link is None else min(100.0, link * 100 / 70)
        if level is not None and level > 0:
            level = level - 256 if level > 63 else None
        out[name.strip()] = (quality, level if level is not None and level < 0 else None)
    return out


def wireless_interfaces(sys_net: Path = SYS_NET) -> list[str]:
    """The Wi-Fi cards the kernel knows (they have a ``wireless`` or ``phy80211`` entry)."""
    try:
        names = sorted(p.name for p in sys_net.iterdir())
    except OSError:
        return []
    return [n for n in names if (sys_net / n / "wireless").exists() or (sys_net / n / "phy80211").exists()]


def _merge(into: WifiInfo, other: WifiInfo) -> WifiInfo:
    """Fill what ``into`` lacks from ``other``."""
    for name in (
        "interface",
        "ssid",
        "signal_dbm",
        "signal_pct",
        "link_rate_mbps",
        "frequency_mhz",
        "connected",
    ):
        if getattr(into, name) is None:
            setattr(into, name, getattr(other, name))
    return into


def read_linux(
    run: Runner,
    cancel: threading.Event | None = None,
    sys_net: Path = SYS_NET,
    proc_wireless: Path = PROC_WIRELESS,
) -> WifiInfo | None:
    """The Wi-Fi link on Linux, or None when this computer has no Wi-Fi card."""
    cards = wireless_interfaces(sys_net)
    if not cards:
        return None
    info = WifiInfo(interface=cards[0])
    tried = []
    nm = run(
        ["nmcli", "-t", "-f", NMCLI_FIELDS, "device", "wifi", "list", "--rescan", "no"],
        timeout_s=3.0,
        cancel=cancel,
        env=PLAIN_LOCALE,
    )
    if nm.ok and (found := parse_nmcli(nm.stdout)) is not None:
        info = _merge(found, info)
    tried.append(nm)
    iw = run(
        ["iw", "dev", info.interface or cards[0], "link"], timeout_s=2.0, cancel=cancel, env=PLAIN_LOCALE
    )
    if iw.ok:
        info = _merge(info, parse_iw_link(iw.stdout, info.interface))
    tried.append(iw)
    if info.signal_dbm is None and info.signal_pct is None:
        try:
            levels = parse_proc_wireless(proc_wireless.read_text())
        except OSError:
            levels = {}
        if (level := levels.get(info.interface or "")) is not None:
            info.signal_pct, info.signal_dbm = level
            info.connected = True if info.connected is None else info.connected
    if info.connected is None and all(not r.ok for r in tried):
        info.status = Status.UNAVAILABLE
        info.error = "neither nmcli nor iw could tell the Wi-Fi signal on this computer"
    return info


# --- macOS -------------------------------------------------------------------------------------------


def _profiler_interfaces(data: object) -> Iterator[dict]:
    for item in (data or {}).get("SPAirPortDataType", []) if isinstance(data, dict) else []:
        for iface in item.get("spairport_airport_interfaces", []) if isinstance(item, dict) else []:
            if isinstance(iface, dict):
                yield iface


def parse_system_profiler(text: str) -> WifiInfo | None:
    """``system_profiler SPAirPortDataType -json``: the connected network's signal, rate, band."""
    try:
        data = json.loads(text)
    except ValueError:
        return WifiInfo(status=Status.ERROR, error="system_profiler's answer could not be read")
    interfaces = list(_profiler_interfaces(data))
    if not interfaces:
        return None
    for iface in interfaces:
        current = iface.get("spairport_current_network_information")
        if not isinstance(current, dict):
            continue
        info = WifiInfo(interface=iface.get("_name"), connected=True)
        ssid = current.get("_name")
        info.ssid = None if not ssid or ssid == "<redacted>" else str(ssid)
        if ssid == "<redacted>":
            info.error = REDACTED_SSID
        signal_noise = str(current.get("spairport_signal_noise", ""))
        info.signal_dbm = _number(signal_noise)
        rate = current.get("spairport_network_rate")
        info.link_rate_mbps = float(rate) if isinstance(rate, (int, float)) else _number(str(rate or ""))
        channel = str(current.get("spairport_network_channel", ""))
        number = _number(channel)
        band = re.search(r"(\d+(?:\.\d+)?)\s*GHz", channel)
        if number is not None:
            info.frequency_mhz = channel_to_mhz(int(number), float(band.group(1)) if band else None)
        return info
    return WifiInfo(interface=interfaces[0].get("_name"), connected=False)


def read_macos(run: Runner, cancel: threading.Event | None = None) -> WifiInfo | None:
    """The Wi-Fi link on macOS, or None when this Mac has no Wi-Fi."""
    result = run(
        ["system_profiler", "SPAirPortDataType", "-json"], timeout_s=SYSTEM_PROFILER_TIMEOUT_S, cancel=cancel
    )
    if not result.ok:
        return WifiInfo(
            status=Status.UNAVAILABLE, error=result.error or "system_profiler could not tell the Wi-Fi signal"
        )
    return parse_system_profiler(result.stdout)


# --- Windows -----------------------------------------------------------------------------------------


def _netsh_blocks(text: str) -> list[dict[str, str]]:
    """Each interface of ``netsh wlan show interfaces`` as label → value (labels in English)."""
    lookup = {label: key for key, labels in NETSH_LABELS.items() for label in labels}
    blocks: list[dict[str, str]] = []
    for raw in text.splitlines():
        label, sep, value = raw.partition(" :")
        if not sep:
            label, sep, value = raw.partition(":")
        key = lookup.get(label.strip().casefold())
        if not sep or key is None:
            continue
        if key == "name" or not blocks:
            blocks.append({})
        blocks[-1].setdefault(key, value.strip())
    return blocks


def parse_netsh(text: str) -> WifiInfo | None:
    """``netsh wlan show interfaces`` in any of several languages; None when there is no Wi-Fi."""
    if any(marker in text.casefold() for marker in NETSH_LOCATION_MARKERS):
        return WifiInfo(status=Status.UNAVAILABLE, error=LOCATION_REFUSED)
    blocks = [b for b in _netsh_blocks(text) if "state" in b]
    if not blocks:
        return None
    block = next((b for b in blocks if b["state"].casefold() in NETSH_CONNECTED), blocks[0])
    info = WifiInfo(interface=block.get("name"), connected=block["state"].casefold() in NETSH_CONNECTED)
    if not info.connected:
        return info
    info.ssid = block.get("ssid") or None
    info.signal_pct = _number(block.get("signal", ""))
    receive, transmit = _number(block.get("receive", "")), _number(block.get("transmit", ""))
    info.link_rate_mbps = transmit if transmit is not None else receive
    channel, band = _number(block.get("channel", "")), _number(block.get("band", ""))
    if channel is not None:
        info.frequency_mhz = channel_to_mhz(int(channel), band)
    return info


def read_windows(run: Runner, cancel: threading.Event | None = None) -> WifiInfo | None:
    """The Wi-Fi link on Windows, or None when this PC has no Wi-Fi (or its service is off)."""
    result = run(["netsh", "wlan", "show", "interfaces"], timeout_s=3.0, cancel=cancel)
    if result.error:
        return WifiInfo(status=Status.UNAVAILABLE, error=result.error)
    # netsh says why it refuses on stdout, with a non-zero exit code: read it either way.
    return parse_netsh(result.stdout + "\n" + result.stderr)
