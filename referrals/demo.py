"""Demo referrals for seed_demo: a synthetic specialist directory and referrals in several states.

Idempotent: specialists are found by NPI, and the referrals are made only while none of the
demo specialists has one. Everything goes through the services and the workflow (with clocks in
the past), so contacts, work items and audit rows are what the practice would see.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from django.utils import timezone

from patients.models import Coverage, Payer
from vma.models import User
from vma.validators import npi_check_digit

from . import followups, services, workflow
from .models import Referral, Specialist

# organisation, clinician, specialty, contact, accepts the HMO?, NPI's first nine digits
DIRECTORY: list[tuple[str, str, str, str, bool, str]] = [
    ("Harbor Heart Associates", "Dr. Maya Patel", "Cardiology", "fax", True, "193300001"),
    ("Valley Cardiology Group", "Dr. Tom Reyes", "Cardiology", "secure_message", False, "193300002"),
    ("Clearview Dermatology", "Dr. Ines Moreau", "Dermatology", "api", True, "193300003"),
    ("Lakeshore GI", "Dr. Sam Okoro", "Gastroenterology", "fax", True, "193300004"),
    ("Summit Orthopedics", "Dr. Lena Fischer", "Orthopedics", "fax", False, "193300005"),
    ("Riverside Endocrine", "Dr. Ravi Menon", "Endocrinology", "secure_message", True, "193300006"),
]
DEMO_PDF = b"%PDF-1.4\n% Synthetic consult note for the demo clinic.\n%%EOF\n"


def _npi(first_nine: str) -> str:
    return first_nine + str(npi_check_digit(first_nine))


def _directory() -> dict[str, Specialist]:
    hmo = list(Payer.objects.filter(requires_referral=True))
    others = list(Payer.objects.filter(requires_referral=False))
    out: dict[str, Specialist] = {}
    for org, name, specialty, contact, takes_hmo, digits in DIRECTORY:
        slug = org.split()[0].lower()
        account = None
        if contact == Specialist.Contact.API:
            account, created = User.objects.get_or_create(
                username=f"partner.{slug}",
                defaults={"first_name": org, "is_service_account": True, "email": f"it@{slug}.invalid"},
            )
            if created:
                account.set_unusable_password()
                account.save(update_fields=["password"])
        s, created = Specialist.objects.get_or_create(
            npi=_npi(digits),
            defaults={
                "organisation": org,
                "name": name,
                "specialty": specialty,
                "contact_method": contact,
                "fax": f"555-02{digits[-2:]}" if contact == Specialist.Contact.FAX else "",
                "secure_address": f"referrals@{slug}.direct.invalid"
                if contact == Specialist.Contact.SECURE_MESSAGE
                else "",
                "phone": f"555-03{digits[-2:]}",
                "address": f"{int(digits[-2:]) * 10 + 100} Demo Street",
                "service_account": account,
            },
        )
        if created:
            s.accepted_payers.set(others + (hmo if takes_hmo else []))
        out[org] = s
    return out


def _staff(coverage: Coverage) -> User | None:
    """A clinical-support VMA of the patient's care team (who works referrals)."""
    from vma.access import care_team_members

    return (
        care_team_members(coverage.patient.care_team)
        .filter(groups__name="clinical_support")
        .order_by("username")
        .first()
    )


def _ready(coverage: Coverage, to: Specialist, reason: str, code: str, *, now: datetime, **auth: object) -> Referral:
    patient = coverage.patient
    actor = _staff(coverage) or patient.care_team.provider
    referral = services.create_referral(
        patient, actor=patient.care_team.provider, specialty=to.specialty, reason=reason, diagnosis_code=code, now=now
    )
    return services.update_packet(
        referral,
        actor=actor,
        now=now,
        specialist=to,
        clinical_notes=f"{reason}. Vitals stable; see the attached visit summary.",
        results_not_needed=True,
        results_note="No recent results relevant to the question.",
        coverage=coverage,
        **auth,
    )


@transaction.atomic
def seed() -> None:
    specialists = _directory()
    if Referral.objects.filter(specialist__in=specialists.values()).exists():
        return
    coverages = list(
        Coverage.objects.filter(rank=Coverage.Rank.PRIMARY, active=True)
        .select_related("patient__care_team", "payer")
        .order_by("patient_id")[:60]
    )
    hmo = [c for c in coverages if c.payer.requires_referral]
    plain = [c for c in coverages if not c.payer.requires_referral]
    if not plain:
        return
    now = timezone.now()
    days = lambda n: now - timedelta(days=n)  # noqa: E731
    heart, derm, gi, ortho = (
        specialists["Harbor Heart Associates"],
        specialists["Clearview Dermatology"],
        specialists["Lakeshore GI"],
        specialists["Summit Orthopedics"],
    )
    plan = [
        ("draft", heart, "Palpitations with presyncope", "R00.2"),
        ("sent", gi, "Iron-deficiency anaemia: colonoscopy?", "D50.9"),
        ("acknowledged", derm, "Changing pigmented lesion, left shoulder", "D48.5"),
        ("scheduled", heart, "Exertional chest pain", "R07.9"),
        ("seen", ortho, "Right knee pain, effusion", "M25.561"),
        ("report_received", heart, "New murmur", "R01.1"),
        ("closed", derm, "Psoriasis not controlled", "L40.0"),
        ("declined", ortho, "Low back pain", "M54.50"),
    ]
    for (state, to, reason, code), coverage in zip(plan, plain, strict=False):
        actor = _staff(coverage) or coverage.patient.care_team.provider
        referral = _ready(coverage, to, reason, code, now=days(16))
        if state == "draft":
            continue
        referral = workflow.send_referral(referral, actor=actor, now=days(15 if state != "sent" else 5))
        if state == "sent":
            continue
        if state == "declined":
            workflow.decline_referral(
                referral, actor=actor, reason="Not taking new spine patients", channel="phone", now=days(12)
            )
            continue
        referral = workflow.acknowledge_referral(referral, actor=actor, channel="phone", now=days(13))
        if state == "acknowledged":
            continue
        visit = now + timedelta(days=6) if state == "scheduled" else days(9)
        referral = workflow.schedule_referral(
            referral, actor=actor, appointment_at=visit, channel="phone", now=days(12)
        )
        if state == "scheduled":
            continue
        if state == "seen":
            workflow.mark_seen(referral, actor=actor, channel="phone", now=days(8))
            continue
        report = SimpleUploadedFile("consult.pdf", DEMO_PDF, content_type="application/pdf")
        referral = services.attach_report(referral, actor=actor, upload=report, channel="fax", now=days(5))
        if state == "closed":
            workflow.review_report(referral, actor=referral.referring_provider, note="Plan agreed", now=days(4))
    # An HMO patient whose authorization runs out in ten days, visit not booked yet.
    if hmo:
        coverage = hmo[0]
        referral = _ready(
            coverage,
            heart,
            "Hypertension resistant to three drugs",
            "I10",
            now=days(20),
            authorization_number="EVG-2026-0417",
            visits_allowed=2,
            authorization_expires_on=timezone.localdate() + timedelta(days=10),
        )
        actor = _staff(coverage) or coverage.patient.care_team.provider
        workflow.send_referral(referral, actor=actor, now=days(19))
    followups.sweep(now=now)
