"""The support desk's page over many reports (report/dashboard): real reports of real checks and
lessons saved as HTML, JSON and PDF, copies counted once, damaged, newer and hostile files listed,
and nothing in a report able to run or load anything in the page."""

from __future__ import annotations

import dataclasses
import re
import threading
from datetime import timedelta
from html.parser import HTMLParser
from pathlib import Path

import pytest

from connectcheck.config.settings import Settings
from connectcheck.core.model import WifiInfo
from connectcheck.core.tasks import Cancelled
from connectcheck.report import build_check_report, build_lesson_report, export_report
from connectcheck.report.dashboard import (
    FILES_SHOWN,
    MIN_TUTORS,
    OTHER_PROVIDERS,
    OUTPUT_NAME,
    Files,
    build_dashboard,
    group_rows,
    link_to,
    read_reports,
    render_dashboard,
)
from connectcheck.report.model import REPORT_SCHEMA_VERSION, dumps_report
from tests.report.conftest import IMG, SCRIPT
from tests.report.fixtures import START, calm_check, steam_check, troubled_lesson

CONTENTS = {"#over-time", "#causes", "#when", "#providers", "#tutors", "#not-read"}
CSS_ATTACK = "</style><style>body{display:none;background:url(//evil.example/x)}</style>"


def check_report(
    tutor: str | None = "Tutor A", provider: str | None = None, *, at=None, calm=False, wifi=None
):
    result = calm_check(at or START) if calm else steam_check(at or START, wifi=wifi)
    r = build_check_report(result, Settings())
    return dataclasses.replace(r, tutor_label=tutor, provider=provider)


def lesson_report(tutor: str | None = "Tutor L", provider: str | None = None, minutes: int = 50):
    r = build_lesson_report(troubled_lesson(minutes=minutes), Settings())
    return dataclasses.replace(r, tutor_label=tutor, provider=provider)


