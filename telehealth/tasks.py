"""Celery adapter for the waiting room's sweep."""

from __future__ import annotations

from datetime import datetime

from celery import shared_task
from django.utils import timezone

from . import services


@shared_task(ignore_result=True)
def sweep_waiting_rooms(now_iso: str | None = None) -> dict[str, int]:
    """Every minute: join links due, and the no-join alert five minutes after each start.

    A duplicate run does nothing twice (row locks and the room's own record of what was sent); a
    lost tick is repaired by the next minute's run. A late message is worse than none after an
    hour, so visits that started more than an hour ago are left alone.
    """
    now = datetime.fromisoformat(now_iso) if now_iso else timezone.now()
    return services.sweep_waiting_rooms(now=now).as_dict()
