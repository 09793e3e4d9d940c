"""Prior-auth badges on the calendar blocks and tomorrow's rows: one batch query per page."""

from __future__ import annotations

from datetime import datetime, time, timedelta

from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from eligibility.models import PriorAuthorization
from scheduling.models import Appointment
from tests.factories import AppointmentFactory, CoverageFactory, PatientFactory
from vma.roles import Role

from .factories import next_monday
from .test_views import fill_week, week_url

PA = PriorAuthorization.Status


def auth(visit, status: str) -> PriorAuthorization:
    coverage = CoverageFactory(patient=visit.patient, active=False)
    submitted = status != PA.REQUIRED
    approved = status == PA.APPROVED
    today = timezone.localdate()
    return PriorAuthorization.objects.create(
        patient=visit.patient,
        coverage=coverage,
        payer=coverage.payer,
        appointment=visit,
        service_code="70551",
        status=status,
        requested_units=1,
        submitted_at=timezone.now() if submitted else None,
        decision_due_at=timezone.now() + timedelta(days=5) if submitted else None,
        approved_units=1 if approved else None,
        valid_from=today if approved else None,
        valid_to=today + timedelta(days=90) if approved else None,
    )


def queries(client, url):
    with CaptureQueriesContext(connection) as ctx:
        r = client.get(url)
    assert r.status_code == 200
    pa = [q["sql"] for q in ctx.captured_queries if '"eligibility_priorauthorization"' in q["sql"]]
    return len(ctx.captured_queries), len(pa), r.content.decode()


def test_calendar_blocks_show_prior_auth_badges_in_one_query(client, practice, provider, follow_up, front_office):
    # given: a week with 3 visits, then 40, each flagged in turn missing / pending / denied / approved
    client.force_login(front_office)
    url = week_url(provider)
    statuses = [PA.REQUIRED, PA.PENDING, PA.DENIED, PA.APPROVED]
    fill_week(provider, follow_up, practice.team, 3)
    for i, visit in enumerate(Appointment.objects.order_by("start_at")):
        auth(visit, statuses[i % 4])
    queries(client, url)  # warm caches
    small, small_pa, body = queries(client, url)
    assert small_pa == 1
    assert body.count("PA missing") == 1 and body.count("PA pending") == 1 and body.count("PA denied") == 1
    # when: many more visits, each with an authorization
    PriorAuthorization.objects.all().delete()
    Appointment.objects.all().delete()
    fill_week(provider, follow_up, practice.team, 40)
    for i, visit in enumerate(Appointment.objects.order_by("start_at")):
        auth(visit, statuses[i % 4])
    large, large_pa, body = queries(client, url)
    # then: the same number of queries, one of them for the flags; approved visits have no badge
    assert (small, small_pa) == (large, large_pa), (small, large)
    assert body.count("PA missing") == 10 and body.count("PA denied") == 10 and "PA approved" not in body


def tomorrow_at(hour: int, minute: int = 0) -> datetime:
    return timezone.make_aware(datetime.combine(timezone.localdate() + timedelta(days=1), time(hour, minute)))


def test_tomorrow_rows_show_prior_auth_badges_in_one_query(client, practice):
    client.force_login(practice.users[Role.FRONT_OFFICE])
    url = reverse("eligibility_tomorrow")

    def add(n: int, start: int) -> None:
        for i in range(start, start + n):
            visit = AppointmentFactory(
                patient=PatientFactory(care_team=practice.team), start_at=tomorrow_at(8 + i % 9, i % 60)
            )
            auth(visit, [PA.REQUIRED, PA.APPROVED][i % 2])

    add(2, 0)
    queries(client, url)  # warm caches
    small, small_pa, body = queries(client, url)
    assert small_pa == 1 and body.count("PA missing") == 1
    add(20, 2)
    large, large_pa, body = queries(client, url)
    assert (small, small_pa) == (large, large_pa), (small, large)
    assert body.count("PA missing") == 11


def test_calendar_without_visible_visits_makes_no_flag_query(client, practice, provider, front_office):
    client.force_login(front_office)
    _n, pa, _body = queries(client, week_url(provider))
    assert pa == 0 and next_monday().weekday() == 0


def test_panel_patient_page_and_api_show_the_flag(client, practice, patient, provider, follow_up, front_office):
    from scheduling.tests.factories import at, next_monday

    visit = Appointment.objects.create(
        patient=patient, provider=provider, appointment_type=follow_up, start_at=at(next_monday(), 9)
    )
    past = Appointment.objects.create(
        patient=patient, provider=provider, appointment_type=follow_up, start_at=at(next_monday(weeks_ahead=-3), 9)
    )
    auth(visit, PA.REQUIRED)
    client.force_login(front_office)
    panel = client.get(reverse("scheduling_appointment", args=[visit.public_id])).content.decode()
    assert 'id="pa-badge"' in panel and "PA missing" in panel
    page = client.get(reverse("patient_detail", args=[patient.public_id])).content.decode()
    upcoming = page.split('id="upcoming-appointments"')[1].split("</ul>")[0]
    assert "PA missing" in upcoming and upcoming.count("<li>") == 1  # the past visit is not "upcoming"
    one = client.get(reverse("api-appointment-detail", args=[visit.public_id])).json()
    assert one["prior_authorization"] == "missing"
    listed = {a["id"]: a["prior_authorization"] for a in client.get(reverse("api-appointment-list")).json()["results"]}
    assert listed == {str(visit.public_id): "missing", str(past.public_id): None}


def test_api_list_flags_in_one_query_whatever_the_page_length(client, practice, provider, follow_up, front_office):
    client.force_login(front_office)
    url = reverse("api-appointment-list")

    fill_week(provider, follow_up, practice.team, 2)
    for visit in Appointment.objects.all():
        auth(visit, PA.PENDING)
    client.get(url)
    with CaptureQueriesContext(connection) as small:
        assert client.get(url).status_code == 200
    PriorAuthorization.objects.all().delete()
    Appointment.objects.all().delete()
    fill_week(provider, follow_up, practice.team, 20)
    for visit in Appointment.objects.all():
        auth(visit, PA.PENDING)
    with CaptureQueriesContext(connection) as large:
        r = client.get(url)
    assert {a["prior_authorization"] for a in r.json()["results"]} == {"pending"}
    assert len(r.json()["results"]) == 20
    assert len(small.captured_queries) == len(large.captured_queries)
