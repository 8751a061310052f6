"""The statistics of a series of round trips, shared by the probes that take them and the judges
that read them."""

from __future__ import annotations

import math
from collections.abc import Sequence


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
