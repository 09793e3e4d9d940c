"""Demo billing data for seed_demo: the practice's codes, payer profiles, a fee schedule, one draft claim, and
a posted remittance with a paid, a partially paid and a denied claim, patient balances and a payment."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from django.utils import timezone

from patients.models import Coverage, Payer
from scheduling.models import Appointment

from . import ledger, remittance, services
from .models import Claim, FeeScheduleLine, PayerBillingProfile, ProcedureCode, RemittanceFile
from .x12.x835_build import Cas, ClaimAnswer, LineAnswer, build_835

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
    seed_remittance()


KEYWORDS = {
    "36415": "venipuncture, blood draw, phlebotomy",
    "93000": "ecg, ekg, electrocardiogram",
    "97110": "therapeutic exercise, exercises",
    "G0506": "care management assessment, care plan",
}


def _accepted_claim(coverage: Coverage, *, days_ago: int, lines: list[services.LineInput]) -> Claim:
    """A completed visit's claim as the payer has it (the demo skips the clearinghouse round trip)."""
    patient = coverage.patient
    start = (timezone.now() - timedelta(days=days_ago)).replace(hour=10, minute=0, second=0, microsecond=0)
    visit = Appointment.objects.create(
        patient=patient,
        provider=patient.care_team.provider,
        start_at=start,
        duration_minutes=20,
        visit_type="Follow-up",
        status=Appointment.Status.COMPLETED,
    )
    claim, _ = services.draft_claim(visit, actor=None, coverage=coverage, diagnoses=["E11.9"], lines=lines)
    Claim.objects.filter(pk=claim.pk).update(
        status=Claim.Status.ACCEPTED, submitted_at=start + timedelta(days=1), accepted_at=start + timedelta(days=1)
    )
    return Claim.objects.select_related("patient", "coverage", "payer").get(pk=claim.pk)


def _line(code: str, charge: Decimal, paid: Decimal, *adjustments: Cas, remarks: tuple[str, ...] = ()) -> LineAnswer:
    return LineAnswer(code, charge, paid, adjustments=list(adjustments), remarks=list(remarks))


def _claim_answer(claim: Claim, status: str, lines: list[LineAnswer], number: str) -> ClaimAnswer:
    return ClaimAnswer(
        patient_control_number=claim.patient_control_number,
        status_code=status,
        charge=claim.total_charge,
        paid=sum((ln.paid for ln in lines), Decimal(0)),
        payer_claim_number=number,
        patient_last_name=claim.patient.last_name,
        patient_first_name=claim.patient.first_name,
        member_id=claim.coverage.member_id,
        service_date=claim.service_date,
        patient_responsibility=sum((a.amount for ln in lines for a in ln.adjustments if a.group == "PR"), Decimal(0))
        or None,
        lines=lines,
    )


def seed_remittance() -> None:
    """An 835 from one payer posted for real: a paid claim (coinsurance to the patient), a partially paid one
    (a bundled line denied), a denied one (no authorization: a denial work item), an older balance paid in part."""
    if RemittanceFile.objects.exists():
        return
    for code, words in KEYWORDS.items():
        ProcedureCode.objects.filter(code=code, keywords="").update(keywords=words)
    coverages = list(
        Coverage.objects.filter(rank=Coverage.Rank.PRIMARY, active=True)
        .select_related("patient__care_team", "payer")
        .order_by("pk")[1:5]
    )
    if len(coverages) < 4:
        return
    payer = coverages[0].payer
    for cov in coverages[1:]:
        cov.payer = payer
        cov.save(update_fields=["payer"])
    L = services.LineInput
    paid = _accepted_claim(coverages[0], days_ago=12, lines=[L("99213", diagnosis_pointers=[1])])
    partial = _accepted_claim(
        coverages[1], days_ago=20, lines=[L("99214", diagnosis_pointers=[1]), L("93000", diagnosis_pointers=[1])]
    )
    denied = _accepted_claim(coverages[2], days_ago=35, lines=[L("93000", diagnosis_pointers=[1])])
    older = _accepted_claim(coverages[3], days_ago=80, lines=[L("99213", diagnosis_pointers=[1])])
    D = Decimal
    answers = [
        _claim_answer(
            paid,
            "1",
            [_line("99213", D("125"), D("72"), Cas("CO", "45", D("35")), Cas("PR", "2", D("18")))],
            "DEMO0001",
        ),
        _claim_answer(
            partial,
            "1",
            [
                _line("99214", D("180"), D("103.68"), Cas("CO", "45", D("50.40")), Cas("PR", "2", D("25.92"))),
                _line("93000", D("60"), D("0"), Cas("CO", "97", D("60")), remarks=("M15",)),
            ],
            "DEMO0002",
        ),
        _claim_answer(denied, "4", [_line("93000", D("60"), D("0"), Cas("CO", "197", D("60")))], "DEMO0003"),
    ]
    day = timezone.localdate()
    text = build_835(
        answers,
        payer_name=payer.name,
        payer_id=payer.payer_id,
        payee_name=paid.billing_name or "Demo Practice",
        payee_npi=paid.billing_npi or "1234567893",
        trace_number=f"DEMO{day:%Y%m%d}",
        payment_date=day,
        when=timezone.localtime(),
        interchange_control_number=9001,
    )
    remittance.import_835(text, source=RemittanceFile.Source.CLEARINGHOUSE, filename="demo-era.835")
    # An older visit's coinsurance, posted 75 days ago and paid in part: a final-notice balance.
    old = build_835(
        [
            _claim_answer(
                older,
                "1",
                [_line("99213", D("125"), D("60"), Cas("CO", "45", D("35")), Cas("PR", "1", D("30")))],
                "DEMO0004",
            )
        ],
        payer_name=payer.name,
        payer_id=payer.payer_id,
        payee_name=older.billing_name or "Demo Practice",
        payee_npi=older.billing_npi or "1234567893",
        trace_number=f"DEMO{day:%Y%m%d}OLD",
        payment_date=day - timedelta(days=75),
        when=timezone.localtime() - timedelta(days=75),
        interchange_control_number=9002,
    )
    remittance.import_835(
        old,
        source=RemittanceFile.Source.CLEARINGHOUSE,
        filename="demo-era-old.835",
        now=timezone.now() - timedelta(days=75),
    )
    ledger.record_payment(
        older.patient, ledger.PaymentInput(amount="10.00", method="check", reference="1042"), actor=None
    )
    ledger.sweep_collections()
