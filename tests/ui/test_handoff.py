"""The hand-off to support always arrives: the report saved is the lesson's when a lesson was
monitored (with the guide's answers), the answers belong to one hand-off, the address is asked
once at the first start and never in the middle of a failed lesson, and what the tutor is told
is true to what happened (mail program opened or not, where the file is, offline)."""

from datetime import date
from urllib.parse import parse_qs, unquote, urlsplit

import pytest
from PySide6.QtGui import QGuiApplication

from connectcheck.config.settings import Settings, load_settings
from connectcheck.policy.procedure import support_outcome
from connectcheck.report import load_report
from connectcheck.ui import desktop
from tests.policy.test_procedure import PATHS
from tests.ui.conftest import (
    ScriptedProbe,
    degraded_result,
    fast_monitor,
    fast_monitor_options,
    offline_result,
    show_result,
)

BAD = [450.0, 470.0, 460.0, 455.0, 465.0]


def settings_in(tmp_path, **values):
    s = Settings(path=tmp_path / "settings.toml")
    s.values.update({"report.folder": str(tmp_path / "reports"),
                     "organisation.support_email": "help@example.org",
                     "app.asked_support_address": True, **values})
    (tmp_path / "reports").mkdir(exist_ok=True)
    return s


def mail(opened_urls):
    url = next(u for u in reversed(opened_urls) if u.startswith("mailto:"))
    parts = urlsplit(url)
    query = parse_qs(parts.query)
    return unquote(parts.path), query["subject"][0], query["body"][0].replace("\r\n", "\n")


def told(app):
    return app.prompts.informed[-1]


def saved_reports(tmp_path):
    return sorted((tmp_path / "reports").glob("*.html"))


def walk_guide(guide, answers):
    """Answer the guide as a tutor would, by its buttons' values, then carry on to the end."""
    answers = list(answers)
    while not guide.procedure.finished:
        view = guide.procedure.current
        if view.kind == "question":
            guide._answer(answers.pop(0))
        elif view.kind == "date":  # the guide is about today's lesson: a day in its window
            answers.pop(0)
            guide._answer(date.today().isoformat())
        else:
            guide._answer("next")
    assert answers == []


def test_a_check_without_the_guide(make_app, tmp_path, opened_urls):
    app = make_app(settings_in(tmp_path))
    show_result(app, degraded_result())
    app.actions["email"].trigger()
    to, subject, body = mail(opened_urls)
    assert to == "help@example.org" and subject.startswith("Technical difficulties in my lesson on")
    assert "How it ended" not in body and "What I tried" not in body
    [report] = saved_reports(tmp_path)
    assert f"I have attached the report of the last check: {report.name}." in body
    title, text, warning = told(app)
    assert "Your mail program was asked to open a new message to help@example.org" in text
    assert str(report) in text and not warning
    assert f"file://{report.parent}" in opened_urls  # the folder shown for attaching
    assert app.prompts.asked == []  # nothing asked in the middle of a failed lesson


def test_no_mail_program_says_so_and_puts_the_message_on_the_clipboard(make_app, tmp_path, opened_urls,
                                                                         monkeypatch):
    real = desktop.open_url
    monkeypatch.setattr(desktop, "open_url", lambda url: False if url.startswith("mailto:") else real(url))
    app = make_app(settings_in(tmp_path))
    show_result(app, degraded_result())
    app.actions["email"].trigger()
    title, text, warning = told(app)
    assert warning and "No mail program could be opened" in text and "mail program was asked" not in text
    assert "The whole message is on the clipboard" in text
    clip = QGuiApplication.clipboard().text()
    assert clip.startswith("Hello,") and clip.endswith("Thank you")
    assert str(saved_reports(tmp_path)[0]) in text


def test_offline_says_the_email_goes_once_the_connection_is_back(make_app, tmp_path, opened_urls):
    app = make_app(settings_in(tmp_path))
    show_result(app, offline_result())
    app.actions["email"].trigger()
    title, text, warning = told(app)
    assert warning and "no internet connection at the moment" in text
    assert "sends it once the connection is back" in text
    assert QGuiApplication.clipboard().text().startswith("Hello,")


def test_an_unknown_address_is_not_asked_mid_lesson(make_app, tmp_path, opened_urls):
    app = make_app(settings_in(tmp_path, **{"organisation.support_email": ""}))
    show_result(app, degraded_result())
    app.actions["email"].trigger()
    assert app.prompts.asked == []
    to, _, _ = mail(opened_urls)
    assert to == ""
    assert "type it in the To line" in told(app)[1]


def test_the_address_is_asked_once_at_the_first_start(make_app, tmp_path, qtbot):
    s = settings_in(tmp_path, **{"organisation.support_email": "", "app.asked_support_address": False})
    app = make_app(s)
    app.prompts.texts = ["support at example", "support@example.org"]
    app.start()
    qtbot.waitUntil(lambda: len(app.prompts.asked) == 2, timeout=5000)
    assert "does not look like an e-mail address" in app.prompts.asked[1][1]
    saved = load_settings(tmp_path / "settings.toml")
    assert saved["organisation.support_email"] == "support@example.org" and saved["app.asked_support_address"]
    again = make_app(saved)
    again.start()
    qtbot.wait(100)
    assert again.prompts.asked == []


