"""The settings dialog over the schema: every option editable, invalid input refused with the
reason, thresholds reset, changes saved and used, start at login set up for real."""

import pytest

from connectcheck.config.settings import OPTIONS, SCHEMA, load_settings
from connectcheck.ui.settings_dialog import NOT_SHOWN, SettingsDialog, caption


@pytest.fixture
def dialog(make_app, qtbot, tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    app = make_app()
    d = SettingsDialog(app.controller)
    qtbot.addWidget(d)
    d.show()
    d.app = app
    return d


def test_every_option_of_the_schema_has_an_editor_with_its_help(dialog):
    assert set(dialog.fields) == {o.key for o in SCHEMA} - NOT_SHOWN
    for key, field in dialog.fields.items():
        assert field.widget.toolTip() == OPTIONS[key].help
        assert field.widget.accessibleName()
    tabs = [dialog.tabs.tabText(i) for i in range(dialog.tabs.count())]
    assert tabs == ["Start", "Organisation", "Reports", "Monitoring", "History", "Measuring", "Thresholds"]


def test_the_tabs_for_support_staff_say_so_at_their_top(dialog):
    from PySide6.QtWidgets import QLabel

    for i in range(dialog.tabs.count()):
        page = dialog.tabs.widget(i).widget()
        words = " ".join(label.text() for label in page.findChildren(QLabel))
        assert ("For support staff" in words) == (dialog.tabs.tabText(i) in {"Monitoring", "Measuring",
                                                                             "Thresholds"})


def test_labels_read_as_words():
    assert caption(OPTIONS["speed.time_limit_s"]) == "Time limit (s)"
    assert caption(OPTIONS["network.stun_servers"]) == "STUN servers"
    assert caption(OPTIONS["organisation.support_email"]) == "Support e-mail address"


def test_invalid_input_is_refused_with_the_reason_and_nothing_is_saved(dialog):
    dialog.fields["organisation.support_email"].set("not an address")
    dialog.fields["network.stun_servers"].set(["stun.example.org"])
    dialog.accept()
    assert dialog.isVisible()
    email = dialog.fields["organisation.support_email"].problem
    assert email.isVisibleTo(dialog) and "name@example.org" in email.text()
    assert "host:port" in dialog.fields["network.stun_servers"].problem.text()
    assert "2 settings cannot be used" in dialog.summary.text()
    assert dialog.tabs.tabText(dialog.tabs.currentIndex()) == "Organisation"
    assert not (dialog.app.controller.settings.path).exists()


def test_a_good_limit_worse_than_the_failing_one_is_refused(dialog):
    dialog.fields["thresholds.sound_rtt_ms_good"].set(500.0)  # fails beyond 400 ms
    dialog.accept()
    problem = dialog.fields["thresholds.sound_rtt_ms_good"].problem
    assert problem.isVisibleTo(dialog) and "above the fail limit" in problem.text()
    assert dialog.tabs.tabText(dialog.tabs.currentIndex()) == "Thresholds"


def test_reset_to_defaults_puts_the_thresholds_back(dialog):
    dialog.fields["thresholds.video_upload_mbps_good"].set(5.0)
    dialog.reset_thresholds()
    assert (
        dialog.fields["thresholds.video_upload_mbps_good"].get()
        == OPTIONS["thresholds.video_upload_mbps_good"].default
    )


def test_valid_changes_are_saved_and_used(dialog):
    controller = dialog.app.controller
    dialog.fields["monitor.interval_s"].set(10.0)
    dialog.fields["thresholds.video_upload_mbps_good"].set(2.0)
    dialog.fields["network.stun_servers"].set(["stun.example.org:3478"])
    dialog.accept()
    assert not dialog.isVisible()
    saved = load_settings(controller.settings.path)
    assert saved.problems == []
    assert saved["monitor.interval_s"] == 10.0 and saved["network.stun_servers"] == ["stun.example.org:3478"]
    assert controller.thresholds().limit("video", "upload_mbps").good == 2.0


def test_start_at_login_says_what_really_happens_at_login(dialog, tmp_path):
    """The box and the line under it show the system's state, not just the setting: an entry
    removed by hand shows as off, and OK with the box ticked puts it back."""
    desktop = tmp_path / "xdg" / "autostart" / "connectcheck.desktop"
    box = dialog.fields["app.start_at_login"]
    assert box.get() is False and dialog.login_state.isVisibleTo(dialog)
    assert dialog.login_state.text().startswith("Now: connectcheck does not start when you log in")
    box.set(True)
    assert dialog.login_state.text().startswith("After OK, connectcheck will start when you log in")
    dialog.accept()
    assert desktop.is_file()
    again = SettingsDialog(dialog.app.controller)
    assert again.fields["app.start_at_login"].get() is True
    assert again.login_state.text() == f"Now: connectcheck starts when you log in (set up in {desktop})."
    again.fields["app.start_at_login"].set(False)
    assert again.login_state.text() == "Now connectcheck starts when you log in; after OK it will not."
    again.reject()
    desktop.unlink()  # removed by hand (or by a clean-up tool): the setting still says yes
    assert dialog.app.controller.settings["app.start_at_login"] is True
    third = SettingsDialog(dialog.app.controller)
    assert third.fields["app.start_at_login"].get() is False
    assert "does not start" in third.login_state.text()
    third.fields["app.start_at_login"].set(True)
    third.accept()
    assert desktop.is_file()  # the setting did not change, the system did: it is set up again


def test_start_at_login_writes_the_autostart_file(dialog, tmp_path):
    dialog.fields["app.start_at_login"].set(True)
    dialog.accept()
    desktop = tmp_path / "xdg" / "autostart" / "connectcheck.desktop"
    assert desktop.is_file() and "Exec=" in desktop.read_text()
    again = SettingsDialog(dialog.app.controller)
    again.fields["app.start_at_login"].set(False)
    again.accept()
    assert not desktop.exists()
