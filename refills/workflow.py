"""Refill request states and transitions: the only code that sets RefillRequest.status.

received → checked → pended (protocol met) | needs_appointment (last visit too old) | needs_review
(protocol not met or not applicable) → signed | denied → notified (pharmacy and patient told) → closed.
A duplicate of an open request is recorded merged into it; an undecided request may be cancelled with a
reason. Each state that waits for a person has its work item (kinds `refills.*`), due by the turnaround rule.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from scheduling.models import Appointment
from vma import outbox
from vma.access import can_access_patient, panel_ids
from vma.exceptions import ActionRefused, NotPermitted
from vma.models import WorkItem
from vma.signing import content_hash
from vma.workflow import close_work_item, open_work_item

from . import protocols
from .models import RefillEvent, RefillRequest

if TYPE_CHECKING:
    from vma.models import User

S = RefillRequest.Status
TRANSITIONS: dict[str, frozenset[str]] = {
    S.RECEIVED: frozenset({S.CHECKED, S.CANCELLED}),
    S.CHECKED: frozenset({S.PENDED, S.NEEDS_APPOINTMENT, S.NEEDS_REVIEW}),
    S.PENDED: frozenset({S.CHECKED, S.SIGNED, S.DENIED, S.NEEDS_REVIEW, S.CANCELLED}),
    S.NEEDS_APPOINTMENT: frozenset({S.CHECKED, S.PENDED, S.SIGNED, S.DENIED, S.CANCELLED}),
    S.NEEDS_REVIEW: frozenset({S.CHECKED, S.PENDED, S.SIGNED, S.DENIED, S.CANCELLED}),
    S.SIGNED: frozenset({S.NOTIFIED}),
    S.DENIED: frozenset({S.NOTIFIED}),
    S.NOTIFIED: frozenset({S.CLOSED}),
    S.CLOSED: frozenset(),
    S.MERGED: frozenset(),  # recorded merged when it arrives; answered with the request it joined
    S.CANCELLED: frozenset(),
}
WORK_PERM = "refills.work_refillrequest"
SIGN_PERM = "refills.sign_refillrequest"
DECIDABLE = (S.PENDED, S.NEEDS_REVIEW, S.NEEDS_APPOINTMENT)

# Work-item kinds (registered in apps.py).
RED_FLAG = "refills.red_flag"
SIGN = "refills.sign"
REVIEW = "refills.review"
APPOINTMENT = "refills.needs_appointment"
RETURNED = "refills.returned"
PHARMACY_REFUSED = "refills.pharmacy_refused"
NOTIFY_PATIENT = "refills.notify_patient"
STATE_KINDS = (SIGN, REVIEW, APPOINTMENT, RETURNED)
NOTIFY_HANDLER = "refills.notify"


def request_url(item: WorkItem) -> str:
    return reverse("refills_detail", args=[item.subject.public_id])  # type: ignore[union-attr]


def signing_payload(request: RefillRequest) -> dict[str, Any]:
    """Exactly what a signature authorizes: who, for whom, which drug, how much, where."""
    return {
        "kind": "refill",
        "id": str(request.public_id),
        "patient": str(request.patient.public_id),
        "provider": str(request.provider.public_id),
        "medication": request.medication_text,
        "strength": request.strength,
        "sig": request.sig,
        "quantity": request.quantity,
        "days_supply": request.days_supply,
        "refills": request.refills,
        "pharmacy": request.pharmacy,
        "controlled_schedule": request.controlled_schedule,
    }


def signing_hash(request: RefillRequest) -> str:
    return content_hash(signing_payload(request))


def _lock(request: RefillRequest) -> RefillRequest:
    return (
        RefillRequest.objects.select_for_update(of=("self",))
        .select_related("patient", "provider", "signed_by", "denied_by")
        .get(pk=request.pk)
    )


def _record(request: RefillRequest, *, actor: User | None, action: str, from_status: str, note: str = "") -> None:
    RefillEvent.objects.create(
        request=request, actor=actor, action=action, from_status=from_status, to_status=request.status, note=note
    )


def _move(
    request: RefillRequest, *, to: str, actor: User | None, action: str, note: str = "", **changes: Any
) -> RefillRequest:
    """Refuse a move the table does not allow, save, record. Callers are atomic and hold the row lock."""
    if to not in TRANSITIONS[request.status]:
        raise ActionRefused(
            f"This request is {request.get_status_display().lower()}; it cannot become {S(to).label.lower()}."
        )
    from_status = request.status
    request.status = to
    fields = {"status", "updated_at"}
    for name, value in changes.items():
        setattr(request, name, value)
        fields.add(name)
    request.save(update_fields=sorted(fields))
    _record(request, actor=actor, action=action, from_status=from_status, note=note)
    return request


def _check_worker(actor: User, request: RefillRequest) -> None:
    if not can_access_patient(actor, request.patient, WORK_PERM):
        raise NotPermitted("You cannot work this refill request.")


def _check_provider(actor: User, request: RefillRequest) -> None:
    """The request's own provider, a provider, with the patient on their panel. Anything else: not found."""
    if not (
        actor.is_authenticated
        and actor.has_perm(SIGN_PERM)
        and actor.is_provider
        and request.provider_id == actor.pk
        and request.patient.care_team_id in panel_ids(actor)
    ):
        raise NotPermitted("Not found.")


