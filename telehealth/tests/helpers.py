"""Telehealth test set-up: a video visit, and its room put straight into a given state."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.utils import timezone

from patients.models import Patient
from scheduling.models import Appointment
from telehealth.models import VisitRoom
from telehealth.workflow import ROOMING_CHECKLIST, ensure_room
from tests.factories import AppointmentFactory
from vma.models import User

S = VisitRoom.Status
ALL_CHECKED = {code: {"at": "2026-03-05T09:00:00+00:00", "by": "vma"} for code, _ in ROOMING_CHECKLIST}
# The appointment's status that goes with each room status.
VISIT_STATUS = {
    S.CREATED: "scheduled",
    S.LINK_SENT: "scheduled",
    S.PATIENT_JOINED: "checked_in",
    S.TECH_CHECK_PASSED: "checked_in",
    S.ROOMED: "in_room",
    S.READY: "in_room",
    S.PROVIDER_JOINED: "in_room",
    S.ENDED: "completed",
}


def soon() -> datetime:
    """Ten minutes from now, or ten minutes ago just before midnight: a visit of today either way."""
    now = timezone.now()
    later = now + timedelta(minutes=10)
    return later if timezone.localdate(later) == timezone.localdate(now) else now - timedelta(minutes=10)


def video_visit(patient: Patient, *, start: datetime | None = None, **kw: Any) -> Appointment:
    return AppointmentFactory(
        patient=patient,
        start_at=start or soon(),
        telehealth=True,
        telehealth_room="room-test",
        visit_type="Telehealth follow-up",
        duration_minutes=20,
        **kw,
    )


def room_at(visit: Appointment, status: str, *, vma: User | None = None, **fields: Any) -> VisitRoom:
    """The visit's room in `status` with the timestamps of every earlier step (no workflow)."""
    room = ensure_room(visit)
    t = visit.start_at
    order = list(S.values)
    reached = order[: order.index(status) + 1] if status != S.ENDED else order
    stamps: dict[str, Any] = {}
    if S.LINK_SENT in reached:
        stamps |= {"link_sent_at": t - timedelta(minutes=15), "link_sends": 1}
    if S.PATIENT_JOINED in reached:
        stamps["patient_joined_at"] = t - timedelta(minutes=2)
    if S.TECH_CHECK_PASSED in reached:
        stamps |= {"tech_check_at": t - timedelta(minutes=1), "tech_check_method": "patient", "checklist": ALL_CHECKED}
    if S.ROOMED in reached:
        stamps["roomed_at"] = t + timedelta(minutes=3)
    if S.READY in reached:
        stamps |= {"ready_at": t + timedelta(minutes=4), "handoff_note": "Ready: BP check"}
    if S.PROVIDER_JOINED in reached:
        stamps["provider_joined_at"] = t + timedelta(minutes=6)
    if status == S.ENDED:
        stamps["ended_at"] = t + timedelta(minutes=20)
    if vma is not None:
        stamps |= {"vma": vma, "vma_joined_at": t - timedelta(minutes=1)}
    VisitRoom.objects.filter(pk=room.pk).update(status=status, **{**stamps, **fields})
    Appointment.objects.filter(pk=visit.pk).update(status=VISIT_STATUS[status])
    visit.refresh_from_db()
    room.refresh_from_db()
    return room
