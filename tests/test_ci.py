"""The CI scripts' doctor: the table of system libraries and tools, and the packages it would install."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

DOCTOR = Path(__file__).resolve().parents[1] / ".ci" / "doctor"


def _doctor(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(DOCTOR), *args], capture_output=True, text=True, timeout=120)


def test_the_doctor_lists_every_library_and_tool_with_its_package():
    done = _doctor()
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    rows = [line.split() for line in lines if line.startswith(("ok ", "MISSING "))]
    names = {row[1] for row in rows}
    assert {"libxcb-cursor.so.0", "libxcb-icccm.so.4", "iptables", "pdftoppm", "Xvfb", "weston"} <= names
    assert all(len(row) >= 4 for row in rows)  # status, what, package, what needs it
    present = sum(row[0] == "ok" for row in rows)
    assert f"doctor: {present} of {len(rows)} present" in done.stdout
    if present < len(rows):
        missing = {row[2] for row in rows if row[0] == "MISSING"}
        install = next(line for line in lines if "to install the rest: apt-get install" in line)
        assert set(install.split("apt-get install ")[1].split()) == missing
        assert _doctor("--packages", "all").stdout.split() == list(dict.fromkeys(
            row[2] for row in rows if row[0] == "MISSING"))
    # with the project's .venv the doctor also reads Qt's files with ldd (the list's own test is
    # tests/ui/test_syslibs.py)
    assert "Qt loads" in done.stdout or "no .venv with PySide6 yet" in done.stdout


def test_the_doctor_refuses_an_unknown_group():
    done = _doctor("--packages", "nonsense")
    assert done.returncode == 2 and "unknown group nonsense" in done.stderr
