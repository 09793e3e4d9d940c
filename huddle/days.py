"""Working days: the scrub looks at the next one (Friday scrubs Monday), due 15:00 the day before."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from django.utils import timezone

SCRUB_DUE = time(15, 0)


def next_working_day(day: date) -> date:
    nxt = day + timedelta(days=1)
    while nxt.weekday() >= 5:
        nxt += timedelta(days=1)
    return nxt


def previous_working_day(day: date) -> date:
    prev = day - timedelta(days=1)
    while prev.weekday() >= 5:
        prev -= timedelta(days=1)
    return prev


def day_bounds(day: date) -> tuple[datetime, datetime]:
    start = timezone.make_aware(datetime.combine(day, time.min))
    return start, timezone.make_aware(datetime.combine(day + timedelta(days=1), time.min))


def scrub_due_at(visit_day: date) -> datetime:
    """15:00 of the working day before the visit: the afternoon before, in time to act."""
    return timezone.make_aware(datetime.combine(previous_working_day(visit_day), SCRUB_DUE))
