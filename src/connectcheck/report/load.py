"""Reading a report back: from its JSON file, from the data block its HTML file carries, or from
the JSON attached to its PDF (``report/pdf.py`` attaches ``connectcheck-report.json``).

Nothing in the file is ever executed or interpreted beyond JSON: the HTML is searched for the
data block as plain text; the PDF only for its attached file's stream, inflated with a size bound
(no PDF library, nothing of the pages is read). A file written by a newer connectcheck is refused
with a message that says to update; a damaged one with a message that says what is wrong (and
where, for the JSON).
"""

from __future__ import annotations

import json
import math
import re
import zlib
from pathlib import Path
from typing import Any

from connectcheck.core.files import FileRefused, read_limited
from connectcheck.core.model import SCHEMA_VERSION, ModelError, from_dict
from connectcheck.report.model import (
    DATA_ID,
    REPORT_FORMAT,
    REPORT_SCHEMA_VERSION,
    NewerReportError,
    Report,
    ReportError,
    check_choices,
)

MAX_BYTES = 64 * 1024 * 1024  # far above any real report; a bigger file is not one
MAX_DIGITS = 40  # digits of an integer in a report (Python's own limit words are not for support staff)
_MARKER = f'id="{DATA_ID}"'
_MARKER_BYTES = _MARKER.encode("ascii")
_JSON_START = re.compile(rb"(?:\xef\xbb\xbf)?\s*\{")


def load_report(path: Path) -> Report:
    """Read a report from a ``.json`` or ``.html`` file; raises ReportError with a clear message."""
    path = Path(path)
    try:
        data = read_limited(path, MAX_BYTES, "report")
    except FileNotFoundError:
        raise ReportError(f"there is no file {path}") from None
    except FileRefused as exc:
        if "too large" in str(exc):
            raise ReportError(f"{path.name} is too large to be a connectcheck report") from None
        if "is a folder" in str(exc):
            raise ReportError(f"{path} is a folder, not a report") from None
        raise ReportError(f"{exc}") from None
    except OSError as exc:
        raise ReportError(f"{path} could not be read ({exc.strerror or exc})") from None
    return loads_report(data, path.name)


def loads_report(data: bytes | str, name: str = "this file") -> Report:
    """Read a report from the contents of a JSON or HTML report file."""
    return report_from_dict(report_data(data, name), name)


def report_data(data: bytes | str, name: str = "this file", *, strict: bool = True) -> dict[str, Any]:
    """The parsed JSON of a report file's contents (JSON, HTML or PDF), its format and version
    checked but nothing built from it: for tools that read many reports and keep a few figures
    of each (``report/dashboard``). Raises ReportError (NewerReportError) as :func:`loads_report`.

    ``strict=False`` leaves the numbers to the JSON parser's own C code (several times faster on
    a lesson's thousands of samples): a number too large for a float is then infinite rather than
    refused, so the caller must check the numbers it uses (NaN and Infinity words are refused
    either way)."""
    if isinstance(data, bytes):
        if len(data) > MAX_BYTES:
            raise ReportError(f"{name} is too large to be a connectcheck report")
        if data.startswith(b"%PDF"):
            data = pdf_attachment(data, name)
        block = _data_block(data, name)  # an HTML page's JSON, found without decoding the page
        try:
            data = _decode(data if block is None else block)
        except UnicodeDecodeError:
            raise ReportError(f"{name} is not a connectcheck report (it is not text)") from None
        if block is not None:
            parsed = _parse(data, name, strict)
            check_format(parsed, name)
            return parsed
    parsed = _parse(_json_text(data, name), name, strict)
    check_format(parsed, name)
    return parsed


_ATTACHED = re.compile(rb"/EF\s*<<\s*/(?:UF|F)\s+(\d+)\s+(\d+)\s+R")
_LENGTH = re.compile(rb"/Length\s+(\d+)(?:\s+(\d+)\s+R)?")
_FILTER = re.compile(rb"/Filter\s*\[?\s*/(\w+)")


def _pdf_object(data: bytes, number: int, generation: int) -> int:
    """Where the body of object ``number generation`` starts (its last definition wins, as in a
    PDF updated in place); -1 when it is not there."""
    found = -1
    for m in re.finditer(rb"(?<![0-9])%d\s+%d\s+obj\b" % (number, generation), data):
        found = m.end()
    return found


def _pdf_length(data: bytes, head: bytes) -> int | None:
    m = _LENGTH.search(head)
    if m is None:
        return None
    if m.group(2) is None:
        return int(m.group(1))
    at = _pdf_object(data, int(m.group(1)), int(m.group(2)))
    value = re.match(rb"\s*(\d+)\s*endobj", data[at : at + 64]) if at >= 0 else None
    return int(value.group(1)) if value else None


def _pdf_stream(data: bytes, number: int, generation: int, name: str) -> bytes:
    damaged = f"the report data in {name} is damaged (the file attached to the PDF"
    at = _pdf_object(data, number, generation)
    start = data.find(b"stream", at) if at >= 0 else -1
    if start < 0:
        raise ReportError(f"{damaged} is missing)")
    head = data[at:start]
    start += len(b"stream")
    start += 2 if data[start : start + 2] == b"\r\n" else 1
    length = _pdf_length(data, head)
    end = data.find(b"endstream", start)
    if length is not None and start + length <= len(data):
        raw = data[start : start + length]
    elif end >= 0:
        raw = data[start:end]
    else:
        raise ReportError(f"{damaged} is cut off)")
    kind = _FILTER.search(head)
    if kind is None:
        return raw
    if kind.group(1) != b"FlateDecode":
        raise ReportError(f"{damaged} is packed in a way connectcheck does not read)")
    inflate = zlib.decompressobj()
    try:
        out = inflate.decompress(raw, MAX_BYTES + 1)
    except zlib.error:
        raise ReportError(f"{damaged} cannot be unpacked)") from None
    if len(out) > MAX_BYTES or inflate.unconsumed_tail:
        raise ReportError(f"{name} is too large to be a connectcheck report")
    return out


