"""Prior-authorization states and transitions: the only code that sets PriorAuthorization.status.

Every function re-reads the row under a lock, checks the actor (None is the system: the sweeper,
booking), refuses a move the table does not allow, saves, and opens or closes the follow-up work
in the same transaction. auditlog records each write; `updated_by` says who acted.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from django.contrib.contenttypes.models import ContentType
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from vma.access import can_access_patient
from vma.exceptions import ActionRefused, NotPermitted
from vma.models import WorkItem
from vma.workflow import close_work_item, open_work_item
from vma.workqueue import get_kind

from .models import PriorAuthorization, PriorAuthRule

if TYPE_CHECKING:
    from patients.models import ChartDocument, Coverage
    from scheduling.models import Appointment
    from vma.models import User

S = PriorAuthorization.Status
U = PriorAuthorization.Urgency
TRANSITIONS: dict[str, frozenset[str]] = {
    S.REQUIRED: frozenset({S.SUBMITTED, S.WITHDRAWN}),
    # A payer portal may answer at once: submitted goes straight to a decision without "pending".
    S.SUBMITTED: frozenset({S.PENDING, S.APPROVED, S.PARTIALLY_APPROVED, S.DENIED, S.WITHDRAWN}),
    S.PENDING: frozenset({S.APPROVED, S.PARTIALLY_APPROVED, S.DENIED, S.WITHDRAWN}),
    S.APPROVED: frozenset({S.EXPIRED}),
    S.PARTIALLY_APPROVED: frozenset({S.EXPIRED}),
    # Final: an appeal that succeeds, or a new request, is a new authorization.
    S.DENIED: frozenset(),
    S.WITHDRAWN: frozenset(),
    S.EXPIRED: frozenset(),
}

FOLLOW_UP = "priorauth.follow_up"
APPEAL = "priorauth.appeal"
EXPIRING = "priorauth.expiring"
KINDS = (FOLLOW_UP, APPEAL, EXPIRING)

# CMS-0057-F decision time frames for impacted payers (from 2026).
DECISION_WINDOW = {U.EXPEDITED: timedelta(hours=72), U.STANDARD: timedelta(days=7)}
FOLLOW_UP_BUSINESS_DAYS = 2
EXPIRY_WARNING_DAYS = 14
UNITS_WARNING_PERCENT = 80

ADD = "eligibility.add_priorauthorization"
CHANGE = "eligibility.change_priorauthorization"


def add_business_days(moment: datetime, days: int) -> datetime:
    """`days` working days later at the same local time; Saturdays and Sundays do not count."""
    local = timezone.localtime(moment)
    while days > 0:
        local += timedelta(days=1)
        if local.weekday() < 5:
            days -= 1
    return local


def decision_due(submitted_at: datetime, urgency: str) -> datetime:
    return submitted_at + DECISION_WINDOW[U(urgency)]


def detail_url(item: WorkItem) -> str:
    """Where a prior-auth work item is worked: the authorization's page."""
    return reverse("priorauth_detail", args=[item.subject.public_id])  # type: ignore[union-attr]


# ---------------------------------------------------------------------------------------------
# The move itself
# ---------------------------------------------------------------------------------------------


def _lock(auth: PriorAuthorization) -> PriorAuthorization:
    return (
        PriorAuthorization.objects.select_for_update(of=("self",))
        .select_related("patient", "payer", "appointment")
        .get(pk=auth.pk)
    )


def _check_actor(actor: User | None, auth: PriorAuthorization, perm: str = CHANGE) -> None:
    if actor is None:  # the system: the sweeper, booking
        return
    if not (actor.has_perm(perm) and can_access_patient(actor, auth.patient)):
        raise NotPermitted("You cannot act on this prior authorization.")


def _move(auth: PriorAuthorization, *, to: str, actor: User | None, **changes: Any) -> PriorAuthorization:
    """Re-read under a row lock, check, change, save. Callers are atomic."""
    auth = _lock(auth)
    _check_actor(actor, auth)
    if to not in TRANSITIONS[auth.status]:
        raise ActionRefused(
            f"This prior authorization is {auth.get_status_display().lower()}; it cannot become {S(to).label.lower()}."
        )
    auth.status = to
    fields = {"status", "updated_at", "updated_by"}
    auth.updated_by = actor
    for name, value in changes.items():
        setattr(auth, name, value)
        fields.add(name)
    auth.save(update_fields=sorted(fields))
    return auth


