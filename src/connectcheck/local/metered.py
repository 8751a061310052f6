"""Whether this computer's connection costs per megabyte (a phone's hotspot, a mobile data plan),
so that a full check moves only a little data there.

* Linux: NetworkManager's own judgement, ``GENERAL.METERED`` of ``nmcli device show`` ("yes",
  "no", either "(guessed)" from the network itself: an Android hotspot says so in its DHCP answer;
  or "unknown"), for the connected device that carries the way out (a gateway).
* Windows: the internet connection's cost as Windows keeps it (the WinRT
  ``NetworkInformation.GetInternetConnectionProfile().GetConnectionCost()``, asked through Windows
  PowerShell 5.1, which every Windows 10 and 11 has): "Fixed" or "Variable" (a data limit set for
  it, or a mobile plan), or roaming, is metered; "Unrestricted" is not; "Unknown" is not known. The
  small script prints its own ``key=value`` lines (:data:`WINDOWS_COST_SCRIPT`), so nothing depends
  on PowerShell's formatting or language; only the cost's four names are Windows' own
  (NetworkCostType). Not run on Windows yet.
* macOS (Low Data Mode): not read; no command tells it (it is the Network framework's
  ``NWPath.isConstrained``). The answer says so, and the check then keeps the normal data limit;
  the window tells the tutor how much that is.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass

from connectcheck.core.paths import current_os
from connectcheck.local.commands import PLAIN_LOCALE, CommandResult, run_command

NOT_READ = {
    "macos": "connectcheck does not read macOS's Low Data Mode yet",
}
WINDOWS_COST_SCRIPT = "; ".join([
    "$ErrorActionPreference = 'Stop'",
    "[void][Windows.Networking.Connectivity.NetworkInformation, Windows, ContentType = WindowsRuntime]",
    "$p = [Windows.Networking.Connectivity.NetworkInformation]::GetInternetConnectionProfile()",
    "if ($null -eq $p) { 'profile=none'; exit 0 }",
    "$c = $p.GetConnectionCost()",
    "'profile=yes'",
    "'cost=' + $c.NetworkCostType",
    "'roaming=' + $c.Roaming",
    "'over=' + $c.OverDataLimit",
])
WINDOWS_COST_ARGV = ("powershell.exe", "-NoProfile", "-NonInteractive", "-Command", WINDOWS_COST_SCRIPT)


@dataclass(frozen=True)
class Metered:
    """Whether the connection is metered (None: not known) and how that was found, in words."""

    metered: bool | None
    how: str
    guessed: bool = False  # the system guessed it from the network, nobody set it
    connection: str | None = None  # the connection's name as the system shows it


def nmcli_devices(text: str) -> list[dict[str, str]]:
    """The device blocks of ``nmcli device show``: ``{"GENERAL.DEVICE": "wlp1s0", …}`` each."""
    devices: list[dict[str, str]] = []
    current: dict[str, str] = {}
    for line in text.splitlines():
        if not line.strip():
            if current:
                devices.append(current)
            current = {}
            continue
        key, sep, value = line.partition(":")
        if sep:
            current[key.strip()] = value.strip()
    if current:
        devices.append(current)
    return devices


def metered_from_nmcli(text: str) -> Metered:
    """The answer for the connected device with a gateway (the way out), else any connected one."""
    connected = [d for d in nmcli_devices(text) if d.get("GENERAL.STATE", "").startswith("100")]
    connected.sort(key=lambda d: not d.get("IP4.GATEWAY") and not d.get("IP6.GATEWAY"))
    for device in connected:
        value = device.get("GENERAL.METERED", "").lower()
        word = value.split(" ", 1)[0]
        name = device.get("GENERAL.CONNECTION") or device.get("GENERAL.DEVICE") or None
        guessed = "guess" in value
        if word in ("yes", "no"):
            said = "guesses" if guessed else "says"
            verdict = "is metered" if word == "yes" else "is not metered"
            return Metered(word == "yes", f"NetworkManager {said} {name or 'this connection'} {verdict}",
                           guessed, name)
    return Metered(None, "NetworkManager does not say whether this connection is metered")


def metered_from_windows(text: str) -> Metered:
    """The answer of :data:`WINDOWS_COST_SCRIPT`'s lines (see the module notes)."""
    values = {}
    for line in text.splitlines():
        key, sep, value = line.strip().partition("=")
        if sep:
            values[key.strip().lower()] = value.strip()
    if values.get("profile") == "none":
        return Metered(None, "Windows has no internet connection to say anything about")
    cost, roaming = values.get("cost", ""), values.get("roaming", "").lower() == "true"
    if values.get("over", "").lower() == "true":
        return Metered(True, "Windows says this connection is over its data limit")
    if roaming:
        return Metered(True, "Windows says this connection is roaming (a mobile network abroad)")
    if cost in ("Fixed", "Variable"):
        plan = "a data limit" if cost == "Fixed" else "a charge for each megabyte"
        return Metered(True, f"Windows says this connection is metered ({plan})")
    if cost == "Unrestricted":
        return Metered(False, "Windows says this connection is not metered")
    return Metered(None, "Windows does not say whether this connection is metered")


def read_metered(os_name: str | None = None, cancel: threading.Event | None = None,
                 run: Callable[..., CommandResult] = run_command) -> Metered:
    """Ask the system; never raises (an answer it cannot get is "not known", with the reason)."""
    os_name = os_name or current_os()
    if os_name in NOT_READ:
        return Metered(None, NOT_READ[os_name])
    if os_name == "windows":
        found = run(list(WINDOWS_COST_ARGV), timeout_s=8.0, cancel=cancel)
        if not found.ok:
            said = found.stderr.strip().splitlines()[0][:200] if found.stderr.strip() else ""
            reason = found.error or said or f"PowerShell ended with {found.returncode}"
            return Metered(None, f"Windows could not be asked whether this connection is metered ({reason})")
        return metered_from_windows(found.stdout)
    result = run(["nmcli", "device", "show"], timeout_s=3.0, cancel=cancel, env=PLAIN_LOCALE)
    if not result.ok:
        reason = result.error or (result.stderr.strip() or f"nmcli ended with {result.returncode}")
        return Metered(None, f"NetworkManager could not be asked ({reason})")
    return metered_from_nmcli(result.stdout)
