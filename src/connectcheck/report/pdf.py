"""The report as a PDF, through Qt: the same outline as the HTML (``content.py``), laid out by
``QTextDocument`` on A4 pages with a footer, and the same SVG charts drawn as vectors by
``QSvgRenderer``. The only module of ``report/`` that imports Qt.

Qt's rich text understands a subset of HTML (tables, colours, fonts; no CSS layout), so the
outline is written here in that subset. Charts sit in the text as objects drawn by
:class:`_Charts`; their places are marked with private-use characters, which never survive in
the report's own texts (``charts.clean`` replaces them), so no text can move a chart.

The report's JSON rides along as a file attached to the PDF (``connectcheck-report.json``), for
tools that want the data.
"""

from __future__ import annotations

from collections.abc import Iterator

from PySide6.QtCore import (
    QBuffer,
    QByteArray,
    QCoreApplication,
    QIODevice,
    QMarginsF,
    QRectF,
    QSizeF,
    Qt,
    QThread,
)
from PySide6.QtGui import (
    QColor,
    QFont,
    QGuiApplication,
    QPageLayout,
    QPageSize,
    QPainter,
    QPdfWriter,
    QPyTextObject,
    QTextBlock,
    QTextCharFormat,
    QTextCursor,
    QTextDocument,
    QTextFormat,
)
from PySide6.QtSvg import QSvgRenderer

from connectcheck.report.charts import INK, MUTED, TONE, ZONE, clean, xml_text
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
from connectcheck.report.model import STATES, Report, ReportError, dumps_report

DPI = 300  # device resolution: text and charts are vectors, this only sets the coordinate grid
DOC_DPI = 96  # the units the document is laid out in (CSS pixels)
MARGINS_MM = QMarginsF(16, 14, 16, 16)
FOOTER_PX = 22  # room kept at the bottom of each page for the footer, in document units
FONT_FAMILIES = ["Segoe UI", "Helvetica Neue", "Arial", "DejaVu Sans", "Liberation Sans", "sans-serif"]
CHART_OBJECT = QTextFormat.ObjectTypes.UserObject + 1
CHART_INDEX = QTextFormat.Property.UserProperty + 1
MARK_OPEN, MARK_CLOSE = "\ue000", "\ue001"  # private use: never in the report's own (cleaned) texts
LINE = "#d9dee3"
BORDERED = f"border-collapse:collapse; border-style:solid; border-color:{LINE};"  # tables with thin lines
ATTACHMENT = "connectcheck-report.json"

_app: QGuiApplication | None = None  # the application made here when the caller had none


def _application() -> None:
    """Qt needs a GUI application for fonts; make an off-screen one when there is none."""
    global _app
    existing = QCoreApplication.instance()
    if existing is None:
        # A widgets application (not only a GUI one), so that windows opened later in the same
        # process (the tray app, or the UI tests after a report test) find the kind they need.
        from PySide6.QtWidgets import QApplication

        _app = QApplication(["connectcheck", "-platform", "offscreen"])
    elif not isinstance(existing, QGuiApplication):
        raise ReportError("a PDF cannot be made from this program (Qt runs without its graphics part)")


def _t(text: str) -> str:
    return xml_text(text)


def _tone(tone: str | None) -> str:
    return tone if tone in STATES else "unknown"


# --- the outline in Qt's rich-text HTML -------------------------------------------------------------------


def _cell(c: Cell, header: bool = False) -> str:
    if header:
        return (
            f'<th align="left" style="color:{MUTED}; font-size:7.5pt; font-weight:600; '
            f'padding:4px 6px;">{_t(c.text).upper()}</th>'
        )
    style = "padding:4px 6px;"
    bg = ""
    text = _t(c.text)
    if c.tone:
        tone = _tone(c.tone)
        bg = f' bgcolor="{ZONE[tone]}"'
        text = f'<span style="color:{TONE[tone]}; font-weight:600;">{text}</span>'
    elif c.bold:
        text = f"<b>{text}</b>"
    sub = f'<br/><span style="color:{MUTED}; font-size:7.5pt;">{_t(c.sub)}</span>' if c.sub else ""
    align = ' align="right"' if c.numeric else ""
    return f'<td{bg}{align} style="{style}">{text}{sub}</td>'


def _table(t: Table) -> str:
    head = "".join(_cell(Cell(h), header=True) for h in t.header)
    rows = "".join("<tr>" + "".join(_cell(c) for c in row) + "</tr>" for row in t.rows)
    return (
        f'<table width="100%" cellspacing="0" cellpadding="0" border="1" '
        f'style="{BORDERED} margin-top:4px; margin-bottom:8px;">'
        f"<thead><tr>{head}</tr></thead>{rows}</table>"
    )


