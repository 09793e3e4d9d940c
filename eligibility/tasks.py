"""Celery adapters for eligibility: send one check, and the beat sweeper (every 30 min, vma.schedule)."""

from __future__ import annotations

import logging

from celery import shared_task
from django.db import transaction
from django.utils import timezone

from vma.models import Heartbeat

from . import services, workflow

log = logging.getLogger(__name__)


# A payer that trickles bytes defeats a socket timeout; the soft limit frees the worker, and the
# check, still `sent`, is re-sent by the sweeper once its lease runs out.
@shared_task(acks_late=True, reject_on_worker_lost=True, ignore_result=True, soft_time_limit=120)
def send_eligibility_check(check_id: int) -> str:
    """Send one check's 270 and record the answer.

    A duplicate is better than a loss here: a second delivery finds the row already claimed
    (conditional UPDATE queued -> sent) and does nothing, and a late answer to a superseded
    attempt is ignored. A lost message is repaired by the sweeper, which re-sends due checks.
    """
    return workflow.send_check(check_id)


@shared_task(ignore_result=True)
def sweep_eligibility() -> dict[str, int]:
    """Request checks for visits coming up, re-check stale ones, re-send due and stuck checks.

    Safe to run twice or concurrently (one sweep at a time holds an advisory lock); a skipped
    tick is repaired by the next one, since every pending check is a row with a due time.
    """
    result = services.sweep().as_dict()
    with transaction.atomic():
        Heartbeat.objects.update_or_create(name="sweep_eligibility", defaults={"seen_at": timezone.now()})
    return result


def publish_send(check_id: int, *, countdown: float | None = None) -> bool:
    """Ring the doorbell for one check. A broker outage is logged, not raised: the sweeper re-sends."""
    try:
        send_eligibility_check.apply_async((check_id,), countdown=countdown or 0, retry=False)
    except Exception as exc:  # noqa: BLE001 - any broker failure: the row waits for the sweeper
        log.warning("eligibility: could not publish check %s (%s); the sweeper will re-send it", check_id, exc)
        return False
    return True
