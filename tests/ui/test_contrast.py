"""Readable in light and dark: the contrast (WCAG 2, at least 4.5:1) of every text against every
background it can sit on, in both palettes, and of every label, button and list in every window
as Qt resolves its colours, with the backgrounds the style sheet really paints."""

from datetime import datetime

import pytest
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import QAbstractItemView, QLabel, QPushButton, QToolButton, QWidget

from connectcheck.core.model import LessonAlert
from connectcheck.ui import style
from tests.ui.conftest import degraded_result, failing_result, good_result, offline_result, show_result

THEMES = ("light", "dark")
BACKGROUND_ROLES = {"card", "reminder", "banner", "banner-info"}


def test_the_contrast_formula_matches_wcag():
    assert style.contrast("#000000", "#ffffff") == pytest.approx(21.0)
    assert style.contrast("#ffffff", "#ffffff") == pytest.approx(1.0)
    assert style.contrast("#777777", "#ffffff") == pytest.approx(4.48, abs=0.01)  # the well-known edge
    assert style.contrast("#595959", "#ffffff") == pytest.approx(7.0, abs=0.01)


@pytest.mark.parametrize("theme", THEMES)
def test_every_text_colour_on_every_background_it_can_sit_on(theme):
    p = style.PALETTES[theme]
    weak = []
    for text_name, text in p.texts().items():
        for bg_name, bg in p.backgrounds().items():
            if (text_name == "text_highlight") != (bg_name == "bg_highlight"):
                continue  # selected text only on the selection, and only it
            if bg_name == "bg_button" and text_name not in ("text_button", "text", "text_secondary"):
                continue
            ratio = style.contrast(text, bg)
            if ratio < style.MIN_CONTRAST:
                weak.append(f"{text_name} {text} on {bg_name} {bg}: {ratio:.2f}")
    assert not weak, weak


def test_the_two_palettes_are_really_light_and_dark():
    assert style.luminance(style.LIGHT.bg_window) > 0.8 > 0.05 > style.luminance(style.DARK.bg_window)
    assert style.luminance(style.DARK.text) > 0.7 and style.luminance(style.LIGHT.text) < 0.05


def test_the_system_theme_is_followed_and_can_be_overridden(qapp, monkeypatch):
    monkeypatch.setenv(style.THEME_ENV, "dark")
    assert style.system_theme(qapp) == "dark"
    monkeypatch.setenv(style.THEME_ENV, "light")
    assert style.system_theme(qapp) == "light"
    monkeypatch.delenv(style.THEME_ENV)
    assert style.system_theme(qapp) in THEMES  # offscreen: from the platform's palette


def background_of(widget: QWidget) -> tuple[str, QWidget]:
    """The colour painted behind ``widget``: its nearest ancestor with a background of its own
    (a card, a reminder, a banner), else its window's."""
    w = widget
    while w is not None:
        if w.property("role") in BACKGROUND_ROLES:
            return w.palette().color(QPalette.ColorRole.Window).name(), w
        if w.isWindow():
            return w.palette().color(QPalette.ColorRole.Window).name(), w
        w = w.parentWidget()
    raise AssertionError("no window")


def texts_of(window: QWidget):
    """(what, foreground, background) for every visible text of a window, as Qt will draw it."""
    for label in window.findChildren(QLabel):
        if label.isVisibleTo(window) and (label.text().strip() or label.pixmap().isNull() is False):
            if not label.text().strip():
                continue
            bg, _ = background_of(label)
            fg = label.palette().color(label.foregroundRole()).name()
            yield f"label {label.text()[:40]!r}", fg, bg
    for button in window.findChildren(QPushButton):
        if button.isVisibleTo(window):
            pal = button.palette()
            yield (f"button {button.text()!r}", pal.color(QPalette.ColorRole.ButtonText).name(),
                   pal.color(QPalette.ColorRole.Button).name())
    for tool in window.findChildren(QToolButton):  # flat ("Details"): its text on the ground behind it
        if tool.isVisibleTo(window) and tool.text() and tool.autoRaise():
            bg, _ = background_of(tool)
            fg = tool.palette().color(QPalette.ColorRole.ButtonText).name()
            yield f"tool button {tool.text()!r}", fg, bg
    for view in window.findChildren(QAbstractItemView):
        if view.isVisibleTo(window):
            pal = view.palette()
            yield (f"list {view.accessibleName()!r}", pal.color(QPalette.ColorRole.Text).name(),
                   pal.color(QPalette.ColorRole.Base).name())


def check_window(window: QWidget, theme: str, where: str) -> int:
    window.ensurePolished()
    for w in window.findChildren(QWidget):
        w.ensurePolished()
    weak, count = [], 0
    for what, fg, bg in texts_of(window):
        count += 1
        ratio = style.contrast(fg, bg)
        if ratio < style.MIN_CONTRAST:
            weak.append(f"{where}: {what} {fg} on {bg} = {ratio:.2f}")
    assert not weak, weak
    return count


