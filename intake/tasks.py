"""Celery adapter for intake: the beat sweeper (every 15 min, declared through vma.schedule)."""

from __future__ import annotations

from celery import shared_task
from django.db import transaction
from django.utils import timezone

from vma.models import Heartbeat

from . import services


@shared_task(ignore_result=True)
def sweep_intake() -> dict[str, int]:
    """Create and send packets due, remind once, flag incomplete intakes, expire past ones.

    A loss is worse than a duplicate, and a duplicate does nothing: one packet per visit (unique),
    each send and reminder claimed by a conditional UPDATE and keyed in the outbox. A skipped tick
    is repaired by the next one, since every step picks due rows from the database.
    """
    result = services.sweep().as_dict()
    with transaction.atomic():
        Heartbeat.objects.update_or_create(name="sweep_intake", defaults={"seen_at": timezone.now()})
    return result
