"""Never stale: an old result is shown as old (a faded tray icon with a clock, "Checked 6 days
ago" as the headline), it turns old by itself as time passes, and opening the window checks again
by itself when the last check is more than a few minutes old."""

from datetime import timedelta

from connectcheck.core.model import CheckKind
from connectcheck.ui import controller as controller_module
from connectcheck.ui import icons
from tests.ui.conftest import good_result, lab_settings, show_result

DAY = 86_400


def test_a_six_day_old_green_check_is_not_shown_as_ready(make_app):
    app = make_app()
    show_result(app, good_result(), age_s=6 * DAY)
    c, w = app.controller, app.status
    assert c.result_is_old()
    assert w.headline.text() == "Checked 6 days ago: check again before the lesson"
    assert "Ready" not in w.headline.text()
    assert "6 days ago" in c.tooltip().splitlines()[1]
    assert "the connection may have changed since" in c.tooltip()
    assert app.tray.state == icons.GOOD and app.tray.old  # the shape still says what it was, faded
    assert "old" in w.sentence.text()
    assert not w.results.isEnabled()  # the cards greyed


def test_a_recent_check_is_current(make_app):
    app = make_app()
    show_result(app, good_result(), age_s=120)
    assert not app.controller.result_is_old()
    assert app.status.headline.text() == "Ready for the lesson"
    assert not app.tray.old and app.status.results.isEnabled()


def test_a_result_turns_old_by_itself(make_app):
    app = make_app()
    result = good_result()
    show_result(app, result, age_s=controller_module.OLD_AFTER_S - 60)
    assert not app.tray.old
    start = app.controller.clock()
    app.controller.clock = lambda: start + timedelta(seconds=120)
    app.controller._age_tick()  # what the timer does every half minute
    assert app.tray.old and app.status.headline.text().startswith("Checked 16 minutes ago")


def test_while_checking_or_monitoring_nothing_is_old(make_app):
    app = make_app()
    show_result(app, good_result(), age_s=6 * DAY)
    app.controller._checking = True
    assert not app.controller.result_is_old() and not app.controller.wants_check_on_open()
    app.controller._checking = False


def test_opening_the_window_on_an_old_check_runs_a_quick_check(make_app, tmp_path, stun, web, qtbot):
    app = make_app(lab_settings(tmp_path, stun, web), check_on_open=True)
    show_result(app, good_result(), age_s=controller_module.CHECK_ON_OPEN_AFTER_S + 60)
    kinds = []
    app.controller.check_finished.connect(lambda r: kinds.append(r.kind if r else None))
    app.open_status()  # the synchronous worker runs the real check against the loopback servers
    assert kinds == [CheckKind.QUICK]
    assert not app.controller.result_is_old()
    assert app.status.headline.text() != "Not checked yet"


def test_opening_the_window_on_a_recent_check_does_not(make_app, tmp_path, stun, web):
    app = make_app(lab_settings(tmp_path, stun, web), check_on_open=True)
    show_result(app, good_result(), age_s=60)
    started = []
    app.controller.check_finished.connect(started.append)
    app.open_status()
    assert started == []


def test_the_first_window_of_the_day_checks_when_there_is_no_check(make_app, tmp_path, stun, web):
    app = make_app(lab_settings(tmp_path, stun, web), check_on_open=True, history=None)
    finished = []
    app.controller.check_finished.connect(finished.append)
    app.start()
    assert len(finished) == 1 and finished[0].kind is CheckKind.QUICK
