"""Scheduling writes other than status moves: booking, the waitlist, and offering a freed slot."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from eligibility.priorauth_services import open_for_appointment
from vma.access import can_access_patient
from vma.exceptions import ActionRefused, NotPermitted
from vma.models import User, WorkItem
from vma.workflow import open_work_item

from .models import Appointment, AppointmentType, Location, WaitlistEntry, new_room
from .selectors import Availability, provider_label, waitlist_candidates

if TYPE_CHECKING:
    from patients.models import Patient

BOOK = "scheduling.add_appointment"
SLOT_OPEN = "scheduling.slot_open"


def _lock_provider(provider: User) -> User:
    # Every booking of a provider takes this row lock first, so two bookings of the same provider
    # run one after the other and the second sees the first (SQLite too, which has no EXCLUDE).
    return User.objects.select_for_update().get(pk=provider.pk)


@transaction.atomic
def book_appointment(
    *,
    patient: Patient,
    provider: User,
    appointment_type: AppointmentType,
    start_at: datetime,
    actor: User | None,
    reason: str = "",
    location: Location | None = None,
    now: datetime | None = None,
    check_permission: bool = True,
    ignore_appointment: int | None = None,
) -> Appointment:
    """Book a visit in the provider's template hours, outside blocks, never over another booking."""
    now = now or timezone.now()
    if check_permission and actor is not None and not can_access_patient(actor, patient, BOOK):
        raise NotPermitted("You cannot book visits for this patient.")
    if not appointment_type.active:
        raise ActionRefused(f"{appointment_type.name} visits are no longer booked.", status_code=400)
    if not provider.is_active or not provider.is_provider:
        raise ActionRefused(f"{provider} is not a provider who can be booked.", status_code=400)
    if timezone.is_naive(start_at):
        start_at = timezone.make_aware(start_at)
    if start_at <= now:
        raise ActionRefused("Choose a time in the future.", status_code=400)
    end_at = start_at + timedelta(minutes=appointment_type.duration_minutes)
    _lock_provider(provider)
    day = timezone.localdate(start_at)
    avail = Availability([provider.pk], day, day, ignore_appointment=ignore_appointment)
    refused = avail.refusal(provider, start_at, end_at)
    if refused is not None:
        raise ActionRefused(refused[0], status_code=refused[1])
    appointment = Appointment(
        patient=patient,
        provider=provider,
        appointment_type=appointment_type,
        location=location or avail.location_at(provider.pk, start_at),
        start_at=start_at,
        duration_minutes=appointment_type.duration_minutes,
        visit_type=appointment_type.name,
        telehealth=appointment_type.telehealth,
        telehealth_room=new_room() if appointment_type.telehealth else "",
        reason=reason[:200],
        booked_by=actor,
        created_at=now,
    )
    try:
        # A savepoint: the database's exclusion constraint is the last word on double booking.
        with transaction.atomic():
            appointment.save()
    except IntegrityError:
        raise ActionRefused(f"That time is already booked for {provider_label(provider)}.") from None
    _close_waitlist(appointment)
    # Visit types that need it get their prior authorization opened now, days ahead of the visit.
    open_for_appointment(appointment, actor=actor)
    return appointment


def _close_waitlist(appointment: Appointment) -> None:
    """The patient got a visit: their waiting entries for that kind of visit are done."""
    WaitlistEntry.objects.filter(patient_id=appointment.patient_id, status=WaitlistEntry.Status.WAITING).filter(
        Q(appointment_type_id=appointment.appointment_type_id) | Q(appointment_type__isnull=True)
    ).update(status=WaitlistEntry.Status.BOOKED)


@transaction.atomic
def add_to_waitlist(
    patient: Patient,
    *,
    actor: User | None,
    appointment_type: AppointmentType | None = None,
    provider: User | None = None,
    weekdays: list[int] | None = None,
    part_of_day: str = WaitlistEntry.PartOfDay.ANY,
    earliest_date: datetime | None = None,
    latest_date: datetime | None = None,
    note: str = "",
) -> WaitlistEntry:
    if actor is not None and not can_access_patient(actor, patient, BOOK):
        raise NotPermitted("You cannot add this patient to the waitlist.")
    days = sorted({int(d) for d in weekdays or []})
    if any(d < 0 or d > 6 for d in days):
        raise ActionRefused("Weekdays are 0 (Monday) to 6 (Sunday).", status_code=400)
    if part_of_day not in WaitlistEntry.PartOfDay.values:
        raise ActionRefused("Part of day is any, morning or afternoon.", status_code=400)
    return WaitlistEntry.objects.create(
        patient=patient,
        appointment_type=appointment_type,
        provider=provider,
        weekdays=days,
        part_of_day=part_of_day,
        earliest_date=earliest_date,
        latest_date=latest_date,
        note=note[:200],
        created_by=actor,
    )


@transaction.atomic
def remove_from_waitlist(entry: WaitlistEntry, *, actor: User | None) -> WaitlistEntry:
    """Take a waiting entry off the list (kept as `removed`, so the history stays)."""
    entry = WaitlistEntry.objects.select_for_update().select_related("patient").get(pk=entry.pk)
    if actor is not None and not can_access_patient(actor, entry.patient, BOOK):
        raise NotPermitted("You cannot change this patient's waitlist.")
    if entry.status != WaitlistEntry.Status.WAITING:
        raise ActionRefused(f"This entry is already {entry.get_status_display().lower()}.")
    entry.status = WaitlistEntry.Status.REMOVED
    entry.save(update_fields=["status"])
    return entry


def offer_freed_slot(freed: Appointment) -> WorkItem | None:
    """A slot opened (cancel or reschedule): a front-office item listing who on the waitlist to call.

    The item is filed under the best candidate (their care team sees it; their chart is where the
    visit is booked) and lists only that team's patients, so no one reads another panel's names.
    """
    if freed.start_at <= timezone.now():
        return None
    candidates = waitlist_candidates(freed)
    if not candidates:
        return None
    top = candidates[0].entry.patient
    same_team = [c for c in candidates if c.entry.patient.care_team_id == top.care_team_id][:5]
    local = timezone.localtime(freed.start_at)
    when = f"{local:%a %b} {local.day} {local:%H:%M}"
    lines = [
        f"{i}. {c.entry.patient.first_name} {c.entry.patient.last_name} ({c.entry.patient.mrn}): {c.reasons}; "
        f"waiting since {timezone.localtime(c.entry.created_at):%m/%d}" + (f". {c.entry.note}" if c.entry.note else "")
        for i, c in enumerate(same_team, start=1)
    ]
    item, _ = open_work_item(
        kind=SLOT_OPEN,
        subject=freed,
        patient=top,
        title=f"Slot open: {provider_label(freed.provider)} {when} ({freed.duration_minutes} min {freed.visit_type})",
        detail="Offer the slot, best match first:\n" + "\n".join(lines),
        due_at=min(timezone.now() + timedelta(hours=1), freed.start_at),
    )
    return item
