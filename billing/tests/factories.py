"""Billing test data: the practice's codes, a payer profile, a completed visit with verified coverage."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from django.utils import timezone

from billing import services
from billing.models import Claim, PayerBillingProfile, ProcedureCode
from billing.services import LineInput
from eligibility.models import EligibilityCheck
from tests.factories import AppointmentFactory, CoverageFactory, PatientFactory

PRACTICE_NPI = "1234567893"  # valid Luhn check digit
TAX_ID = "123456789"


def codes() -> dict[str, ProcedureCode]:
    rows = [
        ("99213", "Office visit, established, low", True, 1, "125.00"),
        ("99214", "Office visit, established, moderate", True, 1, "180.00"),
        ("36415", "Venipuncture", False, 1, "15.00"),
        ("97110", "Therapeutic exercise, 15 min", False, 4, "45.00"),
        ("93000", "ECG with report", False, 1, "60.00"),
    ]
    out = {}
    for code, label, em, units, charge in rows:
        out[code], _ = ProcedureCode.objects.get_or_create(
            code=code,
            defaults={"label": label, "is_em": em, "max_units_per_day": units, "default_charge": Decimal(charge)},
        )
    return out


def verified(coverage: Any, on: date, status: str = EligibilityCheck.Status.ACTIVE) -> EligibilityCheck:
    now = timezone.now()
    return EligibilityCheck.objects.create(
        patient=coverage.patient,
        coverage=coverage,
        service_date=on,
        status=status,
        responded_at=now,
        completed_at=now,
        plan_begin=date(on.year, 1, 1),
        plan_end=date(on.year, 12, 31),
    )


def visit(
    practice: Any,
    *,
    own: bool = True,
    telehealth: bool = False,
    member_id: str = "",
    days_ago: int = 2,
    verify: bool = True,
    profile: dict[str, Any] | None = None,
) -> Any:
    """A completed visit of a patient with an address and a primary coverage verified active."""
    patient = PatientFactory(
        care_team=practice.team if own else practice.other_team,
        address_line="12 Elm Street",
        city="Springfield",
        state="IL",
        postal_code="62704",
    )
    start = timezone.now() - timedelta(days=days_ago)
    coverage = CoverageFactory(
        patient=patient,
        plan_begin=timezone.localdate(start) - timedelta(days=30),
        **({"member_id": member_id} if member_id else {}),
    )
    if profile is not None:
        PayerBillingProfile.objects.update_or_create(payer=coverage.payer, defaults=profile)
    appointment = AppointmentFactory(patient=patient, start_at=start, status="completed", telehealth=telehealth)
    if verify:
        verified(coverage, timezone.localdate(start))
    return appointment


def draft(
    practice: Any,
    *,
    actor: Any = None,
    lines: list[LineInput] | None = None,
    diagnoses: tuple[str, ...] = ("E11.9",),
    **kwargs: Any,
) -> Claim:
    codes()
    appointment = visit(practice, **kwargs)
    claim, _ = services.draft_claim(
        appointment,
        actor=actor,
        diagnoses=diagnoses,
        lines=lines if lines is not None else [LineInput("99213", diagnosis_pointers=[1])],
    )
    return claim
