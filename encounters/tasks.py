"""Celery adapters for encounters: the hourly sweep of after visit summaries nobody opened."""

from __future__ import annotations

from datetime import datetime

from celery import shared_task
from django.utils import timezone

from . import avs


@shared_task(ignore_result=True)
def sweep_avs_not_viewed(now_iso: str | None = None) -> int:
    """Open a follow-up call per summary not opened in time. A duplicate run opens nothing twice (each
    summary is marked when its item opens, rows locked SKIP LOCKED); a lost tick is caught up next hour."""
    now = datetime.fromisoformat(now_iso) if now_iso else timezone.now()
    return avs.sweep_not_viewed(now=now)
