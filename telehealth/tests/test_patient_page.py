"""The patient's page: the signed, expiring link; joining by POST (a link preview joins nobody); the tech check."""

from __future__ import annotations

from datetime import timedelta

from django.core import signing
from django.urls import reverse
from django.utils import timezone

from scheduling.models import Appointment
from telehealth import notify, workflow
from telehealth.models import VisitRoom

from .helpers import S, room_at, video_visit


def url(room: VisitRoom) -> str:
    return reverse("telehealth_patient", args=[notify.make_token(room)])


def test_opening_shows_first_name_and_time_only_and_joins_only_on_post(client, patient, visit):
    room = workflow.ensure_room(visit)
    page = client.get(url(room))
    body = page.content.decode()
    assert page.status_code == 200 and f"Hello {patient.first_name}" in body
    assert patient.last_name not in body and patient.phone not in body and str(patient.date_of_birth.year) not in body
    assert 'id="join-form" data-auto="1"' in body and "not part of this demo" in body
    room.refresh_from_db()
    assert room.status == S.CREATED  # a GET (a link preview) joins nobody
    joined = client.post(url(room), {"action": "join"})
    assert joined.status_code == 302
    room.refresh_from_db()
    visit.refresh_from_db()
    assert room.status == S.PATIENT_JOINED and visit.status == Appointment.Status.CHECKED_IN
    after = client.get(url(room)).content.decode()
    assert "You are in the waiting room" in after and "I can see and hear" in after


def test_tech_check_by_ticking_or_by_the_device(client, patient, visit):
    room = room_at(visit, S.PATIENT_JOINED)
    missing = client.post(url(room), {"action": "tech", "method": "patient"})
    assert missing.status_code == 400 and "Tick the box" in missing.content.decode()
    assert client.post(url(room), {"action": "tech", "method": "patient", "can_see_and_hear": "yes"}).status_code == 302
    room.refresh_from_db()
    assert room.status == S.TECH_CHECK_PASSED and room.tech_check_method == "patient"
    assert "A medical assistant will be with you shortly" in client.get(url(room)).content.decode()

    other = room_at(video_visit(patient, start=timezone.now() + timedelta(minutes=25)), S.PATIENT_JOINED)
    client.post(url(other), {"action": "tech", "method": "device"})
    other.refresh_from_db()
    assert other.tech_check_method == "device"


def test_a_tampered_or_foreign_token_is_a_bad_link(client, visit):
    room = workflow.ensure_room(visit)
    token = notify.make_token(room)
    tampered = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    for bad in (tampered, "nonsense", signing.dumps({"r": str(room.public_id)}, salt="intake.packet")):
        response = client.get(reverse("telehealth_patient", args=[bad]))
        assert response.status_code == 400 and "This link does not work" in response.content.decode()
    not_a_room = signing.dumps({"r": "not-a-uuid"}, salt=notify.SALT, compress=True)
    assert client.get(reverse("telehealth_patient", args=[not_a_room])).status_code == 400
    assert client.post(reverse("telehealth_patient", args=[tampered]), {"action": "join"}).status_code == 400
    room.refresh_from_db()
    assert room.status == S.CREATED


def test_a_link_expires_after_the_visit_and_after_its_maximum_age(client, patient, monkeypatch):
    past = video_visit(patient, start=timezone.now() - timedelta(hours=3))
    old = workflow.ensure_room(past)
    response = client.get(url(old))
    assert response.status_code == 400 and "expired" in response.content.decode()
    # the signature's own clock: a link older than LINK_MAX_AGE is refused whatever the visit
    room = workflow.ensure_room(video_visit(patient, start=timezone.now() + timedelta(minutes=5)))
    token = notify.make_token(room)
    assert client.get(reverse("telehealth_patient", args=[token])).status_code == 200
    monkeypatch.setattr(notify, "LINK_MAX_AGE", timedelta(seconds=-1))
    response = client.get(reverse("telehealth_patient", args=[token]))
    assert response.status_code == 400 and "expired" in response.content.decode()


def test_too_early_says_when_the_room_opens_and_records_nothing(client, patient):
    room = workflow.ensure_room(video_visit(patient, start=timezone.now() + timedelta(hours=2)))
    body = client.get(url(room)).content.decode()
    assert "The waiting room opens at" in body and "join-form" not in body
    client.post(url(room), {"action": "join"})
    room.refresh_from_db()
    assert room.status == S.CREATED


def test_a_cancelled_or_ended_visit(client, patient, visit):
    room = workflow.ensure_room(visit)
    Appointment.objects.filter(pk=visit.pk).update(status="cancelled", cancel_reason="Sick")
    gone = client.get(url(room))
    assert gone.status_code == 410 and "no longer scheduled" in gone.content.decode()
    ended = room_at(video_visit(patient, start=timezone.now() + timedelta(hours=1)), S.ENDED)
    assert "This visit has ended" in client.get(url(ended)).content.decode()


def test_an_unknown_button_is_a_clear_error(client, visit):
    room = workflow.ensure_room(visit)
    response = client.post(url(room), {"action": "dance"})
    assert response.status_code == 400 and "Something went wrong" in response.content.decode()
