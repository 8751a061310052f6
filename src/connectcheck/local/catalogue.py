"""The catalogue of bandwidth-hungry programs and of browsers (``resources/apps.toml``).

It turns a process name into the program people know ("steamwebhelper" → Steam), its category
and the advice rule that says what to do about it. That way a running Steam, OneDrive or torrent
client is named even where this computer cannot measure its traffic.
"""

from __future__ import annotations

import functools
import tomllib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from connectcheck.core import paths

FILE_NAME = "apps.toml"
OS_NAMES = ("linux", "macos", "windows")
CATEGORIES = frozenset(
    {
        "video_streaming",
        "music_streaming",
        "game_launcher",
        "game",
        "cloud_sync",
        "backup",
        "os_updates",
        "torrent",
        "video_call",
        "browser",
    }
)
ADVICE_KEYS = frozenset(
    {
        "pause_streaming",
        "pause_game_launcher",
        "pause_cloud_sync",
        "pause_updates",
        "close_torrent",
        "close_call_app",
        "pause_program",
    }
)
BROWSER = "browser"
# Linux keeps 15 characters of a process name; macOS 16, and nettop prints 15.
SHORT_NAME_LENGTHS = (15, 16)


class CatalogueError(ValueError):
    """The catalogue file is wrong (an installation or editing mistake)."""


@dataclass(frozen=True)
class AppEntry:
    """A known program: its display name, category and advice rule (None for browsers)."""

    app: str
    category: str
    advice_key: str | None = None


@dataclass(frozen=True)
class BrowserEntry:
    """A browser and how to tell its page (content/renderer) processes."""

    app: str
    content_args: tuple[str, ...] = ()
    content_names: tuple[str, ...] = ()

    def is_content(self, name: str, argv: Sequence[str]) -> bool:
        """Whether a process of this browser renders pages (by its name or its arguments)."""
        folded = name.casefold()
        return any(folded == n.casefold() for n in self.content_names) or any(
            a in self.content_args for a in argv
        )


class _Names:
    """Process names → values, matching whole names or names the OS cut short."""

    def __init__(self) -> None:
        self.exact: dict[str, Any] = {}
        self.short: dict[int, dict[str, Any]] = {n: {} for n in SHORT_NAME_LENGTHS}

    def add(self, name: str, value: Any) -> None:
        folded = name.casefold()
        self.exact.setdefault(folded, value)
        for length, table in self.short.items():
            if len(folded) > length:
                table.setdefault(folded[:length], value)

    def get(self, name: str) -> Any:
        folded = name.casefold()
        found = self.exact.get(folded)
        if found is None and len(folded) in self.short:
            found = self.short[len(folded)].get(folded)
        return found


class Catalogue:
    """The catalogue for one operating system."""

    def __init__(
        self,
        os_name: str,
        apps: Iterable[tuple[AppEntry, Sequence[str]]],
        browsers: Iterable[tuple[BrowserEntry, Sequence[str]]],
    ) -> None:
        self.os_name = os_name
        self._apps = _Names()
        self._browsers = _Names()
        for entry, names in apps:
            for n in names:
                self._apps.add(n, entry)
        for browser, names in browsers:
            for n in names:
                self._browsers.add(n, browser)
                self._apps.add(n, AppEntry(browser.app, BROWSER))

    def app_for(self, name: str) -> AppEntry | None:
        """The known program a process name belongs to (browsers included), or None."""
        return self._apps.get(name)

    def browser_for(self, name: str) -> BrowserEntry | None:
        """The browser a process name belongs to, or None."""
        return self._browsers.get(name)


def _names(entry: Mapping[str, Any], os_name: str, where: str) -> list[str]:
    names = entry.get(os_name, [])
    if not isinstance(names, list) or not all(isinstance(n, str) and n for n in names):
        raise CatalogueError(f"{where}: {os_name} must be a list of process names")
    return names


def _text_list(entry: Mapping[str, Any], key: str, where: str) -> tuple[str, ...]:
    value = entry.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise CatalogueError(f"{where}: {key} must be a list of texts")
    return tuple(value)


def _app(entry: Any, os_name: str, index: int) -> tuple[AppEntry, list[str]]:
    where = f"{FILE_NAME} app {index + 1}"
    if not isinstance(entry, dict) or not isinstance(entry.get("app"), str):
        raise CatalogueError(f"{where}: needs an app name")
    where = f"{FILE_NAME} app {entry['app']!r}"
    if unknown := set(entry) - {"app", "category", "advice", *OS_NAMES}:
        raise CatalogueError(f"{where}: unknown fields {sorted(unknown)}")
    category, advice = entry.get("category"), entry.get("advice")
    if category not in CATEGORIES - {BROWSER}:
        raise CatalogueError(f"{where}: unknown category {category!r}")
    if advice not in ADVICE_KEYS:
        raise CatalogueError(f"{where}: unknown advice key {advice!r}")
    for other in OS_NAMES:
        _names(entry, other, where)
    return AppEntry(entry["app"], category, advice), _names(entry, os_name, where)


def _browser(entry: Any, os_name: str, index: int) -> tuple[BrowserEntry, list[str]]:
    where = f"{FILE_NAME} browser {index + 1}"
    if not isinstance(entry, dict) or not isinstance(entry.get("app"), str):
        raise CatalogueError(f"{where}: needs an app name")
    where = f"{FILE_NAME} browser {entry['app']!r}"
    if unknown := set(entry) - {"app", "content_args", "content_names", *OS_NAMES}:
        raise CatalogueError(f"{where}: unknown fields {sorted(unknown)}")
    for other in OS_NAMES:
        _names(entry, other, where)
    browser = BrowserEntry(
        entry["app"], _text_list(entry, "content_args", where), _text_list(entry, "content_names", where)
    )
    return browser, _names(entry, os_name, where)


def parse_catalogue(data: Mapping[str, Any], os_name: str) -> Catalogue:
    """Build and check the catalogue for ``os_name`` from the parsed file; raises CatalogueError."""
    if os_name not in OS_NAMES:
        raise CatalogueError(f"unknown operating system {os_name!r}")
    if data.get("format") != 1:
        raise CatalogueError(f"{FILE_NAME}: format must be 1")
    apps, browsers = data.get("apps"), data.get("browsers")
    if not isinstance(apps, list) or not isinstance(browsers, list):
        raise CatalogueError(f"{FILE_NAME}: needs [[apps]] and [[browsers]]")
    return Catalogue(
        os_name,
        [_app(a, os_name, i) for i, a in enumerate(apps)],
        [_browser(b, os_name, i) for i, b in enumerate(browsers)],
    )


def load_catalogue(os_name: str, path: Path | None = None) -> Catalogue:
    """Read the catalogue file (the bundled one unless ``path``) for one operating system."""
    if path is None:
        return _bundled(os_name)
    with open(path, "rb") as f:
        return parse_catalogue(tomllib.load(f), os_name)


@functools.cache
def _bundled(os_name: str) -> Catalogue:
    with open(paths.resource_path(FILE_NAME), "rb") as f:
        return parse_catalogue(tomllib.load(f), os_name)
