"""The Linux packaging: the desktop entry (its keys, and the names the app gives itself to the
desktop) and install.sh (its syntax, and that the folders it offers to delete are the app's own).
installer/build.py runs install.sh on the real archive: installing, starting, uninstalling."""

from __future__ import annotations

import configparser
import os
import shutil
import subprocess
from pathlib import Path

import bundle
import pytest

from connectcheck import paths
from connectcheck.ui.app import make_application

LINUX = bundle.HERE / "linux"
DESKTOP = LINUX / f"{bundle.APP}.desktop"
INSTALL = LINUX / "install.sh"


def _entry() -> dict[str, str]:
    parser = configparser.ConfigParser(interpolation=None)
    parser.optionxform = str
    parser.read(DESKTOP, encoding="utf-8")
    return dict(parser["Desktop Entry"])


def test_the_desktop_entry_starts_the_tray_app_with_its_icon():
    entry = _entry()
    assert entry["Type"] == "Application" and entry["Terminal"] == "false"
    assert entry["Exec"] == bundle.APP  # install.sh writes the installed program's full path here
    assert entry["Icon"] == "connectcheck"  # the hicolor theme name icons.py writes
    assert "Network" in entry["Categories"].split(";")


def test_the_desktop_entry_matches_the_names_the_app_gives_itself(qapp):
    """Wayland finds a window's entry by the desktop file name, X11 by the window class."""
    app = make_application()
    assert DESKTOP.name == f"{app.desktopFileName()}.desktop"
    assert _entry()["StartupWMClass"] == app.applicationName()


def test_the_desktop_entry_is_valid():
    if shutil.which("desktop-file-validate") is None:
        pytest.skip("desktop-file-validate is not installed (apt-get install desktop-file-utils)")
    done = subprocess.run(["desktop-file-validate", str(DESKTOP)], capture_output=True, text=True,
                          check=False)
    assert done.returncode == 0 and not done.stdout.strip(), done.stdout


def test_install_sh_is_valid_shell():
    subprocess.run(["sh", "-n", str(INSTALL)], check=True)
    assert os.access(INSTALL, os.X_OK)
    done = subprocess.run(["sh", str(INSTALL), "--help"], capture_output=True, text=True, check=True)
    assert "--uninstall" in done.stdout and "--folders" in done.stdout


@pytest.mark.parametrize("xdg", [False, True])
def test_install_sh_deletes_exactly_the_apps_folders(tmp_path, monkeypatch, xdg):
    """What ``install.sh --uninstall`` offers to delete holds every folder paths.py uses (platformdirs
    with the XDG variables set or not), and nothing else."""
    env = {"HOME": str(tmp_path), "PATH": os.environ["PATH"]}
    for name in ("CONFIG", "DATA", "CACHE", "STATE"):
        monkeypatch.delenv(f"XDG_{name}_HOME", raising=False)
        if xdg:
            env[f"XDG_{name}_HOME"] = str(tmp_path / f"xdg-{name.lower()}")
            monkeypatch.setenv(f"XDG_{name}_HOME", env[f"XDG_{name}_HOME"])
    for name in ("CONFIG", "DATA", "CACHE", "LOG"):
        monkeypatch.delenv(f"CONNECTCHECK_{name}_DIR", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    done = subprocess.run(["sh", str(INSTALL), "--folders"], env=env, capture_output=True, text=True,
                          check=True)
    offered = [Path(line) for line in done.stdout.splitlines()]
    used = [paths.config_dir(), paths.data_dir(), paths.cache_dir(), paths.log_dir()]
    for folder in used:
        assert any(folder == o or o in folder.parents for o in offered), folder
    for folder in offered:
        assert folder.name == paths.APP_NAME and folder.parent != tmp_path


def test_install_sh_refuses_to_run_outside_the_archive(tmp_path):
    done = subprocess.run(["sh", str(INSTALL)], env={"HOME": str(tmp_path), "PATH": os.environ["PATH"]},
                          capture_output=True, text=True, check=False)
    assert done.returncode == 1 and "run this from the unpacked connectcheck archive" in done.stderr
    assert not (tmp_path / ".local").exists()
