"""The sweep: packets created and sent once per visit, one reminder, incomplete flagged once, expiry."""

from __future__ import annotations

from datetime import timedelta

from django.core import mail
from django.utils import timezone

from intake import services, workflow
from intake.models import IntakePacket
from tests.factories import AppointmentFactory, PatientFactory
from vma import outbox
from vma.models import OutboxMessage, WorkItem

from .conftest import packet_for

S = IntakePacket.Status


def test_the_sweep_sends_each_due_visit_once_even_run_twice(starter, practice):
    # given a new-patient visit in 48 h, a follow-up in 60 h, and one in 5 days (not due yet)
    emailer = PatientFactory(care_team=practice.team, email="pat@example.invalid", preferred_channel="email")
    texter = PatientFactory(care_team=practice.team)
    new = AppointmentFactory(
        patient=emailer, visit_type="new patient VISIT", start_at=timezone.now() + timedelta(hours=48)
    )
    follow = AppointmentFactory(patient=texter, visit_type="Follow-up", start_at=timezone.now() + timedelta(hours=60))
    AppointmentFactory(patient=texter, visit_type="Follow-up", start_at=timezone.now() + timedelta(days=5))
    # when the sweep runs twice
    first = services.sweep()
    second = services.sweep()
    # then two packets were created and sent, once
    assert (first.created, first.sent, second.created, second.sent) == (2, 2, 0, 0)
    packets = {p.appointment_id: p for p in IntakePacket.objects.all()}
    assert set(packets) == {new.pk, follow.pk}
    assert [r.questionnaire.code for r in packets[new.pk].responses.order_by("position")] == [
        "registration",
        "hipaa_consent",
        "medical_history",
        "medications_allergies",
        "phq9",
        "gad7",
    ]
    assert [r.questionnaire.code for r in packets[follow.pk].responses.order_by("position")] == [
        "medical_history",
        "medications_allergies",
    ]
    assert (packets[new.pk].channel, packets[follow.pk].channel) == ("email", "sms")
    assert OutboxMessage.objects.filter(handler="intake.send_link").count() == 2
    # and delivering the email twice sends one message with a link naming no patient
    msg = OutboxMessage.objects.get(key=f"intake-link:{packets[new.pk].pk}")
    assert outbox.deliver(msg.pk) == "done" and outbox.deliver(msg.pk) == "skipped"
    assert len(mail.outbox) == 1 and mail.outbox[0].to == ["pat@example.invalid"]
    assert "/intake/f/" in mail.outbox[0].body and emailer.last_name not in mail.outbox[0].body


def test_an_sms_link_goes_through_the_console_adapter(starter, patient, caplog):
    packet = packet_for(patient, codes=["phq9"], sent=False)
    services.send_packet(packet)
    caplog.set_level("INFO", logger="intake.sms")
    outbox.deliver(OutboxMessage.objects.get(handler="intake.send_link").pk)
    assert "SMS to 555-0100" in caplog.text and "/intake/f/" in caplog.text


def test_an_unreachable_patient_gets_a_work_item_not_a_send(starter, practice):
    patient = PatientFactory(care_team=practice.team, phone="", email="")
    packet = packet_for(patient, codes=["phq9"], sent=False)
    assert services.send_packet(packet) is False
    packet.refresh_from_db()
    assert packet.status == S.CREATED
    assert WorkItem.objects.get(kind=workflow.INCOMPLETE).title.startswith("Intake not sent")


def test_one_reminder_24h_after_sending_if_not_submitted(starter, patient):
    packet = packet_for(patient, codes=["phq9"], hours_ahead=60)
    now = timezone.now()
    assert services.send_reminders(now=now + timedelta(hours=23)) == 0
    assert services.send_reminders(now=now + timedelta(hours=25)) == 1
    assert services.send_reminders(now=now + timedelta(hours=26)) == 0
    assert OutboxMessage.objects.filter(key=f"intake-reminder:{packet.pk}").count() == 1


def test_incomplete_at_24h_opens_one_item_and_marks_a_started_packet_abandoned(starter, patient):
    started = packet_for(patient, codes=["phq9"], hours_ahead=30)
    workflow.mark_opened(started)
    IntakePacket.objects.filter(pk=started.pk).update(furthest_section="phq9:page 1")
    workflow.mark_in_progress(started)
    unopened = packet_for(patient, codes=["phq9"], hours_ahead=31)
    later = timezone.now() + timedelta(hours=8)  # both visits now within 24 h
    assert services.flag_incomplete(now=later) == 2
    assert services.flag_incomplete(now=later + timedelta(minutes=15)) == 0
    started.refresh_from_db()
    unopened.refresh_from_db()
    assert (started.status, unopened.status) == (S.ABANDONED, S.SENT)
    items = WorkItem.objects.filter(kind=workflow.INCOMPLETE)
    assert items.count() == 2 and "stopped at phq9:page 1" in items.get(subject_id=started.pk).detail


def test_a_submitted_packet_is_not_flagged_and_a_past_one_expires(starter, patient):
    done = packet_for(patient, codes=["medications_allergies"], hours_ahead=30)
    done.responses.update(answers={"medications": "none", "allergies": "none"})
    workflow.mark_opened(done)
    services.submit_packet(done)
    stale = packet_for(patient, codes=["phq9"], hours_ahead=30)
    assert services.flag_incomplete(now=timezone.now() + timedelta(hours=8)) == 1
    assert services.expire_past(now=timezone.now() + timedelta(hours=31)) == 1
    stale.refresh_from_db()
    assert stale.status == S.EXPIRED
    assert WorkItem.objects.get(kind=workflow.INCOMPLETE).status == WorkItem.Status.CANCELLED


def test_the_beat_task_runs_the_sweep_and_beats(starter):
    from intake.tasks import sweep_intake
    from vma.models import Heartbeat

    assert sweep_intake() == {"created": 0, "sent": 0, "reminded": 0, "flagged": 0, "expired": 0}
    assert Heartbeat.objects.filter(name="sweep_intake").exists()
