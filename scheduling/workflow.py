"""Appointment states and transitions: the only code that changes Appointment.status after booking.

auditlog records each change with its actor (from the request) and the changed fields.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from functools import partial
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from vma.access import panel_ids
from vma.exceptions import ActionRefused, NotPermitted
from vma.models import User

from . import services
from .models import Appointment, AppointmentType, Reminder

S = Appointment.Status
TRANSITIONS: dict[str, frozenset[str]] = {
    S.SCHEDULED: frozenset({S.CONFIRMED, S.CHECKED_IN, S.CANCELLED, S.NO_SHOW, S.RESCHEDULED}),
    S.CONFIRMED: frozenset({S.CHECKED_IN, S.CANCELLED, S.NO_SHOW, S.RESCHEDULED}),
    # The patient leaves before being seen: cancelled, not a no-show.
    S.CHECKED_IN: frozenset({S.IN_ROOM, S.CANCELLED}),
    S.IN_ROOM: frozenset({S.COMPLETED}),
    S.COMPLETED: frozenset(),
    S.CANCELLED: frozenset(),
    S.NO_SHOW: frozenset(),
    S.RESCHEDULED: frozenset(),
}
CHANGE = "scheduling.change_appointment"
_VERBS: dict[str, str] = {
    S.CONFIRMED: "confirmed",
    S.CHECKED_IN: "checked in",
    S.IN_ROOM: "roomed",
    S.COMPLETED: "completed",
    S.CANCELLED: "cancelled",
    S.NO_SHOW: "marked a no-show",
    S.RESCHEDULED: "rescheduled",
}


def late_cancel_hours() -> float:
    return float(getattr(settings, "LATE_CANCEL_HOURS", 24))


def _lock(appointment: Appointment) -> Appointment:
    return (
        Appointment.objects.select_for_update(of=("self",))
        .select_related("patient", "provider", "appointment_type")
        .get(pk=appointment.pk)
    )


def _check_actor(actor: User | None, appointment: Appointment) -> None:
    if actor is None:  # the system, or the patient through a signed reminder link
        return
    if not (actor.has_perm(CHANGE) and appointment.patient.care_team_id in panel_ids(actor)):
        raise NotPermitted("You cannot change this appointment.")


def _move(appointment: Appointment, *, to: str, actor: User | None, **changes: Any) -> Appointment:
    """Re-read under a row lock, check, change, save. Callers are atomic."""
    appointment = _lock(appointment)
    _check_actor(actor, appointment)
    if to not in TRANSITIONS[appointment.status]:
        raise ActionRefused(
            f"This visit is {appointment.get_status_display().lower()}; it cannot be {_VERBS.get(to, to)}."
        )
    appointment.status = to
    fields = {"status", "updated_at"}
    for name, value in changes.items():
        setattr(appointment, name, value)
        fields.add(name)
    appointment.save(update_fields=sorted(fields))
    return appointment


def _stop_reminders(appointment: Appointment) -> None:
    Reminder.objects.filter(appointment=appointment, status=Reminder.Status.PENDING).update(
        status=Reminder.Status.SKIPPED
    )


def _slot_freed(appointment: Appointment) -> None:
    _stop_reminders(appointment)
    transaction.on_commit(partial(_offer_after_commit, appointment.pk))


def _offer_after_commit(appointment_id: int) -> None:
    # After commit, in its own transaction: a waitlist problem never undoes the cancellation.
    with transaction.atomic():
        services.offer_freed_slot(Appointment.objects.select_related("provider").get(pk=appointment_id))


@transaction.atomic
def confirm_appointment(appointment: Appointment, *, actor: User | None) -> Appointment:
    locked = _lock(appointment)
    if locked.status == S.CONFIRMED:
        _check_actor(actor, locked)
        return locked  # a second click on the link: already confirmed
    return _move(locked, to=S.CONFIRMED, actor=actor, confirmed_at=timezone.now())


def too_early(appointment: Appointment, to: str, now: datetime | None = None) -> str:
    """Why a move cannot happen yet ("" when it can): no check-in before the visit's day, no
    no-show before its start (a no-show counts against the patient's rate)."""
    now = now or timezone.now()
    if to == S.CHECKED_IN and timezone.localdate(appointment.start_at) > timezone.localdate(now):
        return f"This visit is on {timezone.localtime(appointment.start_at):%m/%d/%Y}; check the patient in that day."
    if to == S.NO_SHOW and appointment.start_at > now:
        return "This visit has not started yet; it cannot be marked a no-show."
    return ""


def _not_too_early(appointment: Appointment, to: str, now: datetime | None) -> None:
    reason = too_early(appointment, to, now)
    if reason:
        raise ActionRefused(reason)


@transaction.atomic
def check_in_appointment(appointment: Appointment, *, actor: User | None, now: datetime | None = None) -> Appointment:
    _not_too_early(appointment, S.CHECKED_IN, now)
    return _move(appointment, to=S.CHECKED_IN, actor=actor, checked_in_at=now or timezone.now())


@transaction.atomic
def room_appointment(appointment: Appointment, *, actor: User | None) -> Appointment:
    return _move(appointment, to=S.IN_ROOM, actor=actor)


@transaction.atomic
def complete_appointment(appointment: Appointment, *, actor: User | None) -> Appointment:
    return _move(appointment, to=S.COMPLETED, actor=actor)


@transaction.atomic
def mark_no_show(appointment: Appointment, *, actor: User | None, now: datetime | None = None) -> Appointment:
    # A no-show's time has passed: nothing to offer the waitlist.
    _not_too_early(appointment, S.NO_SHOW, now)
    appointment = _move(appointment, to=S.NO_SHOW, actor=actor)
    _stop_reminders(appointment)
    return appointment


@transaction.atomic
def cancel_appointment(
    appointment: Appointment, *, actor: User | None, reason: str, now: datetime | None = None
) -> Appointment:
    """Cancel with a reason; flagged late under the practice's notice period; the slot is offered."""
    reason = (reason or "").strip()
    if not reason:
        raise ActionRefused("Give the reason for cancelling.", status_code=400)
    now = now or timezone.now()
    late = appointment.start_at - now < timedelta(hours=late_cancel_hours())
    appointment = _move(
        appointment, to=S.CANCELLED, actor=actor, cancel_reason=reason[:200], late_cancel=late, cancelled_at=now
    )
    _slot_freed(appointment)
    return appointment


@transaction.atomic
def reschedule_appointment(
    appointment: Appointment,
    *,
    actor: User | None,
    start_at: datetime,
    provider: User | None = None,
    appointment_type: AppointmentType | None = None,
    now: datetime | None = None,
) -> Appointment:
    """Book the new visit and retire the old one in one transaction; returns the new visit.

    The old one stops holding its time first, so a move by a few minutes may overlap itself; if
    the new time is refused, the whole transaction rolls back and the old visit stands.
    """
    old = _move(appointment, to=S.RESCHEDULED, actor=actor)
    new_type = appointment_type or old.appointment_type
    if new_type is None:
        raise ActionRefused("Choose the visit type for the new time.", status_code=400)
    new = services.book_appointment(
        patient=old.patient,
        provider=provider or old.provider,
        appointment_type=new_type,
        start_at=start_at,
        actor=actor,
        reason=old.reason,
        now=now,
        check_permission=False,  # _move checked the right to change this patient's visits
    )
    old.rescheduled_to = new
    old.save(update_fields=["rescheduled_to", "updated_at"])
    _slot_freed(old)
    return new
