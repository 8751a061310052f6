"""Lesson monitoring in the window: live chart, alerts told once and shown, recovery, the lesson
kept; and one real monitoring run against a STUN server on 127.0.0.1."""

import time

import pytest

from connectcheck.monitor import MonitorOptions
from connectcheck.ui.history_window import HistoryWindow
from connectcheck.ui.lesson import TimelineChart
from tests.ui.conftest import ScriptedProbe, fast_monitor, fast_monitor_options, lab_settings

GOOD = [20.0, 22.0, 21.0, 20.0, 23.0]
BAD = [450.0, 470.0, 460.0, 455.0, 465.0]  # sound needs 100 ms or less; beyond 400 ms it fails


def monitored_app(make_app, probe):
    app = make_app(monitor_factory=fast_monitor(probe), monitor_options=fast_monitor_options)
    notes = []
    app.controller.notify.connect(lambda title, text, level: notes.append((title, text, level)))
    return app, notes


def test_a_worsening_that_lasts_is_told_once_then_its_recovery(make_app, qtbot):
    probe = ScriptedProbe(GOOD)
    app, notes = monitored_app(make_app, probe)
    panel = app.status.lesson
    app.controller.start_monitoring()
    qtbot.waitUntil(lambda: len(app.controller.samples) >= 3, timeout=3000)
    assert notes == []
    probe.set(BAD)
    qtbot.waitUntil(lambda: len(notes) >= 1, timeout=3000)
    title, text, level = notes[0]
    assert title == "Sound: failing" and level == "warning" and "the delay is" in text
    assert app.tray.state == "failing"
    assert "Sound: failing" in panel.alerts.item(0).text()
    assert not app.status.notice_banner.isHidden()  # no tray here: the window tells
    time.sleep(0.4)
    qtbot.wait(50)
    assert len([n for n in notes if n[0].startswith("Sound")]) == 1  # it stays bad: no repeat
    probe.set(GOOD)
    qtbot.waitUntil(lambda: any(t == "Sound: back to good" for t, _, _ in notes), timeout=3000)
    assert [n[2] for n in notes if n[0] == "Sound: back to good"] == ["info"]
    assert len(panel.chart.alerts) == len(app.controller.alerts) >= 2
    qtbot.waitUntil(lambda: app.tray.state == "monitoring", timeout=3000)
    app.controller.stop_monitoring()
    lesson = app.controller.history.lesson(app.controller.last_lesson.id)
    assert [a.activity for a in lesson.alerts][:1] == ["sound"]
    assert "The last monitored lesson ran from" in panel.status.text()


def test_a_flapping_link_gives_no_flood(make_app, qtbot):
    probe = ScriptedProbe(GOOD)
    app, notes = monitored_app(make_app, probe)
    app.controller.start_monitoring()
    flips = 0
    end = time.monotonic() + 1.2
    while time.monotonic() < end:  # bad and good in turns, each for less than alert_after_s
        probe.set(BAD if flips % 2 == 0 else GOOD)
        flips += 1
        qtbot.wait(100)
    app.controller.stop_monitoring()
    assert len(app.controller.samples) >= 10
    assert notes == []


def test_start_and_stop_are_quick_and_the_window_follows(make_app, qtbot):
    probe = ScriptedProbe(GOOD)
    app, _ = monitored_app(make_app, probe)
    panel = app.status.lesson
    assert panel.button.text() == "Start lesson monitoring"
    panel.button.click()
    assert panel.button.text() == "Stop lesson monitoring"
    assert "Monitoring this lesson since" in panel.status.text()
    qtbot.waitUntil(lambda: len(panel.chart.samples) >= 2, timeout=3000)
    t0 = time.monotonic()
    panel.button.click()
    assert time.monotonic() - t0 < 1.2
    assert panel.button.text() == "Start lesson monitoring"
    calls = probe.calls
    qtbot.wait(200)
    assert probe.calls == calls  # really stopped


def test_the_history_window_shows_a_lessons_timeline(make_app, qtbot):
    probe = ScriptedProbe(GOOD)
    app, _ = monitored_app(make_app, probe)
    app.controller.start_monitoring()
    qtbot.waitUntil(lambda: len(app.controller.samples) >= 4, timeout=3000)
    app.controller.stop_monitoring()
    window = app.open_history()
    assert isinstance(window, HistoryWindow)
    assert window.lessons.topLevelItemCount() == 1
    window.tabs.setCurrentIndex(1)
    window.lessons.setCurrentItem(window.lessons.topLevelItem(0))
    assert len(window.chart.samples) >= 4
    assert window.export_button.isEnabled()
    assert "No alerts" in window.alerts.item(0).text()


