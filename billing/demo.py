"""Demo billing data for seed_demo: the practice's codes, payer profiles, a fee schedule, one draft claim."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from django.utils import timezone

from patients.models import Coverage, Payer
from scheduling.models import Appointment

from . import services
from .models import FeeScheduleLine, PayerBillingProfile, ProcedureCode

# code, the practice's own label (not the AMA's text), E/M?, max units a day, charge
CODES = [
    ("99212", "Established visit, straightforward", True, 1, "95.00"),
    ("99213", "Established visit, low complexity", True, 1, "125.00"),
    ("99214", "Established visit, moderate complexity", True, 1, "180.00"),
    ("99203", "New patient visit, low complexity", True, 1, "160.00"),
    ("36415", "Blood draw", False, 1, "15.00"),
    ("93000", "ECG with interpretation", False, 1, "60.00"),
    ("97110", "Therapeutic exercise (15 min)", False, 4, "45.00"),
    ("G0506", "CCM initiation add-on assessment", False, 1, "65.00"),
]


def seed_billing() -> None:
    codes = {
        code: ProcedureCode.objects.create(
            code=code, label=label, is_em=em, max_units_per_day=units, default_charge=Decimal(charge)
        )
        for code, label, em, units, charge in CODES
    }
    for payer in Payer.objects.all():
        PayerBillingProfile.objects.get_or_create(
            payer=payer,
            defaults={
                "timely_filing_days": payer.timely_filing_days,
                "requires_referral": payer.requires_referral,
                "telehealth_place_of_service": "10",
                "telehealth_modifier_95": not payer.payer_id.startswith("MCR"),
                "claim_filing_indicator": "MB" if payer.payer_id.startswith("MCR") else "CI",
            },
        )
        for code in codes.values():
            FeeScheduleLine.objects.create(
                payer=payer,
                procedure=code,
                allowed_amount=(code.default_charge * Decimal("0.72")).quantize(Decimal("0.01")),
                effective_from=date(timezone.localdate().year, 1, 1),
            )
    coverage = Coverage.objects.filter(rank=Coverage.Rank.PRIMARY, active=True).select_related("patient").first()
    if coverage is None:
        return
    patient = coverage.patient
    start = timezone.now() - timedelta(days=1)
    visit = Appointment.objects.create(
        patient=patient,
        provider=patient.care_team.provider,
        start_at=start.replace(hour=15, minute=0, second=0, microsecond=0),
        duration_minutes=20,
        visit_type="Follow-up",
        status=Appointment.Status.COMPLETED,
    )
    services.draft_claim(
        visit,
        actor=None,
        coverage=coverage,
        diagnoses=["I10", "E11.9"],
        lines=[
            services.LineInput("99213", diagnosis_pointers=[1, 2]),
            services.LineInput("36415", diagnosis_pointers=[2]),
        ],
    )
