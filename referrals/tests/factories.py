"""Referral test set-up: specialists (with partner accounts and tokens), ready packets, referrals in any state."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any

from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from encounters.models import Encounter, EncounterDiagnosis
from orders.models import Order
from patients.models import ChartDocument, Patient, Payer
from referrals import workflow
from referrals.models import Referral, Specialist
from tests.factories import PayerFactory, UserFactory, next_npi
from vma.api.auth import create_token
from vma.models import User

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
S = Referral.Status


def at(day: date, hour: int = 10, minute: int = 0) -> datetime:
    return timezone.make_aware(datetime.combine(day, time(hour, minute)))


def specialist(
    *,
    specialty: str = "Cardiology",
    organisation: str = "Heart Center",
    contact_method: str = Specialist.Contact.FAX,
    payers: tuple[Payer, ...] = (),
    account: User | None = None,
    **kw: Any,
) -> Specialist:
    s = Specialist.objects.create(
        organisation=organisation,
        name=kw.pop("name", "Dr. Lee"),
        specialty=specialty,
        npi=next_npi(),
        contact_method=contact_method,
        fax="555-0100" if contact_method == Specialist.Contact.FAX else "",
        secure_address="heart@direct.example.invalid" if contact_method == Specialist.Contact.SECURE_MESSAGE else "",
        phone="555-0101",
        service_account=account,
        **kw,
    )
    if payers:
        s.accepted_payers.set(payers)
    return s


def specialist_with_token(**kw: Any) -> tuple[Specialist, User, str]:
    """An API specialist, its partner account, and a token with the referrals:specialist scope."""
    account = UserFactory(is_service_account=True)
    s = specialist(contact_method=Specialist.Contact.API, account=account, **kw)
    _, raw = create_token(
        name=f"{s.organisation} system",
        user=account,
        scopes=["referrals:specialist"],
        expires_at=timezone.now() + timedelta(days=30),
        created_by=None,
    )
    return s, account, raw


def bearer(raw: str) -> dict[str, str]:
    return {"HTTP_AUTHORIZATION": f"Bearer {raw}"}


def hmo_payer() -> Payer:
    return PayerFactory(name="Evergreen HMO", requires_referral=True)


def ready(patient: Patient, *, to: Specialist | None = None, **kw: Any) -> Referral:
    """A draft whose packet is complete (self-pay unless a coverage is given)."""
    fields: dict[str, Any] = {
        "reason": "Exertional chest pain: stress test?",
        "clinical_notes": "BP 150/95, LDL 190.",
        "results_not_needed": True,
        "results_note": "Labs in the notes.",
        "self_pay": "coverage" not in kw,
        "diagnosis_code": "R07.9",
    }
    fields.update(kw)
    return Referral.objects.create(
        patient=patient,
        referring_provider=patient.care_team.provider,
        specialist=to if to is not None else specialist(),
        specialty=(to.specialty if to is not None else "Cardiology"),
        **fields,
    )


def document(patient: Patient, title: str = "Consult note", category: str = "consult") -> ChartDocument:
    doc = ChartDocument(patient=patient, category=category, title=title, content_type="image/png", size_bytes=len(PNG))
    doc.file.save("x", SimpleUploadedFile("x.png", PNG), save=True)
    return doc


def pdf(name: str = "report.pdf", body: bytes = PDF) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, body, content_type="application/pdf")


PATH = [S.SENT, S.ACKNOWLEDGED, S.SCHEDULED, S.SEEN, S.REPORT_RECEIVED, S.CLOSED]


def advance(referral: Referral, to: str, *, now: datetime | None = None) -> Referral:
    """Walk a ready draft along the workflow (as the system, and the provider for the review)."""
    now = now or timezone.now()
    provider = referral.referring_provider
    if to in (S.DECLINED, S.EXPIRED):
        referral = workflow.send_referral(referral, actor=None, now=now)  # type: ignore[arg-type]
        if to == S.DECLINED:
            return workflow.decline_referral(referral, actor=None, reason="Not our field", now=now)
        Referral.objects.filter(pk=referral.pk).update(
            authorization_expires_on=timezone.localdate(now) - timedelta(days=1)
        )
        result = workflow.expire_referral(referral, now=now)
        assert result is not None
        return result
    if to == S.CANCELLED:
        return workflow.cancel_referral(referral, actor=None, reason="Patient declined", now=now)  # type: ignore[arg-type]
    for step in PATH[: PATH.index(to) + 1] if to != S.DRAFT else []:
        if step == S.SENT:
            referral = workflow.send_referral(referral, actor=None, now=now)  # type: ignore[arg-type]
        elif step == S.ACKNOWLEDGED:
            referral = workflow.acknowledge_referral(referral, actor=None, now=now)
        elif step == S.SCHEDULED:
            referral = workflow.schedule_referral(referral, actor=None, appointment_at=now + timedelta(days=5), now=now)
        elif step == S.SEEN:
            referral = workflow.mark_seen(referral, actor=None, seen_at=now, now=now)
        elif step == S.REPORT_RECEIVED:
            referral = workflow.receive_report(referral, actor=None, document=document(referral.patient), now=now)
        elif step == S.CLOSED:
            referral = workflow.review_report(referral, actor=provider, now=now)
    return referral


def signed_encounter(patient: Patient) -> Encounter:
    now = timezone.now()
    enc = Encounter.objects.create(
        patient=patient,
        provider=patient.care_team.provider,
        status=Encounter.Status.SIGNED,
        assessment="Exertional chest pain.",
        plan="Cardiology referral.",
        signed_by=patient.care_team.provider,
        signed_at=now,
        signed_hash="0" * 64,
    )
    EncounterDiagnosis.objects.create(encounter=enc, code="R07.9", description="Chest pain, unspecified", rank=1)
    return enc


def signed_referral_order(patient: Patient, *, pended_by: User, **kw: Any) -> Order:
    enc = signed_encounter(patient)
    provider = patient.care_team.provider
    return Order.objects.create(
        encounter=enc,
        patient=patient,
        provider=provider,
        diagnosis=enc.diagnoses.get(),
        kind=Order.Kind.REFERRAL,
        status=Order.Status.SIGNED,
        title="Cardiology referral",
        specialty="Cardiology",
        reason="Exertional chest pain",
        urgency=kw.pop("urgency", Order.Urgency.URGENT),
        pended_by=pended_by,
        signed_by=provider,
        signed_at=timezone.now(),
        signed_hash="1" * 64,
        **kw,
    )
