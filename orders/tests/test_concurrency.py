"""Exactly once under real concurrency: threads with their own PostgreSQL connections."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection, connections

from orders import signing
from orders.models import Order
from vma.models import OutboxMessage, User, WorkItem

from .factories import item, pend

pytestmark = pytest.mark.django_db(transaction=True)


def _run_threads(n: int, target: Callable[[int], Any]) -> tuple[list[Any], list[BaseException]]:
    barrier = threading.Barrier(n)
    results: list[Any] = []
    errors: list[BaseException] = []

    def run(i: int) -> None:
        try:
            barrier.wait(timeout=30)
            results.append(target(i))
        except Exception as exc:  # collected and asserted below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    return results, errors


def test_twenty_concurrent_sign_attempts_give_one_signature(visit, vma, provider):
    assert connection.vendor == "postgresql"
    order = pend(visit, vma)
    shown = item(order)

    def attempt(_: int) -> tuple[bool, str]:
        me = User.objects.get(pk=provider.pk)  # each click is its own request: its own user and connection
        outcome = signing.sign_batch(me, [shown]).outcomes[0]
        return outcome.ok, outcome.message

    results, errors = _run_threads(20, attempt)
    assert not errors, errors
    assert len(results) == 20
    assert sum(ok for ok, _ in results) == 1
    assert all(message.startswith("Already signed by") for ok, message in results if not ok)
    order.refresh_from_db()
    assert order.status == Order.Status.SIGNED and order.signed_by_id == provider.pk
    assert OutboxMessage.objects.filter(key=f"order-effects:{order.pk}").count() == 1


def test_signing_and_returning_at_once_do_exactly_one_of_them(visit, vma, provider):
    order = pend(visit, vma)
    shown = item(order)

    def attempt(i: int) -> bool:
        me = User.objects.get(pk=provider.pk)
        if i % 2:
            return signing.return_batch(me, [shown], comment="Check the dose").outcomes[0].ok
        return signing.sign_batch(me, [shown]).outcomes[0].ok

    results, errors = _run_threads(10, attempt)
    assert not errors, errors
    assert sum(results) == 1
    order.refresh_from_db()
    returned = WorkItem.objects.filter(kind="orders.returned").count()
    assert (order.status, returned) in {(Order.Status.SIGNED, 0), (Order.Status.RETURNED, 1)}
