"""Waiting-room states and transitions: the only code that sets VisitRoom.status.

Every step re-reads the room under a row lock, checks the actor, refuses a move the table does
not allow, saves the step's timestamp and writes a RoomEvent. Steps that mean something for the
appointment call scheduling's workflow (as the system: the telehealth permission was checked here):
- the patient joins         -> the visit is checked in (scheduled/confirmed -> checked_in);
- the VMA finishes rooming  -> the visit is in room (checked_in -> in_room);
- the provider ends it      -> the visit is completed (in_room -> completed).
A room closed before the provider joined moves nothing: the visit may go on by phone (the backup
plan), or the front office records the cancellation or no-show in the calendar.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from scheduling import workflow as visits
from scheduling.models import FREEING_STATUSES, Appointment
from scheduling.selectors import provider_label
from vma import outbox
from vma.access import can_access_patient
from vma.exceptions import ActionRefused, NotPermitted
from vma.models import WorkItem
from vma.workflow import close_work_item, open_work_item

from . import notify
from .models import RoomEvent, VisitRoom
from .policy import HOST, INVITE, ROOM

if TYPE_CHECKING:
    from vma.models import User

S = VisitRoom.Status
TRANSITIONS: dict[str, frozenset[str]] = {
    # A patient may open a link read out over the phone before any was sent.
    S.CREATED: frozenset({S.LINK_SENT, S.PATIENT_JOINED, S.ENDED}),
    S.LINK_SENT: frozenset({S.PATIENT_JOINED, S.ENDED}),
    S.PATIENT_JOINED: frozenset({S.TECH_CHECK_PASSED, S.ENDED}),
    S.TECH_CHECK_PASSED: frozenset({S.ROOMED, S.ENDED}),
    S.ROOMED: frozenset({S.READY, S.ENDED}),
    S.READY: frozenset({S.PROVIDER_JOINED, S.ENDED}),
    S.PROVIDER_JOINED: frozenset({S.ENDED}),
    S.ENDED: frozenset(),
}
_VERBS: dict[str, str] = {
    S.LINK_SENT: "get a link",
    S.PATIENT_JOINED: "be joined",
    S.TECH_CHECK_PASSED: "pass the tech check",
    S.ROOMED: "be roomed",
    S.READY: "be handed off",
    S.PROVIDER_JOINED: "be joined by the provider",
    S.ENDED: "be ended",
}
# The rooming checklist: what "roomed" means. Constants, not practice data: the waiting room's
# states are defined by them (identity and location first, as any remote visit requires).
ROOMING_CHECKLIST: tuple[tuple[str, str], ...] = (
    ("identity", "Identity verified with two identifiers (full name and date of birth)"),
    ("location", "Where the patient is right now, and a call-back number, confirmed"),
    ("consent", "Consent to a telehealth visit given"),
    ("reason", "Reason for the visit and history confirmed"),
    ("medications", "Medication list reviewed"),
    ("allergies", "Allergies reviewed"),
)
CHECKLIST_LABELS = dict(ROOMING_CHECKLIST)
NO_JOIN_KIND = "telehealth.no_join"
RESEND_AFTER = timedelta(minutes=1)  # a second click on "Send link" sends nothing twice
HANDOFF_MAX = 500


def visit_url(item: WorkItem) -> str:
    return reverse("telehealth_visit", args=[item.subject.appointment.public_id])  # type: ignore[union-attr]


# ---------------------------------------------------------------------------------------------
# Plumbing
# ---------------------------------------------------------------------------------------------


def ensure_room(appointment: Appointment) -> VisitRoom:
    """The visit's room, created on first use (idempotent, safe against a concurrent creator)."""
    if not appointment.telehealth:
        raise ActionRefused("This is not a telehealth visit.", status_code=400)
    room, created = VisitRoom.objects.get_or_create(
        appointment=appointment, defaults={"patient_id": appointment.patient_id}
    )
    if created:
        RoomEvent.objects.create(room=room, kind="created", to_status=room.status, at=room.created_at)
    return room


def _lock(room: VisitRoom) -> VisitRoom:
    return (
        VisitRoom.objects.select_for_update(of=("self",))
        .select_related("appointment__provider", "patient", "vma")
        .get(pk=room.pk)
    )


def _check(actor: User | None, room: VisitRoom, perm: str) -> None:
    if actor is None:  # the system (the sweep), or the patient through the signed link
        return
    if not can_access_patient(actor, room.patient, perm):
        raise NotPermitted("You cannot act in this waiting room.")


