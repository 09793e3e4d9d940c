"""The outbox: side effects of a web request, written in the request's transaction.

`enqueue` writes a row and, after commit, rings the doorbell (a Celery task). If the broker is
down the publish fails fast and is forgotten: the row is the record, and `sweep_outbox` (beat,
every minute) re-sends due rows. Delivery claims the row with a conditional UPDATE and a lease,
so a duplicate message or a second sweeper finds nothing to do; handlers are idempotent anyway,
because a worker killed mid-task has the message redelivered (acks_late).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone

from .models import OutboxMessage

log = logging.getLogger(__name__)

Handler = Callable[[dict[str, Any]], None]
_HANDLERS: dict[str, Handler] = {}


def handler(name: str) -> Callable[[Handler], Handler]:
    def register(fn: Handler) -> Handler:
        _HANDLERS[name] = fn
        return fn

    return register


def get_handler(name: str) -> Handler:
    return _HANDLERS[name]


def enqueue(handler_name: str, payload: dict[str, Any], *, key: str) -> OutboxMessage:
    """Write the message in the caller's transaction; publish after commit. Idempotent by key."""
    if handler_name not in _HANDLERS:
        raise LookupError(f"No outbox handler {handler_name!r}")
    try:
        with transaction.atomic():
            msg = OutboxMessage.objects.create(key=key, handler=handler_name, payload=payload)
    except IntegrityError:
        return OutboxMessage.objects.get(key=key)
    transaction.on_commit(lambda: publish(msg.pk))
    return msg


def publish(message_id: int) -> bool:
    """Ring the doorbell. A broker outage is logged, not raised: the sweeper will re-send."""
    from .tasks import deliver_outbox

    try:
        deliver_outbox.apply_async((message_id,), retry=False)
    except Exception as exc:  # noqa: BLE001 - any broker failure: the row waits for the sweeper
        log.warning("outbox: could not publish message %s (%s); the sweeper will re-send it", message_id, exc)
        return False
    return True


def claim(message_id: int) -> OutboxMessage | None:
    """Take the message for delivery if it is due and nobody holds a live lease on it."""
    now = timezone.now()
    claimed = OutboxMessage.objects.filter(
        Q(status=OutboxMessage.Status.PENDING) | Q(status=OutboxMessage.Status.RUNNING, lease_until__lt=now),
        pk=message_id,
        due_at__lte=now,
        attempts__lt=F("max_attempts"),
    ).update(
        # Counted at claim, not at the end: a handler that kills its worker still uses up an
        # attempt, so it ends FAILED with a work item instead of being retried forever.
        status=OutboxMessage.Status.RUNNING,
        lease_until=now + timedelta(seconds=settings.OUTBOX_LEASE_SECONDS),
        attempts=F("attempts") + 1,
    )
    if not claimed:
        return None
    return OutboxMessage.objects.get(pk=message_id)


def deliver(message_id: int) -> str:
    """Run one message's handler. Returns what happened (for logs and tests)."""
    msg = claim(message_id)
    if msg is None:
        return "skipped"
    try:
        with transaction.atomic():
            get_handler(msg.handler)(msg.payload)
            OutboxMessage.objects.filter(pk=msg.pk).update(
                status=OutboxMessage.Status.DONE, done_at=timezone.now(), lease_until=None
            )
    except Exception as exc:
        attempts = msg.attempts
        failed = attempts >= msg.max_attempts
        backoff = timedelta(seconds=min(3600, 15 * 2 ** (attempts - 1)))
        OutboxMessage.objects.filter(pk=msg.pk).update(
            status=OutboxMessage.Status.FAILED if failed else OutboxMessage.Status.PENDING,
            last_error=f"{type(exc).__name__}: {exc}"[:2000],
            due_at=timezone.now() + backoff,
            lease_until=None,
        )
        log.exception("outbox: message %s (%s) failed, attempt %s", msg.pk, msg.handler, attempts)
        if failed:
            _report_failure(msg, exc)
        return "failed" if failed else "retry"
    return "done"


def _report_failure(msg: OutboxMessage, exc: Exception) -> None:
    # Never silent: a message that gave up becomes a work item with the reason.
    from .workflow import open_work_item

    open_work_item(
        kind="vma.outbox_failed",
        subject=msg,
        title=f"Background job failed: {msg.handler}",
        detail=f"Gave up after {msg.attempts} attempts. Last error: {type(exc).__name__}: {exc}",
    )


def fail_exhausted(now: datetime | None = None) -> int:
    """A message whose every attempt died mid-run (worker killed, lease expired) gives up loudly."""
    now = now or timezone.now()
    count = 0
    with transaction.atomic():
        stuck = list(
            OutboxMessage.objects.select_for_update(skip_locked=True).filter(
                status=OutboxMessage.Status.RUNNING, lease_until__lt=now, attempts__gte=F("max_attempts")
            )[:100]
        )
        for msg in stuck:
            msg.status, msg.lease_until = OutboxMessage.Status.FAILED, None
            msg.last_error = msg.last_error or "Every attempt ended with its worker lost (killed or timed out)."
            msg.save(update_fields=["status", "lease_until", "last_error"])
            _report_failure(msg, RuntimeError(msg.last_error))
            count += 1
    return count


def due_message_ids(limit: int = 500) -> list[int]:
    now = timezone.now()
    return list(
        OutboxMessage.objects.filter(
            Q(status=OutboxMessage.Status.PENDING) | Q(status=OutboxMessage.Status.RUNNING, lease_until__lt=now),
            due_at__lte=now,
        )
        .order_by("due_at")
        .values_list("id", flat=True)[:limit]
    )
