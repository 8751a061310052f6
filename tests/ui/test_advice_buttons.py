"""A button beside a piece of advice that does what it says: the system's network settings or
task manager (started for real: a program of that name on PATH records how it was started), or
one of the app's own actions; where the system has no known way, the window says so."""

from __future__ import annotations

import os
import stat
import sys

import pytest

from connectcheck.ui import desktop
from tests.assess import fixtures
from tests.ui.conftest import assessed, degraded_result, offline_result, show_result


def fake_program(folder, name, record):
    """A program on PATH that writes the arguments it was started with into ``record``."""
    path = folder / name
    body = f"import sys\nopen({str(record)!r}, 'w').write(' '.join(sys.argv[1:]) + '\\n')\n"
    path.write_text(f"#!{sys.executable}\n{body}")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


@pytest.fixture
def private_path(tmp_path, monkeypatch):
    folder = tmp_path / "bin"
    folder.mkdir()
    monkeypatch.setenv("PATH", str(folder))
    return folder


def buttons(app):
    return {key: b.text() for key, b in app.status.advice_buttons.items()}


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the Linux desktops' programs")
def test_offline_opens_the_network_settings_for_real(make_app, private_path, tmp_path, qtbot):
    record = tmp_path / "started.txt"
    fake_program(private_path, "gnome-control-center", record)
    app = make_app()
    show_result(app, offline_result())
    assert buttons(app)["offline"] == "Open the network settings"
    app.status.advice_buttons["offline"].click()
    qtbot.waitUntil(record.exists, timeout=10_000)
    qtbot.waitUntil(lambda: record.read_text() == "wifi\n", timeout=5000)  # its Wi-Fi page


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the Linux desktops' programs")
def test_without_a_known_way_the_window_says_where_to_look(make_app, private_path):
    app = make_app()
    show_result(app, offline_result())
    button = app.status.advice_buttons["offline"]
    button.click()
    told = button.parentWidget().findChildren(type(app.status.headline))[0]
    assert told.isVisibleTo(app.status)
    assert told.text() == ("connectcheck cannot open the network settings on this system: open them from "
                           "the system menu (usually the network icon near the clock).")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the Linux desktops' programs")
def test_a_busy_program_gets_the_task_manager(make_app, private_path, tmp_path, qtbot):
    record = tmp_path / "started.txt"
    fake_program(private_path, "xfce4-taskmanager", record)
    app = make_app()
    show_result(app, degraded_result())  # Steam downloading
    key = next(k for k in app.status.advice_buttons if k.startswith("pause_"))
    assert buttons(app)[key] == "Show the programs running"
    app.status.advice_buttons[key].click()
    qtbot.waitUntil(record.exists, timeout=10_000)


def test_each_system_has_its_own_way():
    assert desktop.system_tool("network", "windows") == ("url", ("ms-settings:network-status",))
    assert desktop.system_tool("tasks", "windows", which=lambda name: None) == ("run", ("taskmgr.exe",))
    found = desktop.system_tool("network", "macos", which=lambda name: "/usr/bin/open")
    assert found == ("run", ("open", "/System/Library/PreferencePanes/Network.prefPane"))
    kde = desktop.system_tool("network", "linux", which=lambda name: name if name == "kcmshell6" else None)
    assert kde == ("run", ("kcmshell6", "kcm_networkmanagement"))
    assert desktop.system_tool("network", "linux", which=lambda name: None) is None


def test_the_procedure_advice_opens_the_guide(make_app):
    app = make_app()
    failing = assessed(fixtures.check(loss_pct=12))  # neither sound nor the whiteboard: cannot go ahead
    show_result(app, failing)
    keys = buttons(app)
    advice = [a.key for a in failing.assessment.advice]
    assert "follow_procedure" in advice and "phone_for_sound" in advice
    assert list(keys.values()).count("Open “The lesson can't go on…”") == 1  # one button for one thing
    [key] = [k for k, text in keys.items() if text == "Open “The lesson can't go on…”"]
    app.status.advice_buttons[key].click()
    guide = app.windows.get("guide")
    assert guide is not None and guide.isVisible()


def test_no_path_is_needed_for_the_app_actions(make_app, monkeypatch):
    monkeypatch.setenv("PATH", os.devnull)
    app = make_app()
    show_result(app, assessed(fixtures.quick_check()))
    assert buttons(app).get("full_check") == "Run a full check"
