"""Start connectcheck when the user logs in, the way each system expects it:

* Windows: a value in the per-user Run key (``HKCU\\Software\\Microsoft\\Windows\\CurrentVersion\\Run``);
* macOS: a LaunchAgent property list in ``~/Library/LaunchAgents``;
* Linux and other XDG desktops: a ``.desktop`` file in ``$XDG_CONFIG_HOME/autostart``.

:func:`entry` says what would be written (so the Windows and macOS forms can be checked on any
system); :func:`enable`, :func:`disable` and :func:`is_enabled` do it. The system is taken from
``sys.platform`` unless ``os_name`` forces one. No Qt here.
"""

from __future__ import annotations

import os
import plistlib
import subprocess
import sys
import types
from dataclasses import dataclass
from pathlib import Path

from connectcheck.core import paths
from connectcheck.core.files import atomic_write_bytes, atomic_write_text
from connectcheck.core.paths import current_os

APP_ID = "connectcheck"
MACOS_LABEL = "org.connectcheck.tray"
RUN_KEY = r"Software\Microsoft\Windows\CurrentVersion\Run"
AUTOSTART_FLAG = "--autostart"  # tells the app it starts at login (it waits longer for the tray)


class AutostartError(OSError):
    """Start at login could not be set or removed; the message says why in plain words."""


@dataclass(frozen=True)
class Entry:
    """What start at login writes: a file (``location`` is its path, ``content`` its text) or,
    on Windows, a registry value (``location`` is the key, ``name`` the value, ``content`` its data)."""

    os: str  # "windows" | "macos" | "linux"
    kind: str  # "registry" | "file"
    location: str
    name: str
    content: str



def launch_command() -> list[str]:
    """How to start the app at login: the frozen program itself, or this Python running the app
    (``pythonw`` on Windows when there is one, so that no console window opens)."""
    if getattr(sys, "frozen", False):
        return [sys.executable, AUTOSTART_FLAG]
    python = Path(sys.executable)
    windowed = python.with_name("pythonw.exe")
    if python.name.lower() == "python.exe" and windowed.exists():
        python = windowed
    return [str(python), "-m", "connectcheck.ui", AUTOSTART_FLAG]


def _home() -> Path:
    return Path(os.path.expanduser("~"))


def desktop_exec(args: list[str]) -> str:
    """An ``Exec=`` value (Desktop Entry spec): arguments quoted where needed, ``%`` doubled,
    and backslashes doubled once more for the file's string escaping."""
    out = []
    for arg in args:
        arg = arg.replace("%", "%%")
        if any(c in arg for c in " \t\n\"'\\><~|&;$*?#()`"):
            arg = '"' + "".join("\\" + c if c in '"`$\\' else c for c in arg) + '"'
        out.append(arg)
    return " ".join(out).replace("\\", "\\\\")


def _linux_entry(command: list[str]) -> Entry:
    base = Path(os.environ.get("XDG_CONFIG_HOME") or _home() / ".config")
    lines = [
        "[Desktop Entry]",
        "Type=Application",
        "Name=connectcheck",
        "Comment=Checks the connection before and during online lessons",
        f"Exec={desktop_exec(command)}",
        f"Icon={paths.resource_path('icons', 'app.svg')}",
        "Terminal=false",
        "X-GNOME-Autostart-enabled=true",
    ]
    return Entry(
        "linux",
        "file",
        str(base / "autostart" / f"{APP_ID}.desktop"),
        f"{APP_ID}.desktop",
        "\n".join(lines) + "\n",
    )


def _macos_entry(command: list[str]) -> Entry:
    plist = {
        "Label": MACOS_LABEL,
        "ProgramArguments": command,
        "RunAtLoad": True,
        "ProcessType": "Interactive",
        "LimitLoadToSessionType": "Aqua",
    }
    path = _home() / "Library" / "LaunchAgents" / f"{MACOS_LABEL}.plist"
    return Entry("macos", "file", str(path), path.name, plistlib.dumps(plist).decode("utf-8"))


def _windows_entry(command: list[str]) -> Entry:
    return Entry(
        "windows", "registry", "HKEY_CURRENT_USER\\" + RUN_KEY, APP_ID, subprocess.list2cmdline(command)
    )


_ENTRIES = {"linux": _linux_entry, "macos": _macos_entry, "windows": _windows_entry}


def entry(os_name: str | None = None, command: list[str] | None = None) -> Entry:
    """What start at login writes on this system (or on ``os_name``)."""
    os_name = os_name or current_os()
    if os_name not in _ENTRIES:
        raise ValueError(f"unknown system {os_name!r}")
    return _ENTRIES[os_name](command or launch_command())


def enable(os_name: str | None = None, command: list[str] | None = None) -> Entry:
    """Make the app start at login; raises AutostartError with the reason."""
    e = entry(os_name, command)
    try:
        if e.kind == "registry":
            _registry_set(e.name, e.content)
        elif e.os == "macos":
            atomic_write_bytes(Path(e.location), e.content.encode("utf-8"))
        else:
            atomic_write_text(Path(e.location), e.content)
    except OSError as exc:
        raise AutostartError(f"start at login could not be set up ({_reason(exc)})") from exc
    return e


def disable(os_name: str | None = None) -> None:
    """Stop starting at login (nothing to do when it was not set up)."""
    e = entry(os_name)
    try:
        if e.kind == "registry":
            _registry_delete(e.name)
        else:
            Path(e.location).unlink(missing_ok=True)
    except OSError as exc:
        raise AutostartError(f"start at login could not be turned off ({_reason(exc)})") from exc


def is_enabled(os_name: str | None = None) -> bool:
    e = entry(os_name)
    if e.kind == "registry":
        return _registry_get(e.name) is not None
    return Path(e.location).is_file()


def set_enabled(enabled: bool, os_name: str | None = None) -> None:
    """Make the system's state match the ``app.start_at_login`` setting."""
    if enabled:
        enable(os_name)
    else:
        disable(os_name)


def _reason(exc: OSError) -> str:
    return exc.strerror or str(exc)


# --- the Windows registry (only reachable on Windows) ---------------------------------------------


def _winreg() -> types.ModuleType:
    try:
        import winreg
    except ImportError:
        raise AutostartError("the Windows registry is not available on this system") from None
    return winreg


def _registry_set(name: str, data: str) -> None:
    winreg = _winreg()
    with winreg.CreateKey(winreg.HKEY_CURRENT_USER, RUN_KEY) as key:
        winreg.SetValueEx(key, name, 0, winreg.REG_SZ, data)


def _registry_delete(name: str) -> None:
    winreg = _winreg()
    try:
        with winreg.OpenKey(winreg.HKEY_CURRENT_USER, RUN_KEY, 0, winreg.KEY_SET_VALUE) as key:
            winreg.DeleteValue(key, name)
    except FileNotFoundError:
        pass


def _registry_get(name: str) -> str | None:
    winreg = _winreg()
    try:
        with winreg.OpenKey(winreg.HKEY_CURRENT_USER, RUN_KEY) as key:
            return str(winreg.QueryValueEx(key, name)[0])
    except FileNotFoundError:
        return None
