"""The history in SQLite: round trips, limits, damaged/locked/newer files, crashes, threads."""

import hashlib
import io
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from connectcheck.config.settings import defaults
from connectcheck.core import model, paths
from connectcheck.core.model import (
    Assessment,
    CheckKind,
    CheckResult,
    LessonAlert,
    MonitorSample,
    ProcedureRecord,
    ProcedureStepRecord,
    Summary,
)
from connectcheck.history import DAY_S, MB, History, HistoryError

ROOT = Path(__file__).resolve().parents[1]


def iso(days_ago: float = 0.0) -> str:
    return (datetime.now().astimezone() - timedelta(days=days_ago)).isoformat(timespec="seconds")


def a_check(days_ago: float = 0.0, overall: str = "ready", down: float | None = 48.5) -> CheckResult:
    return CheckResult(kind=CheckKind.FULL, started_at=iso(days_ago), app_version="0.1.0", duration_s=21.5,
                       summary=Summary(rtt_ms=23.4, jitter_ms=2.1, loss_pct=0.0, download_mbps=down,
                                       upload_mbps=9.7, udp_ok=True),
                       notes=["a note with ünïcode"],
                       assessment=Assessment(overall=overall, sentence="Ready for the lesson."))


def a_sample(t_s: float, state: str = "good", rtt: float = 20.0) -> MonitorSample:
    return MonitorSample(at=iso(), t_s=t_s, rtt_ms=rtt, jitter_ms=1.5, loss_pct=0.0, probes=10, down_mbps=1.2,
                         up_mbps=0.3, top_program="firefox", top_program_mbps=1.1,
                         states={"sound": state, "video": "good", "whiteboard": "good"},
                         window_loss_pct=0.0, method="stun", target="127.0.0.1:3478")


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def db(tmp_path):
    return tmp_path / "history.sqlite3"


def test_a_check_comes_back_as_it_was_and_is_listed(db):
    h = History(db)
    first, second = a_check(days_ago=1, overall="limited", down=None), a_check()
    ids = [h.add_check(first), h.add_check(second)]
    assert model.to_dict(h.check(ids[0])) == model.to_dict(first)
    assert model.to_dict(h.check(ids[1])) == model.to_dict(second)
    listed = h.checks()
    assert [c.id for c in listed] == [ids[1], ids[0]]  # newest first
    newest = listed[0]
    assert (newest.kind, newest.overall, newest.download_mbps, newest.upload_mbps, newest.rtt_ms) == \
        ("full", "ready", 48.5, 9.7, 23.4)
    assert newest.lesson_id is None and newest.readable
    assert listed[1].overall == "limited" and listed[1].download_mbps is None
    assert h.checks(limit=1) == listed[:1]
    with pytest.raises(HistoryError, match="no check 999"):
        h.check(999)
    h.close()


def test_a_lesson_comes_back_with_samples_alerts_checks_and_procedure(db):
    h = History(db)
    lesson_id = h.start_lesson("maths with Sam", 5.0)
    samples = [a_sample(0.0), a_sample(5.0, "degraded", 180.0), a_sample(10.0, "fail", 450.0)]
    for s in samples:
        h.add_sample(lesson_id, s)
    alert = LessonAlert(at=iso(), t_s=10.0, activity="sound", state="fail", previous="good",
                        message="Sound will probably break up or drop out.")
    h.add_alert(lesson_id, alert)
    check = a_check()
    h.add_check(check, lesson_id)
    procedure = ProcedureRecord(profile="westcountry-sen", started_at=iso(), outcome="rearranged",
                                rearranged_to="2026-12-03", finished=True,
                                steps=[ProcedureStepRecord(step="start", kind="question",
                                                           text="Can you hear?", answer="no")])
    h.set_procedure(lesson_id, procedure)
    assert h.lessons()[0].ended_at is None
    h.end_lesson(lesson_id)

    record = h.lesson(lesson_id)
    assert record.label == "maths with Sam" and record.interval_s == 5.0 and record.ended_at
    assert [model.to_dict(s) for s in record.samples] == [model.to_dict(s) for s in samples]
    assert record.alerts == [alert]
    assert [model.to_dict(c) for c in record.checks] == [model.to_dict(check)]
    assert record.procedure == procedure
    assert record.notes == []
    summary = h.lessons()[0]
    assert (summary.id, summary.samples, summary.alerts, summary.checks, summary.worst) == \
        (lesson_id, 3, 1, 1, "fail")
    assert h.checks()[0].lesson_id == lesson_id
    assert h.last_lesson() == record
    with pytest.raises(HistoryError, match="no lesson 42"):
        h.lesson(42)
    with pytest.raises(HistoryError, match="no lesson 42"):
        h.end_lesson(42)
    h.close()