# ---------------------------------------------------------------------------------------------
# Work items of the states that wait for a person
# ---------------------------------------------------------------------------------------------


def _state_item(request: RefillRequest) -> tuple[str, str, str] | None:
    """(kind, title, detail) of the item the request's state needs, or None."""
    name = request.display_name
    if request.status == S.PENDED:
        return SIGN, f"Sign refill: {name}", request.pended_note or "Protocol met: sign it from the signing queue."
    if request.status == S.NEEDS_APPOINTMENT:
        visit = next((line for line in request.check_lines if line["code"] == "visit"), None)
        why = visit["reason"] if visit else "No recent visit"
        return (
            APPOINTMENT,
            f"Book a visit with {request.provider} (refill of {name})",
            f"{why}: the protocol needs a visit. Book one with {request.provider}, then pend a bridge "
            "refill for signature from the refill page (or the provider decides).",
        )
    if request.status == S.NEEDS_REVIEW and request.returned_comment:
        return (
            RETURNED,
            f"Refill sent back: {name}",
            f"{request.provider} sent it back: “{request.returned_comment}”. Do what it says, then re-check it.",
        )
    if request.status == S.NEEDS_REVIEW:
        failed = [f"{line['label']}: {line['reason']}" for line in request.check_lines if not line["passed"]]
        return REVIEW, f"Review refill: {name}", "; ".join(failed) or "The protocol does not apply."
    return None


def _sync_items(request: RefillRequest, *, actor: User | None, note: str) -> None:
    """Close the items of states the request left, open the one of the state it is in (idempotent)."""
    wanted = _state_item(request)
    for kind in STATE_KINDS:
        if wanted is None or kind != wanted[0]:
            close_work_item(kind=kind, subject=request, note=note, actor=actor)
    if wanted is not None:
        kind, title, detail = wanted
        urgent = request.urgency == RefillRequest.Urgency.URGENT
        open_work_item(
            kind=kind,
            subject=request,
            patient=request.patient,
            title=title,
            detail=detail,
            due_at=request.due_at,
            priority=WorkItem.Priority.HIGH if urgent else None,
        )


# ---------------------------------------------------------------------------------------------
# Arrival
# ---------------------------------------------------------------------------------------------


def receive(request: RefillRequest, *, actor: User) -> tuple[RefillRequest, RefillRequest | None]:
    """Record a new request (unsaved in, saved out), or record it merged into the open one for the
    same patient and medication. Returns (request, the open request it joined or None). Atomic caller."""
    open_one = (
        RefillRequest.objects.select_for_update(of=("self",))
        .filter(patient=request.patient, medication_key=request.medication_key, status__in=RefillRequest.OPEN_STATES)
        .first()
    )
    if open_one is None:
        try:
            # A savepoint: a concurrent request for the same medication may win the partial unique index.
            with transaction.atomic():
                request.status = S.RECEIVED
                request.save()
        except IntegrityError:
            request.pk = None
            open_one = (
                RefillRequest.objects.select_for_update(of=("self",))
                .filter(
                    patient=request.patient,
                    medication_key=request.medication_key,
                    status__in=RefillRequest.OPEN_STATES,
                )
                .first()
            )
            if open_one is None:
                raise
        else:
            _record(request, actor=actor, action="receive", from_status="", note=f"From {request.requester}")
            return request, None
    request.status = S.MERGED
    request.merged_into = open_one
    request.save()
    received = timezone.localtime(open_one.received_at)
    _record(
        request,
        actor=actor,
        action="merge",
        from_status="",
        note=f"Duplicate of the open request received {received:%m/%d %H:%M} ({open_one.get_status_display()}).",
    )
    changes: list[str] = []
    if request.urgency == RefillRequest.Urgency.URGENT and open_one.urgency != RefillRequest.Urgency.URGENT:
        open_one.urgency = RefillRequest.Urgency.URGENT
        open_one.save(update_fields=["urgency", "updated_at"])
        changes.append("raised to urgent")
    text = f" “{request.request_text[:200]}”" if request.request_text else ""
    _record(
        open_one,
        actor=actor,
        action="duplicate",
        from_status=open_one.status,
        note=f"Duplicate from {request.requester} ({request.get_source_display().lower()}) merged{text}"
        + (f"; {', '.join(changes)}" if changes else "")
        + ".",
    )
    return request, open_one


