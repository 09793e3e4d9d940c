"""Status moves from the calendar panel and the API, and the no-show rates the calendar shows."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from scheduling.models import Appointment
from vma.roles import Role

from .factories import at, next_monday

S = Appointment.Status


@pytest.fixture
def visit(patient, provider, follow_up):
    """A visit that started five minutes ago: every move is possible by the clock."""
    return Appointment.objects.create(
        patient=patient,
        provider=provider,
        appointment_type=follow_up,
        start_at=timezone.now() - timedelta(minutes=5),
        visit_type="F",
    )


def act(client, visit, action):
    return client.post(reverse("scheduling_action", args=[visit.public_id, action]), HTTP_HX_REQUEST="true")


def api(client, visit, action):
    return client.post(
        reverse(f"api-appointment-{action}", args=[visit.public_id]), {}, content_type="application/json"
    )


def test_panel_offers_only_the_moves_the_status_allows(client, visit, front_office):
    client.force_login(front_office)
    body = client.get(reverse("scheduling_appointment", args=[visit.public_id])).content.decode()
    offered = {a for a in ("confirm", "check-in", "in-room", "complete", "no-show") if f'data-action="{a}"' in body}
    assert offered == {"confirm", "check-in", "no-show"}
    Appointment.objects.filter(pk=visit.pk).update(status=S.CHECKED_IN)
    body = client.get(reverse("scheduling_appointment", args=[visit.public_id])).content.decode()
    assert 'data-action="in-room"' in body and 'data-action="no-show"' not in body


def test_nurse_sees_the_panel_without_move_buttons(client, practice, visit):
    client.force_login(practice.users[Role.NURSE])
    body = client.get(reverse("scheduling_appointment", args=[visit.public_id])).content.decode()
    assert "appointment-actions" not in body
    assert act(client, visit, "check-in").status_code == 403


def test_a_visit_goes_from_confirmed_to_completed_on_the_panel(client, visit, front_office):
    client.force_login(front_office)
    for action, status in (
        ("confirm", S.CONFIRMED),
        ("check-in", S.CHECKED_IN),
        ("in-room", S.IN_ROOM),
        ("complete", S.COMPLETED),
    ):
        r = act(client, visit, action)
        assert r.status_code == 200 and r["HX-Refresh"] == "true", (action, r.status_code)
        visit.refresh_from_db()
        assert visit.status == status
    assert visit.confirmed_at is not None and visit.checked_in_at is not None


def test_a_refused_move_explains_itself_on_the_panel(client, visit, front_office):
    client.force_login(front_office)
    assert act(client, visit, "no-show").status_code == 200
    r = act(client, visit, "check-in")
    body = r.content.decode()
    assert r.status_code == 409 and 'role="alert"' in body and "no-show" in body.lower()
    visit.refresh_from_db()
    assert visit.status == S.NO_SHOW
    assert act(client, visit, "teleport").status_code == 404


def test_other_teams_visit_is_404_on_the_panel_and_the_api(client, other_patient, provider, follow_up, front_office):
    theirs = Appointment.objects.create(
        patient=other_patient, provider=provider, appointment_type=follow_up, start_at=at(next_monday(), 10)
    )
    client.force_login(front_office)
    assert act(client, theirs, "check-in").status_code == 404
    for action in ("check-in", "in-room", "complete", "no-show"):
        assert api(client, theirs, action).status_code == 404, action
    theirs.refresh_from_db()
    assert theirs.status == S.SCHEDULED


def test_api_moves_and_409_for_refused_ones(client, visit, front_office):
    client.force_login(front_office)
    early = api(client, visit, "complete")
    assert early.status_code == 409 and "cannot be completed" in early.json()["detail"]
    for action, status in (("check-in", S.CHECKED_IN), ("in-room", S.IN_ROOM), ("complete", S.COMPLETED)):
        r = api(client, visit, action)
        assert r.status_code == 200 and r.json()["status"] == status, (action, r.status_code)
    assert api(client, visit, "no-show").status_code == 409


def test_api_no_show(client, visit, front_office):
    client.force_login(front_office)
    r = api(client, visit, "no-show")
    assert r.status_code == 200 and r.json()["status"] == S.NO_SHOW


def test_a_future_visit_offers_no_check_in_or_no_show(client, patient, provider, follow_up, front_office):
    later = Appointment.objects.create(
        patient=patient, provider=provider, appointment_type=follow_up, start_at=at(next_monday(), 9)
    )
    client.force_login(front_office)
    body = client.get(reverse("scheduling_appointment", args=[later.public_id])).content.decode()
    assert 'data-action="confirm"' in body
    assert 'data-action="check-in"' not in body and 'data-action="no-show"' not in body
    r = api(client, later, "no-show")
    assert r.status_code == 409 and "not started yet" in r.json()["detail"]
    assert act(client, later, "check-in").status_code == 409
    later.refresh_from_db()
    assert later.status == S.SCHEDULED


def test_api_moves_need_the_write_scope(client, visit, front_office):
    from vma.api.auth import create_token

    _t, raw = create_token(
        name="r",
        user=front_office,
        scopes=["appointments:read"],
        expires_at=timezone.now() + timedelta(days=1),
        created_by=None,
    )
    r = client.post(reverse("api-appointment-check-in", args=[visit.public_id]), HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert r.status_code == 403
    visit.refresh_from_db()
    assert visit.status == S.SCHEDULED


def test_no_show_rates_on_the_panel_and_the_calendar_header(client, patient, provider, follow_up, front_office):
    # given: the patient had 4 past visits with a verdict, one a no-show
    past = at(next_monday(weeks_ahead=-2), 9)
    for i, status in enumerate([S.COMPLETED, S.COMPLETED, S.NO_SHOW, S.COMPLETED]):
        Appointment.objects.create(
            patient=patient,
            provider=provider,
            appointment_type=follow_up,
            start_at=past + timedelta(hours=i),
            status=status,
        )
    upcoming = Appointment.objects.create(
        patient=patient, provider=provider, appointment_type=follow_up, start_at=at(next_monday(), 9)
    )
    client.force_login(front_office)
    # when / then
    panel = client.get(reverse("scheduling_appointment", args=[upcoming.public_id])).content.decode()
    assert "1 of 4 visits (25 %)" in panel
    url = f"{reverse('scheduling_calendar')}?provider={provider.public_id}&week={next_monday():%Y-%m-%d}"
    page = client.get(url).content.decode()
    assert 'id="provider-no-show-rate"' in page and "1 of 4 visits (25 %)" in page
