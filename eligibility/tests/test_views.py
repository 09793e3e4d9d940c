"""Eligibility pages: "check now" only queues, access answers 404, tomorrow's page in constant queries."""

from __future__ import annotations

import itertools
from datetime import datetime, time, timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.template.loader import render_to_string
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from eligibility.models import EligibilityCheck
from patients.models import Coverage
from tests.factories import AppointmentFactory, CoverageFactory, PatientFactory
from vma.models import AuditEvent
from vma.roles import Role

S = EligibilityCheck.Status
_ids = itertools.count(1)


def member(ending: str = "11") -> str:
    return f"V{next(_ids):07d}{ending}"


def tomorrow_at(hour: int, minute: int = 0) -> datetime:
    day = timezone.localdate() + timedelta(days=1)
    return timezone.make_aware(datetime.combine(day, time(hour, minute)))


def finished_check(coverage: Coverage, appointment, status: str, *, copay: str | None = "25.00") -> EligibilityCheck:
    """A check as a worker would have left it (test set-up only)."""
    now = timezone.now()
    done = status in EligibilityCheck.FINISHED
    return EligibilityCheck.objects.create(
        patient=coverage.patient,
        coverage=coverage,
        appointment=appointment,
        service_date=timezone.localdate(appointment.start_at) if appointment else timezone.localdate(),
        status=status,
        attempts=0 if status == S.QUEUED else 1,
        lease_until=now + timedelta(minutes=5) if status == S.SENT else None,
        completed_at=now if done else None,
        copay_office=Decimal(copay) if copay and status == S.ACTIVE else None,
        amount_to_collect=Decimal(copay) if copay and status == S.ACTIVE else None,
        deductible_ind_total=Decimal("1500.00") if status == S.ACTIVE else None,
        deductible_ind_remaining=Decimal("750.00") if status == S.ACTIVE else None,
        instruction={S.ACTIVE: "Coverage active.", S.INACTIVE: "Coverage is not active."}.get(status, ""),
    )


# --- check now ---------------------------------------------------------------------------------


def test_check_now_only_queues_the_check_and_waits_for_commit(
    client, practice, patient, django_capture_on_commit_callbacks
):
    cov = CoverageFactory(patient=patient, member_id=member())
    visit = AppointmentFactory(patient=patient, start_at=timezone.now() + timedelta(hours=20))
    client.force_login(practice.users[Role.FRONT_OFFICE])
    with django_capture_on_commit_callbacks() as callbacks:
        r = client.post(reverse("eligibility_check_now", args=[cov.public_id]))
    assert r.status_code == 302 and r["Location"] == reverse("patient_detail", args=[patient.public_id])
    check = EligibilityCheck.objects.get()
    # The page never talks to the payer: nothing was sent, a task is published after commit.
    assert (check.status, check.attempts, check.raw_270) == (S.QUEUED, 0, "")
    assert check.appointment == visit and check.requested_by == practice.users[Role.FRONT_OFFICE]
    assert len(callbacks) == 1


def test_check_now_on_another_teams_patient_is_404(client, practice, other_patient):
    cov = CoverageFactory(patient=other_patient, member_id=member())
    client.force_login(practice.users[Role.FRONT_OFFICE])
    assert client.post(reverse("eligibility_check_now", args=[cov.public_id])).status_code == 404
    assert client.get(reverse("eligibility_panel", args=[other_patient.public_id])).status_code == 404
    assert not EligibilityCheck.objects.exists()


def test_check_now_for_a_visit_of_another_patient_is_404(client, practice, patient):
    cov = CoverageFactory(patient=patient, member_id=member())
    someone_else = AppointmentFactory(patient=PatientFactory(care_team=practice.team))
    client.force_login(practice.users[Role.FRONT_OFFICE])
    r = client.post(
        reverse("eligibility_check_now", args=[cov.public_id]), {"appointment": str(someone_else.public_id)}
    )
    assert r.status_code == 404 and not EligibilityCheck.objects.exists()


def test_check_now_needs_the_coverage_permission(client, practice, patient):
    cov = CoverageFactory(patient=patient, member_id=member())
    client.force_login(practice.users[Role.MANAGER])
    assert client.post(reverse("eligibility_check_now", args=[cov.public_id])).status_code == 403
    assert not EligibilityCheck.objects.exists()


def test_check_now_from_tomorrows_page_returns_there(client, practice, patient):
    cov = CoverageFactory(patient=patient, member_id=member())
    visit = AppointmentFactory(patient=patient, start_at=tomorrow_at(9))
    client.force_login(practice.users[Role.BILLING])
    url = reverse("eligibility_tomorrow")
    r = client.post(
        reverse("eligibility_check_now", args=[cov.public_id]),
        {"appointment": str(visit.public_id), "next": url},
    )
    assert r.status_code == 302 and r["Location"] == url
    assert EligibilityCheck.objects.get().appointment == visit
    evil = client.post(reverse("eligibility_check_now", args=[cov.public_id]), {"next": "https://evil.example/"})
    assert evil["Location"] == reverse("patient_detail", args=[patient.public_id])


# --- the patient panel --------------------------------------------------------------------------


