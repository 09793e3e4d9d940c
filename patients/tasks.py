"""Celery adapter for patients: the hourly overdue-results sweep (declared through vma.schedule)."""

from __future__ import annotations

from celery import shared_task
from django.db import transaction
from django.utils import timezone

from vma.models import Heartbeat

from .workflow import sweep_overdue


@shared_task(ignore_result=True)
def sweep_overdue_results() -> int:
    """Open a "result overdue" work item for each outstanding result past its expected date.

    A loss is worse than a duplicate, and a duplicate does nothing: each result is claimed by a
    conditional UPDATE before its item opens, and open_work_item is idempotent per result.
    """
    opened = sweep_overdue()
    with transaction.atomic():
        Heartbeat.objects.update_or_create(name="sweep_overdue_results", defaults={"seen_at": timezone.now()})
    return opened
