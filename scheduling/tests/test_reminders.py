"""Reminders: once per offset whoever sweeps, the preferred channel, retries ending in a work item."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from scheduling import reminders
from scheduling.models import Appointment, Reminder
from scheduling.notify import NotifyError
from tests.factories import PatientFactory
from vma import outbox
from vma.models import OutboxMessage, WorkItem

R = Reminder.Status


class BrokenSms:
    """An SMS carrier that is down (an external service's failure, not one of ours)."""

    def send(self, to: str, body: str) -> str:
        raise NotifyError("carrier unavailable")


def visit(patient, provider, kind, hours: float) -> Appointment:
    # Written directly: the reminder rules do not depend on how the visit was booked.
    return Appointment.objects.create(
        patient=patient,
        provider=provider,
        appointment_type=kind,
        start_at=timezone.now() + timedelta(hours=hours),
        duration_minutes=kind.duration_minutes,
        visit_type=kind.name,
        telehealth=kind.telehealth,
        telehealth_room="room123" if kind.telehealth else "",
    )


def deliver_all() -> list[str]:
    return [outbox.deliver(m) for m in OutboxMessage.objects.filter(status="pending").values_list("id", flat=True)]


def test_each_offset_is_sent_once_even_if_the_sweep_runs_twice(patient, provider, follow_up, settings):
    settings.REMINDER_OFFSETS_HOURS = [72, 24]
    patient.preferred_channel, patient.email = "email", "pat@example.invalid"
    patient.save()
    appt = visit(patient, provider, follow_up, 70)

    # when: the sweep runs twice, then the outbox delivers everything (twice over)
    first = reminders.sweep_reminders()
    second = reminders.sweep_reminders()
    deliver_all()
    deliver_all()

    # then: one 72 h reminder, one email
    assert (first.created, first.dispatched, second.created, second.dispatched) == (1, 1, 0, 0)
    r = Reminder.objects.get(appointment=appt)
    assert (r.offset_hours, r.status, r.channel) == (72, R.SENT, "email") and r.sent_at is not None
    assert len(mail.outbox) == 1 and mail.outbox[0].to == ["pat@example.invalid"]
    body = mail.outbox[0].body
    assert patient.first_name in body and patient.last_name not in body and "Dr Hart" in body

    # when: 48 h later (the visit 22 h ahead), two more sweeps
    later = timezone.now() + timedelta(hours=48)
    reminders.sweep_reminders(now=later)
    reminders.sweep_reminders(now=later)
    for m in OutboxMessage.objects.filter(status="pending"):
        m.due_at = timezone.now()
        m.save()
    deliver_all()
    # then: the 24 h one, once
    assert sorted(Reminder.objects.filter(appointment=appt).values_list("offset_hours", "status")) == [
        (24, R.SENT),
        (72, R.SENT),
    ]
    assert len(mail.outbox) == 2


def test_a_visit_booked_at_short_notice_gets_one_reminder_not_two(patient, provider, follow_up, settings):
    settings.REMINDER_OFFSETS_HOURS = [72, 24]
    appt = visit(patient, provider, follow_up, 10)
    reminders.sweep_reminders()
    assert dict(Reminder.objects.filter(appointment=appt).values_list("offset_hours", "status")) == {
        72: R.SKIPPED,
        24: R.PENDING,
    }


def test_sms_and_telehealth_reminders_carry_links_join_url_and_phone(patient, provider, video, settings):
    settings.REMINDER_OFFSETS_HOURS = [24]
    settings.TELEHEALTH_BASE_URL = "https://video.example.invalid/r"
    patient.preferred_channel, patient.phone = "sms", "555-0142"
    patient.save()
    appt = visit(patient, provider, video, 20)
    reminders.sweep_reminders()
    deliver_all()
    r = Reminder.objects.get(appointment=appt)
    assert r.status == R.SENT and r.log.startswith("SMS to 555-0142:")
    assert "https://video.example.invalid/r/room123" in r.log
    assert "If the video fails, we will call you at 555-0142." in r.log
    assert "/scheduling/r/" in r.log and "Confirm:" in r.log and "Cancel:" in r.log


def test_portal_preference_falls_back_to_email(provider, follow_up, practice, settings):
    settings.REMINDER_OFFSETS_HOURS = [24]
    p = PatientFactory(care_team=practice.team, preferred_channel="portal", email="portal@example.invalid")
    visit(p, provider, follow_up, 20)
    reminders.sweep_reminders()
    deliver_all()
    assert Reminder.objects.get().channel == "email" and mail.outbox[0].to == ["portal@example.invalid"]


def test_failures_are_retried_then_end_in_a_work_item(patient, provider, follow_up, settings):
    settings.REMINDER_OFFSETS_HOURS = [24]
    settings.REMINDER_MAX_ATTEMPTS = 2
    settings.SMS_BACKEND = "scheduling.tests.test_reminders.BrokenSms"
    patient.preferred_channel, patient.phone = "sms", "555-0100"
    patient.save()
    appt = visit(patient, provider, follow_up, 20)

    reminders.sweep_reminders()
    deliver_all()
    r = Reminder.objects.get(appointment=appt)
    assert (r.status, r.attempts) == (R.PENDING, 1) and "carrier unavailable" in r.last_error
    assert r.next_attempt_at > timezone.now()

    # when: the back-off is over and the next sweep runs
    reminders.sweep_reminders(now=r.next_attempt_at + timedelta(seconds=1))
    deliver_all()
    r.refresh_from_db()
    assert (r.status, r.attempts) == (R.FAILED, 2)
    item = WorkItem.objects.get(kind="scheduling.reminder_failed")
    assert item.patient == patient and "carrier unavailable" in item.detail


def test_a_cancelled_visit_gets_no_reminder(patient, provider, follow_up, settings):
    settings.REMINDER_OFFSETS_HOURS = [24]
    appt = visit(patient, provider, follow_up, 20)
    reminders.sweep_reminders()
    Appointment.objects.filter(pk=appt.pk).update(status="cancelled", cancel_reason="x")
    deliver_all()
    assert Reminder.objects.get().status == R.SKIPPED and not mail.outbox


@pytest.mark.parametrize("tamper", ["x", "flip"])
def test_read_link_refuses_tampered_tokens(patient, provider, follow_up, tamper):
    token = reminders.sign_link(visit(patient, provider, follow_up, 20), "confirm")
    bad = token + "x" if tamper == "x" else token[:-3] + ("AAA" if token[-3:] != "AAA" else "BBB")
    with pytest.raises(reminders.LinkError, match="not valid"):
        reminders.read_link(bad)
