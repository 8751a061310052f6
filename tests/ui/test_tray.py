"""The tray icon and its menu: state by icon and tooltip, every command reachable and working."""

import pytest
from PySide6.QtWidgets import QSystemTrayIcon

from connectcheck.core.model import CheckKind, Status
from connectcheck.ui import icons
from connectcheck.ui.about import AboutDialog
from connectcheck.ui.guide import GuideDialog
from connectcheck.ui.history_window import HistoryWindow
from connectcheck.ui.settings_dialog import SettingsDialog
from connectcheck.ui.signals import emit
from connectcheck.ui.tray import no_tray_reason
from tests.ui.conftest import (
    ScriptedProbe,
    degraded_result,
    failing_result,
    fast_monitor,
    fast_monitor_options,
    good_result,
    lab_settings,
    offline_result,
    quick_result,
    show_result,
)

MENU = [
    "Open connectcheck",
    None,
    "Check now",
    "Quick check",
    "Start lesson monitoring",
    None,
    "What should I do?",
    "The lesson can't go on…",
    None,
    "Export report…",
    "E-mail support…",
    None,
    "History",
    "Open reports…",
    "Settings",
    "About connectcheck",
    None,
    "Quit",
]


def menu_texts(app):
    return [None if a.isSeparator() else a.text() for a in app.tray.menu.actions()]


def test_the_menu_holds_every_command_in_order(make_app):
    app = make_app()
    assert menu_texts(app) == MENU
    for action in app.tray.menu.actions():
        assert action.isSeparator() or action.toolTip()


@pytest.mark.parametrize(
    ("result", "state", "words"),
    [
        (None, icons.UNCHECKED, "Not checked yet"),
        (good_result, icons.GOOD, "Ready for the lesson"),
        (quick_result, icons.GOOD, "Nothing wrong found so far"),
        (degraded_result, icons.DEGRADED, "with limits"),
        (failing_result, icons.FAILING,
         "Not ready as it is: your internet line is unsteady — use a phone for sound"),
        (offline_result, icons.OFFLINE, "No connection"),
    ],
)
def test_icon_and_tooltip_follow_the_last_check(make_app, result, state, words):
    app = make_app()
    show_result(app, result() if result else None)
    assert app.tray.state == state
    tip = app.tray.icon.toolTip()
    assert words in tip
    assert ("Last full check on Thu 24 Oct at 16:05" in tip) == (result not in (None, quick_result))


def test_a_lesson_that_cannot_go_ahead_shows_the_failing_icon(make_app):
    app = make_app()
    result = failing_result()
    result.assessment.overall = "cannot"
    show_result(app, result)
    assert app.tray.state == icons.FAILING


def test_left_click_opens_the_status_window(make_app):
    app = make_app()
    assert not app.status.isVisible()
    emit(app.tray.icon.activated, QSystemTrayIcon.ActivationReason.Trigger)
    assert app.status.isVisible()
    app.status.hide()
    emit(app.tray.icon.activated, QSystemTrayIcon.ActivationReason.Context)
    assert not app.status.isVisible()


def action(app, text):
    return next(a for a in app.tray.menu.actions() if a.text() == text)


def test_quick_check_from_the_menu_runs_a_real_check(make_app, tmp_path, stun, web):
    app = make_app(lab_settings(tmp_path, stun, web))
    states = []
    app.controller.changed.connect(lambda: states.append(app.tray.state))
    action(app, "Quick check").trigger()
    result = app.controller.last_result
    assert result is not None and result.kind is CheckKind.QUICK and result.status is Status.OK
    assert icons.CHECKING in states
    assert app.tray.state == icons.GOOD
    assert stun.answered >= 5
    assert "Last quick check at" in app.tray.icon.toolTip()
    assert [c.kind for c in app.controller.history.checks()] == ["quick"]


def test_check_now_from_the_menu_runs_a_full_check(make_app, tmp_path, stun, web, speed):
    app = make_app(lab_settings(tmp_path, stun, web, speed))
    action(app, "Check now").trigger()
    result = app.controller.last_result
    assert result.kind is CheckKind.FULL and result.status is Status.OK, result.notes
    assert result.summary.download_mbps and result.summary.upload_mbps
    assert app.status.tiles["download_mbps"].value.text().endswith("Mbit/s")


def test_monitoring_from_the_menu_starts_and_stops(make_app, qtbot):
    probe = ScriptedProbe([20.0, 21.0, 22.0, 20.0, 21.0])
    app = make_app(monitor_factory=fast_monitor(probe), monitor_options=fast_monitor_options)
    action(app, "Start lesson monitoring").trigger()
    assert app.controller.monitoring
    assert action(app, "Stop lesson monitoring") is not None
    qtbot.waitUntil(lambda: len(app.controller.samples) >= 3, timeout=3000)
    assert app.tray.state == icons.MONITORING
    assert "Monitoring the lesson since" in app.tray.icon.toolTip()
    action(app, "Stop lesson monitoring").trigger()
    assert not app.controller.monitoring
    lesson = app.controller.last_lesson
    assert lesson is not None and lesson.ended_at and len(lesson.samples) >= 3
    assert app.controller.history.lessons()[0].id == lesson.id


