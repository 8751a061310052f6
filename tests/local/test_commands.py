"""Running external commands: argv only, a timeout always, cancel honoured, missing = not available."""

from __future__ import annotations

import sys
import threading
import time
from pathlib import Path

from connectcheck.local import commands
from connectcheck.local.commands import PLAIN_LOCALE, decode_output, run_command


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


CORPUS = Path(__file__).parent / "corpus"


def _printing(path: Path) -> list[str]:
    """A child that writes a file's bytes to its standard output, as a tool would."""
    code = "import sys; sys.stdout.buffer.write(open(sys.argv[1], 'rb').read())"
    return [sys.executable, "-c", code, str(path)]


def test_output_in_the_oem_code_page_is_read_as_written(monkeypatch):
    """netsh piped on a German Windows writes cp850 (here: a real German output re-encoded so)."""
    monkeypatch.setattr(commands, "console_encoding", lambda: "cp850")
    german = CORPUS / "netsh" / "de_win11_wifiheatmapper.cp850.derived.txt"
    result = run_command(_printing(german))
    assert "Übertragungsrate (MBit/s) : 300" in result.stdout and "Verschlüsselungsverfahren" in result.stdout
    # the same bytes read the way text=True reads them on a Western Windows (cp1252) lose the labels
    cp1252 = german.read_bytes().decode("cp1252", "replace")
    assert "Übertragungsrate" not in cp1252


def test_utf8_output_is_read_as_utf8_whatever_the_code_page(monkeypatch):
    monkeypatch.setattr(commands, "console_encoding", lambda: "cp936")
    result = run_command(_printing(CORPUS / "netsh" / "zh-hans_win11_ax211.txt"))
    assert "传输速率 (Mbps)        : 260" in result.stdout
    chinese = run_command(_printing(CORPUS / "netsh" / "zh-hans_win11_ax211.cp936.derived.txt"))
    assert chinese.stdout == result.stdout


def test_decode_output_line_ends_bom_and_unknown_code_pages():
    assert decode_output(b"\xef\xbb\xbfa\r\nb\rc\n") == "a\nb\nc\n"
    assert decode_output("État".encode("cp850"), "cp850") == "État"
    assert decode_output(b"Signal \x82 42%", "cp-no-such") == "Signal \x82 42%"


def test_utf16_as_powershell_saves_an_output_is_read():
    """A real Chinese netsh output as PowerShell's '>' would have saved it (UTF-16 LE with a BOM)."""
    real = (CORPUS / "netsh" / "zh-hans_win11_ax211.txt").read_bytes()
    expected = decode_output(real)
    assert decode_output(real.decode("utf-8").encode("utf-16")) == expected
    assert decode_output(real.decode("utf-8").encode("utf-16-le"), "cp936") == expected
