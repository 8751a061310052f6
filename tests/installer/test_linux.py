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

from connectcheck.core import paths
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


def _fake_archive(tmp_path: Path, needs: list[str]) -> Path:
    """An unpacked archive whose X11 plugin is a real shared object linking to ``needs``, libraries
    that existed when it was linked and are gone now (as on a machine that lacks them)."""
    gcc = shutil.which("gcc") or shutil.which("cc")
    if gcc is None or shutil.which("ldd") is None:
        pytest.skip("needs a C compiler and ldd to make a plugin that links to a missing library")
    stubs = tmp_path / "stubs"
    stubs.mkdir()
    (stubs / "stub.c").write_text("int stub(void) { return 0; }\n")
    for soname in needs:
        subprocess.run([gcc, "-shared", "-fPIC", "-o", str(stubs / soname), f"-Wl,-soname,{soname}",
                        str(stubs / "stub.c")], check=True)
    archive = tmp_path / "connectcheck"
    plugins = archive / "_internal" / "PySide6" / "Qt" / "plugins" / "platforms"
    plugins.mkdir(parents=True)
    subprocess.run([gcc, "-shared", "-fPIC", "-o", str(plugins / "libqxcb.so"), str(stubs / "stub.c"),
                    "-Wl,--no-as-needed", f"-L{stubs}", *[f"-l:{soname}" for soname in needs]], check=True)
    shutil.rmtree(stubs)
    resources = archive / "_internal" / "connectcheck" / "resources"
    shutil.copytree(paths.resource_dir() / "linux", resources / "linux")
    with (resources / "linux" / "libraries.tsv").open("a") as listed:  # libraries no machine has
        listed.write("libcc-test-one.so.4\tcc-test-one4\tcc-test-one\tx11\n"
                     "libcc-test-two.so.1\tcc-test-two1\tcc-test-two\tx11\n")
    shutil.copy(INSTALL, archive / "install.sh")
    program = archive / bundle.APP
    program.write_text("#!/bin/sh\nexit 0\n")
    program.chmod(0o755)
    return archive


def test_install_sh_names_the_packages_of_missing_libraries_and_installs_nothing(tmp_path):
    archive = _fake_archive(tmp_path, ["libcc-test-one.so.4", "libcc-test-two.so.1", "libcc-unknown.so.1"])
    home = tmp_path / "home"
    done = subprocess.run(["sh", str(archive / "install.sh")], capture_output=True, text=True,
                          env={"HOME": str(home), "PATH": os.environ["PATH"]}, check=False)
    assert done.returncode == 1
    assert "  libcc-test-one.so.4\n  libcc-test-two.so.1\n  libcc-unknown.so.1\n" in done.stdout
    assert "sudo apt install cc-test-one4 cc-test-two1\n" in done.stdout  # the unknown one has no package
    assert "sudo dnf install cc-test-one cc-test-two\n" in done.stdout
    assert not (home / ".local" / "opt").exists()  # nothing was installed


def test_install_sh_goes_on_when_the_libraries_are_there(tmp_path):
    archive = _fake_archive(tmp_path, [])
    (archive / bundle.APP).with_suffix(".desktop").write_text(DESKTOP.read_text())
    (archive / "icons" / "hicolor").mkdir(parents=True)
    home = tmp_path / "home"
    done = subprocess.run(["sh", str(archive / "install.sh")], capture_output=True, text=True,
                          env={"HOME": str(home), "PATH": os.environ["PATH"]}, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    assert (home / ".local" / "opt" / bundle.APP / bundle.APP).exists()