def _text(value: str | None, message: str) -> str:
    value = (value or "").strip()
    if not value:
        raise ActionRefused(message, status_code=400)
    return value


def _close(auth: PriorAuthorization, kinds: Iterable[str], note: str, actor: User | None, cancel: bool = False) -> None:
    for kind in kinds:
        close_work_item(kind=kind, subject=auth, note=note, actor=actor, cancel=cancel)


def _what(auth: PriorAuthorization) -> str:
    return " ".join(p for p in (auth.service_code, auth.service_description or auth.category) if p) or "service"


# ---------------------------------------------------------------------------------------------
# Creating
# ---------------------------------------------------------------------------------------------


def open_authorization(
    coverage: Coverage, *, service_code: str, appointment: Appointment | None
) -> PriorAuthorization | None:
    return (
        PriorAuthorization.objects.filter(
            patient_id=coverage.patient_id,
            coverage=coverage,
            service_code=service_code,
            appointment=appointment,
            status__in=PriorAuthorization.OPEN,
        )
        .order_by("-id")
        .first()
    )


@transaction.atomic
def require(
    coverage: Coverage,
    *,
    service_code: str = "",
    service_description: str = "",
    category: str = "",
    appointment: Appointment | None = None,
    requested_units: int | None = None,
    rule: PriorAuthRule | None = None,
    notes: str = "",
    actor: User | None = None,
    check: bool = True,
    now: datetime | None = None,
) -> tuple[PriorAuthorization, bool]:
    """Record that a service needs authorization, or return the open one for the same service and visit.

    Returns (authorization, created). Safe to call twice, concurrently too (a partial unique index).
    check=False: the rules decided (booking, orders); the actor is recorded but not checked.
    """
    now = now or timezone.now()
    service_code = service_code.strip().upper()
    category = category.strip().lower()
    if check and actor is not None and not (actor.has_perm(ADD) and can_access_patient(actor, coverage.patient)):
        raise NotPermitted("You cannot request a prior authorization for this patient.")
    if not (service_code or category):
        raise ActionRefused("Give the service code or its category.", status_code=400)
    if requested_units is not None and requested_units < 1:
        raise ActionRefused("Ask for at least one unit or visit.", status_code=400)
    if appointment is not None and appointment.patient_id != coverage.patient_id:
        raise ActionRefused("That visit is another patient's.", status_code=400)
    auth = open_authorization(coverage, service_code=service_code, appointment=appointment)
    created = False
    if auth is None:
        try:
            # A savepoint: losing the race to a concurrent request must not poison the caller.
            with transaction.atomic():
                auth = PriorAuthorization.objects.create(
                    patient_id=coverage.patient_id,
                    coverage=coverage,
                    payer_id=coverage.payer_id,
                    appointment=appointment,
                    rule=rule,
                    service_code=service_code,
                    service_description=service_description.strip()[:200],
                    category=category[:60],
                    requested_units=requested_units,
                    notes=notes,
                    status=S.REQUIRED,
                    created_by=actor,
                    updated_by=actor,
                    created_at=now,
                )
                created = True
        except IntegrityError:
            auth = open_authorization(coverage, service_code=service_code, appointment=appointment)
            if auth is None:
                raise
    if auth.status == S.REQUIRED:
        _open_needed(auth, now=now, actor=actor)
    return auth, created


