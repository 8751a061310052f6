"""Lesson alerts: one notification at a time, the worst first, saying what to do; the window's
lesson view lists them all."""

from datetime import datetime

from connectcheck.core.model import LessonAlert
from connectcheck.ui import controller as controller_module
from tests.ui.conftest import ScriptedProbe, fast_monitor, fast_monitor_options


def alert(activity, state, previous="good"):
    return LessonAlert(at=datetime.now().astimezone().isoformat(timespec="seconds"), t_s=30.0,
                       activity=activity, state=state, previous=previous,
                       message=f"{activity.capitalize()} is {state}.")


def monitoring(make_app, qtbot):
    app = make_app(monitor_factory=fast_monitor(ScriptedProbe([20.0] * 5)),
                   monitor_options=fast_monitor_options)
    notes = []
    app.controller.notify.connect(lambda title, text, level: notes.append((title, text, level)))
    app.controller.start_monitoring()
    qtbot.waitUntil(lambda: len(app.controller.samples) >= 1, timeout=3000)
    return app, notes


def test_three_alerts_together_make_one_notification_with_the_worst(make_app, qtbot):
    app, notes = monitoring(make_app, qtbot)
    c = app.controller
    for a in (alert("video", "degraded"), alert("sound", "fail"), alert("whiteboard", "degraded")):
        c._on_alert(a)  # within milliseconds, as the monitor may send them
    qtbot.waitUntil(lambda: bool(notes), timeout=2000)
    qtbot.wait(controller_module.ALERT_BATCH_MS + 100)
    assert len(notes) == 1
    title, text, level = notes[0]
    assert title == "Sound: failing" and level == "warning"
    assert "Type on the whiteboard meanwhile" in text and "The lesson can't go on" in text
    assert "(2 more in connectcheck's window.)" in text
    listed = [app.status.lesson.alerts.item(i).text() for i in range(app.status.lesson.alerts.count())]
    assert len(listed) == 3 and any("Whiteboard: weak" in line for line in listed)
    c.stop_monitoring()


def test_lesser_news_does_not_cover_worse_news_on_screen(make_app, qtbot):
    app, notes = monitoring(make_app, qtbot)
    c = app.controller
    c._on_alert(alert("sound", "fail"))
    qtbot.waitUntil(lambda: len(notes) == 1, timeout=2000)
    c._on_alert(alert("whiteboard", "degraded"))  # a moment later, while "Sound: failing" is shown
    qtbot.wait(controller_module.ALERT_BATCH_MS + 150)
    assert [n[0] for n in notes] == ["Sound: failing"]
    c._on_alert(alert("sound", "good", previous="fail"))  # but its own recovery is told
    qtbot.waitUntil(lambda: len(notes) == 2, timeout=2000)
    assert notes[1][0] == "Sound: back to good" and notes[1][2] == "info"
    c.stop_monitoring()


def test_every_alert_that_gets_worse_says_what_to_do():
    for activity in ("sound", "video", "whiteboard"):
        for state in ("degraded", "fail"):
            title, text = controller_module.alert_notification(alert(activity, state))
            assert len(text.split("\n")) == 2 and text.split("\n")[1].endswith(".")
