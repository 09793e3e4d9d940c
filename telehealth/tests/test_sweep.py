"""The minute sweep: join links shortly before each visit, and the no-join backup plan exactly once."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

import pytest
from django.utils import timezone

from scheduling.models import Appointment
from telehealth import notify, services, workflow
from telehealth.models import RoomEvent, VisitRoom
from telehealth.tasks import sweep_waiting_rooms
from vma import outbox
from vma.models import OutboxMessage, WorkItem

from .helpers import S, room_at, video_visit

START = timezone.make_aware(datetime(2030, 3, 5, 10, 0))  # a fixed Tuesday: the clock is passed in


def _alerts() -> list[OutboxMessage]:
    return list(OutboxMessage.objects.filter(key__startswith="telehealth.no_join:"))


def _items() -> list[WorkItem]:
    return list(WorkItem.objects.filter(kind=workflow.NO_JOIN_KIND))


def test_a_patient_not_in_the_room_five_minutes_after_the_start_gets_one_message_and_one_call_item(patient):
    # given a video visit at 10:00 whose link went out, and nobody in the room
    visit = video_visit(patient, start=START)
    room_at(visit, S.LINK_SENT)
    # when the sweep runs at 10:04 nothing happens yet
    assert services.sweep_waiting_rooms(now=START + timedelta(minutes=4)).alerts == 0
    assert _alerts() == [] and _items() == []
    # when it runs at 10:05, then again a minute later
    first = services.sweep_waiting_rooms(now=START + timedelta(minutes=5))
    second = services.sweep_waiting_rooms(now=START + timedelta(minutes=6))
    # then exactly one message and one call item for the front office
    assert (first.alerts, second.alerts) == (1, 0)
    [message] = _alerts()
    assert message.handler == notify.HANDLER and message.payload["kind"] == notify.NO_JOIN
    [item] = _items()
    assert item.queue == "front_office" and item.patient == patient and item.status == "open"
    assert item.priority == WorkItem.Priority.HIGH and "555-0100" in item.detail
    room = VisitRoom.objects.get(appointment=visit)
    assert room.no_join_notified_at == START + timedelta(minutes=5)
    assert room.events.filter(kind="no_join_alert").count() == 1


def test_the_task_runs_the_same_sweep_twice_safely(patient):
    video_visit(patient, start=START)  # no room yet: the sweep makes it
    now = (START + timedelta(minutes=7)).isoformat()
    assert sweep_waiting_rooms(now) == {"links_sent": 0, "alerts": 1}
    assert sweep_waiting_rooms(now) == {"links_sent": 0, "alerts": 0}
    assert len(_alerts()) == 1 and len(_items()) == 1


def test_nothing_when_the_patient_joined(patient):
    visit = video_visit(patient, start=START)
    room = room_at(visit, S.LINK_SENT)
    workflow.patient_join(room, now=START + timedelta(minutes=2))
    services.sweep_waiting_rooms(now=START + timedelta(minutes=5))
    services.sweep_waiting_rooms(now=START + timedelta(minutes=8))
    assert _alerts() == [] and _items() == []


def test_nothing_when_checked_in_at_the_desk_or_cancelled(patient):
    desk = video_visit(patient, start=START)
    Appointment.objects.filter(pk=desk.pk).update(status="checked_in")
    gone = video_visit(patient, start=START + timedelta(minutes=30))
    Appointment.objects.filter(pk=gone.pk).update(status="cancelled", cancel_reason="Sick")
    services.sweep_waiting_rooms(now=START + timedelta(minutes=40))
    assert _alerts() == [] and _items() == []


def test_no_late_texts_an_hour_after_the_start(patient):
    video_visit(patient, start=START)
    assert services.sweep_waiting_rooms(now=START + timedelta(minutes=61)).alerts == 0
    assert _alerts() == []


def test_joining_late_closes_the_call_item(patient):
    visit = video_visit(patient, start=START)
    services.sweep_waiting_rooms(now=START + timedelta(minutes=5))
    room = VisitRoom.objects.get(appointment=visit)
    workflow.patient_join(room, now=START + timedelta(minutes=7))
    [item] = _items()
    assert item.status == WorkItem.Status.DONE and "joined the waiting room at" in item.resolution_note


def test_the_message_is_not_sent_if_the_patient_joined_while_it_waited(patient, caplog):
    visit = video_visit(patient, start=START)
    services.sweep_waiting_rooms(now=START + timedelta(minutes=5))
    room = VisitRoom.objects.get(appointment=visit)
    workflow.patient_join(room, now=START + timedelta(minutes=6))
    [message] = _alerts()
    with caplog.at_level(logging.INFO, logger="scheduling.notify"):
        outbox.get_handler(message.handler)(message.payload)
    assert "SMS to" not in caplog.text
    assert not RoomEvent.objects.filter(room=room, kind="message_sent").exists()


def test_the_message_carries_the_link_and_the_backup_phone_plan(patient, caplog):
    visit = video_visit(patient, start=START)
    services.sweep_waiting_rooms(now=START + timedelta(minutes=5))
    [message] = _alerts()
    with caplog.at_level(logging.INFO, logger="scheduling.notify"):
        outbox.get_handler(message.handler)(message.payload)
    room = VisitRoom.objects.get(appointment=visit)
    assert f"SMS to {patient.phone}" in caplog.text
    assert "/telehealth/join/" in caplog.text and "we will call you at 555-0100" in caplog.text
    assert patient.last_name not in caplog.text  # first name and time only
    assert room.events.get(kind="message_sent").note.startswith("SMS to 555-0100")


def test_a_patient_with_no_contact_details_still_gets_a_call_item(patient):
    patient.phone = patient.email = ""
    patient.save()
    visit = video_visit(patient, start=START)
    services.sweep_waiting_rooms(now=START + timedelta(minutes=5))
    [item] = _items()
    assert "No phone or email on file" in item.detail
    [message] = _alerts()
    outbox.get_handler(message.handler)(message.payload)
    room = VisitRoom.objects.get(appointment=visit)
    assert room.events.filter(kind="message_failed").count() == 1


def test_the_join_link_goes_out_fifteen_minutes_before_once(patient):
    visit = video_visit(patient, start=START)
    assert services.sweep_waiting_rooms(now=START - timedelta(minutes=16)).links_sent == 0
    assert services.sweep_waiting_rooms(now=START - timedelta(minutes=15)).links_sent == 1
    assert services.sweep_waiting_rooms(now=START - timedelta(minutes=10)).links_sent == 0
    room = VisitRoom.objects.get(appointment=visit)
    assert room.status == S.LINK_SENT and room.link_sends == 1
    assert OutboxMessage.objects.filter(key=f"telehealth.link:{room.pk}:1").count() == 1


def test_a_link_sent_by_hand_is_not_sent_again_by_the_sweep(patient, front):
    visit = video_visit(patient, start=START)
    workflow.send_link(workflow.ensure_room(visit), actor=front, now=START - timedelta(hours=2))
    assert services.sweep_waiting_rooms(now=START - timedelta(minutes=10)).links_sent == 0
    assert OutboxMessage.objects.filter(key__startswith="telehealth.link:").count() == 1


@pytest.mark.django_db(transaction=True)
def test_two_sweeps_at_once_send_one_message(patient):
    # Real transactions: the second sweeper finds the room locked (SKIP LOCKED) or already flagged.
    import threading

    from django.db import connection

    video_visit(patient, start=START)
    barrier = threading.Barrier(2)
    results: list[int] = []

    def run() -> None:
        try:
            barrier.wait()
            results.append(services.sweep_waiting_rooms(now=START + timedelta(minutes=5)).alerts)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == [0, 1]
    assert len(_alerts()) == 1 and len(_items()) == 1