def test_the_chart_draws_and_describes_itself(qtbot):
    from connectcheck.core.model import LessonAlert, MonitorSample

    chart = TimelineChart()
    qtbot.addWidget(chart)
    chart.resize(600, 220)
    samples = [
        MonitorSample(
            at="2026-11-28T16:00:00+00:00",
            t_s=5.0 * i,
            rtt_ms=20.0 + i,
            jitter_ms=2.0,
            loss_pct=10.0 if i == 3 else 0.0,
            states={"sound": "good" if i < 3 else "fail"},
        )
        for i in range(8)
    ]
    chart.set_data(
        samples,
        [
            LessonAlert(
                at="2026-11-28T16:00:20+00:00",
                t_s=20.0,
                activity="sound",
                state="fail",
                previous="good",
                message="Sound is failing.",
            )
        ],
    )
    image = chart.grab().toImage()
    colours = {image.pixelColor(x, y).name() for x in range(0, 600, 3) for y in range(0, 220, 3)}
    assert "#2e6fcf" in colours  # the round-trip line is drawn
    assert "8 samples over 35 s" in chart.accessibleDescription()
    assert "1 alerts" in chart.accessibleDescription()


def test_real_monitoring_against_a_loopback_stun_server(make_app, qtbot, tmp_path, stun, web):
    def options(settings, profile):
        o = MonitorOptions.from_settings(settings, profile)
        o.interval_s, o.local = 0.2, False
        return o

    app = make_app(lab_settings(tmp_path, stun, web), monitor_options=options)
    app.controller.start_monitoring()
    qtbot.waitUntil(lambda: len(app.controller.samples) >= 3, timeout=8000)
    app.controller.stop_monitoring()
    sample = app.controller.samples[-1]
    assert sample.method == "stun" and sample.rtt_ms is not None and sample.rtt_ms < 50
    assert stun.answered >= 3 * 5


def test_the_history_shows_the_open_tabs_newest_entry(make_app, qtbot):
    from datetime import datetime

    from tests.ui.conftest import degraded_result

    probe = ScriptedProbe(GOOD)
    app, _ = monitored_app(make_app, probe)
    app.controller.start_monitoring()
    qtbot.waitUntil(lambda: len(app.controller.samples) >= 2, timeout=3000)
    app.controller.stop_monitoring()
    check = degraded_result()
    check.started_at = datetime.now().astimezone().isoformat(timespec="seconds")  # the history keeps 90 days
    app.controller.history.add_check(check)
    window = app.open_history()
    assert window.selected[0] == "check" and "Video may freeze" in window.check_text.text()
    assert window.detail.currentWidget() is window.check_text
    window.tabs.setCurrentIndex(1)
    assert window.selected[0] == "lesson" and window.detail.currentIndex() == 2


def test_long_alert_lines_are_shown_whole_without_a_scrollbar(make_app, qtbot):
    """Alerts wrap onto as many lines as they need and the list grows to fit them (up to eight);
    nothing is cut at the right or hidden behind a scrollbar."""
    from datetime import datetime

    from connectcheck.core.model import LessonAlert
    from connectcheck.ui.signals import emit

    app = make_app()
    w = app.status
    w.resize(680, 2000)
    w.show()
    message = ("Sound will probably break up or drop out: the delay is 455 ms (good is at most 100 ms). "
               "On this computer, Steam is moving 18.2 Mbit/s.")
    c = app.controller
    c.alerts = [LessonAlert(t_s=30.0 * i, at=datetime.now().astimezone().isoformat(), activity="sound",
                            state="fail", previous="good", message=message) for i in range(3)]
    emit(c.monitoring_changed, False)
    panel = w.lesson
    view = panel.alerts
    qtbot.waitUntil(lambda: view.isVisibleTo(w) and view.count() == 3, timeout=2000)
    panel.fit_alerts()
    assert not view.horizontalScrollBar().isVisible() and not view.verticalScrollBar().isVisible()
    line = view.fontMetrics().lineSpacing()
    for i in range(3):
        rect = view.visualItemRect(view.item(i))
        assert rect.height() >= 2 * line  # wrapped, not cut
        assert rect.right() <= view.viewport().width() and view.viewport().rect().contains(rect)
    c.alerts = c.alerts * 4  # more than fit: the list stops growing, the newest in view
    emit(c.monitoring_changed, False)
    panel.fit_alerts()
    assert view.count() == 12 and view.height() < sum(view.visualItemRect(view.item(i)).height()
                                                       for i in range(12))


@pytest.mark.parametrize("signum", ["SIGTERM", "SIGHUP"])
def test_logout_ends_the_lesson_being_monitored_and_keeps_it(make_app, qtbot, tmp_path, signum):
    import os
    import signal

    from connectcheck.history import History
    from connectcheck.ui.app import end_on_termination

    probe = ScriptedProbe(GOOD)
    app, _ = monitored_app(make_app, probe)
    undo = end_on_termination(app)
    try:
        app.controller.start_monitoring()
        qtbot.waitUntil(lambda: len(app.controller.samples) >= 2, timeout=3000)
        with qtbot.waitSignal(app.quit_requested, timeout=3000):
            os.kill(os.getpid(), getattr(signal, signum))  # what the desktop sends at logout
    finally:
        undo()
    assert not app.controller.monitoring
    kept = History(tmp_path / "history.sqlite3", read_only=True).last_lesson()
    assert kept.ended_at is not None and len(kept.samples) >= 2
