"""Which earlier check a new one is compared with ("download 2.1 → 8.9 Mbit/s").

Only a recent check counts as "previous": a comparison with a check from yesterday would
mislead more than it helps. The checks themselves are kept in the history.
"""

from __future__ import annotations

from datetime import datetime

from connectcheck.model import CheckResult, Status

RECHECK_WINDOW_S = 60 * 60


def recent(result: CheckResult | None, *, now: datetime | None = None,
           max_age_s: float = RECHECK_WINDOW_S) -> CheckResult | None:
    """``result`` if it ran to its end within the last ``max_age_s`` seconds, else None (a
    cancelled check is no baseline)."""
    if result is None or result.status is not Status.OK:
        return None
    try:
        started = datetime.fromisoformat(result.started_at)
    except ValueError:
        return None
    if started.tzinfo is None:
        return None
    age = ((now or datetime.now(started.tzinfo)) - started).total_seconds()
    return result if 0 <= age <= max_age_s else None