def test_an_empty_history_has_no_last_lesson_and_a_lesson_of_unknown_samples_is_unknown(db):
    h = History(db)
    assert h.last_lesson() is None and h.lessons() == [] and h.checks() == []
    lesson_id = h.start_lesson()
    h.add_sample(lesson_id, MonitorSample(at=iso(), t_s=0.0, states={"sound": "unknown"}))
    assert h.lessons()[0].worst == "unknown"
    h.close()


def test_a_check_of_a_newer_format_is_listed_but_reading_it_gives_the_models_error(db):
    h = History(db)
    newer = a_check()
    newer.schema_version = model.SCHEMA_VERSION + 1
    lesson_id = h.start_lesson()
    check_id = h.add_check(newer, lesson_id)
    listed = h.checks()[0]
    assert listed.id == check_id and listed.schema_version == model.SCHEMA_VERSION + 1 and not listed.readable
    with pytest.raises(model.NewerVersionError, match="newer connectcheck"):
        h.check(check_id)
    record = h.lesson(lesson_id)  # the lesson itself still reads, and says what it left out
    assert record.checks == [] and "newer connectcheck" in record.notes[0]
    h.close()


def test_a_damaged_row_is_left_out_of_its_lesson_with_a_note(db):
    h = History(db)
    lesson_id = h.start_lesson()
    h.add_sample(lesson_id, a_sample(0.0))
    h.close()
    with sqlite3.connect(db) as conn:
        conn.execute("INSERT INTO samples (lesson_id, t_s, worst, sample) VALUES (?, 5, 0, '{not json')",
                     (lesson_id,))
    h = History(db)
    record = h.lesson(lesson_id)
    assert len(record.samples) == 1 and record.notes == ["1 of the samples could not be read back (damaged)."]
    h.close()


# --- limits -------------------------------------------------------------------------------------


class Clocks:
    """A wall clock and a steady clock for a History, moved by the test: ``tick`` moves both (time
    passing), ``set_wall`` only the wall clock (someone or something changed the date)."""

    def __init__(self, wall: float | None = None) -> None:
        self.wall = time.time() if wall is None else wall
        self.steady = 1000.0

    def tick(self, seconds: float) -> None:
        self.wall += seconds
        self.steady += seconds

    def set_wall(self, wall: float) -> None:
        self.wall = wall

    def history(self, path, **kwargs) -> History:
        return History(path, clock=lambda: self.wall, steady=lambda: self.steady, **kwargs)


def test_old_checks_and_lessons_go_after_a_write_but_not_the_one_just_written_nor_a_lesson_monitored(db):
    clocks = Clocks()
    h = clocks.history(db, max_age_days=90)
    old = h.add_check(a_check(days_ago=100))
    assert [c.id for c in h.checks()] == [old]  # older than the limit, but just written: kept
    recent = h.add_check(a_check(days_ago=10))
    assert [c.id for c in h.checks()] == [recent]  # the next write ages the old one out
    done = h.start_lesson("finished")
    h.add_sample(done, a_sample(0.0))
    h.end_lesson(done)
    running = h.start_lesson("running")
    h.add_sample(running, a_sample(0.0))
    h.add_check(a_check(), running)
    clocks.tick(91 * DAY_S)  # three months on, really: everything is old
    h.prune()
    assert [x.id for x in h.lessons()] == [running] and len(h.lesson(running).checks) == 1
    assert recent not in [c.id for c in h.checks()]
    with sqlite3.connect(db) as conn:  # the finished lesson's samples went with it
        assert conn.execute("SELECT count(*) FROM samples WHERE lesson_id = ?", (done,)).fetchone() == (0,)
    h.end_lesson(running)  # ended: just written, it stays until the next write
    assert [x.id for x in h.lessons()] == [running]
    h.add_check(a_check())
    assert h.lessons() == [] and len(h.checks()) == 1
    h.close()


def test_the_size_limit_removes_the_oldest_first_and_compacts_the_file(db):
    big = History(db, max_mb=50)
    for day in range(12, 0, -1):  # twelve lessons of 250 samples, oldest first
        lesson_id = big.start_lesson(f"day {day}", started_at=iso(days_ago=day))
        for i in range(250):
            big.add_sample(lesson_id, a_sample(i * 5.0))
        big.end_lesson(lesson_id)
    big.add_check(a_check(days_ago=0.5))
    big.close()
    size_before = db.stat().st_size
    assert size_before > 0.6 * MB

    h = History(db, max_mb=0.3)
    assert len(h.lessons()) == 12 and digest(db) == digest(db)  # opening removes nothing
    h.prune()
    used, free = h._used_bytes()
    assert used <= 0.3 * MB
    labels = [x.label for x in h.lessons()]
    assert labels and labels[0] == "day 1"  # the newest stay ...
    assert "day 12" not in labels  # ... the oldest went first
    days = [int(label.split()[1]) for label in labels]
    assert days == sorted(days) and days == list(range(1, len(days) + 1))
    assert len(h.checks()) == 1  # the newest entry of all
    h.close()
    assert db.stat().st_size <= 0.3 * MB * 1.2  # VACUUM gave the space back
    assert db.stat().st_size < size_before / 2


