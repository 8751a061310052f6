"""Export report… and E-mail support…: real report files, the composed mailto: link, the file shown
for attaching, and the support address asked once and remembered."""

from urllib.parse import parse_qs, unquote, urlsplit

from connectcheck.config.settings import Settings
from tests.ui.conftest import ScriptedProbe, degraded_result, fast_monitor, fast_monitor_options, show_result


def settings_in(tmp_path, **values):
    s = Settings(path=tmp_path / "settings.toml")
    s.values.update({"report.folder": str(tmp_path / "reports"), **values})
    (tmp_path / "reports").mkdir(exist_ok=True)
    return s


def mail_parts(url):
    parts = urlsplit(url)
    query = parse_qs(parts.query)
    return unquote(parts.path), query["subject"][0], query["body"][0]


def test_export_writes_the_report_where_the_tutor_chose(make_app, tmp_path, opened_urls):
    app = make_app(settings_in(tmp_path))
    show_result(app, degraded_result())
    target = tmp_path / "chosen" / "lesson.html"
    target.parent.mkdir()
    app.prompts.paths = [target]
    app.actions["export"].trigger()
    assert app.prompts.asked[0] == (
        "save_path",
        str(tmp_path / "reports" / "connectcheck-report-2024-10-24-1605.html"),
    )
    html = target.read_text(encoding="utf-8")
    assert "<html" in html.lower() and "Steam" in html
    assert app.prompts.informed[-1][:2] == ("Report saved", f"The report was saved as\n{target}")
    assert f"file://{target.parent}" in opened_urls  # the folder is shown


def test_an_unwritable_folder_is_said_and_another_offered(make_app, tmp_path, opened_urls):
    app = make_app(settings_in(tmp_path))
    show_result(app, degraded_result())
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("a file")
    app.prompts.paths = [blocked / "report.html"]  # then the second question is cancelled
    app.actions["export"].trigger()
    title, text, warning = app.prompts.informed[-1]
    assert warning and title == "The report could not be saved" and "Nothing was left half-written" in text
    assert [kind for kind, _ in app.prompts.asked] == ["save_path", "save_path"]
    assert blocked.read_text() == "a file"


def test_export_without_a_check_says_what_to_do(make_app):
    app = make_app()
    app.actions["export"].trigger()
    assert app.prompts.informed == [
        ("Export report", "There is no check to report yet: run a check first.", False)
    ]


def test_a_lessons_report_from_the_history(make_app, tmp_path, qtbot, opened_urls):
    app = make_app(
        settings_in(tmp_path),
        monitor_factory=fast_monitor(ScriptedProbe([20.0] * 5)),
        monitor_options=fast_monitor_options,
    )
    app.controller.start_monitoring()
    qtbot.waitUntil(lambda: len(app.controller.samples) >= 3, timeout=3000)
    app.controller.stop_monitoring()
    window = app.open_history()
    window.tabs.setCurrentIndex(1)
    window.lessons.setCurrentItem(window.lessons.topLevelItem(0))
    target = tmp_path / "lesson.json"
    app.prompts.paths = [target]
    window.export_button.click()
    assert target.exists() and '"kind": "lesson"' in target.read_text(encoding="utf-8")


def test_a_pdf_report_is_written_off_the_gui_thread(make_app, tmp_path, qtbot, opened_urls):
    from connectcheck.ui.worker import Worker

    app = make_app(settings_in(tmp_path), worker=Worker())
    show_result(app, degraded_result())
    target = tmp_path / "report.pdf"
    app.prompts.paths = [target]
    app.actions["export"].trigger()
    qtbot.waitUntil(lambda: any(t == "Report saved" for t, _, _ in app.prompts.informed), timeout=20000)
    assert target.read_bytes().startswith(b"%PDF")
