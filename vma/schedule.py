"""Every periodic job, declared together so they are reviewed together.

Beat only triggers sweepers; each picks due rows from PostgreSQL, so a skipped tick (broker
outage) is repaired by the next one. Stored in django-celery-beat on migrate, so a manager can
change an interval in admin; an existing entry is never overwritten.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.utils import timezone

# name -> (task, every N seconds)
PERIODIC_TASKS: dict[str, tuple[str, int]] = {
    "canary": ("vma.tasks.canary", 60),
    "outbox sweep": ("vma.tasks.sweep_outbox", 60),
    "work-item sweep (snoozed, overdue)": ("vma.tasks.sweep_work_items", 120),
}


def register_periodic(name: str, task: str, every_seconds: int) -> None:
    """Other apps add their sweeps here from their ready()."""
    PERIODIC_TASKS[name] = (task, every_seconds)


def sync_periodic_tasks(**_: Any) -> None:
    from django_celery_beat.models import IntervalSchedule, PeriodicTask

    for name, (task, seconds) in PERIODIC_TASKS.items():
        if PeriodicTask.objects.filter(name=name).exists():
            continue
        interval, _ = IntervalSchedule.objects.get_or_create(every=seconds, period=IntervalSchedule.SECONDS)
        # As if it last ran one interval ago: a new entry would otherwise first run only one
        # interval after it was created (30 minutes without an eligibility sweep on a new install).
        PeriodicTask.objects.create(
            name=name, task=task, interval=interval, last_run_at=timezone.now() - timedelta(seconds=seconds)
        )
