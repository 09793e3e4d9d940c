"""Celery tasks of the core: thin adapters that call services. Periodic ones: vma/schedule.py."""

from __future__ import annotations

import logging
from typing import Any

from celery import shared_task
from celery.signals import before_task_publish
from django.db import transaction
from django.utils import timezone

from . import outbox, workflow
from .models import Heartbeat

log = logging.getLogger(__name__)


@shared_task(acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def deliver_outbox(message_id: int) -> str:
    """Deliver one outbox message. A duplicate finds the row taken or done and does nothing."""
    return outbox.deliver(message_id)


@shared_task(ignore_result=True)
def sweep_outbox() -> int:
    """Re-send due outbox messages whose doorbell was lost (broker outage, killed worker)."""
    outbox.fail_exhausted()
    ids = outbox.due_message_ids()
    for message_id in ids:
        outbox.publish(message_id)
    _beat("sweep_outbox")
    return len(ids)


@shared_task(ignore_result=True)
def canary() -> str:
    """Proves a worker consumes: /healthz reports this heartbeat's age."""
    _beat("canary")
    return "ok"


@shared_task(ignore_result=True)
def sweep_work_items() -> dict[str, int]:
    """Wake snoozed items and escalate overdue ones. A lost duplicate is harmless: next tick repairs."""
    result = {"woken": workflow.wake_snoozed(), "escalated": workflow.escalate_overdue()}
    _beat("sweep_work_items")
    return result


@before_task_publish.connect(dispatch_uid="vma.beat_tick")
def _record_beat_tick(sender: str | None = None, headers: dict[str, Any] | None = None, **_: object) -> None:
    """Beat's publish of the canary is its tick, seen apart from the worker that runs it.

    django-celery-beat marks what it schedules with a `periodic_task_name` header, so a canary
    sent by hand (a shell, a test) does not count as a tick.
    """
    if sender == "vma.tasks.canary" and (headers or {}).get("periodic_task_name"):
        try:
            _beat("beat")
        except Exception:  # a heartbeat must never stop the schedule
            log.warning("could not record the beat tick", exc_info=True)


def _beat(name: str) -> None:
    with transaction.atomic():
        Heartbeat.objects.update_or_create(name=name, defaults={"seen_at": timezone.now()})
