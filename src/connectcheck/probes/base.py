"""What every probe shares: the cancel event, progress reports, a hard time bound, and the
statistics of a series of round trips.

Conventions for a probe function:

* it takes ``cancel`` (a :class:`threading.Event`; set means stop as soon as possible, within
  a second) and ``progress`` (a :data:`ProgressFn` or ``None``) as keyword arguments;
* it has a time bound of its own (``time_limit_s``) that it never exceeds by more than a
  fraction of a second, whatever the network does;
* it returns its result object even when it fails: ``status`` and ``error`` say what went
  wrong, and whatever was measured before the failure is kept.
"""

from __future__ import annotations

import math
import statistics
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from connectcheck.model import LatencyResult, Status


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


def percentile(sorted_values: Sequence[float], q: float) -> float:
    """Percentile ``q`` (0..100) of already sorted values, linear interpolation."""
    if not sorted_values:
        raise ValueError("no values")
    if len(sorted_values) == 1:
        return float(sorted_values[0])
    pos = (len(sorted_values) - 1) * q / 100.0
    lo = math.floor(pos)
    hi = min(lo + 1, len(sorted_values) - 1)
    return float(sorted_values[lo] + (sorted_values[hi] - sorted_values[lo]) * (pos - lo))


def jitter_ms(samples: Sequence[float | None]) -> float | None:
    """Mean absolute difference of consecutive answered round trips (RFC 3550 style).

    Lost probes (``None``) are skipped, so a loss does not create a jump of its own.
    """
    answered = [s for s in samples if s is not None]
    if len(answered) < 2:
        return None
    diffs = [abs(b - a) for a, b in zip(answered, answered[1:], strict=False)]
    return sum(diffs) / len(diffs)


def fill_latency_stats(result: LatencyResult, samples: Sequence[float | None]) -> LatencyResult:
    """Fill the statistics fields of ``result`` from probe samples (``None`` = lost)."""
    result.rtt_ms_samples = [None if s is None else round(s, 3) for s in samples]
    result.samples_sent = len(samples)
    answered = sorted(s for s in samples if s is not None)
    result.samples = len(answered)
    result.loss_pct = (
        100.0 * (len(samples) - len(answered)) / len(samples) if samples else None
    )
    if answered:
        result.rtt_ms_min = answered[0]
        result.rtt_ms_median = statistics.median(answered)
        result.rtt_ms_p90 = percentile(answered, 90)
        result.rtt_ms_mean = statistics.fmean(answered)
    result.jitter_ms = jitter_ms(samples)
    if result.status is Status.OK and samples and not answered:
        result.status = Status.TIMEOUT
        result.error = result.error or "no answer to any probe"
    return result
