"""Settings: one schema table, from which the defaults, the validation and the TOML file come.

``load_settings()`` never raises for a bad file: it collects every problem at once (with the
line and a hint), keeps the valid values, uses the defaults for the rest, and remembers that
the file was bad so that ``save_settings()`` first moves the user's file aside instead of
overwriting it.
"""

from __future__ import annotations

import difflib
import math
import os
import re
import time
import tomllib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from connectcheck.assess.thresholds import BOUNDS, SETTINGS_SECTION, default_thresholds, setting_key
from connectcheck.core import paths
from connectcheck.core.files import FileRefused, atomic_write_text, read_limited

FILE_NAME = "settings.toml"
MAX_FILE_BYTES = 1_000_000  # a settings file is a few kB; anything far larger is not one
MAX_PROBLEMS = 20  # problems listed one by one; the rest are counted
MAX_SHOWN = 60  # characters of a wrong value or key shown in a message
MAX_SUGGEST_KEY = 80  # keys longer than this get no "did you mean"


def _host_port(value: str) -> str | None:
    host, sep, port = value.rpartition(":")
    if not sep or not host or not (port.isascii() and port.isdigit()) or len(port) > 5 \
            or not 0 < int(port) < 65536:
        return "write it as host:port, for example stun.example.org:3478"
    return None


def _url(value: str, schemes: tuple[str, ...]) -> str | None:
    m = re.match(r"^([a-z][a-z0-9+.-]*)://[^/\s]+", value)
    if not m or m.group(1) not in schemes:
        return f"write a full address starting with {' or '.join(s + '://' for s in schemes)}"
    return None


_ADDRESS = re.compile(r"^[^@\s<>\"(),;:]+@[^@\s<>\"(),;:]+\.[^@\s<>\"(),;:]+$")


def is_valid_address(address: str) -> bool:
    """A plausible single e-mail address (name@domain.tld), nothing more."""
    return bool(_ADDRESS.match(address))


def _email(value: str) -> str | None:
    return None if value == "" or is_valid_address(value) else "write an address like name@example.org"


def _url_or_empty(*schemes: str) -> Callable[[str], str | None]:
    return lambda v: None if v == "" else _url(v, schemes)


@dataclass(frozen=True)
class Option:
    """One setting: its key (``section.name``), type, range or choices, default and help."""

    key: str
    type: str  # "str" | "int" | "float" | "bool" | "list[str]"
    default: Any
    help: str
    min: float | None = None
    max: float | None = None
    choices: tuple[str, ...] | None = None
    item_check: Callable[[str], str | None] | None = None  # for str and list[str] values
    max_items: int = 10  # list[str]: the most entries (every list from the settings has a bound)
    max_length: int = 2000  # str and list[str] items: the longest text

    @property
    def section(self) -> str:
        return self.key.split(".", 1)[0]

    @property
    def name(self) -> str:
        return self.key.split(".", 1)[1]


