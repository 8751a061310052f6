"""``connectcheck --smoke-test`` from source: it passes as a program of its own, also without any
output streams (a windowed program, with the frozen build's runtime hook), and its watch on the
error stream and the log catches what a step lets out. installer/build.py runs it on the frozen
programs."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path

from connectcheck.cli import smoke

ROOT = Path(__file__).resolve().parents[2]
RTHOOK = ROOT / "installer" / "rthook.py"


def _private_env(tmp_path: Path) -> dict[str, str]:
    """A child's environment without the test's private folders: the smoke test makes its own."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONNECTCHECK_")}
    env["HOME"] = str(tmp_path)  # were it to touch the user's folders, it would be here
    return env


def test_the_smoke_test_passes_as_a_program(tmp_path):
    done = subprocess.run([sys.executable, "-m", "connectcheck", smoke.FLAG], env=_private_env(tmp_path),
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stderr == ""
    lines = done.stdout.splitlines()
    assert [line.split()[0] for line in lines[:-1]] == ["ok"] * len(smoke.STEPS)
    for (name, _), line in zip(smoke.STEPS, lines, strict=False):
        assert line[5:].startswith(name)
    assert lines[-1].startswith("smoke test passed")
    assert list(tmp_path.iterdir()) == []  # nothing written in the home folder


def test_it_passes_without_output_streams_as_a_windowed_program(tmp_path):
    """A windowed program on Windows has sys.stdout and sys.stderr set to None; the frozen build's
    runtime hook gives them the null device, and everything works (speedtest-cli included)."""
    marker = tmp_path / "exit-code"
    code = (
        "import runpy, sys\n"
        "sys.stdout = sys.stderr = None\n"
        f"runpy.run_path({str(RTHOOK)!r})\n"
        "from connectcheck.cli import main\n"
        f"open({str(marker)!r}, 'w').write(str(main([{smoke.FLAG!r}])))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], env=_private_env(tmp_path), capture_output=True,
                          text=True, timeout=120, check=False)
    assert done.returncode == 0 and done.stdout == "" and done.stderr == ""
    assert marker.read_text() == "0"


def _run(steps, tmp_path) -> tuple[int, list[str], list[str]]:
    out, err = [], []

    class Lines:
        def __init__(self, into):
            self.into = into

        def write(self, text):
            self.into.append(text)

        def flush(self):
            pass

    code = smoke.run_smoke_test(Lines(out), Lines(err), steps=steps)
    return code, "".join(out).splitlines(), "".join(err).splitlines()


def test_a_step_that_fails_fails_the_smoke_test_and_stops_it(tmp_path):
    ran = []

    def broken(ctx):
        ran.append("broken")
        smoke.expect(False, "the icons draw nothing")
        return ""

    def later(ctx):
        ran.append("later")
        return "fine"

    code, out, err = _run((("icons", broken), ("later", later)), tmp_path)
    assert code == 1 and ran == ["broken"]
    assert out == ["FAIL icons"]
    assert err == ["connectcheck smoke test FAILED:", "icons: the icons draw nothing"]


def test_an_unexpected_exception_is_told_with_its_traceback(tmp_path):
    def crashing(ctx):
        return {}["missing"]

    code, _, err = _run((("crashing", crashing),), tmp_path)
    assert code == 1
    assert err[1] == "crashing: Traceback (most recent call last):" and "KeyError: 'missing'" in err


def test_output_on_the_error_stream_fails_it_even_from_below_python(tmp_path):
    """A library writing to file descriptor 2 itself (fontconfig, Qt without a message handler)."""
    def noisy(ctx):
        os.write(2, b"Fontconfig warning: unknown element\n")
        return "done"

    code, out, err = _run((("noisy", noisy),), tmp_path)
    assert code == 1 and out[0].startswith("ok   noisy")
    assert err[1] == "on the error stream: Fontconfig warning: unknown element"


def test_a_warning_in_the_log_fails_it(tmp_path):
    def warns(ctx):
        logging.getLogger("qt").warning("QPainter::begin: Paint device returned engine == 0")
        return "done"

    code, _, err = _run((("warns", warns),), tmp_path)
    assert code == 1 and err[1] == "WARNING qt: QPainter::begin: Paint device returned engine == 0"


def test_the_folders_and_the_error_stream_are_given_back(tmp_path, monkeypatch):
    monkeypatch.setenv("CONNECTCHECK_DATA_DIR", str(tmp_path / "mine"))
    seen = {}

    def looks(ctx):
        seen["data"] = os.environ["CONNECTCHECK_DATA_DIR"]
        seen["qt"] = os.environ["QT_QPA_PLATFORM"]
        return "done"

    stderr = sys.stderr
    assert _run((("looks", looks),), tmp_path)[0] == 0
    assert seen["data"] != str(tmp_path / "mine") and seen["qt"] == "offscreen"
    assert os.environ["CONNECTCHECK_DATA_DIR"] == str(tmp_path / "mine")
    assert sys.stderr is stderr and not Path(seen["data"]).exists()  # the temporary folder is gone
