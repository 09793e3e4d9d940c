"""Appointment API: scoped reads, book (201/400/409), reschedule, cancel, confirm, find-slots, tokens."""

from __future__ import annotations

from datetime import timedelta

from django.urls import reverse
from django.utils import timezone

from scheduling import services
from scheduling.models import Appointment
from tests.factories import PatientFactory
from vma.api.auth import create_token
from vma.roles import Role

from .factories import at, next_monday


def post(client, url, data):
    return client.post(url, data, content_type="application/json")


def test_book_then_conflict_then_validation(client, patient, provider, follow_up, front_office):
    client.force_login(front_office)
    body = {
        "patient": str(patient.public_id),
        "provider": str(provider.public_id),
        "appointment_type": str(follow_up.public_id),
        "start_at": at(next_monday(), 9).isoformat(),
    }
    r = post(client, reverse("api-appointment-list"), body)
    assert r.status_code == 201 and r.json()["status"] == "scheduled" and r.json()["patient"] == str(patient.public_id)
    again = post(
        client,
        reverse("api-appointment-list"),
        {**body, "patient": str(PatientFactory(care_team=patient.care_team).public_id)},
    )
    assert again.status_code == 409 and again.json() == {"detail": "That time is already booked for Dr Hart."}
    bad = post(client, reverse("api-appointment-list"), {**body, "start_at": "soon", "appointment_type": "x"})
    assert bad.status_code == 400 and set(bad.json()) == {"start_at", "appointment_type"}
    lunch = post(client, reverse("api-appointment-list"), {**body, "start_at": at(next_monday(), 12).isoformat()})
    assert lunch.status_code == 409 and "Lunch" in lunch.json()["detail"]


def test_list_is_scoped_and_other_teams_visits_are_404(
    client, patient, other_patient, provider, follow_up, front_office
):
    mine = services.book_appointment(
        patient=patient,
        provider=provider,
        appointment_type=follow_up,
        start_at=at(next_monday(), 9),
        actor=front_office,
    )
    theirs = Appointment.objects.create(
        patient=other_patient, provider=provider, appointment_type=follow_up, start_at=at(next_monday(), 10)
    )
    client.force_login(front_office)
    listed = client.get(reverse("api-appointment-list")).json()["results"]
    assert [row["id"] for row in listed] == [str(mine.public_id)]
    assert client.get(reverse("api-appointment-detail", args=[theirs.public_id])).status_code == 404
    assert post(client, reverse("api-appointment-cancel", args=[theirs.public_id]), {"reason": "x"}).status_code == 404


def test_reschedule_cancel_confirm(client, patient, provider, follow_up, front_office):
    appt = services.book_appointment(
        patient=patient,
        provider=provider,
        appointment_type=follow_up,
        start_at=at(next_monday(), 9),
        actor=front_office,
    )
    client.force_login(front_office)
    r = post(client, reverse("api-appointment-confirm", args=[appt.public_id]), {})
    assert r.status_code == 200 and r.json()["status"] == "confirmed"
    moved = post(
        client,
        reverse("api-appointment-reschedule", args=[appt.public_id]),
        {"start_at": at(next_monday(), 14).isoformat()},
    )
    assert moved.status_code == 201
    old = client.get(reverse("api-appointment-detail", args=[appt.public_id])).json()
    assert old["status"] == "rescheduled" and old["rescheduled_to"] == moved.json()["id"]
    no_reason = post(client, reverse("api-appointment-cancel", args=[moved.json()["id"]]), {})
    assert no_reason.status_code == 400 and "reason" in no_reason.json()
    done = post(client, reverse("api-appointment-cancel", args=[moved.json()["id"]]), {"reason": "Travel"})
    assert done.status_code == 200 and done.json()["status"] == "cancelled"
    twice = post(client, reverse("api-appointment-cancel", args=[moved.json()["id"]]), {"reason": "Travel"})
    assert twice.status_code == 409


def test_find_slots(client, provider, follow_up, front_office):
    client.force_login(front_office)
    monday = next_monday()
    r = client.get(
        reverse("api-appointment-find-slots"),
        {
            "appointment_type": str(follow_up.public_id),
            "date_from": f"{monday:%Y-%m-%d}",
            "part_of_day": "afternoon",
            "limit": 3,
        },
    )
    assert r.status_code == 200
    assert [row["start_at"][11:16] for row in r.json()] == ["13:00", "13:15", "13:30"]
    bad = client.get(reverse("api-appointment-find-slots"), {"appointment_type": "nope", "weekdays": "9"})
    assert bad.status_code == 400 and set(bad.json()) == {"appointment_type", "weekdays"}


def test_token_needs_the_appointments_scope(client, practice, patient, provider, follow_up):
    user = practice.users[Role.FRONT_OFFICE]
    _token, raw_read = create_token(
        name="read",
        user=user,
        scopes=["appointments:read"],
        expires_at=timezone.now() + timedelta(days=1),
        created_by=None,
    )
    url = reverse("api-appointment-list")
    assert client.get(url, HTTP_AUTHORIZATION=f"Bearer {raw_read}").status_code == 200
    body = {
        "patient": str(patient.public_id),
        "provider": str(provider.public_id),
        "appointment_type": str(follow_up.public_id),
        "start_at": at(next_monday(), 9).isoformat(),
    }
    r = client.post(url, body, content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {raw_read}")
    assert r.status_code == 403 and not Appointment.objects.exists()
