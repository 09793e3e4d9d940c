"""Work-item states and transitions: the only code that sets WorkItem.status."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from auditlog.context import disable_auditlog
from django.contrib.contenttypes.models import ContentType
from django.db import IntegrityError, models, transaction
from django.utils import timezone

from . import audit, outbox
from .access import panel_ids
from .exceptions import ActionRefused, NotPermitted
from .models import AuditEvent, WorkItem, WorkItemEvent
from .roles import Role
from .workqueue import get_kind

if TYPE_CHECKING:
    from patients.models import Patient

    from .models import User

S = WorkItem.Status
TRANSITIONS: dict[str, frozenset[str]] = {
    S.OPEN: frozenset({S.CLAIMED, S.WAITING, S.ESCALATED, S.DONE, S.CANCELLED}),
    S.CLAIMED: frozenset({S.OPEN, S.CLAIMED, S.WAITING, S.ESCALATED, S.DONE, S.CANCELLED}),
    S.WAITING: frozenset({S.OPEN, S.CLAIMED, S.ESCALATED, S.DONE, S.CANCELLED}),
    S.ESCALATED: frozenset({S.CLAIMED, S.WAITING, S.ESCALATED, S.DONE, S.CANCELLED}),
    S.DONE: frozenset(),
    S.CANCELLED: frozenset(),
}


def user_queues(user: User) -> list[str]:
    return sorted(r for r in user.role_names if r != Role.ADMIN)


def can_see_item(user: User, item: WorkItem) -> bool:
    if not user.is_authenticated or not user.has_perm("vma.view_workitem"):
        return False
    if item.patient is not None and item.patient.care_team_id not in panel_ids(user):
        return False
    return item.assignee_id == user.pk or item.queue in user.role_names


def _check_can_work(actor: User | None, item: WorkItem) -> None:
    if actor is None:  # the system (a sweeper, another app's workflow)
        return
    if not (actor.has_perm("vma.work_workitem") and can_see_item(actor, item)):
        raise NotPermitted("You cannot act on this work item.")


def _lock(item: WorkItem) -> WorkItem:
    return WorkItem.objects.select_for_update(of=("self",)).select_related("patient").get(pk=item.pk)


def _move(
    item: WorkItem,
    *,
    to: str,
    actor: User | None,
    action: str,
    note: str = "",
    check: bool = True,
    **changes: Any,
) -> WorkItem:
    """Re-read under a row lock, check, change, record. Callers are atomic."""
    item = _lock(item)
    if check:
        _check_can_work(actor, item)
    if to not in TRANSITIONS[item.status]:
        raise ActionRefused(
            f"This item is {item.get_status_display().lower()}; it cannot be {action.replace('_', ' ')}ed."
        )
    from_status = item.status
    item.status = to
    fields = {"status", "updated_at"}
    for name, value in changes.items():
        setattr(item, name, value)
        fields.add(name)
    if to in WorkItem.CLOSED_STATES:
        item.closed_at = timezone.now()
        item.closed_by = actor
        fields |= {"closed_at", "closed_by"}
    if to != S.WAITING and item.snoozed_until is not None:
        item.snoozed_until = None
        fields.add("snoozed_until")
    item.save(update_fields=sorted(fields))
    WorkItemEvent.objects.create(
        item=item, actor=actor, action=action, from_status=from_status, to_status=to, note=note
    )
    return item


# ---------------------------------------------------------------------------------------------
# Opening and closing (called by every app)
# ---------------------------------------------------------------------------------------------


def open_work_item(
    *,
    kind: str,
    subject: models.Model,
    title: str,
    patient: Patient | None = None,
    detail: str = "",
    due_at: datetime | None = None,
    priority: int | None = None,
    queue: str | None = None,
    actor: User | None = None,
) -> tuple[WorkItem, bool]:
    """Open an item, or return the one already open for (kind, subject). Returns (item, created)."""
    spec = get_kind(kind)
    ct = ContentType.objects.get_for_model(subject)
    lookup = {"kind": kind, "subject_type": ct, "subject_id": subject.pk, "status__in": WorkItem.OPEN_STATES}
    existing = WorkItem.objects.filter(**lookup).first()
    if existing is not None:
        return existing, False
    now = timezone.now()
    try:
        # A savepoint: losing the race to a concurrent opener must not poison the caller.
        with transaction.atomic():
            item = WorkItem.objects.create(
                kind=kind,
                title=title[:200],
                detail=detail,
                subject_type=ct,
                subject_id=subject.pk,
                patient=patient,
                queue=queue or spec.queue,
                priority=priority or spec.priority,
                due_at=due_at or now + timedelta(minutes=spec.sla_minutes),
                sla_minutes=spec.sla_minutes,
                created_at=now,
                created_by=actor,
            )
            WorkItemEvent.objects.create(item=item, actor=actor, action="open", to_status=S.OPEN, note=detail[:500])
    except IntegrityError:
        return WorkItem.objects.get(**lookup), False
    return item, True


@transaction.atomic
def close_work_item(
    *, kind: str, subject: models.Model, note: str, actor: User | None = None, cancel: bool = False
) -> WorkItem | None:
    """Close the open item of (kind, subject), if any: its subject was dealt with elsewhere."""
    ct = ContentType.objects.get_for_model(subject)
    item = WorkItem.objects.filter(
        kind=kind, subject_type=ct, subject_id=subject.pk, status__in=WorkItem.OPEN_STATES
    ).first()
    if item is None:
        return None
    return _move(
        item,
        to=S.CANCELLED if cancel else S.DONE,
        actor=actor,
        action="cancel" if cancel else "complete",
        note=note,
        check=False,
        resolution_note=note,
    )


# ---------------------------------------------------------------------------------------------
# A person working the queue
# ---------------------------------------------------------------------------------------------


def claimable_items(user: User) -> models.QuerySet[WorkItem]:
    """Items the user could claim now: their queues, their patients, not snoozed."""
    if not user.has_perm("vma.work_workitem"):
        return WorkItem.objects.none()
    return WorkItem.objects.filter(
        models.Q(patient__isnull=True) | models.Q(patient__care_team_id__in=panel_ids(user)),
        status__in=[S.OPEN, S.ESCALATED],
        queue__in=user_queues(user),
    )


@transaction.atomic
def claim_next(*, actor: User, queue: str | None = None, kind: str | None = None) -> WorkItem | None:
    """Claim the most urgent claimable item. SKIP LOCKED: concurrent claimers never collide."""
    qs = claimable_items(actor)
    if queue:
        qs = qs.filter(queue=queue)
    if kind:
        qs = qs.filter(kind=kind)
    item = qs.order_by("priority", "due_at", "id").select_for_update(skip_locked=True, of=("self",)).first()
    if item is None:
        return None
    now = timezone.now()
    from_status = item.status
    item.status, item.assignee, item.claimed_at = S.CLAIMED, actor, now
    # The hottest write of the portal: auditlog would re-read the locked row and take the audit
    # chain's lock mid-transaction. Write the chained audit row ourselves, last, so that lock is
    # held only until COMMIT and fifty claimers do not queue behind it.
    with disable_auditlog():
        item.save(update_fields=["status", "assignee", "claimed_at", "updated_at"])
    WorkItemEvent.objects.create(item=item, actor=actor, action="claim", from_status=from_status, to_status=S.CLAIMED)
    audit.append(
        kind=AuditEvent.Kind.WRITE,
        action="vma.workitem.claim",
        actor=actor,
        target=f"vma.workitem:{item.pk}",
        patient_ids=[item.patient_id] if item.patient_id else [],
        detail={"fields": ["assignee", "claimed_at", "status"], "from": from_status},
    )
    return item


@transaction.atomic
def claim_item(item: WorkItem, *, actor: User) -> WorkItem:
    locked = _lock(item)
    if locked.status == S.CLAIMED and locked.assignee_id == actor.pk:
        return locked  # a double-click: already yours
    if locked.status == S.CLAIMED:
        raise ActionRefused(f"Already claimed by {locked.assignee}.")
    return _move(locked, to=S.CLAIMED, actor=actor, action="claim", assignee=actor, claimed_at=timezone.now())


@transaction.atomic
def release_item(item: WorkItem, *, actor: User, note: str = "") -> WorkItem:
    locked = _lock(item)
    if locked.assignee_id != actor.pk:
        raise ActionRefused("Only the person who claimed this item can release it.")
    return _move(locked, to=S.OPEN, actor=actor, action="release", note=note, assignee=None, claimed_at=None)


@transaction.atomic
def complete_item(item: WorkItem, *, actor: User, note: str) -> WorkItem:
    note = (note or "").strip()
    if not note:
        raise ActionRefused("Say what was done before completing the item.", status_code=400)
    locked = _lock(item)
    if locked.status == S.DONE:
        raise ActionRefused("This item is already done.")
    if locked.assignee_id not in (None, actor.pk) and locked.status == S.CLAIMED:
        raise ActionRefused(f"This item is claimed by {locked.assignee}; ask them or a manager to reassign it.")
    return _move(locked, to=S.DONE, actor=actor, action="complete", note=note, resolution_note=note, assignee=actor)


@transaction.atomic
def escalate_item(item: WorkItem, *, actor: User | None, to_queue: str, reason: str) -> WorkItem:
    """Hand the item to another role's queue with a reason; its members are notified."""
    reason = (reason or "").strip()
    if not reason:
        raise ActionRefused("Give the reason for escalating.", status_code=400)
    if to_queue not in Role.values or to_queue == Role.ADMIN:
        raise ActionRefused("Choose a queue to escalate to.", status_code=400)
    item = _move(
        item,
        to=S.ESCALATED,
        actor=actor,
        action="escalate",
        note=reason,
        queue=to_queue,
        assignee=None,
        claimed_at=None,
        escalation_reason=reason,
        priority=min(item.priority, WorkItem.Priority.HIGH),
    )
    _notify_queue(item)
    return item


