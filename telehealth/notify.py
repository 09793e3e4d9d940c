"""The patient's join link (signed, expiring) and the messages that carry it, sent through the outbox.

The token names the room only: no patient data in a link that travels by SMS. A link works until
LINK_GRACE after the visit's scheduled end, and never longer than LINK_MAX_AGE after it was made.
Messages go through the patient's channel (scheduling's reminder rules and adapters).
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core import signing
from django.core.mail import send_mail
from django.urls import reverse
from django.utils import timezone

from patients.models import Patient
from scheduling.notify import sms_backend, voice_backend
from scheduling.reminders import channel_for
from scheduling.selectors import provider_label
from vma.outbox import handler

from .models import RoomEvent, VisitRoom

log = logging.getLogger(__name__)

SALT = "telehealth.join-link"
HANDLER = "telehealth.send_message"
LINK_MAX_AGE = timedelta(days=14)  # a hard ceiling on any link's age, whatever the visit's date
LINK_GRACE = timedelta(hours=2)  # after the scheduled end: a provider running late
JOIN_OPENS = timedelta(minutes=30)  # before the start: joining earlier records nothing
LINK = "link"
NO_JOIN = "no_join"


def make_token(room: VisitRoom) -> str:
    return signing.dumps({"r": str(room.public_id)}, salt=SALT, compress=True)


def read_token(token: str) -> str:
    """The room's public id; BadSignature or SignatureExpired (older than LINK_MAX_AGE) otherwise."""
    value = signing.loads(token, salt=SALT, max_age=LINK_MAX_AGE)
    if not isinstance(value, dict) or not isinstance(value.get("r"), str):
        raise signing.BadSignature("Malformed join link")
    return value["r"]


def link_for(room: VisitRoom) -> str:
    return settings.PORTAL_BASE_URL.rstrip("/") + reverse("telehealth_patient", args=[make_token(room)])


def link_window(room: VisitRoom) -> tuple[datetime, datetime]:
    """(opens, expires): joining counts from 30 minutes before the start until 2 h after the end."""
    visit = room.appointment
    return visit.start_at - JOIN_OPENS, visit.end_at + LINK_GRACE


def _when(at: datetime) -> str:
    local = timezone.localtime(at)
    return f"{local:%I:%M %p}".lstrip("0")


def message_for(room: VisitRoom, kind: str) -> tuple[str, str]:
    """(subject, body). First name, time and provider only; the backup plan is a phone call."""
    visit, patient = room.appointment, room.patient
    who, at = provider_label(visit.provider), _when(visit.start_at)
    call = (
        f"If the video does not work, stay by your phone: we will call you at {patient.phone}."
        if patient.phone
        else "If the video does not work, please call the office."
    )
    if kind == NO_JOIN:
        lines = [
            f"Hello {patient.first_name}, your video visit with {who} started at {at} "
            "and we do not see you in the waiting room yet.",
            f"Join here: {link_for(room)}",
            call,
        ]
        return "Your video visit has started", "\n".join(lines)
    lines = [
        f"Hello {patient.first_name}, your video visit with {who} is today at {at}.",
        f"Join the waiting room a few minutes before: {link_for(room)}",
        call,
    ]
    return f"Your video visit at {at}: join link", "\n".join(lines)


def can_reach(patient: Patient) -> bool:
    return bool(channel_for(patient))


def _deliver(room: VisitRoom, kind: str) -> str:
    patient = room.patient
    channel = channel_for(patient)
    subject, body = message_for(room, kind)
    if channel == Patient.Channel.EMAIL:
        send_mail(subject, body, None, [patient.email])
        return f"Email to {patient.email}: {subject}"
    if channel == Patient.Channel.SMS:
        return sms_backend().send(patient.phone, body)
    if channel == Patient.Channel.VOICE:
        # A link cannot be read aloud usefully: the call says what the text would, minus the link.
        script = "\n".join(line for line in body.splitlines() if "http" not in line)
        return voice_backend().call(patient.phone, script)
    return ""


@handler(HANDLER)
def send_message(payload: dict[str, Any]) -> None:
    """Send the join link or the no-join message if it still applies; note what went where.

    A crash after the send and before the commit sends it again on redelivery: a duplicate text
    is better than a patient left without a way into their visit.
    """
    room = VisitRoom.objects.select_related("patient", "appointment__provider").filter(pk=payload["room_id"]).first()
    if room is None or room.status == VisitRoom.Status.ENDED:
        return
    kind = payload.get("kind", LINK)
    if kind == NO_JOIN and room.status not in VisitRoom.NOT_JOINED:
        return  # the patient joined while the message waited: nothing to say
    line = _deliver(room, kind)
    RoomEvent.objects.create(
        room=room,
        kind="message_sent" if line else "message_failed",
        note=(line or "No phone number or email address on file: nothing sent.")[:500],
    )
