"""The Wi-Fi link: signal strength, link rate and band, from each system's own tools.

Linux: ``nmcli`` (NetworkManager), then ``iw`` (signal in dBm, bit rate), then
``/proc/net/wireless``; macOS: ``system_profiler SPAirPortDataType -json``; Windows:
``netsh wlan show interfaces``, which Windows 11 refuses until Location is allowed for desktop
apps (said in plain words), and which speaks the display language of Windows: its labels per
language are in ``resources/netsh_labels.toml``, and an answer in words no language there has is
"not understood", never read as "no Wi-Fi" or guessed. Parsers take the tools' text and are tested
on real captured outputs (tests/local/corpus); readers run the tools through a
:data:`~connectcheck.local.commands.Runner`.

The networks around (:class:`~connectcheck.core.model.WifiNeighbours`) come from each system's
cached scan, never a new one: ``nmcli device wifi list --rescan no``, the "other local wireless
networks" of ``system_profiler`` (the same answer as the link), ``netsh wlan show networks
mode=bssid`` (refused without the Location permission, like the link). Only each radio's channel,
band and signal are kept, never a network's name or hardware address.
"""

from __future__ import annotations

import functools
import json
import logging
import re
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from connectcheck.core.files import read_bundled_toml
from connectcheck.core.model import HeardNetwork, Status, WifiInfo, WifiNeighbours
from connectcheck.local.commands import PLAIN_LOCALE, Runner

log = logging.getLogger(__name__)

SYS_NET = Path("/sys/class/net")
PROC_WIRELESS = Path("/proc/net/wireless")
NMCLI_FIELDS = "IN-USE,SSID,SIGNAL,RATE,FREQ,DEVICE"
SYSTEM_PROFILER_TIMEOUT_S = 10.0  # it is slow: several seconds on a busy Mac
LOCATION_REFUSED = (
    "Windows only shows the Wi-Fi signal to programs once Location is allowed: in Settings, "
    "Privacy & security, Location, turn on Location services and 'Let desktop apps access your location'."
)
REDACTED_SSID = "macOS hides the Wi-Fi network's name from programs without the Location permission."
WIFI_OFF = "Wi-Fi is turned off."
# netsh speaks the display language of Windows: its labels and state words, per language, are data
# (resources/netsh_labels.toml).
NETSH_LABELS_FILE = "netsh_labels.toml"
NETSH_KEYS = ("name", "state", "ssid", "signal", "rssi", "receive", "transmit", "channel", "band")
NETSH_NOT_UNDERSTOOD = (
    "Windows described the Wi-Fi link in words connectcheck does not read yet (probably a display "
    "language it does not know), so the Wi-Fi signal is not known."
)
NETSH_LOCATION_MARKERS = ("ms-settings:privacy-location", "wlanqueryinterface returns error 5")


def _number(text: str) -> float | None:
    """The first number in a text ("866,7 Mbit/s" → 866.7), or None."""
    m = re.search(r"-?\d+(?:[.,]\d+)?", text)
    return float(m.group().replace(",", ".")) if m else None


# The 5 GHz channel numbers (20 MHz primaries). 6 GHz numbers are 1, 5, 9, … 233: a channel read
# without its band is only placed on 5 GHz when it is one of these, never guessed for a 6 GHz one.
FIVE_GHZ_CHANNELS = frozenset(range(32, 69, 4)) | frozenset(range(96, 145, 4)) | frozenset(range(149, 178, 4))


def channel_to_mhz(channel: int, band_ghz: float | None = None) -> float | None:
    """The centre frequency of a Wi-Fi channel (2.4, 5 or 6 GHz band; the band guessed from the
    channel when not given); None when the channel is not one of the band's, or the guess is not sure."""
    if band_ghz is not None and band_ghz >= 5.9:
        return 5950.0 + 5 * channel if 1 <= channel <= 233 else None
    if band_ghz is None or band_ghz < 3:
        if channel == 14:
            return 2484.0
        if 1 <= channel <= 13:
            return 2407.0 + 5 * channel
        if band_ghz is not None:
            return None
    if channel in FIVE_GHZ_CHANNELS:
        return 5000.0 + 5 * channel
    return None


def band_of(channel: int, band_ghz: float | None = None, frequency_mhz: float | None = None) -> float | None:
    """The band (2.4, 5 or 6 GHz) of a channel, from its frequency when known, else from the channel
    number (1–14 read as 2.4 GHz: the 6 GHz channels 1, 5, 9 and 13 cannot be told apart without a
    band or a frequency)."""
    mhz = frequency_mhz if frequency_mhz else channel_to_mhz(channel, band_ghz)
    if mhz is None:
        return None
    return 2.4 if mhz < 3000 else 5.0 if mhz < 5925 else 6.0


