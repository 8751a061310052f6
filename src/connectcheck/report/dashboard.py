"""The support desk's page over many reports: when trouble happens, its likely causes, which
tutors, providers and connections keep having it.

    dash = read_reports([Path("attachments")], base=Path("attachments"))
    write_dashboard(dash, Path("attachments/connectcheck-dashboard.html"))

Reports (their ``.html``, ``.json`` or ``.pdf``, read as ``report/load`` reads them) are streamed:
each one is parsed, the few figures the page needs are taken from it (:class:`Figures`) and the
document is dropped, so memory holds the tallies, the newest few file names per figure and one
short fingerprint per report (to skip a second copy of the same check or lesson), never the
reports themselves. A file that cannot be read is listed with the reason (damaged, written by a
newer connectcheck, not a report) and the rest go on.

The page is one self-contained HTML file like the report: inline CSS and SVG, no scripts, no
remote content (a Content-Security-Policy says so to the browser), every text from a report or a
file name escaped, the links to the reports relative (``./name``, each part percent-encoded, so a
name such as ``javascript:…`` stays a file name). A provider is named only in a group where at
least :data:`MIN_TUTORS` different tutors are; smaller groups are pooled as "other providers".
"""

from __future__ import annotations

import hashlib
import heapq
import json
import math
import os
import threading
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

from connectcheck.assess.cause import TITLES as CAUSE_TITLES
from connectcheck.core.files import FileRefused, atomic_write_text, read_limited
from connectcheck.core.model import CAUSES, STATES
from connectcheck.core.tasks import Cancelled, ProgressFn, report
from connectcheck.core.words import KIND_WORDS, STATE_WORDS, describe_date, one_line
from connectcheck.report.charts import xml_text
from connectcheck.report.load import MAX_BYTES, check_version, report_data
from connectcheck.report.model import KINDS, NewerReportError, ReportError

READABLE = (".html", ".htm", ".json", ".pdf")
OUTPUT_NAME = "connectcheck-dashboard.html"
MARK = "<!-- connectcheck-dashboard -->"  # first line of the page: reading a folder skips it
MIN_TUTORS = 5  # a provider is named only in a group with at least this many different tutors
FILES_SHOWN = 10  # the newest reports linked under each figure
TUTORS_SHOWN = 200
LISTED = 300  # files not read / duplicates listed by name (all are counted)
MAX_NAME = 120  # characters of a file name, tutor label or provider shown
DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
BAD = ("degraded", "fail")
DEFAULT_INTERVAL_S = 5.0  # a timeline without its interval: the monitor's usual one (as assess/cause)
OTHER_PROVIDERS = f"other providers (each with fewer than {MIN_TUTORS} tutors here)"
NO_PROVIDER = "provider not named"
NO_TUTOR = "no tutor label"

CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; form-action 'none'; base-uri 'none'"


# --- the figures of one report -----------------------------------------------------------------------


@dataclass(slots=True)
class Figures:
    """What the page needs of one report; the report itself is not kept."""

    name: str  # the file's name as shown
    link: str  # relative link to the file
    kind: str  # "check" | "lesson"
    when: datetime | None  # the check's or lesson's start, on the tutor's own clock
    tutor: str
    state: str  # the overall tone: good / degraded / fail / unknown
    cause: str | None  # a CAUSES key
    improved: bool | None  # did a re-check after the advice find things better
    provider: str | None
    connection: str  # "Wi-Fi 5 GHz", "Ethernet", "mobile", "not known"
    troubled: Counter[int]  # hour of the week (weekday × 24 + hour) → seconds of troubled samples
    key: bytes  # the same check or lesson gives the same key


def _damaged(name: str, where: str, what: str) -> ReportError:
    return ReportError(f"the report in {name} is damaged: {where} {what}")


def _field(d: Any, key: str, types: type | tuple[type, ...], name: str, where: str) -> Any:
    if not isinstance(d, dict):
        raise _damaged(name, where, "is not an object")
    value = d.get(key)
    if value is None:
        return None
    if not isinstance(value, types) or isinstance(value, bool) and bool not in _tuple(types):
        raise _damaged(name, f"{where}.{key}", "has the wrong type")
    return value


def _tuple(types: type | tuple[type, ...]) -> tuple[type, ...]:
    return types if isinstance(types, tuple) else (types,)


def _short(text: str) -> str:
    text = one_line(text).strip()
    return text if len(text) <= MAX_NAME else text[: MAX_NAME - 1] + "…"


def _band(mhz: float | None) -> str:
    if mhz is None or mhz <= 0:
        return "Wi-Fi"
    return "Wi-Fi 2.4 GHz" if mhz < 3000 else "Wi-Fi 5 GHz" if mhz < 5925 else "Wi-Fi 6 GHz"


def _connection(checks: list[Any], name: str) -> str:
    for i, check in enumerate(checks):
        local = _field(check, "local", dict, name, f"$.checks[{i}]")
        kind = _field(local, "connection_type", str, name, f"$.checks[{i}].local") if local else None
        if not kind:
            continue
        if kind == "wifi":
            wifi = _field(local, "wifi", dict, name, f"$.checks[{i}].local")
            mhz = (
                _field(wifi, "frequency_mhz", (int, float), name, f"$.checks[{i}].local.wifi")
                if wifi
                else None
            )
            return _band(mhz if mhz is None or math.isfinite(mhz) else None)
        return KIND_WORDS.get(kind, "other")
    return "not known"


