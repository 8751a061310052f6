"""The 7-day window for a replacement lesson, across month and year ends and UK clock changes."""

from datetime import date, datetime, timedelta, timezone

import pytest

from connectcheck.core.words import describe_date, describe_time
from connectcheck.policy.rearrange import (
    days_left,
    first_allowed_date,
    is_within_window,
    last_allowed_date,
)

try:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    LONDON = ZoneInfo("Europe/London")
except (ImportError, ZoneInfoNotFoundError):  # pragma: no cover - Windows without tzdata
    LONDON = None
needs_tz = pytest.mark.skipif(LONDON is None, reason="the Europe/London time zone data is not installed")


@pytest.mark.parametrize(("lesson", "last"), [
    (date(2024, 10, 24), date(2024, 10, 30)),   # the procedure's example: Thursday → Wednesday
    (date(2024, 1, 29), date(2024, 2, 4)),      # across a month end
    (date(2024, 2, 26), date(2024, 3, 3)),      # across a leap day
    (date(2023, 2, 26), date(2023, 3, 4)),      # no leap day
    (date(2024, 12, 28), date(2025, 1, 3)),     # across a year end
    (date(2024, 12, 31), date(2025, 1, 6)),
    (date(2024, 3, 28), date(2024, 4, 3)),      # across the spring clock change (Sun 31 March 2024)
    (date(2024, 10, 24), date(2024, 10, 30)),   # across the autumn clock change (Sun 27 October 2024)
])
def test_last_allowed_date(lesson, last):
    assert last_allowed_date(lesson) == last
    assert (last - lesson).days == 6
    assert first_allowed_date(lesson) == lesson


def test_a_thursday_lesson_can_move_up_to_the_following_wednesday():
    thursday = date(2024, 10, 24)
    assert thursday.weekday() == 3 and last_allowed_date(thursday).weekday() == 2
    assert describe_date(last_allowed_date(thursday)) == "Wednesday 30 October 2024"


@needs_tz
@pytest.mark.parametrize(("lesson", "last"), [
    # Just after midnight and late evening, either side of both UK clock changes in 2024 and 2025.
    (datetime(2024, 10, 24, 0, 30, tzinfo=LONDON), date(2024, 10, 30)),
    (datetime(2024, 10, 24, 23, 30, tzinfo=LONDON), date(2024, 10, 30)),
    (datetime(2024, 3, 28, 0, 30, tzinfo=LONDON), date(2024, 4, 3)),
    (datetime(2024, 3, 28, 23, 30, tzinfo=LONDON), date(2024, 4, 3)),
    (datetime(2025, 3, 27, 0, 15, tzinfo=LONDON), date(2025, 4, 2)),
    (datetime(2025, 10, 23, 23, 45, tzinfo=LONDON), date(2025, 10, 29)),
])
def test_clock_changes_do_not_move_the_last_day(lesson, last):
    assert last_allowed_date(lesson) == last


@needs_tz
def test_why_dates_and_not_fixed_offsets():
    """Adding 6 × 24 h to a date-time with a fixed +01:00 offset across the autumn change lands on
    the wrong wall-clock day; the date-based rule does not."""
    lesson = datetime(2024, 10, 24, 0, 30, tzinfo=LONDON)
    fixed = lesson.astimezone(timezone(timedelta(hours=1)))  # what a serialised time keeps
    naive_sum = (fixed + timedelta(days=6)).astimezone(LONDON)
    assert naive_sum.date() == date(2024, 10, 29)  # a day short: the trap
    assert last_allowed_date(fixed) == date(2024, 10, 30)


@pytest.mark.parametrize(("proposed", "ok"), [
    (date(2024, 10, 23), False),   # before the lesson
    (date(2024, 10, 24), True),    # later the same day
    (date(2024, 10, 27), True),    # the weekend
    (date(2024, 10, 30), True),    # the last day
    (date(2024, 10, 31), False),   # one day too late
])
def test_is_within_window_by_date(proposed, ok):
    assert is_within_window(date(2024, 10, 24), proposed) is ok


def test_same_day_must_be_after_the_lesson_when_times_are_known():
    lesson = datetime(2024, 10, 24, 16, 0)
    assert is_within_window(lesson, datetime(2024, 10, 24, 18, 0))
    assert not is_within_window(lesson, datetime(2024, 10, 24, 9, 0))
    assert is_within_window(lesson, datetime(2024, 10, 30, 9, 0))
    assert not is_within_window(lesson, datetime(2024, 10, 31, 9, 0))


@needs_tz
def test_each_date_time_is_read_on_its_own_clock():
    lesson = datetime(2024, 10, 24, 16, 0, tzinfo=timezone(timedelta(hours=1)))  # BST
    late = datetime(2024, 10, 30, 23, 30, tzinfo=LONDON)  # GMT by then; 23:30 UTC too
    assert is_within_window(lesson, late)
    assert not is_within_window(lesson, datetime(2024, 10, 31, 0, 30, tzinfo=LONDON))


def test_days_left_and_words():
    lesson = date(2024, 12, 28)
    assert days_left(lesson, date(2024, 12, 28)) == 6
    assert days_left(lesson, date(2025, 1, 3)) == 0
    assert days_left(lesson, date(2025, 1, 4)) == -1
    assert describe_date(date(2025, 1, 3), year=False) == "Friday 3 January"
    assert describe_time(datetime(2024, 10, 24, 16, 5)) == "Thursday 24 October 2024 at 16:05"
    assert describe_time(date(2024, 10, 24)) == "Thursday 24 October 2024"