def _check_own_provider(actor: User, room: VisitRoom) -> None:
    _check(actor, room, HOST)
    if room.appointment.provider_id != actor.pk:
        raise NotPermitted(f"Only the visit's provider ({provider_label(room.appointment.provider)}) can do this.")


def _refuse(room: VisitRoom, to: str) -> ActionRefused:
    return ActionRefused(f"This room is at “{room.get_status_display().lower()}”; it cannot {_VERBS.get(to, to)} now.")


def _event(room: VisitRoom, kind: str, *, actor: User | None, now: datetime, note: str = "", **moves: str) -> None:
    RoomEvent.objects.create(room=room, kind=kind, actor=actor, at=now, note=note[:500], **moves)


def _save(room: VisitRoom, **changes: Any) -> VisitRoom:
    for name, value in changes.items():
        setattr(room, name, value)
    room.save(update_fields=sorted({*changes, "updated_at"}))
    return room


def _move(room: VisitRoom, *, to: str, actor: User | None, now: datetime, note: str = "", **changes: Any) -> VisitRoom:
    """Refuse a move the table does not allow, save, log. Callers are atomic and hold the lock."""
    if to not in TRANSITIONS[room.status]:
        raise _refuse(room, to)
    from_status = room.status
    room = _save(room, status=to, **changes)
    _event(room, to, actor=actor, now=now, note=note, from_status=from_status, to_status=to)
    return room


def _vma_running(room: VisitRoom, actor: User) -> None:
    """The VMA joins first: only the one who joined ticks the checklist and hands off."""
    if room.vma_id is None:
        raise ActionRefused("Join the room first: the VMA who joined runs the rooming checklist.")
    if room.vma_id != actor.pk:
        raise ActionRefused(f"{room.vma} is rooming this patient.")


def _holds_time(room: VisitRoom) -> None:
    if room.appointment.status in FREEING_STATUSES:
        raise ActionRefused(f"This visit is {room.appointment.get_status_display().lower()}.")


# ---------------------------------------------------------------------------------------------
# The link and the patient
# ---------------------------------------------------------------------------------------------


@transaction.atomic
def send_link(room: VisitRoom, *, actor: User | None, now: datetime | None = None) -> VisitRoom:
    """Send (or resend) the join link through the patient's channel, after commit via the outbox."""
    now = now or timezone.now()
    room = _lock(room)
    _check(actor, room, INVITE)
    if room.status == S.ENDED:
        raise ActionRefused("This visit has ended; there is nothing to join.")
    _holds_time(room)
    if not notify.can_reach(room.patient):
        raise ActionRefused(
            "No phone number or email address on file: read the link to the patient, or add their contact details.",
            status_code=400,
        )
    if room.link_sent_at is not None and now - room.link_sent_at < RESEND_AFTER:
        raise ActionRefused("The link was sent less than a minute ago.")
    sends = room.link_sends + 1
    if room.status == S.CREATED:
        room = _move(room, to=S.LINK_SENT, actor=actor, now=now, link_sent_at=now, link_sends=sends)
    else:
        room = _save(room, link_sent_at=now, link_sends=sends)
        _event(room, "link_resent", actor=actor, now=now)
    outbox.enqueue(notify.HANDLER, {"room_id": room.pk, "kind": notify.LINK}, key=f"telehealth.link:{room.pk}:{sends}")
    return room


@transaction.atomic
def patient_join(room: VisitRoom, *, now: datetime | None = None) -> VisitRoom:
    """The patient opened the link: in the waiting room, and the visit checked in.

    Opening it again (a dropped connection, a second device) changes nothing.
    """
    now = now or timezone.now()
    room = _lock(room)
    if room.status not in VisitRoom.NOT_JOINED:
        return room
    opens, expires = notify.link_window(room)
    if now < opens:
        raise ActionRefused("The waiting room opens 30 minutes before the visit.")
    if now > expires:
        raise ActionRefused("This visit is over.")
    visit = room.appointment
    if visit.status in (Appointment.Status.SCHEDULED, Appointment.Status.CONFIRMED):
        visits.check_in_appointment(visit, actor=None, now=now)
    elif visit.status not in (Appointment.Status.CHECKED_IN, Appointment.Status.IN_ROOM):
        raise ActionRefused(f"This visit is {visit.get_status_display().lower()}.")
    room = _move(room, to=S.PATIENT_JOINED, actor=None, now=now, patient_joined_at=now)
    close_work_item(
        kind=NO_JOIN_KIND, subject=room, note=f"The patient joined the waiting room at {timezone.localtime(now):%H:%M}."
    )
    return room


