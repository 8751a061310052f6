"""Running the operating system's own tools (nmcli, nettop, netsh, …) safely.

Always an argv list (never a shell, so nothing in a name or an SSID can be run as a command),
always a timeout, and a missing program is an ordinary answer ("not available"), not a crash.
The cancel event is watched while the command runs, so a cancelled check stops within a
fraction of a second even when a tool hangs.

Output is read as the tool really writes it: UTF-8 when the bytes are UTF-8 (every tool on Linux and
macOS; netsh on recent Windows builds and after ``chcp 65001``), else the console's code page, the
OEM one (cp850, cp437, cp936, cp932, …) that Windows' console programs use when piped, which is not
the ANSI code page Python's ``text=True`` would use.
"""

from __future__ import annotations

import codecs
import locale
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

POLL_S = 0.1  # how often a running command looks at the cancel event
# Tools print their numbers and labels in English under the C locale where they honour it;
# Windows' netsh ignores it, so its parser reads several languages.
PLAIN_LOCALE = {"LC_ALL": "C", "LANG": "C"}


@dataclass(frozen=True)
class CommandResult:
    """What a command printed, or why it could not run (``error`` in plain words)."""

    argv: tuple[str, ...]
    stdout: str = ""
    stderr: str = ""
    returncode: int | None = None
    error: str | None = None  # None when the command ran to its end (whatever its exit code)
    available: bool = True  # False when the program is not on this computer

    @property
    def ok(self) -> bool:
        """It ran and exited with 0."""
        return self.error is None and self.returncode == 0


def console_encoding() -> str:
    """The code page Windows' console programs write in when piped (the console's, else the OEM one);
    the locale's encoding elsewhere."""
    if sys.platform == "win32":
        import ctypes

        kernel32 = ctypes.windll.kernel32  # type: ignore[attr-defined]
        page = kernel32.GetConsoleOutputCP() or kernel32.GetOEMCP()
        return f"cp{page}"
    return locale.getpreferredencoding(False)


def decode_output(data: bytes, fallback: str | None = None) -> str:
    """A tool's output as text: UTF-8 when it is valid UTF-8 (UTF-16 when it has a UTF-16 BOM or
    looks like it), else ``fallback`` (by default the console's code page, :func:`console_encoding`);
    line ends as ``\n``."""
    if data.startswith(codecs.BOM_UTF8):
        data = data[len(codecs.BOM_UTF8) :]
    try:
        if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
            text = data.decode("utf-16")  # an output saved by PowerShell's '>' (UTF-16 with a BOM)
        elif len(data) >= 2 and len(data) % 2 == 0 and data[1::2].count(0) > len(data) // 4:
            text = data.decode("utf-16-le")  # the same without a BOM: every other byte is NUL
        else:
            text = data.decode("utf-8")
    except UnicodeDecodeError:
        encoding = fallback or console_encoding()
        try:
            codecs.lookup(encoding)
        except LookupError:
            encoding = "latin-1"  # a code page Python does not know: keep the ASCII labels at least
        text = data.decode(encoding, errors="replace")
    return text.replace("\r\n", "\n").replace("\r", "\n")


# Anything that runs a command: run_command, or a replay of recorded outputs in tests.
Runner = Callable[..., CommandResult]


def run_command(
    argv: Sequence[str],
    *,
    timeout_s: float = 3.0,
    cancel: threading.Event | None = None,
    env: Mapping[str, str] | None = None,
) -> CommandResult:
    """Run ``argv`` (no shell) for at most ``timeout_s`` seconds and return what it printed.

    ``env`` is added to this process's environment (e.g. :data:`PLAIN_LOCALE`).
    """
    args = tuple(argv)
    full_env = {**os.environ, **env} if env else None
    try:
        proc = subprocess.Popen(
            args,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=full_env,
        )
    except FileNotFoundError:
        return CommandResult(args, error=f"{args[0]} is not available on this computer", available=False)
    except OSError as exc:
        return CommandResult(args, error=f"{args[0]} could not be started ({exc.strerror or exc})")
    end = time.monotonic() + timeout_s
    while True:
        try:
            out, err = proc.communicate(timeout=max(0.0, min(POLL_S, end - time.monotonic())))
            return CommandResult(args, decode_output(out), decode_output(err), proc.returncode)
        except subprocess.TimeoutExpired:
            stop = None
            if cancel is not None and cancel.is_set():
                stop = f"{args[0]} was stopped because the check was cancelled"
            elif time.monotonic() >= end:
                stop = f"{args[0]} did not answer within {timeout_s:g} s"
            if stop:
                proc.kill()
                try:  # a grandchild may still hold the pipes open: do not wait for it
                    out, err = proc.communicate(timeout=0.5)
                except subprocess.TimeoutExpired:
                    out, err = b"", b""
                    for pipe in (proc.stdout, proc.stderr):
                        if pipe is not None:
                            pipe.close()
                    proc.wait()
                return CommandResult(
                    args, decode_output(out or b""), decode_output(err or b""), proc.returncode, error=stop
                )