def _heard(channel_text: str, band_text: str = "", signal_text: str = "", freq_text: str = "",
           in_use: bool = False) -> HeardNetwork:
    channel = _number(channel_text)
    band, freq = _number(band_text), _number(freq_text)
    number = int(channel) if channel is not None and channel > 0 else None
    return HeardNetwork(channel=number, band_ghz=band_of(number, band, freq) if number else None,
                        signal_pct=_number(signal_text), in_use=in_use)


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


# The fields connectcheck asks nmcli for when it reads the networks around: nmcli's own default terse
# fields (the captured output in tests/local/corpus) and FREQ, whose terse form ("5260 MHz") another
# captured output shows; SSID and BSSID read only to be skipped. FREQ places the band for sure: CHAN
# alone puts the 6 GHz channels 1, 5, 9 and 13 on 2.4 GHz (see band_of).
NMCLI_SCAN_FIELDS = ("IN-USE", "BSSID", "SSID", "MODE", "CHAN", "FREQ", "RATE", "SIGNAL", "BARS", "SECURITY")


def parse_nmcli_scan(text: str, fields: tuple[str, ...] = NMCLI_SCAN_FIELDS) -> WifiNeighbours:
    """``nmcli -t -f FIELDS device wifi list --rescan no``: every radio's channel, band and signal,
    the one in use marked (needs at least CHAN; FREQ, when asked for, places the band for sure)."""
    where = {name: i for i, name in enumerate(fields)}
    out = WifiNeighbours(source="nmcli")
    for line in text.splitlines():
        row = _nmcli_fields(line)
        if not line.strip() or len(row) != len(fields):
            continue

        def get(name: str, row: list[str] = row) -> str:
            return row[where[name]] if name in where else ""

        out.heard.append(_heard(get("CHAN"), signal_text=get("SIGNAL"), freq_text=get("FREQ"),
                                in_use=get("IN-USE").strip() == "*"))
    return out


def read_linux_neighbours(run: Runner, cancel: threading.Event | None = None) -> WifiNeighbours:
    """The networks around from NetworkManager's last scan (no new scan is asked for)."""
    nm = run(["nmcli", "-t", "-f", ",".join(NMCLI_SCAN_FIELDS), "device", "wifi", "list", "--rescan", "no"],
             timeout_s=3.0, cancel=cancel, env=PLAIN_LOCALE)
    if not nm.ok:
        return WifiNeighbours(status=Status.UNAVAILABLE, source="nmcli",
                              error=nm.error or "nmcli could not list the Wi-Fi networks around")
    return parse_nmcli_scan(nm.stdout)


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
    elif nm.ok:
        info.neighbours = read_linux_neighbours(run, cancel)
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
        info.neighbours = profiler_neighbours(iface)
        return info
    first = interfaces[0]
    off = first.get("spairport_status_information") == "spairport_status_off"
    return WifiInfo(interface=first.get("_name"), connected=False, error=WIFI_OFF if off else None)


def _profiler_channel(value: object) -> HeardNetwork:
    """A channel as system_profiler gives it: 6, "149,+1", "6 (2GHz, 20MHz)", "44 (5GHz, 80MHz)"."""
    text = str(value)
    band = re.search(r"(\d+(?:\.\d+)?)\s*GHz", text)
    first = re.match(r"\s*(\d+)", text)
    if first is None:
        return HeardNetwork()
    given = float(band.group(1)) if band else None
    ghz = 2.4 if given is not None and given < 3 else given  # "2GHz" is the 2.4 GHz band
    return _heard(first.group(1), "" if ghz is None else str(ghz))


def profiler_neighbours(iface: dict) -> WifiNeighbours:
    """The "other local wireless networks" of one interface (macOS leaves out the one it is on)."""
    others = iface.get("spairport_airport_other_local_wireless_networks")
    if not isinstance(others, list):
        return WifiNeighbours(status=Status.UNAVAILABLE, source="system_profiler",
                              error="macOS listed no other Wi-Fi networks around (it may need the Location "
                                    "permission for connectcheck to show them)")
    out = WifiNeighbours(source="system_profiler")
    for other in others:
        if isinstance(other, dict):  # (its signal is in dBm: no percentage is made up from it)
            out.heard.append(_profiler_channel(other.get("spairport_network_channel", "")))
    return out


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


def _label_key(label: str) -> str:
    """A label as compared: without case and without any spaces ("传输速率 (Mbps)" = "传输速率(Mbps)")."""
    return re.sub(r"\s+", "", label).casefold()


