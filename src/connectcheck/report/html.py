"""The report as one self-contained HTML file that opens in any browser or mail preview.

Inline CSS, charts as inline SVG from ``charts.py``, print-friendly; no scripts, no remote
content, no links out (a Content-Security-Policy says so to the browser as well). Every text from
the report is escaped, control characters included. The report's JSON is embedded at the end as
a data block (``<script type="application/json">``, which browsers never run) so that support
tools can read the file back; ``<``, ``>`` and ``&`` inside it are written as ``\\u003c`` etc.,
so no text can close the block early.
"""

from __future__ import annotations

import json

from connectcheck.core.model import to_dict
from connectcheck.report.charts import xml_text
from connectcheck.report.content import (
    Block,
    Bullets,
    CauseBox,
    Cell,
    Chart,
    Document,
    Facts,
    Heading,
    Lights,
    Para,
    Table,
    Verdict,
    document,
)
from connectcheck.report.model import DATA_ID, REPORT_FORMAT, STATES, Report

CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; form-action 'none'; base-uri 'none'"

CSS = """
html { --ink:#1f2933; --muted:#5f6b76; --line:#d9dee3; --paper:#ffffff; --wash:#f5f7f9;
  --good:#2f7d4f; --good-bg:#e3f1e8; --degraded:#8a5700; --degraded-bg:#fbefd9;
  --fail:#b3261e; --fail-bg:#f8e1de; --unknown:#5f6b76; --unknown-bg:#eef1f4; }
* { box-sizing: border-box; }
html { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
body { margin:0; background:var(--wash); color:var(--ink);
  font: 15px/1.5 "Segoe UI", "Helvetica Neue", Arial, "DejaVu Sans", sans-serif; }
main { max-width: 860px; margin: 24px auto; background:var(--paper); padding: 32px 40px 24px;
  border:1px solid var(--line); border-radius: 10px; }
header { border-bottom: 1px solid var(--line); padding-bottom: 14px; margin-bottom: 18px; }
.brand { margin:0; color:var(--muted); font-size:12px; letter-spacing:.08em; text-transform:uppercase; }
h1 { margin: 2px 0 4px; font-size: 26px; line-height:1.2; }
.when { margin:0; font-size:17px; }
.meta { margin: 8px 0 0; color:var(--muted); font-size:13px; }
.meta span + span::before { content: " · "; }
h2 { font-size: 18px; margin: 30px 0 10px; padding-bottom: 4px; border-bottom: 1px solid var(--line); }
h3 { font-size: 14.5px; margin: 18px 0 6px; color: var(--ink); }
p { margin: 6px 0; }
.muted { color: var(--muted); font-size: 13.5px; }
.strong { font-weight: 600; }
.error { color: var(--fail); background: var(--fail-bg); padding: 8px 12px; border-radius: 6px; }
.verdict { border-left: 8px solid var(--unknown); background: var(--unknown-bg); border-radius: 8px;
  padding: 14px 18px; margin: 4px 0 14px; }
.verdict .title { font-size: 22px; font-weight: 700; margin: 0 0 4px; }
.verdict.good { border-color: var(--good); background: var(--good-bg); }
.verdict.degraded { border-color: #c98a12; background: var(--degraded-bg); }
.verdict.fail { border-color: var(--fail); background: var(--fail-bg); }
.lights { display:flex; gap: 10px; flex-wrap: wrap; margin: 0 0 14px; }
.light { flex: 1 1 220px; border: 1px solid var(--line); border-radius: 8px; padding: 10px 12px; }
.light .name { font-size: 12px; letter-spacing:.06em; text-transform: uppercase; color: var(--muted);
  margin:0; }
.light .state { font-weight: 700; font-size: 16px; margin: 0 0 2px; }
.light p { font-size: 13.5px; margin: 0; }
.dot { display:inline-block; width:10px; height:10px; border-radius:50%; margin-right:6px;
  background:var(--unknown); }
.good .dot { background: var(--good); } .degraded .dot { background: #c98a12; }
.fail .dot { background: var(--fail); }
.good .state { color: var(--good); } .degraded .state { color: var(--degraded); }
.fail .state { color: var(--fail); }
.cause { border: 1px solid var(--line); border-top: 4px solid var(--unknown); border-radius: 8px;
  padding: 12px 16px; margin: 0 0 8px; }
.cause.good { border-top-color: var(--good); } .cause.degraded { border-top-color: #c98a12; }
.cause.fail { border-top-color: var(--fail); }
.cause .title { font-size: 17px; font-weight: 700; margin: 0 0 4px; }
.cause ul { margin: 6px 0 0; padding-left: 20px; }
.cause .also { margin-top: 8px; color: var(--muted); font-size: 13.5px; }
table { border-collapse: collapse; width: 100%; margin: 6px 0 10px; font-size: 13.5px; }
th { text-align:left; font-weight:600; color: var(--muted); font-size: 12px; text-transform: uppercase;
  letter-spacing: .04em; border-bottom: 1px solid var(--line); padding: 6px 8px; }
td { border-bottom: 1px solid var(--line); padding: 6px 8px; vertical-align: top; }
td.num { text-align: right; white-space: nowrap; }
td .sub { display:block; color: var(--muted); font-size: 12px; }
td.good { background: var(--good-bg); color: var(--good); }
td.degraded { background: var(--degraded-bg); color: var(--degraded); }
td.fail { background: var(--fail-bg); color: var(--fail); }
td.unknown { background: var(--unknown-bg); color: var(--unknown); }
td.good, td.degraded, td.fail, td.unknown { font-weight: 600; }
td.good .sub, td.degraded .sub, td.fail .sub, td.unknown .sub { font-weight: 400; }
b { font-weight: 600; }
figure { margin: 8px 0 12px; }
figure svg { width: 100%; max-width: 780px; height: auto; display: block; }
figcaption { color: var(--muted); font-size: 12.5px; margin-top: 4px; }
dl.facts { display: grid; grid-template-columns: 190px 1fr; gap: 4px 14px; margin: 6px 0; font-size: 14px; }
dl.facts dt { color: var(--muted); } dl.facts dd { margin: 0; overflow-wrap: anywhere; }
ul, ol { margin: 6px 0; padding-left: 22px; } li { margin: 3px 0; }
li .sub { display:block; color: var(--muted); font-size: 13px; }
footer { margin-top: 28px; padding-top: 10px; border-top: 1px solid var(--line); color: var(--muted);
  font-size: 12px; }
@media print {
  body { background: #fff; font-size: 11pt; }
  main { border: 0; margin: 0; padding: 0; max-width: none; }
  h2, h3, h2 + p { break-after: avoid; } figure, tr, .light, .cause, .verdict { break-inside: avoid; }
}
@page { margin: 15mm; }
"""