# ---------------------------------------------------------------------------------------------
# The protocol check
# ---------------------------------------------------------------------------------------------


@transaction.atomic
def check_request(request: RefillRequest, *, actor: User | None, now: datetime | None = None) -> RefillRequest:
    """Run the protocol check and route the request by its outcome. `actor` None: the system, at arrival."""
    now = now or timezone.now()
    request = _lock(request)
    if actor is not None:
        _check_worker(actor, request)
    if request.status not in (S.RECEIVED, S.PENDED, S.NEEDS_REVIEW, S.NEEDS_APPOINTMENT):
        raise ActionRefused(f"This request is {request.get_status_display().lower()}; there is nothing to check.")
    result = protocols.evaluate([request], now=now)[request.pk]
    request = _move(
        request,
        to=S.CHECKED,
        actor=actor,
        action="check",
        note=result.summary,
        check_lines=result.as_json(),
        check_outcome=result.outcome,
        checked_at=now,
        checked_by=actor,
        medication_id=result.medication_id,
        medication_class_id=result.medication_class_id,
        controlled_schedule=result.controlled_schedule,
        returned_comment="",
    )
    changes: dict[str, Any] = {}
    if result.outcome == S.PENDED:
        changes = {"pended_at": now, "pended_by": actor, "pended_note": result.summary[:300]}
    request = _move(request, to=result.outcome, actor=actor, action="route", **changes)
    _sync_items(request, actor=actor, note=f"Re-checked: {request.get_status_display().lower()}")
    return request


# ---------------------------------------------------------------------------------------------
# People moving a request
# ---------------------------------------------------------------------------------------------


@transaction.atomic
def pend_bridge(request: RefillRequest, *, actor: User, now: datetime | None = None) -> RefillRequest:
    """The visit the protocol asks for is booked: pend a bridge refill for the provider's signature."""
    now = now or timezone.now()
    request = _lock(request)
    _check_worker(actor, request)
    if request.status != S.NEEDS_APPOINTMENT:
        raise ActionRefused(f"This request is {request.get_status_display().lower()}; it does not wait for a visit.")
    if request.is_controlled:
        raise ActionRefused("A controlled substance is never pended by protocol: the provider reviews it.")
    visit = (
        Appointment.objects.filter(
            patient_id=request.patient_id,
            provider_id=request.provider_id,
            start_at__gt=now,
            status__in=[Appointment.Status.SCHEDULED, Appointment.Status.CONFIRMED],
        )
        .order_by("start_at")
        .first()
    )
    if visit is None:
        raise ActionRefused(f"Book a visit with {request.provider} first: none is on the schedule.")
    when = timezone.localtime(visit.start_at)
    request = _move(
        request,
        to=S.PENDED,
        actor=actor,
        action="pend_bridge",
        note=f"Visit booked for {when:%m/%d/%Y %H:%M}",
        pended_at=now,
        pended_by=actor,
        pended_note=f"Bridge refill until the visit on {when:%m/%d/%Y} (the last visit is older than the protocol allows).",
    )
    _sync_items(request, actor=actor, note=f"Visit booked for {when:%m/%d/%Y}")
    return request


@transaction.atomic
def approve_for_signing(request: RefillRequest, *, provider: User, now: datetime | None = None) -> RefillRequest:
    """The provider reviewed it and wants to sign it from the signing queue (a controlled one with the
    second factor there)."""
    now = now or timezone.now()
    request = _lock(request)
    _check_provider(provider, request)
    if request.status not in (S.NEEDS_REVIEW, S.NEEDS_APPOINTMENT):
        raise ActionRefused(f"This request is {request.get_status_display().lower()}; there is nothing to approve.")
    request = _move(
        request,
        to=S.PENDED,
        actor=provider,
        action="approve",
        pended_at=now,
        pended_by=provider,
        pended_note=f"Approved after review by {provider}",
        returned_comment="",
    )
    _sync_items(request, actor=provider, note="Approved for signature")
    return request


