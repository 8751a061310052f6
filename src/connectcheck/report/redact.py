"""Private by default: what a report leaves out or masks before it travels by e-mail.

The identifying values are found at run time, never assumed: the user name (``getpass`` and the
environment), the home folder (``Path.home()``), this computer's name (``socket.gethostname()``),
and the Wi-Fi network names in the data. They are masked wherever they occur as a word, in every
text of the report, together with the host part of IP addresses (``192.168.1.x``) and hardware
(MAC) addresses. Programs keep only their name: a command line with its arguments and folders is
cut down to the program. The user can opt in to user name, host name, Wi-Fi name and full
addresses (settings ``report.include_*``); command lines are never included.

Masking is one pass of one regular expression over each text, so that a mask is never masked
again and the order of the patterns decides what wins where two overlap (the home folder before
the user name inside it).
"""

from __future__ import annotations

import copy
import dataclasses
import enum
import getpass
import ipaddress
import os
import platform
import re
import socket
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from connectcheck.config.settings import Settings
from connectcheck.core.model import Advice, Cause, LocalFindings, MonitorSample, ProcessUsage, WifiInfo
from connectcheck.report.model import CHOICES, ProgramRow, Redaction, Report

# what -> (label for the reader, what replaces it)
CATEGORIES: dict[str, tuple[str, str]] = {
    "user_name": ("the user name", "[user name]"),
    "home_folder": ("the path of the home folder", "~"),
    "host_name": ("the computer's name", "[computer name]"),
    "wifi_name": ("the Wi-Fi network's name", "[Wi-Fi name]"),
    "ip_addresses": ("the last part of IP addresses (192.168.1.x)", "x"),
    "mac_addresses": ("hardware (MAC) addresses", "[MAC address]"),
    "command_lines": ("programs' command lines (only the program's name is kept)", ""),
}
MIN_LENGTH = 2  # shorter values cannot be masked without masking ordinary letters
COMM_BYTES = 15  # Linux keeps a process's name in 15 bytes: a longer one is cut, maybe inside a name
CUT_MIN = 4  # the least of a name, cut at the end of a process name, that is masked
_WORD_START = r"(?<![A-Za-z0-9])"
_WORD_END = r"(?![A-Za-z0-9])"
_MAC = r"(?<![\w:-])[0-9A-Fa-f]{2}(?P<sep>[:-])(?:[0-9A-Fa-f]{2}(?P=sep)){4}[0-9A-Fa-f]{2}(?![\w:-])"
_IPV4 = r"(?<![\w.])\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}(?![\w]|\.\d)"
_IPV6 = r"(?<![\w:.])(?:[0-9A-Fa-f]{0,4}:){2,7}(?:[0-9A-Fa-f]{1,4}|:|\d{1,3}(?:\.\d{1,3}){3})(?![\w:])"
# A program's arguments start at the first space followed by an option, a path or a quote; a
# program given as a path starts with a folder ("/usr/bin/x", "C:\\x", "~/x", "\\\\server\\x").
_ARGUMENTS = re.compile(r"\s+(?:--?\w|/[\w.]|[A-Za-z]:\\|\"|')")
_SURROGATE = re.compile("[\ud800-\udfff]")
_PATH = re.compile(r"^(?:[/~.]|[A-Za-z]:[\\/]|\\\\)")
# Fields that hold a program's name (which may arrive as a whole command line).
PROGRAM_FIELDS = {
    (ProcessUsage, "name"),
    (ProgramRow, "name"),
    (Cause, "program"),
    (Advice, "program"),
    (LocalFindings, "unattributed_programs"),
    (MonitorSample, "top_program"),
}
T = TypeVar("T")
NOT_REDACTED = {(Report, "tutor_label"), (Report, "redactions")}  # the tutor's own choice; ours


@dataclass(frozen=True)
class Identity:
    """The identifying values of this computer and its user, as found at run time."""

    user_names: tuple[str, ...] = ()
    home_folders: tuple[str, ...] = ()
    host_names: tuple[str, ...] = ()

    @classmethod
    def discover(cls) -> Identity:
        """Ask the system; a source that fails is skipped (each is tried on its own)."""
        users = _tried(
            getpass.getuser,
            lambda: Path.home().name,
            *(lambda k=k: os.environ.get(k, "") for k in ("USER", "USERNAME", "LOGNAME")),
        )
        homes = _tried(
            lambda: str(Path.home()),
            lambda: os.path.realpath(Path.home()),
            *(lambda k=k: os.environ.get(k, "") for k in ("HOME", "USERPROFILE")),
        )
        hosts = _tried(
            socket.gethostname,
            platform.node,
            *(lambda k=k: os.environ.get(k, "") for k in ("COMPUTERNAME", "HOSTNAME")),
        )
        hosts += [h.split(".")[0] for h in hosts]
        return cls(tuple(_unique(users)), tuple(_unique(_path_forms(homes))), tuple(_unique(hosts)))


