"""The guide: the organisation's procedure one question at a time, along its paths."""

import sys
from datetime import date, datetime

import pytest
from PySide6.QtCore import QDate
from PySide6.QtGui import QFont

from connectcheck.config.profile import load_profile
from connectcheck.policy.procedure import Procedure
from connectcheck.ui import style
from connectcheck.ui.guide import GuideDialog
from tests.ui.conftest import ScriptedProbe, fast_monitor, fast_monitor_options


@pytest.fixture
def guide(make_app, qtbot):
    app = make_app()
    emails = []

    def make(lesson_start=None):
        procedure = Procedure(load_profile("westcountry-sen"), lesson_start)
        dialog = GuideDialog(app.controller, emails.append, procedure=procedure)
        qtbot.addWidget(dialog)
        dialog.show()
        return dialog

    make.app, make.emails = app, emails
    return make


def buttons(dialog):
    return [b.text() for b in dialog._buttons()]


def press(dialog, text):
    button = next(b for b in dialog._buttons() if b.text() == text)
    button.click()


def test_one_question_at_a_time_with_its_answers(guide):
    dialog = guide()
    assert dialog.step_label.text() == "Step 1"
    assert dialog.title.text() == "First, one check"
    assert buttons(dialog) == [
        "No, neither",
        "Yes, it is our first lesson",
        "Yes, the student has moved to a new place for good",
    ]
    assert not dialog.back.isEnabled()
    assert not any(b.isDefault() or b.autoDefault() for b in dialog._buttons())  # Enter answers nothing


def test_quick_fixes_work_path_ends_with_the_reminders_and_email_support(guide):
    dialog = guide()
    press(dialog, "No, neither")
    assert dialog.title.text() == "Try the quick fixes"
    assert "refresh the whiteboard page" in dialog.notes.text()
    press(dialog, "Yes, it works now")
    assert dialog.title.text() == "Please remember"
    assert dialog.notes_frame.accessibleName() == "Please remember"
    assert "do not move lessons to Zoom" in dialog.notes.text()
    assert "cancelling, refunds" in dialog.notes.text()
    press(dialog, "Next")
    assert dialog.title.text() == "Tell support"
    assert buttons(dialog) == ["E-mail support…", "Next"]
    press(dialog, "E-mail support…")
    assert guide.emails == [dialog]
    press(dialog, "Next")
    assert dialog.step_label.text() == "Done"
    assert "quick fixes worked" in dialog.text.text()
    assert buttons(dialog) == ["E-mail support…"]
    record = guide.app.controller.procedure_record
    assert record.finished and record.outcome == "resolved"


def test_first_lesson_is_not_this_procedure(guide):
    dialog = guide()
    press(dialog, "Yes, it is our first lesson")
    assert dialog.title.text() == "Abandon this lesson and report it"
    assert "Abandon the lesson" in dialog.text.text() and "report it to support" in dialog.text.text()
    assert guide.app.controller.procedure_record.outcome == "not_this_procedure"


def test_phone_path_at_the_practice(guide):
    dialog = guide()
    for answer in ("No, neither", "No, still not working", "No, the lesson cannot go on like this",
                   "At the practice"):
        press(dialog, answer)
    assert dialog.title.text() == "The practice's phone"
    assert "same code as the practice door" in dialog.text.text()
    press(dialog, "Yes")
    assert dialog.title.text() == "After the lesson"


def test_rearranging_computes_the_window_and_refuses_a_day_outside(guide):
    lesson = datetime(2024, 10, 24, 16, 0).astimezone()  # a Thursday
    dialog = guide(lesson)
    for answer in ("No, neither", "No, still not working", "No, the lesson cannot go on like this",
                   "At home or somewhere else", "No"):
        press(dialog, answer)
    assert "on or before Wednesday 30 October 2024" in dialog.text.text()
    press(dialog, "Yes, I have room")
    assert "between Thursday 24 October 2024 and Wednesday 30 October 2024" in dialog.notes.text()
    press(dialog, "Yes")
    picker = dialog.date_edit
    assert picker is not None
    assert picker.minimumDate().toPython() == date(2024, 10, 24)
    assert picker.maximumDate().toPython() == date(2024, 10, 30)
    calendar = picker.calendarWidget()  # the popup: the 7 days stand out, the others look refused
    for day in (date(2024, 10, 23), date(2024, 10, 31), date(2024, 11, 6), date(2024, 9, 30)):
        look = calendar.dateTextFormat(QDate(day.year, day.month, day.day))
        assert look.fontStrikeOut() and look.foreground().color().name() == style.current().text_secondary
    for day in (date(2024, 10, 24), date(2024, 10, 27), date(2024, 10, 30)):
        look = calendar.dateTextFormat(QDate(day.year, day.month, day.day))
        assert not look.fontStrikeOut() and look.fontWeight() == QFont.Weight.Bold
    picker.setDate(QDate(2024, 11, 2))  # picked past the window in the popup: it stays inside
    assert picker.date().toPython() == date(2024, 10, 30)
    dialog._answer("2024-10-31")  # typed past the window: refused with the reason, nothing moves
    assert dialog.error.isVisible() and "outside the 7 days" in dialog.error.text()
    assert dialog.title.text() == "The new day"
    picker.setDate(picker.maximumDate())
    press(dialog, "This is the day we agreed")
    assert dialog.title.text() == "Change it in the calendar"
    record = guide.app.controller.procedure_record
    assert record.rearranged_to == "2024-10-30" and record.outcome == "rearranged"


