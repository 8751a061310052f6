"""A mutation fuzzer over real report files: whatever the bytes, the loader returns a report or
refuses with a ReportError (nothing else escapes), and whatever it accepts can be
shown in the terminal, summarised, and written as HTML again with its data block intact.

Seeded, so a failure is reproducible: the seed and the case number are in the message.
"""

from __future__ import annotations

import json
import random
from typing import Any

import pytest

from connectcheck.report import ReportError, build_check_report, build_lesson_report
from connectcheck.report.html import render_html
from connectcheck.report.load import loads_report
from connectcheck.report.model import dumps_report
from connectcheck.report.summary import format_report, summary_row
from tests.report.conftest import CONTROL, IMG, SCRIPT
from tests.report.fixtures import troubled_lesson

SEED = 20261128
CASES = {"json": 3000, "html": 1500}
HTML_EVERY = 7  # every 7th accepted mutant is also written as HTML and read back
INTERESTING = [
    None,
    True,
    False,
    0,
    -1,
    1,
    2**31,
    2**64,
    10**30,
    -(10**30),
    0.0,
    -0.0,
    1e-300,
    1e308,
    -1e308,
    0.5,
    "",
    "good",
    "fail",
    "check",
    "lesson",
    "connectcheck-report",
    "x" * 5000,
    SCRIPT,
    IMG,
    CONTROL,
    "\ud800",
    "9999-12-31T23:59:59+14:00",
    "0001-01-01T00:00:00-12:00",
    "2024-10-24T16:00:00",
    [],
    {},
    [None],
    [1, "a", {}],
    {"a": []},
    {"format": "connectcheck-report"},
]
INSERTS = [
    b"{",
    b"}",
    b"[",
    b"]",
    b'"',
    b"\\",
    b",",
    b":",
    b"<",
    b"</script>",
    b"\x00",
    b"\\ud800",
    b"NaN",
    b"1e999",
    b"-",
    b"9" * 40,
    b"null",
    b'"schema_version": 2',
    b'id="connectcheck-report"',
    b"\xff\xfe",
]


def _paths(data: Any, here: tuple = ()) -> list[tuple]:
    """Every place in a JSON document (object keys and list indices), depth first."""
    out = [here]
    if isinstance(data, dict):
        for k, v in data.items():
            out += _paths(v, here + (k,))
    elif isinstance(data, list):
        for i, v in enumerate(data):
            out += _paths(v, here + (i,))
    return out


def _shapes(data: Any) -> list[list[tuple]]:
    """The document's places grouped by kind of field (list positions made alike), so that each kind
    of field is as likely to be picked as any other, not every one of 180 timeline points."""
    shapes: dict[tuple, list[tuple]] = {}
    for path in _paths(data)[1:]:
        shapes.setdefault(tuple("*" if isinstance(p, int) else p for p in path), []).append(path)
    return [shapes[k] for k in sorted(shapes, key=repr)]


def _mutate_structure(text: str, shapes: list[list[tuple]], rng: random.Random) -> Any:
    """One change at a random place: a strange value, a removed key, an unknown key, a repeat."""
    data = json.loads(text)
    path = rng.choice(rng.choice(shapes))
    parent = data
    for step in path[:-1]:
        parent = parent[step]
    key = path[-1]
    action = rng.randrange(5)
    if action == 0 and isinstance(parent, dict):
        del parent[key]
    elif action == 1 and isinstance(parent, dict):
        parent[f"unknown_{rng.randrange(100)}"] = rng.choice(INTERESTING)
    elif action == 2 and isinstance(parent, list):
        parent.insert(key, parent[key])
    else:
        parent[key] = rng.choice(INTERESTING)
    return data


def _mutate_bytes(blob: bytes, rng: random.Random) -> bytes:
    """Bit flips, cut or repeated spans, inserted tokens, or a cut-off end."""
    b = bytearray(blob)
    for _ in range(rng.randint(1, 4)):
        if not b:
            break
        at = rng.randrange(len(b))
        action = rng.randrange(5)
        if action == 0:
            b[at] ^= 1 << rng.randrange(8)
        elif action == 1:
            del b[at : at + rng.randint(1, 200)]
        elif action == 2:
            b[at:at] = b[at : at + rng.randint(1, 200)]
        elif action == 3:
            b[at:at] = rng.choice(INSERTS)
        else:
            del b[at:]
    return bytes(b)


def _embed(page: str, data: Any) -> bytes:
    """An HTML report with other JSON in its data block (as written, with < > & escaped)."""
    start = page.index(">", page.index('id="connectcheck-report"')) + 1
    end = page.index("</script>", start)
    text = json.dumps(data).replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return (page[:start] + text + page[end:]).encode("utf-8")


@pytest.fixture(scope="module")
def seeds(lab_check):
    """Real report files: a short troubled lesson (with a check and the guide) and a real check."""
    from connectcheck.config.settings import Settings

    settings = Settings()
    settings.set("report.include_network_name", True)
    reports = [
        build_lesson_report(troubled_lesson(minutes=15), settings),
        build_check_report(lab_check, settings),
    ]
    return [(dumps_report(r), render_html(r), _shapes(json.loads(dumps_report(r)))) for r in reports]


def _check_accepted(report, case: str, accepted: int) -> None:
    text = format_report(report, full=True)
    assert text.endswith("\n")
    row = summary_row(report, "fuzz.json")
    assert all(isinstance(v, str) for v in row.values())
    if accepted % HTML_EVERY == 0:
        page = render_html(report)
        assert page.count("</script>") == 1, case
        assert loads_report(page.encode("utf-8", "replace")) is not None, case


def _run(kind: str, seeds, rng: random.Random) -> tuple[int, int]:
    accepted = refused = 0
    for n in range(CASES[kind]):
        js, page, shapes = rng.choice(seeds)
        structured = rng.random() < 0.5
        if kind == "json":
            blob = (
                json.dumps(_mutate_structure(js, shapes, rng)).encode()
                if structured
                else _mutate_bytes(js.encode(), rng)
            )
        else:
            blob = (
                _embed(page, _mutate_structure(js, shapes, rng))
                if structured
                else _mutate_bytes(page.encode(), rng)
            )
        case = f"seed {SEED}, {kind} case {n}"
        try:
            report = loads_report(blob, "fuzz")
        except ReportError as exc:
            refused += 1
            assert str(exc), case
        else:
            accepted += 1
            _check_accepted(report, case, accepted)
    return accepted, refused


@pytest.mark.slow
def test_the_loader_survives_mutated_json_and_html_reports(seeds):
    rng = random.Random(SEED)
    totals = {kind: _run(kind, seeds, rng) for kind in CASES}
    for kind, (accepted, refused) in totals.items():
        # both outcomes are exercised: many mutants still load, many are refused
        assert accepted > CASES[kind] // 10 and refused > CASES[kind] // 10, (kind, accepted, refused)