def _open_needed(auth: PriorAuthorization, *, now: datetime, actor: User | None) -> None:
    spec = get_kind(FOLLOW_UP)
    due = now + timedelta(minutes=spec.sla_minutes)
    if auth.appointment is not None:
        start = auth.appointment.start_at
        title = f"Prior authorization needed before {timezone.localtime(start):%a %b %d}: {_what(auth)}"
        # Routine requests take 3-7 days: due at once if the visit is close, never in the past.
        due = max(now + timedelta(minutes=30), min(due, start - timedelta(days=7)))
    else:
        title = f"Prior authorization needed: {_what(auth)}"
    open_work_item(
        kind=FOLLOW_UP,
        subject=auth,
        patient=auth.patient,
        title=title,
        detail=f"{auth.payer.name} requires prior authorization for {_what(auth)}. Submit the request with "
        "the supporting documents.",
        due_at=due,
        actor=actor,
    )


# ---------------------------------------------------------------------------------------------
# Transitions
# ---------------------------------------------------------------------------------------------


@transaction.atomic
def submit(
    auth: PriorAuthorization,
    *,
    actor: User | None,
    urgency: str = U.STANDARD,
    payer_reference: str = "",
    documents: Iterable[ChartDocument] = (),
    now: datetime | None = None,
) -> PriorAuthorization:
    """required -> submitted: the decision clock starts (expedited 72 h, standard 7 calendar days)."""
    now = now or timezone.now()
    if urgency not in U.values:
        raise ActionRefused("Choose expedited or standard.", status_code=400)
    docs = list(documents)
    auth = _move(
        auth,
        to=S.SUBMITTED,
        actor=actor,
        urgency=urgency,
        submitted_at=now,
        submitted_by=actor,
        decision_due_at=decision_due(now, urgency),
        last_contact_at=now,
        next_follow_up_at=add_business_days(now, FOLLOW_UP_BUSINESS_DAYS),
        payer_reference=payer_reference.strip()[:60],
    )
    if docs:
        if any(d.patient_id != auth.patient_id for d in docs):
            raise ActionRefused("A supporting document belongs to another patient.", status_code=400)
        auth.supporting_documents.add(*docs)
    _close(auth, [FOLLOW_UP], f"Submitted to {auth.payer.name} ({U(urgency).label}).", actor)
    return auth


@transaction.atomic
def mark_pending(
    auth: PriorAuthorization, *, actor: User | None, payer_reference: str, now: datetime | None = None
) -> PriorAuthorization:
    """submitted -> pending: the payer acknowledged the request and gave its reference."""
    now = now or timezone.now()
    reference = _text(payer_reference, "Give the payer's reference number.")
    return _move(
        auth,
        to=S.PENDING,
        actor=actor,
        payer_reference=reference[:60],
        last_contact_at=now,
        next_follow_up_at=add_business_days(now, FOLLOW_UP_BUSINESS_DAYS),
    )


@transaction.atomic
def record_contact(
    auth: PriorAuthorization, *, actor: User | None, note: str, now: datetime | None = None
) -> PriorAuthorization:
    """We called the payer (or it called us) about a request still waiting: the next follow-up moves on."""
    now = now or timezone.now()
    note = _text(note, "Say what the payer said.")
    locked = _lock(auth)
    _check_actor(actor, locked)
    if not locked.awaiting_payer:
        raise ActionRefused(f"This prior authorization is {locked.get_status_display().lower()}; no follow-up is due.")
    locked.last_contact_at = now
    locked.next_follow_up_at = add_business_days(now, FOLLOW_UP_BUSINESS_DAYS)
    locked.notes = f"{locked.notes}\n{timezone.localtime(now):%Y-%m-%d %H:%M}: {note}".strip()
    locked.updated_by = actor
    locked.save(update_fields=["last_contact_at", "next_follow_up_at", "notes", "updated_by", "updated_at"])
    _close(locked, [FOLLOW_UP], note, actor)
    return locked


