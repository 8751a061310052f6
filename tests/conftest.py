"""Test setup shared by every test: Qt offscreen, and private folders for settings and data."""

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest


@pytest.fixture(autouse=True)
def _private_dirs(tmp_path_factory, monkeypatch):
    """Every test gets its own config, data, cache and log folders: the user's are never touched."""
    base = tmp_path_factory.mktemp("appdirs")
    for name in ("CONFIG", "DATA", "CACHE", "LOG"):
        folder = base / name.lower()
        folder.mkdir()
        monkeypatch.setenv(f"CONNECTCHECK_{name}_DIR", str(folder))
    # Never probe the router (or send UPnP discovery into the network) of the machine the tests run
    # on: the lab's tests point checks at their own gateway namespace instead.
    monkeypatch.setenv("CONNECTCHECK_HOME_ROUTER", "off")
