"""Sending intake links: outbox handlers, email through Django mail, SMS through a console adapter."""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings
from django.core import signing
from django.core.mail import send_mail
from django.urls import reverse
from django.utils import timezone

from vma.outbox import handler

from .models import IntakePacket

log = logging.getLogger("intake.sms")
SALT = "intake.packet"


def make_token(packet: IntakePacket) -> str:
    # The token names the packet only: no patient data in a link that travels by SMS.
    return signing.TimestampSigner(salt=SALT).sign(str(packet.public_id))


def read_token(token: str) -> str:
    """The packet's public id, or BadSignature/SignatureExpired (a hard ceiling on any link's age)."""
    max_age = settings.INTAKE_LINK_MAX_AGE_HOURS * 3600
    return signing.TimestampSigner(salt=SALT).unsign(token, max_age=max_age)


def link_for(packet: IntakePacket) -> str:
    return settings.INTAKE_BASE_URL.rstrip("/") + reverse("intake_start", args=[make_token(packet)])


def channel_for(packet: IntakePacket) -> str:
    """The patient's preferred channel if we can reach them there, else whichever we can; "" if none."""
    patient = packet.patient
    reachable = {"sms": bool(patient.phone), "email": bool(patient.email)}
    preferred = patient.preferred_channel
    if reachable.get(preferred):
        return preferred
    return next((c for c in ("sms", "email") if reachable[c]), "")


def send_sms(to: str, body: str) -> None:
    """Console adapter: a real gateway replaces this; the message is logged, not delivered."""
    log.info("SMS to %s: %s", to, body)


def _message(packet: IntakePacket, *, reminder: bool) -> tuple[str, str]:
    when = timezone.localtime(packet.appointment.start_at)
    lead = "Reminder: please finish" if reminder else "Please complete"
    body = (
        f"{lead} your forms before your visit on {when:%A %B %d at %I:%M %p}. "
        f"It takes about 10 minutes: {link_for(packet)}"
    )
    return ("Reminder: forms for your visit" if reminder else "Forms for your upcoming visit"), body


@handler("intake.send_link")
def send_link(payload: dict[str, Any]) -> None:
    """Send the link (or the reminder). Runs again harmlessly: a finished packet gets nothing."""
    packet = IntakePacket.objects.select_related("patient", "appointment").get(pk=payload["packet_id"])
    if packet.status not in IntakePacket.OPEN_TO_PATIENT or packet.expires_at <= timezone.now():
        return
    subject, body = _message(packet, reminder=payload.get("kind") == "reminder")
    if packet.channel == "email":
        send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, [packet.patient.email])
    else:
        send_sms(packet.patient.phone, body)