def _para(p: Para) -> str:
    styles = {
        "muted": f"color:{MUTED}; font-size:8.5pt;",
        "error": f"color:{TONE['fail']}; background-color:{ZONE['fail']};",
        "strong": "font-weight:600;",
        "lead": "font-size:11pt;",
    }
    return f'<p style="margin-top:3px; margin-bottom:3px; {styles.get(p.style, "")}">{_t(p.text)}</p>'


def _list(items: Iterator[str], numbered: bool = False) -> str:
    tag = "ol" if numbered else "ul"
    return (
        f'<{tag} style="margin-top:2px; margin-bottom:6px;">'
        + "".join(f"<li>{i}</li>" for i in items)
        + f"</{tag}>"
    )


def _verdict(v: Verdict) -> str:
    tone = _tone(v.tone)
    return (
        f'<table width="100%" cellspacing="0" cellpadding="0" style="margin-bottom:8px;"><tr>'
        f'<td width="7" bgcolor="{TONE[tone]}"></td>'
        f'<td bgcolor="{ZONE[tone]}" style="padding:9px 12px;">'
        f'<p style="font-size:15pt; font-weight:700; margin:0;">{_t(v.title)}</p>'
        f'<p style="margin:2px 0 0 0;">{_t(v.text)}</p></td></tr></table>'
    )


def _lights(block: Lights) -> str:
    width = 100 // max(1, len(block.items))
    cells = "".join(
        f'<td width="{width}%" style="padding:6px 8px;">'
        f'<p style="color:{MUTED}; font-size:7.5pt; margin:0;">{_t(x.label).upper()}</p>'
        f'<p style="color:{TONE[_tone(x.tone)]}; font-weight:700; font-size:11pt; margin:0;">'
        f"● {_t(_STATE_TITLES.get(_tone(x.tone), 'Not known'))}</p>"
        f'<p style="font-size:8.5pt; margin:0;">{_t(x.text)}</p></td>'
        for x in block.items
    )
    return (
        f'<table width="100%" cellspacing="0" cellpadding="0" border="1" '
        f'style="{BORDERED} margin-bottom:8px;"><tr>{cells}</tr></table>'
    )


_STATE_TITLES = {"good": "Good", "degraded": "Weak", "fail": "Failing", "unknown": "Not known"}


def _cause(c: CauseBox) -> str:
    tone = _tone(c.tone)
    evidence = _list(_t(e) for e in c.evidence) if c.evidence else ""
    also = ""
    if c.also:
        also = (
            f'<p style="color:{MUTED}; font-size:8.5pt; margin-top:4px;">'
            "Other factors that may have played a part:</p>"
            f'<ul style="color:{MUTED}; font-size:8.5pt;">'
            + "".join(f"<li>{_t(a)}</li>" for a in c.also)
            + "</ul>"
        )
    return (
        f'<table width="100%" cellspacing="0" cellpadding="0" style="margin-bottom:6px;"><tr>'
        f'<td width="4" bgcolor="{TONE[tone]}"></td><td width="1" bgcolor="{LINE}"></td>'
        '<td style="padding:6px 12px;">'
        f'<p style="font-size:12pt; font-weight:700; margin:0;">{_t(c.title)}</p>'
        f'<p style="margin:3px 0 0 0;">{_t(c.text)}</p>{evidence}{also}</td></tr></table>'
    )


def _facts(f: Facts) -> str:
    rows = "".join(
        f'<tr><td width="30%" style="color:{MUTED}; padding:2px 8px 2px 0;">{_t(k)}</td>'
        f'<td style="padding:2px 0;">{_t(v)}</td></tr>'
        for k, v in f.rows
    )
    return f'<table width="100%" cellspacing="0" cellpadding="0">{rows}</table>'


def _block(block: Block, charts: list[str]) -> str:
    if isinstance(block, Para):
        return _para(block)
    if isinstance(block, Heading):
        return f'<h3 style="font-size:10pt; margin-top:10px; margin-bottom:3px;">{_t(block.text)}</h3>'
    if isinstance(block, Bullets):
        return _list(
            (
                _t(i.text)
                + (f'<br/><span style="color:{MUTED}; font-size:8pt;">{_t(i.sub)}</span>' if i.sub else "")
                for i in block.items
            ),
            block.numbered,
        )
    if isinstance(block, Table):
        return _table(block)
    if isinstance(block, Chart):
        charts.append(block.svg)
        return (
            f'<p style="margin-top:6px; margin-bottom:0;">{MARK_OPEN}{len(charts) - 1}{MARK_CLOSE}</p>'
            f'<p style="color:{MUTED}; font-size:7.5pt; margin-top:2px; margin-bottom:6px;">'
            f"{_t(block.caption)}</p>"
        )
    if isinstance(block, Verdict):
        return _verdict(block)
    if isinstance(block, Lights):
        return _lights(block)
    if isinstance(block, CauseBox):
        return _cause(block)
    if isinstance(block, Facts):
        return _facts(block)
    raise TypeError(
        f"no PDF layout for {type(block).__name__}"
    )  # pragma: no cover - every block type is above


