"""What a signed order sets in motion, run after commit by the outbox (safe to run twice).

- lab / imaging: an outstanding result (patients.ExpectedResult) due `result_expected_days` after signing;
- prescription: sent to the pharmacy through the adapter, the outcome recorded on the order, the drug
  added to the medication list; a refused transmission opens `orders.pharmacy_failed`;
- referral: `referrals.services.create_from_order` starts the referral workflow; if that app cannot
  be imported, `orders.referral_to_send` asks a VMA to send it by hand;
- follow-up: `orders.follow_up_to_book` in the front office's queue, due within 2 business days;
- any order a payer rule covers: a prior authorization through eligibility (open_for_order).

Each step records what it did on the order under the order's row lock, so a redelivered message
does nothing twice. The pharmacy is sent our order id as its reference, so a transmission repeated
after a crash between sending and committing is recognisable as the same prescription.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone

from eligibility.priorauth import add_business_days
from eligibility.priorauth_services import open_for_order
from patients.models import ChartDocument, Medication
from patients.services import record_medication
from patients.workflow import expect_result
from vma import outbox
from vma.workflow import open_work_item

from . import services
from .models import Order
from .pharmacy import PharmacyMessage, get_backend
from .workflow import EFFECTS_HANDLER

log = logging.getLogger(__name__)

K = Order.Kind
PHARMACY_FAILED = "orders.pharmacy_failed"
REFERRAL_TO_SEND = "orders.referral_to_send"
FOLLOW_UP_TO_BOOK = "orders.follow_up_to_book"
FOLLOW_UP_BUSINESS_DAYS = 2


@outbox.handler(EFFECTS_HANDLER)
def apply_effects(payload: dict[str, Any]) -> None:
    with transaction.atomic():
        order = (
            Order.objects.select_for_update(of=("self",))
            .select_related("patient", "encounter", "diagnosis", "signed_by", "provider")
            .filter(pk=payload["order_id"])
            .first()
        )
        if order is None or order.status != Order.Status.SIGNED or order.effects_done_at is not None:
            return
        _prior_authorization(order)
        STEPS[order.kind](order)
        order.effects_done_at = timezone.now()
        order.save(update_fields=["effects_done_at", "updated_at"])


def _signed_day(order: Order) -> Any:
    assert order.signed_at is not None
    return timezone.localdate(order.signed_at)


def _prior_authorization(order: Order) -> None:
    if order.prior_authorization_id is not None or order.kind not in services.PRIOR_AUTH_CATEGORY:
        return
    auth = open_for_order(
        order.patient, on=_signed_day(order), actor=order.signed_by, **services.prior_auth_request(order)
    )
    if auth is not None:
        order.prior_authorization = auth
        order.save(update_fields=["prior_authorization", "updated_at"])


def _expect_result(order: Order) -> None:
    if order.expected_result_id is not None:
        return
    day = _signed_day(order)
    result = expect_result(
        order.patient,
        title=order.title,
        category=ChartDocument.Category.LAB_RESULT if order.kind == K.LAB else ChartDocument.Category.IMAGING,
        expected_by=day + timedelta(days=order.result_expected_days),
        source=f"{order.get_kind_display()} order {order.public_id} signed by {order.signed_by}",
        actor=None,
        ordered_at=day,
    )
    order.expected_result = result
    order.save(update_fields=["expected_result", "updated_at"])


def _prescribe(order: Order) -> None:
    if order.medication_id is None:
        med = record_medication(
            order.patient,
            actor=order.signed_by,  # type: ignore[arg-type]
            name=order.drug,
            dose=order.strength,
            sig=order.sig,
            start_date=_signed_day(order),
            source=Medication.Source.CLINICIAN,
        )
        order.medication = med
        order.save(update_fields=["medication", "updated_at"])
    if order.pharmacy_status:
        return
    signer = order.signed_by
    assert signer is not None
    patient = order.patient
    result = get_backend().send(
        PharmacyMessage(
            kind="new_prescription",
            reference=str(order.public_id),
            patient_name=f"{patient.first_name} {patient.last_name}",
            patient_dob=patient.date_of_birth.isoformat(),
            drug=order.drug,
            strength=order.strength,
            sig=order.sig,
            quantity=order.quantity,
            refills=order.refills,
            pharmacy=order.pharmacy,
            prescriber=str(signer),
            prescriber_npi=signer.npi,
            controlled_schedule=order.controlled_schedule,
            note=order.instructions,
        )
    )
    order.pharmacy_status = Order.PharmacyStatus.ACCEPTED if result.accepted else Order.PharmacyStatus.REFUSED
    order.pharmacy_confirmation = result.confirmation[:300]
    order.sent_at = timezone.now()
    order.save(update_fields=["pharmacy_status", "pharmacy_confirmation", "sent_at", "updated_at"])
    if not result.accepted:
        open_work_item(
            kind=PHARMACY_FAILED,
            subject=order,
            patient=patient,
            title=f"Prescription not accepted by {order.pharmacy}: {order.title}"[:200],
            detail=f"{result.confirmation}. Call the pharmacy or ask the patient for another one, then have "
            "the provider re-send it.",
        )


def _refer(order: Order) -> None:
    if order.referral_ref:
        return
    try:
        from referrals.services import create_from_order  # type: ignore[attr-defined, unused-ignore]
    except ImportError:
        log.warning("orders: referrals.services.create_from_order is missing; order %s goes to a work item", order.pk)
        open_work_item(
            kind=REFERRAL_TO_SEND,
            subject=order,
            patient=order.patient,
            title=f"Send the referral to {order.specialty}"[:200],
            detail=f"{order.get_urgency_display()} referral signed by {order.signed_by}: {order.reason}",
        )
        return
    referral = create_from_order(order)
    order.referral_ref = str(getattr(referral, "public_id", referral.pk))
    order.save(update_fields=["referral_ref", "updated_at"])


def _book_follow_up(order: Order) -> None:
    assert order.signed_at is not None
    when = services.weeks_or_days(order.follow_up_in_days or 0)
    open_work_item(
        kind=FOLLOW_UP_TO_BOOK,
        subject=order,
        patient=order.patient,
        title=f"Book a follow-up in {when}"[:200],
        detail=f"{order.signed_by} ordered a follow-up visit in {when} "
        f"(around {_signed_day(order) + timedelta(days=order.follow_up_in_days or 0):%m/%d/%Y})."
        + (f" {order.instructions}" if order.instructions else ""),
        due_at=add_business_days(order.signed_at, FOLLOW_UP_BUSINESS_DAYS),
    )


STEPS: dict[str, Callable[[Order], None]] = {
    K.LAB: _expect_result,
    K.IMAGING: _expect_result,
    K.PRESCRIPTION: _prescribe,
    K.REFERRAL: _refer,
    K.FOLLOW_UP: _book_follow_up,
}
