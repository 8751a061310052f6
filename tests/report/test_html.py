"""The HTML report: its structure (the answer first), no scripts or remote content, every untrusted
text escaped, and its embedded data read back."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser

from connectcheck.report import build_check_report, build_lesson_report, loads_report
from connectcheck.report.charts import alert_moments
from connectcheck.report.html import CSP, render_html
from connectcheck.report.model import DATA_ID, REPORT_FORMAT
from connectcheck.report.redact import Identity
from tests.report.conftest import HOSTILE, SCRIPT, WIFI_HTML, hostile
from tests.report.fixtures import troubled_lesson

ALLOWED_TAGS = {
    "html",
    "head",
    "meta",
    "title",
    "style",
    "body",
    "main",
    "header",
    "footer",
    "section",
    "div",
    "p",
    "span",
    "h1",
    "h2",
    "h3",
    "b",
    "ul",
    "ol",
    "li",
    "table",
    "thead",
    "tbody",
    "tr",
    "th",
    "td",
    "dl",
    "dt",
    "dd",
    "figure",
    "figcaption",
    "svg",
    "rect",
    "line",
    "polyline",
    "circle",
    "text",
    "script",
}


class Audit(HTMLParser):
    """Everything a browser would see: tags, attributes, and the text shown (data blocks apart)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.shown: list[str] = []
        self.data_blocks: list[str] = []
        self.headings: list[str] = []
        self._in: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        if tag in ("script", "style", "title", "h2"):
            self._in.append(tag)

    def handle_endtag(self, tag):
        if self._in and self._in[-1] == tag:
            self._in.pop()

    def handle_data(self, data):
        if not self._in:
            self.shown.append(data)
        elif self._in[-1] == "script":
            self.data_blocks.append(data)
        elif self._in[-1] == "h2":
            self.headings.append(data)
            self.shown.append(data)

    @property
    def text(self) -> str:
        return "".join(self.shown)


def audit(page: str) -> Audit:
    a = Audit()
    a.feed(page)
    a.close()
    return a


def section_ids(page: str) -> list[str]:
    return [attrs["id"] for tag, attrs in audit(page).tags if tag == "section"]


def test_a_lesson_report_has_its_sections_in_order_with_the_answer_first(settings):
    page = render_html(build_lesson_report(troubled_lesson(), settings))
    assert section_ids(page) == [
        "answer",
        "measurements",
        "timeline",
        "programs",
        "advice",
        "procedure",
        "computer",
        "details",
        "privacy",
    ]
    a = audit(page)
    body = [(tag, attrs) for tag, attrs in a.tags if tag in ("section", "div", "h1")]
    assert body[0][0] == "h1"
    assert body[1] == ("section", {"id": "answer"})
    assert body[2][0] == "div" and body[2][1]["class"] == "verdict fail"  # the verdict, before any evidence
    assert a.headings == [
        "Measurements against the lesson's limits",
        "The lesson over time",
        "Programs using the connection",
        "Advice shown and re-checks",
        "The guide for a lesson that cannot go on",
        "This computer",
        "Details of each check",
        "Privacy",
    ]
    shown = a.text
    assert (
        shown.index("The connection failed during the lesson")
        < shown.index("Likely cause: Another program")
        < shown.index(a.headings[0])
    )


def test_a_check_report_leaves_out_what_only_lessons_have(lab_check, settings):
    page = render_html(build_check_report(lab_check, settings))
    assert section_ids(page) == [
        "answer",
        "measurements",
        "programs",
        "advice",
        "computer",
        "details",
        "privacy",
    ]
    assert "Connection check report" in audit(page).text


def test_no_scripts_no_remote_content_no_event_handlers(lab_check, settings):
    page = render_html(build_check_report(hostile(lab_check), settings))
    a = audit(page)
    assert {tag for tag, _ in a.tags} <= ALLOWED_TAGS
    scripts = [attrs for tag, attrs in a.tags if tag == "script"]
    assert scripts == [
        {"type": "application/json", "id": DATA_ID, "data-format": REPORT_FORMAT, "data-schema-version": "1"}
    ]  # the one data block, which browsers never run
    for tag, attrs in a.tags:
        for name, value in attrs.items():
            assert not name.startswith("on"), (tag, name)
            assert name not in ("src", "href", "srcset", "action", "formaction", "background", "poster"), (
                tag,
                name,
            )
            assert "javascript:" not in (value or "").lower()
    csp = [
        attrs
        for tag, attrs in a.tags
        if tag == "meta" and attrs.get("http-equiv") == "Content-Security-Policy"
    ]
    assert csp == [{"http-equiv": "Content-Security-Policy", "content": CSP}]
    assert "default-src 'none'" in CSP
    assert not re.search(
        r"(?i)url\(|@import|https?://[^\s\"<]*\.(css|js|png|jpg|svg|woff)",
        page.split(f'id="{DATA_ID}"')[0].replace("http://www.w3.org/2000/svg", ""),
    )