def test_cancelled_at_the_first_start_it_is_not_asked_again(make_app, tmp_path, qtbot):
    s = settings_in(tmp_path, **{"organisation.support_email": "", "app.asked_support_address": False})
    app = make_app(s)
    app.start()
    qtbot.waitUntil(lambda: len(app.prompts.asked) == 1, timeout=5000)
    assert load_settings(tmp_path / "settings.toml")["app.asked_support_address"]


def test_a_monitored_lesson_sends_the_lessons_report_with_the_guides_answers(make_app, tmp_path, qtbot,
                                                                             opened_urls):
    probe = ScriptedProbe(BAD)
    app = make_app(settings_in(tmp_path), monitor_factory=fast_monitor(probe),
                   monitor_options=fast_monitor_options)
    app.controller.start_monitoring()
    qtbot.waitUntil(lambda: len(app.controller.alerts) >= 1, timeout=3000)
    guide = app.open_guide()
    walk_guide(guide, ["no", "no", "no", "elsewhere", "no", "no"])
    next(b for b in guide._buttons() if b.text() == "E-mail support…").click()
    _, _, body = mail(opened_urls)
    outcome = support_outcome(guide.procedure.record)
    assert body.index(f"How it ended: {outcome}") < body.index("What I tried:")
    assert "- Could not offer another time." in body
    assert "During the lesson connectcheck warned:" in body and "Sound: failing" in body
    [report_file] = saved_reports(tmp_path)
    assert "I have attached the report of the lesson (its timeline" in body and report_file.name in body
    report = load_report(report_file)
    assert report.kind == "lesson" and report.timeline is not None
    assert report.procedure.outcome == "abandoned" and report.procedure.outcome_text == outcome
    assert [line.answer for line in report.procedure.steps if line.answer][:2] == [
        "No, neither", "No, still not working"]
    assert report.procedure.steps[1].text == "Is it working now?"  # the question, not its introduction
    app.controller.stop_monitoring()


def test_the_answers_belong_to_one_hand_off(make_app, tmp_path, opened_urls):
    app = make_app(settings_in(tmp_path))
    show_result(app, degraded_result())
    guide = app.open_guide()
    walk_guide(guide, ["no", "no", "voice"])
    next(b for b in guide._buttons() if b.text() == "E-mail support…").click()
    first = mail(opened_urls)[2]
    assert "- Carried on by voice with the cameras off." in first
    assert "with my answers to the guide" in first
    app.actions["email"].trigger()  # a later e-mail, from the window
    later = mail(opened_urls)[2]
    assert "Carried on by voice" not in later and "How it ended" not in later
    next(b for b in guide._buttons() if b.text() == "E-mail support…").click()  # again from the guide
    assert "- Carried on by voice with the cameras off." in mail(opened_urls)[2]


@pytest.mark.parametrize("answers", PATHS, ids=["/".join(p) for p in PATHS])
def test_every_guide_path_hands_off_its_outcome_steps_and_report(make_app, tmp_path, opened_urls, answers):
    app = make_app(settings_in(tmp_path))
    show_result(app, degraded_result())
    guide = app.open_guide()
    walk_guide(guide, answers)
    record = guide.procedure.record
    next(b for b in guide._buttons() if b.text() == "E-mail support…").click()
    _, _, body = mail(opened_urls)
    assert f"How it ended: {support_outcome(record)}" in body
    for tried in guide.procedure.tried():
        assert f"- {tried}" in body
    [report_file] = saved_reports(tmp_path)
    report = load_report(report_file)
    assert report.procedure is not None and report.procedure.outcome == record.outcome
    assert report.procedure.tried == guide.procedure.tried()


def test_after_an_offline_hand_off_the_tutor_is_told_when_it_can_go(make_app, tmp_path, opened_urls, stun,
                                                                     web):
    """The e-mail made offline waits in the Outbox: once a real check finds the connection again,
    the tutor is told once that it can go now, with "E-mail support…" at hand."""
    from tests.ui.conftest import lab_settings

    settings = lab_settings(tmp_path, stun, web)
    (tmp_path / "reports").mkdir()
    settings.values.update({"report.folder": str(tmp_path / "reports"), "app.asked_support_address": True,
                            "organisation.support_email": "help@example.org"})
    app = make_app(settings)
    notes = []
    app.controller.notify.connect(lambda title, text, level: notes.append((title, text)))
    show_result(app, offline_result())
    app.actions["email"].trigger()
    assert "connectcheck will tell you when the connection is back" in told(app)[1]
    assert app.controller.email_waiting
    app.actions["quick"].trigger()  # the synchronous worker runs a real check on the loopback servers
    assert app.controller.last_result.connectivity.value == "online"
    assert [t for t, _ in notes] == ["The e-mail to support can go now"]
    banner = app.status.notice_banner
    assert banner.isVisibleTo(app.status) and "press Send" in banner.text.text()
    assert [b.text() for b in banner._extra] == ["E-mail support…"]
    app.actions["quick"].trigger()
    assert len(notes) == 1  # told once
