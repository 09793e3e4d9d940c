"""Calendar page (constant queries, Busy for other panels, book/move/cancel) and signed reminder links."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from scheduling import reminders, services
from scheduling.models import Appointment
from tests.factories import PatientFactory
from vma.models import AuditEvent
from vma.roles import Role

from .factories import at, next_monday


def fill_week(provider, kind, team, n: int) -> None:
    """n visits across the provider's week, 30 minutes apart, lunch left free."""
    monday = next_monday()
    slots = [at(monday + timedelta(days=d), h, m) for d in range(5) for h in range(8, 17) if h != 12 for m in (0, 30)]
    for start in slots[:n]:
        Appointment.objects.create(
            patient=PatientFactory(care_team=team),
            provider=provider,
            appointment_type=kind,
            start_at=start,
            duration_minutes=30,
            visit_type=kind.name,
        )


def week_url(provider) -> str:
    return f"{reverse('scheduling_calendar')}?provider={provider.public_id}&week={next_monday():%Y-%m-%d}&view=week"


def count(client, url):
    with CaptureQueriesContext(connection) as ctx:
        r = client.get(url)
    assert r.status_code == 200
    return len(ctx.captured_queries), r


def test_calendar_queries_do_not_grow_with_visits(client, practice, provider, follow_up, front_office):
    client.force_login(front_office)
    url = week_url(provider)
    fill_week(provider, follow_up, practice.team, 2)
    count(client, url)  # warm the content-type cache, as any running server has
    small, r_small = count(client, url)
    Appointment.objects.all().delete()
    fill_week(provider, follow_up, practice.team, 60)
    large, r_large = count(client, url)
    assert small == large, (small, large)
    assert r_small.content.count(b"blk appointment") == 2 and r_large.content.count(b"blk appointment") == 60


def test_other_teams_patients_show_as_busy_without_names(client, practice, provider, follow_up, front_office):
    mine = PatientFactory(care_team=practice.team, last_name="Mineral")
    theirs = PatientFactory(care_team=practice.other_team, last_name="Secretson")
    for p, hour in ((mine, 9), (theirs, 10)):
        Appointment.objects.create(
            patient=p, provider=provider, appointment_type=follow_up, start_at=at(next_monday(), hour), visit_type="F"
        )
    client.force_login(front_office)
    body = client.get(week_url(provider)).content.decode()
    assert "Mineral" in body and "Secretson" not in body
    assert body.count(">Busy<") == 1
    assert "Lunch" in body  # template blocks are drawn
    event = AuditEvent.objects.filter(action="page.scheduling_calendar").latest("seq")
    assert event.patient_ids == [mine.pk]


def test_front_office_books_an_empty_slot_and_sees_a_conflict_message(
    client, patient, provider, follow_up, front_office
):
    client.force_login(front_office)
    start = at(next_monday(), 9)
    form = client.get(
        reverse("scheduling_book_form"),
        {"provider": provider.public_id, "start": start.isoformat(), "q": patient.last_name[:4]},
        HTTP_HX_REQUEST="true",
    )
    assert form.status_code == 200 and patient.last_name in form.content.decode()
    data = {
        "patient": patient.public_id,
        "provider": provider.public_id,
        "type": follow_up.public_id,
        "start": start.isoformat(),
    }
    ok = client.post(reverse("scheduling_book"), data, HTTP_HX_REQUEST="true")
    assert ok.status_code == 200 and ok["HX-Refresh"] == "true"
    assert Appointment.objects.get().patient == patient
    # the same slot again: a clear message, not an error page
    again = client.post(reverse("scheduling_book"), data, HTTP_HX_REQUEST="true")
    assert again.status_code == 409 and "That time is already booked for Dr Hart." in again.content.decode()


def test_move_and_cancel_from_the_calendar(client, patient, provider, follow_up, front_office):
    appt = services.book_appointment(
        patient=patient,
        provider=provider,
        appointment_type=follow_up,
        start_at=at(next_monday(), 9),
        actor=front_office,
    )
    client.force_login(front_office)
    panel = client.get(reverse("scheduling_appointment", args=[appt.public_id]))
    assert panel.status_code == 200 and "Move to" in panel.content.decode()
    moved = client.post(
        reverse("scheduling_reschedule", args=[appt.public_id]), {"start": f"{next_monday():%Y-%m-%d}T10:00"}
    )
    assert moved.status_code == 200
    new = Appointment.objects.get(status="scheduled")
    assert timezone.localtime(new.start_at).hour == 10
    no_reason = client.post(reverse("scheduling_cancel", args=[new.public_id]), {"reason": ""})
    assert no_reason.status_code == 400 and "reason" in no_reason.content.decode()
    done = client.post(reverse("scheduling_cancel", args=[new.public_id]), {"reason": "Patient called"})
    assert done.status_code == 200
    new.refresh_from_db()
    assert new.status == "cancelled"


# --- signed links -----------------------------------------------------------------------------


@pytest.fixture
def upcoming(patient, provider, follow_up, front_office):
    return services.book_appointment(
        patient=patient,
        provider=provider,
        appointment_type=follow_up,
        start_at=at(next_monday(), 9),
        actor=front_office,
    )


def link(appt, action):
    return reverse("scheduling_link", args=[reminders.sign_link(appt, action)])


def test_confirm_link_works_without_login_and_shows_no_more_than_needed(client, upcoming, patient):
    url = link(upcoming, "confirm")
    page = client.get(url)
    body = page.content.decode()
    assert page.status_code == 200 and patient.first_name in body and "Dr Hart" in body
    assert patient.last_name not in body and patient.mrn not in body
    upcoming.refresh_from_db()
    assert upcoming.status == "scheduled"  # a GET (a mail scanner) changes nothing

    done = client.post(url)
    assert done.status_code == 200 and "confirmed" in done.content.decode()
    upcoming.refresh_from_db()
    assert upcoming.status == "confirmed" and upcoming.confirmed_at is not None


def test_cancel_link_cancels_with_a_reason(client, upcoming):
    assert client.post(link(upcoming, "cancel")).status_code == 200
    upcoming.refresh_from_db()
    assert upcoming.status == "cancelled" and "reminder link" in upcoming.cancel_reason


def test_tampered_link_gets_a_clear_400_page(client, upcoming):
    token = reminders.sign_link(upcoming, "confirm")
    r = client.get(reverse("scheduling_link", args=[token[:-2] + ("zz" if token[-2:] != "zz" else "yy")]))
    assert r.status_code == 400 and "This link is not valid" in r.content.decode()
    assert client.post(reverse("scheduling_link", args=["garbage"])).status_code == 400


def test_expired_link_gets_a_clear_page(client, upcoming):
    # given: a link signed for a visit whose time has passed (links die at the visit's start)
    Appointment.objects.filter(pk=upcoming.pk).update(start_at=timezone.now() - timedelta(minutes=5))
    upcoming.refresh_from_db()
    url = link(upcoming, "cancel")
    # when / then
    r = client.post(url)
    assert r.status_code == 400 and "expired" in r.content.decode()
    upcoming.refresh_from_db()
    assert upcoming.status == "scheduled"


def test_nurse_sees_the_calendar_but_cannot_book(client, practice, provider):
    client.force_login(practice.users[Role.NURSE])
    assert client.get(week_url(provider)).status_code == 200
    assert client.post(reverse("scheduling_book"), {}).status_code == 403