def test_hostile_program_names_wifi_names_and_server_texts_show_as_text(lab_check, settings):
    settings.set("report.include_network_name", True)  # so that the Wi-Fi name is shown, and must be escaped
    report = build_check_report(hostile(lab_check), settings)
    page = render_html(report)
    a = audit(page)
    for text in (*HOSTILE, WIFI_HTML):
        assert text in a.text  # shown, as text
    assert SCRIPT in report.headline.cause.sentence or any(SCRIPT in x.action for x in report.advice.advice)
    assert (
        "<script>alert" not in page and "<img" not in page and "<iframe" not in page and "<b>Home" not in page
    )
    assert (
        "&lt;script&gt;alert(1)&lt;/script&gt;" in page
        and "&quot;&gt;&lt;img src=x onerror=alert(1)&gt;" in page
    )
    for ch in ("\x1b", "\x07", "\x00", "\u202e"):  # control and direction characters never reach the page
        assert ch not in page
    assert "HTTP 503\ufffd[31m Service\ufffd Un\ufffdavailable\ufffd" in a.text


def test_the_data_block_cannot_be_closed_by_a_text_in_it(lab_check, settings):
    r = hostile(lab_check)
    r.notes.append("</script><script>alert(2)</script><!--")
    report = build_check_report(r, settings)
    page = render_html(report)
    assert page.count("</script>") == 1
    data = audit(page).data_blocks
    assert len(data) == 1
    assert json.loads(data[0])["checks"][0]["notes"][-1] == "</script><script>alert(2)</script><!--"
    assert loads_report(page.encode("utf-8")) == report


def test_the_embedded_data_reads_back_as_the_same_report(settings):
    report = build_lesson_report(troubled_lesson(), settings, identity=Identity())
    assert loads_report(render_html(report).encode("utf-8")) == report


def test_charts_are_inline_svg_with_threshold_lines_and_alert_marks(settings):
    report = build_lesson_report(troubled_lesson(), settings)
    a = audit(render_html(report))
    assert sum(1 for tag, _ in a.tags if tag == "svg") == 3  # the path, the bars and the timeline
    assert "good ≤ 100" in a.shown and "fails > 30" in a.shown  # sound's limits for round trip and jitter
    assert report.timeline is not None
    marks = sorted(set(alert_moments(report.timeline)))
    assert marks == list(range(1, len(marks) + 1)) and len(marks) >= 5
    assert all(str(n) in a.shown for n in marks)  # each mark is drawn with its number


def test_the_path_picture_marks_the_broken_link_with_its_figure(lab_check, settings):
    import copy

    from connectcheck.assess import assess_check
    from connectcheck.core.model import FirstHop, LatencyResult

    r = copy.deepcopy(lab_check)
    r.first_hop = FirstHop(gateway="192.168.1.1", method="dns", target="192.168.1.1:53",
                           idle=LatencyResult(target="192.168.1.1:53", method="dns", samples_sent=100,
                                              samples=96, rtt_ms_median=31.0, jitter_ms=9.0, loss_pct=4.0))
    r.assessment = assess_check(r)
    report = build_check_report(r, settings)
    assert report.headline.cause.key == "weak_wifi" and report.headline.cause.broken == "wifi"
    page = render_html(report)
    svg = page[page.index("<title>Where the problem is"):]
    svg = svg[: svg.index("</svg>")]
    second = "Cable" if r.local.connection_type == "ethernet" else "Wi-Fi"  # this machine's own link
    for words in ("This computer", second, "Router", "Broadband line", "Lesson platform", "broken here",
                  "31 ms, varies 9 ms,"):
        assert words in svg
    assert f"The problem is on the link marked: {second}." in audit(page).text
    assert "192.168.1.1" not in page  # the router's address is masked like every address


def test_each_timeline_panel_is_shaded_only_where_its_own_metric_was_troubled():
    """A lesson whose round trip went bad while jitter and loss stayed good: only the round-trip
    panel has weak or failing stretches; the others, and this computer's traffic, are not red."""
    import re

    from connectcheck.report.charts import PANEL_H, PANELS, ZONE, timeline_chart
    from connectcheck.report.model import ThresholdLine, Timeline, TimelinePoint

    def rtt(i: int) -> float:  # failing for 50 s, good again, then weak for 20 s
        return 450.0 if 10 <= i < 20 else 150.0 if 26 <= i < 30 else 25.0

    def state(i: int) -> str:
        return "fail" if rtt(i) > 400 else "degraded" if rtt(i) > 100 else "good"

    points = [TimelinePoint(t_s=5.0 * i, rtt_ms=rtt(i), jitter_ms=2.0, loss_pct=0.0, down_mbps=2.0,
                            up_mbps=1.0, state=state(i)) for i in range(40)]
    lines = [ThresholdLine(metric, value, f"{kind} {value}", kind)
             for metric, good, fail in (("rtt_ms", 100, 400), ("jitter_ms", 15, 30), ("loss_pct", 1, 5))
             for value, kind in ((good, "good"), (fail, "fail"))]
    svg = timeline_chart(Timeline(start="2026-11-28T16:00:00+00:00", interval_s=5.0, points=points,
                                  lines=lines))

    def tops(pattern: str) -> list[float]:
        return sorted({float(y) for y in re.findall(pattern, svg)})

    shaded = {fill: tops(rf'<rect x="[\d.]+" y="([\d.]+)" [^>]*fill="{fill}"')
              for fill in (ZONE["fail"], ZONE["degraded"])}
    panel_tops = tops(rf'<rect x="[\d.]+" y="([\d.]+)" width="[\d.]+" height="{PANEL_H:.1f}" rx="0" '
                      'fill="#fbfcfd"')
    assert len(panel_tops) == len(PANELS)
    assert shaded[ZONE["fail"]] == [panel_tops[0]] and shaded[ZONE["degraded"]] == [panel_tops[0]]
