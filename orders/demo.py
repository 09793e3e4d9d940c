"""Demo data for orders (called by `seed_demo` after encounters/demo.py): a few orders pended by cs.eve
for dr.rivera's signature, one of them a controlled substance, and dr.rivera's authenticator.

Idempotent: orders are seeded once (none by cs.eve for dr.rivera yet), the authenticator enrolled once.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils import timezone

from encounters.models import Encounter, EncounterDiagnosis
from vma.models import User

from . import workflow
from .models import Order, SecondFactorDevice
from .second_factor import enroll

# Published with the demo (README): add it to an authenticator app to sign the demo's controlled order.
DEMO_OTP_SECRET = "RIVERADEMOTOTPKEYFORSIGNING2345Q"  # noqa: S105 - the synthetic demo clinic's published secret
PROVIDER, VMA = "dr.rivera", "cs.eve"
DIAGNOSES = [("E78.5", "Hyperlipidemia, unspecified"), ("R07.9", "Chest pain, unspecified")]
ORDERS: list[list[dict[str, Any]]] = [
    [
        {"kind": "lab", "title": "Lipid panel", "procedure_code": "80061", "result_expected_days": 5},
        {
            "kind": "prescription",
            "drug": "atorvastatin",
            "strength": "20 mg",
            "sig": "take 1 tablet daily",
            "quantity": 90,
            "days_supply": 90,
            "refills": 3,
            "pharmacy": "Main Street Pharmacy",
        },
        {"kind": "follow_up", "follow_up_in_days": 28},
    ],
    [
        {"kind": "imaging", "title": "Chest X-ray, 2 views", "procedure_code": "71046", "result_expected_days": 3},
        {"kind": "referral", "specialty": "Cardiology", "reason": "Chest pain on exertion", "urgency": "urgent"},
        {
            "kind": "prescription",
            "drug": "oxycodone",
            "strength": "5 mg",
            "sig": "take 1 tablet every 6 hours as needed for severe pain",
            "quantity": 12,
            "refills": 0,
            "pharmacy": "Main Street Pharmacy",
            "controlled_schedule": "CII",
        },
    ],
]


def _encounters(provider: User) -> list[Encounter]:
    """Two unsigned visits of the provider: the encounters app's demo ones, else made from appointments."""
    from scheduling.models import Appointment

    found = list(
        Encounter.objects.filter(provider=provider)
        .exclude(status=Encounter.Status.SIGNED)
        .filter(diagnoses__isnull=False)
        .distinct()
        .order_by("date_of_service", "pk")[:2]
    )
    if len(found) >= 2:
        return found
    visits = (
        Appointment.objects.filter(provider=provider, encounter__isnull=True, start_at__gte=timezone.now())
        .select_related("patient")
        .order_by("start_at")
    )
    for visit in visits[: 2 - len(found)]:
        enc = Encounter.objects.create(
            appointment=visit,
            patient=visit.patient,
            provider=provider,
            date_of_service=timezone.localdate(visit.start_at),
            chief_complaint=visit.reason or "Follow-up",
        )
        for rank, (code, description) in enumerate(DIAGNOSES, start=1):
            EncounterDiagnosis.objects.create(encounter=enc, code=code, description=description, rank=rank)
        found.append(enc)
    return found


@transaction.atomic
def seed() -> None:
    provider = User.objects.filter(username=PROVIDER).first()
    vma = User.objects.filter(username=VMA).first()
    if provider is None or vma is None:
        return  # not the demo clinic
    if not SecondFactorDevice.objects.filter(user=provider).exists():
        enroll(provider, secret=DEMO_OTP_SECRET, confirmed=True)
    if Order.objects.filter(provider=provider, pended_by=vma).exists():
        return
    for enc, orders in zip(_encounters(provider), ORDERS, strict=False):
        diagnosis = enc.diagnoses.order_by("rank", "pk").first()
        for fields in orders:
            data = dict(fields)
            kind = data.pop("kind")
            workflow.pend_order(enc, actor=vma, kind=kind, diagnosis=diagnosis, **data)
