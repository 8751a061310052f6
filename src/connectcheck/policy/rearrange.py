"""The 7-day window for a replacement lesson.

The procedure allows a one-off replacement within 7 days of the failed lesson, counting the
lesson's own day: a Thursday lesson can move up to the following Wednesday. The window is a
matter of *calendar dates* as the tutor and the family read them on the wall, so it is computed
on ``date`` objects: adding days to a date is exact across month ends, year ends and leap days.

Date-times with a fixed UTC offset are the trap. A lesson at 00:30 on Thursday 24 October 2024
in the UK is 00:30+01:00 (summer time); adding 6 × 24 hours gives 00:30+01:00 on Wednesday
30 October, but by then the UK clocks have gone back (27 October), so on the wall it is 23:30 on
Tuesday 29 October, a day short. Hence every date-time given here is first reduced to the date it
shows on its own clock (its own offset or time zone), and only dates are compared.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

WINDOW_DAYS = 7  # counting the lesson's own day



def wall_date(when: date | datetime) -> date:
    """The calendar date a date or date-time shows on its own clock (never converted to UTC)."""
    return when.date() if isinstance(when, datetime) else when


def first_allowed_date(lesson: date | datetime) -> date:
    """The first day a replacement may be on: the lesson's own day (later that day counts)."""
    return wall_date(lesson)


def last_allowed_date(lesson: date | datetime) -> date:
    """The last day a replacement may be on: 6 days after the lesson's day (Thursday → Wednesday)."""
    return wall_date(lesson) + timedelta(days=WINDOW_DAYS - 1)


def is_within_window(lesson: date | datetime, proposed: date | datetime) -> bool:
    """Whether a replacement on ``proposed`` keeps to the window.

    When both are date-times that can be compared (both with or both without a time zone), the
    replacement must also start after the failed lesson began.
    """
    day = wall_date(proposed)
    if not first_allowed_date(lesson) <= day <= last_allowed_date(lesson):
        return False
    both_times = isinstance(lesson, datetime) and isinstance(proposed, datetime)
    if both_times and (lesson.tzinfo is None) == (proposed.tzinfo is None):
        return proposed > lesson
    return True


def days_left(lesson: date | datetime, today: date | datetime) -> int:
    """Whole days from ``today`` to the last allowed day (0: today is the last; negative: too late)."""
    return (last_allowed_date(lesson) - wall_date(today)).days