def test_what_should_i_do_shows_the_advice_and_checks_when_nothing_is_known(make_app, tmp_path, stun, web):
    app = make_app(lab_settings(tmp_path, stun, web))
    action(app, "What should I do?").trigger()
    assert app.status.isVisible()
    assert app.controller.last_result is not None  # a quick check ran to have something to say
    show_result(app, degraded_result())
    action(app, "What should I do?").trigger()
    assert app.status.advice_title.isVisible()


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("The lesson can't go on…", GuideDialog),
        ("History", HistoryWindow),
        ("Settings", SettingsDialog),
        ("About connectcheck", AboutDialog),
    ],
)
def test_window_commands_open_their_window_once(make_app, text, kind):
    app = make_app()
    action(app, text).trigger()
    windows = [w for w in app.windows.values() if isinstance(w, kind)]
    assert len(windows) == 1 and windows[0].isVisible()
    action(app, text).trigger()
    assert [w for w in app.windows.values() if isinstance(w, kind)] == windows


def test_email_support_from_the_menu_opens_the_mail_program(make_app, opened_urls, tmp_path):
    from connectcheck.config.settings import Settings

    settings = Settings(path=tmp_path / "settings.toml")
    settings.values.update({"organisation.support_email": "support@example.org",
                            "report.folder": str(tmp_path)})
    app = make_app(settings)
    show_result(app, degraded_result())
    action(app, "E-mail support…").trigger()
    mail = [u for u in opened_urls if u.startswith("mailto:")]
    assert mail and mail[0].startswith("mailto:support@example.org?subject=Technical%20difficulties")


def test_quit_stops_monitoring_saves_the_lesson_and_ends(make_app, qtbot):
    probe = ScriptedProbe([20.0] * 5)
    app = make_app(monitor_factory=fast_monitor(probe), monitor_options=fast_monitor_options)
    app.controller.start_monitoring()
    qtbot.waitUntil(lambda: len(app.controller.samples) >= 2, timeout=3000)
    with qtbot.waitSignal(app.quit_requested, timeout=3000):
        action(app, "Quit").trigger()
    assert not app.controller.monitoring
    assert app.controller.last_lesson.ended_at
    assert app.controller.history is not None


def test_without_a_tray_the_window_opens_and_says_why(make_app, qtbot, monkeypatch):
    import connectcheck.ui.app as app_module

    monkeypatch.setattr(app_module, "TRAY_WAIT_S", 0.2)
    app = make_app()
    app.start()
    qtbot.waitUntil(lambda: app.status.tray_banner.isVisible(), timeout=3000)
    assert app.status.isVisible()
    text = app.status.tray_banner.text.text()
    assert "no desktop with a system tray" in text and "Closing the window quits" in text
    with qtbot.waitSignal(app.quit_requested, timeout=2000):
        app.status.close()


def test_the_reason_names_gnome_and_its_extension(monkeypatch, qapp):
    monkeypatch.setattr("connectcheck.ui.tray.QGuiApplication.platformName", lambda: "xcb")
    monkeypatch.setenv("DISPLAY", ":0")
    monkeypatch.setenv("XDG_CURRENT_DESKTOP", "ubuntu:GNOME")
    assert "AppIndicator" in no_tray_reason(60)
    monkeypatch.setenv("XDG_CURRENT_DESKTOP", "XFCE")
    assert "waited 60 s" in no_tray_reason(60)


def test_alerts_without_a_tray_show_in_the_window(make_app):
    app = make_app()
    app.notify("Sound: failing", "Sound is breaking up: 6 % of probes lost.", "warning")
    assert not app.status.notice_banner.isHidden()
    assert "Sound is breaking up" in app.status.notice_banner.text.text()


def test_at_login_the_app_waits_for_a_late_tray(make_app, qtbot, monkeypatch, caplog):
    import logging

    import connectcheck.ui.app as app_module
    from connectcheck.ui.tray import Tray

    answers = iter([False, False, False, True])
    monkeypatch.setattr(Tray, "available", staticmethod(lambda: next(answers, True)))
    monkeypatch.setattr(app_module, "TRAY_POLL_MS", 50)
    app = make_app(at_login=True)
    with caplog.at_level(logging.INFO, logger="connectcheck.ui.tray"):
        app.start()
        assert not app.status.isVisible()  # at login: no window, the tray may come up later
        qtbot.waitUntil(lambda: "tray icon shown" in caplog.text, timeout=3000)
    assert not app.status.isVisible() and app.status.tray_banner.isHidden()


def test_at_login_without_a_tray_the_window_comes_after_the_wait(make_app, qtbot, monkeypatch):
    import connectcheck.ui.app as app_module

    monkeypatch.setattr(app_module, "TRAY_WAIT_AT_LOGIN_S", 0.6)
    app = make_app(at_login=True)
    app.start()
    qtbot.wait(300)
    assert not app.status.isVisible()
    qtbot.waitUntil(app.status.isVisible, timeout=3000)
    assert not app.status.tray_banner.isHidden()


def test_the_guide_starts_afresh_once_closed(make_app, qtbot):
    app = make_app()
    guide = app.open_guide()
    guide._answer("no")
    assert guide.title.text() == "Try the quick fixes"
    guide.close()
    qtbot.waitUntil(lambda: "guide" not in app.windows, timeout=2000)
    assert app.open_guide().title.text() == "First, one check"
