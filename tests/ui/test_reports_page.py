"""Open reports…: a folder of real reports becomes the support desk's page, built off the GUI
thread with progress and Cancel, then opened in the browser."""

from __future__ import annotations

import dataclasses
import threading
from datetime import timedelta

from PySide6.QtWidgets import QPushButton

from connectcheck.config.settings import Settings
from connectcheck.report import build_check_report, export_report
from connectcheck.report.dashboard import OUTPUT_NAME
from connectcheck.ui.reports_page import page_path
from connectcheck.ui.worker import Worker
from tests.report.fixtures import START, steam_check


def reports_in(folder, n=3):
    folder.mkdir(exist_ok=True)
    for i in range(n):
        r = build_check_report(steam_check(START + timedelta(hours=i)), Settings())
        export_report(dataclasses.replace(r, tutor_label=f"Tutor {i}"), folder / f"r{i}.json")
    return folder


def menu_action(app, text):
    return next(a for a in app.tray.menu.actions() if a.text() == text)


def test_open_reports_builds_the_page_and_opens_it_in_the_browser(make_app, tmp_path, opened_urls):
    folder = reports_in(tmp_path / "mail")
    (folder / "broken.json").write_text("{ not json")
    app = make_app()
    app.prompts.folders = [folder]
    menu_action(app, "Open reports…").trigger()
    page = folder / OUTPUT_NAME
    assert page.exists() and "Tutor 2" in page.read_text(encoding="utf-8")
    assert f"file://{page}" in opened_urls
    title, text, warning = app.prompts.informed[-1]
    assert title == "Open reports" and "3 reports, 1 file not read" in text and not warning
    assert app.reports_page.dialog is None  # the progress window is gone


def test_the_work_runs_off_the_gui_thread_and_cancel_stops_it(make_app, tmp_path, qtbot, opened_urls):
    folder = reports_in(tmp_path / "mail", n=2)
    app = make_app(worker=Worker())
    gui = threading.get_ident()
    threads: list[int] = []
    started, go_on = threading.Event(), threading.Event()
    import connectcheck.ui.reports_page as page_module

    real = page_module.build_dashboard

    def slow(paths, out, progress=None, cancel=None):
        threads.append(threading.get_ident())
        started.set()
        go_on.wait(5)
        return real(paths, out, progress=progress, cancel=cancel)

    page_module.build_dashboard = slow
    try:
        app.prompts.folders = [folder]
        app.reports_page.open_reports()
        assert started.wait(5)
        dialog = app.reports_page.dialog
        assert dialog is not None
        dialog.findChild(QPushButton).click()  # the user presses Cancel while the files are being read
        go_on.set()
        qtbot.waitUntil(lambda: app.reports_page.dialog is None, timeout=5000)
    finally:
        page_module.build_dashboard = real
    assert threads and threads[0] != gui
    assert not (folder / OUTPUT_NAME).exists() and not opened_urls and not app.prompts.informed


def test_a_folder_without_reports_is_said(make_app, tmp_path, opened_urls):
    empty = tmp_path / "empty"
    empty.mkdir()
    app = make_app()
    app.prompts.folders = [empty]
    app.reports_page.open_reports()
    assert (
        app.prompts.informed[-1][0] == "Open reports"
        and "There are no reports" in app.prompts.informed[-1][1]
    )
    assert not opened_urls


def test_choosing_no_folder_does_nothing(make_app, opened_urls):
    app = make_app()
    app.reports_page.open_reports()
    assert [kind for kind, _ in app.prompts.asked] == ["folder"] and not app.prompts.informed


def test_a_folder_that_cannot_be_written_gets_its_page_in_the_cache(tmp_path, monkeypatch):
    monkeypatch.setattr("connectcheck.ui.reports_page.os.access", lambda path, mode: False)
    monkeypatch.setattr("connectcheck.ui.reports_page.cache_dir", lambda: tmp_path / "cache")
    assert page_path(tmp_path / "mail") == tmp_path / "cache" / OUTPUT_NAME