SCHEMA: tuple[Option, ...] = (
    Option("organisation.profile", "str", "westcountry-sen",
           "Which organisation profile to use (support address, lesson platform, phone options)."),
    Option("organisation.support_email", "str", "",
           "The support e-mail address, when the profile does not know it (asked once, then remembered).",
           item_check=_email),
    Option("network.stun_servers", "list[str]",
           ["stun.l.google.com:19302", "stun.cloudflare.com:3478"],
           "STUN servers (host:port) used to measure latency, jitter and loss over UDP, "
           "the path a lesson's sound and video take.", item_check=_host_port, max_items=8),
    Option("network.platform_urls", "list[str]", [],
           "Addresses of the lesson platform to check (https://, wss:// or stun:host:port). "
           "Empty: those of the organisation profile.",
           item_check=lambda v: None if v.startswith("stun:") else _url(v, ("https", "wss", "http", "ws"))),
    Option("network.icmp", "bool", True,
           "Also measure with ICMP echo where the system allows it without special rights."),
    Option("latency.probes", "int", 50,
           "How many latency probes to send to each target in a check.", min=5, max=2000),
    Option("latency.interval_ms", "int", 40,
           "Time between two latency probes to the same target, in milliseconds.", min=10, max=2000),
    Option("latency.timeout_ms", "int", 1000,
           "How long to wait for the answer to one probe before counting it as lost.", min=100, max=10000),
    Option("speed.engine", "str", "auto",
           "Bandwidth engine: auto (connectcheck's own multi-stream engine) or classic "
           "(speedtest-cli's own download and upload, for comparison; it takes about 30 s).",
           choices=("auto", "classic")),
    Option("speed.source", "str", "auto",
           "Where the speed server comes from: auto (the organisation's, then speedtest.net, "
           "then the Cloudflare-style one), org, speedtest or cloudflare.",
           choices=("auto", "org", "speedtest", "cloudflare")),
    Option("speed.server_url", "str", "",
           "A fixed speed server to use instead of searching for one (empty: search).",
           item_check=_url_or_empty("http", "https")),
    Option("speed.org_server_url", "str", "",
           "The organisation's own LibreSpeed-style server (empty: the one in the profile, if any).",
           item_check=_url_or_empty("http", "https")),
    Option("speed.cloudflare_url", "str", "https://speed.cloudflare.com",
           "The Cloudflare-style speed endpoint (serves __down and __up).",
           item_check=_url_or_empty("http", "https")),
    Option("speed.time_limit_s", "float", 6.0,
           "Longest time spent on each direction of the bandwidth test, in seconds.", min=2, max=60),
    Option("speed.data_limit_mb", "float", 200.0,
           "Most data a full check may move in both directions together, in megabytes.",
           min=5, max=5000),
    Option("speed.metered_data_limit_mb", "float", 25.0,
           "Most data a full check may move on a connection the system marks as metered (a phone's "
           "hotspot, a mobile data plan), in megabytes.", min=1, max=10000),
    Option("speed.streams", "int", 16,
           "Most parallel connections the bandwidth test may use (it starts with two and adds more "
           "while the rate grows with them).", min=1, max=16),
    Option("speed.server_cache_hours", "float", 24.0,
           "How long to remember the chosen speedtest.net server before searching again.",
           min=0, max=24 * 30),
    Option("check.quick_time_limit_s", "float", 3.0,
           "Longest time a quick check may take, in seconds.", min=2, max=60),
    Option("check.full_time_limit_s", "float", 10.0,
           "Longest time a full check may take, in seconds.", min=8, max=300),
    Option("monitor.interval_s", "float", 5.0,
           "While a lesson is monitored: seconds between two light samples.", min=2, max=60),
    Option("monitor.probes", "int", 10,
           "While a lesson is monitored: latency probes in each sample (about 180 bytes each over UDP, "
           "540 over TCP; the defaults use about 22 KB a minute).",
           min=3, max=50),
    Option("monitor.alert_after_s", "float", 20.0,
           "How long sound, video or the whiteboard must stay worse before a notification is shown.",
           min=5, max=300),
    Option("monitor.alert_gap_s", "float", 120.0,
           "Least time between two notifications about the same thing, in seconds.", min=10, max=3600),
    Option("history.max_age_days", "float", 90.0,
           "Checks and lessons older than this many days are removed from the history.", min=1, max=3650),
    Option("history.max_mb", "float", 50.0,
           "Largest size of the history file in megabytes; the oldest entries go first.", min=1, max=2000),
    Option("report.tutor_label", "str", "",
           "A label of your choice shown on reports so support knows whose they are (e.g. a first name "
           "or a tutor number); empty: none."),
    Option("report.folder", "str", "",
           "Folder where reports are saved (empty: your Documents folder)."),
    Option("report.include_host_name", "bool", False,
           "Show this computer's name in reports (hidden by default)."),
    Option("report.include_user_name", "bool", False,
           "Show your user name and home folder in reports (hidden by default)."),
    Option("report.include_network_name", "bool", False,
           "Show the Wi-Fi network name in reports (hidden by default)."),
    Option("report.include_addresses", "bool", False,
           "Show full IP and MAC addresses in reports (hidden by default: only the network part)."),
    Option("app.start_at_login", "bool", False,
           "Start connectcheck when you log in."),
    Option("app.asked_support_address", "bool", False,
           "Whether connectcheck has asked for the support address (once, at its first start)."),
    Option("app.asked_start_at_login", "bool", False,
           "Whether connectcheck has offered to start at login (once, at its first start)."),
)


