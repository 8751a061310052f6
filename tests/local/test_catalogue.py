"""The app catalogue: the bundled file is valid for every system and speaks the advice rules'
language; names match whole or cut short as the systems cut them; mistakes fail loudly."""

from __future__ import annotations

import tomllib

import pytest

from connectcheck.assess.advice import default_rules
from connectcheck.core import paths
from connectcheck.local.catalogue import (
    ADVICE_KEYS,
    CATEGORIES,
    OS_NAMES,
    CatalogueError,
    load_catalogue,
    parse_catalogue,
)


@pytest.mark.parametrize("os_name", OS_NAMES)
def test_bundled_catalogue_loads(os_name):
    cat = load_catalogue(os_name)
    assert cat.app_for("no-such-program") is None


def test_categories_and_advice_keys_are_the_advice_rules_own():
    rules = default_rules()
    assert CATEGORIES == set(rules.categories)
    program_rules = {r.key for r in rules.rules if r.per_program}
    assert ADVICE_KEYS == program_rules


@pytest.mark.parametrize(
    "os_name, name, app, category, advice",
    [
        ("windows", "steam.exe", "Steam", "game_launcher", "pause_game_launcher"),
        ("windows", "STEAMWEBHELPER.EXE", "Steam", "game_launcher", "pause_game_launcher"),
        ("windows", "OneDrive.exe", "OneDrive", "cloud_sync", "pause_cloud_sync"),
        ("windows", "qbittorrent.exe", "qBittorrent", "torrent", "close_torrent"),
        ("macos", "Steam Helper", "Steam", "game_launcher", "pause_game_launcher"),
        ("macos", "softwareupdated", "macOS Software Update", "os_updates", "pause_updates"),
        ("linux", "steamwebhelper", "Steam", "game_launcher", "pause_game_launcher"),
        ("linux", "unattended-upgr", "Software updates", "os_updates", "pause_updates"),
        (
            "linux",
            "transmission-da",
            "Transmission",
            "torrent",
            "close_torrent",
        ),  # the kernel's 15 characters
        ("linux", "teams-for-linux", "Microsoft Teams", "video_call", "close_call_app"),
    ],
)
def test_process_names_to_apps(os_name, name, app, category, advice):
    entry = load_catalogue(os_name).app_for(name)
    assert (entry.app, entry.category, entry.advice_key) == (app, category, advice)


def test_browsers_and_their_page_processes():
    mac = load_catalogue("macos")
    chrome = mac.browser_for("Google Chrome H")  # as nettop cuts "Google Chrome Helper (Renderer)"
    assert chrome.app == "Google Chrome"
    assert chrome.is_content("Google Chrome Helper (Renderer)", ["--type=renderer", "--lang=en-GB"])
    assert not chrome.is_content("Google Chrome Helper (GPU)", ["--type=gpu-process"])
    linux = load_catalogue("linux")
    firefox = linux.browser_for("Isolated Web Co")
    assert firefox.app == "Firefox" and firefox.is_content("Isolated Web Co", [])
    assert linux.app_for("firefox").category == "browser" and linux.app_for("firefox").advice_key is None
    assert load_catalogue("windows").browser_for("msedge.exe").app == "Microsoft Edge"


def _data():
    with open(paths.resource_path("apps.toml"), "rb") as f:
        return tomllib.load(f)


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda d: d["apps"][0].update(category="gaming"), "unknown category 'gaming'"),
        (lambda d: d["apps"][0].update(advice="pause_steam"), "unknown advice key"),
        (lambda d: d["apps"][0].update(windows="steam.exe"), "must be a list of process names"),
        (lambda d: d["apps"][0].update(colour="blue"), "unknown fields ['colour']"),
        (lambda d: d["browsers"][0].update(content_args="--type=renderer"), "must be a list of texts"),
        (lambda d: d.update(format=2), "format must be 1"),
    ],
)
def test_catalogue_mistakes_fail_loudly(change, message):
    data = _data()
    change(data)
    with pytest.raises(CatalogueError, match=message.replace("[", r"\[").replace("]", r"\]")):
        parse_catalogue(data, "windows")


def test_an_unknown_system_is_refused():
    with pytest.raises(CatalogueError):
        parse_catalogue(_data(), "beos")
