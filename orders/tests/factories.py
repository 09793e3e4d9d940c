"""Orders test set-up: a visit with coded diagnoses, an order of each kind pended by a VMA, TOTP codes."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pyotp
from django.utils import timezone

from encounters.models import Encounter, EncounterDiagnosis
from orders import services, signing, workflow
from orders.models import Order, SecondFactorDevice
from patients.models import Patient
from vma.models import User
from vma.signing import BatchResult

SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"  # a fixed test secret (base32)

KIND_DATA: dict[str, dict[str, Any]] = {
    Order.Kind.LAB: {"title": "Lipid panel", "procedure_code": "80061", "result_expected_days": 5},
    Order.Kind.IMAGING: {"title": "Chest X-ray, 2 views", "procedure_code": "71046", "result_expected_days": 3},
    Order.Kind.PRESCRIPTION: {
        "drug": "atorvastatin",
        "strength": "20 mg",
        "sig": "take 1 tablet daily",
        "quantity": 90,
        "days_supply": 90,
        "refills": 3,
        "pharmacy": "Main Street Pharmacy",
    },
    Order.Kind.REFERRAL: {"specialty": "Cardiology", "reason": "Chest pain on exertion", "urgency": "urgent"},
    Order.Kind.FOLLOW_UP: {"follow_up_in_days": 28},
}
CONTROLLED = {
    "drug": "oxycodone",
    "strength": "5 mg",
    "sig": "take 1 tablet every 6 hours as needed for pain",
    "quantity": 12,
    "refills": 0,
    "pharmacy": "Main Street Pharmacy",
    "controlled_schedule": "CII",
}


def encounter(patient: Patient, provider: User | None = None, **kw: Any) -> Encounter:
    """A visit of the patient's team provider with two coded diagnoses (E78.5 primary, R07.9)."""
    enc = Encounter.objects.create(patient=patient, provider=provider or patient.care_team.provider, **kw)
    EncounterDiagnosis.objects.create(encounter=enc, code="E78.5", description="Hyperlipidemia, unspecified", rank=1)
    EncounterDiagnosis.objects.create(encounter=enc, code="R07.9", description="Chest pain, unspecified", rank=2)
    return enc


def pend(enc: Encounter, vma: User, kind: str = Order.Kind.LAB, dx: str = "E78.5", **fields: Any) -> Order:
    data = {**KIND_DATA[kind], **fields}
    return workflow.pend_order(enc, actor=vma, kind=kind, diagnosis=enc.diagnoses.get(code=dx), **data)


def fresh(order: Order) -> Order:
    return Order.objects.select_related("patient", "encounter", "diagnosis", "pended_by").get(pk=order.pk)


def item(order: Order) -> tuple[str, Any, str]:
    return ("order", order.public_id, services.order_hash(fresh(order)))


def sign(provider: User, *orders: Order, **kw: Any) -> BatchResult:
    return signing.sign_batch(provider, [item(o) for o in orders], **kw)


def enroll(user: User, secret: str = SECRET) -> SecondFactorDevice:
    from orders.second_factor import enroll as do_enroll

    return do_enroll(user, secret=secret, replace=True)


def code_at(when: datetime | None = None, secret: str = SECRET) -> str:
    return pyotp.TOTP(secret).at(when or timezone.now())
