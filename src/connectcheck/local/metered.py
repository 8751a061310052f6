"""Whether this computer's connection costs per megabyte (a phone's hotspot, a mobile data plan),
so that a full check moves only a little data there.

* Linux: NetworkManager's own judgement, ``GENERAL.METERED`` of ``nmcli device show`` ("yes",
  "no", either "(guessed)" from the network itself: an Android hotspot says so in its DHCP answer;
  or "unknown"), for the connected device that carries the way out (a gateway).
* Windows (the connection's cost) and macOS (Low Data Mode): not read yet. The answer says so, and
  the check then keeps the normal data limit; the window tells the tutor how much that is.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass

from connectcheck.core.paths import current_os
from connectcheck.local.commands import PLAIN_LOCALE, CommandResult, run_command

NOT_READ = {
    "windows": "connectcheck does not read Windows' metered-connection setting yet",
    "macos": "connectcheck does not read macOS's Low Data Mode yet",
}


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


def read_metered(os_name: str | None = None, cancel: threading.Event | None = None,
                 run: Callable[..., CommandResult] = run_command) -> Metered:
    """Ask the system; never raises (an answer it cannot get is "not known", with the reason)."""
    os_name = os_name or current_os()
    if os_name in NOT_READ:
        return Metered(None, NOT_READ[os_name])
    result = run(["nmcli", "device", "show"], timeout_s=3.0, cancel=cancel, env=PLAIN_LOCALE)
    if not result.ok:
        reason = result.error or (result.stderr.strip() or f"nmcli ended with {result.returncode}")
        return Metered(None, f"NetworkManager could not be asked ({reason})")
    return metered_from_nmcli(result.stdout)
