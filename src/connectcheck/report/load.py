"""Reading a report back: from its JSON file, or from the data block its HTML file carries.

Nothing in the file is ever executed or interpreted beyond JSON: the HTML is searched for the
data block as plain text. A file written by a newer connectcheck is refused with a message that
says to update; a damaged one with a message that says what is wrong (and where, for the JSON).
"""

from __future__ import annotations

import json
import math
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
    if isinstance(data, bytes):
        if len(data) > MAX_BYTES:
            raise ReportError(f"{name} is too large to be a connectcheck report")
        if data.startswith(b"%PDF"):
            raise ReportError(f"{name} is a PDF: support tools read the report's .html or .json file")
        try:
            data = _decode(data)
        except UnicodeDecodeError:
            raise ReportError(f"{name} is not a connectcheck report (it is not text)") from None
    return report_from_dict(_parse(_json_text(data, name), name), name)


def _decode(data: bytes) -> str:
    """Text in UTF-8 (with or without a byte order mark) or, with its byte order mark, UTF-16
    (a report saved again by some Windows programs)."""
    if data[:2] in (b"\xff\xfe", b"\xfe\xff"):
        return data.decode("utf-16")
    return data.decode("utf-8-sig")


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


def _parse(text: str, name: str) -> Any:
    try:
        return json.loads(text, parse_float=_finite, parse_int=_integer, parse_constant=_no_constant)
    except (ValueError, RecursionError) as exc:
        raise ReportError(f"the report data in {name} is damaged (not valid JSON: {exc})") from None


def report_from_dict(data: Any, name: str = "this file") -> Report:
    """Check and build a report from parsed JSON; refuses newer versions and damaged data."""
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
    try:
        report = from_dict(Report, data)
        check_choices(report)
    except ModelError as exc:
        raise ReportError(f"the report in {name} is damaged: {exc}") from None
    except OverflowError:
        raise ReportError(f"the report in {name} is damaged: a number in it is too large") from None
    for i, check in enumerate(report.checks):
        if check.schema_version > SCHEMA_VERSION:
            raise NewerReportError(
                f"{name} holds a check written by a newer connectcheck (check format "
                f"{check.schema_version}). Please update connectcheck to read it."
            )
        if check.schema_version < 1:
            raise ReportError(f"the report in {name} is damaged: $.checks[{i}].schema_version is wrong")
    return report