def pdf_attachment(data: bytes, name: str = "this file") -> bytes:
    """The report's JSON attached to a PDF that connectcheck wrote; ReportError says why not."""
    refs = _ATTACHED.findall(data)
    if not refs and b"%%EOF" not in data[-1024:]:
        raise ReportError(f"{name} is damaged: the PDF is cut off (was it saved or sent completely?)")
    if not refs:
        raise ReportError(
            f"{name} is a PDF without connectcheck report data attached (was it printed from the "
            "report rather than saved by connectcheck?)"
        )
    error: ReportError | None = None
    for number, generation in refs:
        try:
            body = _pdf_stream(data, int(number), int(generation), name)
        except ReportError as exc:
            error = error or exc
            continue
        if body.lstrip().startswith(b"{") and REPORT_FORMAT.encode() in body[:4096] + body[-4096:]:
            return body
    raise error or ReportError(f"{name} is a PDF whose attached file is not a connectcheck report")


def _decode(data: bytes) -> str:
    """Text in UTF-8 (with or without a byte order mark) or, with its byte order mark, UTF-16
    (a report saved again by some Windows programs)."""
    if data[:2] in (b"\xff\xfe", b"\xfe\xff"):
        return data.decode("utf-16")
    return data.decode("utf-8-sig")


def _data_block(data: bytes, name: str) -> bytes | None:
    """The bytes of the data block of an HTML report in UTF-8, found as bytes (the page around
    it is neither decoded nor copied); None for anything else (JSON, UTF-16 text, no data
    block), which is then read as text. ReportError when the block is cut off."""
    if data[:2] in (b"\xff\xfe", b"\xfe\xff") or _JSON_START.match(data):
        return None
    at = data.find(_MARKER_BYTES)
    if at < 0:
        return None
    tag = data.rfind(b"<script", 0, at)
    start = data.find(b">", at)
    end = data.find(b"</script", start)
    if tag < 0 or start < 0 or end < 0 or b">" in data[tag:at]:
        raise ReportError(f"the report data in {name} is damaged (its data block is cut off)")
    return data[start + 1 : end]


def _json_text(text: str, name: str) -> str:
    stripped = text.lstrip()
    if stripped.startswith("{"):
        return stripped
    at = text.find(_MARKER)
    if at < 0:
        if "<html" in text[:4096].lower() or "<!doctype" in text[:4096].lower():
            raise ReportError(
                f"{name} is a web page without connectcheck report data in it (was it edited, or "
                "saved again by a mail program?)"
            )
        raise ReportError(f"{name} is not a connectcheck report (neither its .json nor its .html)")
    tag = text.rfind("<script", 0, at)
    start = text.find(">", at)
    end = text.find("</script", start)
    if tag < 0 or start < 0 or end < 0 or ">" in text[tag:at]:
        raise ReportError(f"the report data in {name} is damaged (its data block is cut off)")
    return text[start + 1 : end]


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"the number {text[:20]} is too large")
    return value


def _integer(text: str) -> int:
    if len(text.lstrip("-")) > MAX_DIGITS:
        raise ValueError(f"a number of {len(text)} digits is far too long for a report")
    return int(text)


def _no_constant(text: str) -> Any:
    raise ValueError(f"{text} is not a number a report can hold")


def _parse(text: str, name: str, strict: bool = True) -> Any:
    try:
        if not strict:
            return json.loads(text, parse_constant=_no_constant)
        return json.loads(text, parse_float=_finite, parse_int=_integer, parse_constant=_no_constant)
    except (ValueError, RecursionError) as exc:
        raise ReportError(f"the report data in {name} is damaged (not valid JSON: {exc})") from None


def report_from_dict(data: Any, name: str = "this file") -> Report:
    """Check and build a report from parsed JSON; refuses newer versions and damaged data."""
    check_format(data, name)
    try:
        report = from_dict(Report, data)
        check_choices(report)
    except ModelError as exc:
        raise ReportError(f"the report in {name} is damaged: {exc}") from None
    except OverflowError:
        raise ReportError(f"the report in {name} is damaged: a number in it is too large") from None
    for i, check in enumerate(report.checks):
        check_version(check.schema_version, i, name)
    return report


def check_version(version: Any, i: int, name: str) -> None:
    """Refuse check number ``i`` of a report when a newer connectcheck wrote it or its version is wrong."""
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise ReportError(f"the report in {name} is damaged: $.checks[{i}].schema_version is wrong")
    if version > SCHEMA_VERSION:
        raise NewerReportError(
            f"{name} holds a check written by a newer connectcheck (check format "
            f"{version}). Please update connectcheck to read it."
        )


def check_format(data: Any, name: str = "this file") -> None:
    """Raise ReportError unless ``data`` is a connectcheck report this version reads."""
    if not isinstance(data, dict) or data.get("format") != REPORT_FORMAT:
        what = (
            "a single check's result, not a report"
            if isinstance(data, dict) and "summary" in data
            else "not a connectcheck report"
        )
        raise ReportError(f"{name} is {what}")
    version = data.get("schema_version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise ReportError(f"the report in {name} is damaged (its format version is missing or wrong)")
    if version > REPORT_SCHEMA_VERSION:
        raise NewerReportError(
            f"{name} was written by a newer connectcheck (report format {version}; this one "
            f"reads up to {REPORT_SCHEMA_VERSION}). Please update connectcheck to read it."
        )
