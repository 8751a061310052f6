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
from collections.abc import Sequence

from connectcheck.core.model import LatencyResult, Status


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
