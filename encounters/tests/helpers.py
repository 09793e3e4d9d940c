"""Encounter test set-up: visits in a given state, a complete note, signed orders of the visit."""

from __future__ import annotations

from datetime import datetime, time
from typing import Any

from django.utils import timezone

from encounters import services
from encounters.models import EducationMaterial, Encounter
from patients.models import Patient
from scheduling.models import Appointment
from tests.factories import AppointmentFactory
from vma.models import User


def checked_in_visit(patient: Patient, *, hour: int = 9, status: str = "checked_in", **kw: Any) -> Appointment:
    start = timezone.make_aware(datetime.combine(timezone.localdate(), time(hour, 0)))
    return AppointmentFactory(
        patient=patient, start_at=start, status=status, reason="Follow-up of blood pressure", **kw
    )


def save(enc: Encounter, user: User, field: str, value: str, base: int | None = None) -> Encounter:
    """Save one field as `user` (based on the current version unless given); `enc` is refreshed after."""
    enc.refresh_from_db()
    services.save_field(enc, field=field, value=value, base_version=enc.version if base is None else base, actor=user)
    enc.refresh_from_db()
    return enc


def complete_note(enc: Encounter, user: User) -> Encounter:
    """The practice's minimum for signing: chief complaint, a coded diagnosis, a plan (and some history)."""
    save(enc, user, "chief_complaint", "Blood pressure follow-up")
    save(enc, user, "hpi", "Home readings 150s/90s for two weeks. No chest pain.")
    save(enc, user, "plan", "Start lisinopril 10 mg daily. Recheck BP in 4 weeks.")
    services.add_diagnosis(enc, code="i10", actor=user)
    enc.refresh_from_db()
    return enc


def material(title: str, provider: User | None, *, active: bool = True) -> EducationMaterial:
    return EducationMaterial.objects.create(
        title=title,
        body=f"All about {title.lower()}.",
        approved_by=provider,
        approved_at=timezone.now() if provider else None,
        active=active,
    )


def signed_order(enc: Encounter, scribe: User, provider: User, **fields: Any) -> Any:
    """An order of the visit as the orders app leaves it once signed (the model is the shared contract)."""
    from orders.models import Order

    now = timezone.now()
    return Order.objects.create(
        encounter=enc,
        patient=enc.patient,
        provider=provider,
        diagnosis=enc.diagnoses.first(),
        pended_by=scribe,
        status=Order.Status.SIGNED,
        signed_by=provider,
        signed_at=now,
        signed_hash="x" * 64,
        **fields,
    )