def rich_text(doc: Document) -> tuple[str, list[str]]:
    """The outline as Qt rich text, and the SVG of each chart (in the order of their marks)."""
    charts: list[str] = []
    meta = " · ".join(f"{_t(k)}: {_t(v)}" for k, v in doc.meta)
    parts = [
        f'<p style="color:{MUTED}; font-size:7.5pt; margin:0;">CONNECTCHECK</p>',
        f'<h1 style="font-size:18pt; margin-top:0; margin-bottom:2px;">{_t(doc.title)}</h1>',
        f'<p style="font-size:11pt; margin:0;">{_t(doc.when)}</p>',
        f'<p style="color:{MUTED}; font-size:8pt; margin-top:2px; margin-bottom:10px;">{meta}</p>'
        if meta
        else "",
    ]
    for section in doc.sections:
        if section.id != "answer":
            parts.append(
                f'<h2 style="font-size:12.5pt; margin-top:14px; margin-bottom:4px; color:{INK};">'
                f"{_t(section.title)}</h2>"
            )
        parts += [_block(b, charts) for b in section.blocks]
    parts.append(f'<p style="color:{MUTED}; font-size:7.5pt; margin-top:14px;">{_t(doc.footer)}</p>')
    return f'<html><body style="color:{INK};">{"".join(parts)}</body></html>', charts


# --- charts as text objects --------------------------------------------------------------------------------


class _Charts(QPyTextObject):
    """Draws the charts where their marks were: vectors straight from the SVG, at most the text width."""

    def __init__(self, svgs: list[str], width: float) -> None:
        super().__init__()
        self.renderers = [QSvgRenderer(QByteArray(svg.encode("utf-8"))) for svg in svgs]
        self.width = width

    def _renderer(self, fmt: QTextFormat) -> QSvgRenderer | None:
        index = fmt.property(CHART_INDEX)
        return self.renderers[index] if isinstance(index, int) and 0 <= index < len(self.renderers) else None

    def intrinsicSize(self, doc: QTextDocument, pos: int, fmt: QTextFormat) -> QSizeF:
        renderer = self._renderer(fmt)
        if renderer is None or not renderer.isValid():
            return QSizeF(0, 0)
        size = renderer.defaultSize()
        width = min(float(size.width()), self.width)
        return QSizeF(width, size.height() * width / max(1, size.width()))

    def drawObject(
        self, painter: QPainter, rect: QRectF, doc: QTextDocument, pos: int, fmt: QTextFormat
    ) -> None:
        renderer = self._renderer(fmt)
        if renderer is not None and renderer.isValid():
            renderer.render(painter, rect)


def _place_charts(doc: QTextDocument, count: int) -> None:
    for index in range(count):
        cursor = doc.find(f"{MARK_OPEN}{index}{MARK_CLOSE}")
        if cursor.isNull():
            continue
        fmt = QTextCharFormat()
        fmt.setObjectType(CHART_OBJECT)
        fmt.setProperty(CHART_INDEX, index)
        cursor.insertText("\ufffc", fmt)


# --- pages ---

KEEP_AFTER = {1: 80.0, 2: 80.0, 3: 50.0}  # room a heading needs below it on its page, in document units


def _room_after(doc: QTextDocument, heading: QTextBlock, level: int, page: QSizeF) -> float:
    """The room a heading needs below it: a few lines, or the whole of a chart that follows it (a
    chart cannot be split, so a heading left above it would stand alone at the foot of a page),
    with the chart's caption, whenever that fits on a page at all."""
    layout = doc.documentLayout()
    following = heading.next()
    while following.isValid() and not following.text().strip():
        following = following.next()
    if not following.isValid() or "\ufffc" not in following.text():
        return KEEP_AFTER[level]
    caption = following.next()
    needed = layout.blockBoundingRect(following).height()
    if caption.isValid():
        needed += layout.blockBoundingRect(caption).height()
    heading_height = layout.blockBoundingRect(heading).height()
    return needed if needed + heading_height < page.height() else KEEP_AFTER[level]


