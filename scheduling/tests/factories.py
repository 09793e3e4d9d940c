"""Scheduling test data: appointment types, a provider's weekly template, a future Monday."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

import factory
from django.utils import timezone

from scheduling.models import AppointmentType, Location, ScheduleTemplate, TemplateBlock
from vma.models import User


class AppointmentTypeFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = AppointmentType
        django_get_or_create = ("name",)

    name = factory.Sequence(lambda n: f"Visit type {n}")
    duration_minutes = 30
    colour = "#2e90fa"


def next_monday(weeks_ahead: int = 2) -> date:
    today = timezone.localdate()
    return today + timedelta(days=7 * weeks_ahead - today.weekday())


def at(day: date, hour: int, minute: int = 0) -> datetime:
    return timezone.make_aware(datetime.combine(day, time(hour, minute)))


def weekly_template(
    provider: User, *, weekdays: range | list[int] = range(5), start: int = 8, end: int = 17, lunch: bool = True
) -> list[ScheduleTemplate]:
    """Office hours start-end on the weekdays, lunch 12-13."""
    location, _ = Location.objects.get_or_create(name="Main office")
    out = []
    for wd in weekdays:
        t = ScheduleTemplate.objects.create(
            provider=provider, weekday=wd, location=location, start_time=time(start), end_time=time(end)
        )
        if lunch:
            TemplateBlock.objects.create(template=t, kind="lunch", start_time=time(12), end_time=time(13))
        out.append(t)
    return out