@transaction.atomic
def approve(
    auth: PriorAuthorization,
    *,
    actor: User | None,
    authorization_number: str,
    approved_units: int,
    valid_from: date,
    valid_to: date,
    now: datetime | None = None,
) -> PriorAuthorization:
    """submitted/pending -> approved, or partially_approved when fewer units than asked were granted."""
    now = now or timezone.now()
    number = _text(authorization_number, "Give the payer's authorization number.")
    if approved_units is None or approved_units < 1:
        raise ActionRefused("An approval covers at least one unit or visit.", status_code=400)
    if valid_to < valid_from:
        raise ActionRefused("The approval cannot end before it starts.", status_code=400)
    current = _lock(auth)
    partial = current.requested_units is not None and approved_units < current.requested_units
    auth = _move(
        auth,
        to=S.PARTIALLY_APPROVED if partial else S.APPROVED,
        actor=actor,
        authorization_number=number[:60],
        approved_units=approved_units,
        valid_from=valid_from,
        valid_to=valid_to,
        decided_at=now,
        decided_by=actor,
        last_contact_at=now,
        next_follow_up_at=None,
    )
    _close(
        auth,
        [FOLLOW_UP],
        f"Approved: {number}, {approved_units} unit(s) {valid_from:%m/%d/%Y}-{valid_to:%m/%d/%Y}.",
        actor,
    )
    flag_running_out(auth, now=now)
    return auth


@transaction.atomic
def deny(
    auth: PriorAuthorization,
    *,
    actor: User | None,
    reason: str,
    peer_to_peer: bool = False,
    now: datetime | None = None,
) -> PriorAuthorization:
    """submitted/pending -> denied: an appeal (or a peer-to-peer review) item goes to clinical support."""
    now = now or timezone.now()
    reason = _text(reason, "Give the payer's reason for the denial.")
    auth = _move(
        auth,
        to=S.DENIED,
        actor=actor,
        decision_reason=reason,
        decided_at=now,
        decided_by=actor,
        last_contact_at=now,
        next_follow_up_at=None,
    )
    _close(auth, [FOLLOW_UP], f"Denied: {reason}", actor)
    step = "Request a peer-to-peer review" if peer_to_peer else "Appeal the denial"
    open_work_item(
        kind=APPEAL,
        subject=auth,
        patient=auth.patient,
        title=f"{step}: {_what(auth)} ({auth.payer.name})",
        detail=f"Denied by {auth.payer.name}: {reason}. Gather the clinical notes and talk to the provider.",
        actor=actor,
    )
    return auth


@transaction.atomic
def withdraw(
    auth: PriorAuthorization, *, actor: User | None, reason: str, now: datetime | None = None
) -> PriorAuthorization:
    """required/submitted/pending -> withdrawn: no longer needed; its open work is cancelled."""
    reason = _text(reason, "Say why the request is withdrawn.")
    auth = _move(auth, to=S.WITHDRAWN, actor=actor, decision_reason=reason, next_follow_up_at=None)
    _close(auth, KINDS, f"Withdrawn: {reason}", actor, cancel=True)
    return auth


@transaction.atomic
def expire(auth: PriorAuthorization, *, actor: User | None = None, now: datetime | None = None) -> PriorAuthorization:
    """approved/partially_approved -> expired: its dates ran out (the sweeper, or a person)."""
    auth = _move(auth, to=S.EXPIRED, actor=actor)
    _close(auth, [EXPIRING], "The approval expired.", actor)
    return auth


@transaction.atomic
def record_use(
    auth: PriorAuthorization, *, actor: User | None, units: int = 1, on: date | None = None, now: datetime | None = None
) -> PriorAuthorization:
    """Count units or visits used against an approval; never more than were approved."""
    now = now or timezone.now()
    on = on or timezone.localdate(now)
    if units is None or units < 1:
        raise ActionRefused("Record at least one unit.", status_code=400)
    locked = _lock(auth)
    _check_actor(actor, locked)
    if locked.status not in PriorAuthorization.USABLE:
        raise ActionRefused(f"This prior authorization is {locked.get_status_display().lower()}; it cannot be used.")
    assert locked.approved_units is not None and locked.valid_from and locked.valid_to  # a DB constraint
    if not locked.valid_from <= on <= locked.valid_to:
        raise ActionRefused(
            f"Authorization {locked.authorization_number} is valid {locked.valid_from:%m/%d/%Y}-"
            f"{locked.valid_to:%m/%d/%Y}, not on {on:%m/%d/%Y}."
        )
    left = locked.approved_units - locked.units_used
    if units > left:
        raise ActionRefused(
            f"Only {left} of {locked.approved_units} approved unit(s) remain on authorization "
            f"{locked.authorization_number}; recording {units} would exceed it. Ask the payer for more first."
        )
    locked.units_used += units
    locked.updated_by = actor
    locked.save(update_fields=["units_used", "updated_by", "updated_at"])
    flag_running_out(locked, now=now)
    return locked