def check_painted_backgrounds(window: QWidget) -> None:
    """The style sheet paints what the palette says: a pixel inside each card, reminder and
    banner has the background the contrast was computed against."""
    image = window.grab().toImage()
    ratio = image.devicePixelRatio()
    for frame in window.findChildren(QWidget):
        if frame.property("role") in BACKGROUND_ROLES and frame.isVisibleTo(window) and frame.width() > 20:
            point = frame.mapTo(window, frame.rect().bottomRight()) - frame.rect().bottomRight()
            x, y = int((point.x() + frame.width() - 8) * ratio), int((point.y() + 8) * ratio)
            painted = image.pixelColor(x, y)
            expected = frame.palette().color(QPalette.ColorRole.Window)
            role = frame.property("role")
            assert abs(painted.lightness() - expected.lightness()) < 12, (role, painted.name())


@pytest.fixture(params=THEMES)
def theme(request, qapp):
    style.apply_theme(qapp, request.param)
    yield request.param
    style.apply_theme(qapp, "light")


def test_the_status_window_in_every_state(theme, make_app):
    app = make_app()
    w = app.status
    w.resize(680, 2400)  # everything laid out, nothing scrolled away
    w.show()
    w.problem_banner.show_message("A problem with the settings.", [("Open settings", lambda: None)])
    w.notice_banner.show_message("Sound: failing\nTurn the cameras off.", info=True)
    w.tray_banner.show_message("There is no tray here.", info=True)
    total = 0
    for result in (None, good_result(), degraded_result(), failing_result(), offline_result()):
        show_result(app, result)
        w.details_button.setChecked(True)  # the figures too
        total += check_window(w, theme, f"status {result and result.assessment.overall}")
        check_painted_backgrounds(w)
    show_result(app, good_result(), age_s=6 * 86_400)
    assert w.headline.text().startswith("Checked 6 days ago")
    total += check_window(w, theme, "status, an old check")
    c = app.controller
    c.alerts = [LessonAlert(t_s=30.0, at=datetime.now().astimezone().isoformat(), activity="sound",
                            state="fail", previous="good", message="Sound is breaking up.")]
    w.lesson.refresh()
    total += check_window(w, theme, "status with lesson alerts")
    assert total > 60


def test_the_guide_at_every_step_of_a_long_path(theme, make_app):
    app = make_app()
    guide = app.open_guide()
    guide.show()
    seen = 0
    for _ in range(20):
        check_window(guide, theme, f"guide {guide.title.text()!r}")
        check_painted_backgrounds(guide)
        seen += 1
        buttons = [b for b in guide._buttons() if b.text() not in ("E-mail support…",)]
        if not buttons:
            break
        # the longest way: never the first answer that ends the lesson early
        longest = ("No", "This is the day", "Next")
        choice = next((b for b in buttons if b.text().startswith(longest)), buttons[-1])
        choice.click()
    assert seen >= 8


def test_settings_history_and_about(theme, make_app):
    app = make_app()
    dialog = app.open_settings()
    for i in range(dialog.tabs.count()):
        dialog.tabs.setCurrentIndex(i)
        check_window(dialog, theme, f"settings tab {dialog.tabs.tabText(i)}")
    for opened in (app.open_history(), app.open_about()):
        check_window(opened, theme, opened.windowTitle())


def test_the_path_picture_follows_the_theme_with_readable_text(theme, make_app):
    """The path picture is drawn in the window's theme: every text colour in its SVG (link names,
    states, figures, "broken here") against the box or card it sits on, at least 4.5:1; and the
    card it is painted on is the theme's, not the report's white."""
    import re

    from connectcheck.core.model import LinkEvidence
    from connectcheck.report.charts import path_chart
    from connectcheck.ui.widgets import path_colours

    p = style.current()
    c = path_colours(p)
    links = [LinkEvidence(key, state, "12 ms") for key, state in
             (("computer", "good"), ("wifi", "degraded"), ("router", "unknown"), ("line", "fail"),
              ("platform", "good"))]
    svg = path_chart(links, "line", colours=c)
    texts = set(re.findall(r'<text [^>]*fill="(#[0-9a-f]{6})"', svg))
    assert texts and texts <= {c.ink, c.muted, *c.tone.values()}
    for state, fill in c.zone.items():  # the words inside each box: its name and its state
        for colour in (c.ink, c.tone[state]):
            assert style.contrast(colour, fill) >= 4.5, (theme, state, colour, fill)
    for colour in (c.ink, c.tone["fail"]):  # figures and "broken here" under the boxes, on the card
        assert style.contrast(colour, p.bg_card) >= 4.5, (theme, colour)
    if theme == "dark":
        assert style.luminance(p.bg_card) < 0.2 and "#ffffff" not in svg