def _class(names: str) -> str:
    return f' class="{names}"' if names else ""


def _tone(tone: str | None) -> str:
    return tone if tone in STATES else "unknown"


def _cell(c: Cell, tag: str = "td") -> str:
    classes = " ".join(x for x in ("num" if c.numeric else "", _tone(c.tone) if c.tone else "") if x)
    text = f"<b>{xml_text(c.text)}</b>" if c.bold and not c.tone else xml_text(c.text)
    sub = f'<span class="sub">{xml_text(c.sub)}</span>' if c.sub else ""
    return f"<{tag}{_class(classes)}>{text}{sub}</{tag}>"


def _items(items: list[str]) -> str:
    return "".join(f"<li>{xml_text(i)}</li>" for i in items)


def block_html(block: Block) -> str:
    """One block of the outline as HTML (every text escaped)."""
    if isinstance(block, Para):
        style = {"normal": "", "lead": "lead", "muted": "muted", "error": "error", "strong": "strong"}
        cls = style.get(block.style, "")
        return f"<p{_class(cls)}>{xml_text(block.text)}</p>"
    if isinstance(block, Heading):
        return f"<h3>{xml_text(block.text)}</h3>"
    if isinstance(block, Bullets):
        tag = "ol" if block.numbered else "ul"
        items = "".join(
            f"<li>{xml_text(i.text)}"
            + (f'<span class="sub">{xml_text(i.sub)}</span>' if i.sub else "")
            + "</li>"
            for i in block.items
        )
        return f"<{tag}>{items}</{tag}>"
    if isinstance(block, Table):
        head = "".join(f"<th>{xml_text(h)}</th>" for h in block.header)
        rows = "".join("<tr>" + "".join(_cell(c) for c in row) + "</tr>" for row in block.rows)
        return f"<table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>"
    if isinstance(block, Chart):  # our own SVG: its texts are escaped where it is drawn
        return f"<figure>{block.svg}<figcaption>{xml_text(block.caption)}</figcaption></figure>"
    if isinstance(block, Verdict):
        return (
            f'<div class="verdict {_tone(block.tone)}"><p class="title">{xml_text(block.title)}</p>'
            f"<p>{xml_text(block.text)}</p></div>"
        )
    if isinstance(block, Lights):
        return (
            '<div class="lights">'
            + "".join(
                f'<div class="light {_tone(x.tone)}"><p class="name">{xml_text(x.label)}</p>'
                f'<p class="state"><span class="dot"></span>{xml_text(_state_title(x.tone))}</p>'
                f"<p>{xml_text(x.text)}</p></div>"
                for x in block.items
            )
            + "</div>"
        )
    if isinstance(block, CauseBox):
        evidence = f"<ul>{_items(block.evidence)}</ul>" if block.evidence else ""
        also = (
            '<div class="also"><p>Other factors that may have played a part:</p>'
            f"<ul>{_items(block.also)}</ul></div>"
            if block.also
            else ""
        )
        return (
            f'<div class="cause {_tone(block.tone)}"><p class="title">{xml_text(block.title)}</p>'
            f"<p>{xml_text(block.text)}</p>{evidence}{also}</div>"
        )
    if isinstance(block, Facts):
        return (
            '<dl class="facts">'
            + "".join(f"<dt>{xml_text(k)}</dt><dd>{xml_text(v)}</dd>" for k, v in block.rows)
            + "</dl>"
        )
    raise TypeError(f"no HTML for {type(block).__name__}")  # pragma: no cover - every block type is above


