"""Start at login: the Linux autostart file for real (in a private XDG_CONFIG_HOME), the macOS
LaunchAgent written into a private home, and the Windows Run value by what would be written."""

import configparser
import plistlib
import subprocess
import sys

import pytest

from connectcheck.ui import autostart


@pytest.fixture(autouse=True)
def private_home(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    return tmp_path


def read_desktop(path):
    parser = configparser.ConfigParser(interpolation=None)
    parser.optionxform = str
    parser.read(path, encoding="utf-8")
    return parser["Desktop Entry"]


def test_linux_enable_writes_an_xdg_autostart_file_and_disable_removes_it(private_home):
    assert not autostart.is_enabled("linux")
    entry = autostart.enable("linux")
    path = private_home / "xdg" / "autostart" / "connectcheck.desktop"
    assert entry.location == str(path) and path.is_file()
    desktop = read_desktop(path)
    assert desktop["Type"] == "Application" and desktop["Terminal"] == "false"
    assert desktop["Exec"].endswith("-m connectcheck.ui --autostart")
    assert autostart.is_enabled("linux")
    autostart.disable("linux")
    assert not path.exists() and not autostart.is_enabled("linux")
    autostart.disable("linux")  # nothing to do: no error


def test_linux_defaults_to_dot_config_without_xdg_config_home(private_home, monkeypatch):
    monkeypatch.delenv("XDG_CONFIG_HOME")
    assert autostart.entry("linux").location == str(
        private_home / "home" / ".config" / "autostart" / "connectcheck.desktop"
    )


def test_the_linux_command_starts_the_app_for_real(private_home):
    """The Exec line, run as the desktop would run it, reaches the app's own option parser."""
    import shlex

    exec_line = read_desktop(autostart.enable("linux").location)["Exec"]
    argv = shlex.split(exec_line)
    assert argv[:3] == [sys.executable, "-m", "connectcheck.ui"]
    out = subprocess.run(
        [*argv[:3], "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        env={"QT_QPA_PLATFORM": "offscreen", "PATH": "/usr/bin:/bin"},
    )
    assert "--autostart" in out.stdout


@pytest.mark.parametrize(
    ("arg", "expected"),
    [
        ("/usr/bin/python3", "/usr/bin/python3"),
        ("/home/a b/py", '"/home/a b/py"'),
        ("100%", "100%%"),
        ('C:\\Program Files\\x"y', '"C:\\\\\\\\Program Files\\\\\\\\x\\\\"y"'),
    ],
)
def test_desktop_exec_quoting_follows_the_spec(arg, expected):
    assert autostart.desktop_exec([arg]) == expected


def test_macos_launch_agent(private_home):
    entry = autostart.enable(
        "macos", ["/Applications/connectcheck.app/Contents/MacOS/connectcheck", "--autostart"]
    )
    path = private_home / "home" / "Library" / "LaunchAgents" / "org.connectcheck.tray.plist"
    assert entry.location == str(path)
    plist = plistlib.loads(path.read_bytes())
    assert plist["Label"] == "org.connectcheck.tray"
    assert plist["ProgramArguments"] == [
        "/Applications/connectcheck.app/Contents/MacOS/connectcheck",
        "--autostart",
    ]
    assert plist["RunAtLoad"] is True and plist["ProcessType"] == "Interactive"
    assert autostart.is_enabled("macos")
    autostart.disable("macos")
    assert not path.exists()


def test_windows_run_value():
    entry = autostart.entry("windows", [r"C:\Program Files\connectcheck\connectcheck.exe", "--autostart"])
    assert entry.kind == "registry"
    assert entry.location == r"HKEY_CURRENT_USER\Software\Microsoft\Windows\CurrentVersion\Run"
    assert entry.name == "connectcheck"
    assert entry.content == r'"C:\Program Files\connectcheck\connectcheck.exe" --autostart'


@pytest.mark.skipif(sys.platform.startswith("win"), reason="the registry is there on Windows")
def test_windows_elsewhere_says_why_it_cannot():
    with pytest.raises(autostart.AutostartError, match="Windows registry is not available"):
        autostart.enable("windows")


def test_an_unwritable_folder_gives_a_plain_error(private_home):
    (private_home / "xdg").write_text("a file where the folder should be")
    with pytest.raises(autostart.AutostartError, match="start at login could not be set up"):
        autostart.enable("linux")


def test_the_source_install_uses_pythonw_on_windows(monkeypatch, tmp_path):
    python = tmp_path / "python.exe"
    (tmp_path / "pythonw.exe").write_text("")
    monkeypatch.setattr(sys, "executable", str(python))
    assert autostart.launch_command()[0] == str(tmp_path / "pythonw.exe")
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    assert autostart.launch_command() == [str(python), "--autostart"]