@dataclass(frozen=True)
class NetshLabels:
    """What netsh's labels and state words mean, in every language known."""

    keys: Mapping[str, str]  # label (as compared) → one of NETSH_KEYS
    connected: frozenset[str]  # state words (as compared) meaning "connected"
    not_connected: frozenset[str]  # state words meaning "Wi-Fi on, not connected"
    languages: tuple[str, ...]


def parse_netsh_labels(data: Mapping[str, object]) -> NetshLabels:
    """The label tables of ``netsh_labels.toml``; a label meaning two things in two languages is an error."""
    languages = data.get("languages")
    if not isinstance(languages, Mapping) or not languages:
        raise ValueError("netsh labels: no [languages] table")
    keys: dict[str, str] = {}
    connected: set[str] = set()
    not_connected: set[str] = set()
    for language, table in languages.items():
        if not isinstance(table, Mapping):
            raise ValueError(f"netsh labels: [languages.{language}] is not a table")
        for key in NETSH_KEYS:
            for label in table.get(key, []):
                seen = keys.setdefault(_label_key(label), key)
                if seen != key:
                    raise ValueError(f"netsh labels: {label!r} ({language}) means both {seen} and {key}")
        connected.update(_label_key(w) for w in table.get("connected", []))
        not_connected.update(_label_key(w) for w in table.get("not_connected", []))
    if both := connected & not_connected:
        raise ValueError(f"netsh labels: {sorted(both)} are both connected and not connected")
    return NetshLabels(keys, frozenset(connected), frozenset(not_connected), tuple(languages))


@functools.cache
def netsh_labels() -> NetshLabels:
    """The labels bundled with connectcheck (``resources/netsh_labels.toml``)."""
    data, _ = read_bundled_toml(NETSH_LABELS_FILE, "netsh labels", ValueError)
    return parse_netsh_labels(data)


_GUID = re.compile(r"^[0-9a-fA-F]{8}(-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12}$")
_MAC = re.compile(r"^[0-9a-fA-F]{2}([:-][0-9a-fA-F]{2}){5}$")
_logged_not_understood: set[tuple[str, ...]] = set()


def _netsh_fields(text: str) -> Iterator[tuple[str, str]]:
    """The ``label : value`` lines of netsh's answer, label and value stripped (values may hold colons)."""
    for raw in text.splitlines():
        label, sep, value = raw.partition(" :")
        if not sep:
            label, sep, value = raw.partition(":")
        if sep and label.strip() and value.strip():
            yield label.strip(), value.strip()


def _netsh_blocks(text: str, labels: NetshLabels) -> list[dict[str, str]]:
    """Each interface of ``netsh wlan show interfaces`` as key → value (keys of NETSH_KEYS)."""
    blocks: list[dict[str, str]] = []
    for label, value in _netsh_fields(text):
        key = labels.keys.get(_label_key(label))
        if key is None:
            if _label_key(label) == "linkid" and blocks:
                _strongest_link(blocks[-1], value, labels)
            continue
        if key == "name" or not blocks:
            blocks.append({})
        blocks[-1].setdefault(key, value)
    return blocks


def _strongest_link(block: dict[str, str], value: str, labels: NetshLabels) -> None:
    """A Wi-Fi 7 multi-link connection prints no Channel, Band or Rssi line for the interface, but
    one ``LinkID: 0, Local: …, AP: …, RSSI: -70, Channel: 100, Band: 5 GHz, BW: 80`` line per link:
    keep the strongest link's values (as ``link_rssi``, ``link_channel``, ``link_band``)."""
    link: dict[str, str] = {}
    for part in value.split(",")[1:]:
        name, sep, item = part.partition(":")
        key = "rssi" if _label_key(name) == "rssi" else labels.keys.get(_label_key(name))
        if sep and key in ("rssi", "channel", "band"):
            link[key] = item.strip()
    rssi, best = _number(link.get("rssi", "")), _number(block.get("link_rssi", ""))
    if rssi is not None and (best is None or rssi > best):
        block.update({f"link_{k}": v for k, v in link.items()})


def _describes_an_interface(text: str) -> bool:
    """Whether the answer lists an interface at all, in any language: its GUID or physical address, or
    several ``label : value`` lines (netsh's sentences for "no Wi-Fi" or "service off" have none)."""
    fields = list(_netsh_fields(text))
    return len(fields) >= 3 or any(_GUID.match(value) or _MAC.match(value) for _, value in fields)


def _log_not_understood(text: str) -> None:
    """Log the first lines of an answer not understood, once per shape, identifiers left out."""
    lines = []
    for label, value in list(_netsh_fields(text))[:8]:
        if _GUID.match(value) or _MAC.match(value) or "ssid" in label.casefold():
            value = "…"
        lines.append(f"{label} : {value}")
    shape = tuple(label for label, _ in _netsh_fields(text))[:8]
    if shape not in _logged_not_understood:
        _logged_not_understood.add(shape)
        log.warning("netsh wlan show interfaces was not understood; its first lines: %s", " | ".join(lines))


