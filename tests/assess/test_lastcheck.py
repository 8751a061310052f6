from datetime import UTC, datetime, timedelta

from connectcheck.assess.compare import RECHECK_WINDOW_S, recent
from connectcheck.core.model import CheckKind, CheckResult, Status
from connectcheck.history import History

NOW = datetime(2026, 11, 28, 16, 5, tzinfo=UTC)


def check(minutes_ago: float, status: Status = Status.OK) -> CheckResult:
    started = (NOW - timedelta(minutes=minutes_ago)).isoformat()
    return CheckResult(kind=CheckKind.QUICK, started_at=started, status=status)


def test_only_a_recent_finished_check_is_a_baseline():
    assert recent(check(5), now=NOW) is not None
    assert recent(check(RECHECK_WINDOW_S / 60 + 1), now=NOW) is None
    assert recent(check(5, Status.CANCELLED), now=NOW) is None
    assert recent(check(-5), now=NOW) is None  # from the future: a clock that jumped
    assert recent(CheckResult(kind=CheckKind.QUICK, started_at="2026-11-28T16:00:00"), now=NOW) is None
    assert recent(None) is None


def test_the_history_gives_its_newest_readable_check(tmp_path):
    history = History(tmp_path / "h.sqlite3", max_age_days=3650)
    try:
        assert history.latest_check() is None
        history.add_check(check(30))
        history.add_check(check(10))
        assert history.latest_check().started_at == check(10).started_at
        newer = check(1)
        newer.schema_version = 99  # written by a newer connectcheck: listed, not readable
        history.add_check(newer)
        assert history.latest_check().started_at == check(10).started_at
    finally:
        history.close()