class Tags(HTMLParser):
    """Every tag and attribute of the page, as a browser's parser sees them."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.style_text: list[str] = []
        self._in_style = False

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        self._in_style = tag == "style"

    def handle_endtag(self, tag):
        self._in_style = False

    def handle_data(self, data):
        if self._in_style:
            self.style_text.append(data)


def parsed(page: str) -> Tags:
    t = Tags()
    t.feed(page)
    return t


def test_reports_lessons_and_causes_are_counted_and_copies_once(tmp_path):
    export_report(lesson_report(), tmp_path / "lesson.html")
    export_report(check_report("Tutor A"), tmp_path / "a.json")
    export_report(check_report("Tutor A"), tmp_path / "a-again.html")  # the same check saved twice
    export_report(check_report("Tutor B", calm=True), tmp_path / "b.html")
    dash = build_dashboard([tmp_path], tmp_path / OUTPUT_NAME)
    assert (dash.all.reports, dash.all.lessons, dash.all.checks) == (3, 1, 2)
    assert dash.duplicates_count == 1 and dash.duplicates[0] == ("a.json", "a-again.html")
    assert dash.by_cause["other_program"].reports == 2  # the Steam check and the lesson
    assert set(dash.by_tutor) == {"Tutor A", "Tutor B", "Tutor L"}
    page = (tmp_path / OUTPUT_NAME).read_text(encoding="utf-8")
    assert "Another program on this computer" in page
    assert "<td class='n'>100 %</td>" in page  # of the 2 reports with trouble (the calm check found no fault)
    assert "1 report found no fault" in page
    links = [a["href"] for tag, a in parsed(page).tags if tag == "a"]
    assert "./lesson.html" in links and "./a-again.html" in links and "./b.html" in links
    assert "a.json" in page  # listed as a copy


def test_a_page_read_again_is_skipped_not_listed(tmp_path):
    export_report(check_report(), tmp_path / "a.json")
    build_dashboard([tmp_path], tmp_path / OUTPUT_NAME)
    dash = build_dashboard([tmp_path], tmp_path / "copy" / "second.html")  # the first page is in the folder
    assert dash.all.reports == 1 and dash.unreadable_count == 0


def test_troubled_samples_are_placed_on_the_tutors_own_clock(tmp_path):
    report = lesson_report(minutes=50)
    export_report(report, tmp_path / "lesson.json")
    dash = read_reports([tmp_path])
    bad = [p for p in report.timeline.points if p.state in ("degraded", "fail")]
    seconds = len(bad) * report.timeline.interval_s  # each troubled sample counts the time it stands for
    assert bad and sum(dash.troubled_s) == seconds
    thursday_4pm = 3 * 24 + 16  # 24 October 2024 16:00 +01:00, a Thursday; 50 minutes stay in that hour
    assert dash.troubled_s[thursday_4pm] == seconds
    rows = group_rows(dash, "weekday")
    assert [r["group"] for r in rows] == ["Thursday"]
    assert rows[0]["minutes with trouble"] == str(max(1, round(seconds / 60)))


def test_lessons_sampled_at_different_intervals_add_up_in_minutes(tmp_path):
    """A lesson sampled every second and the same lesson sampled every 5 s: the same minutes of
    trouble each, not five times as many for the first."""
    report = lesson_report(minutes=50)
    assert report.timeline is not None
    export_report(report, tmp_path / "a.json")
    bad = [p for p in report.timeline.points if p.state in ("degraded", "fail")]
    fast = dataclasses.replace(
        report,
        tutor_label="Tutor F",
        timeline=dataclasses.replace(
            report.timeline,
            interval_s=report.timeline.interval_s / 5,
            points=[dataclasses.replace(p, t_s=p.t_s / 5) for p in report.timeline.points for _ in range(5)],
        ),
    )
    export_report(fast, tmp_path / "b.json")
    dash = read_reports([tmp_path])
    assert dash.all.reports == 2
    assert dash.by_tutor["Tutor F"].troubled == pytest.approx(dash.by_tutor["Tutor L"].troubled)
    assert dash.by_tutor["Tutor L"].troubled == pytest.approx(len(bad) * report.timeline.interval_s)
    page = render_dashboard(dash)
    assert "minutes with trouble" in page and "samples" not in page.split("<h2>When trouble happens")[1][:400]


def test_a_damaged_interval_between_samples_is_said(tmp_path):
    report = lesson_report()
    interval = '"interval_s": ' + repr(report.timeline.interval_s)
    data = dumps_report(report).replace(interval, '"interval_s": -1')
    assert '"interval_s": -1' in data
    (tmp_path / "odd.json").write_text(data)
    dash = read_reports([tmp_path])
    why = "the report in odd.json is damaged: $.timeline.interval_s is not a time between samples"
    assert dash.unreadable == [("odd.json", why)]


def test_failed_checks_fill_the_grid_where_they_started(tmp_path):
    offline = build_check_report(steam_check(START.replace(hour=19)), Settings())
    offline = dataclasses.replace(offline, headline=dataclasses.replace(offline.headline, state="fail"))
    export_report(offline, tmp_path / "evening.json")
    dash = read_reports([tmp_path])
    assert dash.failed_checks[3 * 24 + 19] == 1 and sum(dash.failed_checks) == 1
    assert [r["group"] for r in group_rows(dash, "hour")] == ["19:00–20:00"]


def test_a_provider_is_named_only_with_five_different_tutors(tmp_path):
    for i in range(MIN_TUTORS):
        export_report(
            check_report(f"Tutor {i}", "Big Telecom", at=START + timedelta(hours=i)), tmp_path / f"b{i}.json"
        )
    for i in range(MIN_TUTORS - 1):
        export_report(
            check_report(f"Tutor {i}", "Tiny Net", at=START + timedelta(days=1, hours=i)),
            tmp_path / f"t{i}.json",
        )
    export_report(
        check_report("Tutor 9", "Tiny Net", at=START + timedelta(days=2)), tmp_path / "t9.json"
    )  # 5 reports, 5th tutor
    export_report(check_report("Tutor 0", "Tiny Net", at=START + timedelta(days=3)), tmp_path / "t10.json")
    dash = read_reports([tmp_path])
    names = [name for name, _ in dash.providers()]
    assert names == ["Tiny Net", "Big Telecom"]  # Tiny Net: 6 reports, 5 different tutors
    (tmp_path / "t9.json").unlink()
    dash = read_reports([tmp_path])
    assert [name for name, _ in dash.providers()] == ["Big Telecom", OTHER_PROVIDERS]
    page = render_dashboard(dash)
    assert "Big Telecom" in page and "Tiny Net" not in page
    assert [r["group"] for r in group_rows(dash, "provider")] == ["Big Telecom", OTHER_PROVIDERS]


def test_connection_types_and_wifi_bands(tmp_path):
    export_report(check_report("A", wifi=WifiInfo(frequency_mhz=5180.0), at=START), tmp_path / "five.json")
    export_report(
        check_report("B", wifi=WifiInfo(frequency_mhz=2437.0), at=START + timedelta(hours=1)),
        tmp_path / "two.json",
    )
    export_report(check_report("C", at=START + timedelta(hours=2)), tmp_path / "cable.json")
    dash = read_reports([tmp_path])
    assert set(dash.by_connection) == {"Wi-Fi 5 GHz", "Wi-Fi 2.4 GHz", "Ethernet"}
    assert {r["group"] for r in group_rows(dash, "connection")} == {
        "Wi-Fi 5 GHz",
        "Wi-Fi 2.4 GHz",
        "Ethernet",
    }


def test_whether_a_recheck_after_the_advice_was_better_per_tutor(tmp_path):
    report = lesson_report("Tutor R")
    assert (
        report.advice is not None and report.advice.improved is True
    )  # the calm re-check after Steam paused
    export_report(report, tmp_path / "lesson.json")
    dash = read_reports([tmp_path])
    assert dash.by_tutor["Tutor R"].rechecks[True] == 1
    assert group_rows(dash, "tutor")[0]["better after advice"] == "1 of 1"
    assert "better in 1 of 1" in render_dashboard(dash)


def test_damaged_newer_and_foreign_files_are_listed_and_the_rest_read(tmp_path):
    export_report(check_report(), tmp_path / "good.json")
    good = dumps_report(check_report("Other", at=START + timedelta(days=1)))
    (tmp_path / "cut.json").write_text(good[: len(good) // 2])
    (tmp_path / "newer.json").write_text(
        good.replace(
            f'"schema_version": {REPORT_SCHEMA_VERSION},',
            f'"schema_version": {REPORT_SCHEMA_VERSION + 1},',
            1,
        )
    )
    (tmp_path / "wrong-cause.json").write_text(good.replace('"key": "other_program"', '"key": "aliens"'))
    (tmp_path / "letter.pdf").write_bytes(b"%PDF-1.7\n1 0 obj << >> endobj\n")
    (tmp_path / "notes.html").write_text("<html><body>hello</body></html>")
    dash = build_dashboard([tmp_path], tmp_path / OUTPUT_NAME)
    assert dash.all.reports == 1
    why = dict(dash.unreadable)
    assert set(why) == {"cut.json", "newer.json", "wrong-cause.json", "letter.pdf", "notes.html"}
    assert "not valid JSON" in why["cut.json"]
    assert "newer connectcheck" in why["newer.json"] and "update" in why["newer.json"]
    assert "damaged" in why["wrong-cause.json"] and "cut off" in why["letter.pdf"]
    page = (tmp_path / OUTPUT_NAME).read_text(encoding="utf-8")
    assert "5 files could not be read" in page and "newer connectcheck" in page


def test_pdf_reports_are_read_from_their_attached_data(tmp_path, qapp):
    export_report(check_report("Tutor P"), tmp_path / "report.pdf")
    export_report(check_report("Tutor P"), tmp_path / "report.html")
    dash = read_reports([tmp_path])
    assert dash.all.reports == 1 and dash.duplicates_count == 1 and dash.unreadable_count == 0


def test_nothing_in_a_report_or_a_file_name_can_run_or_load_anything(tmp_path):
    hostile = [SCRIPT, IMG, CSS_ATTACK, "javascript:alert(1)"]
    file_names = ["javascript:alert(1)", '"><img src=x onerror=alert(1)>', "x</style>", "r"]
    for i, (text, file_name) in enumerate(zip(hostile, file_names, strict=True)):
        export_report(
            check_report(text, text, at=START + timedelta(hours=i)), tmp_path / f"{file_name}-{i}.json"
        )
    export_report(lesson_report(SCRIPT, CSS_ATTACK), tmp_path / "javascript:alert(2).html")
    # five different hostile tutors share a provider, so the provider's hostile name is shown too
    for i in range(MIN_TUTORS):
        export_report(
            check_report(f"{SCRIPT}{i}", SCRIPT, at=START + timedelta(days=2, hours=i)),
            tmp_path / f"p{i}.json",
        )
    (tmp_path / "<script>alert(3)<script>.json").write_text("{ damaged")
    dash = build_dashboard([tmp_path], tmp_path / OUTPUT_NAME)
    assert dash.all.reports == 10 and dash.unreadable_count == 1
    page = (tmp_path / OUTPUT_NAME).read_text(encoding="utf-8")
    assert "&lt;script&gt;" in page  # shown, as text
    tags = parsed(page)
    names = {tag for tag, _ in tags.tags}
    assert names <= {
        "html",
        "head",
        "meta",
        "title",
        "style",
        "body",
        "main",
        "p",
        "h1",
        "h2",
        "h3",
        "div",
        "b",
        "section",
        "table",
        "tr",
        "th",
        "td",
        "details",
        "summary",
        "ul",
        "li",
        "a",
        "svg",
        "rect",
        "text",
        "g",
        "line",
        "code",
        "span",
    }
    assert sum(1 for tag, _ in tags.tags if tag == "style") == 1
    assert "evil" not in "".join(tags.style_text) and "url(" not in "".join(tags.style_text)
    for tag, attrs in tags.tags:
        assert not any(k.startswith("on") for k in attrs), (tag, attrs)
        if tag == "a":
            href = attrs["href"]  # a report beside the page, or a section of the page itself
            assert href.startswith("./") or href in CONTENTS, href
            assert ":" not in href and "<" not in href
        assert "src" not in attrs
    csp = next(
        a["content"] for t, a in tags.tags if t == "meta" and a.get("http-equiv") == "Content-Security-Policy"
    )
    assert "default-src 'none'" in csp and "script-src" not in csp
    values = " ".join(str(v) for _, attrs in tags.tags for v in attrs.values())
    assert not re.search(r"https?:|//|evil", values.replace("http-equiv", ""))
    hrefs = [a["href"] for t, a in tags.tags if t == "a"]
    assert "./javascript%3Aalert%282%29.html" in hrefs


def test_links_are_relative_to_the_page(tmp_path):
    sub = tmp_path / "mail" / "week 42"
    sub.mkdir(parents=True)
    assert link_to(sub / "a b#?.json", tmp_path / "out") == "./../mail/week%2042/a%20b%23%3F.json"
    assert link_to(sub / "r.json", None).startswith("file:///")


def test_each_figure_keeps_only_its_newest_files():
    files = Files()
    for i in range(FILES_SHOWN + 15):
        files.add(float(i), f"r{i}.json", f"./r{i}.json")
    shown = files.newest()
    assert files.count == FILES_SHOWN + 15 and len(shown) == FILES_SHOWN
    assert shown[0][0] == f"r{FILES_SHOWN + 14}.json" and shown[-1][0] == "r15.json"


def test_cancel_stops_the_reading_and_writes_no_page(tmp_path):
    export_report(check_report(), tmp_path / "a.json")
    cancel = threading.Event()
    cancel.set()
    with pytest.raises(Cancelled):
        build_dashboard([tmp_path], tmp_path / OUTPUT_NAME, cancel=cancel)
    assert not (tmp_path / OUTPUT_NAME).exists()


def test_progress_counts_the_files(tmp_path):
    for i in range(3):
        export_report(check_report(f"T{i}", at=START + timedelta(hours=i)), tmp_path / f"{i}.json")
    seen = []
    build_dashboard([tmp_path], tmp_path / OUTPUT_NAME, progress=seen.append)
    assert seen[-1].phase == "write" and seen[-1].fraction == 1.0
    assert any(p.phase == "read" and p.message == "3 files read" for p in seen)


def test_an_empty_folder_gives_a_page_that_says_so(tmp_path):
    dash = build_dashboard([tmp_path], tmp_path / OUTPUT_NAME)
    page = Path(tmp_path / OUTPUT_NAME).read_text(encoding="utf-8")
    assert dash.all.reports == 0 and "No report has a time" in page and "Every file was read" in page


def test_no_fault_found_is_not_a_likely_cause_and_hours_count_no_tutors(tmp_path):
    export_report(check_report("Tutor A", calm=True), tmp_path / "calm.json")
    export_report(check_report("Tutor B", at=START + timedelta(hours=1)), tmp_path / "steam.json")
    dash = read_reports([tmp_path])
    assert dash.by_cause["no_fault"].reports == 1  # counted under its own cause ...
    rows = {r["group"]: r for r in group_rows(dash, "tutor")}
    assert rows["Tutor A"]["likely causes"] == ""  # ... but not shown as a tutor's likely cause
    assert rows["Tutor B"]["likely causes"] == "Another program on this computer (1)"
    assert rows["Tutor A"]["tutors"] == ""  # a tutor's own row does not count tutors
    hours = group_rows(dash, "hour")
    assert hours and all(r["tutors"] == "" for r in hours)
    assert {r["group"]: r["tutors"] for r in group_rows(dash, "connection")} == {"Ethernet": "2"}