def _state_title(tone: str) -> str:
    return {"good": "Good", "degraded": "Weak", "fail": "Failing"}.get(tone, "Not known")


def data_block(report: Report) -> str:
    """The report's JSON as a non-executed data block, safe inside HTML."""
    text = json.dumps(to_dict(report), ensure_ascii=True, allow_nan=False, separators=(",", ":"))
    text = text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return (
        f'<script type="application/json" id="{DATA_ID}" data-format="{REPORT_FORMAT}" '
        f'data-schema-version="{report.schema_version}">{text}</script>'
    )


def render_document(doc: Document, data: str) -> str:
    meta = "".join(f"<span>{xml_text(k)}: {xml_text(v)}</span>" for k, v in doc.meta)
    sections = "".join(
        f'<section id="{s.id}">'
        + (f"<h2>{xml_text(s.title)}</h2>" if s.id != "answer" else "")
        + "".join(block_html(b) for b in s.blocks)
        + "</section>"
        for s in doc.sections
    )
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<meta name="referrer" content="no-referrer">'
        f"<title>{xml_text(doc.title)} — {xml_text(doc.when)}</title>"
        f"<style>{CSS}</style></head>\n<body><main>"
        f'<header><p class="brand">connectcheck</p><h1>{xml_text(doc.title)}</h1>'
        f'<p class="when">{xml_text(doc.when)}</p>'
        + (f'<p class="meta">{meta}</p>' if meta else "")
        + "</header>"
        f"{sections}<footer>{xml_text(doc.footer)}</footer></main>\n{data}\n</body></html>\n"
    )


def render_html(report: Report) -> str:
    """The whole report as one self-contained HTML page, its data embedded."""
    return render_document(document(report), data_block(report))