@transaction.atomic
def pass_tech_check(
    room: VisitRoom, *, method: str, actor: User | None = None, now: datetime | None = None
) -> VisitRoom:
    """Camera and microphone work: the patient's page says so, or a VMA confirms it (audio checked)."""
    now = now or timezone.now()
    if method not in VisitRoom.TechCheck.values or (actor is not None) != (method == VisitRoom.TechCheck.VMA):
        raise ActionRefused("Unknown tech-check result.", status_code=400)
    room = _lock(room)
    _check(actor, room, ROOM)
    if actor is None and room.status != S.PATIENT_JOINED and room.tech_check_at is not None:
        return room  # the patient's page sent it twice
    if room.status != S.PATIENT_JOINED:
        raise _refuse(room, S.TECH_CHECK_PASSED)
    label = VisitRoom.TechCheck(method).label
    return _move(
        room, to=S.TECH_CHECK_PASSED, actor=actor, now=now, note=label, tech_check_at=now, tech_check_method=method
    )


# ---------------------------------------------------------------------------------------------
# The VMA: join first, room, hand off
# ---------------------------------------------------------------------------------------------


@transaction.atomic
def vma_join(room: VisitRoom, *, actor: User, now: datetime | None = None) -> VisitRoom:
    now = now or timezone.now()
    room = _lock(room)
    _check(actor, room, ROOM)
    if room.status in (S.READY, S.PROVIDER_JOINED, S.ENDED):
        raise ActionRefused(f"Rooming is over: this room is at “{room.get_status_display().lower()}”.")
    if room.vma_id == actor.pk:
        return room  # a second click
    if room.vma_id is not None:
        raise ActionRefused(f"{room.vma} is already rooming this patient.")
    room = _save(room, vma=actor, vma_joined_at=now)
    _event(room, "vma_joined", actor=actor, now=now)
    return room


@transaction.atomic
def set_check(room: VisitRoom, *, code: str, done: bool, actor: User, now: datetime | None = None) -> VisitRoom:
    """Tick (or untick) one rooming item, while the patient is in the room and before rooming ends."""
    now = now or timezone.now()
    if code not in CHECKLIST_LABELS:
        raise ActionRefused("Unknown checklist item.", status_code=400)
    room = _lock(room)
    _check(actor, room, ROOM)
    _vma_running(room, actor)
    if room.status in VisitRoom.NOT_JOINED:
        raise ActionRefused("The patient has not joined yet.")
    if room.status not in (S.PATIENT_JOINED, S.TECH_CHECK_PASSED):
        raise ActionRefused("Rooming is finished; the checklist is closed.")
    checklist = dict(room.checklist)
    if done:
        checklist[code] = {"at": now.isoformat(), "by": actor.username}
    elif code in checklist:
        del checklist[code]
    else:
        return room
    room = _save(room, checklist=checklist)
    _event(room, "checked" if done else "unchecked", actor=actor, now=now, note=CHECKLIST_LABELS[code])
    return room


def missing_checks(room: VisitRoom) -> list[str]:
    return [label for code, label in ROOMING_CHECKLIST if code not in room.checklist]


@transaction.atomic
def complete_rooming(room: VisitRoom, *, actor: User, now: datetime | None = None) -> VisitRoom:
    """Every checklist item done and the tech check passed: roomed, and the visit is in room."""
    now = now or timezone.now()
    room = _lock(room)
    _check(actor, room, ROOM)
    _vma_running(room, actor)
    if room.status == S.PATIENT_JOINED:
        raise ActionRefused("The tech check has not passed: the patient's page, or confirm it here after talking.")
    if room.status != S.TECH_CHECK_PASSED:
        raise _refuse(room, S.ROOMED)
    missing = missing_checks(room)
    if missing:
        raise ActionRefused(f"{len(missing)} checklist item(s) still to do: {'; '.join(missing)}.")
    if room.appointment.status != Appointment.Status.IN_ROOM:
        visits.room_appointment(room.appointment, actor=None)
    return _move(room, to=S.ROOMED, actor=actor, now=now, roomed_at=now)


