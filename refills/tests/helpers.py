"""Building charts and requests for refill tests, on a clock the test controls."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from dateutil.relativedelta import relativedelta
from django.core.files.base import ContentFile
from django.utils import timezone

from patients.models import ChartDocument, Medication, Patient
from refills import services
from refills.models import RefillRequest
from scheduling.models import Appointment
from vma.models import User

# A Tuesday morning, local time: tests pass it as `now=` so nothing depends on the day they run.
NOW = timezone.make_aware(datetime(2026, 3, 10, 9, 30))


def medication(patient: Patient, name: str = "Atorvastatin", dose: str = "20 mg", **kw: Any) -> Medication:
    return Medication.objects.create(patient=patient, name=name, dose=dose, sig="1 tablet daily", **kw)


def visit(
    patient: Patient, *, months_ago: float = 3, provider: User | None = None, now: datetime = NOW, **kw: Any
) -> Appointment:
    start = now - relativedelta(months=int(months_ago), days=int((months_ago % 1) * 30))
    return Appointment.objects.create(
        patient=patient,
        provider=provider or patient.care_team.provider,
        start_at=start,
        visit_type="Follow-up",
        status=kw.pop("status", Appointment.Status.COMPLETED),
        **kw,
    )


def lab(patient: Patient, title: str = "Lipid panel", *, months_ago: float = 2, now: datetime = NOW) -> ChartDocument:
    doc = ChartDocument(
        patient=patient,
        category=ChartDocument.Category.LAB_RESULT,
        title=title,
        content_type="application/pdf",
        size_bytes=10,
        received_at=now - relativedelta(months=int(months_ago), days=int((months_ago % 1) * 30)),
    )
    doc.file.save("lab.pdf", ContentFile(b"%PDF-1.4 x"), save=True)
    return doc


def statin_chart(patient: Patient, *, now: datetime = NOW) -> None:
    """A chart that meets the statin protocol: on atorvastatin, seen 3 months ago, lipid panel 2 months ago."""
    medication(patient)
    visit(patient, now=now)
    lab(patient, now=now)


def request(actor: User, patient: Patient, *, now: datetime = NOW, **kw: Any) -> services.Received:
    """A phone request for atorvastatin (90 days, 3 refills) received at `now`, unless told otherwise."""
    data: dict[str, Any] = {
        "medication": "Atorvastatin 20 mg tablet",
        "pharmacy": "Main Street Pharmacy",
        "requester": "Patient",
        "source": RefillRequest.Source.PHONE,
        "quantity": 90,
        "days_supply": 90,
        "refills": 3,
        "sig": "1 tablet daily",
        "strength": "20 mg",
        "received_at": now,
    }
    data.update(kw)
    return services.receive_request(actor=actor, patient=patient, now=now, **data)


def fresh(refill: RefillRequest) -> RefillRequest:
    return RefillRequest.objects.select_related("patient", "provider").get(pk=refill.pk)


def line(refill: RefillRequest, code: str) -> dict[str, Any]:
    return next(item for item in refill.check_lines if item["code"] == code)


def later(hours: float = 1) -> datetime:
    return NOW + timedelta(hours=hours)
