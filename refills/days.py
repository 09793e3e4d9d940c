"""The refill turnaround rule: same business day for requests received by noon, the next business day after."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from django.utils import timezone

NOON = time(12, 0)
# "Same day" means by the end of the practice's business day (the pharmacy and the patient can still act).
END_OF_DAY = time(17, 0)


def is_business_day(day: date) -> bool:
    """Monday to Friday (the practice keeps no holiday calendar yet)."""
    return day.weekday() < 5


def next_business_day(day: date) -> date:
    nxt = day + timedelta(days=1)
    while not is_business_day(nxt):
        nxt += timedelta(days=1)
    return nxt


def turnaround_due(received_at: datetime) -> datetime:
    """When the answer is due: 17:00 the same business day if received by 12:00:00 on one, else 17:00 the next.

    A request on a Saturday morning is due Monday; one on Friday at 12:01 is due Monday too.
    """
    local = timezone.localtime(received_at)
    day = local.date()
    due_day = day if is_business_day(day) and local.time() <= NOON else next_business_day(day)
    return timezone.make_aware(datetime.combine(due_day, END_OF_DAY))
