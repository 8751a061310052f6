"""Reading reports back: JSON round trip, the HTML's data block, newer versions and damaged files
refused with clear messages."""

from __future__ import annotations

import json

import pytest

from connectcheck.core.model import SCHEMA_VERSION
from connectcheck.report import (
    NewerReportError,
    ReportError,
    build_check_report,
    build_lesson_report,
    load_report,
)
from connectcheck.report.html import render_html
from connectcheck.report.load import loads_report
from connectcheck.report.model import REPORT_SCHEMA_VERSION, dumps_report
from tests.report.fixtures import troubled_lesson


@pytest.fixture(scope="module")
def lesson_report():
    from connectcheck.config.settings import Settings

    return build_lesson_report(troubled_lesson(), Settings())


def test_json_round_trip_of_a_lesson_and_of_a_real_check(lesson_report, lab_check, settings):
    assert loads_report(dumps_report(lesson_report)) == lesson_report
    check_report = build_check_report(lab_check, settings)
    assert loads_report(dumps_report(check_report).encode("utf-8")) == check_report
    data = json.loads(dumps_report(check_report))
    assert data["format"] == "connectcheck-report" and data["schema_version"] == REPORT_SCHEMA_VERSION
    assert data["checks"][0]["schema_version"] == SCHEMA_VERSION


def test_reading_files_by_their_contents_not_their_names(lesson_report, tmp_path):
    (tmp_path / "a.json").write_text(dumps_report(lesson_report), encoding="utf-8")
    (tmp_path / "b.html").write_text(render_html(lesson_report), encoding="utf-8")
    (tmp_path / "c.txt").write_bytes(b"\xef\xbb\xbf" + render_html(lesson_report).encode())  # with a BOM
    for name in ("a.json", "b.html", "c.txt"):
        assert load_report(tmp_path / name) == lesson_report


def test_an_html_reports_data_block_is_found_in_its_bytes(lesson_report):
    """The page's JSON is found as bytes and only it is decoded: the same report from the str, the
    UTF-8 bytes, UTF-16 with its byte order mark, and a page whose text outside the block is not
    UTF-8 (a Latin-1 footer added by a mail program); a block that is not UTF-8 or empty is refused."""
    page = render_html(lesson_report)
    assert loads_report(page) == loads_report(page.encode()) == lesson_report
    assert loads_report(page.encode("utf-16")) == lesson_report
    footer = page.encode().replace(b"</body>", "<p>Envoyé depuis mon téléphone</p></body>".encode("latin-1"))
    assert loads_report(footer) == lesson_report
    data = page.encode()
    start = data.index(b">", data.index(b'id="connectcheck-report"')) + 1
    end = data.index(b"</script", start)
    with pytest.raises(ReportError, match="it is not text"):
        loads_report(data[:start] + b'{"tutor_label": "\xff"}' + data[end:])
    with pytest.raises(ReportError, match="damaged \\(not valid JSON"):
        loads_report(data[:start] + data[end:])


def test_a_newer_report_is_refused_with_a_clear_message(lesson_report):
    data = json.loads(dumps_report(lesson_report))
    data["schema_version"] = REPORT_SCHEMA_VERSION + 1
    data["something_new"] = {"x": 1}
    with pytest.raises(
        NewerReportError,
        match=r"written by a newer connectcheck \(report format 2; this one reads "
        r"up to 1\)\. Please update connectcheck",
    ):
        loads_report(json.dumps(data), "r.json")
    data["schema_version"] = REPORT_SCHEMA_VERSION
    data["checks"][0]["schema_version"] = SCHEMA_VERSION + 1
    with pytest.raises(NewerReportError, match="holds a check written by a newer connectcheck"):
        loads_report(json.dumps(data))


def test_a_newer_report_inside_html_is_refused_too(lesson_report):
    page = render_html(lesson_report).replace(
        '"schema_version":1,"time_zone"', '"schema_version":7,"time_zone"'
    )
    with pytest.raises(NewerReportError, match="report format 7"):
        loads_report(page.encode())


