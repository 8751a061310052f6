"""The contract of every blocking job: progress reports, the cancel event, a hard time bound."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Progress:
    """One progress report: which phase, how far (0..1) through it, and a short message."""

    phase: str
    fraction: float
    message: str = ""


ProgressFn = Callable[[Progress], None]


def report(progress: ProgressFn | None, phase: str, fraction: float, message: str = "") -> None:
    """Send a progress report if anyone listens; a listener's error never stops a probe."""
    if progress is None:
        return
    try:
        progress(Progress(phase, min(1.0, max(0.0, fraction)), message))
    except Exception:
        pass


class Cancelled(Exception):
    """Raised inside a probe when the cancel event is set."""


class Deadline:
    """A hard time bound that also watches the cancel event.

    ``wait(s)`` sleeps at most ``s`` seconds but wakes at once on cancel; ``remaining()``
    never goes below zero.
    """

    def __init__(self, seconds: float, cancel: threading.Event | None = None) -> None:
        self.start = time.monotonic()
        self.seconds = seconds
        self.end = self.start + seconds
        self.cancel = cancel if cancel is not None else threading.Event()

    def remaining(self) -> float:
        return max(0.0, self.end - time.monotonic())

    def elapsed(self) -> float:
        return time.monotonic() - self.start

    @property
    def expired(self) -> bool:
        return time.monotonic() >= self.end

    @property
    def cancelled(self) -> bool:
        return self.cancel.is_set()

    @property
    def done(self) -> bool:
        return self.expired or self.cancelled

    def check(self) -> None:
        """Raise :class:`Cancelled` if the cancel event is set."""
        if self.cancel.is_set():
            raise Cancelled()

    def wait(self, seconds: float) -> bool:
        """Sleep up to ``seconds`` (bounded by the deadline); True if cancelled meanwhile."""
        return self.cancel.wait(max(0.0, min(seconds, self.remaining())))

    def sub(self, seconds: float) -> Deadline:
        """A nested deadline: the smaller of ``seconds`` and what is left of this one."""
        return Deadline(min(seconds, self.remaining()), self.cancel)