def _notify_queue(item: WorkItem) -> None:
    """Tell the receiving queue's members, after commit, through the outbox."""
    event_id = item.events.order_by("-id").values_list("id", flat=True).first()
    outbox.enqueue("vma.notify_escalation", {"item_id": item.pk, "event_id": event_id}, key=f"escalation:{event_id}")


@transaction.atomic
def reassign_item(item: WorkItem, *, actor: User, to_user: User, note: str = "") -> WorkItem:
    locked = _lock(item)
    is_manager = actor.has_perm("vma.reassign_workitem")
    if not is_manager:
        _check_can_work(actor, locked)
        if locked.assignee_id != actor.pk:
            raise NotPermitted("Only the assignee or a manager can reassign this item.")
    if not (to_user.is_active and can_see_item(to_user, locked) and to_user.has_perm("vma.work_workitem")):
        raise ActionRefused(
            f"{to_user} cannot work this item (not in its queue or not on the patient's care team).", status_code=400
        )
    return _move(
        locked,
        to=S.CLAIMED,
        actor=actor,
        action="reassign",
        note=note or f"Reassigned to {to_user}",
        check=not is_manager,
        assignee=to_user,
        claimed_at=timezone.now(),
    )


@transaction.atomic
def snooze_item(item: WorkItem, *, actor: User, until: datetime, note: str = "") -> WorkItem:
    if until <= timezone.now():
        raise ActionRefused("Snooze until a time in the future.", status_code=400)
    if until > timezone.now() + timedelta(days=90):
        raise ActionRefused("Snooze for at most 90 days.", status_code=400)
    return _move(item, to=S.WAITING, actor=actor, action="snooze", note=note, snoozed_until=until, assignee=actor)


