"""What every ``connectcheck`` subcommand shares: exit codes, usage errors, settings with
command-line overrides, a terminal progress line, and running work that Ctrl-C can cancel.

A subcommand lives in its own module with a ``register(subparsers)`` function that adds its
parser and sets ``func(args, out, err) -> exit code``; ``cli.py`` lists the modules.
"""

from __future__ import annotations

import argparse
import contextlib
import signal
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO, TypeVar

from connectcheck.config.profile import OrganisationProfile
from connectcheck.config.settings import (
    OPTIONS,
    Settings,
    SettingsSyntaxError,
    load_settings,
    load_toml_text,
    validate_value,
)
from connectcheck.config.startup import profile_or_problem
from connectcheck.core.tasks import Progress
from connectcheck.history import History

EXIT_OK = 0
EXIT_FAILED = 1  # the command ran but could not do its work (e.g. a file could not be written)
EXIT_USAGE = 2  # the command line was wrong
EXIT_CANCELLED = 130  # interrupted by the user (Ctrl-C)

T = TypeVar("T")


class UsageError(Exception):
    """A command-line value that cannot be used; the message says why."""


def add_settings_arguments(parser: argparse.ArgumentParser) -> None:
    """``--config FILE`` and ``--set KEY=VALUE`` (read by :func:`settings_from_args`)."""
    parser.add_argument("--config", metavar="FILE", help="read settings from this file")
    parser.add_argument("--set", metavar="KEY=VALUE", action="append",
                        help="override one setting for this run, e.g. --set latency.probes=200")


def parse_override(text: str) -> tuple[str, Any]:
    key, sep, raw = text.partition("=")
    key = key.strip()
    if not sep or key not in OPTIONS:
        shown = text if len(text) <= 60 else text[:59] + "…"
        raise UsageError(f"--set {shown!r}: expected KEY=VALUE with a known key (e.g. latency.probes=200)")
    try:
        value = load_toml_text(f"v = {raw}").get("v", raw)
    except SettingsSyntaxError as exc:
        if exc.line is None:  # nesting too deep, a number too long: not a bare word either
            raise UsageError(f"--set {key}: {exc.reason}") from None
        value = raw  # a bare word is taken as text
    return key, value


def apply_override(settings: Settings, key: str, value: Any, flag: str) -> None:
    converted, problem = validate_value(OPTIONS[key], value)
    if problem:
        raise UsageError(f"{flag}: {problem}")
    settings.values[key] = converted


def settings_from_args(args: argparse.Namespace, err: TextIO) -> Settings:
    """Settings from the file (its problems reported on ``err``, never fatal) with the
    ``--set`` overrides applied."""
    config = getattr(args, "config", None)
    if config and not Path(config).exists():
        raise UsageError(f"--config: there is no file {config}")
    settings = load_settings(Path(config) if config else None)
    if settings.problems:
        print(settings.problems_text(), file=err)
    for text in getattr(args, "set", None) or []:
        key, value = parse_override(text)
        apply_override(settings, key, value, f"--set {key}")
    return settings


def profile_or_none(settings: Settings, err: TextIO) -> OrganisationProfile | None:
    """The organisation profile, or None with the reason told on ``err``."""
    profile, problem = profile_or_problem(settings)
    if problem:
        print(f"connectcheck: {problem}", file=err)
    return profile


class ProgressLine:
    """One self-updating progress line on a terminal; silent when the stream is not a terminal."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.enabled = stream.isatty()
        self.lock = threading.Lock()

    def __call__(self, p: Progress) -> None:
        if not self.enabled:
            return
        with self.lock:
            bar = "#" * int(p.fraction * 20)
            self.stream.write(f"\r[{bar:<20}] {p.fraction * 100:3.0f}%  {p.message[:50]:<50}")
            self.stream.flush()

    def clear(self) -> None:
        if self.enabled:
            self.stream.write("\r" + " " * 80 + "\r")
            self.stream.flush()


def run_cancellable(work: Callable[[threading.Event], T], err: TextIO,
                    grace_s: float = 5.0) -> tuple[T | None, bool]:
    """Run ``work(cancel)`` in a thread; Ctrl-C sets ``cancel`` and waits ``grace_s`` for the
    work to return what it has. Returns (its result or None if it did not stop, interrupted)."""
    cancel = threading.Event()
    box: dict[str, T] = {}
    finished = threading.Event()  # not Thread.join: an interrupted join can wrongly report the end

    def run() -> None:
        try:
            box["result"] = work(cancel)
        finally:
            finished.set()

    threading.Thread(target=run, name="cli-work", daemon=True).start()
    interrupted = False
    try:
        while not finished.wait(0.2):
            pass
    except KeyboardInterrupt:
        interrupted = True
        cancel.set()
        say(err, "\nCancelling…")
        finished.wait(grace_s)
    return box.get("result"), interrupted


def say(stream: TextIO, text: str) -> None:
    """Print a line that must not fail the command: after SIGHUP the terminal is gone."""
    try:
        print(text, file=stream)
    except (OSError, ValueError):
        pass


@contextlib.contextmanager
def ending_like_ctrl_c() -> Any:
    """While inside: SIGTERM (logout, ``kill``) and SIGHUP (the terminal closed) end the command
    as Ctrl-C does, so a monitored lesson is ended and kept, not left "not ended" for ever.
    The previous handlers come back afterwards (the command line also runs inside tests)."""

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    saved = []
    for name in ("SIGTERM", "SIGHUP"):
        number = getattr(signal, name, None)
        if number is None:
            continue
        try:
            saved.append((number, signal.signal(number, interrupt)))
        except (ValueError, OSError):  # not the main thread
            pass
    try:
        yield
    finally:
        for number, handler in saved:
            signal.signal(number, handler)


def open_history(settings: Settings, err: TextIO, *, read_only: bool = False) -> History:
    """The history, with what happened opening it (a recovery, a problem, a notice) told on
    ``err``; whether it can be used is ``history.available``. ``read_only`` for the commands
    that only read it: they never change the file (nothing is pruned, nothing is made)."""
    history = History.from_settings(settings, read_only=read_only)
    for message in history.notices():
        print(f"connectcheck: {message}", file=err)
    return history
