"""Calendar periods in the site's time zone (settings.TIME_ZONE)."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from django.utils import timezone


def day_start(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=timezone.get_current_timezone())


def month_start(day: date) -> date:
    return day.replace(day=1)


def next_month(day: date) -> date:
    first = day.replace(day=1)
    return (first + timedelta(days=32)).replace(day=1)


def bounds(period: str, at: datetime | None = None) -> tuple[datetime, datetime]:
    """[start, end) of the day or month containing `at` (now by default)."""
    today = timezone.localdate(at or timezone.now())
    if period == "day":
        return day_start(today), day_start(today + timedelta(days=1))
    return day_start(month_start(today)), day_start(next_month(today))


def date_range(start: date, end: date) -> tuple[datetime, datetime]:
    """[start of `start`, start of the day after `end`): an inclusive date range."""
    return day_start(start), day_start(end + timedelta(days=1))
