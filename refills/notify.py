"""Telling the pharmacy and the patient after a refill is signed or denied (outbox handler), and what a
VMA does when that fails: resend to (another) pharmacy, or record that they told the pharmacy or the
patient by phone.

The handler runs after commit and may run twice: it skips whatever was already done. A pharmacy the
adapter cannot reach raises, so the outbox retries it (the message carries our reference, so the pharmacy
sees one request even if a retry resends it); a pharmacy that refuses opens a work item with its reason.
The patient hears the outcome on their channel, without the drug's name (texts and calls are not private);
for a signed refill only once the pharmacy has it.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.utils import timezone

from orders.pharmacy import PharmacyMessage, get_backend
from scheduling.notify import sms_backend, voice_backend
from vma import outbox
from vma.access import can_access_patient
from vma.exceptions import ActionRefused, NotPermitted
from vma.outbox import handler
from vma.workflow import close_work_item, open_work_item

from . import workflow
from .models import RefillEvent, RefillRequest

if TYPE_CHECKING:
    from vma.models import User

log = logging.getLogger(__name__)
P = RefillRequest.PharmacyStatus
TOLD_PHARMACY = (P.ACCEPTED, P.BY_PHONE)


def pharmacy_message(request: RefillRequest) -> PharmacyMessage:
    signed = request.status == RefillRequest.Status.SIGNED
    prescriber = request.signed_by if signed else request.denied_by
    prescriber = prescriber or request.provider
    return PharmacyMessage(
        kind="refill_authorized" if signed else "refill_denied",
        reference=str(request.public_id),
        patient_name=request.patient.full_name,
        patient_dob=request.patient.date_of_birth.isoformat(),
        drug=request.medication_text,
        strength=request.strength,
        sig=request.sig,
        quantity=request.quantity,
        refills=request.refills,
        pharmacy=request.pharmacy,
        prescriber=str(prescriber),
        prescriber_npi=prescriber.npi,
        controlled_schedule=request.controlled_schedule,
        note="" if signed else request.deny_reason,
    )


def patient_text(request: RefillRequest) -> str:
    asked = timezone.localtime(request.received_at)
    if request.status == RefillRequest.Status.SIGNED:
        body = f"Your refill request of {asked:%b %d} was approved and sent to {request.pharmacy}."
    else:
        body = f"Your refill request of {asked:%b %d} was not approved. Please call the office so we can help with next steps."
    return f"{settings.PRACTICE_NAME}: {body}"


def _send_to_patient(request: RefillRequest) -> tuple[str, str]:
    """(channel used, "") or ("", why it could not be sent). The preferred channel first."""
    patient = request.patient
    reachable = {"sms": bool(patient.phone), "voice": bool(patient.phone), "email": bool(patient.email)}
    # The practice has no patient portal messaging: portal users get a text, else an email.
    order = [patient.preferred_channel, "sms", "email"]
    channel = next((c for c in order if reachable.get(c)), "")
    if not channel:
        return "", "The patient has no phone number or email address on file."
    body = patient_text(request)
    try:
        if channel == "email":
            send_mail("About your refill request", body, settings.DEFAULT_FROM_EMAIL, [patient.email])
        elif channel == "voice":
            voice_backend().call(patient.phone, body)
        else:
            sms_backend().send(patient.phone, body)
    except Exception as exc:  # noqa: BLE001 - any channel failure: a person calls instead
        log.warning("refills: could not tell the patient about request %s: %s", request.pk, exc)
        return "", f"The {channel} message could not be sent ({type(exc).__name__}: {exc})."
    return channel, ""


def _lock(pk: int) -> RefillRequest:
    return (
        RefillRequest.objects.select_for_update(of=("self",))
        .select_related("patient", "provider", "signed_by", "denied_by")
        .get(pk=pk)
    )


def _event(request: RefillRequest, actor: User | None, action: str, note: str) -> None:
    RefillEvent.objects.create(
        request=request, actor=actor, action=action, from_status=request.status, to_status=request.status, note=note
    )


def _tell_pharmacy(request: RefillRequest) -> bool:
    """Send once; True when the pharmacy has it. A refusal opens a work item (no retry: a person decides)."""
    if request.pharmacy_status in TOLD_PHARMACY:
        return True
    result = get_backend().send(pharmacy_message(request))  # raises when unreachable: the outbox retries
    now = timezone.now()
    if result.accepted:
        request.pharmacy_status, request.pharmacy_reference = P.ACCEPTED, result.confirmation[:200]
        request.pharmacy_notified_at = now
        request.save(update_fields=["pharmacy_status", "pharmacy_reference", "pharmacy_notified_at", "updated_at"])
        _event(request, None, "pharmacy", f"{request.pharmacy} accepted ({result.confirmation[:150]}).")
        close_work_item(kind=workflow.PHARMACY_REFUSED, subject=request, note=f"Accepted by {request.pharmacy}.")
        return True
    request.pharmacy_status, request.pharmacy_reference = P.REFUSED, result.confirmation[:200]
    request.save(update_fields=["pharmacy_status", "pharmacy_reference", "updated_at"])
    _event(request, None, "pharmacy", f"{request.pharmacy} refused: {result.confirmation[:200]}")
    open_work_item(
        kind=workflow.PHARMACY_REFUSED,
        subject=request,
        patient=request.patient,
        title=f"Pharmacy refused the refill: {request.display_name}",
        detail=(
            f"{request.pharmacy} refused the {request.get_status_display().lower()} refill: "
            f"{result.confirmation}. Call the pharmacy or the patient, then resend it (to another pharmacy if "
            "need be) or record that the pharmacy was told by phone, on the refill page."
        ),
        due_at=max(request.due_at, now),
    )
    return False


def _tell_patient(request: RefillRequest) -> None:
    if request.patient_notified_at is not None:
        return
    channel, problem = _send_to_patient(request)
    if channel:
        request.patient_notified_at, request.patient_channel = timezone.now(), channel
        request.save(update_fields=["patient_notified_at", "patient_channel", "updated_at"])
        _event(request, None, "patient", f"Patient told by {channel}.")
        close_work_item(kind=workflow.NOTIFY_PATIENT, subject=request, note=f"Told by {channel}.")
        return
    _event(request, None, "patient", problem)
    open_work_item(
        kind=workflow.NOTIFY_PATIENT,
        subject=request,
        patient=request.patient,
        title=f"Tell the patient about their refill: {request.display_name}",
        detail=f"{problem} Call the patient ({request.get_status_display().lower()}"
        + (f": {request.deny_reason}" if request.deny_reason else "")
        + "), then record it on the refill page.",
        due_at=max(request.due_at, timezone.now()),
    )


@handler(workflow.NOTIFY_HANDLER)
def notify(payload: dict[str, Any]) -> None:
    """Tell the pharmacy, then the patient; close the request when both know. Safe to run twice."""
    request = _lock(payload["request_id"])
    if request.status not in (RefillRequest.Status.SIGNED, RefillRequest.Status.DENIED):
        return
    if request.pharmacy_status == P.REFUSED and not payload.get("resend"):
        return  # a person is on it (the refused item); a resend carries resend=True
    pharmacy_has_it = _tell_pharmacy(request)
    if pharmacy_has_it or request.status == RefillRequest.Status.DENIED:
        _tell_patient(request)
    workflow.finish_if_told(request, actor=None)


def _locked_for_work(request: RefillRequest, actor: User) -> RefillRequest:
    locked = _lock(request.pk)
    if not can_access_patient(actor, locked.patient, workflow.WORK_PERM):
        raise NotPermitted("You cannot work this refill request.")
    if locked.status not in (RefillRequest.Status.SIGNED, RefillRequest.Status.DENIED):
        raise ActionRefused(f"This request is {locked.get_status_display().lower()}; nothing is waiting to be told.")
    return locked


@transaction.atomic
def resend_to_pharmacy(request: RefillRequest, *, actor: User, pharmacy: str = "") -> RefillRequest:
    """After a refusal: send again, to the pharmacy named (another one if the patient chose so)."""
    locked = _locked_for_work(request, actor)
    if locked.pharmacy_status != P.REFUSED:
        raise ActionRefused("The pharmacy did not refuse this refill; there is nothing to resend.")
    pharmacy = " ".join((pharmacy or "").split())[:200]
    note = "Resent to the pharmacy"
    if pharmacy and pharmacy != locked.pharmacy:
        note = f"Resent to {pharmacy} (was {locked.pharmacy})"
        locked.pharmacy = pharmacy
    locked.pharmacy_status, locked.pharmacy_reference = P.NONE, ""
    locked.save(update_fields=["pharmacy", "pharmacy_status", "pharmacy_reference", "updated_at"])
    _event(locked, actor, "resend_pharmacy", note)
    sends = RefillEvent.objects.filter(request=locked, action="resend_pharmacy").count()
    outbox.enqueue(
        workflow.NOTIFY_HANDLER,
        {"request_id": locked.pk, "resend": True},
        key=f"{workflow.NOTIFY_HANDLER}:{locked.pk}:resend:{sends}",
    )
    return locked


@transaction.atomic
def record_pharmacy_told(request: RefillRequest, *, actor: User, note: str) -> RefillRequest:
    """A VMA told the pharmacy by phone (or fax): the refused transmission is resolved."""
    note = (note or "").strip()
    if not note:
        raise ActionRefused("Say whom you told at the pharmacy, and how.", status_code=400)
    locked = _locked_for_work(request, actor)
    if locked.pharmacy_status in TOLD_PHARMACY:
        raise ActionRefused("The pharmacy already has it.")
    locked.pharmacy_status, locked.pharmacy_reference = P.BY_PHONE, note[:200]
    locked.pharmacy_notified_at = timezone.now()
    locked.save(update_fields=["pharmacy_status", "pharmacy_reference", "pharmacy_notified_at", "updated_at"])
    _event(locked, actor, "pharmacy", f"Pharmacy told by phone: {note[:200]}")
    close_work_item(kind=workflow.PHARMACY_REFUSED, subject=locked, note=note[:200], actor=actor)
    _tell_patient(locked)
    return workflow.finish_if_told(locked, actor=actor)


@transaction.atomic
def record_patient_told(request: RefillRequest, *, actor: User, note: str) -> RefillRequest:
    """A VMA told the patient by phone."""
    note = (note or "").strip()
    if not note:
        raise ActionRefused("Say how the patient was told.", status_code=400)
    locked = _locked_for_work(request, actor)
    if locked.patient_notified_at is not None:
        raise ActionRefused("The patient was already told.")
    locked.patient_notified_at, locked.patient_channel = timezone.now(), "phone"
    locked.save(update_fields=["patient_notified_at", "patient_channel", "updated_at"])
    _event(locked, actor, "patient", f"Patient told by phone: {note[:200]}")
    close_work_item(kind=workflow.NOTIFY_PATIENT, subject=locked, note=note[:200], actor=actor)
    return workflow.finish_if_told(locked, actor=actor)
