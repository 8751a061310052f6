"""Re-check: what changed since the previous check, in plain words.

"download 2.1 → 8.9 Mbit/s (better) after Steam was paused": each headline number that moved by
more than its metric's ``change_step`` (and by a tenth or more), each activity whose verdict
changed, the connection coming back or going, and which busy programs stopped in between, which
is the likely reason for an improvement.
"""

from __future__ import annotations

from datetime import datetime

from connectcheck.assess.advice import program_rate, programs
from connectcheck.assess.thresholds import Metric, Thresholds
from connectcheck.core.model import ActivityVerdict, CheckResult, Connectivity, LocalFindings, Status
from connectcheck.core.words import join_words, number

MIN_RELATIVE = 0.1  # a change smaller than a tenth of the value is noise
BUSY_MBPS = 0.5  # a program moving at least this much counted as busy
QUIET_SHARE = 0.2  # a busy program now below this share of its rate was paused
STATE_WORDS = {"good": "good", "degraded": "weak", "fail": "failing", "unknown": "not known"}


def _better(metric: Metric, before: float, after: float) -> bool:
    return after > before if metric.higher_is_better else after < before


def metric_changes(
    current: CheckResult, previous: CheckResult, thresholds: Thresholds
) -> list[tuple[str, bool]]:
    """("download 2.1 → 8.9 Mbit/s (better)", improved) for each metric that really moved."""
    out = []
    for key, metric in thresholds.metrics.items():
        before, after = getattr(previous.summary, key), getattr(current.summary, key)
        if before is None or after is None:
            continue
        delta = abs(after - before)
        if delta < metric.change_step or delta < MIN_RELATIVE * max(abs(before), abs(after)):
            continue
        improved = _better(metric, before, after)
        text = (f"{metric.label} {number(before)} → {number(after)} {metric.unit} "
                f"({'better' if improved else 'worse'})")
        out.append((text, improved))
    return out


def stopped_programs(current: LocalFindings | None, previous: LocalFindings | None) -> list[str]:
    """Programs that were busy at the previous check and are gone or quiet now.

    "Steam was closed" when it no longer runs, "Steam was paused" when it runs but moves
    (almost) nothing.
    """
    if previous is None or current is None:
        return []
    now = {p.name: p for p in programs(current)}
    out = []
    for p in programs(previous):
        before = program_rate(p)
        if before is None or before < BUSY_MBPS:
            continue
        if p.name not in now:
            out.append(f"{p.name} was closed")
        elif (after := program_rate(now[p.name])) is not None and after < QUIET_SHARE * before:
            out.append(f"{p.name} was paused")
    return out


def verdict_changes(current: list[ActivityVerdict], previous: list[ActivityVerdict]) -> list[str]:
    """"video: now good (was failing)" for each activity whose state changed."""
    before = {v.activity: v.state for v in previous}
    return [f"{v.activity}: now {STATE_WORDS[v.state]} (was {STATE_WORDS[before[v.activity]]})"
            for v in current if v.activity in before and before[v.activity] != v.state]


def connection_change(current: CheckResult, previous: CheckResult) -> str | None:
    was_off = previous.connectivity is Connectivity.OFFLINE
    is_off = current.connectivity is Connectivity.OFFLINE
    if was_off and not is_off:
        return "the connection is back (the previous check found none)"
    if is_off and not was_off:
        return "the connection is gone (the previous check had one)"
    return None


def compare(current: CheckResult, previous: CheckResult, verdicts: list[ActivityVerdict],
            previous_verdicts: list[ActivityVerdict], thresholds: Thresholds) -> list[str]:
    """What changed since the previous check, most telling first."""
    changes = []
    if line := connection_change(current, previous):
        changes.append(line)
    stopped = stopped_programs(current.local, previous.local)
    because = f" after {join_words(stopped)}" if stopped else ""
    metric_lines = metric_changes(current, previous, thresholds)
    improvements = [text for text, improved in metric_lines if improved]
    for text, _ in metric_lines:
        # The programs that stopped are named once, on the first improvement.
        if because and improvements and text == improvements[0]:
            text += because
        changes.append(text)
    if because and not improvements:
        changes.append(f"no clear improvement, although {join_words(stopped)}")
    changes += verdict_changes(verdicts, previous_verdicts)
    return changes


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