# --- threshold overrides: one option per limit, generated from resources/thresholds.toml ----------
# The data file stays the one place where each default and its source are written; here they
# become ordinary options ([thresholds] video_upload_mbps_good = 2.0) with the metric's range.
# Whether good and fail still make sense together is checked by
# connectcheck.config.startup.thresholds_from_settings().

def _threshold_options() -> tuple[Option, ...]:
    t = default_thresholds()
    options = []
    for (activity, metric_key), limit in t.limits.items():
        metric, act = t.metrics[metric_key], t.activities[activity]
        for bound in BOUNDS:
            if bound == "good":
                rule = "at or above" if metric.higher_is_better else (
                    "at or below" if metric.good_inclusive else "below")
            else:
                rule = "below" if metric.higher_is_better else "above"
            options.append(Option(
                f"{SETTINGS_SECTION}.{setting_key(activity, metric_key, bound)}", "float",
                getattr(limit, bound),
                f"{act.label}: {metric.label} {rule} this is {'good' if bound == 'good' else 'failing'} "
                f"({metric.unit}). Source of the default: {limit.source}.",
                min=metric.min, max=metric.max))
    return tuple(options)


SCHEMA += _threshold_options()

OPTIONS: dict[str, Option] = {o.key: o for o in SCHEMA}


@dataclass
class SettingsProblem:
    """One problem found in the settings file, in words a user can act on."""

    message: str
    line: int | None = None
    key: str | None = None
    hint: str | None = None

    def __str__(self) -> str:
        where = f"line {self.line}: " if self.line else ""
        hint = f" ({self.hint})" if self.hint else ""
        return f"{where}{self.message}{hint}"


@dataclass
class Settings:
    values: dict[str, Any] = field(default_factory=dict)
    path: Path | None = None
    problems: list[SettingsProblem] = field(default_factory=list)
    file_was_bad: bool = False  # the file on disk must be kept before anything overwrites it

    def __post_init__(self) -> None:
        carried = carried_profile_id()
        for opt in SCHEMA:
            default = carried if opt.key == "organisation.profile" and carried else opt.default
            self.values.setdefault(opt.key, _copy(default))

    def __getitem__(self, key: str) -> Any:
        return self.values[OPTIONS[key].key]

    def set(self, key: str, value: Any) -> None:
        """Set a value after validating it; raises ValueError with the reason."""
        opt = OPTIONS.get(key)
        if opt is None:
            raise KeyError(f"unknown setting {key!r}")
        converted, problem = validate_value(opt, value)
        if problem:
            raise ValueError(f"{key}: {problem}")
        self.values[key] = converted

    def non_default(self) -> dict[str, Any]:
        return {k: v for k, v in self.values.items() if v != OPTIONS[k].default}

    def problems_text(self) -> str:
        where = str(self.path) if self.path else "the settings file"
        lines = [f"Some settings in {where} could not be used; the defaults were used instead:"]
        lines += [f"  - {p}" for p in self.problems]
        return "\n".join(lines)


def _copy(value: Any) -> Any:
    return list(value) if isinstance(value, list) else value


CARRIED_PROFILE = "carried.txt"  # in resources/organisations: the profile an installer carries