def _not_understood(text: str) -> WifiInfo:
    _log_not_understood(text)
    return WifiInfo(status=Status.ERROR, error=NETSH_NOT_UNDERSTOOD)


def parse_netsh(text: str, labels: NetshLabels | None = None) -> WifiInfo | None:
    """``netsh wlan show interfaces`` in any language known; None when there is no Wi-Fi.

    An interface whose state is in words no language known has (a display language not known yet,
    or text decoded with the wrong code page) is "not understood" (status error), never a guess.
    """
    if any(marker in text.casefold() for marker in NETSH_LOCATION_MARKERS):
        return WifiInfo(status=Status.UNAVAILABLE, error=LOCATION_REFUSED)
    labels = labels or netsh_labels()
    blocks = _netsh_blocks(text, labels)
    states = [(b, _label_key(b["state"])) for b in blocks if "state" in b]
    block = next((b for b, state in states if state in labels.connected), None)
    if block is None:
        if any(state not in labels.not_connected for _, state in states):
            return _not_understood(text)
        if not states:
            return _not_understood(text) if _describes_an_interface(text) else None
        return WifiInfo(interface=states[0][0].get("name"), connected=False)
    info = WifiInfo(interface=block.get("name"), connected=True)
    info.ssid = block.get("ssid") or None
    info.signal_pct = _number(block.get("signal", ""))
    rssi = _number(block.get("rssi", block.get("link_rssi", "")))
    info.signal_dbm = rssi if rssi is not None and rssi < 0 else None
    receive, transmit = _number(block.get("receive", "")), _number(block.get("transmit", ""))
    info.link_rate_mbps = transmit if transmit is not None else receive
    if "channel" in block:
        channel, band = _number(block["channel"]), _number(block.get("band", ""))
    else:  # a multi-link connection: its strongest link
        channel, band = _number(block.get("link_channel", "")), _number(block.get("link_band", ""))
    if channel is not None:
        info.frequency_mhz = channel_to_mhz(int(channel), band)
    return info


LOCATION_REFUSED_SCAN = (
    "Windows only lists the Wi-Fi networks around to programs once Location is allowed: in Settings, "
    "Privacy & security, Location, turn on Location services and 'Let desktop apps access your location'."
)
_BSSID_LABEL = re.compile(r"^bssid\d*$")


def parse_netsh_networks(text: str, labels: NetshLabels | None = None) -> WifiNeighbours:
    """``netsh wlan show networks mode=bssid`` in any language known: each radio (a ``BSSID n``
    line) with its channel, band and signal. It lists this computer's own network too, without
    saying which (``own_listed``). Radios whose channel is in words no language known has are
    "not understood", never guessed."""
    if any(marker in text.casefold() for marker in NETSH_LOCATION_MARKERS):
        return WifiNeighbours(status=Status.UNAVAILABLE, source="netsh", error=LOCATION_REFUSED_SCAN)
    labels = labels or netsh_labels()
    radios: list[dict[str, str]] = []
    for label, value in _netsh_fields(text):
        key = _label_key(label)
        if _BSSID_LABEL.match(key):
            radios.append({})
        elif radios and (meaning := labels.keys.get(key)) in ("channel", "band", "signal"):
            radios[-1].setdefault(meaning, value)
    out = WifiNeighbours(source="netsh", own_listed=True)
    if radios and not any("channel" in r for r in radios):
        out.status, out.error = Status.ERROR, (
            "Windows listed the Wi-Fi networks around in words connectcheck does not read yet")
        return out
    out.heard = [_heard(r.get("channel", ""), r.get("band", ""), r.get("signal", "")) for r in radios]
    return out


def read_windows(run: Runner, cancel: threading.Event | None = None) -> WifiInfo | None:
    """The Wi-Fi link on Windows, or None when this PC has no Wi-Fi (or its service is off)."""
    result = run(["netsh", "wlan", "show", "interfaces"], timeout_s=3.0, cancel=cancel)
    if result.error:
        return WifiInfo(status=Status.UNAVAILABLE, error=result.error)
    # netsh says why it refuses on stdout, with a non-zero exit code: read it either way.
    info = parse_netsh(result.stdout + "\n" + result.stderr)
    if info is not None and info.connected:
        scan = run(["netsh", "wlan", "show", "networks", "mode=bssid"], timeout_s=3.0, cancel=cancel)
        info.neighbours = WifiNeighbours(status=Status.UNAVAILABLE, source="netsh", error=scan.error) \
            if scan.error else parse_netsh_networks(scan.stdout + "\n" + scan.stderr)
    return info
