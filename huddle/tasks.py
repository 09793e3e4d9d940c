"""Celery adapters for huddle: the hourly scrub build, the re-scrub of one patient, the morning snapshots."""

from __future__ import annotations

from datetime import datetime, time
from typing import Any

from celery import shared_task
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from vma.models import Heartbeat

from . import services


def _day_hours() -> tuple[int, int]:
    first, last = getattr(settings, "HUDDLE_SCRUB_HOURS", (6, 20))
    return int(first), int(last)


@shared_task(ignore_result=True)
def build_scrubs(now_iso: str | None = None) -> dict[str, Any]:
    """Every hour during the day: the next working day's scrubs, built and re-evaluated.

    A duplicate does nothing (one scrub per appointment, work items idempotent per scrub, the
    evaluation converges); a lost tick is repaired by the next hour's run.
    """
    now = datetime.fromisoformat(now_iso) if now_iso else timezone.now()
    first, last = _day_hours()
    if not first <= timezone.localtime(now).hour <= last:
        return {"skipped": "outside the day"}
    result = services.build_scrubs(now=now).as_dict()
    with transaction.atomic():
        Heartbeat.objects.update_or_create(name="huddle_build_scrubs", defaults={"seen_at": timezone.now()})
    return result


@shared_task(ignore_result=True, acks_late=True)
def rescrub_patient(patient_id: int) -> dict[str, int]:
    """New information on the chart: re-evaluate the patient's coming scrubs. Safe to run twice."""
    return services.rescrub_patient(patient_id).as_dict()


@shared_task(ignore_result=True)
def snapshot_huddles(now_iso: str | None = None) -> dict[str, int]:
    """Once a day before clinic: today's huddle sheet of every provider with visits, stored as generated.

    Runs every 15 minutes and does nothing before HUDDLE_SNAPSHOT_AT or once a provider's sheet of
    the day exists (unique per provider and day): twice is harmless, a missed tick is caught up.
    """
    from .selectors import snapshot_due, store_snapshots

    now = datetime.fromisoformat(now_iso) if now_iso else timezone.now()
    at = time.fromisoformat(getattr(settings, "HUDDLE_SNAPSHOT_AT", "06:30"))
    if timezone.localtime(now).time() < at:
        return {"skipped": 1, "stored": 0}
    stored = store_snapshots(snapshot_due(timezone.localdate(now)), timezone.localdate(now), now=now)
    with transaction.atomic():
        Heartbeat.objects.update_or_create(name="huddle_snapshots", defaults={"seen_at": timezone.now()})
    return {"skipped": 0, "stored": stored}
