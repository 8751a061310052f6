"""The PDF: produced through Qt, readable (pdftoppm renders every page), the same content as the
HTML in its text, untrusted texts shown as text, and the report's data attached."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from connectcheck.report import build_check_report, build_lesson_report, export_report, loads_report
from connectcheck.report.content import document
from connectcheck.report.pdf import ATTACHMENT, render_pdf
from tests.report.conftest import IMG, SCRIPT, WIFI_HTML, hostile, needs_pdftoppm, needs_pdftotext
from tests.report.fixtures import troubled_lesson


def pdf_text(path) -> str:
    return subprocess.run(
        ["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True, check=True
    ).stdout


@needs_pdftoppm
def test_every_page_of_a_lesson_report_renders(settings, tmp_path):
    path = export_report(build_lesson_report(troubled_lesson(), settings), tmp_path / "lesson.pdf")
    data = path.read_bytes()
    assert data.startswith(b"%PDF-") and data.rstrip().endswith(b"%%EOF")
    subprocess.run(
        ["pdftoppm", "-r", "40", "-png", str(path), str(tmp_path / "page")], check=True, timeout=120
    )
    pages = sorted(tmp_path.glob("page-*.png"))
    assert len(pages) >= 3
    for page in pages:
        assert page.read_bytes().startswith(b"\x89PNG") and page.stat().st_size > 2_000


@needs_pdftotext
def test_the_pdf_says_what_the_html_says_in_the_same_order(settings, tmp_path):
    report = build_lesson_report(troubled_lesson(), settings)
    text = pdf_text(export_report(report, tmp_path / "lesson.pdf"))
    titles = [
        "Lesson connection report",
        "The connection failed during the lesson",
        "Likely cause: Another program on this computer",
        *[s.title for s in document(report).sections if s.id != "answer"],
    ]
    lines = [line.strip() for line in text.splitlines()]
    positions = [lines.index(t) if t in lines else -1 for t in titles]  # each title on a line of its own
    assert -1 not in positions, [t for t, p in zip(titles, positions, strict=True) if p < 0]
    assert positions == sorted(positions)
    for words in ("Steam was using the connection", "good ≤ 100", "16:12", "page 1 of"):
        assert words in text


@needs_pdftotext
def test_hostile_texts_are_printed_as_text(lab_check, settings, tmp_path):
    settings.set("report.include_network_name", True)
    path = export_report(build_check_report(hostile(lab_check), settings), tmp_path / "hostile.pdf")
    text = " ".join(pdf_text(path).split())
    for hostile_text in (SCRIPT, IMG, WIFI_HTML):
        assert hostile_text in text


@pytest.mark.skipif(shutil.which("pdfdetach") is None, reason="pdfdetach is not installed (poppler-utils)")
def test_the_reports_data_is_attached_to_the_pdf(settings, tmp_path):
    report = build_lesson_report(troubled_lesson(), settings)
    path = export_report(report, tmp_path / "lesson.pdf")
    listing = subprocess.run(
        ["pdfdetach", "-list", str(path)], capture_output=True, text=True, check=True
    ).stdout
    assert ATTACHMENT in listing
    subprocess.run(["pdfdetach", "-saveall", "-o", str(tmp_path), str(path)], check=True)
    assert loads_report((tmp_path / ATTACHMENT).read_bytes()) == report


def test_a_pdf_is_made_without_a_display(settings, tmp_path, monkeypatch):
    """The command line makes PDFs on machines without a screen: Qt is started off-screen."""
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    monkeypatch.delenv("QT_QPA_PLATFORM", raising=False)
    code = (
        "import sys; from pathlib import Path; from tests.report.fixtures import troubled_lesson;"
        "from connectcheck.report import build_lesson_report, export_report;"
        "from connectcheck.config.settings import Settings;"
        "export_report(build_lesson_report(troubled_lesson(), Settings()), Path(sys.argv[1]))"
    )
    out = tmp_path / "headless.pdf"
    import sys

    subprocess.run([sys.executable, "-c", code, str(out)], check=True, timeout=120, capture_output=True)
    assert out.read_bytes().startswith(b"%PDF-")


def test_render_pdf_returns_the_bytes_of_a_pdf(settings):
    data = render_pdf(build_lesson_report(troubled_lesson(minutes=8, with_checks=False), settings))
    assert data.startswith(b"%PDF-") and len(data) > 10_000


def test_a_heading_never_stands_alone_at_the_foot_of_a_page_above_its_chart(settings, qapp):
    """However much comes before it, "The lesson over time" is on the page of its chart (a chart
    cannot be split: the heading goes over with it); the layout is the one render_pdf draws."""
    from PySide6.QtCore import QSizeF

    from connectcheck.report.pdf import layout_pages, rich_text

    text, svgs = rich_text(document(build_lesson_report(troubled_lesson(), settings)))
    page = QSizeF(680, 1000)
    seen_pages = set()
    for padding in range(0, 48, 2):  # pushes the heading down a line or so at a time
        filler = "".join(f"<p>Line {i} before the report.</p>" for i in range(padding))
        padded = text.replace('<p style="color:', filler + '<p style="color:', 1)
        doc, _charts = layout_pages(padded, svgs, page)
        layout = doc.documentLayout()
        block, heading_page, chart_page = doc.begin(), None, None
        while block.isValid():
            if block.text().strip() == "The lesson over time":
                heading_page = int(layout.blockBoundingRect(block).top() // page.height())
            elif heading_page is not None and chart_page is None and "\ufffc" in block.text():
                drawn_at = layout.blockBoundingRect(block).top() + block.layout().lineAt(0).y()
                chart_page = int(drawn_at // page.height())  # where its line is drawn (pushed over or not)
            block = block.next()
        assert heading_page is not None and chart_page is not None
        assert heading_page == chart_page, padding
        seen_pages.add(heading_page)
    assert len(seen_pages) >= 2  # the sweep really moved it across a page end


def test_a_pdf_made_on_a_worker_thread_leaves_no_qt_warnings(settings, qapp, qtlog):
    """The window exports on a worker thread (a plain Python thread): the PDF is the same and Qt
    says nothing (it warned once per layout timer: 'event dispatcher has already been destroyed')."""
    import threading

    report = build_lesson_report(troubled_lesson(), settings)
    made: dict = {}
    worker = threading.Thread(target=lambda: made.setdefault("pdf", render_pdf(report)))
    worker.start()
    worker.join(timeout=120)
    assert made["pdf"].startswith(b"%PDF-") and len(made["pdf"]) > 20_000
    assert [r.message for r in qtlog.records] == []


def test_an_error_while_rendering_on_a_worker_thread_reaches_the_caller(settings, qapp, monkeypatch):
    import threading

    from connectcheck.report import pdf

    def broken(report):
        raise ValueError("no outline")

    monkeypatch.setattr(pdf, "document", broken)
    caught: list = []

    def export() -> None:
        try:
            render_pdf(build_lesson_report(troubled_lesson(), settings))
        except ValueError as exc:
            caught.append(exc)

    worker = threading.Thread(target=export)
    worker.start()
    worker.join(timeout=60)
    assert [str(e) for e in caught] == ["no outline"]
