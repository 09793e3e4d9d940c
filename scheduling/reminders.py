"""Appointment reminders (72 h and 24 h ahead by default) and their signed confirm/cancel links.

Each (visit, offset) is one Reminder row under a unique constraint, so a sweep that runs twice
creates nothing twice. The sweep hands due rows to the outbox; the handler locks the row and
sends only if it is still pending, so a duplicate message sends nothing. A send that fails is
retried with back-off by the next sweeps, and after REMINDER_MAX_ATTEMPTS becomes a work item.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core import signing
from django.core.mail import send_mail
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from patients.models import Patient
from vma import outbox
from vma.workflow import open_work_item

from .models import Appointment, Reminder
from .notify import NotifyError, sms_backend, voice_backend
from .selectors import provider_label

log = logging.getLogger(__name__)

R = Reminder.Status
REMINDED = (Appointment.Status.SCHEDULED, Appointment.Status.CONFIRMED)
LINK_SALT = "scheduling.reminder-link"
FAILED_KIND = "scheduling.reminder_failed"
HANDLER = "scheduling.send_reminder"


def offsets() -> list[int]:
    return sorted({int(h) for h in settings.REMINDER_OFFSETS_HOURS}, reverse=True)


def max_attempts() -> int:
    return int(getattr(settings, "REMINDER_MAX_ATTEMPTS", 4))


# ---------------------------------------------------------------------------------------------
# Signed links: confirm or cancel without signing in, until the visit starts
# ---------------------------------------------------------------------------------------------


class LinkError(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def sign_link(appointment: Appointment, action: str) -> str:
    # The expiry travels inside the signed value: the link dies when the visit starts.
    value = {"a": str(appointment.public_id), "x": action, "e": int(appointment.start_at.timestamp())}
    return signing.dumps(value, salt=LINK_SALT, compress=True)


def link_url(appointment: Appointment, action: str) -> str:
    path = reverse("scheduling_link", args=[sign_link(appointment, action)])
    return f"{settings.PORTAL_BASE_URL.rstrip('/')}{path}"


def read_link(token: str, *, now: datetime | None = None) -> tuple[Appointment, str]:
    """(appointment, action) of a valid link; LinkError with a plain message otherwise."""
    now = now or timezone.now()
    try:
        # The outer bound: no link lives longer than the furthest reminder plus a month.
        value = signing.loads(token, salt=LINK_SALT, max_age=timedelta(hours=max(offsets(), default=72) + 24 * 31))
    except signing.SignatureExpired:
        raise LinkError("This link has expired.") from None
    except signing.BadSignature:
        raise LinkError("This link is not valid. Please call the office.") from None
    if not isinstance(value, dict) or value.get("x") not in {"confirm", "cancel"}:
        raise LinkError("This link is not valid. Please call the office.")
    if now.timestamp() >= float(value.get("e", 0)):
        raise LinkError("This link has expired: the visit time has passed. Please call the office.")
    appointment = (
        Appointment.objects.select_related("patient", "provider", "appointment_type")
        .filter(public_id=str(value.get("a", "")))
        .first()
    )
    if appointment is None:
        raise LinkError("This link is not valid. Please call the office.")
    return appointment, value["x"]


# ---------------------------------------------------------------------------------------------
# The sweep (beat, every 10 minutes)
# ---------------------------------------------------------------------------------------------


@dataclass
class SweepResult:
    created: int = 0
    skipped: int = 0
    dispatched: int = 0

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


def channel_for(patient: Patient) -> str:
    """The preferred channel, or the one the contact details on file allow ("" if none)."""
    wanted = patient.preferred_channel
    if wanted == Patient.Channel.PORTAL:
        wanted = Patient.Channel.EMAIL  # no portal inbox yet: email stands in
    if wanted in (Patient.Channel.SMS, Patient.Channel.VOICE) and patient.phone:
        return wanted
    if wanted == Patient.Channel.EMAIL and patient.email:
        return wanted
    if patient.email:
        return Patient.Channel.EMAIL
    if patient.phone:
        return Patient.Channel.SMS
    return ""


def sweep_reminders(*, now: datetime | None = None, batch: int = 500) -> SweepResult:
    now = now or timezone.now()
    result = SweepResult()
    with transaction.atomic():
        result.created, result.skipped = create_due(now=now)
        result.dispatched = dispatch_due(now=now, batch=batch)
    return result


def create_due(*, now: datetime) -> tuple[int, int]:
    """A row for every offset whose time came. Only the nearest one is sent: a visit booked at
    short notice gets one reminder, not the 72 h and the 24 h at once."""
    hours = offsets()
    if not hours:
        return 0, 0
    visits = list(
        Appointment.objects.filter(
            status__in=REMINDED, start_at__gt=now, start_at__lte=now + timedelta(hours=hours[0])
        ).select_related("patient")
    )
    existing = set(Reminder.objects.filter(appointment__in=visits).values_list("appointment_id", "offset_hours"))
    rows: list[Reminder] = []
    for visit in visits:
        passed = [h for h in hours if visit.start_at - timedelta(hours=h) <= now]
        if not passed:
            continue
        nearest = min(passed)
        channel = channel_for(visit.patient)
        for h in passed:
            if (visit.pk, h) in existing:
                continue
            rows.append(
                Reminder(
                    appointment=visit,
                    offset_hours=h,
                    channel=channel,
                    status=R.PENDING if h == nearest else R.SKIPPED,
                    next_attempt_at=now,
                    created_at=now,
                )
            )
    # A concurrent sweep may insert the same rows: the unique constraint keeps one of each.
    Reminder.objects.bulk_create(rows, ignore_conflicts=True)
    return sum(1 for r in rows if r.status == R.PENDING), sum(1 for r in rows if r.status == R.SKIPPED)


def dispatch_due(*, now: datetime, batch: int = 500) -> int:
    """Hand due reminders to the outbox. SKIP LOCKED: two sweeps never take the same row."""
    due = list(
        Reminder.objects.filter(status=R.PENDING, next_attempt_at__lte=now)
        .order_by("next_attempt_at", "id")
        .select_for_update(skip_locked=True)[:batch]
    )
    lease = timedelta(seconds=settings.OUTBOX_LEASE_SECONDS)
    for reminder in due:
        # Not due again while the message is in transit; re-sent only if it was lost.
        Reminder.objects.filter(pk=reminder.pk).update(next_attempt_at=now + lease)
        outbox.enqueue(HANDLER, {"reminder_id": reminder.pk}, key=f"reminder:{reminder.pk}:{reminder.attempts + 1}")
    return len(due)


# ---------------------------------------------------------------------------------------------
# Sending one
# ---------------------------------------------------------------------------------------------


def message_for(reminder: Reminder) -> tuple[str, str]:
    """(subject, body): first name, date and time, provider; no other PHI."""
    visit = reminder.appointment
    local = timezone.localtime(visit.start_at)
    when = f"{local:%A, %B} {local.day} at {local:%I:%M %p}".replace(" 0", " ")
    who = provider_label(visit.provider)
    lines = [f"Hello {visit.patient.first_name}, this is a reminder of your visit with {who} on {when}."]
    if visit.telehealth:
        lines.append(f"It is a video visit. Join here: {visit.join_url}")
        phone = visit.patient.phone or "the number on file"
        lines.append(f"If the video fails, we will call you at {phone}.")
    lines.append(f"Confirm: {link_url(visit, 'confirm')}")
    lines.append(f"Cancel: {link_url(visit, 'cancel')}")
    return f"Reminder: your visit on {when}", "\n".join(lines)


def _deliver(reminder: Reminder) -> str:
    patient = reminder.appointment.patient
    subject, body = message_for(reminder)
    if reminder.channel == Patient.Channel.EMAIL:
        send_mail(subject, body, None, [patient.email])
        return f"Email to {patient.email}: {subject}"
    if reminder.channel == Patient.Channel.SMS:
        return sms_backend().send(patient.phone, body)
    if reminder.channel == Patient.Channel.VOICE:
        return voice_backend().call(patient.phone, body)
    raise NotifyError("No phone number or email address on file.")


def backoff(attempts: int) -> timedelta:
    return timedelta(minutes=min(120, 10 * 2 ** max(0, attempts - 1)))


@outbox.handler(HANDLER)
def send_reminder(payload: dict[str, Any]) -> None:
    """Send one reminder if it is still pending. A crash after the send and before the commit
    sends it again on redelivery: a duplicate reminder is better than a lost one."""
    now = timezone.now()
    reminder = (
        Reminder.objects.select_for_update(of=("self",))
        .select_related("appointment__patient", "appointment__provider")
        .filter(pk=payload["reminder_id"])
        .first()
    )
    if reminder is None or reminder.status != R.PENDING:
        return
    visit = reminder.appointment
    if visit.status not in REMINDED or visit.start_at <= now:
        reminder.status = R.SKIPPED
        reminder.save(update_fields=["status"])
        return
    reminder.attempts += 1
    try:
        line = _deliver(reminder)
    except Exception as exc:  # noqa: BLE001 - any channel failure is recorded and retried
        reminder.last_error = f"{type(exc).__name__}: {exc}"[:2000]
        no_contact = isinstance(exc, NotifyError) and not reminder.channel
        if no_contact or reminder.attempts >= max_attempts():
            reminder.status = R.FAILED
            _report_failure(reminder)
        else:
            reminder.next_attempt_at = now + backoff(reminder.attempts)
        reminder.save(update_fields=["attempts", "last_error", "status", "next_attempt_at"])
        log.warning("reminder %s failed (attempt %s): %s", reminder.pk, reminder.attempts, reminder.last_error)
        return
    reminder.status, reminder.sent_at = R.SENT, now
    reminder.log = line[:4000]
    reminder.save(update_fields=["attempts", "status", "sent_at", "log"])


def _report_failure(reminder: Reminder) -> None:
    visit = reminder.appointment
    local = timezone.localtime(visit.start_at)
    open_work_item(
        kind=FAILED_KIND,
        subject=visit,
        patient=visit.patient,
        title=f"Reminder not delivered: visit {local:%a %b} {local.day} {local:%H:%M}",
        detail=f"The {reminder.offset_hours} h reminder could not be sent after {reminder.attempts} "
        f"attempt(s): {reminder.last_error}. Call the patient and check their contact details.",
        due_at=min(timezone.now() + timedelta(hours=4), visit.start_at),
    )