@transaction.atomic
def cancel_item(item: WorkItem, *, actor: User | None, reason: str) -> WorkItem:
    if not (reason or "").strip():
        raise ActionRefused("Give the reason for cancelling.", status_code=400)
    return _move(item, to=S.CANCELLED, actor=actor, action="cancel", note=reason, resolution_note=reason)


# ---------------------------------------------------------------------------------------------
# Sweepers (beat triggers them; each is safe to run twice or concurrently)
# ---------------------------------------------------------------------------------------------


def wake_snoozed(*, now: datetime | None = None, batch: int = 500) -> int:
    """Snoozed items whose time came go back to their queue (to their owner if claimed)."""
    now = now or timezone.now()
    woken = 0
    with transaction.atomic():
        items = list(
            WorkItem.objects.filter(status=S.WAITING, snoozed_until__lte=now)
            .order_by("snoozed_until")
            .select_for_update(skip_locked=True)[:batch]
        )
        for item in items:
            to = S.CLAIMED if item.assignee_id else S.OPEN
            _move(item, to=to, actor=None, action="wake", note="Snooze ended", check=False)
            woken += 1
    return woken


def escalate_overdue(*, now: datetime | None = None, batch: int = 500) -> int:
    """Items past due are raised to urgent and marked escalated, once per item."""
    now = now or timezone.now()
    count = 0
    with transaction.atomic():
        items = list(
            WorkItem.objects.filter(
                status__in=[S.OPEN, S.CLAIMED, S.ESCALATED], due_at__lt=now, overdue_escalated_at__isnull=True
            )
            .order_by("due_at")
            .select_for_update(skip_locked=True)[:batch]
        )
        for item in items:
            spec = get_kind(item.kind)
            to_queue = spec.overdue_queue or item.queue
            reason = f"Overdue: was due {timezone.localtime(item.due_at):%b %d %H:%M}."
            # A claimed item stays with its owner, raised to urgent; an unclaimed one is escalated.
            keep = item.status == S.CLAIMED and to_queue == item.queue
            moved = _move(
                item,
                to=S.CLAIMED if keep else S.ESCALATED,
                actor=None,
                action="overdue",
                note=reason,
                check=False,
                queue=to_queue,
                priority=WorkItem.Priority.URGENT,
                overdue_escalated_at=now,
                escalation_reason=reason,
                **({} if keep else {"assignee": None, "claimed_at": None}),
            )
            if to_queue != item.queue:
                _notify_queue(moved)
            count += 1
    return count