# ---------------------------------------------------------------------------------------------
# Work items the sweeper opens (callers hold the row lock or own the row)
# ---------------------------------------------------------------------------------------------


def running_out(auth: PriorAuthorization, *, today: date) -> bool:
    if auth.status not in PriorAuthorization.USABLE or auth.approved_units is None or auth.valid_to is None:
        return False
    ends_soon = auth.valid_to <= today + timedelta(days=EXPIRY_WARNING_DAYS)
    used_up = auth.units_used * 100 >= auth.approved_units * UNITS_WARNING_PERCENT
    return ends_soon or used_up


def flag_running_out(auth: PriorAuthorization, *, now: datetime) -> bool:
    """Open one item when an approval ends within 14 days or has 80 % of its units used."""
    if auth.expiry_flagged_at is not None or not running_out(auth, today=timezone.localdate(now)):
        return False
    assert auth.valid_to is not None  # running_out checked it
    title = (
        f"Prior authorization ends {auth.valid_to:%m/%d/%Y}"
        if auth.valid_to <= timezone.localdate(now) + timedelta(days=EXPIRY_WARNING_DAYS)
        else f"Prior authorization {auth.units_used} of {auth.approved_units} units used"
    )
    open_work_item(
        kind=EXPIRING,
        subject=auth,
        patient=auth.patient,
        title=f"{title}: {_what(auth)}",
        detail=f"Authorization {auth.authorization_number} with {auth.payer.name}: {auth.units_used} of "
        f"{auth.approved_units} unit(s) used, valid to {auth.valid_to:%m/%d/%Y}. Ask for an extension or a new "
        "authorization if care continues.",
    )
    auth.expiry_flagged_at = now
    auth.save(update_fields=["expiry_flagged_at", "updated_at"])
    return True


def follow_up(auth: PriorAuthorization, *, now: datetime) -> WorkItem:
    """Open (or keep) the follow-up item of a request awaiting the payer; urgent past the deadline."""
    overdue = auth.decision_due_at is not None and auth.decision_due_at < now
    priority = WorkItem.Priority.URGENT if overdue else None
    if overdue and auth.deadline_flagged_at is None:
        existing = WorkItem.objects.filter(
            kind=FOLLOW_UP,
            subject_type=ContentType.objects.get_for_model(PriorAuthorization),
            subject_id=auth.pk,
            status__in=WorkItem.OPEN_STATES,
        ).first()
        if existing is not None and existing.priority != WorkItem.Priority.URGENT:
            # An open routine follow-up is replaced, not duplicated: the queue shows one urgent item.
            close_work_item(kind=FOLLOW_UP, subject=auth, note="Replaced: the decision deadline passed.", cancel=True)
        auth.deadline_flagged_at = now
    assert auth.decision_due_at is not None  # submitted rows have one (a DB constraint)
    due = timezone.localtime(auth.decision_due_at)
    if overdue:
        title = f"Payer decision overdue (was due {due:%b %d %H:%M}): {_what(auth)}"
    else:
        title = f"Follow up with {auth.payer.name} on prior authorization: {_what(auth)}"
    item, _ = open_work_item(
        kind=FOLLOW_UP,
        subject=auth,
        patient=auth.patient,
        title=title,
        detail=f"{auth.get_urgency_display()} request submitted {timezone.localtime(auth.submitted_at):%m/%d %H:%M}"  # type: ignore[arg-type]
        f"{f', payer reference {auth.payer_reference}' if auth.payer_reference else ''}; decision due "
        f"{due:%m/%d %H:%M}. Call the payer and record what they said.",
        priority=priority,
    )
    auth.next_follow_up_at = add_business_days(now, FOLLOW_UP_BUSINESS_DAYS)
    auth.save(update_fields=["next_follow_up_at", "deadline_flagged_at", "updated_at"])
    return item