def test_back_undoes_the_last_answer(guide):
    dialog = guide()
    press(dialog, "No, neither")
    press(dialog, "No, still not working")
    assert dialog.title.text() == "Can the lesson still go on?"
    dialog.back.click()
    assert dialog.title.text() == "Try the quick fixes"
    assert [s.step for s in guide.app.controller.procedure_record.steps] == ["new_student"]


def test_during_monitoring_the_guide_is_about_the_monitored_lesson(make_app, qtbot):
    app = make_app(
        monitor_factory=fast_monitor(ScriptedProbe([20.0] * 5)), monitor_options=fast_monitor_options
    )
    app.controller.start_monitoring()
    dialog = app.open_guide()
    assert dialog.procedure.lesson_start == app.controller.lesson_started
    dialog._answer("first_lesson")
    app.controller.stop_monitoring()
    stored = app.controller.history.lesson(app.controller.last_lesson.id)
    assert stored.procedure is not None and stored.procedure.outcome == "not_this_procedure"


def test_the_guide_works_from_the_keyboard(guide, qtbot):
    from PySide6.QtCore import Qt

    dialog = guide()
    first = dialog._buttons()[0]
    assert first.hasFocus() or dialog.focusWidget() in (first, None)
    qtbot.keyClick(dialog, Qt.Key.Key_Return)  # Enter never answers a question, least of all "abandon"
    assert dialog.title.text() == "First, one check" and not guide.app.controller.procedure_record
    assert first.focusPolicy() & Qt.FocusPolicy.TabFocus
    qtbot.keyClick(first, Qt.Key.Key_Space)
    assert dialog.title.text() == "Try the quick fixes"
    assert [b.accessibleName() for b in dialog._buttons()] == ["Yes, it works now", "No, still not working"]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the Linux desktops' programs")
def test_the_offline_steps_open_the_network_settings_and_the_quick_fixes_the_task_manager(
        make_app, qtbot, tmp_path, monkeypatch):
    """The step that says to check the Wi-Fi has a button that opens the system's network settings
    (started for real: a program of that name on PATH records it); the quick fixes open the task
    manager; where none is installed the step says where to look. Focus stays on an answer."""
    from tests.ui.conftest import offline_result, show_result
    from tests.ui.test_advice_buttons import fake_program

    folder = tmp_path / "bin"
    folder.mkdir()
    monkeypatch.setenv("PATH", str(folder))
    record = tmp_path / "started.txt"
    fake_program(folder, "nm-connection-editor", record)
    app = make_app()
    show_result(app, offline_result())
    dialog = app.open_guide()
    press(dialog, "No, neither")
    assert dialog.title.text() == "No connection: try these first"
    assert dialog.tool_button is not None and dialog.tool_button.text() == "Open the network settings"
    assert dialog.focusWidget() is not dialog.tool_button
    dialog.tool_button.click()
    qtbot.waitUntil(record.exists, timeout=10_000)
    dialog.close()
    qtbot.waitUntil(lambda: "guide" not in app.windows, timeout=3000)  # a new guide starts afresh
    show_result(app, None)
    plain = app.open_guide()
    press(plain, "No, neither")
    assert plain.title.text() == "Try the quick fixes"
    assert plain.tool_button.text() == "Show the programs running"
    plain.tool_button.click()  # no task manager on this PATH: said, not silently nothing
    told = [lbl.text() for lbl in plain.tool_button.parentWidget().findChildren(type(plain.title))]
    assert any(t.startswith("connectcheck cannot show the programs running on this system") for t in told)
