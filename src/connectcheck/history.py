"""The history: every check and every monitored lesson, kept in SQLite in the data folder.

Built to survive what happens on a tutor's computer:

* **a crash mid-write** (kill -9, power cut): WAL journal, and each sample, alert or check is one
  short transaction of its own, so a crash loses at most the write in flight, never the file;
* **a damaged file** (garbage, truncated, not a database at all): it is moved aside as
  ``history.sqlite3.corrupt-YYYYmmdd-HHMMSS``, :attr:`History.recovered` says so in plain words,
  and a fresh history is started;
* **a file held by another program**: each operation waits up to ``busy_timeout_s``; if the file
  is still held when the history is opened, :attr:`History.problem` says so and the history is
  unavailable (every operation raises :class:`HistoryError`) while the file is left as it is;
* **a file written by a newer connectcheck** (``PRAGMA user_version`` above ours): left untouched,
  with a clear message in :attr:`History.problem`;
* **a file on a read-only disk**, or a read-only command (``read_only=True``): opened read-only,
  so it can still be listed and exported; writes raise :class:`HistoryError` in plain words;
* **two programs creating it at once**: the switch to the WAL journal, which SQLite does not
  wait for by itself, is retried within ``busy_timeout_s``;
* **growth**: entries older than ``max_age_days`` go, and when the file passes ``max_mb`` the
  oldest lessons and checks go first; the file is compacted (VACUUM) when enough space is free.

The rules of deleting (:meth:`History.prune`), written once:

* nothing is deleted when the history is opened, nor by a read-only command: only after a write;
* never the entry being written or just written, nor a lesson being monitored;
* never because of a clock that cannot be trusted. An entry's age is counted from its *effective*
  time, the latest time stamped on it or on any entry recorded before it (so entries recorded
  while the clock was behind age with the good ones before them), against a *trusted now*: the
  clock, but never more than the steady clock (which a changed date does not move) has counted
  since the history was opened. Nothing goes for age while the clock is behind the newest entry,
  nor, for :data:`CLOCK_CONFIRM_DAYS`, after the clock has jumped further ahead of the newest
  entry than the age limit (a long break and a wrong date look alike; a wrong date is seen and
  put right within days, a break goes on). :attr:`History.notice` says so in plain words;
* the size limit is applied to the compacted file, by measured pages: the file is compacted
  first, then each entry's share of the pages is measured (SQLite's ``dbstat`` where it is
  built in) and the oldest entries go until the file fits, measured again after each round;
  when the protected entries alone are larger than the limit, nothing else goes (it would not
  make the file fit) and :attr:`History.notice` says so;
* lists, "the last lesson" and "the newest check" follow the order entries were recorded in, so
  an entry stamped by a wrong clock is neither the newest for ever nor hidden.

Checks are stored as their versioned JSON (:func:`connectcheck.model.dumps`) beside a few indexed
columns for the list, so a check written by a newer connectcheck is listed, and reading it gives
the model's own clear error. Samples and alerts are stored as JSON too: fields added to them later
are kept, and an older connectcheck ignores what it does not know.

Any thread may use a :class:`History`: each thread gets its own connection (the monitor's thread
writes while the window's thread reads, without waiting for each other).
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

from connectcheck.config.settings import Settings
from connectcheck.core import model, paths
from connectcheck.core.model import (
    KNOWN_STATES,
    CheckResult,
    LessonAlert,
    LessonRecord,
    MonitorSample,
    ProcedureRecord,
    worst_state,
)

FILE_NAME = "history.sqlite3"
SCHEMA_VERSION = 1  # PRAGMA user_version of the files this version writes
MB = 1_000_000
DAY_S = 86_400.0
PRUNE_EVERY_SAMPLES = 500  # the limits are looked at again after this many samples
VACUUM_FREE_SHARE = 0.25  # compact the file when this share of it is free ...
VACUUM_FREE_MIN_BYTES = 256 * 1024  # ... and at least this much
WAL_LIMIT_BYTES = 4 * MB  # the journal is cut back to this after a checkpoint
CLOCK_SLACK_S = 600.0  # the clock may be this far off the newest entry or the steady clock
CLOCK_CONFIRM_DAYS = 7.0  # a jump ahead past the age limit is believed after this many days
DISK_FULL_BYTES = 256 * 1024  # a disk with less room than this is full (for an I/O error)
SIZE_ROUNDS = 6  # measure, delete, compact: at most this many rounds per prune
ROW_BYTES = 24  # a row's bytes beside its text (record header, numbers), for sharing pages out

# SQLite's primary result codes (the low byte of sqlite_errorcode)
_BUSY, _LOCKED, _CORRUPT, _FULL, _NOTADB = 5, 6, 11, 13, 26
_READONLY, _PERM, _CANTOPEN, _IOERR = 8, 3, 14, 10

_SCHEMA = """
CREATE TABLE IF NOT EXISTS lessons (
    id INTEGER PRIMARY KEY,
    started_at TEXT NOT NULL,          -- ISO 8601 with time zone offset
    started_unix REAL NOT NULL,        -- the same, for ordering and pruning
    ended_at TEXT,                     -- NULL while monitoring, or after a crash mid-lesson
    label TEXT,
    interval_s REAL,
    procedure TEXT                     -- ProcedureRecord as JSON
);
CREATE INDEX IF NOT EXISTS lessons_by_time ON lessons(started_unix);
CREATE TABLE IF NOT EXISTS checks (
    id INTEGER PRIMARY KEY,
    started_at TEXT NOT NULL,
    started_unix REAL NOT NULL,
    kind TEXT,
    overall TEXT,
    download_mbps REAL,
    upload_mbps REAL,
    rtt_ms REAL,
    schema_version INTEGER NOT NULL,
    lesson_id INTEGER REFERENCES lessons(id) ON DELETE CASCADE,
    result TEXT NOT NULL               -- model.dumps(result)
);
CREATE INDEX IF NOT EXISTS checks_by_time ON checks(started_unix);
CREATE INDEX IF NOT EXISTS checks_by_lesson ON checks(lesson_id);
CREATE TABLE IF NOT EXISTS samples (
    lesson_id INTEGER NOT NULL REFERENCES lessons(id) ON DELETE CASCADE,
    t_s REAL NOT NULL,
    worst INTEGER,                     -- 0 good, 1 degraded, 2 fail, NULL nothing known
    sample TEXT NOT NULL               -- MonitorSample as JSON
);
CREATE INDEX IF NOT EXISTS samples_by_lesson ON samples(lesson_id, t_s);
CREATE TABLE IF NOT EXISTS alerts (
    lesson_id INTEGER NOT NULL REFERENCES lessons(id) ON DELETE CASCADE,
    t_s REAL NOT NULL,
    alert TEXT NOT NULL                -- LessonAlert as JSON
);
CREATE INDEX IF NOT EXISTS alerts_by_lesson ON alerts(lesson_id, t_s);
"""

T = TypeVar("T")



def _state_of_rank(rank: object) -> str:
    """The state a ``samples.worst`` rank stands for; anything else (NULL, damage) is unknown."""
    return KNOWN_STATES[rank] if isinstance(rank, int) and 0 <= rank < len(KNOWN_STATES) else "unknown"

class HistoryError(Exception):
    """The history could not be read or written; the text says why in plain words."""


class _Damaged(Exception):
    """The file is not a usable database (raised while opening, then moved aside)."""


@dataclass
class CheckSummary:
    """One stored check as the list shows it (read without parsing the stored result)."""

    id: int
    started_at: str
    kind: str | None
    overall: str | None  # the assessment's overall state: "ready" | "limited" | "cannot" | "unknown"
    download_mbps: float | None
    upload_mbps: float | None
    rtt_ms: float | None
    lesson_id: int | None
    schema_version: int
    failing: tuple[str, ...] = ()  # the activities the check found failing (the headline needs them)

    @property
    def readable(self) -> bool:
        """False for a check written by a newer connectcheck (reading it gives the model's error)."""
        return self.schema_version <= model.SCHEMA_VERSION


@dataclass
class LessonSummary:
    """One monitored lesson as the list shows it."""

    id: int
    started_at: str
    ended_at: str | None
    label: str | None
    samples: int
    alerts: int
    checks: int
    worst: str  # the worst state any activity reached: "good" | "degraded" | "fail" | "unknown"


def _now_iso(unix: float) -> str:
    return datetime.fromtimestamp(unix).astimezone().isoformat(timespec="seconds")


def _unix(iso: str, fallback: float) -> float:
    """Seconds since the epoch of an ISO time (a time without zone is taken as local)."""
    try:
        return datetime.fromisoformat(iso).timestamp()
    except (TypeError, ValueError):
        return fallback


def _json(obj: Any) -> str:
    return json.dumps(model.to_dict(obj), ensure_ascii=False, separators=(",", ":"), allow_nan=False)


def _code(exc: sqlite3.Error) -> int:
    return (getattr(exc, "sqlite_errorcode", 0) or 0) & 0xFF


def _is_busy(exc: sqlite3.Error) -> bool:
    return _code(exc) in (_BUSY, _LOCKED) or "locked" in str(exc)


def _is_damaged(exc: sqlite3.Error) -> bool:
    return _code(exc) in (_CORRUPT, _NOTADB) or (
        not _code(exc) and ("malformed" in str(exc) or "not a database" in str(exc)))


def _close_all(connections: list[sqlite3.Connection]) -> None:
    for conn in connections:
        try:
            conn.close()
        except sqlite3.Error:
            pass


def steady_clock() -> float:
    """Seconds of a clock that a changed date does not move, counting a suspended computer's
    sleep where the system can (Linux ``CLOCK_BOOTTIME``; Windows' and macOS's monotonic
    clocks count it already)."""
    boottime = getattr(time, "CLOCK_BOOTTIME", None)
    if boottime is not None:
        return time.clock_gettime(boottime)
    return time.monotonic()


def _day_text(unix: float) -> str:
    try:
        return datetime.fromtimestamp(unix).strftime("%Y-%m-%d %H:%M")
    except (OverflowError, OSError, ValueError):
        return f"{unix:.0f} s after 1970"


def _timestamp_path(path: Path, tag: str) -> Path:
    """``path`` + ``.tag-YYYYmmdd-HHMMSS``, with ``~N`` added if that name is taken."""
    base = path.with_name(f"{path.name}.{tag}-{time.strftime('%Y%m%d-%H%M%S')}")
    candidate, n = base, 1
    while candidate.exists():
        candidate, n = base.with_name(f"{base.name}~{n}"), n + 1
    return candidate


class History:
    """Checks and monitored lessons in one SQLite file (see the module's description).

    Never raises while opening: a damaged file is moved aside (:attr:`recovered` says where),
    and when the file cannot be used at all :attr:`problem` says why and every operation raises
    :class:`HistoryError` with that text. Operations raise :class:`HistoryError` for trouble met
    later (a file held by another program for longer than ``busy_timeout_s``, a full disk).
    """

    def __init__(self, path: Path | None = None, *, max_age_days: float = 90, max_mb: float = 50,
                 busy_timeout_s: float = 2.0, clock: Callable[[], float] = time.time,
                 steady: Callable[[], float] = steady_clock, read_only: bool = False) -> None:
        self.path = path or paths.data_dir() / FILE_NAME
        self.max_age_days = max_age_days
        self.max_mb = max_mb
        self.busy_timeout_s = busy_timeout_s
        self.recovered: str | None = None  # the damaged file was moved aside: where, and why
        self.problem: str | None = None  # why the history cannot be used now (None: it can)
        self.notice: str | None = None  # something the user should know (a clock, a read-only disk)
        self.read_only = read_only  # opened read-only: asked for, or the disk allows nothing else
        self.read_only_reason: str | None = None  # why writing is not possible (None: asked for)
        self._clock = clock
        self._steady = steady
        self._opened_wall = clock()
        self._opened_steady = steady()
        self._newest_before: float | None = None  # the newest time stamped before this run
        self._last_written: tuple[str, int] | None = None  # the entry just written: never pruned
        self._uri: str | None = None  # the read-only connection's URI (read_only)
        self._local = threading.local()
        self._connections: dict[threading.Thread, sqlite3.Connection] = {}
        self._lock = threading.Lock()  # guards the list of connections and the open lessons
        self._closed = False
        self._open_lessons: set[int] = set()  # being monitored through this object: never pruned
        self._samples_since_prune = 0
        self._open()

    @classmethod
    def from_settings(cls, settings: Settings, *, read_only: bool = False) -> History:
        """The user's history in the data folder, with the limits from the settings
        (``read_only`` for the commands that only read it)."""
        return cls(max_age_days=settings["history.max_age_days"], max_mb=settings["history.max_mb"],
                   read_only=read_only)

    @property
    def available(self) -> bool:
        """Whether the history can be read (writing also needs ``not read_only``)."""
        return self.problem is None and not self._closed

    def notices(self) -> list[str]:
        """What to tell about opening the history, in plain words: a damaged file moved aside, and
        why nothing can be kept this time (a file in use, a folder that cannot be made), and what
        else the user should know (a clock that moved, a disk that can only be read)."""
        out = [self.recovered] if self.recovered else []
        if self.problem:
            out.append(f"Checks and lessons cannot be kept this time: {self.problem}")
        if self.notice:
            out.append(self.notice)
        return out

    # --- opening ---------------------------------------------------------------------------------

    def _connect(self) -> sqlite3.Connection:
        if self._uri is not None:
            return sqlite3.connect(self._uri, uri=True, timeout=self.busy_timeout_s, isolation_level=None,
                                   check_same_thread=False)
        conn = sqlite3.connect(self.path, timeout=self.busy_timeout_s, isolation_level=None,
                               check_same_thread=False)
        try:
            conn.execute("PRAGMA foreign_keys = ON")
            conn.execute("PRAGMA synchronous = NORMAL")  # with WAL: a crash of the program loses nothing
        except BaseException:
            conn.close()
            raise
        return conn

    def _open_read_only(self) -> None:
        """Open an existing file for reading only; a missing one is an empty history (not made).

        Tries SQLite's read-only mode, then, where that cannot work (a read-only disk without the
        journal's shared-memory file), ``immutable``: nothing can change the file there anyway."""
        if not self.path.exists():
            return  # every read gives nothing; no file is made
        if not self.path.is_file():
            self.problem = f"The history {self.path} is not a file."
            return
        base = self.path.resolve().as_uri()
        last: sqlite3.Error | None = None
        for query in ("?mode=ro", "?mode=ro&immutable=1"):
            self._uri = base + query
            try:
                conn = self._connect()
                try:
                    version = conn.execute("PRAGMA user_version").fetchone()[0]
                    conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
                except BaseException:
                    conn.close()
                    raise
            except sqlite3.Error as exc:
                last = exc
                if _is_damaged(exc):
                    self._recover_for_reading()
                    return
                continue
            if version > SCHEMA_VERSION:
                conn.close()
                self.problem = (f"The history was written by a newer connectcheck (format {version}; this "
                                f"one reads up to {SCHEMA_VERSION}). It was left untouched; update "
                                "connectcheck to see it.")
                return
            self._adopt(conn)
            return
        assert last is not None
        self._uri = None
        self.problem = self._opening_problem(last)

    def _open(self) -> None:
        """Open (or create) the file; a damaged one is moved aside and a fresh one started.
        Read-only (asked for, or a read-only disk): the file is only read, never changed."""
        if self.read_only:
            self._open_read_only()
            return
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            self.problem = f"The history folder {self.path.parent} cannot be created ({exc.strerror or exc})."
            return
        if self.path.exists() and not self.path.is_file():  # a pipe or a device would block or lie
            self.problem = f"The history {self.path} is not a file; it was left as it is."
            return
        for attempt in (1, 2):
            try:
                conn = self._open_file()
            except _Damaged as exc:
                if attempt == 1 and self._move_aside(str(exc)):
                    continue
                # a fresh file that is damaged too: the folder itself is the trouble
                self.problem = self.problem or (
                    f"A new history file could not be started in {self.path.parent} ({exc}).")
                return
            except sqlite3.Error as exc:
                cannot_write = _code(exc) in (_READONLY, _PERM, _CANTOPEN) or self._disk_full(exc)
                if cannot_write and self.path.is_file():
                    self._fall_back_to_reading(exc)
                else:
                    self.problem = self._opening_problem(exc)
                return
            if conn is not None:  # None: a newer file, left untouched (see problem)
                self._adopt(conn)
                self._newest_before = self._newest(conn)
            return

    def _recover_for_reading(self) -> None:
        """A damaged file found by a read-only command: kept aside as when writing (that loses
        nothing), and the fresh, empty history read."""
        self._uri, self.read_only = None, False
        self._open()
        self._close_connections()
        self.read_only = True  # reads now find nothing: the fresh file is empty

    def _close_connections(self) -> None:
        with self._lock:
            connections, self._connections = list(self._connections.values()), {}
        self._local = threading.local()
        _close_all(connections)

    def _fall_back_to_reading(self, exc: sqlite3.Error) -> None:
        """The file exists but cannot be written (a read-only disk, no rights): read it only."""
        self.read_only = True
        self._open_read_only()
        if self.problem is not None:
            return
        self.read_only_reason = (f"the history file {self.path} can be read but not written "
                                 f"({self._why_not_writable(exc)})")
        self.notice = (f"The history can be read but nothing new can be kept: {self.read_only_reason}.")

    def _disk_full(self, exc: sqlite3.Error) -> bool:
        """Whether ``exc`` comes from a full disk: SQLite says so (SQLITE_FULL), or gives a plain
        I/O error (it does for the journal's shared memory) on a disk with no room left."""
        if _code(exc) == _FULL:
            return True
        if _code(exc) != _IOERR:
            return False
        try:
            return shutil.disk_usage(self.path.parent).free < DISK_FULL_BYTES
        except OSError:
            return False

    def _why_not_writable(self, exc: sqlite3.Error) -> str:
        if self._disk_full(exc):
            return "the disk is full"
        try:
            if os.statvfs(self.path.parent).f_flag & os.ST_RDONLY:
                return "the disk it is on is read-only"
        except (AttributeError, OSError):
            pass
        return f"{exc}"

    def _open_file(self) -> sqlite3.Connection | None:
        """A connection to the checked (or new) file; None when the file is newer (see ``problem``).
        Raises _Damaged or sqlite3.Error."""
        try:
            if self.path.exists() and self.path.stat().st_size > 0:
                self._check_file()
                if self.problem is not None:
                    return None
            conn = self._connect()
            try:
                self._prepare(conn)
            except BaseException:
                conn.close()
                raise
        except sqlite3.DatabaseError as exc:
            if _is_damaged(exc):
                raise _Damaged(str(exc)) from exc
            raise
        return conn

    def _check_file(self) -> None:
        """Check an existing file through a read-only connection, which neither writes its journal
        back into it nor deletes the journal: a damaged file is kept exactly as it was found.
        Raises _Damaged or sqlite3.Error; a newer file sets ``problem``."""
        conn = sqlite3.connect(f"{self.path.resolve().as_uri()}?mode=ro", uri=True,
                               timeout=self.busy_timeout_s, isolation_level=None)
        try:
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                self.problem = (f"The history was written by a newer connectcheck (format {version}; this "
                                f"one reads up to {SCHEMA_VERSION}). It was left untouched; update "
                                "connectcheck to see it. Until then nothing new is kept.")
                return
            check = conn.execute("PRAGMA quick_check(1)").fetchone()[0]
            if check != "ok":
                raise _Damaged(f"the consistency check found: {check}")
            if version == 0 and conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]:
                raise _Damaged("it is a database of some other program, not connectcheck's history")
        finally:
            conn.close()

    def _prepare(self, conn: sqlite3.Connection) -> None:
        """Create the tables in a new file, and use the WAL journal."""
        if conn.execute("PRAGMA user_version").fetchone()[0] == 0:
            self._use_wal(conn)
            try:  # one transaction: a crash leaves no half-made file; another process may race us
                conn.executescript(
                    f"BEGIN IMMEDIATE; {_SCHEMA} PRAGMA user_version = {SCHEMA_VERSION}; COMMIT;")
            except BaseException:
                if conn.in_transaction:
                    conn.rollback()
                raise
        elif conn.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
            self._use_wal(conn)
        conn.execute(f"PRAGMA journal_size_limit = {WAL_LIMIT_BYTES}")

    def _use_wal(self, conn: sqlite3.Connection) -> None:
        """Switch to the WAL journal. SQLite answers SQLITE_BUSY at once, without waiting, while
        another program holds the file (two starting together): retry within ``busy_timeout_s``."""
        give_up = time.monotonic() + self.busy_timeout_s
        while True:
            try:
                conn.execute("PRAGMA journal_mode = WAL").fetchone()
                return
            except sqlite3.OperationalError as exc:
                if not _is_busy(exc) or time.monotonic() >= give_up:
                    raise
                time.sleep(0.02)

    def _opening_problem(self, exc: sqlite3.Error) -> str:
        if _is_busy(exc):
            return (f"The history file {self.path} is in use by another program and did not become free "
                    f"within {self.busy_timeout_s:g} s; carrying on without the history this time "
                    "(the file was left as it is).")
        return f"The history file {self.path} cannot be used: {self._describe(exc)}."

    def _move_aside(self, reason: str) -> bool:
        """Keep the damaged file (and its journal) under a new name, so that a fresh one can start."""
        kept = _timestamp_path(self.path, "corrupt")
        try:
            os.replace(self.path, kept)
            wal = Path(f"{self.path}-wal")
            if wal.exists():
                os.replace(wal, Path(f"{kept}-wal"))
            Path(f"{self.path}-shm").unlink(missing_ok=True)
        except OSError as exc:
            self.problem = (f"The history file {self.path} is damaged ({reason}) and could not be moved "
                            f"aside ({exc.strerror or exc}); carrying on without the history.")
            return False
        self.recovered = (f"The history file was damaged and could not be read ({reason}). It was kept as "
                          f"{kept.name} in {kept.parent}, and a new, empty history was started.")
        return True

    def _adopt(self, conn: sqlite3.Connection) -> None:
        """Make ``conn`` this thread's connection, and close those of threads that have ended
        (a worker thread per task must not leave a connection behind each time)."""
        self._local.conn = conn
        with self._lock:
            ended = [t for t in self._connections if not t.is_alive()]
            stale = [self._connections.pop(t) for t in ended]
            self._connections[threading.current_thread()] = conn
        _close_all(stale)

    # --- plumbing ----------------------------------------------------------------------------------

    def _conn(self) -> sqlite3.Connection:
        if self._closed:
            raise HistoryError("the history is closed")
        if self.problem is not None:
            raise HistoryError(self.problem)
        if self.read_only and self._uri is None:
            raise HistoryError("there is no history yet")
        conn = getattr(self._local, "conn", None)
        if conn is None:
            try:
                conn = self._connect()
            except sqlite3.Error as exc:
                raise HistoryError(self._describe(exc)) from exc
            self._adopt(conn)
        return conn

    def _describe(self, exc: sqlite3.Error) -> str:
        code = _code(exc)
        if _is_busy(exc):
            return (f"the history file is in use by another program and did not become free within "
                    f"{self.busy_timeout_s:g} s")
        if _is_damaged(exc):
            return f"the history file is damaged ({exc}); it will be set aside the next time it is opened"
        if self._disk_full(exc):
            return "the disk is full, so the history could not be written"
        if code in (_READONLY, _PERM, _CANTOPEN):
            return f"the history file {self.path} cannot be opened for writing ({exc})"
        if code == _IOERR:
            return f"the disk reported an error while using the history file ({exc})"
        return f"the history file could not be used ({exc})"

    def _write(self, work: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``work`` in one short write transaction."""
        if self.read_only and self.problem is None and not self._closed:
            raise HistoryError(self.read_only_reason or "the history was opened for reading only")
        conn = self._conn()
        try:
            conn.execute("BEGIN IMMEDIATE")
            try:
                result = work(conn)
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.rollback()
                raise
        except sqlite3.Error as exc:
            raise HistoryError(self._describe(exc)) from exc
        return result

    def _read(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        if self.read_only and self._uri is None and self.problem is None and not self._closed:
            return []  # read-only and no file yet: an empty history, and none is made
        try:
            return self._conn().execute(sql, params).fetchall()
        except sqlite3.Error as exc:
            raise HistoryError(self._describe(exc)) from exc

    # --- checks --------------------------------------------------------------------------------------

    def add_check(self, result: CheckResult, lesson_id: int | None = None) -> int:
        """Keep a check (during a lesson: with its ``lesson_id``); returns its id."""
        overall = result.assessment.overall if result.assessment else None
        s = result.summary
        row = (result.started_at, _unix(result.started_at, self._clock()), result.kind.value, overall,
               s.download_mbps, s.upload_mbps, s.rtt_ms, result.schema_version, lesson_id,
               model.dumps(result, indent=None))
        check_id = self._write(lambda c: c.execute(
            "INSERT INTO checks (started_at, started_unix, kind, overall, download_mbps, upload_mbps, rtt_ms,"
            " schema_version, lesson_id, result) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", row).lastrowid)
        self._last_written = ("lessons", lesson_id) if lesson_id is not None else ("checks", int(check_id))
        self._prune_quietly()
        return int(check_id)

    def checks(self, limit: int = 100) -> list[CheckSummary]:
        """The newest checks first (the last recorded first, whatever a clock stamped on them)."""
        rows = self._read(
            "SELECT id, started_at, kind, overall, download_mbps, upload_mbps, rtt_ms, lesson_id,"
            " schema_version, CASE WHEN json_valid(result) THEN (SELECT group_concat(json_extract(v.value,"
            " '$.activity'), ',') FROM json_each(result, '$.assessment.verdicts') AS v"
            " WHERE json_extract(v.value, '$.state') = 'fail') END"
            " FROM checks ORDER BY id DESC LIMIT ?", (limit,))
        return [CheckSummary(*row[:9], failing=tuple(row[9].split(",")) if row[9] else ()) for row in rows]

    def check(self, check_id: int) -> CheckResult:
        """A stored check; raises the model's ModelError (e.g. NewerVersionError) when it cannot be read."""
        rows = self._read("SELECT result FROM checks WHERE id = ?", (check_id,))
        if not rows:
            raise HistoryError(f"there is no check {check_id} in the history")
        return model.loads(rows[0][0])

    def latest_check(self) -> CheckResult | None:
        """The newest check this connectcheck can read, or None (none kept, or the history is
        not available: the caller just has nothing to compare with)."""
        try:
            newest = next((c for c in self.checks(limit=20) if c.readable), None)
            return self.check(newest.id) if newest else None
        except (HistoryError, model.ModelError):
            return None

    # --- lessons -------------------------------------------------------------------------------------

    def start_lesson(self, label: str | None = None, interval_s: float | None = None, *,
                     started_at: str | None = None) -> int:
        """Start keeping a monitored lesson; returns its id."""
        now = self._clock()
        started_at = started_at or _now_iso(now)
        lesson_id = int(self._write(lambda c: c.execute(
            "INSERT INTO lessons (started_at, started_unix, label, interval_s) VALUES (?, ?, ?, ?)",
            (started_at, _unix(started_at, now), label, interval_s)).lastrowid))
        with self._lock:
            self._open_lessons.add(lesson_id)
        return lesson_id

    def add_sample(self, lesson_id: int, sample: MonitorSample) -> None:
        worst = worst_state(sample.states.values()).severity  # samples.worst: 0 good … 2 fail, NULL
        row = (lesson_id, sample.t_s, worst, _json(sample))
        self._write(lambda c: c.execute(
            "INSERT INTO samples (lesson_id, t_s, worst, sample) VALUES (?, ?, ?, ?)", row))
        self._samples_since_prune += 1
        if self._samples_since_prune >= PRUNE_EVERY_SAMPLES:
            self._prune_quietly()

    def add_alert(self, lesson_id: int, alert: LessonAlert) -> None:
        row = (lesson_id, alert.t_s, _json(alert))
        self._write(lambda c: c.execute("INSERT INTO alerts (lesson_id, t_s, alert) VALUES (?, ?, ?)", row))

    def set_procedure(self, lesson_id: int, record: ProcedureRecord) -> None:
        """Keep (or replace) how the failed-lesson procedure was followed for this lesson."""
        self._update_lesson(lesson_id, "procedure", _json(record))

    def end_lesson(self, lesson_id: int) -> None:
        self._update_lesson(lesson_id, "ended_at", _now_iso(self._clock()))
        self._last_written = ("lessons", lesson_id)
        with self._lock:
            self._open_lessons.discard(lesson_id)
        self._prune_quietly()

    def _update_lesson(self, lesson_id: int, column: str, value: str) -> None:
        changed = self._write(lambda c: c.execute(
            f"UPDATE lessons SET {column} = ? WHERE id = ?", (value, lesson_id)).rowcount)
        if not changed:
            raise HistoryError(f"there is no lesson {lesson_id} in the history")

    def lessons(self, limit: int = 100) -> list[LessonSummary]:
        """The newest lessons first (in the order they were recorded), with their counts and the
        worst state reached."""
        rows = self._read(
            "SELECT l.id, l.started_at, l.ended_at, l.label,"
            " (SELECT count(*) FROM samples s WHERE s.lesson_id = l.id),"
            " (SELECT count(*) FROM alerts a WHERE a.lesson_id = l.id),"
            " (SELECT count(*) FROM checks c WHERE c.lesson_id = l.id),"
            " (SELECT max(worst) FROM samples s WHERE s.lesson_id = l.id)"
            " FROM lessons l ORDER BY l.id DESC LIMIT ?", (limit,))
        return [LessonSummary(*row[:7], worst=_state_of_rank(row[7])) for row in rows]

    def lesson(self, lesson_id: int) -> LessonRecord:
        """A lesson with its samples, alerts, checks and procedure. Parts that cannot be read back
        (a damaged row, a check from a newer connectcheck) are left out and named in ``notes``."""
        rows = self._read("SELECT id, started_at, ended_at, label, interval_s, procedure FROM lessons"
                          " WHERE id = ?", (lesson_id,))
        if not rows:
            raise HistoryError(f"there is no lesson {lesson_id} in the history")
        lid, started_at, ended_at, label, interval_s, procedure = rows[0]
        record = LessonRecord(id=lid, started_at=started_at, ended_at=ended_at, label=label,
                              interval_s=interval_s)
        record.samples = self._rows(record, MonitorSample, "samples", "sample", lesson_id)
        record.alerts = self._rows(record, LessonAlert, "alerts", "alert", lesson_id)
        for (text,) in self._read("SELECT result FROM checks WHERE lesson_id = ? ORDER BY started_unix, id",
                                  (lesson_id,)):
            try:
                record.checks.append(model.loads(text))
            except model.ModelError as exc:
                record.notes.append(f"A check made during this lesson could not be read: {exc}")
        if procedure is not None:
            try:
                record.procedure = model.from_dict(ProcedureRecord, json.loads(procedure))
            except (ValueError, model.ModelError):
                record.notes.append("The record of the procedure followed could not be read back (damaged).")
        return record

    def _rows(self, record: LessonRecord, cls: type[T], table: str, column: str, lesson_id: int) -> list[T]:
        """A lesson's samples or alerts in time order; damaged ones are counted in the notes."""
        out, damaged = [], 0
        for (text,) in self._read(f"SELECT {column} FROM {table} WHERE lesson_id = ? ORDER BY t_s, rowid",
                                  (lesson_id,)):
            try:
                out.append(model.from_dict(cls, json.loads(text)))
            except (ValueError, model.ModelError):
                damaged += 1
        if damaged:
            record.notes.append(f"{damaged} of the {table} could not be read back (damaged).")
        return out

    def last_lesson(self) -> LessonRecord | None:
        """The lesson recorded last, or None when there is none."""
        rows = self._read("SELECT id FROM lessons ORDER BY id DESC LIMIT 1")
        return self.lesson(rows[0][0]) if rows else None

    # --- limits --------------------------------------------------------------------------------------

    def _prune_quietly(self) -> None:
        """Prune after a write; a failure here must not fail the write that was kept."""
        self._samples_since_prune = 0
        try:
            self.prune()
        except HistoryError:
            pass

    def _used_bytes(self) -> tuple[int, int]:
        """(bytes holding data, bytes free inside the file)."""
        size = self._read("SELECT page_count, freelist_count, page_size FROM pragma_page_count(),"
                          " pragma_freelist_count(), pragma_page_size()")[0]
        pages, free, page_size = size
        return (pages - free) * page_size, free * page_size

    def _protected(self) -> set[tuple[str, int]]:
        """The entries no limit may remove: the lessons monitored now and the entry just written."""
        with self._lock:
            keep = {("lessons", i) for i in self._open_lessons}
        if self._last_written is not None:
            keep.add(self._last_written)
        return keep

    @staticmethod
    def _newest(conn: sqlite3.Connection) -> float | None:
        """The latest time stamped on any entry (None: the history is empty)."""
        return conn.execute("SELECT max(t) FROM (SELECT max(started_unix) t FROM lessons"
                            " UNION ALL SELECT max(started_unix) FROM checks)").fetchone()[0]

    def prune(self) -> None:
        """Apply the age and size limits (see the module's rules), and compact the file when
        worth it. A lesson goes with its samples, alerts and checks."""
        if self.read_only:
            return
        self._write(self._remove_old)
        self._enforce_size()
        self._compact()

    # --- the age limit ---------------------------------------------------------------------------

    def _meta(self, conn: sqlite3.Connection, key: str) -> Any:
        try:
            row = conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        except sqlite3.OperationalError:  # no meta table yet (it is made when first needed)
            return None
        try:
            return json.loads(row[0]) if row else None
        except (TypeError, ValueError):
            return None

    @staticmethod
    def _set_meta(conn: sqlite3.Connection, key: str, value: Any) -> None:
        conn.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT)")
        if value is None:
            conn.execute("DELETE FROM meta WHERE key = ?", (key,))
        else:
            conn.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, json.dumps(value)))

    def trusted_now(self) -> float:
        """The clock, but never further on than the steady clock has counted since opening
        (plus :data:`CLOCK_SLACK_S`): a date changed during the run does not age anything."""
        counted = self._opened_wall + (self._steady() - self._opened_steady) + CLOCK_SLACK_S
        return min(self._clock(), counted)

    def _age_cutoff(self, conn: sqlite3.Connection) -> float | None:
        """Entries whose effective time is before this go; None: the clock is not trusted now
        (``notice`` says why)."""
        now, opened, newest = self.trusted_now(), self._opened_wall, self._newest_before
        limit_s = self.max_age_days * DAY_S
        if self._clock() > now + CLOCK_SLACK_S:
            self.notice = (f"The computer's clock moved on by itself during this run (it says "
                           f"{_day_text(self._clock())}); old entries are aged by the time really "
                           "counted since connectcheck started.")
        hold = self._meta(conn, "clock_hold")
        if isinstance(hold, dict) and isinstance(hold.get("since"), (int, float)):
            since = float(hold["since"])
            if now < since - CLOCK_SLACK_S:  # the clock was put back: the jump was not real
                self._set_meta(conn, "clock_hold", None)
            elif now < since + CLOCK_CONFIRM_DAYS * DAY_S:
                self.notice = self._jump_words(since, hold.get("newest"))
                return None
            else:  # the new date has held for days: it is believed
                self._set_meta(conn, "clock_hold", None)
                return now - limit_s
        if newest is None:
            return now - limit_s
        if opened < newest - CLOCK_SLACK_S:
            self.notice = (f"The computer's clock ({_day_text(opened)}) is behind the newest entry in the "
                           f"history ({_day_text(newest)}); nothing is removed for age until the clock has "
                           "passed it. If the date is wrong, put it right: nothing is lost meanwhile.")
            return None
        if opened > newest + limit_s:
            self._set_meta(conn, "clock_hold", {"since": opened, "newest": newest})
            self.notice = self._jump_words(opened, newest)
            return None
        return now - limit_s

    def _jump_words(self, since: float, newest: object) -> str:
        newest_text = _day_text(float(newest)) if isinstance(newest, (int, float)) else "long before"
        return (f"The computer's clock says {_day_text(since)}, more than {self.max_age_days:g} days after "
                f"the newest entry in the history ({newest_text}). If the date is right, the old entries "
                f"are removed after {CLOCK_CONFIRM_DAYS:g} days; if it is wrong, put it right: nothing "
                "is removed meanwhile.")

    def _remove_old(self, conn: sqlite3.Connection) -> None:
        """Delete the lessons and checks older than the age limit (by their effective time)."""
        cutoff = self._age_cutoff(conn)
        if cutoff is None:
            return
        doomed = [item for item in self._entries(conn) if item[2] < cutoff]
        self._delete(conn, doomed)

    def _entries(self, conn: sqlite3.Connection) -> list[tuple[str, int, float]]:
        """Every lesson and every check outside a lesson that a limit may remove, oldest first."""
        keep = self._protected()
        return [(t, i, e) for t, i, e in self._all_entries(conn) if (t, i) not in keep]

    @staticmethod
    def _all_entries(conn: sqlite3.Connection) -> list[tuple[str, int, float]]:
        """Every lesson and every check outside a lesson, oldest first: (table, id, effective
        time: the latest time stamped on it or on any entry of its table recorded before it)."""
        rows = conn.execute(
            "SELECT 'lessons', id, max(started_unix) OVER (ORDER BY id ROWS UNBOUNDED PRECEDING) FROM lessons"
            " UNION ALL SELECT 'checks', id, eff FROM (SELECT id, lesson_id, max(started_unix) OVER"
            " (ORDER BY id ROWS UNBOUNDED PRECEDING) AS eff FROM checks) WHERE lesson_id IS NULL"
            " ORDER BY 3, 1, 2").fetchall()
        return [(t, i, e) for t, i, e in rows]

    @staticmethod
    def _delete(conn: sqlite3.Connection, entries: list[tuple[str, int, float]]) -> None:
        for table in ("lessons", "checks"):
            conn.executemany(f"DELETE FROM {table} WHERE id = ?", [(i,) for t, i, _ in entries if t == table])

    # --- the size limit --------------------------------------------------------------------------

    def _enforce_size(self) -> None:
        """Remove the oldest entries, as few as make the compacted file fit in ``max_mb``."""
        limit = self.max_mb * MB
        used, free = self._used_bytes()
        if used <= limit:
            return
        if free or used > limit:  # deleted rows leave pages half empty: compacting may be enough
            self._vacuum()
        for _ in range(SIZE_ROUNDS):
            used, free = self._used_bytes()
            if used <= limit:
                return
            gone = self._write(functools.partial(self._remove_for_size, used=used, limit=limit))
            if not gone or not self._vacuum():
                return  # nothing may go, or the file cannot be compacted now: measure next time

    def _remove_for_size(self, conn: sqlite3.Connection, used: int, limit: float) -> int:
        """Delete the oldest entries whose measured pages add up to ``used - limit``; returns
        how many went (0 when the protected entries alone do not fit: ``notice`` says so)."""
        costs = self._entry_costs(conn, used)
        removable = [(item, cost) for item, cost in costs if item[:2] not in self._protected()]
        if used - sum(cost for _, cost in removable) > limit:
            kept = used - sum(cost for _, cost in removable)
            self.notice = (f"The entries being kept now (the lesson just ended or monitored, or the check "
                           f"just made) take {kept / MB:.1f} MB, more than the history's size limit of "
                           f"{self.max_mb:g} MB; nothing else was removed, since that would not make it fit. "
                           "Raise history.max_mb in the settings to keep lessons this long.")
            return 0
        doomed, total = [], 0.0
        for item, cost in removable:
            if total >= used - limit:
                break
            doomed.append(item)
            total += cost
        self._delete(conn, doomed)
        return len(doomed)

    def _entry_costs(self, conn: sqlite3.Connection, used: int) -> list[tuple[tuple[str, int, float], float]]:
        """Each entry (oldest first, the protected ones too) with its share of the ``used`` bytes.

        Each table's and index's pages are measured (``dbstat``) and shared out among its rows
        by their bytes (tables) or evenly (indexes); the shares are then scaled so that they add
        up to what the file really uses. Without ``dbstat`` every row's bytes count alike."""
        entries = self._all_entries(conn)
        pages = self._btree_pages(conn)

        def per_byte(table: str, total_bytes: float) -> float:
            return pages.get(table, total_bytes) / total_bytes if total_bytes else 0.0

        def per_row(indexes: tuple[str, ...], rows: int) -> float:
            return sum(pages.get(name, 0) for name in indexes) / rows if rows else 0.0

        tables = {
            "samples": conn.execute("SELECT lesson_id, count(*), coalesce(sum(length(sample)), 0)"
                                    " FROM samples GROUP BY lesson_id").fetchall(),
            "alerts": conn.execute("SELECT lesson_id, count(*), coalesce(sum(length(alert)), 0)"
                                   " FROM alerts GROUP BY lesson_id").fetchall(),
        }
        lesson_rows = conn.execute(
            "SELECT id, 1, length(started_at) + coalesce(length(ended_at), 0) + coalesce(length(label), 0)"
            " + coalesce(length(procedure), 0) FROM lessons").fetchall()
        check_rows = conn.execute("SELECT id, lesson_id, length(result) FROM checks").fetchall()
        cost: dict[tuple[str, int], float] = {}

        def charge(key: tuple[str, int], table: str, indexes: tuple[str, ...], rows: int, nbytes: int,
                   all_rows: int, all_bytes: float) -> None:
            value = (nbytes + rows * ROW_BYTES) * per_byte(table, all_bytes)
            cost[key] = cost.get(key, 0.0) + value + rows * per_row(indexes, all_rows)

        for table, indexes in (("samples", ("samples_by_lesson",)), ("alerts", ("alerts_by_lesson",))):
            rows = tables[table]
            n_all = sum(r[1] for r in rows)
            b_all = sum(r[2] + r[1] * ROW_BYTES for r in rows)
            for lesson_id, n, nbytes in rows:
                charge(("lessons", lesson_id), table, indexes, n, nbytes, n_all, b_all)
        n_all, b_all = len(lesson_rows), sum(r[2] + ROW_BYTES for r in lesson_rows)
        for lesson_id, n, nbytes in lesson_rows:
            charge(("lessons", lesson_id), "lessons", ("lessons_by_time",), n, nbytes, n_all, b_all)
        n_all, b_all = len(check_rows), sum(r[2] + ROW_BYTES for r in check_rows)
        for check_id, lesson_id, nbytes in check_rows:
            key = ("lessons", lesson_id) if lesson_id is not None else ("checks", check_id)
            charge(key, "checks", ("checks_by_time", "checks_by_lesson"), 1, nbytes, n_all, b_all)
        total = sum(cost.values())
        scale = used / total if total else 0.0
        return [((t, i, e), cost.get((t, i), 0.0) * scale) for t, i, e in entries]

    @staticmethod
    def _btree_pages(conn: sqlite3.Connection) -> dict[str, float]:
        """Bytes of pages of each table and index (``dbstat``); empty where SQLite lacks it."""
        try:
            rows = conn.execute("SELECT name, sum(pgsize) FROM dbstat GROUP BY name").fetchall()
        except sqlite3.Error:
            return {}
        return {name: float(size) for name, size in rows}

    def _vacuum(self) -> bool:
        """Compact the file now; False when another connection keeps it from happening."""
        try:
            conn = self._conn()
            conn.execute("VACUUM")
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        except (sqlite3.Error, HistoryError):
            return False  # another connection is busy: the free space is reused anyway
        return True

    def _compact(self) -> None:
        """VACUUM when enough of the file is free or the file is above the size limit, then cut
        the journal back. (Free pages are reused by new entries anyway: compacting gives the
        space back to the disk.)"""
        used, free = self._used_bytes()
        over = used + free > self.max_mb * MB
        if free < VACUUM_FREE_MIN_BYTES or not (over or free >= VACUUM_FREE_SHARE * (used + free)):
            return
        self._vacuum()

    # --- closing -------------------------------------------------------------------------------------

    def close(self) -> None:
        """Close every connection (of every thread); further use raises HistoryError."""
        self._closed = True
        with self._lock:
            connections, self._connections = list(self._connections.values()), {}
        _close_all(connections)


def open_history(settings: Settings, *, read_only: bool = False) -> tuple[History, list[str]]:
    """The user's history (limits from the settings), and what to tell about opening it
    (``read_only`` for what only reads it: nothing is pruned, no file is made)."""
    history = History.from_settings(settings, read_only=read_only)
    return history, history.notices()
