"""The status window in each state, and a real check shown with progress and cancelled."""

import time

import pytest
from PySide6.QtCore import Qt, QTimer

from connectcheck.core.model import CheckKind, Status
from connectcheck.ui.text import value
from connectcheck.ui.worker import Worker
from tests.assess import fixtures
from tests.lab.stun_server import StunServer
from tests.ui.conftest import (
    ScriptedProbe,
    assessed,
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


def lights(app):
    return {a: (light.state.text(), light.reason.text()) for a, light in app.status.lights.items()}


def numbers(app):
    return {k: tile.value.text() for k, tile in app.status.tiles.items()}


def test_not_checked_yet(make_app):
    app = make_app()
    w = app.status
    assert w.headline.text() == "Not checked yet"
    assert "Check now" in w.sentence.text()
    assert {state for state, _ in lights(app).values()} == {"Not measured"}
    assert set(numbers(app).values()) == {"–"}
    assert not w.check_again.isVisibleTo(w) and not w.advice_title.isVisibleTo(w)
    assert not w.progress_box.isVisibleTo(w)


def test_good(make_app):
    app = make_app()
    show_result(app, good_result())
    w = app.status
    assert w.headline.text() == "Ready for the lesson"
    assert w.sentence.text().startswith("Ready for the lesson: sound, video and the whiteboard")
    assert {a: s for a, (s, _) in lights(app).items()} == {
        "sound": "Good",
        "video": "Good",
        "whiteboard": "Good",
    }
    assert numbers(app) == {
        "download_mbps": "38 Mbit/s",
        "upload_mbps": "9.2 Mbit/s",
        "rtt_ms": "24 ms",
        "jitter_ms": "2.1 ms",
        "loss_pct": "0 %",
        "rtt_increase_ms": "12 ms",
        "call_rtt_ms": "–",  # a result without a call-like stream
        "call_jitter_ms": "–",
        "call_loss_pct": "–",
    }
    assert not w.call_note.isVisibleTo(w)
    assert w.programs.item(0, 0).text() == "Chrome" and w.programs.item(0, 1).text() == "0.8 Mbit/s"
    assert w.lights["sound"].accessibleName() == "Sound: Good"


def test_degraded_names_the_culprit_first_with_its_evidence(make_app):
    app = make_app()
    show_result(app, degraded_result())
    w = app.status
    # nothing fails: amber, with the likely cause named
    assert w.headline.text() == "Can go ahead with limits: a program on this computer is using the line"
    assert lights(app)["sound"][0] == "Weak"
    assert lights(app)["sound"][1] == "Sound may break up at times: the delay keeps jumping about."
    assert "delay variation is 22\u00a0ms" in w.lights["sound"].toolTip()  # the figure on hover
    items = [w.advice_box.itemAt(i).widget() for i in range(w.advice_box.count())]
    advice = [item.text() if hasattr(item, "text") else "[buttons]" for item in items]
    assert advice[0].startswith("1. Pause the downloads and updates in Steam")
    assert advice[1].startswith("Why: Steam")
    assert advice[2] == "[buttons]" and w.advice_buttons[w.controller.last_result.assessment.advice[0].key]
    assert w.check_again.isVisibleTo(w) and w.check_again.isEnabled()
    assert w.tiles["upload_mbps"].value.property("tone") == "degraded"  # a weak number stands out


def test_the_figures_are_behind_details_in_plain_words_with_what_each_means(make_app, qtbot):
    """Cards in words, no numbers; "Details" opens the figures (each card's sentence with its
    numbers, the numbers named plainly, each saying what it means on hover and on Tab focus) and
    the check's own notes; it stays as the tutor left it from one check to the next."""
    app = make_app()
    w = app.status
    w.show()
    show_result(app, failing_result())
    shown = [light.reason.text() for light in w.lights.values()]
    assert not any(ch.isdigit() for text in shown for ch in text)  # no figures on the cards
    assert shown[0] == ("Sound will probably break up or drop out: everything arrives late and some of "
                        "what is sent gets lost.")
    assert not w.details.isVisibleTo(w) and w.details_button.isVisibleTo(w)
    w.details_button.click()
    assert w.details.isVisibleTo(w)
    assert "your delay is 450\u00a0ms (sound needs 100\u00a0ms or less)" in w.figures.text()
    words = {k: t.caption.text() for k, t in w.tiles.items()}
    assert words == {"download_mbps": "Download speed", "upload_mbps": "Upload speed", "rtt_ms": "Delay",
                     "jitter_ms": "Delay variation", "loss_pct": "Lost data",
                     "rtt_increase_ms": "Delay when busy", "call_rtt_ms": "A call's delay",
                     "call_jitter_ms": "A call's delay variation", "call_loss_pct": "A call's missed data"}
    jargon = ("jitter", "packet", "round trip", "probe", "icmp", "more figure", "nothing answered")
    labels = w.findChildren(type(w.headline))
    visible = " ".join(label.text().lower() for label in labels if label.isVisibleTo(w))
    assert not [word for word in jargon if word in visible]
    tile = w.tiles["jitter_ms"]
    assert tile.toolTip().startswith("How much that delay jumps about")
    w.activateWindow()
    qtbot.waitUntil(w.isActiveWindow, timeout=2000)
    tile.setFocus(Qt.FocusReason.TabFocusReason)
    assert tile.hasFocus()
    assert w.meaning.text() == f"Delay variation: {tile.meaning}" and w.meaning.isVisibleTo(w)
    show_result(app, degraded_result())
    assert w.details.isVisibleTo(w)  # still open: the tutor opened it
    show_result(app, None)
    assert not w.details_button.isVisibleTo(w)


def test_failing_and_offline(make_app):
    app = make_app()
    show_result(app, failing_result())
    assert lights(app)["sound"][0] == "Failing"
    headline, sentence = app.status.headline.text(), app.status.sentence.text()
    assert headline == ("Not ready as it is: your internet line is unsteady — use a phone for sound and turn "
                        "the cameras off")
    assert sentence.startswith("Sound will not work well over this connection: carry on by typing")
    assert "use a phone for sound" in sentence and "go ahead" not in sentence  # one answer, not two
    show_result(app, offline_result())
    assert app.status.headline.text() == "No connection"
    assert {s for s, _ in lights(app).values()} == {"Failing"}
    assert "not looked at" in app.status.programs_note.text()


def test_a_quick_check_says_what_it_did_not_measure(make_app):
    app = make_app()
    show_result(app, quick_result())
    assert app.status.headline.text() == "Nothing wrong found so far"
    assert "A quick check does not measure the speed" in app.status.numbers_note.text()
    assert numbers(app)["download_mbps"] == "–"


def test_program_names_from_the_computer_are_shown_as_text(make_app):
    app = make_app()
    hostile = "<img src=x onerror=alert(1)>\x1b[31m"
    result = assessed(
        fixtures.check(
            upload_mbps=1.2,
            local=fixtures.local(
                processes=[
                    fixtures.program(hostile, "game_launcher", down=12.0, up=0.5, advice_key="pause_download")
                ]
            ),
        )
    )
    show_result(app, result)
    cell = app.status.programs.item(0, 0).text()
    assert cell == "<img src=x onerror=alert(1)>?[31m"
    advice = app.status.advice_box.itemAt(0).widget()
    assert "<img src=x" in advice.text() and advice.textFormat().name == "PlainText"


def test_monitoring_state(make_app, qtbot):
    probe = ScriptedProbe([20.0] * 5)
    app = make_app(monitor_factory=fast_monitor(probe), monitor_options=fast_monitor_options)
    app.controller.start_monitoring()
    qtbot.waitUntil(lambda: len(app.controller.samples) >= 2, timeout=3000)
    assert app.status.headline.text().startswith("Monitoring the lesson since")
    assert app.status.lesson.chart.isVisibleTo(app.status)
    assert "delay 20 ms" in app.status.lesson.latest.text()


def test_a_real_check_shows_what_a_call_would_see_beside_the_idle_figures(make_app, tmp_path, web):
    # The STUN server drops every 5th request: the call's tile says 20 % missed, in the sound
    # verdict's colour; the idle packet loss tile keeps the idle probes' own figure.
    with StunServer(drop_every=5) as stun:
        app = make_app(lab_settings(tmp_path, stun, web))
        app.status.check_button.click()
        result = app.controller.last_result
    w = app.status
    assert result.call is not None and result.call.packets_sent == 50, result.sections
    assert numbers(app)["call_loss_pct"] == "20 %"
    assert numbers(app)["call_rtt_ms"].endswith(" ms") and numbers(app)["call_jitter_ms"].endswith(" ms")
    assert w.tiles["call_loss_pct"].value.property("tone") in ("degraded", "fail")  # sound's verdict
    assert numbers(app)["loss_pct"] == value(result.summary.loss_pct, "%")  # the idle probes' own
    w.details_button.setChecked(True)  # the figures and the call's note are behind "Details"
    assert w.call_note.isVisibleTo(w)
    note = w.call_note.text().replace("\u00a0", " ")
    assert "50 packets in 1 s: 20 % missed (20 % lost, 0 % too late" in note
    assert lights(app)["sound"][0] != "Good"


def test_check_again_compares_with_the_check_before(make_app, tmp_path, stun, web):
    app = make_app(lab_settings(tmp_path, stun, web))
    previous = degraded_result()
    previous.kind = CheckKind.QUICK
    from datetime import datetime

    previous.started_at = datetime.now().astimezone().isoformat(timespec="seconds")
    show_result(app, previous)
    app.status.check_again.click()
    result = app.controller.last_result
    assert result is not previous and result.kind is CheckKind.QUICK
    assert result.assessment.changes  # the jitter of 22 ms went down to loopback's
    assert app.status.changes_title.isVisibleTo(app.status)
    assert "delay variation 22" in app.status.changes.text()


@pytest.mark.slow
def test_a_real_check_shows_its_phases_and_cancel_stops_it_within_a_second(
    make_app, qtbot, tmp_path, stun, web, speed
):
    settings = lab_settings(tmp_path, stun, web, speed)
    settings.values.update(
        {"speed.time_limit_s": 20.0, "speed.data_limit_mb": 5000.0, "check.full_time_limit_s": 60.0}
    )
    app = make_app(settings, worker=Worker())
    w = app.status
    phases, ticks = [], []
    app.controller.check_progress.connect(lambda p: phases.append((p.phase, w.phase.text(), w.bar.value())))
    timer = QTimer()
    timer.timeout.connect(lambda: ticks.append(time.monotonic()))
    timer.start(50)
    w.check_button.click()
    assert app.controller.checking and w.progress_box.isVisibleTo(w) and not w.check_button.isEnabled()
    qtbot.waitUntil(lambda: any(p == "download" for p, _, _ in phases), timeout=15000)
    assert any(
        text == "Measuring the delay, lost data and the lesson platform…" for p, text, _ in phases
        if p == "latency"
    )
    assert "Measuring the download speed…" in w.phase.text()
    t0 = time.monotonic()
    with qtbot.waitSignal(app.controller.check_finished, timeout=5000) as finished:
        w.cancel.click()
        assert w.phase.text() == "Cancelling…"
    took = time.monotonic() - t0
    timer.stop()
    result = finished.args[0]
    assert took < 1.5
    assert result.status is Status.CANCELLED
    assert not w.progress_box.isVisibleTo(w) and w.check_button.isEnabled()
    assert "cancelled" in w.when.text() and "cancelled" in w.numbers_note.text()
    # the window kept handling events all along: no gap in the 50 ms ticks longer than half a second
    gaps = [b - a for a, b in zip(ticks, ticks[1:], strict=False)]
    assert ticks and max(gaps) < 0.5
    bars = [v for _, _, v in phases]
    assert bars == sorted(bars) and bars[-1] > 0


def test_escape_cancels_a_running_check(make_app, qtbot, tmp_path, stun, web, speed):
    from PySide6.QtCore import Qt

    settings = lab_settings(tmp_path, stun, web, speed)
    settings.values.update(
        {"speed.time_limit_s": 20.0, "check.full_time_limit_s": 60.0, "speed.data_limit_mb": 5000.0}
    )
    app = make_app(settings, worker=Worker())
    app.status.bring_forward()
    qtbot.waitExposed(app.status)
    app.actions["check"].trigger()
    with qtbot.waitSignal(app.controller.check_finished, timeout=8000) as finished:
        qtbot.wait(300)
        qtbot.keyClick(app.status, Qt.Key.Key_Escape)
    assert finished.args[0].status is Status.CANCELLED


def test_the_path_picture_shows_where_the_problem_is(make_app, qtbot):
    from connectcheck.core.model import FirstHop, LatencyResult

    app = make_app()
    w = app.status
    assert not w.path.isVisibleTo(w) and not w.path_title.isVisibleTo(w)  # nothing measured yet
    r = degraded_result()
    idle = LatencyResult(target="192.168.1.1", method="icmp", samples_sent=100, samples=95,
                         rtt_ms_median=35.0, jitter_ms=14.0, loss_pct=5.0)
    r.first_hop = FirstHop(gateway="192.168.1.1", method="icmp", target="192.168.1.1", idle=idle)
    show_result(app, assessed(r))
    assert w.path.isVisibleTo(w) and [x.link for x in w.path.links] == [
        "computer", "wifi", "router", "line", "platform"]
    described = w.path.accessibleDescription()
    assert "35 ms, varies 14 ms, 5 % lost" in described and "(broken here)" in described
    w.resize(720, 900)
    w.show()
    qtbot.waitExposed(w)
    assert w.path.height() >= 60
    image = w.path.grab().toImage()
    assert image.width() > 300 and len({image.pixel(x, 30) for x in range(0, image.width(), 7)}) > 3


def test_no_call_quality_beside_a_failing_sound_card(make_app):
    app = make_app()
    show_result(app, failing_result())
    sound = app.status.lights["sound"]
    assert sound.state_key == "fail" and "Call quality" not in sound.reason.text()


def test_a_program_at_0_mbit_s_is_not_listed(make_app):
    app = make_app()
    idle = assessed(fixtures.check(local=fixtures.local(processes=[
        fixtures.program("Steam", "game_launcher", down=0.0, up=0.0),
        fixtures.program("Chrome", "browser", down=0.8, up=0.1)])))
    show_result(app, idle)
    names = [app.status.programs.item(i, 0).text() for i in range(app.status.programs.rowCount())]
    assert names and not any("Steam" in n for n in names)


def test_the_first_close_says_the_app_is_still_in_the_tray(make_app):
    app = make_app()
    emitted = []
    app.status.hidden_to_tray.connect(lambda: emitted.append(1))
    app.status.show()
    app.status.close()
    assert "connectcheck is still running" in app.status.notice_banner.text.text()  # no tray here: the window
    app.status.show()
    app.status.close()
    assert emitted == [1]  # only the first time


def test_the_window_says_how_much_data_a_check_moves(make_app):
    """Before a check: how much a full check may move, here and on a metered connection; after one
    on a metered connection (a phone's hotspot): said where the tutor sees it, with what it moved."""
    app = make_app()
    w = app.status
    show_result(app, None)
    assert ("It moves up to 200\u00a0MB of data, 25\u00a0MB on a connection the computer knows is metered"
            in w.sentence.text())
    result = good_result()
    result.bytes_used = 23_400_000
    result.metered = "NetworkManager guesses AndroidHotspot3999 is metered"
    result.notes.append("This connection is metered (NetworkManager guesses AndroidHotspot3999 is metered): "
                        "the speed test moved at most 25 MB instead of 200 MB, so fast lines may read a "
                        "little slow.")
    show_result(app, result)
    assert w.numbers_note.isVisibleTo(w)
    assert w.numbers_note.text() == (
        "This connection is metered (NetworkManager guesses AndroidHotspot3999 is metered), so the check "
        "kept its data small: it moved 23.4\u00a0MB."
    )
    assert "metered" not in w.check_notes.text()  # said once
    plain_line = good_result()
    plain_line.bytes_used = 181_000_000
    show_result(app, plain_line)
    assert "This check moved 181\u00a0MB of data." in w.check_notes.text()
    assert not w.numbers_note.isVisibleTo(w)
