"""Demo refills for dr.rivera's patients, one in each interesting state (idempotent: once per database)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.apps import apps
from django.contrib.auth.models import Group
from django.db import transaction
from django.utils import timezone

from patients.models import Medication, Patient, Procedure
from scheduling.models import Appointment
from vma.access import add_to_care_team
from vma.models import User
from vma.roles import Role

from . import services, starter, workflow
from .models import RefillRequest

PHARMACY = "Main Street Pharmacy (demo)"


def _chart(patient: Patient, drug: str, dose: str, *, visit_days_ago: int, lab: str | None) -> None:
    now = timezone.now()
    Medication.objects.create(patient=patient, name=drug, dose=dose, sig="1 tablet daily")
    Appointment.objects.create(
        patient=patient,
        provider=patient.care_team.provider,
        start_at=now - timedelta(days=visit_days_ago),
        visit_type="Follow-up",
        reason="Chronic care follow-up",
        status=Appointment.Status.COMPLETED,
    )
    if lab:
        Procedure.objects.create(patient=patient, code=lab, performed_on=(now - timedelta(days=40)).date())


def _pharmacy_account(patient: Patient) -> User:
    """A pharmacy's service account on Team Rivera (it would post through a `refills:request` token)."""
    account, created = User.objects.get_or_create(
        username="pharmacy.mainst",
        defaults={"first_name": "Main Street", "last_name": "Pharmacy", "is_service_account": True},
    )
    if created:
        account.set_unusable_password()
        account.save()
        account.groups.add(*Group.objects.filter(name=Role.CLINICAL_SUPPORT))
        add_to_care_team(account, patient.care_team)
    return account


@transaction.atomic
def seed() -> None:
    if RefillRequest.objects.exists():
        return
    starter.load(apps, None)
    patients = list(Patient.objects.filter(care_team__provider__username="dr.rivera").order_by("id")[:6])
    vma = User.objects.filter(username="cs.eve").first()
    rivera = User.objects.filter(username="dr.rivera").first()
    if len(patients) < 6 or vma is None or rivera is None:
        return  # not the demo clinic
    pharmacy = _pharmacy_account(patients[0])
    statin, ace, metformin, thyroid, benzo, closed = patients
    _chart(statin, "Atorvastatin", "20 mg", visit_days_ago=75, lab="lipid_panel")
    _chart(ace, "Lisinopril", "10 mg", visit_days_ago=420, lab=None)
    _chart(metformin, "Metformin", "500 mg", visit_days_ago=60, lab="hba1c")
    _chart(thyroid, "Levothyroxine", "50 mcg", visit_days_ago=90, lab="tsh")
    _chart(benzo, "Alprazolam", "0.5 mg", visit_days_ago=30, lab=None)
    _chart(closed, "Rosuvastatin", "10 mg", visit_days_ago=50, lab="lipid_panel")
    base: dict[str, Any] = {
        "pharmacy": PHARMACY,
        "quantity": 90,
        "days_supply": 90,
        "refills": 3,
        "sig": "1 tablet daily",
    }
    now = timezone.now()
    # Protocol met: pended in dr.rivera's signing queue; then the pharmacy asks again (merged).
    services.receive_request(
        actor=vma, patient=statin, medication="Atorvastatin", strength="20 mg", requester="Patient",
        source="phone", request_text="Down to my last few pills", received_at=now - timedelta(hours=3), **base,
    )  # fmt: skip
    services.receive_request(
        actor=pharmacy, patient=statin, medication="Atorvastatin 20 mg tab", requester="Main Street Pharmacy",
        source="pharmacy", received_at=now - timedelta(hours=1), **base,
    )  # fmt: skip
    # Last visit 14 months ago: the front office books one.
    services.receive_request(
        actor=pharmacy, patient=ace, medication="Lisinopril 10 mg", requester="Main Street Pharmacy",
        source="pharmacy", received_at=now - timedelta(hours=5), **base,
    )  # fmt: skip
    # A red flag on a portal message: the nurse is on it, the provider reviews the refill.
    services.receive_request(
        actor=vma, patient=metformin, medication="Metformin 500 mg", requester="Patient", source="portal",
        urgency="urgent", request_text="Need my metformin, also had some chest pain walking up stairs",
        received_at=now - timedelta(minutes=40), **base,
    )  # fmt: skip
    # A controlled substance: never by protocol.
    services.receive_request(
        actor=pharmacy, patient=benzo, medication="Alprazolam 0.5 mg", requester="Main Street Pharmacy",
        source="pharmacy", received_at=now - timedelta(hours=2), **(base | {"quantity": 30, "days_supply": 30, "refills": 0}),
    )  # fmt: skip
    # Asks for more than the protocol allows: provider review.
    services.receive_request(
        actor=vma, patient=thyroid, medication="Levothyroxine 50 mcg", requester="Daughter (caregiver)",
        source="phone", received_at=now - timedelta(days=1), **(base | {"refills": 5}),
    )  # fmt: skip
    # Signed by dr.rivera yesterday; the worker tells the pharmacy and the patient, then closes it.
    done = services.receive_request(
        actor=vma, patient=closed, medication="Rosuvastatin 10 mg", requester="Patient", source="phone",
        received_at=now - timedelta(days=1, hours=2), **base,
    ).request  # fmt: skip
    if done.status == RefillRequest.Status.PENDED:
        done = RefillRequest.objects.select_related("patient", "provider").get(pk=done.pk)
        workflow.sign_refill(done, provider=rivera, content_hash=workflow.signing_hash(done), from_queue=True)
