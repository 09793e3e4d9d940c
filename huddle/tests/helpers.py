"""Huddle test set-up: a visit on the next working day and each piece of the chart, missing or arriving."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any

from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from eligibility.models import EligibilityCheck, PriorAuthorization
from huddle.days import next_working_day
from intake import services as intake_services
from intake import workflow as intake_workflow
from intake.models import IntakePacket, IntakeRule, Questionnaire
from patients.models import ChartDocument, Coverage, Patient
from scheduling.models import Appointment
from tests.factories import AppointmentFactory, CoverageFactory

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def scrub_day() -> date:
    return next_working_day(timezone.localdate())


def at(day: date, hour: int, minute: int = 0) -> datetime:
    return timezone.make_aware(datetime.combine(day, time(hour, minute)))


def visit(patient: Patient, *, day: date | None = None, hour: int = 9, minute: int = 0, **kw: Any) -> Appointment:
    return AppointmentFactory(patient=patient, start_at=at(day or scrub_day(), hour, minute), **kw)


def coverage(patient: Patient) -> Coverage:
    return CoverageFactory(patient=patient)


def eligibility(appt: Appointment, cov: Coverage, status: str = EligibilityCheck.Status.ACTIVE) -> EligibilityCheck:
    done = status in EligibilityCheck.FINISHED
    return EligibilityCheck.objects.create(
        appointment=appt,
        patient=appt.patient,
        coverage=cov,
        service_date=timezone.localdate(appt.start_at),
        status=status,
        completed_at=timezone.now() if done else None,
        responded_at=timezone.now() if done else None,
        amount_to_collect="25.00" if status == EligibilityCheck.Status.ACTIVE else None,
        instruction="" if status == EligibilityCheck.Status.ACTIVE else "Coverage ended: ask for new insurance.",
    )


def prior_auth(
    appt: Appointment, cov: Coverage, status: str = PriorAuthorization.Status.REQUIRED
) -> PriorAuthorization:
    S = PriorAuthorization.Status
    submitted = status != S.REQUIRED
    approved = status == S.APPROVED
    today = timezone.localdate()
    return PriorAuthorization.objects.create(
        patient=appt.patient,
        coverage=cov,
        payer=cov.payer,
        appointment=appt,
        service_code="70551",
        status=status,
        requested_units=1,
        submitted_at=timezone.now() if submitted else None,
        decision_due_at=timezone.now() + timedelta(days=5) if submitted else None,
        approved_units=1 if approved else None,
        authorization_number="A-1" if approved else "",
        valid_from=today if approved else None,
        valid_to=today + timedelta(days=90) if approved else None,
    )


def approve(auth: PriorAuthorization) -> None:
    today = timezone.localdate()
    auth.status = PriorAuthorization.Status.APPROVED
    auth.submitted_at = auth.submitted_at or timezone.now()
    auth.decision_due_at = auth.decision_due_at or timezone.now() + timedelta(days=5)
    auth.approved_units, auth.valid_from, auth.valid_to = 1, today, today + timedelta(days=90)
    auth.save()


def intake_packet(appt: Appointment) -> IntakePacket:
    """A sent packet of one free-text form for the visit."""
    form, _ = Questionnaire.objects.get_or_create(
        code="huddletest",
        version=1,
        defaults={
            "title": "Huddle test form",
            "definition": {
                "sections": [{"title": "A", "questions": [{"id": "a", "text": "How are you?", "type": "text"}]}]
            },
        },
    )
    rule, _ = IntakeRule.objects.get_or_create(visit_type=appt.visit_type)
    rule.questionnaires.set([form])
    packet, _ = intake_services.create_packet(appt, rule)
    return intake_workflow.mark_sent(packet, channel="sms")


def submit(packet: IntakePacket) -> IntakePacket:
    packet.responses.update(answers={"a": "Fine"})
    intake_workflow.mark_opened(packet)
    return intake_services.submit_packet(packet)


def document(patient: Patient, title: str, category: str = "lab_result") -> ChartDocument:
    doc = ChartDocument(patient=patient, category=category, title=title, content_type="image/png", size_bytes=len(PNG))
    doc.file.save("x", SimpleUploadedFile("x.png", PNG), save=True)
    return doc


def only_rules(*codes: str) -> None:
    """Keep only these care-gap rules active (age and season rules would make tests date-dependent)."""
    from patients.models import CareGapRule

    CareGapRule.objects.exclude(code__in=codes).update(active=False)
    CareGapRule.objects.filter(code__in=codes).update(active=True)
