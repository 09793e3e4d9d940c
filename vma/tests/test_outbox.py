"""Outbox delivery: idempotent claims, retries with backoff, and failures that become work."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from vma import outbox
from vma.models import OutboxMessage, WorkItem

CALLS: list[dict] = []


@outbox.handler("tests.flaky")
def flaky(payload):
    CALLS.append(payload)
    if payload.get("fail"):
        raise ConnectionError("payer down")


@pytest.fixture(autouse=True)
def _reset():
    CALLS.clear()


def test_enqueue_is_idempotent_by_key(db):
    first = outbox.enqueue("tests.flaky", {"n": 1}, key="k1")
    second = outbox.enqueue("tests.flaky", {"n": 2}, key="k1")
    assert first.pk == second.pk and OutboxMessage.objects.count() == 1


def test_delivered_once_even_if_the_doorbell_rings_twice(db):
    msg = outbox.enqueue("tests.flaky", {"n": 1}, key="k2")
    assert outbox.deliver(msg.pk) == "done"
    assert outbox.deliver(msg.pk) == "skipped"
    assert len(CALLS) == 1
    msg.refresh_from_db()
    assert (msg.status, msg.attempts) == ("done", 1)


def test_failures_back_off_then_become_a_work_item(db):
    msg = outbox.enqueue("tests.flaky", {"fail": True}, key="k3")
    OutboxMessage.objects.filter(pk=msg.pk).update(max_attempts=2)
    assert outbox.deliver(msg.pk) == "retry"
    msg.refresh_from_db()
    assert msg.status == "pending" and msg.due_at > timezone.now() and "payer down" in msg.last_error
    assert outbox.deliver(msg.pk) == "skipped"  # not due yet: backoff holds
    OutboxMessage.objects.filter(pk=msg.pk).update(due_at=timezone.now())
    assert outbox.deliver(msg.pk) == "failed"
    msg.refresh_from_db()
    assert (msg.status, msg.attempts) == ("failed", 2)
    item = WorkItem.objects.get(kind="vma.outbox_failed")
    assert item.queue == "manager" and "payer down" in item.detail


def test_a_message_whose_worker_always_dies_gives_up_loudly(db):
    msg = outbox.enqueue("tests.flaky", {}, key="k4")
    past = timezone.now() - timedelta(minutes=1)
    OutboxMessage.objects.filter(pk=msg.pk).update(status="running", lease_until=past, attempts=8, max_attempts=8)
    assert outbox.claim(msg.pk) is None  # no ninth attempt
    assert outbox.fail_exhausted() == 1
    msg.refresh_from_db()
    assert msg.status == "failed"
    assert WorkItem.objects.filter(kind="vma.outbox_failed").count() == 1
    assert msg.pk not in outbox.due_message_ids()


def test_periodic_jobs_are_declared_and_due_at_once(db):
    """Every sweeper is in the beat schedule, due on the first tick after install (no 30-minute wait)."""
    from django_celery_beat.models import PeriodicTask

    from vma.schedule import PERIODIC_TASKS

    stored = {t.name: t for t in PeriodicTask.objects.filter(name__in=PERIODIC_TASKS)}
    assert set(stored) == set(PERIODIC_TASKS)
    for name, (task, seconds) in PERIODIC_TASKS.items():
        assert stored[name].task == task
        assert stored[name].last_run_at <= timezone.now() - timedelta(seconds=seconds)
