"""`connectcheck monitor` and `connectcheck history` as a user runs them, against loopback servers."""

import io
import json
import signal
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import pytest

from connectcheck import cli
from connectcheck.cli.common import EXIT_FAILED, EXIT_OK, EXIT_USAGE
from connectcheck.core import model, paths
from connectcheck.core.model import (
    Assessment,
    CheckKind,
    CheckResult,
    LessonAlert,
    MonitorSample,
    ProcedureRecord,
    Summary,
)
from connectcheck.history import History
from tests.lab.stun_server import StunServer

ROOT = Path(__file__).resolve().parents[2]
# The platform by address: the profile's own names would be looked up (a query to a public DNS)
MONITOR = ["monitor", "--platform", "https://127.0.0.1:9/"]
CHILD = """
import sys
from connectcheck import cli
sys.exit(cli.main(sys.argv[1:]))
"""


def run(argv):
    out, err = io.StringIO(), io.StringIO()
    code = cli.main(argv, out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def now_iso():
    return datetime.now().astimezone().isoformat(timespec="seconds")


def test_monitor_prints_a_line_per_sample_and_keeps_the_lesson():
    with StunServer() as stun:
        code, out, err = run([*MONITOR, "--minutes", "0.07", "--stun", stun.address,
                              "--set", "monitor.interval_s=2", "--label", "maths"])
    assert code == EXIT_OK, err
    lines = out.splitlines()
    assert len(lines) >= 2
    for line in lines:
        assert "RTT " in line and " ms" in line and "loss 0 %" in line
        assert "sound [ OK ]" in line and "video [ OK ]" in line and "whiteboard [ OK ]" in line
    assert "Monitoring the connection every 2 s for 0.07 minutes" in err
    assert "Lesson 1 kept in the history" in err and "connectcheck history lesson 1" in err
    history = History()
    lesson = history.lesson(1)
    assert lesson.label == "maths" and lesson.ended_at and len(lesson.samples) == len(lines)
    assert all(s.target == stun.address and s.method == "stun" for s in lesson.samples)
    history.close()


def test_monitor_json_gives_samples_alerts_and_the_end_as_json_lines():
    with StunServer(drop_every=2) as lossy:
        code, out, err = run([*MONITOR, "--json", "--minutes", "0.12", "--stun", lossy.address,
                              "--set", "monitor.interval_s=2", "--set", "monitor.alert_after_s=5",
                              "--set", "latency.timeout_ms=300"])
    assert code == EXIT_OK, err
    items = [json.loads(line) for line in out.splitlines()]
    kinds = [item["type"] for item in items]
    assert kinds[-1] == "end" and kinds.count("end") == 1 and "sample" in kinds and "alert" in kinds
    sample = next(item for item in items if item["type"] == "sample")
    for key in ("at", "t_s", "rtt_ms", "jitter_ms", "loss_pct", "window_loss_pct", "probes", "states",
                "method", "target", "down_mbps", "top_program"):
        assert key in sample
    alert = next(item for item in items if item["type"] == "alert")
    assert alert["activity"] == "sound" and alert["state"] == "fail" and alert["previous"] == "good"
    assert "test packets were lost" in alert["message"]
    end = items[-1]
    assert end["samples"] == kinds.count("sample") and end["alerts"] == kinds.count("alert")
    assert end["lesson_id"] == 1 and end["ended_at"]


def test_ctrl_c_ends_monitoring_and_the_lesson_is_kept():
    with StunServer() as stun:
        child = subprocess.Popen(
            [sys.executable, "-c", CHILD, *MONITOR, "--stun", stun.address, "--set", "monitor.interval_s=2",
             "--label", "interrupted"], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            first = child.stdout.readline()
            assert "RTT" in first
            child.send_signal(signal.SIGINT)
            out, err = child.communicate(timeout=20)
        finally:
            child.kill()
    assert child.returncode == EXIT_OK, err
    assert "Traceback" not in err and "kept in the history" in err
    history = History()
    lesson = history.last_lesson()
    assert lesson.label == "interrupted" and lesson.ended_at and len(lesson.samples) >= 1
    history.close()


def test_monitor_refuses_a_nonsense_duration():
    code, _, err = run(["monitor", "--minutes", "0"])
    assert code == EXIT_USAGE and "--minutes" in err


# --- history -------------------------------------------------------------------------------------


def a_check(**summary):
    return CheckResult(kind=CheckKind.QUICK, started_at=now_iso(), summary=Summary(**summary),
                       assessment=Assessment(overall="limited", sentence="Can go ahead, with care."))


@pytest.fixture
def kept():
    """A history with a lesson (samples, an alert, a check, the procedure) and two checks, one of
    them written by a newer connectcheck."""
    h = History()
    lesson_id = h.start_lesson("\x1b[31mSam's lesson", 5.0)
    for i, state in enumerate(("good", "good", "fail")):
        h.add_sample(lesson_id, MonitorSample(at=now_iso(), t_s=i * 5.0, rtt_ms=20.0 + i * 200, jitter_ms=2.0,
                                              loss_pct=0.0, probes=10, top_program="steam\x1b[2J",
                                              top_program_mbps=15.0, states={"sound": state}))
    h.add_alert(lesson_id, LessonAlert(at=now_iso(), t_s=10.0, activity="sound", state="fail",
                                       previous="good", message="Sound will probably break up or drop out."))
    during = h.add_check(a_check(rtt_ms=400.0, download_mbps=12.0), lesson_id)
    h.set_procedure(lesson_id, ProcedureRecord(outcome="rearranged", rearranged_to="2026-12-03"))
    h.end_lesson(lesson_id)
    newer = a_check()
    newer.schema_version = model.SCHEMA_VERSION + 1
    check = h.add_check(a_check(rtt_ms=25.0, download_mbps=50.0))
    ids = {"lesson": lesson_id, "during": during, "check": check, "newer": h.add_check(newer)}
    h.close()
    return ids


def test_history_lists_lessons_and_checks(kept):
    code, out, err = run(["history"])
    assert code == EXIT_OK, err
    assert "Lessons" in out and "Checks" in out and "\x1b" not in out
    lesson_row = next(line for line in out.splitlines() if "Sam's lesson" in line)
    assert " 3 " in lesson_row and " fail " in lesson_row
    assert "(written by a newer connectcheck)" in out
    assert "12 Mbit/s" in out and "400 ms" in out
    assert run(["history", "list"])[1] == out
    code, out, _ = run(["history", "list", "--json"])
    data = json.loads(out)
    assert [x["id"] for x in data["checks"]] == [kept["newer"], kept["check"], kept["during"]]
    assert data["lessons"][0]["samples"] == 3 and data["lessons"][0]["worst"] == "fail"


def test_history_shows_a_check_in_text_and_json(kept):
    code, out, err = run(["history", "show", str(kept["check"])])
    assert code == EXIT_OK, err
    assert "connectcheck quick check" in out and "25.0 ms" in out and "Overall:" in out
    code, out, _ = run(["history", "show", str(kept["check"]), "--json"])
    assert model.loads(out).summary.download_mbps == 50.0


def test_history_says_plainly_what_it_cannot_show(kept):
    code, _, err = run(["history", "show", str(kept["newer"])])
    assert code == EXIT_FAILED and "newer connectcheck" in err and "Traceback" not in err
    code, _, err = run(["history", "show", "999"])
    assert code == EXIT_FAILED and "there is no check 999" in err
    code, _, err = run(["history", "lesson", "999"])
    assert code == EXIT_FAILED and "there is no lesson 999" in err


def test_history_shows_a_lessons_timeline(kept):
    code, out, err = run(["history", "lesson", str(kept["lesson"])])
    assert code == EXIT_OK, err
    assert "\x1b" not in out and "Sam's lesson" in out
    assert "3 samples, 1 alert, 1 check;" in out
    timeline = out.split("Timeline", 1)[1].splitlines()
    alert_at = next(i for i, line in enumerate(timeline) if "ALERT" in line)
    assert "+0:10" in timeline[alert_at] and "+0:10" in timeline[alert_at - 1]  # after its sample
    assert "Procedure followed: rearranged, rearranged to 2026-12-03" in out
    assert "check at" in out and "limited" in out
    code, out, _ = run(["history", "lesson", str(kept["lesson"]), "--json"])
    data = json.loads(out)
    assert len(data["samples"]) == 3 and data["alerts"][0]["state"] == "fail" and data["checks"]


def test_a_damaged_history_is_reported_and_a_fresh_one_used():
    path = paths.data_dir() / "history.sqlite3"
    path.write_bytes(b"\x00not a database" * 1000)
    code, out, err = run(["history"])
    assert code == EXIT_OK and "history file was damaged" in err and "none yet" in out
    assert any(p.name.startswith("history.sqlite3.corrupt-") for p in path.parent.iterdir())


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP])
def test_logout_or_a_closed_terminal_ends_monitoring_and_the_lesson_is_kept(signum):
    with StunServer() as stun:
        child = subprocess.Popen(
            [sys.executable, "-c", CHILD, *MONITOR, "--stun", stun.address, "--set", "monitor.interval_s=2",
             "--label", signum.name], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            assert "RTT" in child.stdout.readline()
            err = ""
            if signum == signal.SIGHUP:  # the terminal is gone: every write fails from now on
                child.stdout.close()
                child.stderr.close()
                child.send_signal(signum)
                child.wait(timeout=20)
            else:
                child.send_signal(signum)
                _, err = child.communicate(timeout=20)
        finally:
            child.kill()
    assert child.returncode == EXIT_OK, err
    assert "Traceback" not in err
    history = History()
    lesson = history.last_lesson()
    assert lesson.label == signum.name and lesson.ended_at and len(lesson.samples) >= 1
    history.close()


STARTER = "import sys; from connectcheck.__main__ import run; sys.exit(run())"


@pytest.mark.parametrize("delay_s", [0.02, 0.08, 0.15, 0.25, 0.35])
def test_ctrl_c_while_connectcheck_is_still_loading_is_a_quiet_exit(delay_s, tmp_path):
    import time

    child = subprocess.Popen([sys.executable, "-c", STARTER, "history"], cwd=ROOT, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
    time.sleep(delay_s)
    child.send_signal(signal.SIGINT)
    out, err = child.communicate(timeout=30)
    if "init_import_site" in err:  # Python itself was still starting: no connectcheck code had run yet
        pytest.skip("the signal came while Python was still starting (before connectcheck loads)")
    if err.strip().endswith("KeyboardInterrupt") and "connectcheck" not in err and 'File "<string>"' in err:
        # it came while the starter line (the installed program's own wrapper does the same) was still
        # importing connectcheck.__main__, before run() and its handler: no connectcheck code yet
        pytest.skip("the signal came before connectcheck's run() was entered (a loaded machine)")
    assert "Traceback" not in err, err
    # -SIGINT: it came before Python had its handler (quiet too)
    assert child.returncode in (0, 130, -signal.SIGINT), (child.returncode, err)


def test_the_end_line_gives_what_was_measured_and_what_was_kept():
    from connectcheck.cli.monitor import _report_end
    from connectcheck.core.model import LessonRecord
    from connectcheck.monitor import Monitor, MonitorOptions

    samples = [MonitorSample(at=now_iso(), t_s=float(i), states={}) for i in range(9)]
    monitor = Monitor(options=MonitorOptions(), history=None, on_sample=print, on_alert=print)
    monitor._record = LessonRecord(id=4, started_at=now_iso(), samples=samples)
    monitor.history_problem = "the disk is full, so the history could not be written"
    kept = LessonRecord(id=4, started_at=now_iso(), samples=samples[:6])
    out, err = io.StringIO(), io.StringIO()
    _report_end(kept, monitor, out, err, as_json=False)
    assert "9 samples, 0 alerts measured" in err.getvalue()
    assert "lesson 4 is in the history with 6 of the 9 samples: the disk is full" in err.getvalue()