def _tried(*sources: Callable[[], str]) -> list[str]:
    found = []
    for source in sources:
        try:
            value = source()
        except Exception:
            continue
        if isinstance(value, str) and value.strip():
            found.append(value.strip())
    return found


def _unique(values: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(v for v in values if len(v) >= MIN_LENGTH))


def _path_forms(paths: Iterable[str]) -> list[str]:
    """A home folder as it may be written: with either kind of slash (C:\\Users\\x, C:/Users/x)."""
    out = []
    for p in paths:
        p = p.rstrip("/\\")
        if len(p) < 3 or p.count("/") + p.count("\\") == 0:  # "/" or "C:" would mask every path
            continue
        out += [p, p.replace("\\", "/"), p.replace("/", "\\")]
    return out


def _words(values: Iterable[str]) -> str:
    ordered = sorted({v for v in values if len(v) >= MIN_LENGTH}, key=len, reverse=True)
    return "|".join(re.escape(v) for v in ordered)


class Redactor:
    """Masks the identifying details of one report and counts what it masked."""

    def __init__(
        self,
        identity: Identity,
        *,
        keep_user: bool = False,
        keep_host: bool = False,
        keep_network_name: bool = False,
        keep_addresses: bool = False,
        wifi_names: Iterable[str] = (),
    ) -> None:
        self.keep = {
            "user_name": keep_user,
            "home_folder": keep_user,
            "host_name": keep_host,
            "wifi_name": keep_network_name,
            "ip_addresses": keep_addresses,
            "mac_addresses": keep_addresses,
            "command_lines": False,
        }
        self.counts: Counter[str] = Counter()
        self.identity = identity
        alternatives = []
        literal = {
            "home_folder": (r"(?<![\w.-])(?:%s)(?![\w.-])", identity.home_folders),
            "wifi_name": (f"{_WORD_START}(?:%s){_WORD_END}", wifi_names),
            "user_name": (f"{_WORD_START}(?:%s){_WORD_END}", identity.user_names),
            "host_name": (f"{_WORD_START}(?:%s){_WORD_END}", identity.host_names),
        }
        for what, (template, values) in literal.items():
            if not self.keep[what] and (words := _words(values)):
                alternatives.append(f"(?P<{what}>{template % words})")
        if not keep_addresses:
            alternatives += [f"(?P<mac_addresses>{_MAC})", f"(?P<ip4>{_IPV4})", f"(?P<ip6>{_IPV6})"]
        self.pattern = re.compile("|".join(alternatives), re.IGNORECASE) if alternatives else None

    def _replace(self, m: re.Match[str]) -> str:
        what = m.lastgroup or ""
        if what == "ip4":
            return self._mask_ipv4(m.group())
        if what == "ip6":
            return self._mask_ipv6(m.group())
        self.counts[what] += 1
        return CATEGORIES[what][1]

    def _mask_ipv4(self, text: str) -> str:
        parts = text.split(".")
        if any(int(p) > 255 for p in parts):
            return text  # a version number, not an address
        self.counts["ip_addresses"] += 1
        return ".".join(parts[:3] + ["x"])

    def _mask_ipv6(self, text: str) -> str:
        try:
            network = ipaddress.IPv6Network(f"{text}/64", strict=False)
        except ValueError:
            return text  # a time of day or other colons, not an address
        self.counts["ip_addresses"] += 1
        return f"{network.network_address.compressed.rstrip(':')}::x"

    def text(self, value: str) -> str:
        """``value`` with every identifying detail masked (and any unpaired surrogate, which a name
        the system could not decode carries, replaced: it cannot be written as UTF-8)."""
        value = _SURROGATE.sub("\ufffd", value)
        return self.pattern.sub(self._replace, value) if self.pattern else value

    def program_name(self, value: str) -> str:
        """A program as it may be shown: its name, without folders or arguments. Masked as text
        too; a name already cut down comes back the same."""
        head = _ARGUMENTS.split(value, maxsplit=1)[0]
        name = head
        if _PATH.match(head):
            name = re.split(r"[/\\]", head.rstrip("/\\"))[-1] or head
        if name != value:
            self.counts["command_lines"] += 1
        return self._mask_cut_name(self.text(name))

    def _mask_cut_name(self, name: str) -> str:
        """A process name Linux cut at 15 bytes may end inside the computer's or the user's
        name (``laptop-jane-sm``): that beginning of a name is masked as the whole would be."""
        size = len(name.encode("utf-8", "replace"))
        if not COMM_BYTES - 3 <= size <= COMM_BYTES:  # not at the limit (a cut character leaves less)
            return name
        stem = name.rstrip("\ufffd")
        identity = self.identity
        for what, values in (("host_name", identity.host_names), ("user_name", identity.user_names)):
            if self.keep[what]:
                continue
            for value in sorted(values, key=len, reverse=True):
                for k in range(len(value) - 1, CUT_MIN - 1, -1):
                    part = value[:k]
                    at = len(stem) - k
                    starts_a_word = at == 0 or not stem[at - 1].isalnum()
                    if at >= 0 and starts_a_word and stem[at:].lower() == part.lower():
                        self.counts[what] += 1
                        return stem[:at] + CATEGORIES[what][1]
        return name

    def wifi_name(self, value: str) -> str:
        if self.keep["wifi_name"]:
            return self.text(value)
        self.counts["wifi_name"] += 1
        return CATEGORIES["wifi_name"][1]

    def redactions(self) -> list[Redaction]:
        """What this redactor masked, for the report's ``redactions`` list (opted-in ones left out)."""
        return [
            Redaction(what=what, label=label, replaced_by=mask, count=self.counts[what])
            for what, (label, mask) in CATEGORIES.items()
            if not self.keep[what]
        ]


