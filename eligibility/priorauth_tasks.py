"""Celery adapter for prior authorizations: the hourly sweep (declared in vma.schedule via apps.py)."""

from __future__ import annotations

from celery import shared_task
from django.db import transaction
from django.utils import timezone

from vma.models import Heartbeat

from . import priorauth_services


@shared_task(ignore_result=True)
def sweep_prior_auths() -> dict[str, int]:
    """Follow-ups every 2 business days, urgent items past a decision deadline, expiring approvals.

    A duplicate is harmless (rows taken with SKIP LOCKED, each flag set once, one open item per
    kind and authorization); a lost tick is repaired by the next, since every due date is a column.
    """
    result = priorauth_services.sweep_prior_auths().as_dict()
    with transaction.atomic():
        Heartbeat.objects.update_or_create(name="sweep_prior_auths", defaults={"seen_at": timezone.now()})
    return result