@transaction.atomic
def sign_refill(
    request: RefillRequest,
    *,
    provider: User,
    content_hash: str,
    from_queue: bool,
    second_factor: bool = False,
    now: datetime | None = None,
) -> RefillRequest:
    """Sign exactly once: under the row lock, the status and the hash of what the provider saw are checked.

    From the signing queue only a pended request signs; from the refill page the provider may also sign
    one in review. A controlled substance needs the second factor, which only the signing queue checks.
    """
    now = now or timezone.now()
    request = _lock(request)
    _check_provider(provider, request)
    if request.status == S.SIGNED or request.signed_at is not None:
        when = timezone.localtime(request.signed_at) if request.signed_at else None
        raise ActionRefused(f"Already signed by {request.signed_by} at {when:%H:%M}." if when else "Already signed.")
    allowed = (S.PENDED,) if from_queue else DECIDABLE
    if request.status not in allowed:
        raise ActionRefused(f"No longer awaiting signature: {request.get_status_display().lower()}.")
    if request.is_controlled and not second_factor:
        raise ActionRefused(
            "A controlled substance is signed with your second factor: approve it to your signing queue "
            "and sign it there."
        )
    if content_hash != signing_hash(request):
        raise ActionRefused("Changed since you reviewed it: open it again before signing.")
    request = _move(
        request,
        to=S.SIGNED,
        actor=provider,
        action="sign",
        note="From the signing queue" if from_queue else "From the refill page",
        signed_by=provider,
        signed_at=now,
        signed_hash=content_hash,
    )
    _decided(request, actor=provider, note="Signed")
    return request


@transaction.atomic
def deny_refill(request: RefillRequest, *, provider: User, reason: str, now: datetime | None = None) -> RefillRequest:
    """The provider refuses the refill, with a reason the pharmacy receives."""
    now = now or timezone.now()
    reason = (reason or "").strip()
    if not reason:
        raise ActionRefused("Give the reason for denying the refill.", status_code=400)
    request = _lock(request)
    _check_provider(provider, request)
    if request.status == S.DENIED:
        raise ActionRefused(f"Already denied by {request.denied_by}.")
    if request.status not in DECIDABLE:
        raise ActionRefused(f"This request is {request.get_status_display().lower()}; it cannot be denied.")
    request = _move(
        request,
        to=S.DENIED,
        actor=provider,
        action="deny",
        note=reason[:300],
        denied_by=provider,
        denied_at=now,
        deny_reason=reason[:300],
    )
    _decided(request, actor=provider, note=f"Denied: {reason[:200]}")
    return request


def _decided(request: RefillRequest, *, actor: User, note: str) -> None:
    _sync_items(request, actor=actor, note=note)
    # Pharmacy and patient are told after commit, by the outbox (retried, never inside the lock).
    outbox.enqueue(NOTIFY_HANDLER, {"request_id": request.pk}, key=f"{NOTIFY_HANDLER}:{request.pk}")


@transaction.atomic
def send_back(request: RefillRequest, *, provider: User, comment: str) -> RefillRequest:
    """The provider returns a pended refill to the VMAs with a comment (a work item for clinical support)."""
    comment = (comment or "").strip()
    if not comment:
        raise ActionRefused("Say what should be done before it is pended again.", status_code=400)
    request = _lock(request)
    _check_provider(provider, request)
    if request.status != S.PENDED:
        raise ActionRefused(f"No longer awaiting signature: {request.get_status_display().lower()}.")
    request = _move(
        request,
        to=S.NEEDS_REVIEW,
        actor=provider,
        action="send_back",
        note=comment[:500],
        returned_comment=comment[:500],
    )
    _sync_items(request, actor=provider, note=f"Sent back: {comment[:200]}")
    return request


@transaction.atomic
def cancel_request(request: RefillRequest, *, actor: User, reason: str) -> RefillRequest:
    """Withdraw an undecided request (the patient no longer needs it, entered in error), with a reason."""
    reason = (reason or "").strip()
    if not reason:
        raise ActionRefused("Give the reason for cancelling.", status_code=400)
    request = _lock(request)
    _check_worker(actor, request)
    if request.status not in (S.RECEIVED, *DECIDABLE):
        raise ActionRefused(f"This request is {request.get_status_display().lower()}; it cannot be cancelled.")
    request = _move(
        request, to=S.CANCELLED, actor=actor, action="cancel", note=reason[:300], cancel_reason=reason[:300]
    )
    for kind in STATE_KINDS:
        close_work_item(kind=kind, subject=request, note=f"Cancelled: {reason[:200]}", actor=actor, cancel=True)
    return request


def finish_if_told(request: RefillRequest, *, actor: User | None, now: datetime | None = None) -> RefillRequest:
    """Pharmacy and patient both told: notified (the turnaround ends), then closed. The caller holds the lock."""
    told_pharmacy = request.pharmacy_status in (
        RefillRequest.PharmacyStatus.ACCEPTED,
        RefillRequest.PharmacyStatus.BY_PHONE,
    )
    if request.status not in (S.SIGNED, S.DENIED) or not told_pharmacy or request.patient_notified_at is None:
        return request
    now = now or timezone.now()
    request = _move(request, to=S.NOTIFIED, actor=actor, action="notified", notified_at=now)
    request = _move(request, to=S.CLOSED, actor=actor, action="close", closed_at=now)
    for kind in (PHARMACY_REFUSED, NOTIFY_PATIENT):
        close_work_item(kind=kind, subject=request, note="Pharmacy and patient notified.", actor=actor)
    return request