def _troubled(timeline: dict[str, Any] | None, name: str) -> Counter[int]:
    """Seconds of the lesson when an activity was weak or failing, by the hour of the week: each
    such sample counts the seconds it stands for (the timeline's interval; monitors may sample
    every second or every few), so lessons sampled differently add up in the same unit."""
    cells = _troubled_samples(timeline, name)
    if not cells or timeline is None:
        return cells
    interval = _field(timeline, "interval_s", (int, float), name, "$.timeline")
    if interval is None:
        interval = DEFAULT_INTERVAL_S
    elif not 0 < interval <= 3600:
        raise _damaged(name, "$.timeline.interval_s", "is not a time between samples")
    return Counter({hour: n * interval for hour, n in cells.items()})


def _troubled_samples(timeline: dict[str, Any] | None, name: str) -> Counter[int]:
    cells: Counter[int] = Counter()
    if not timeline:
        return cells
    start = _time(_field(timeline, "start", str, name, "$.timeline"))
    points = _field(timeline, "points", list, name, "$.timeline") or []
    if start is None:
        return cells
    base = start.weekday() * 24 + start.hour
    into = start.minute * 60 + start.second
    known, bad = frozenset(STATES), frozenset(BAD)
    try:  # the common case in a comprehension (a lesson has hundreds of samples)
        states = [p["state"] for p in points]
        if set(states) <= known:
            times = [p.get("t_s") for p, s in zip(points, states, strict=True) if s in bad]
            if all(type(t) in (int, float) and 0 <= t < 366 * 86_400 for t in times):
                cells.update((base + int((into + t) // 3600)) % 168 for t in times)
                return cells
    except (TypeError, KeyError, IndexError, AttributeError):
        pass
    for i, p in enumerate(points):  # something is wrong: found again one sample at a time, to say where
        try:
            state = p["state"]
        except (TypeError, KeyError, IndexError):
            raise _damaged(name, f"$.timeline.points[{i}]", "has no state") from None
        if state in bad:  # only these samples' times are used: only they are checked
            t = p.get("t_s")
            if type(t) not in (int, float) or not 0 <= t < 366 * 86_400:
                raise _damaged(name, f"$.timeline.points[{i}].t_s", "is not a time in the lesson")
            cells[(base + int((into + t) // 3600)) % 168] += 1
        elif state not in known:
            raise _damaged(name, f"$.timeline.points[{i}].state", "is not one of " + ", ".join(STATES))
    return cells


def _time(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        return None


def figures_of(data: dict[str, Any], name: str, link: str) -> Figures:
    """The figures of one parsed report (``report_data``); ReportError when they are damaged."""
    kind = data.get("kind")
    if kind not in KINDS:
        raise _damaged(name, "$.kind", "is not one of " + ", ".join(KINDS))
    started = _field(data, "started_at", str, name, "$") or ""
    ended = _field(data, "ended_at", str, name, "$")
    tutor = _field(data, "tutor_label", str, name, "$")
    organisation = _field(data, "organisation", str, name, "$")
    provider = _field(data, "provider", str, name, "$")
    headline = _field(data, "headline", dict, name, "$") or {}
    state = headline.get("state", "unknown")
    if state not in STATES:
        raise _damaged(name, "$.headline.state", "is not one of " + ", ".join(STATES))
    cause = _field(headline, "cause", dict, name, "$.headline")
    key = cause.get("key", "unclear") if cause else None
    if key is not None and key not in CAUSES:
        raise _damaged(name, "$.headline.cause.key", "is not a cause connectcheck knows")
    advice = _field(data, "advice", dict, name, "$")
    improved = _field(advice, "improved", bool, name, "$.advice") if advice else None
    checks = _field(data, "checks", list, name, "$") or []
    for i, check in enumerate(checks):
        if not isinstance(check, dict):
            raise _damaged(name, f"$.checks[{i}]", "is not an object")
        check_version(check.get("schema_version"), i, name)
    fingerprint = json.dumps([kind, started, ended, tutor, organisation], ensure_ascii=True)
    return Figures(
        name=name,
        link=link,
        kind=kind,
        when=_time(started),
        tutor=_short(tutor) if tutor and tutor.strip() else NO_TUTOR,
        state=state,
        cause=key,
        improved=improved,
        provider=_short(provider) if provider and provider.strip() else None,
        connection=_connection(checks, name),
        troubled=_troubled(_field(data, "timeline", dict, name, "$"), name),
        key=hashlib.blake2b(fingerprint.encode(), digest_size=16).digest(),
    )


def read_figures(path: Path, base: Path | None = None) -> Figures:
    """Read one report file and keep only its figures; ReportError says why it cannot be read."""
    name = path.name
    try:
        data = read_limited(path, MAX_BYTES, "report")
    except FileNotFoundError:
        raise ReportError(f"there is no file {name}") from None
    except FileRefused as exc:
        raise ReportError(str(exc).replace(str(path), name)) from None
    except OSError as exc:
        raise ReportError(f"{name} could not be read ({exc.strerror or exc})") from None
    parsed = report_data(data, name, strict=False)  # the numbers used are checked in figures_of
    del data
    try:
        return figures_of(parsed, name, link_to(path, base))
    except RecursionError:
        raise ReportError(f"the report in {name} is damaged (nested too deeply)") from None


def link_to(path: Path, base: Path | None) -> str:
    """A link from a page in ``base`` to ``path``: relative (``./…``, every part percent-encoded),
    or a ``file:`` address when there is no relative way (another drive on Windows)."""
    full = os.path.abspath(path)
    if base is None:
        return Path(full).as_uri()
    try:
        rel = os.path.relpath(full, os.path.abspath(base))
    except ValueError:
        return Path(full).as_uri()
    return "./" + "/".join(quote(part, safe="") for part in rel.split(os.sep))


def report_paths(paths: Iterable[Path], skip: Path | None = None) -> Iterator[Path]:
    """The report files in ``paths``: files as given, folders searched (sorted, with their
    subfolders) for .html, .htm, .json and .pdf files; ``skip`` (the page being written) left out."""
    skipped = os.path.abspath(skip) if skip else None
    for path in paths:
        path = Path(path)
        if path.is_dir():
            for root, dirs, files in os.walk(path):
                dirs.sort()
                for f in sorted(files):
                    p = Path(root, f)
                    if p.suffix.lower() in READABLE and os.path.abspath(p) != skipped:
                        yield p
        elif os.path.abspath(path) != skipped:
            yield path


# --- the tallies ---------------------------------------------------------------------------------------


class Files:
    """The newest :data:`FILES_SHOWN` reports behind a figure, and how many there are."""

    __slots__ = ("count", "_heap")

    def __init__(self) -> None:
        self.count = 0
        self._heap: list[tuple[float, str, str]] = []

    def add(self, when: float, name: str, link: str) -> None:
        self.count += 1
        item = (when, name, link)
        if len(self._heap) < FILES_SHOWN:
            heapq.heappush(self._heap, item)
        elif item > self._heap[0]:
            heapq.heapreplace(self._heap, item)

    def merge(self, other: Files) -> None:
        for item in other._heap:
            self.add(*item)
        self.count += other.count - len(other._heap)

    def newest(self) -> list[tuple[str, str]]:
        return [(name, link) for _, name, link in sorted(self._heap, reverse=True)]


@dataclass
class Group:
    """The tallies of the reports in one group (a cause, a tutor, a provider, a month, …)."""

    reports: int = 0
    lessons: int = 0
    checks: int = 0
    states: Counter[str] = field(default_factory=Counter)
    causes: Counter[str] = field(default_factory=Counter)
    rechecks: Counter[bool] = field(default_factory=Counter)  # True: better after the advice
    troubled: float = 0.0  # seconds of troubled samples
    tutors: set[str] | None = field(default_factory=set)  # None: not counted (hours, months, a tutor)
    files: Files = field(default_factory=Files)

    def add(self, f: Figures, stamp: float, troubled: float | None = None) -> None:
        self.reports += 1
        if f.kind == "lesson":
            self.lessons += 1
        else:
            self.checks += 1
        self.states[f.state] += 1
        if f.cause:
            self.causes[f.cause] += 1
        if f.improved is not None:
            self.rechecks[f.improved] += 1
        self.troubled += sum(f.troubled.values()) if troubled is None else troubled
        if self.tutors is not None:
            self.tutors.add(f.tutor)
        self.files.add(stamp, f.name, f.link)

    def merge(self, other: Group) -> None:
        self.reports += other.reports
        self.lessons += other.lessons
        self.checks += other.checks
        self.states.update(other.states)
        self.causes.update(other.causes)
        self.rechecks.update(other.rechecks)
        self.troubled += other.troubled
        if self.tutors is not None and other.tutors is not None:
            self.tutors |= other.tutors
        self.files.merge(other.files)

    @property
    def failed(self) -> int:
        return self.states["fail"]


def _groups() -> dict[Any, Group]:
    return {}


def _group(groups: dict[Any, Group], key: Any, tutors: bool) -> Group:
    """The group of ``key``, made when it is the first (``tutors``: it counts its tutors)."""
    g = groups.get(key)
    if g is None:
        g = groups[key] = Group() if tutors else Group(tutors=None)
    return g


@dataclass
class Dashboard:
    """Everything the page shows, tallied report by report (:meth:`add`)."""

    all: Group = field(default_factory=Group)
    by_cause: dict[str, Group] = field(default_factory=_groups)
    by_tutor: dict[str, Group] = field(default_factory=_groups)
    by_provider: dict[str | None, Group] = field(default_factory=_groups)
    by_connection: dict[str, Group] = field(default_factory=_groups)
    by_provider_connection: dict[tuple[str | None, str], Group] = field(default_factory=_groups)
    by_month: dict[str, Group] = field(default_factory=_groups)
    by_day: Counter[tuple[str, str]] = field(default_factory=Counter)  # (date, kind) → reports
    by_start_hour: dict[int, Group] = field(default_factory=_groups)  # hour of the week the report started
    troubled_s: list[float] = field(default_factory=lambda: [0.0] * 168)  # seconds of trouble by hour of week
    failed_checks: list[int] = field(default_factory=lambda: [0] * 168)
    cells: dict[int, Files] = field(default_factory=dict)  # reports behind each hour of the week
    unreadable: list[tuple[str, str]] = field(default_factory=list)
    unreadable_count: int = 0
    duplicates: list[tuple[str, str]] = field(default_factory=list)
    duplicates_count: int = 0
    no_time: int = 0
    _seen: dict[bytes, str] = field(default_factory=dict)

    def add(self, f: Figures) -> bool:
        """Tally one report; False when it is a second copy of a check or lesson already counted."""
        first = self._seen.get(f.key)
        if first is not None:
            self.duplicates_count += 1
            if len(self.duplicates) < LISTED:
                self.duplicates.append((f.name, first))
            return False
        self._seen[f.key] = f.name
        stamp = f.when.timestamp() if f.when else 0.0
        troubled = sum(f.troubled.values())
        for groups, key, tutors in (
            (self.by_cause, f.cause or "none", True),
            (self.by_provider, f.provider, True),
            (self.by_connection, f.connection, True),
            (self.by_provider_connection, (f.provider, f.connection), True),
            (self.by_tutor, f.tutor, False),
        ):
            _group(groups, key, tutors).add(f, stamp, troubled)
        self.all.add(f, stamp, troubled)
        if f.when is None:
            self.no_time += 1
        else:
            _group(self.by_month, f.when.strftime("%Y-%m"), False).add(f, stamp, troubled)
            self.by_day[(f.when.date().isoformat(), f.kind)] += 1
            hour = f.when.weekday() * 24 + f.when.hour
            _group(self.by_start_hour, hour, False).add(f, stamp, troubled)
            if f.kind == "check" and f.state == "fail":
                self.failed_checks[hour] += 1
                self.cells.setdefault(hour, Files()).add(stamp, f.name, f.link)
        for hour, n in f.troubled.items():
            self.troubled_s[hour] += n
            self.cells.setdefault(hour, Files()).add(stamp, f.name, f.link)
        return True

    def refuse(self, name: str, why: str) -> None:
        self.unreadable_count += 1
        if len(self.unreadable) < LISTED:
            self.unreadable.append((name, why))

    def providers(self) -> list[tuple[str, Group]]:
        """Providers with at least MIN_TUTORS tutors by name; the others pooled, nameless last."""
        return _pooled({(k,): g for k, g in self.by_provider.items()}, lambda k: k[0])

    def provider_connections(self) -> list[tuple[str, Group]]:
        out: list[tuple[str, Group]] = []
        for conn in sorted({c for _, c in self.by_provider_connection}):
            groups = {(p,): g for (p, c), g in self.by_provider_connection.items() if c == conn}
            out += [(f"{conn} · {name}", g) for name, g in _pooled(groups, lambda k: k[0])]
        return out


def _pooled(
    groups: dict[tuple[str | None], Group], provider: Callable[[Any], str | None]
) -> list[tuple[str, Group]]:
    named, other, unnamed = [], Group(), Group()
    for key, g in groups.items():
        p = provider(key)
        if p is None:
            unnamed.merge(g)
        elif len(g.tutors or ()) >= MIN_TUTORS:
            named.append((p, g))
        else:
            other.merge(g)
    named.sort(key=lambda x: (-x[1].reports, x[0]))
    return named + [(n, g) for n, g in ((OTHER_PROVIDERS, other), (NO_PROVIDER, unnamed)) if g.reports]


def read_reports(
    paths: Iterable[Path],
    base: Path | None = None,
    progress: ProgressFn | None = None,
    cancel: threading.Event | None = None,
    skip: Path | None = None,
) -> Dashboard:
    """Read every report in ``paths`` (files and folders) one at a time into a Dashboard; links
    are made relative to ``base`` (the page's folder). Raises Cancelled when ``cancel`` is set."""
    paths = list(paths)
    total = sum(1 for _ in report_paths(paths, skip))  # counted first, then walked again: no list kept
    dash = Dashboard()
    for i, path in enumerate(report_paths(paths, skip)):
        if cancel is not None and cancel.is_set():
            raise Cancelled()
        if i % 50 == 0:
            report(progress, "read", i / max(1, total), f"{i:,} of {total:,} files read")
        try:
            dash.add(read_figures(path, base))
        except NewerReportError as exc:
            dash.refuse(path.name, str(exc))
        except ReportError as exc:
            if _is_dashboard(path):
                continue
            dash.refuse(path.name, str(exc))
    report(progress, "read", 1.0, f"{total:,} files read")
    return dash


def _is_dashboard(path: Path) -> bool:
    try:
        with open(path, "rb") as f:
            return f.read(len(MARK) + 3).lstrip(b"\xef\xbb\xbf").startswith(MARK.encode())
    except OSError:
        return False


# --- the page ------------------------------------------------------------------------------------------

CSS = """
html { --ink:#1f2933; --muted:#5f6b76; --line:#d9dee3; --paper:#fff; --wash:#f5f7f9;
  --good:#2f7d4f; --degraded:#c98a12; --fail:#b3261e; --unknown:#8a96a3; --bar:#3a6ea5; }
* { box-sizing: border-box; }
body { margin:0; background:var(--wash); color:var(--ink);
  font: 14px/1.45 "Segoe UI", "Helvetica Neue", Arial, "DejaVu Sans", sans-serif; }
main { max-width: 1080px; margin: 20px auto; background:var(--paper); padding: 26px 34px;
  border:1px solid var(--line); border-radius: 10px; }
h1 { margin: 0 0 4px; font-size: 24px; }
h2 { font-size: 18px; margin: 28px 0 8px; padding-bottom: 4px; border-bottom: 1px solid var(--line); }
h3 { font-size: 15px; margin: 16px 0 6px; }
.brand { margin:0; color:var(--muted); font-size:12px; letter-spacing:.08em; text-transform:uppercase; }
.muted { color: var(--muted); font-size: 13px; }
.tiles { display:flex; gap:10px; flex-wrap:wrap; margin: 12px 0; }
.tile { border:1px solid var(--line); border-radius:8px; padding:8px 14px; min-width:130px; }
.tile b { display:block; font-size:22px; }
table { border-collapse: collapse; width: 100%; margin: 6px 0 10px; }
th, td { text-align:left; padding: 4px 8px; border-bottom: 1px solid var(--line); vertical-align: top; }
th { font-size: 12px; color: var(--muted); font-weight: 600; }
td:first-child { min-width: 110px; }
td.n, th.n { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
details summary { cursor: pointer; color: var(--muted); font-size: 12.5px; }
details ul { margin: 4px 0; padding-left: 18px; font-size: 12.5px; }
a { color: #1d5fa8; overflow-wrap: anywhere; }
.s-good { color: var(--good); } .s-degraded { color: #8a5700; } .s-fail { color: var(--fail); }
svg text { font: 11px "Segoe UI", Arial, "DejaVu Sans", sans-serif; fill: var(--ink); }
.contents { font-size: 13px; }
.warn { background:#fbefd9; border-radius:6px; padding:8px 12px; }
"""


def _t(text: str) -> str:
    """A text from a report or a file name, escaped for the page and kept on one line."""
    return xml_text(one_line(text))


def _pct(part: int, whole: int) -> str:
    return f"{100 * part / whole:.0f} %" if whole else "–"


def _files(files: Files) -> str:
    if not files.count:
        return ""
    items = "".join(f'<li><a href="{xml_text(link)}">{_t(name)}</a></li>' for name, link in files.newest())
    more = files.count - min(files.count, FILES_SHOWN)
    tail = f"<li>… and {more:,} older</li>" if more else ""
    label = (
        "the report" if files.count == 1 else f"the {files.count:,} reports" if not more else "newest reports"
    )
    return f"<details><summary>{label}</summary><ul>{items}{tail}</ul></details>"


def _bar(value: int, top: int, width: int = 160, colour: str = "var(--bar)") -> str:
    w = 0 if not top else max(1, round(width * value / top)) if value else 0
    return (
        f'<svg width="{width}" height="12" role="img" aria-hidden="true">'
        f'<rect width="{width}" height="12" fill="#eef1f4"/>'
        f'<rect width="{w}" height="12" fill="{colour}"/></svg>'
    )


def _states(g: Group) -> str:
    parts = [
        f'<span class="s-{s}">{g.states[s]:,} {STATE_WORDS[s]}</span>'
        for s in ("fail", "degraded", "good", "unknown")
        if g.states[s]
    ]
    return ", ".join(parts)


def _causes(g: Group, n: int = 3) -> str:
    return ", ".join(f"{_t(CAUSE_TITLES.get(k, k))} ({c:,})" for k, c in _troubles(g)[:n])


def _troubles(g: Group) -> list[tuple[str, int]]:
    """The group's likely causes, most reports first, "no fault found" left out (its verdicts say it)."""
    return [(k, c) for k, c in g.causes.most_common() if k != "no_fault"]


def _rechecks(g: Group) -> str:
    done = g.rechecks[True] + g.rechecks[False]
    return f"better in {g.rechecks[True]:,} of {done:,}" if done else "–"


def _group_table(rows: list[tuple[str, Group]], first: str, tutors: bool = False) -> str:
    head = (
        f"<tr><th>{first}</th><th class='n'>reports</th><th class='n'>lessons</th><th class='n'>checks</th>"
        + ("<th class='n'>tutors</th>" if tutors else "")
        + "<th>verdicts</th><th>likely causes</th><th>re-check after the advice</th><th>reports</th></tr>"
    )
    body = "".join(
        f"<tr><td>{_t(name)}</td><td class='n'>{g.reports:,}</td><td class='n'>{g.lessons:,}</td>"
        f"<td class='n'>{g.checks:,}</td>"
        + (f"<td class='n'>{len(g.tutors):,}</td>" if tutors else "")
        + f"<td>{_states(g)}</td><td>{_causes(g)}</td><td>{_rechecks(g)}</td><td>{_files(g.files)}</td></tr>"
        for name, g in rows
    )
    return f"<table>{head}{body}</table>"


def _over_time(dash: Dashboard) -> str:
    if not dash.by_day:
        return "<p class='muted'>No report has a time.</p>"
    days = sorted({d for d, _ in dash.by_day})
    first, last = datetime.fromisoformat(days[0]), datetime.fromisoformat(days[-1])
    daily = (last - first).days <= 62
    buckets: dict[str, list[int]] = {}
    for (day, kind), n in dash.by_day.items():
        key = day if daily else day[:7]
        counts = buckets.setdefault(key, [0, 0])
        counts[0 if kind == "check" else 1] += n
    keys = sorted(buckets)
    top = max(sum(v) for v in buckets.values())
    bar_w = max(4, min(56, 900 // max(1, len(keys))))
    height, width = 150, bar_w * len(keys) + 50
    bars = []
    for i, k in enumerate(keys):
        checks, lessons = buckets[k]
        x = 40 + i * bar_w
        hc, hl = height * checks / top, height * lessons / top
        tip = _t(f"{k}: {lessons:,} lessons, {checks:,} checks")
        bars.append(
            f'<g><title>{tip}</title><rect x="{x}" y="{10 + height - hc - hl:.1f}" width="{bar_w - 1}" '
            f'height="{hl:.1f}" fill="#3a6ea5"/><rect x="{x}" y="{10 + height - hc:.1f}" '
            f'width="{bar_w - 1}" height="{hc:.1f}" fill="#9db8d6"/></g>'
        )
    every = max(1, -(-(40 if daily else 54) // bar_w))  # a label every few bars, so that none overlap
    labels = "".join(
        f'<text x="{40 + i * bar_w}" y="{height + 24}">'
        f"{_t(_day(k) if daily else _month(k, short=True))}</text>"
        for i, k in enumerate(keys)
        if i % every == 0
    )
    svg = (
        f'<svg width="{width}" height="{height + 30}" role="img" aria-label="reports over time">'
        f'<text x="0" y="16">{top:,}</text><text x="0" y="{height + 10}">0</text>'
        f'<line x1="38" y1="{height + 10}" x2="{width}" y2="{height + 10}" stroke="#d9dee3"/>'
        f"{''.join(bars)}{labels}</svg>"
    )
    legend = (
        "<p class='muted'><svg width='10' height='10'><rect width='10' height='10' fill='#3a6ea5'/></svg> "
        "lessons &nbsp; <svg width='10' height='10'><rect width='10' height='10' fill='#9db8d6'/></svg> "
        f"checks, {'per day' if daily else 'per month'}</p>"
    )
    months = sorted(dash.by_month.items())
    table = _group_table([(_month(k), g) for k, g in months], "month")
    return svg + legend + table


def _month(key: str, short: bool = False) -> str:
    """ "2026-06" as "June 2026" (``short``: "Jun 2026")."""
    year, month = key.split("-")
    name, year = describe_date(datetime(int(year), int(month), 1)).split(" ", 2)[2].split(" ")
    return f"{name[:3] if short else name} {year}"


def _day(key: str) -> str:
    """ "2026-06-01" as "1 Jun"."""
    day = datetime.fromisoformat(key)
    return f"{day.day} {describe_date(day).split(' ')[2][:3]}"


def _minutes(seconds: float) -> int:
    """Seconds as whole minutes, a little trouble (under half a minute) as 1 rather than none."""
    return max(1, round(seconds / 60)) if seconds > 0 else 0


def _compact(n: int) -> str:
    """A count short enough for a grid cell: 987, 9.9k, 15k."""
    return str(n) if n < 1000 else f"{n / 1000:.1f}k" if n < 9950 else f"{n / 1000:.0f}k"


def _grid(values: list[int], what: str, colour: tuple[int, int, int]) -> str:
    top = max(values) or 1
    cw, ch, left = 34, 22, 80
    cells = []
    for day in range(7):
        cells.append(f'<text x="0" y="{30 + day * ch + 15}">{DAYS[day]}</text>')
        for hour in range(24):
            v = values[day * 24 + hour]
            a = 0.0 if not v else 0.12 + 0.88 * v / top
            r, g, b = (round(255 - (255 - c) * a) for c in colour)
            tip = f"{DAYS[day]} {hour:02d}:00–{hour + 1:02d}:00: {v:,} {what}"
            text = (
                f'<text x="{left + hour * cw + 4}" y="{30 + day * ch + 15}">'
                f"{_compact(v)}</text>"
                if v
                else ""
            )
            fill = "#fff" if a > 0.6 else "var(--ink)"
            cells.append(
                f'<g><title>{tip}</title><rect x="{left + hour * cw}" y="{30 + day * ch}" width="{cw - 2}" '
                f'height="{ch - 2}" rx="3" fill="rgb({r},{g},{b})" stroke="#e3e7eb"/>'
                + text.replace("<text ", f'<text style="fill:{fill}" ')
                + "</g>"
            )
    hours = "".join(f'<text x="{left + h * cw + 4}" y="20">{h:02d}</text>' for h in range(24))
    return (
        f'<svg width="{left + 24 * cw}" height="{30 + 7 * ch + 6}" role="img" '
        f'aria-label="{what} by hour and weekday">'
        f"{hours}{''.join(cells)}</svg>"
    )


def _when_trouble(dash: Dashboard) -> str:
    out = [
        "<h3>Trouble during monitored lessons</h3>",
        "<p class='muted'>Minutes of monitored lessons when sound, video or another activity was weak or "
        "failing, by the hour of the tutor's own clock.</p>",
        _grid([_minutes(v) for v in dash.troubled_s], "minutes with trouble", (179, 38, 30)),
        "<h3>Failed checks</h3>",
        "<p class='muted'>Checks whose answer was that the lesson cannot go ahead, by the hour they "
        "started.</p>",
        _grid(dash.failed_checks, "failed checks", (58, 110, 165)),
    ]
    busiest = sorted(range(168), key=lambda h: (-dash.troubled_s[h], -dash.failed_checks[h], h))[:10]
    rows = "".join(
        f"<tr><td>{DAYS[h // 24]} {h % 24:02d}:00–{h % 24 + 1:02d}:00</td>"
        f"<td class='n'>{_minutes(dash.troubled_s[h]):,}</td>"
        f"<td class='n'>{dash.failed_checks[h]:,}</td><td>{_files(dash.cells.get(h, Files()))}</td></tr>"
        for h in busiest
        if dash.troubled_s[h] or dash.failed_checks[h]
    )
    if rows:
        out.append(
            "<h3>The most troubled hours</h3><table><tr><th>when</th><th class='n'>minutes with trouble</th>"
            f"<th class='n'>failed checks</th><th>reports</th></tr>{rows}</table>"
        )
    return "".join(out)


def _causes_section(dash: Dashboard) -> str:
    with_cause = {k: g for k, g in dash.by_cause.items() if k not in ("none", "no_fault")}
    total = sum(g.reports for g in with_cause.values())
    notes = [
        f"{g.reports:,} {'report' if g.reports == 1 else 'reports'} {what}"
        for g, what in (
            (dash.by_cause.get("no_fault"), "found no fault"),
            (dash.by_cause.get("none"), "named no cause"),
        )
        if g is not None
    ]
    note = f"<p class='muted'>{'; '.join(notes)}: not in this table.</p>" if notes else ""
    if not total:
        return "<p class='muted'>No report names a likely cause of trouble.</p>" + note
    top = max(g.reports for g in with_cause.values())
    rows = "".join(
        f"<tr><td>{_t(CAUSE_TITLES.get(k, k))}</td><td class='n'>{g.reports:,}</td>"
        f"<td class='n'>{_pct(g.reports, total)}</td><td>{_bar(g.reports, top)}</td>"
        f"<td class='n'>{len(g.tutors):,}</td><td>{_files(g.files)}</td></tr>"
        for k, g in sorted(with_cause.items(), key=lambda x: (-x[1].reports, x[0]))
    )
    return (
        "<p class='muted'>The likely cause each report with trouble names; the share is of those "
        f"{total:,} reports.</p>"
        "<table><tr><th>likely cause</th><th class='n'>reports</th><th class='n'>share</th><th></th>"
        f"<th class='n'>tutors</th><th>reports</th></tr>{rows}</table>{note}"
    )


def _tutors(dash: Dashboard) -> str:
    rows = sorted(
        dash.by_tutor.items(),
        key=lambda x: (-(x[1].states["fail"] + x[1].states["degraded"]), -x[1].reports, x[0]),
    )
    shown = rows[:TUTORS_SHOWN]
    more = len(rows) - len(shown)
    note = (
        f"<p class='muted'>{more:,} more tutors with fewer troubled reports are not shown: "
        "<code>connectcheck report summarize FOLDER --by tutor</code> lists them all.</p>"
        if more
        else ""
    )
    return (
        "<p class='muted'>Tutors by their label in the reports, the most troubled first.</p>"
        + _group_table(shown, "tutor")
        + note
    )


def _providers(dash: Dashboard) -> str:
    conns = sorted(dash.by_connection.items(), key=lambda x: (-x[1].reports, x[0]))
    return (
        "<h3>By connection</h3>"
        + _group_table(conns, "connection", tutors=True)
        + "<h3>By internet provider</h3>"
        f"<p class='muted'>The provider the speed service named for the tutor's network. A provider is "
        f"named only where at least {MIN_TUTORS} different tutors are in the group.</p>"
        + _group_table(dash.providers(), "provider", tutors=True)
        + "<h3>By connection and provider</h3>"
        + _group_table(dash.provider_connections(), "connection · provider", tutors=True)
    )


def _not_read(dash: Dashboard) -> str:
    out = []
    if dash.unreadable_count:
        rows = "".join(f"<tr><td>{_t(n)}</td><td>{_t(why)}</td></tr>" for n, why in dash.unreadable)
        more = dash.unreadable_count - len(dash.unreadable)
        out.append(
            f"<p class='warn'>{dash.unreadable_count:,} files could not be read and are left out.</p>"
            f"<table><tr><th>file</th><th>why</th></tr>{rows}</table>"
            + (f"<p class='muted'>… and {more:,} more.</p>" if more else "")
        )
    if dash.duplicates_count:
        rows = "".join(f"<tr><td>{_t(n)}</td><td>{_t(first)}</td></tr>" for n, first in dash.duplicates)
        more = dash.duplicates_count - len(dash.duplicates)
        out.append(
            f"<p>{dash.duplicates_count:,} files are another copy of a check or lesson already counted "
            "(the same report saved twice, or as HTML and PDF) and are counted once.</p>"
            "<details><summary>the copies</summary>"
            f"<table><tr><th>file</th><th>same check or lesson as</th></tr>{rows}</table>"
            + (f"<p class='muted'>… and {more:,} more.</p>" if more else "")
            + "</details>"
        )
    return "".join(out) or "<p class='muted'>Every file was read.</p>"


def render_dashboard(dash: Dashboard, built_at: datetime | None = None) -> str:
    """The page over all the reports tallied in ``dash``."""
    built_at = built_at or datetime.now(UTC).astimezone()
    a = dash.all
    files = a.reports + dash.duplicates_count + dash.unreadable_count
    stamps = sorted(dash.by_month)
    span = f"{_month(stamps[0])} to {_month(stamps[-1])}" if stamps else "no dates"
    tiles = "".join(
        f"<div class='tile'><b>{v}</b>{label}</div>"
        for v, label in (
            (f"{a.reports:,}", "reports"),
            (f"{a.lessons:,}", "monitored lessons"),
            (f"{a.checks:,}", "checks"),
            (f"{len(a.tutors):,}", "tutors"),
            (_pct(a.states["fail"] + a.states["degraded"], a.reports), "weak or failing"),
            (f"{dash.unreadable_count:,}", "files not read"),
        )
    )
    sections = [
        ("over-time", "Reports and lessons over time", _over_time(dash)),
        ("causes", "Likely causes", _causes_section(dash)),
        ("when", "When trouble happens", _when_trouble(dash)),
        ("providers", "Per provider and connection", _providers(dash)),
        ("tutors", "Per tutor", _tutors(dash)),
        ("not-read", "Files not read, and copies", _not_read(dash)),
    ]
    body = "".join(f'<section id="{key}"><h2>{title}</h2>{html}</section>' for key, title, html in sections)
    contents = "<p class='contents'>On this page: " + " · ".join(
        f'<a href="#{key}">{title}</a>' for key, title, _ in sections
    ) + "</p>"
    when = f"{describe_date(built_at)} {built_at:%H:%M}"
    no_time = f" {dash.no_time:,} reports have no time and are left out of the times." if dash.no_time else ""
    return (
        f"{MARK}\n<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<meta name="referrer" content="no-referrer">'
        "<title>connectcheck: reports over many lessons</title>"
        f"<style>{CSS}</style></head><body><main>"
        "<p class='brand'>connectcheck · for the support desk</p>"
        "<h1>Reports over many lessons</h1>"
        f"<p class='muted'>{a.reports:,} reports, {span}; page made {when}. Times are on each tutor's own "
        f"clock. Links open the report files beside this page.{no_time}</p>"
        f"<div class='tiles'>{tiles}</div>{contents}{body}"
        f"<p class='muted'>Made by connectcheck from {files:,} "
        f"files; each figure links its newest {FILES_SHOWN} reports.</p>"
        "</main></body></html>\n"
    )


def write_dashboard(dash: Dashboard, path: Path) -> Path:
    """Write the page (atomically) and return where."""
    atomic_write_text(path, render_dashboard(dash))
    return path


def build_dashboard(
    paths: Iterable[Path],
    out: Path,
    progress: ProgressFn | None = None,
    cancel: threading.Event | None = None,
) -> Dashboard:
    """Read the reports in ``paths`` and write the page to ``out`` (links relative to its folder)."""
    out = Path(out)
    dash = read_reports(paths, base=out.parent, progress=progress, cancel=cancel, skip=out)
    if cancel is not None and cancel.is_set():
        raise Cancelled()
    report(progress, "write", 0.0, "writing the page")
    write_dashboard(dash, out)
    report(progress, "write", 1.0, f"page written to {out}")
    return dash


# --- the same groupings as rows (``report summarize --by``) ---------------------------------------------

BY = ("cause", "tutor", "provider", "connection", "hour", "weekday")
BY_COLUMNS = (
    "group",
    "reports",
    "lessons",
    "checks",
    "failing",
    "weak",
    "good",
    "minutes with trouble",
    "tutors",
    "likely causes",
    "better after advice",
)


def _row(name: str, g: Group, troubled_s: float | None = None) -> dict[str, str]:
    done = g.rechecks[True] + g.rechecks[False]
    return {
        "group": one_line(name),
        "reports": str(g.reports),
        "lessons": str(g.lessons),
        "checks": str(g.checks),
        "failing": str(g.states["fail"]),
        "weak": str(g.states["degraded"]),
        "good": str(g.states["good"]),
        "minutes with trouble": str(_minutes(g.troubled if troubled_s is None else troubled_s)),
        "tutors": "" if g.tutors is None else str(len(g.tutors)),
        "likely causes": ", ".join(f"{CAUSE_TITLES.get(k, k)} ({c})" for k, c in _troubles(g)[:3]),
        "better after advice": f"{g.rechecks[True]} of {done}" if done else "",
    }


def group_rows(dash: Dashboard, by: str) -> list[dict[str, str]]:
    """The rows of one grouping (``BY``): a row per cause, tutor, provider (named only with at
    least MIN_TUTORS tutors), connection, hour of the day or weekday. For hours and weekdays a
    report counts where it started, its minutes with trouble where they were."""
    if by == "cause":
        items = sorted(dash.by_cause.items(), key=lambda x: (-x[1].reports, x[0]))
        return [_row("no cause named" if k == "none" else CAUSE_TITLES.get(k, k), g) for k, g in items]
    if by == "tutor":
        return [_row(k, g) for k, g in sorted(dash.by_tutor.items(), key=lambda x: (-x[1].reports, x[0]))]
    if by == "provider":
        return [_row(k, g) for k, g in dash.providers()]
    if by == "connection":
        return [
            _row(k, g) for k, g in sorted(dash.by_connection.items(), key=lambda x: (-x[1].reports, x[0]))
        ]
    if by in ("hour", "weekday"):
        rows = []
        for n in range(24 if by == "hour" else 7):
            hours = [d * 24 + n for d in range(7)] if by == "hour" else [n * 24 + h for h in range(24)]
            g = Group(tutors=None)
            for h in hours:
                if h in dash.by_start_hour:
                    g.merge(dash.by_start_hour[h])
            troubled = sum(dash.troubled_s[h] for h in hours)
            if g.reports or troubled:
                rows.append(_row(f"{n:02d}:00–{n + 1:02d}:00" if by == "hour" else DAYS[n], g, troubled))
        return rows
    raise ValueError(f"no grouping {by!r}: one of {', '.join(BY)}")


def group_note(dash: Dashboard) -> str:
    """One line on what was read: reports, copies skipped, files not read."""

    def n(count: int, one: str, many: str) -> str:
        return f"{count:,} {one if count == 1 else many}"

    parts = [n(dash.all.reports, "report", "reports")]
    if dash.duplicates_count:
        parts.append(n(dash.duplicates_count, "copy", "copies") + " counted once")
    if dash.unreadable_count:
        parts.append(n(dash.unreadable_count, "file", "files") + " not read")
    return ", ".join(parts)


__all__ = [
    "BY",
    "BY_COLUMNS",
    "Dashboard",
    "Figures",
    "build_dashboard",
    "group_rows",
    "read_reports",
    "render_dashboard",
    "write_dashboard",
]
