"""The previous check, kept so that a re-check can say what changed.

Only a recent check counts as "previous": a comparison with a check from yesterday would
mislead more than it helps. (The lesson history keeps every check; this is the quick path the
command line uses.)
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from connectcheck import model, paths
from connectcheck.fileio import atomic_write_text
from connectcheck.model import CheckResult

FILE_NAME = "last-check.json"
RECHECK_WINDOW_S = 60 * 60


def last_path() -> Path:
    return paths.data_dir() / FILE_NAME


def save_last(result: CheckResult, path: Path | None = None) -> None:
    """Keep ``result`` as the previous check (raises OSError if it cannot be written)."""
    atomic_write_text(path or last_path(), model.dumps(result))


def load_recent(path: Path | None = None, *, now: datetime | None = None,
                max_age_s: float = RECHECK_WINDOW_S) -> CheckResult | None:
    """The previous check if there is a readable one from the last ``max_age_s`` seconds."""
    try:
        result = model.loads((path or last_path()).read_bytes())
        started = datetime.fromisoformat(result.started_at)
    except (OSError, model.ModelError, ValueError):
        return None
    now = now or datetime.now().astimezone()
    if started.tzinfo is None:
        return None
    age = (now - started).total_seconds()
    return result if 0 <= age <= max_age_s else None