def redactor_for(
    settings: Settings, identity: Identity | None = None, wifi_names: Iterable[str] = ()
) -> Redactor:
    """The redactor the ``report.include_*`` settings ask for."""
    return Redactor(
        identity or Identity.discover(),
        keep_user=settings["report.include_user_name"],
        keep_host=settings["report.include_host_name"],
        keep_network_name=settings["report.include_network_name"],
        keep_addresses=settings["report.include_addresses"],
        wifi_names=wifi_names,
    )


def cut_command_lines(data: T, redactor: Redactor) -> T:
    """A copy of a check or a lesson whose programs keep only their names, before any sentence
    quotes them (a sentence is free text, where a command line could no longer be told apart)."""
    out = copy.deepcopy(data)
    _walk(out, redactor, programs_only=True)
    return out


def redact_report(report: Report, redactor: Redactor) -> Report:
    """A masked copy of ``report``: every free text passed through ``redactor``, the list of what
    was masked filled in. Vocabulary fields (states, keys) and the tutor's own label are kept."""
    out = copy.deepcopy(report)
    _walk(out, redactor)
    out.redactions = redactor.redactions()
    return out


def _walk(obj: Any, redactor: Redactor, programs_only: bool = False) -> None:
    for f in dataclasses.fields(obj):
        owner = type(obj)
        if f.metadata.get(CHOICES) is not None or (owner, f.name) in NOT_REDACTED:
            continue
        if owner is WifiInfo and f.name == "ssid":
            if obj.ssid is not None and not programs_only:
                obj.ssid = redactor.wifi_name(obj.ssid)
            continue
        if (owner, f.name) in PROGRAM_FIELDS:
            mask: Callable[[str], str] | None = redactor.program_name
        else:
            mask = None if programs_only else redactor.text
        setattr(obj, f.name, _masked(getattr(obj, f.name), mask, redactor, programs_only))


def _masked(value: Any, mask: Callable[[str], str] | None, redactor: Redactor, programs_only: bool) -> Any:
    if isinstance(value, enum.Enum):
        return value
    if isinstance(value, str):
        return mask(value) if mask else value
    if isinstance(value, list):
        return [_masked(v, mask, redactor, programs_only) for v in value]
    if isinstance(value, dict):
        return {k: _masked(v, mask, redactor, programs_only) for k, v in value.items()}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        _walk(value, redactor, programs_only)
    return value
