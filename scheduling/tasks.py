"""Celery adapters for scheduling: the reminder sweeper (beat, every 10 minutes; see vma.schedule)."""

from __future__ import annotations

from celery import shared_task
from django.db import transaction
from django.utils import timezone

from vma.models import Heartbeat

from . import reminders


@shared_task(ignore_result=True)
def sweep_reminders() -> dict[str, int]:
    """Create the reminder rows whose time came and hand due ones to the outbox.

    Safe to run twice or concurrently: rows are unique per (visit, offset) and picked with
    SKIP LOCKED; a skipped tick is repaired by the next, since a pending reminder is a row.
    """
    result = reminders.sweep_reminders().as_dict()
    with transaction.atomic():
        Heartbeat.objects.update_or_create(name="sweep_reminders", defaults={"seen_at": timezone.now()})
    return result
