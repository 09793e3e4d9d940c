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


def at_payer(
    practice: Any,
    *,
    status: str = "accepted",
    lines: list[LineInput] | None = None,
    payer: Any = None,
    own: bool = True,
    pcn: str = "",
    member_id: str = "",
    days_ago: int = 2,
) -> Claim:
    """A claim the payer has (accepted by default), with the practice's identity and, if given, a shared payer."""
    claim = draft(practice, lines=lines, own=own, member_id=member_id, days_ago=days_ago)
    if payer is not None:
        claim.coverage.payer = payer
        claim.coverage.save(update_fields=["payer"])
    now = timezone.now()
    Claim.objects.filter(pk=claim.pk).update(
        status=status,
        payer=payer or claim.payer,
        billing_npi=PRACTICE_NPI,
        billing_tax_id=TAX_ID,
        submitted_at=now - timedelta(days=1),
        accepted_at=now - timedelta(days=1) if status != "submitted" else None,
        **({"patient_control_number": pcn} if pcn else {}),
    )
    return Claim.objects.select_related("patient", "coverage", "payer").get(pk=claim.pk)


def paid_in_full(claim: Claim, *, allowed_share: str = "0.80", coinsurance: str = "0.20") -> Any:
    """The payer's answer allowing a share of each line's charge, the patient paying coinsurance of it."""
    from billing.x12.x835_build import Cas, LineAnswer

    answers = []
    for ln in claim.lines.order_by("line_number"):
        allowed = (ln.charge * Decimal(allowed_share)).quantize(Decimal("0.01"))
        pr = (allowed * Decimal(coinsurance)).quantize(Decimal("0.01"))
        adjustments = [Cas("CO", "45", ln.charge - allowed)] if ln.charge > allowed else []
        if pr:
            adjustments.append(Cas("PR", "2", pr))
        answers.append(
            LineAnswer(
                ln.procedure_code,
                ln.charge,
                allowed - pr,
                modifiers=ln.modifiers,
                units=ln.units,
                service_date=ln.service_date,
                adjustments=adjustments,
            )
        )
    return answer(claim, lines=answers)


def answer(
    claim: Claim,
    *,
    lines: list[Any],
    status_code: str = "1",
    adjustments: list[Any] | None = None,
    remarks: list[str] | None = None,
    payer_claim_number: str = "",
) -> Any:
    from billing.x12.x835_build import ClaimAnswer

    paid = sum((ln.paid for ln in lines), Decimal(0))
    pr = sum((a.amount for ln in lines for a in ln.adjustments if a.group == "PR"), Decimal(0))
    pr += sum((a.amount for a in adjustments or [] if a.group == "PR"), Decimal(0))
    return ClaimAnswer(
        patient_control_number=claim.patient_control_number,
        status_code=status_code,
        charge=claim.total_charge if status_code != "22" else -claim.total_charge,
        paid=paid,
        payer_claim_number=payer_claim_number or f"ICN{claim.pk:08d}",
        patient_last_name=claim.patient.last_name,
        patient_first_name=claim.patient.first_name,
        member_id=claim.coverage.member_id,
        service_date=claim.service_date,
        patient_responsibility=pr or None,
        adjustments=adjustments or [],
        remarks=remarks or [],
        lines=lines,
    )


def file_835(answers: list[Any], *, payer: Any, trace: str = "EFT0001", icn: int = 1, day: date | None = None) -> str:
    from datetime import datetime

    from billing.x12.x835_build import build_835

    day = day or timezone.localdate()
    return build_835(
        answers,
        payer_name=payer.name,
        payer_id=payer.payer_id,
        payee_name="Demo Practice",
        payee_npi=PRACTICE_NPI,
        trace_number=trace,
        payment_date=day,
        when=datetime(day.year, day.month, day.day, 8, icn % 60),
        interchange_control_number=icn,
    )
