"""Writes other than status moves: recording a request (with red-flag escalation), amending one."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from orders.models import Order
from patients.models import Medication
from vma import outbox
from vma.access import can_access_patient
from vma.exceptions import ActionRefused, NotPermitted
from vma.models import WorkItem
from vma.workflow import open_work_item

from . import workflow
from .days import turnaround_due
from .matching import medication_key, red_flags_in
from .models import RedFlagTerm, RefillEvent, RefillRequest

if TYPE_CHECKING:
    from patients.models import Patient
    from vma.models import User

ADD_PERM = "refills.add_refillrequest"
# A clock a few minutes fast at the pharmacy is not an error; a request from the future is.
CLOCK_SKEW = timedelta(minutes=10)
AMENDABLE = ("strength", "sig", "quantity", "days_supply", "refills", "pharmacy")


@dataclass
class Received:
    request: RefillRequest
    merged_into: RefillRequest | None = None
    red_flags: list[str] = field(default_factory=list)

    @property
    def message(self) -> str:
        """What the requester is told."""
        if self.merged_into is not None:
            when = timezone.localtime(self.merged_into.received_at)
            return (
                f"This medication already has an open refill request (received {when:%m/%d %H:%M}, "
                f"{self.merged_into.get_status_display().lower()}): this one was merged into it and will be "
                "answered with it."
            )
        return f"Refill request recorded: {self.request.get_status_display().lower()}."


def _last_prescription(patient: Patient, key: str, reference: Order | None) -> Order | None:
    """The signed prescription the request refills: the one named, else the latest for the same drug."""
    if reference is not None:
        return reference
    for order in Order.objects.filter(
        patient=patient, kind=Order.Kind.PRESCRIPTION, status=Order.Status.SIGNED
    ).order_by("-signed_at", "-id"):
        if medication_key(order.drug or order.title) == key:
            return order
    return None


def _matching_medication(patient: Patient, key: str, day: Any) -> Medication | None:
    meds = Medication.objects.filter(patient=patient).exclude(stop_date__lt=day).order_by("-start_date", "-id")
    return next((m for m in meds if medication_key(m.name) == key), None)


@transaction.atomic
def receive_request(
    *,
    actor: User,
    patient: Patient,
    medication: str,
    pharmacy: str,
    requester: str,
    source: str,
    urgency: str = RefillRequest.Urgency.ROUTINE,
    request_text: str = "",
    strength: str = "",
    sig: str = "",
    quantity: int | None = None,
    days_supply: int | None = None,
    refills: int | None = None,
    controlled_schedule: str = "",
    callback_phone: str = "",
    received_at: datetime | None = None,
    prescription: Order | None = None,
    now: datetime | None = None,
) -> Received:
    """Record a refill request from a pharmacy, the portal or a phone call.

    A duplicate of an open request (same patient and medication, normalised) is recorded merged into it.
    Red-flag terms in the text escalate at once (a duplicate's too). A new request is checked against the
    protocols at once and lands pended, needing an appointment or needing provider review.
    """
    now = now or timezone.now()
    if not can_access_patient(actor, patient, ADD_PERM):
        raise NotPermitted("You cannot record refill requests for this patient.")
    received_at = received_at or now
    if received_at > now + CLOCK_SKEW:
        raise ValidationError({"received_at": "The request cannot be received in the future."})
    if prescription is not None and (
        prescription.patient_id != patient.pk or prescription.kind != Order.Kind.PRESCRIPTION
    ):
        raise ValidationError({"prescription": "No such prescription for this patient."})
    text = " ".join((medication or "").split())
    key = medication_key(text)
    if not key:
        raise ValidationError({"medication": "Name the medication."})
    order = _last_prescription(patient, key, prescription)
    request = RefillRequest(
        patient=patient,
        provider_id=order.provider_id if order is not None else patient.care_team.provider_id,
        source=source,
        medication=_matching_medication(patient, key, timezone.localdate(now)),
        medication_text=text[:200],
        medication_key=key,
        prescription=order,
        strength=(strength or (order.strength if order else "")).strip()[:60],
        sig=(sig or (order.sig if order else "")).strip()[:200],
        quantity=quantity if quantity is not None else (order.quantity if order else None),
        days_supply=days_supply if days_supply is not None else (order.days_supply if order else None),
        refills=refills if refills is not None else (order.refills if order else None),
        controlled_schedule=controlled_schedule or (order.controlled_schedule if order else ""),
        pharmacy=" ".join((pharmacy or "").split())[:200],
        requester=" ".join((requester or "").split())[:200],
        callback_phone=(callback_phone or "").strip()[:20],
        urgency=urgency,
        request_text=(request_text or "").strip()[:2000],
        received_at=received_at,
        received_by=actor,
        due_at=turnaround_due(received_at),
        created_at=now,
    )
    # The partial unique index decides duplicates (workflow.receive merges); every other rule is checked here.
    request.full_clean(exclude=["status", "provider", "received_by"], validate_constraints=False)
    flags = red_flags_in(request.request_text, [t for t, _q in _red_flag_terms()])
    request.red_flags = flags
    request, merged_into = workflow.receive(request, actor=actor)
    if flags:
        escalate_red_flags(request, actor=actor, now=now)
    if merged_into is None:
        request = workflow.check_request(request, actor=None, now=now)
    return Received(request=request, merged_into=merged_into, red_flags=flags)


def _red_flag_terms() -> list[tuple[str, str]]:
    return list(RedFlagTerm.objects.filter(active=True).order_by("term").values_list("term", "queue"))


def escalate_red_flags(request: RefillRequest, *, actor: User | None, now: datetime) -> WorkItem:
    """Hand the request to a licensed person now: an urgent item naming the terms, its queue notified."""
    queues = dict(_red_flag_terms())
    queue = next((queues[t] for t in request.red_flags if t in queues), "nurse")
    terms = ", ".join(f"“{t}”" for t in request.red_flags)
    item, created = open_work_item(
        kind=workflow.RED_FLAG,
        subject=request,
        patient=request.patient,
        title=f"Red flag on a refill request: {', '.join(request.red_flags)}",
        detail=(
            f"The {request.get_source_display().lower()} request from {request.requester} for "
            f"{request.display_name} mentions {terms}.\n"
            f"Request text: “{request.request_text}”\n"
            + (f"Call back: {request.callback_phone}\n" if request.callback_phone else "")
            + "Handed off by the refill intake: contact the patient now and document what was done when "
            "completing this item."
        ),
        due_at=now,
        priority=WorkItem.Priority.URGENT,
        queue=queue,
        actor=actor,
    )
    if created:
        event_id = item.events.order_by("-id").values_list("id", flat=True).first()
        outbox.enqueue(
            "vma.notify_escalation", {"item_id": item.pk, "event_id": event_id}, key=f"escalation:{event_id}"
        )
        RefillEvent.objects.create(
            request=request,
            actor=actor,
            action="red_flag",
            from_status=request.status,
            to_status=request.status,
            note=f"Red flag {terms}: escalated to the {queue.replace('_', ' ')} queue at {timezone.localtime(now):%H:%M}.",
        )
    return item


def amend_request(request: RefillRequest, *, actor: User, changes: dict[str, Any]) -> RefillRequest:
    """Correct what is asked (e.g. days' supply down to the protocol's maximum), then check it again.

    A provider who reviewed the old version is refused when signing it (its hash changed).
    """
    unknown = set(changes) - set(AMENDABLE)
    if unknown:
        raise ActionRefused(f"These cannot be amended: {', '.join(sorted(unknown))}.", status_code=400)
    with transaction.atomic():
        locked = RefillRequest.objects.select_for_update(of=("self",)).select_related("patient").get(pk=request.pk)
        if not can_access_patient(actor, locked.patient, workflow.WORK_PERM):
            raise NotPermitted("You cannot work this refill request.")
        if locked.status not in (RefillRequest.Status.RECEIVED, *workflow.DECIDABLE):
            raise ActionRefused(f"This request is {locked.get_status_display().lower()}; it cannot be amended.")
        before = {name: getattr(locked, name) for name in changes}
        for name, value in changes.items():
            setattr(locked, name, value.strip() if isinstance(value, str) else value)
        if not locked.pharmacy:
            raise ValidationError({"pharmacy": "Name the pharmacy."})
        locked.full_clean(exclude=["status", "provider", "received_by"], validate_constraints=False)
        changed = {n: (before[n], getattr(locked, n)) for n in changes if before[n] != getattr(locked, n)}
        if not changed:
            return locked
        locked.save(update_fields=[*sorted(changed), "updated_at"])
        RefillEvent.objects.create(
            request=locked,
            actor=actor,
            action="amend",
            from_status=locked.status,
            to_status=locked.status,
            note="; ".join(f"{n.replace('_', ' ')}: {old} → {new}" for n, (old, new) in changed.items()),
        )
        return workflow.check_request(locked, actor=actor)
