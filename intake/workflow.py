"""Intake-packet states and transitions: the only code that sets IntakePacket.status."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from vma.access import can_access_patient
from vma.exceptions import ActionRefused, NotPermitted
from vma.workflow import close_work_item

from .models import IntakePacket, IntakeResponse, ProposedChange

if TYPE_CHECKING:
    from vma.models import User, WorkItem

S = IntakePacket.Status
TRANSITIONS: dict[str, frozenset[str]] = {
    S.CREATED: frozenset({S.SENT, S.EXPIRED}),
    S.SENT: frozenset({S.OPENED, S.EXPIRED}),
    S.OPENED: frozenset({S.IN_PROGRESS, S.SUBMITTED, S.ABANDONED, S.EXPIRED}),
    S.IN_PROGRESS: frozenset({S.SUBMITTED, S.ABANDONED, S.EXPIRED}),
    # Abandoned only means "not finished 24 h before the visit": the patient may still finish.
    S.ABANDONED: frozenset({S.IN_PROGRESS, S.SUBMITTED, S.EXPIRED}),
    S.SUBMITTED: frozenset({S.REVIEWED}),
    S.REVIEWED: frozenset(),
    S.EXPIRED: frozenset(),
}

CONFIRM_UPDATES = "intake.confirm_updates"
SAFETY_ESCALATION = "intake.safety_escalation"
INCOMPLETE = "intake.incomplete"
REVIEW_PERM = "intake.review_intakepacket"


def packet_url(item: WorkItem) -> str:
    """Where an intake work item is worked: the packet's staff page (subject: a packet or a response)."""
    subject = item.subject
    packet = subject.packet if isinstance(subject, IntakeResponse) else subject
    return reverse("intake_packet_detail", args=[packet.public_id])  # type: ignore[union-attr]


def _lock(packet: IntakePacket) -> IntakePacket:
    return (
        IntakePacket.objects.select_for_update(of=("self",)).select_related("patient", "appointment").get(pk=packet.pk)
    )


def _move(packet: IntakePacket, *, to: str, **changes: Any) -> IntakePacket:
    """Re-read under a row lock, refuse a move the table does not allow, save. Callers are atomic."""
    packet = _lock(packet)
    if to not in TRANSITIONS[packet.status]:
        raise ActionRefused(f"This intake is {packet.get_status_display().lower()}; it cannot become {to}.")
    packet.status = to
    fields = {"status", "updated_at"}
    for name, value in changes.items():
        setattr(packet, name, value)
        fields.add(name)
    packet.save(update_fields=sorted(fields))
    return packet


@transaction.atomic
def mark_sent(packet: IntakePacket, *, channel: str, now: datetime | None = None) -> IntakePacket:
    return _move(packet, to=S.SENT, channel=channel, sent_at=now or timezone.now())


@transaction.atomic
def mark_opened(packet: IntakePacket) -> IntakePacket:
    """The patient passed the identity check. Re-opening a started packet changes nothing."""
    packet = _lock(packet)
    if packet.status != S.SENT:
        return packet
    return _move(packet, to=S.OPENED, opened_at=timezone.now())


def mark_in_progress(packet: IntakePacket) -> IntakePacket:
    """A page of answers was saved (the caller's transaction)."""
    packet = _lock(packet)
    if packet.status == S.IN_PROGRESS:
        return packet
    changes: dict[str, Any] = {}
    if packet.started_at is None:
        changes["started_at"] = timezone.now()
    return _move(packet, to=S.IN_PROGRESS, **changes)


def mark_submitted(packet: IntakePacket, **scores: Any) -> IntakePacket:
    return _move(packet, to=S.SUBMITTED, submitted_at=timezone.now(), **scores)


def mark_abandoned(packet: IntakePacket, *, now: datetime) -> IntakePacket:
    return _move(packet, to=S.ABANDONED, incomplete_flagged_at=now)


def mark_expired(packet: IntakePacket) -> IntakePacket:
    return _move(packet, to=S.EXPIRED)


@transaction.atomic
def review_packet(packet: IntakePacket, *, actor: User) -> IntakePacket:
    """A VMA confirms the intake: every proposed change decided, the confirm-updates item closed."""
    if not can_access_patient(actor, packet.patient, REVIEW_PERM):
        raise NotPermitted("You cannot review this intake.")
    pending = ProposedChange.objects.filter(packet=packet, status=ProposedChange.Status.PENDING).count()
    if pending:
        raise ActionRefused(f"Apply or reject the {pending} proposed change(s) first.", status_code=400)
    packet = _move(packet, to=S.REVIEWED, reviewed_at=timezone.now(), reviewed_by=actor)
    close_work_item(kind=CONFIRM_UPDATES, subject=packet, note="Intake reviewed.", actor=actor)
    return packet