def carried_profile_id() -> str | None:
    """The organisation profile the installer carried (installer/build.py --profile): the default
    for ``organisation.profile``; None when the build carries none (or it is not there)."""
    try:
        folder = paths.resource_path("organisations")
        marker = folder / CARRIED_PROFILE
        if not marker.is_file():
            return None
        profile_id = marker.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError):
        return None
    return profile_id if profile_id and (folder / f"{profile_id}.toml").is_file() else None


def defaults() -> Settings:
    return Settings()


def default_path() -> Path:
    return paths.config_dir() / FILE_NAME


def validate_value(opt: Option, value: Any) -> tuple[Any, str | None]:
    """Check ``value`` against ``opt``; returns (converted value, problem or None)."""
    t = opt.type
    if t == "bool":
        if not isinstance(value, bool):
            return None, f"must be true or false, not {_show(value)}"
        return value, None
    if t in ("int", "float"):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return None, f"must be a number, not {_show(value)}"
        if isinstance(value, int) and abs(value) > 10**15:
            return None, f"must be between {_num(opt.min)} and {_num(opt.max)}, not a number that large"
        if t == "int" and not float(value).is_integer():
            return None, f"must be a whole number, not {value}"
        if isinstance(value, float) and not math.isfinite(value):
            return None, f"must be a finite number, not {value}"
        value = int(value) if t == "int" else float(value)
        if opt.min is not None and value < opt.min or opt.max is not None and value > opt.max:
            return None, f"must be between {_num(opt.min)} and {_num(opt.max)}, not {_num(value)}"
        return value, None
    if t == "str":
        if not isinstance(value, str):
            return None, f"must be text in quotes, not {_show(value)}"
        if len(value) > opt.max_length:
            return None, f"must be at most {opt.max_length} characters long, not {len(value)}"
        if opt.choices and value not in opt.choices:
            return None, f"must be one of {', '.join(opt.choices)}, not {_show(value)}"
        if opt.item_check and (msg := opt.item_check(value)):
            return None, f"{_show(value)} is not valid: {msg}"
        return value, None
    if t == "list[str]":
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            return None, f"must be a list of texts in quotes, like [\"a\", \"b\"], not {_show(value)}"
        if len(value) > opt.max_items:
            return None, f"may hold at most {opt.max_items} entries, not {len(value)}"
        for item in value:
            if len(item) > opt.max_length:
                return None, f"entries must be at most {opt.max_length} characters long, not {len(item)}"
            if opt.item_check and (msg := opt.item_check(item)):
                return None, f"{_show(item)} is not valid: {msg}"
        return list(value), None
    raise AssertionError(f"unknown option type {t}")  # pragma: no cover


def _num(v: float | None) -> str:
    if v is None:
        return "?"
    return str(int(v)) if float(v).is_integer() else str(v)


def _show(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return _short(repr(value))
    if isinstance(value, int) and abs(value) > 10**15:
        return f"a number of about {int(value.bit_length() * 0.30103) + 1} digits"
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, list):
        return "a list"
    return _short(str(value))


def _short(text: str) -> str:
    """At most :data:`MAX_SHOWN` characters of a text shown in a message."""
    return text if len(text) <= MAX_SHOWN else text[:MAX_SHOWN - 1] + "…"


# --- locating keys in the file, for line numbers --------------------------------------

_HEADER = re.compile(r"^\s*\[\s*([A-Za-z0-9_.\"' -]+?)\s*\]\s*(#.*)?$")
_KEYLINE = re.compile(r"^\s*([A-Za-z0-9_.\"'-]+?)\s*=")


def _key_lines(text: str) -> dict[str, int]:
    """Map dotted keys to the line (1-based) where they are set. Good enough for hints."""
    found: dict[str, int] = {}
    table = ""
    for n, line in enumerate(text.splitlines(), 1):
        if m := _HEADER.match(line):
            table = m.group(1).replace('"', "").replace("'", "").strip()
            found.setdefault(table, n)
            continue
        if m := _KEYLINE.match(line):
            key = m.group(1).replace('"', "").replace("'", "")
            full = f"{table}.{key}" if table else key
            found.setdefault(full, n)
    return found


