"""Celery adapters for referrals: the follow-up sweep (beat, every 15 minutes)."""

from __future__ import annotations

from datetime import datetime

from celery import shared_task
from django.db import transaction
from django.utils import timezone

from vma.models import Heartbeat

from . import followups


@shared_task(ignore_result=True)
def sweep_followups(now_iso: str | None = None) -> dict[str, int]:
    """Open due follow-up items, warn of expiring authorizations, expire unused ones.

    A duplicate run finds nothing left to do (rows claimed under lock, items idempotent); a lost
    tick only delays the items to the next run, which catches up from the clocks in the rows.
    """
    now = datetime.fromisoformat(now_iso) if now_iso else timezone.now()
    result = followups.sweep(now=now)
    with transaction.atomic():
        Heartbeat.objects.update_or_create(name="referrals_followups", defaults={"seen_at": timezone.now()})
    return {"followups": result.followups, "auth_warnings": result.auth_warnings, "expired": result.expired}