@pytest.mark.parametrize(
    "content, message",
    [
        (b"", "not a connectcheck report"),
        (
            b'{"format": "connectcheck-report", "schema_version": 1, "headline": {"state": "splendid"}}',
            r"damaged: \$\.headline\.state: 'splendid' is not one of good, degraded, fail, unknown",
        ),
        (
            b'{"format": "connectcheck-report", "schema_version": 1, "checks": [{"kind": "full"}]}',
            r"damaged: \$\.checks\[0\]: the field 'started_at' is missing",
        ),
        (
            b'{"format": "connectcheck-report", "schema_version": 1, "measurements": {"rows": [{"metric": '
            b'"rtt_ms", "label": "x", "unit": "ms", "value": 1e999}]}}',
            "the number 1e999 is too large",
        ),
        (
            b'{"format": "connectcheck-report", "schema_version": 1, "headline": {"activities": [{"activity":'
            b' "sound", "label": "S", "degraded_s": NaN}]}}',
            "NaN is not a number a report can hold",
        ),
        (b'{"format": "connectcheck-report", "schema_version": "one"}', "format version is missing or wrong"),
        (b'{"format": "connectcheck-report", "schema_version": 1, "kind": ', "damaged \\(not valid JSON"),
        (b'{"kind": "full", "started_at": "x", "summary": {}}', "a single check's result, not a report"),
        (b"%PDF-1.4 ...", "the PDF is cut off"),
        (b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog >>\nendobj\n%%EOF\n", "PDF without connectcheck report data"),
        (b"\xff\xfe\x00\x01garbage", "it is not text"),
        (
            b"<!DOCTYPE html><html><body>Forwarded message</body></html>",
            "a web page without connectcheck report data",
        ),
        (
            b'<html><script type="application/json" id="connectcheck-report">{"format":',
            "its data block is cut off",
        ),
        (b"[1, 2, 3]", "not a connectcheck report"),
    ],
)
def test_damaged_or_foreign_files_give_a_clear_message(content, message):
    with pytest.raises(ReportError, match=message) as caught:
        loads_report(content, "r.json")
    assert not isinstance(caught.value, NewerReportError)


def test_a_huge_integer_is_refused_not_crashed_on():
    text = (
        '{"format": "connectcheck-report", "schema_version": 1, '
        + '"timeline": {"start": "x", "interval_s": 1%s}}'
    )
    with pytest.raises(ReportError, match="damaged"):
        loads_report(text % ("0" * 400))
    with pytest.raises(ReportError, match="damaged"):
        loads_report(text % ("0" * 5000))  # beyond Python's digit limit for int()


def test_missing_and_folder_paths(tmp_path):
    with pytest.raises(ReportError, match="there is no file"):
        load_report(tmp_path / "nothing.html")
    with pytest.raises(ReportError, match="is a folder, not a report"):
        load_report(tmp_path)


# --- the PDF carries its JSON ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def pdf_bytes(lesson_report):
    from connectcheck.report.pdf import render_pdf

    return render_pdf(lesson_report)


def test_the_pdf_gives_back_the_report_it_was_made_from(lesson_report, pdf_bytes, tmp_path):
    """The JSON Qt attached to the PDF (deflated, its length an indirect object) is read back without
    Qt or any PDF library."""
    path = tmp_path / "lesson.pdf"
    path.write_bytes(pdf_bytes)
    assert load_report(path) == lesson_report


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda d: d[: len(d) // 2], "the PDF is cut off"),
        (
            lambda d: d.replace(b"/Filter /FlateDecode\n/Length", b"/Filter /LZWDecode\n/Length"),
            "packed in a way",
        ),
        (lambda d: d.replace(b"/EF <</F ", b"/EF <</F 9"), "the file attached to the PDF is missing"),
    ],
)
def test_a_damaged_pdf_says_what_is_wrong(pdf_bytes, damage, message):
    damaged = damage(pdf_bytes)
    assert damaged != pdf_bytes
    with pytest.raises(ReportError, match=message):
        loads_report(damaged, "lesson.pdf")


def test_a_pdf_attachment_that_inflates_beyond_any_report_is_refused(monkeypatch, lesson_report, pdf_bytes):
    import connectcheck.report.load as load

    assert len(dumps_report(lesson_report).encode()) > len(pdf_bytes)
    monkeypatch.setattr(load, "MAX_BYTES", len(pdf_bytes))  # the file passes, its attachment does not
    with pytest.raises(ReportError, match="too large to be a connectcheck report"):
        loads_report(pdf_bytes, "lesson.pdf")


def test_every_cause_the_judge_can_name_is_read_back():
    """A report is refused when a vocabulary field holds a word outside its choices: every cause
    assess/cause can give must be one of them (line_unsteady and network_blocks_udp were not)."""
    from connectcheck.assess.cause import TITLES
    from connectcheck.core.model import Cause
    from connectcheck.report.model import Report

    for key, title in TITLES.items():
        report = Report()
        report.headline.cause = Cause(key=key, title=title)
        assert loads_report(dumps_report(report)).headline.cause.key == key