def _keep_headings_with_next(doc: QTextDocument, page: QSizeF) -> None:
    """Move each heading that would end a page (its section on the next one) to the next page."""
    layout = doc.documentLayout()
    block = doc.begin()
    while block.isValid():
        level = block.blockFormat().headingLevel()
        if level in KEEP_AFTER:
            rect = layout.blockBoundingRect(block)
            page_end = (int(rect.top() // page.height()) + 1) * page.height()
            room = _room_after(doc, block, level, page)
            if rect.top() % page.height() > 1 and rect.bottom() + room > page_end:
                fmt = block.blockFormat()
                fmt.setPageBreakPolicy(QTextFormat.PageBreakFlag.PageBreak_AlwaysBefore)
                QTextCursor(block).setBlockFormat(fmt)
                doc.setPageSize(page)  # lay out again from here on
        block = block.next()


# ------------------------------------------------------------------------------------------------


def _footer(painter: QPainter, writer: QPdfWriter, text: str) -> None:
    font = QFont()
    font.setFamilies(FONT_FAMILIES)
    font.setPointSizeF(7.0)
    painter.setFont(font)
    painter.setPen(QColor(MUTED))
    height = writer.height()
    painter.drawText(
        QRectF(0, height - DPI * 0.16, writer.width(), DPI * 0.16),
        Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignBottom,
        clean(text),
    )


def layout_pages(text: str, svgs: list[str], page: QSizeF) -> tuple[QTextDocument, _Charts]:
    """The rich text laid out on pages of ``page`` size, charts in place, headings kept with what
    follows them (the chart handler is returned too: the document draws through it)."""
    doc = QTextDocument()
    font = QFont()
    font.setFamilies(FONT_FAMILIES)
    font.setPointSizeF(9.5)
    doc.setDefaultFont(font)
    doc.setDocumentMargin(0)
    charts = _Charts(svgs, page.width())
    doc.documentLayout().registerHandler(CHART_OBJECT, charts)
    doc.setHtml(text)
    _place_charts(doc, len(svgs))
    doc.setPageSize(page)  # after the edits: it lays the whole document out again (edits leave it stale)
    _keep_headings_with_next(doc, page)
    return doc, charts


class _Rendering(QThread):
    """The rendering in a Qt thread of its own: the text layout starts timers, which need the
    thread's event dispatcher (a plain Python thread has none, and Qt warns once per timer)."""

    def __init__(self, report: Report) -> None:
        super().__init__()
        self.report = report
        self.pdf: bytes | None = None
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self.pdf = _render(self.report)
        except BaseException as exc:  # handed to the caller's thread as it was
            self.error = exc


def render_pdf(report: Report) -> bytes:
    """The report as the bytes of an A4 PDF, its JSON attached. Safe on any thread (the export
    runs on a worker thread): where the thread has no Qt event dispatcher it renders in a Qt
    thread and waits for it."""
    _application()
    if QThread.currentThread().eventDispatcher() is not None:
        return _render(report)
    job = _Rendering(report)
    job.start()
    job.wait()
    if job.error is not None:
        raise job.error
    assert job.pdf is not None
    return job.pdf


def _render(report: Report) -> bytes:
    outline = document(report)
    text, svgs = rich_text(outline)
    buffer = QBuffer()
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    writer = QPdfWriter(buffer)
    writer.setResolution(DPI)
    writer.setPageSize(QPageSize(QPageSize.PageSizeId.A4))
    writer.setPageMargins(MARGINS_MM, QPageLayout.Unit.Millimeter)
    writer.setTitle(clean(f"{outline.title} — {outline.when}"))
    writer.setCreator("connectcheck")
    writer.addFileAttachment(ATTACHMENT, QByteArray(dumps_report(report).encode("utf-8")), "application/json")

    scale = DPI / DOC_DPI
    page = QSizeF(writer.width() / scale, writer.height() / scale - FOOTER_PX)
    doc, _charts = layout_pages(text, svgs, page)
    pages = max(1, doc.pageCount())

    painter = QPainter()
    if not painter.begin(writer):
        raise ReportError("the PDF could not be started (Qt refused to paint it)")
    try:
        for number in range(pages):
            if number:
                writer.newPage()
            painter.save()
            painter.scale(scale, scale)
            painter.translate(0, -number * page.height())
            doc.drawContents(painter, QRectF(0, number * page.height(), page.width(), page.height()))
            painter.restore()
            _footer(painter, writer, f"{outline.title} · {outline.when} · page {number + 1} of {pages}")
    finally:
        painter.end()
    buffer.close()
    return bytes(buffer.data())
