"""The Windows installer script (installer/windows/connectcheck.iss) cannot be compiled here (Inno Setup
is a Windows program): these tests check it for the values it must share with the app, which come
from the app's own code through the generated defines.iss, and for what it must do."""

from __future__ import annotations

import ntpath
import re

import bundle
import platformdirs
import platformdirs.windows
import pytest

from connectcheck.core import paths
from connectcheck.ui import autostart

ISS = bundle.HERE / "windows" / "connectcheck.iss"
TEXT = ISS.read_text(encoding="utf-8")
CODE = TEXT.split("[Code]", 1)[1]


def _defines(version: str = "1.2.3") -> dict[str, str]:
    return dict(re.findall(r'^#define (\w+) "([^"]*)"$', bundle.iss_defines(version), re.M))


def _section(name: str) -> str:
    return re.search(rf"^\[{name}\]\n(.*?)(?=^\[|\Z)", TEXT, re.M | re.S).group(1)


def test_the_defines_come_from_the_apps_code():
    d = _defines()
    assert d["RunKey"] == autostart.RUN_KEY
    assert d["RunValue"] == autostart.APP_ID
    assert d["AutostartFlag"] == autostart.AUTOSTART_FLAG
    assert d["AppExe"] == f"{bundle.APP}.exe" and d["CliExe"] == f"{bundle.CLI}.exe"
    assert d["DataFolder"] == paths.APP_NAME and d["AppVersion"] == "1.2.3"


def test_every_define_is_used_and_no_shared_value_is_written_out():
    for name in _defines():
        assert "{#" + name + "}" in TEXT, name
    body = TEXT.split("#endif", 1)[1]
    for value in (autostart.RUN_KEY, "CurrentVersion\\Run", autostart.AUTOSTART_FLAG, bundle.QUIT_FLAG):
        assert value not in body, f"{value!r} is written out instead of taken from defines.iss"


def test_it_installs_for_this_user_without_administrator_rights():
    setup = _section("Setup")
    assert re.search(r"^PrivilegesRequired=lowest$", setup, re.M)
    assert "PrivilegesRequiredOverridesAllowed" not in setup  # no way to ask for elevation
    assert re.search(r"^DefaultDirName=\{autopf\}\\\{#AppName\}$", setup, re.M)  # %LOCALAPPDATA%\Programs
    assert "{autoprograms}" in _section("Icons")  # the user's Start menu


def test_start_at_login_is_an_unticked_task_writing_the_apps_run_value():
    assert re.search(r'^Name: "startatlogin";.*Flags: unchecked$', _section("Tasks"), re.M)
    registry = _section("Registry")
    assert 'Root: HKCU; Subkey: "{#RunKey}"' in registry and 'ValueName: "{#RunValue}"' in registry
    assert "ValueData: \"{code:AutostartCommand}\"" in registry and "Tasks: startatlogin" in registry


@pytest.mark.parametrize("folder", [r"C:\Users\ann\AppData\Local\Programs\connectcheck",
                                    r"C:\Users\Ann Lee\AppData\Local\Programs\connectcheck"])
def test_the_run_value_is_written_as_the_app_writes_it(folder):
    """AutostartCommand quotes the program only when its path has a space or a tab, as the app's
    subprocess.list2cmdline does: the same data whichever of the two wrote it."""
    exe = ntpath.join(folder, f"{bundle.APP}.exe")
    app_writes = autostart.entry("windows", [exe, autostart.AUTOSTART_FLAG]).content
    quoted = f'"{exe}"' if (" " in exe or "\t" in exe) else exe
    assert app_writes == f"{quoted} {autostart.AUTOSTART_FLAG}"
    assert "if (Pos(' ', Exe) > 0) or (Pos(#9, Exe) > 0) then" in CODE
    assert "Result := Exe + ' {#AutostartFlag}';" in CODE


def test_the_running_app_is_closed_before_installing_and_uninstalling():
    assert "Exec(ExpandConstant('{app}\\{#AppExe}'), '{#QuitFlag}'" in CODE
    for hook in ("function PrepareToInstall(", "function InitializeUninstall("):
        body = CODE.split(hook, 1)[1].split("end;", 1)[0]
        assert "CloseRunningApp()" in body, hook
    assert "InUse(ExpandConstant('{app}\\{#AppExe}')) or InUse(ExpandConstant('{app}\\{#CliExe}'))" in CODE


def test_the_uninstaller_removes_the_run_value_and_asks_before_deleting_the_users_files():
    steps = CODE.split("procedure CurUninstallStepChanged", 1)[1]
    assert "RegDeleteValue(HKEY_CURRENT_USER, '{#RunKey}', '{#RunValue}')" in steps
    ask = CODE.split("procedure AskToDeleteUserData", 1)[1].split("procedure ", 1)[0]
    assert "UninstallSilent()" in ask  # a silent uninstall keeps them
    assert ask.index("MsgBox(") < ask.index("DelTree(")
    assert "MB_DEFBUTTON2" in ask  # "No" is the default answer
    assert "Folder := ExpandConstant('{localappdata}\\{#DataFolder}');" in ask


def test_the_deleted_folder_holds_all_the_users_files_on_windows(monkeypatch):
    """platformdirs on Windows, as paths.py asks it: settings, history, cache and logs all live in
    %LOCALAPPDATA%\\connectcheck, the one folder the uninstaller offers to delete."""
    local = r"C:\Users\ann\AppData\Local"
    monkeypatch.setattr(platformdirs.windows, "get_win_folder", lambda csidl: {
        "CSIDL_LOCAL_APPDATA": local, "CSIDL_APPDATA": r"C:\Users\ann\AppData\Roaming"}[csidl])
    monkeypatch.setattr(platformdirs, "PlatformDirs", platformdirs.windows.Windows)
    for name in ("CONFIG", "DATA", "CACHE", "LOG"):
        monkeypatch.delenv(f"CONNECTCHECK_{name}_DIR", raising=False)
    folder = ntpath.join(local, _defines()["DataFolder"])
    for where in (paths.config_dir(), paths.data_dir(), paths.cache_dir(), paths.log_dir()):
        assert str(where).replace("/", "\\").startswith(folder), where


def test_the_files_it_takes_are_where_the_build_puts_them():
    here = ISS.parent
    source = re.search(r'^Source: "([^"]+)"', _section("Files"), re.M).group(1)
    folder = source.replace("{#AppName}", bundle.APP).rstrip("*").rstrip("\\").replace("\\", "/")
    assert (here / folder).resolve() == (bundle.DIST / bundle.APP).resolve()
    icon = re.search(r"^SetupIconFile=(.+)$", _section("Setup"), re.M).group(1).replace("\\", "/")
    assert (here / icon).resolve() == (bundle.BUILD / "icons" / "connectcheck.ico").resolve()
    include = re.search(r'^#include "([^"]+)"', TEXT, re.M).group(1).replace("\\", "/")
    assert (here / include).resolve() == (bundle.BUILD / "defines.iss").resolve()


def test_the_app_id_never_changes():
    """Windows knows an installed program by it: a new one would install beside the old."""
    assert "AppId={{C9F8C1CF-32FD-4237-84A8-147C8E029A55}" in _section("Setup")


def test_the_script_is_plain_text_inno_setup_reads():
    data = ISS.read_bytes()
    data.decode("ascii")
    assert b"\t" not in data