def _flatten(data: dict[str, Any]) -> Iterator[tuple[str, Any]]:
    sections = {o.section for o in SCHEMA}
    for key, value in data.items():
        if key in sections and isinstance(value, dict):
            for name, item in value.items():
                yield f"{key}.{name}", item
        else:
            yield key, value


def parse_settings(text: str, path: Path | None = None) -> Settings:
    """Validate the text of a settings file; never raises for bad content."""
    settings = Settings(path=path)
    text = text.removeprefix("\ufeff")  # the byte order mark Windows editors put first
    try:
        data = load_toml_text(text)
    except SettingsSyntaxError as exc:
        settings.problems.append(SettingsProblem(f"the file is not valid TOML: {exc.reason}", line=exc.line,
                                                 hint=exc.hint))
        settings.file_was_bad = True
        return settings
    lines = _key_lines(text)
    sections = {o.section for o in SCHEMA}
    unknown = 0
    for key, value in _flatten(data):
        opt = OPTIONS.get(key)
        if opt is None:
            settings.file_was_bad = True
            unknown += 1
            if unknown > MAX_PROBLEMS:
                continue  # counted below: one line, not one per key
            if key in sections:
                problem = SettingsProblem(f"[{key}] must be a table of settings",
                                          line=lines.get(key), key=key)
            else:
                close = difflib.get_close_matches(key, list(OPTIONS), n=1, cutoff=0.6) \
                    if len(key) <= MAX_SUGGEST_KEY else []
                problem = SettingsProblem(
                    f"unknown setting {_show(key)}", line=lines.get(key), key=key,
                    hint=f"did you mean {close[0]!r}?" if close else "it is ignored")
            settings.problems.append(problem)
            continue
        converted, msg = validate_value(opt, value)
        if msg:
            hint = opt.help
            settings.problems.append(SettingsProblem(f"{key} {msg}", line=lines.get(key), key=key, hint=hint))
            settings.file_was_bad = True
        else:
            settings.values[key] = converted
    if unknown > MAX_PROBLEMS:
        settings.problems.append(SettingsProblem(
            f"and {unknown - MAX_PROBLEMS:,} more unknown settings", hint="they are ignored"))
    return settings


class SettingsSyntaxError(ValueError):
    """A settings text that cannot be parsed at all: why, where and what to do, in plain words."""

    def __init__(self, reason: str, line: int | None = None,
                 hint: str = "check quotes, brackets and '=' on that line; texts need \"quotes\"") -> None:
        super().__init__(reason)
        self.reason, self.line, self.hint = reason, line, hint


def load_toml_text(text: str) -> dict[str, Any]:
    """Parse TOML text; every way it can fail is a :class:`SettingsSyntaxError` in plain words
    (Python's parser also fails by nesting too deep and by numbers too long to convert)."""
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        msg = str(exc)
        m = re.search(r"\(at line (\d+), column (\d+)\)", msg)
        raise SettingsSyntaxError(re.sub(r" \(at line.*", "", msg), int(m.group(1)) if m else None) from None
    except RecursionError:
        raise SettingsSyntaxError("lists or tables are nested too deeply",
                                  hint="a setting is a single value or a short list") from None
    except ValueError as exc:  # e.g. an integer of thousands of digits
        if "digits" in str(exc):
            raise SettingsSyntaxError("a number in it is far too long",
                                      hint="numbers in the settings have a few digits") from None
        raise SettingsSyntaxError(_short(str(exc))) from None


