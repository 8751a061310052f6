"""Running external commands: argv only, a timeout always, cancel honoured, missing = not available."""

from __future__ import annotations

import sys
import threading
import time

from connectcheck.local.commands import PLAIN_LOCALE, run_command


def test_output_and_exit_code():
    result = run_command([sys.executable, "-c", "import sys; print('hello'); sys.exit(3)"])
    assert result.stdout == "hello\n" and result.returncode == 3 and result.error is None and not result.ok


def test_no_shell_is_involved():
    result = run_command(["echo", "$(id); rm -rf /nothing"])
    assert result.ok and result.stdout == "$(id); rm -rf /nothing\n"


def test_missing_program_is_not_available():
    result = run_command(["connectcheck-no-such-tool", "--version"])
    assert not result.available and "not available" in result.error


def test_timeout_kills_a_hanging_tool():
    start = time.monotonic()
    result = run_command([sys.executable, "-c", "import time; time.sleep(30)"], timeout_s=0.5)
    assert time.monotonic() - start < 1.5
    assert "did not answer within 0.5 s" in result.error


def test_a_grandchild_holding_the_output_does_not_hold_us():
    code = (
        "import subprocess, sys, time; "
        "subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(5)']); time.sleep(30)"
    )
    start = time.monotonic()
    result = run_command([sys.executable, "-c", code], timeout_s=0.5)
    assert time.monotonic() - start < 2.0 and result.error


def test_cancel_stops_a_running_tool():
    cancel = threading.Event()
    threading.Timer(0.3, cancel.set).start()
    start = time.monotonic()
    result = run_command([sys.executable, "-c", "import time; time.sleep(30)"], timeout_s=20, cancel=cancel)
    assert time.monotonic() - start < 1.0 and "cancelled" in result.error


def test_environment_is_added():
    result = run_command(
        [sys.executable, "-c", "import os; print(os.environ['LC_ALL'], 'PATH' in os.environ)"],
        env=PLAIN_LOCALE,
    )
    assert result.stdout.split() == ["C", "True"]
