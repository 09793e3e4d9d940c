"""Celery adapters for billing: send one submitted claim, and the hourly claim sweep."""

from __future__ import annotations

from celery import shared_task
from django.db import transaction
from django.utils import timezone

from vma.models import Heartbeat

from . import services
from .clearinghouse import ClearinghouseUnavailable


@shared_task(
    ignore_result=True,
    autoretry_for=(ClearinghouseUnavailable,),
    retry_backoff=30,
    retry_backoff_max=1800,
    max_retries=6,
)
def send_claim(claim_id: int) -> None:
    """Hand one submitted claim to the clearinghouse. A duplicate does nothing (conditional UPDATE);
    a loss is repaired by the sweep, which re-sends submissions not handed over after 10 minutes."""
    services.transmit(claim_id)


@shared_task(ignore_result=True)
def sweep_claims() -> dict[str, int]:
    """Follow-ups (7 days), unpaid (30 days), filing deadlines; each opened once per claim."""
    result = services.sweep().as_dict()
    with transaction.atomic():
        Heartbeat.objects.update_or_create(name="sweep_claims", defaults={"seen_at": timezone.now()})
    return result