def load_settings(path: Path | None = None) -> Settings:
    """Load the settings file (default location when ``path`` is None).

    A missing file gives the defaults silently; an unreadable or invalid one gives the
    defaults for what is wrong and a list of problems.
    """
    path = path or default_path()
    try:
        raw = read_limited(path, MAX_FILE_BYTES, "settings file")
    except FileNotFoundError:
        return Settings(path=path)
    except FileRefused as exc:
        s = Settings(path=path)
        s.problems.append(SettingsProblem(f"{exc}; the defaults were used"))
        s.file_was_bad = True
        return s
    except OSError as exc:
        s = Settings(path=path)
        s.problems.append(SettingsProblem(f"the settings file could not be read: {exc.strerror or exc}"))
        s.file_was_bad = True
        return s
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        s = Settings(path=path)
        line = raw[: exc.start].count(b"\n") + 1
        s.problems.append(SettingsProblem("the file is not UTF-8 text", line=line,
                                          hint="save it again as UTF-8 in a text editor"))
        s.file_was_bad = True
        return s
    return parse_settings(text, path)


# --- writing -----------------------------------------------------------------------------

def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        out = value.replace("\\", "\\\\").replace('"', '\\"')
        out = "".join(c if c >= " " and c != "\x7f" else f"\\u{ord(c):04x}" for c in out)
        return f'"{out}"'
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    raise TypeError(f"cannot write {type(value).__name__} to TOML")


def render_settings(settings: Settings) -> str:
    """The TOML text of the settings: changed values set, defaults shown as comments."""
    out = ["# connectcheck settings. Lines starting with # are the defaults; remove the # and",
           "# change the value to use another. Invalid values are reported and ignored.", ""]
    section = None
    for opt in SCHEMA:
        if opt.section != section:
            section = opt.section
            out += ["", f"[{section}]"]
        out.append(f"# {opt.help}")
        value = settings.values.get(opt.key, opt.default)
        line = f"{opt.name} = {_toml_value(value)}"
        out.append(line if value != opt.default else f"# {line}")
    return "\n".join(out).lstrip("\n") + "\n"


def _edited_text(settings: Settings, path: Path) -> str | None:
    """The user's own valid file with only the changed values changed (their comments, order and
    layout kept, tomlkit); None when there is no such file to edit (or it cannot be edited)."""
    try:
        import tomlkit
        from tomlkit.exceptions import TOMLKitError

        text = read_limited(path, MAX_FILE_BYTES, "settings file").decode("utf-8-sig")
        doc = tomlkit.parse(text)
    except (ImportError, OSError, UnicodeDecodeError, ValueError, RecursionError, TOMLKitError):
        return None
    for opt in SCHEMA:
        value = settings.values.get(opt.key, opt.default)
        table = doc.get(opt.section)
        present = isinstance(table, dict) and opt.name in table
        if value == opt.default and not present:
            continue
        if present and table[opt.name] == value:
            continue
        if table is None:
            table = tomlkit.table()
            doc[opt.section] = table
        elif not isinstance(table, dict):
            return None  # the layout is not one of sections: written afresh
        table[opt.name] = value
    result = doc.as_string()
    return result if load_toml_text(result) is not None else None


def save_settings(settings: Settings, path: Path | None = None) -> Path | None:
    """Write the settings atomically. A valid file of the user's is edited in place (only the
    values that changed; comments kept). If the file on disk was bad, it is first kept aside
    (``settings.toml.bad-YYYYmmdd-HHMMSS``); that path is returned so the user can be told.
    """
    path = path or settings.path or default_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    kept: Path | None = None
    if settings.file_was_bad and path.exists():
        kept = path.with_name(f"{path.name}.bad-{time.strftime('%Y%m%d-%H%M%S')}")
        n = 1
        while kept.exists():
            kept = kept.with_name(f"{kept.name.split('~')[0]}~{n}")
            n += 1
        os.replace(path, kept)
    edited = _edited_text(settings, path) if kept is None and path.is_file() else None
    atomic_write_text(path, edited if edited is not None else render_settings(settings))
    settings.path = path
    settings.file_was_bad = False
    return kept