@transaction.atomic
def hand_off(room: VisitRoom, *, note: str, actor: User, now: datetime | None = None) -> VisitRoom:
    """The warm handoff: the VMA tells the provider what they need to know; the provider is awaited."""
    now = now or timezone.now()
    note = (note or "").strip()
    if not note:
        raise ActionRefused("Write the handoff note for the provider.", status_code=400)
    if len(note) > HANDOFF_MAX:
        raise ActionRefused(f"Keep the handoff note under {HANDOFF_MAX} characters.", status_code=400)
    room = _lock(room)
    _check(actor, room, ROOM)
    _vma_running(room, actor)
    if room.status != S.ROOMED:
        raise _refuse(room, S.READY)
    return _move(room, to=S.READY, actor=actor, now=now, note=note, ready_at=now, handoff_note=note)


# ---------------------------------------------------------------------------------------------
# The provider, and the end
# ---------------------------------------------------------------------------------------------


@transaction.atomic
def provider_join(room: VisitRoom, *, actor: User, now: datetime | None = None) -> VisitRoom:
    now = now or timezone.now()
    room = _lock(room)
    _check_own_provider(actor, room)
    if room.status == S.PROVIDER_JOINED:
        return room  # a second click
    if room.status != S.READY:
        raise _refuse(room, S.PROVIDER_JOINED)
    return _move(room, to=S.PROVIDER_JOINED, actor=actor, now=now, provider_joined_at=now)


@transaction.atomic
def end_visit(room: VisitRoom, *, actor: User, perm: str, reason: str = "", now: datetime | None = None) -> VisitRoom:
    """End the room. Under way: only its provider, and the visit is completed. Before the provider
    joined: the provider or a VMA closes it with a reason (switched to phone, patient left…)."""
    now = now or timezone.now()
    if perm not in (HOST, ROOM):
        raise NotPermitted("You cannot end this visit.")
    reason = (reason or "").strip()[:300]
    room = _lock(room)
    _check(actor, room, perm)
    if room.status == S.ENDED:
        raise ActionRefused("This room has already ended.")
    if room.status == S.PROVIDER_JOINED:
        if perm != HOST:
            raise NotPermitted("The visit is under way: only its provider ends it.")
        _check_own_provider(actor, room)
        if room.appointment.status == Appointment.Status.IN_ROOM:
            visits.complete_appointment(room.appointment, actor=None)
        note = reason or "Visit completed."
    else:
        if perm == HOST:
            _check_own_provider(actor, room)
        if not reason:
            raise ActionRefused(
                "Say why the room closes before the provider joined (switched to a phone visit, patient left…).",
                status_code=400,
            )
        note = reason
    room = _move(room, to=S.ENDED, actor=actor, now=now, note=note, ended_at=now, ended_by=actor, end_reason=reason)
    close_work_item(kind=NO_JOIN_KIND, subject=room, note=f"Room ended: {note}", cancel=True)
    return room


# ---------------------------------------------------------------------------------------------
# The patient who does not come (the sweep)
# ---------------------------------------------------------------------------------------------


def alert_no_join(room: VisitRoom, *, now: datetime) -> bool:
    """The backup plan, once per room: a message to the patient and a call for the front office.

    System step; the caller holds the room's lock. Returns whether it fired.
    """
    if room.no_join_notified_at is not None or room.status not in VisitRoom.NOT_JOINED:
        return False
    visit, patient = room.appointment, room.patient
    room = _save(room, no_join_notified_at=now)
    reachable = notify.can_reach(patient)
    _event(
        room,
        "no_join_alert",
        actor=None,
        now=now,
        note="Backup-phone message queued; call item opened."
        if reachable
        else "No phone or email on file: no message; call item opened.",
    )
    outbox.enqueue(notify.HANDLER, {"room_id": room.pk, "kind": notify.NO_JOIN}, key=f"telehealth.no_join:{room.pk}")
    at = timezone.localtime(visit.start_at)
    open_work_item(
        kind=NO_JOIN_KIND,
        subject=room,
        patient=patient,
        title=f"Call {patient.first_name} {patient.last_name}: not in the {at:%H:%M} video visit",
        detail=(
            f"The video visit with {provider_label(visit.provider)} started at {at:%H:%M} and the patient has not "
            f"joined the waiting room. "
            + (
                "They were sent the join link and the backup phone plan. "
                if reachable
                else "No phone or email on file. "
            )
            + f"Call them{' at ' + patient.phone if patient.phone else ''}: help them join, or tell the care team "
            "to switch to a phone visit."
        ),
        due_at=now + timedelta(minutes=10),
        priority=WorkItem.Priority.HIGH,
    )
    return True