def test_from_settings_uses_the_data_folder_and_the_limits():
    settings = defaults()
    settings.set("history.max_age_days", 30.0)
    settings.set("history.max_mb", 5.0)
    h = History.from_settings(settings)
    assert h.path == paths.data_dir() / "history.sqlite3" and h.path.exists()
    assert (h.max_age_days, h.max_mb) == (30.0, 5.0)
    h.close()


# --- damaged, newer, locked, unusable ------------------------------------------------------------


def _truncated(db: Path) -> bytes:
    h = History(db)
    lesson_id = h.start_lesson()
    for i in range(400):
        h.add_sample(lesson_id, a_sample(float(i)))
    h.close()
    return db.read_bytes()[: db.stat().st_size // 2]


def _other_program(db: Path) -> bytes:
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE photos (id INTEGER PRIMARY KEY, name TEXT)")
    conn.close()
    return db.read_bytes()


@pytest.mark.parametrize("make", [
    pytest.param(lambda db: os.urandom(64 * 1024), id="garbage"),
    pytest.param(lambda db: b"SQLite format 3\x00" + b"\xff" * 4000, id="broken-header"),
    pytest.param(lambda db: b"these are my notes, not a database\n" * 50, id="text"),
    pytest.param(_truncated, id="truncated"),
    pytest.param(_other_program, id="another-programs-database"),
])
def test_a_damaged_file_is_moved_aside_and_a_fresh_history_started(db, make):
    content = make(db)
    db.write_bytes(content)
    Path(f"{db}-wal").write_bytes(b"stale journal")
    h = History(db)
    assert h.available and h.problem is None
    assert h.recovered and "damaged" in h.recovered and "new, empty history" in h.recovered
    kept = [p for p in db.parent.iterdir() if p.name.startswith("history.sqlite3.corrupt-")]
    main = [p for p in kept if not p.name.endswith("-wal")]
    assert len(main) == 1 and main[0].read_bytes() == content  # the user's file is never lost
    assert main[0].name in h.recovered
    assert len(main[0].name) == len("history.sqlite3.corrupt-YYYYmmdd-HHMMSS")
    assert Path(f"{main[0]}-wal").read_bytes() == b"stale journal"  # its journal went with it
    assert h.checks() == [] and h.add_check(a_check()) == 1
    h.close()
    again = History(db)
    assert again.recovered is None and len(again.checks()) == 1
    again.close()


def test_an_empty_file_is_simply_a_new_history(db):
    db.write_bytes(b"")
    h = History(db)
    assert h.available and h.recovered is None and h.add_check(a_check()) == 1
    h.close()


def test_a_file_from_a_newer_connectcheck_is_left_untouched(db):
    h = History(db)
    h.add_check(a_check())
    h.close()
    with sqlite3.connect(db) as conn:
        conn.execute("PRAGMA user_version = 7")
    conn.close()
    before, mtime = digest(db), db.stat().st_mtime_ns
    newer = History(db, max_age_days=0.000001, max_mb=0.0001)  # limits that would remove everything
    assert not newer.available and newer.recovered is None
    assert "newer connectcheck (format 7" in newer.problem and "left untouched" in newer.problem
    with pytest.raises(HistoryError, match="newer connectcheck"):
        newer.checks()
    with pytest.raises(HistoryError, match="newer connectcheck"):
        newer.start_lesson()
    newer.close()
    assert digest(db) == before and db.stat().st_mtime_ns == mtime
    assert not Path(f"{db}-wal").exists() or Path(f"{db}-wal").stat().st_size == 0


LOCKER = """
import sqlite3, sys, time
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
conn.execute("PRAGMA locking_mode = EXCLUSIVE")
conn.execute("BEGIN EXCLUSIVE")
conn.execute("CREATE TABLE IF NOT EXISTS other_program (x)")
print("locked", flush=True)
sys.stdin.readline()
conn.execute("ROLLBACK")
"""


def test_a_file_held_by_another_program_is_waited_for_then_left_alone(db):
    h = History(db)
    h.add_check(a_check())
    h.close()
    before = digest(db)
    locker = subprocess.Popen([sys.executable, "-c", LOCKER, str(db)], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    try:
        assert locker.stdout.readline().strip() == "locked"
        started = time.monotonic()
        held = History(db, busy_timeout_s=0.3)
        waited = time.monotonic() - started
        assert not held.available and held.recovered is None
        assert "in use by another program" in held.problem and "left as it is" in held.problem
        assert waited >= 0.25  # it did wait before giving up
        with pytest.raises(HistoryError, match="in use by another program"):
            held.add_check(a_check())
        held.close()
    finally:
        locker.communicate("\n", timeout=10)
    assert digest(db) == before  # nothing moved, nothing lost
    after = History(db)
    assert after.available and after.recovered is None and len(after.checks()) == 1
    after.close()


def test_a_write_blocked_for_too_long_fails_in_plain_words_and_the_next_one_works(db):
    h = History(db, busy_timeout_s=0.2)
    lesson_id = h.start_lesson()
    other = sqlite3.connect(db, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # another writer holds the file
    with pytest.raises(HistoryError, match="in use by another program"):
        h.add_sample(lesson_id, a_sample(0.0))
    assert h.lessons()[0].samples == 0  # reading is never blocked by a writer (WAL)
    other.execute("ROLLBACK")
    other.close()
    h.add_sample(lesson_id, a_sample(5.0))
    assert h.lessons()[0].samples == 1
    h.close()


def test_a_folder_that_cannot_be_made_leaves_the_history_unavailable(tmp_path):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the folder should be")
    h = History(blocker / "history.sqlite3")
    assert not h.available and "cannot be created" in h.problem
    with pytest.raises(HistoryError, match="cannot be created"):
        h.lessons()


def test_a_closed_history_says_so(db):
    h = History(db)
    h.close()
    with pytest.raises(HistoryError, match="closed"):
        h.checks()


# --- crashes and threads -------------------------------------------------------------------------


MONITORING_CHILD = """
import sys
from pathlib import Path
from connectcheck.history import History
from connectcheck.assess.lesson import Burst, LocalTraffic
from connectcheck.monitor import Monitor, MonitorOptions


def say(text):  # one write per line: the monitor's thread prints too
    sys.stdout.write(text + "\\n")
    sys.stdout.flush()


history = History(Path(sys.argv[1]))
monitor = Monitor(
    options=MonitorOptions(interval_s=0.01, alert_after_s=0.05, alert_gap_s=0.2),
    history=history,
    on_sample=lambda s: say(f"{s.t_s}"),
    on_alert=lambda a: None,
    probe=lambda cancel: Burst([20.0] * 9 + [None], method="stun", target="lab:3478"),
    local=lambda cancel: LocalTraffic(down_mbps=2.5, up_mbps=0.5, top_program="steam", top_program_mbps=1.9),
)
say(f"lesson {monitor.start('killed mid-lesson')}")
sys.stdin.readline()  # never comes: the process is killed
"""


def test_kill_9_while_monitoring_loses_at_most_the_last_sample_and_never_the_file(db):
    for round_ in range(3):  # the same file, killed three times, each time at a different moment
        child = subprocess.Popen([sys.executable, "-c", MONITORING_CHILD, str(db)], cwd=ROOT,
                                 stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        try:
            lines = [child.stdout.readline().strip() for _ in range(41 + 13 * round_)]
            os.kill(child.pid, signal.SIGKILL)
        finally:
            child.kill()
            child.communicate(timeout=10)
        assert child.returncode == -signal.SIGKILL
        [lesson_id] = [int(line.split()[1]) for line in lines if line.startswith("lesson")]
        printed = [float(line) for line in lines if not line.startswith("lesson")]
        with sqlite3.connect(db) as conn:
            assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        conn.close()
        h = History(db)
        assert h.recovered is None and h.available
        record = h.lesson(lesson_id)
        assert record.label == "killed mid-lesson" and record.ended_at is None  # cut short, and it shows
        stored = [s.t_s for s in record.samples]
        assert stored[: len(printed)] == printed  # every sample shown was already kept
        assert len(h.lessons()) == round_ + 1
        h.close()


def test_a_writer_thread_and_a_reader_thread_at_once(db):
    h = History(db)
    lesson_id = h.start_lesson()
    errors, seen = [], []
    done = threading.Event()

    def write():
        try:
            for i in range(300):
                h.add_sample(lesson_id, a_sample(i * 0.1))
                if i % 50 == 0:
                    h.add_alert(lesson_id, LessonAlert(at=iso(), t_s=i * 0.1, activity="video", state="fail",
                                                       previous="good", message="m"))
        except Exception as exc:
            errors.append(exc)
        finally:
            done.set()

    def read():
        try:
            while not done.is_set():
                seen.append(h.lessons()[0].samples)
                record = h.lesson(lesson_id)
                assert [s.t_s for s in record.samples] == sorted(s.t_s for s in record.samples)
        except Exception as exc:
            errors.append(exc)

    threads = [threading.Thread(target=write), threading.Thread(target=read)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    assert seen == sorted(seen) and len(seen) > 1  # the reader saw the lesson grow
    record = h.lesson(lesson_id)
    assert len(record.samples) == 300 and len(record.alerts) == 6
    h.close()


def test_threads_that_come_and_go_leave_no_connections_behind(db):
    h = History(db)
    lesson_id = h.start_lesson()

    def one_task(i):
        h.add_sample(lesson_id, a_sample(float(i)))
        h.lessons()

    def open_files():
        return len(os.listdir("/proc/self/fd"))

    one_task(0)
    before = open_files()
    for i in range(1, 60):  # a new thread per task, as the window's worker does
        t = threading.Thread(target=one_task, args=(i,))
        t.start()
        t.join()
    assert open_files() <= before + 6  # at most the last thread's connection (file, journal, index)
    assert h.lessons()[0].samples == 60
    h.close()
    assert open_files() < before


def test_opening_says_what_happened_in_one_way_for_the_window_and_the_terminal(tmp_path, capsys):
    from connectcheck.cli.common import open_history as open_for_terminal
    from connectcheck.config.settings import defaults
    from connectcheck.history import open_history

    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the folder should be")
    assert History(blocker / "history.sqlite3").notices() == [
        f"Checks and lessons cannot be kept this time: {History(blocker / 'history.sqlite3').problem}"]
    damaged = tmp_path / "history.sqlite3"
    damaged.write_bytes(b"this is not a database" * 100)
    notices = History(damaged).notices()
    assert len(notices) == 1 and "It was kept as history.sqlite3.corrupt-" in notices[0]
    history, messages = open_history(defaults())  # the user's own (in the test's private folders)
    assert history.available and messages == []
    history.close()
    from connectcheck.core import paths
    (paths.data_dir() / "history.sqlite3").write_bytes(b"this is not a database" * 100)
    err = io.StringIO()
    open_for_terminal(defaults(), err).close()
    told = err.getvalue()
    assert told.startswith("connectcheck: ") and "It was kept as history.sqlite3.corrupt-" in told
# --- a hostile world: wrong clocks, tight size limits, programs racing, disks that refuse ----------


def _history_with_lessons(h: History, n: int, samples: int, days_ago: float = 5.0,
                          label: str = "lesson") -> list[int]:
    ids = []
    for k in range(n):
        lesson_id = h.start_lesson(f"{label} {k}", started_at=iso(days_ago=days_ago - k * 0.01))
        for i in range(samples):
            h.add_sample(lesson_id, a_sample(i * 5.0))
        h.end_lesson(lesson_id)
        ids.append(lesson_id)
    return ids


def test_a_read_only_command_never_deletes_even_entries_past_the_age_limit(db, capsys):
    from connectcheck.cli import main

    h = History(paths.data_dir() / "history.sqlite3", max_age_days=90)
    old = h.add_check(a_check(days_ago=200))  # kept: just written
    h.close()
    before = digest(h.path)
    for argv in (["history"], ["history", "list", "--json"], ["history", "show", str(old)]):
        assert main(argv) == 0
    assert f'"id": {old}' in capsys.readouterr().out
    assert digest(h.path) == before  # not one byte changed: nothing pruned, nothing written
    assert History(h.path, read_only=True).checks()[0].id == old


def test_a_read_only_command_on_no_history_makes_no_file(capsys):
    from connectcheck.cli import main

    assert main(["history"]) == 0
    assert "none yet" in capsys.readouterr().out
    assert not (paths.data_dir() / "history.sqlite3").exists()


def test_a_clock_400_days_ahead_deletes_nothing_until_the_date_has_held_for_days(db):
    clocks = Clocks()
    h = clocks.history(db, max_age_days=90)
    kept = [h.add_check(a_check(days_ago=d)) for d in (30, 10, 1)]
    h.close()
    clocks.set_wall(clocks.wall + 400 * DAY_S)  # the date is now wrong (or a long break began)
    h = clocks.history(db, max_age_days=90)
    new = h.add_check(a_check(days_ago=-400))  # a check made under the new date
    assert [c.id for c in h.checks()] == [new, *reversed(kept)]  # nothing went
    assert "400" not in (h.notice or "") and "more than 90 days after the newest entry" in h.notice
    h.close()
    clocks.tick(3 * DAY_S)  # a later run, the date still held: still nothing goes
    h = clocks.history(db, max_age_days=90)
    h.add_check(a_check(days_ago=-403))
    assert len(h.checks()) == 5 and "removed after 7 days" in h.notice
    h.close()
    clocks.tick(5 * DAY_S)  # held for 8 days: it is believed, as a long break would be
    h = clocks.history(db, max_age_days=90)
    h.add_check(a_check(days_ago=-408))
    assert not [c for c in h.checks() if c.id in kept]
    h.close()


def test_a_clock_put_right_after_a_wrong_jump_ahead_lost_nothing(db):
    clocks = Clocks()
    h = clocks.history(db, max_age_days=90)
    kept = [h.add_check(a_check(days_ago=d)) for d in (60, 20)]
    h.close()
    real = clocks.wall
    clocks.set_wall(real + 400 * DAY_S)
    h = clocks.history(db, max_age_days=90)
    wrong = h.add_check(a_check(days_ago=-400))
    h.close()
    clocks.set_wall(real + DAY_S)  # put right the next day
    h = clocks.history(db, max_age_days=90)
    right = h.add_check(a_check(days_ago=-1))
    assert [c.id for c in h.checks()] == [right, wrong, *reversed(kept)]
    assert "behind the newest entry" in h.notice  # the wrongly stamped entry is in the future now
    h.close()


def test_a_clock_behind_keeps_what_is_recorded_meanwhile_once_it_is_put_right(db):
    clocks = Clocks()
    h = clocks.history(db, max_age_days=90)
    good = h.add_check(a_check(days_ago=1))
    h.close()
    real = clocks.wall
    clocks.set_wall(datetime(2001, 1, 1).timestamp())  # a dead CMOS battery
    h = clocks.history(db, max_age_days=90)
    meanwhile = []
    for _ in range(3):
        result = a_check()
        result.started_at = datetime.fromtimestamp(clocks.wall).astimezone().isoformat(timespec="seconds")
        meanwhile.append(h.add_check(result))
        clocks.tick(3600)
    assert "behind the newest entry" in h.notice
    assert [c.id for c in h.checks()] == [*reversed(meanwhile), good]
    h.close()
    clocks.set_wall(real + DAY_S)  # put right
    h = clocks.history(db, max_age_days=90)
    latest = h.add_check(a_check())
    assert [c.id for c in h.checks()] == [latest, *reversed(meanwhile), good]  # stamped 2001, still kept
    h.close()


def test_a_clock_that_jumps_during_a_lesson_keeps_the_lesson_and_all_others(db):
    clocks = Clocks()
    h = clocks.history(db, max_age_days=90)
    earlier = _history_with_lessons(h, 3, samples=2, days_ago=20)
    lesson = h.start_lesson("today")
    h.add_sample(lesson, a_sample(0.0))
    clocks.tick(600)
    clocks.set_wall(clocks.wall + 400 * DAY_S)  # NTP, a user, a VM resumed: the date jumps
    clocks.tick(600)
    h.add_sample(lesson, a_sample(1200.0))
    h.end_lesson(lesson)
    h.add_check(a_check())  # and a write after it
    assert [x.id for x in h.lessons()] == [lesson, *reversed(earlier)]
    assert len(h.lesson(lesson).samples) == 2
    assert "moved on by itself during this run" in h.notice
    h.close()


def test_an_entry_stamped_in_the_future_is_not_the_last_lesson_for_ever(db):
    h = History(db)
    future = h.start_lesson("stamped by a wrong clock", started_at=iso(days_ago=-400))
    h.end_lesson(future)
    now = h.start_lesson("today")
    h.end_lesson(now)
    assert h.last_lesson().id == now and [x.id for x in h.lessons()] == [now, future]
    h.close()


def _fits(path: Path, keep: list[int], tmp: Path) -> int:
    """The compacted size of a copy of the history holding only the lessons ``keep``."""
    copy = tmp / "copy.sqlite3"
    copy.unlink(missing_ok=True)
    with sqlite3.connect(path) as src, sqlite3.connect(copy) as dst:
        src.backup(dst)
    conn = sqlite3.connect(copy, isolation_level=None)
    conn.execute("PRAGMA foreign_keys = ON")
    conn.execute(f"DELETE FROM lessons WHERE id NOT IN ({','.join(map(str, keep)) or '-1'})")
    conn.execute("DELETE FROM checks WHERE lesson_id IS NULL")
    conn.execute("VACUUM")
    pages, free, size = conn.execute("SELECT page_count, freelist_count, page_size FROM pragma_page_count(),"
                                     " pragma_freelist_count(), pragma_page_size()").fetchone()
    conn.close()
    return (pages - free) * size


@pytest.mark.parametrize("layout", ["samples", "checks in lessons", "many alerts"])
def test_the_size_limit_removes_only_as_many_oldest_lessons_as_needed(db, tmp_path, layout):
    h = History(db, max_mb=500)
    ids = []
    for k in range(20):
        lesson_id = h.start_lesson(f"lesson {k}", started_at=iso(days_ago=20 - k))
        for i in range(120 if layout != "many alerts" else 20):
            h.add_sample(lesson_id, a_sample(i * 5.0))
        if layout == "checks in lessons":
            for _ in range(3):
                result = a_check()
                result.notes = ["x" * 9000]  # big results: overflow pages
                h.add_check(result, lesson_id)
        if layout == "many alerts":
            for i in range(400):
                h.add_alert(lesson_id, LessonAlert(
                    at=iso(), t_s=float(i), activity="video", state="fail", previous="good",
                    message="Video is failing " * 3))
        h.end_lesson(lesson_id)
        ids.append(lesson_id)
    h.close()
    whole = _fits(db, ids, tmp_path)
    pristine = tmp_path / "pristine.sqlite3"
    with sqlite3.connect(db) as src, sqlite3.connect(pristine) as dst:
        src.backup(dst)
    limit = whole / 4.5  # room for about four of the twenty
    h = History(db, max_mb=limit / MB)
    h.prune()
    kept = [x.id for x in h.lessons()]
    h.close()
    assert kept == ids[::-1][:len(kept)]  # the newest kept, the oldest gone
    assert 3 <= len(kept) <= 5
    assert db.stat().st_size <= limit  # the file itself fits
    assert _fits(pristine, ids[-len(kept) - 1:], tmp_path) > limit  # one more would not fit: no more went


def test_a_lesson_alone_larger_than_the_limit_is_kept_with_all_the_others(db):
    h = History(db, max_mb=500)
    small = _history_with_lessons(h, 3, samples=5, days_ago=3)
    h.max_mb = 0.05
    big = h.start_lesson("a long lesson")
    for i in range(600):
        h.add_sample(big, a_sample(i * 5.0))  # the prunes meanwhile must leave it be: it is monitored
    h.end_lesson(big)
    assert [x.id for x in h.lessons()] == [big, *reversed(small)]
    assert len(h.lesson(big).samples) == 600
    assert "more than the history's size limit of 0.05 MB; nothing else was removed" in h.notice
    nxt = h.start_lesson("the next lesson")
    h.add_sample(nxt, a_sample(0.0))
    h.end_lesson(nxt)  # now the long one is not the one just written: the oldest go, as needed
    assert [x.id for x in h.lessons()] == [nxt]
    h.close()


_OPENER = """
import sys, time
from pathlib import Path
from connectcheck.core.model import MonitorSample
from connectcheck.history import History
start = float(sys.argv[2])
time.sleep(max(0.0, start - time.time()))
h = History(Path(sys.argv[1]))
if h.problem:
    print("PROBLEM", h.problem)
    sys.exit(1)
lesson = h.start_lesson("racer")
for i in range(15):
    h.add_sample(lesson, MonitorSample(at="2025-01-01T10:00:00+00:00", t_s=float(i), states={}))
h.end_lesson(lesson)
print("OK", len(h.lesson(lesson).samples))
"""


def test_programs_opening_a_new_history_at_once_all_keep_everything(db, tmp_path):
    script = tmp_path / "opener.py"
    script.write_text(_OPENER)
    for _ in range(3):  # the race is short: run it a few times
        db.unlink(missing_ok=True)
        start = time.time() + 1.5
        procs = [subprocess.Popen([sys.executable, str(script), str(db), str(start)], stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True) for _ in range(4)]
        outs = [p.communicate(timeout=60) for p in procs]
        assert [o[0].strip() for o in outs] == ["OK 15"] * 4, outs
        h = History(db)
        assert sorted(x.samples for x in h.lessons()) == [15] * 4
        h.close()


# a real tmpfs, mounted for the test (root only): read-only and full disks


@pytest.fixture
def tmpfs(tmp_path):
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    folder = tmp_path / "disk"
    folder.mkdir()

    def mount(*options: str) -> None:
        subprocess.run(["mount", "-t", "tmpfs", "-o", ",".join(options), "tmpfs", str(folder)], check=True)

    mounted = []

    def remount(*options: str) -> None:
        subprocess.run(["mount", "-o", ",".join(("remount", *options)), str(folder)], check=True)

    try:
        yield folder, mount, remount, mounted
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False, capture_output=True)


def test_a_history_on_a_read_only_disk_is_still_listed_and_exported(tmpfs, monkeypatch, capsys, tmp_path):
    from connectcheck.cli import main

    folder, mount, remount, _ = tmpfs
    mount("size=20m")
    h = History(folder / "history.sqlite3")
    lesson = h.start_lesson("on a disk that became read-only")
    h.add_sample(lesson, a_sample(0.0))
    h.end_lesson(lesson)
    h.add_check(a_check())
    h.close()
    remount("ro")
    monkeypatch.setenv("CONNECTCHECK_DATA_DIR", str(folder))
    assert main(["history"]) == 0
    out, err = capsys.readouterr()
    assert "on a disk that became read-only" in out and err == ""
    assert main(["report", "export", "--lesson", "last", str(tmp_path / "lesson.json")]) == 0
    assert (tmp_path / "lesson.json").stat().st_size > 0
    writer = History(folder / "history.sqlite3")  # a command that writes: reads work, writes say why
    assert writer.available and writer.read_only and "the disk it is on is read-only" in writer.notice
    assert writer.last_lesson().id == lesson
    with pytest.raises(HistoryError, match="can be read but not written"):
        writer.add_check(a_check())
    writer.close()


def _fill(folder: Path) -> None:
    fd = os.open(folder / "filler", os.O_WRONLY | os.O_CREAT)  # fill the disk to the last byte
    try:
        while os.write(fd, b"\0" * 4096):
            pass
    except OSError:
        pass
    finally:
        os.close(fd)


def test_a_disk_that_fills_during_a_run_is_called_full(tmpfs):
    folder, mount, _, _ = tmpfs
    mount("size=1m")
    h = History(folder / "history.sqlite3")
    h.add_check(a_check())
    _fill(folder)
    with pytest.raises(HistoryError, match="the disk is full") as caught:
        for i in range(200):
            result = a_check()
            result.notes = [f"{i}" * 5000]
            h.add_check(result)
    assert "I/O error" not in str(caught.value)
    assert len(h.checks()) >= 1
    h.close()


def test_a_history_on_a_full_disk_is_read_and_the_disk_called_full_once(tmpfs, monkeypatch, capsys):
    from connectcheck.cli import main

    folder, mount, _, _ = tmpfs
    mount("size=1m")
    h = History(folder / "history.sqlite3")
    kept = h.add_check(a_check())
    h.close()
    _fill(folder)
    again = History(folder / "history.sqlite3")  # SQLite itself says "disk I/O error" here
    assert again.available and again.read_only and "the disk is full" in again.notice
    assert [c.id for c in again.checks()] == [kept]
    with pytest.raises(HistoryError, match="the disk is full"):
        again.add_check(a_check())
    again.close()
    monkeypatch.setenv("CONNECTCHECK_DATA_DIR", str(folder))
    assert main(["history"]) == 0  # the read-only command reads it, and says nothing about it
    out, err = capsys.readouterr()
    assert "Checks" in out and err == ""


def test_a_history_path_that_is_a_fifo_is_left_alone_at_once(db):
    os.mkfifo(db)
    for h in (History(db), History(db, read_only=True)):
        assert not h.available and "is not a file" in h.problem
        h.close()


def test_the_list_knows_which_activities_failed_so_it_can_say_what_the_window_says(db):
    """A check that can go ahead only "with limits" because sound fails is "Not ready" in the window;
    the list reads the failing activities from the stored result to say the same."""
    from connectcheck.core.model import ActivityVerdict
    from connectcheck.core.words import short_answer

    h = History(db)
    limited = a_check(overall="limited")
    limited.assessment.verdicts = [ActivityVerdict("sound", "fail", "Sound fails."),
                                   ActivityVerdict("video", "fail", "Video fails."),
                                   ActivityVerdict("whiteboard", "good", "Fine.")]
    cameras = a_check(overall="limited")
    cameras.assessment.verdicts = [ActivityVerdict("video", "fail", "Video fails.")]
    ids = [h.add_check(x) for x in (limited, cameras, a_check())]
    listed = {c.id: c for c in h.checks()}
    assert listed[ids[0]].failing == ("sound", "video")
    assert listed[ids[1]].failing == ("video",) and listed[ids[2]].failing == ()
    assert [short_answer(listed[i].overall, listed[i].failing) for i in ids] == [
        "Not ready", "With limits", "Ready"]
    # a stored result that is not JSON any more is listed all the same, with nothing failing read
    h._write(lambda c: c.execute("UPDATE checks SET result = '{not json' WHERE id = ?", (ids[2],)))
    assert {c.id: c.failing for c in h.checks()}[ids[2]] == ()
    h.close()