def test_panel_shows_each_coverages_newest_check_and_polls_only_while_in_flight(client, practice, patient):
    primary = CoverageFactory(patient=patient, member_id=member(), rank=Coverage.Rank.PRIMARY)
    secondary = CoverageFactory(patient=patient, member_id=member(), rank=Coverage.Rank.SECONDARY)
    old = finished_check(primary, None, S.INACTIVE)
    finished_check(primary, AppointmentFactory(patient=patient), S.ACTIVE, copay="30.00")
    client.force_login(practice.users[Role.NURSE])
    url = reverse("eligibility_panel", args=[patient.public_id])
    body = client.get(url, HTTP_HX_REQUEST="true").content.decode()
    assert "$30.00" in body and "$750.00 of $1500.00" in body and "Coverage active." in body
    assert old.instruction not in body  # only the newest check of each coverage
    assert "Never checked" in body and secondary.payer.name in body
    assert 'hx-trigger="every 3s"' not in body and "<html" not in body
    finished_check(secondary, None, S.QUEUED)
    body = client.get(url, HTTP_HX_REQUEST="true").content.decode()
    assert 'hx-trigger="every 3s"' in body and "Queued" in body
    assert AuditEvent.objects.filter(action="page.eligibility_panel", patient_ids=[patient.pk]).count() == 2


def test_htmx_check_now_answers_with_the_panel(client, practice, patient):
    cov = CoverageFactory(patient=patient, member_id=member())
    client.force_login(practice.users[Role.FRONT_OFFICE])
    r = client.post(reverse("eligibility_check_now", args=[cov.public_id]), HTTP_HX_REQUEST="true")
    body = r.content.decode()
    assert r.status_code == 200 and 'id="eligibility-panel"' in body and 'hx-trigger="every 3s"' in body
    assert EligibilityCheck.objects.get().status == S.QUEUED


def test_included_without_data_the_panel_loads_itself(patient):
    html = render_to_string("eligibility/_patient_panel.html", {"patient": patient})
    assert f'hx-get="{reverse("eligibility_panel", args=[patient.public_id])}"' in html and 'hx-trigger="load"' in html


# --- tomorrow's schedule ------------------------------------------------------------------------


def make_visits(team, n: int, *, start: int = 0) -> None:
    """n visits tomorrow, each with a primary coverage, in a mix of verification states."""
    states = [S.ACTIVE, S.ACTIVE, S.INACTIVE, S.SENT, None]
    for i in range(start, start + n):
        patient = PatientFactory(care_team=team)
        cov = CoverageFactory(patient=patient, member_id=member())
        visit = AppointmentFactory(patient=patient, start_at=tomorrow_at(8 + (i % 9), i % 60))
        if states[i % len(states)] is not None:
            finished_check(cov, visit, states[i % len(states)])


def count_queries(client, url):
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    assert response.status_code == 200
    return len(ctx.captured_queries), response


def test_tomorrow_page_queries_do_not_grow_with_visits(client, practice):
    client.force_login(practice.users[Role.FRONT_OFFICE])
    url = reverse("eligibility_tomorrow")
    make_visits(practice.team, 5)
    count_queries(client, url)  # warm the content-type cache, as any running server has
    small, r_small = count_queries(client, url)
    make_visits(practice.team, 35, start=5)
    large, r_large = count_queries(client, url)
    assert small == large, (small, large)
    assert small <= 12
    assert r_small.content.count(b"<tr>") + 35 == r_large.content.count(b"<tr>")
    assert "16/40" in r_large.content.decode()  # verified / insured


def test_tomorrow_page_totals_scope_and_polling(client, practice, patient, other_patient):
    mine = CoverageFactory(patient=patient, member_id=member())
    visit = AppointmentFactory(patient=patient, start_at=tomorrow_at(9))
    in_flight = finished_check(mine, visit, S.SENT)
    self_pay = AppointmentFactory(patient=PatientFactory(care_team=practice.team), start_at=tomorrow_at(10))
    CoverageFactory(patient=other_patient, member_id=member())
    AppointmentFactory(patient=other_patient, start_at=tomorrow_at(11))  # another team's
    AppointmentFactory(patient=patient, start_at=tomorrow_at(12) + timedelta(days=1))  # the day after
    client.force_login(practice.users[Role.FRONT_OFFICE])
    url = reverse("eligibility_tomorrow")

    body = client.get(url).content.decode()
    assert patient.last_name in body and other_patient.last_name not in body
    assert "0/1" in body and "Self-pay" in body and "Checking…" in body
    assert 'hx-trigger="every 3s"' in body
    event = AuditEvent.objects.filter(action="page.eligibility_tomorrow").latest("seq")
    assert sorted(event.patient_ids) == sorted([patient.pk, self_pay.patient_id])

    # The payer gave up on that one; a newer check came back active: the newest one counts.
    EligibilityCheck.objects.filter(pk=in_flight.pk).update(
        status=S.FAILED, lease_until=None, completed_at=timezone.now()
    )
    finished_check(mine, visit, S.ACTIVE, copay="40.00")
    partial = client.get(url, HTTP_HX_REQUEST="true").content.decode()
    assert "<html" not in partial and 'id="tomorrow-list"' in partial
    assert "1/1" in partial and "$40.00" in partial and "Verified" in partial
    assert 'hx-trigger="every 3s"' not in partial  # nothing in flight: polling stops


def test_tomorrow_page_needs_the_coverage_permission(client, practice):
    client.force_login(practice.users[Role.MANAGER])
    assert client.get(reverse("eligibility_tomorrow")).status_code == 403


@pytest.mark.parametrize("role", [Role.FRONT_OFFICE, Role.BILLING, Role.NURSE, Role.PROVIDER, Role.CLINICAL_SUPPORT])
def test_every_coverage_reader_sees_tomorrow(client, practice, role):
    make_visits(practice.team, 2)
    client.force_login(practice.users[role])
    assert client.get(reverse("eligibility_tomorrow")).status_code == 200
