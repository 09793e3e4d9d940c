"""The patient page's row changes: stop a medication (date, reason), resolve a problem (date)."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from patients import services
from patients.models import Medication, Problem
from vma.exceptions import ActionRefused
from vma.models import AuditEvent
from vma.roles import Role


@pytest.fixture
def nurse(practice):
    return practice.users[Role.NURSE]


@pytest.fixture
def med(patient, nurse):
    return services.record_medication(
        patient, actor=nurse, name="Lisinopril", dose="10 mg", start_date=date(2024, 3, 1)
    )


@pytest.fixture
def problem(patient, nurse):
    return services.record_problem(patient, actor=nurse, code="J45.909", onset_date=date(2020, 1, 15))


def stop_url(patient, med) -> str:
    return reverse("medication_stop", args=[patient.public_id, med.public_id])


def resolve_url(patient, problem) -> str:
    return reverse("problem_resolve", args=[patient.public_id, problem.public_id])


# --- stop a medication -----------------------------------------------------------------------------


def test_nurse_stops_a_medication_with_date_and_reason(client, nurse, patient, med):
    client.force_login(nurse)
    day = timezone.localdate() - timedelta(days=2)

    r = client.post(stop_url(patient, med), {"stop_date": day.isoformat(), "reason": "Cough (ACE inhibitor)"})

    assert r.status_code == 302
    med.refresh_from_db()
    assert med.stop_date == day
    event = AuditEvent.objects.get(action="medication.stop")
    assert event.patient_ids == [patient.pk] and event.actor == nurse
    assert event.detail == {"stop_date": day.isoformat(), "reason": "Cough (ACE inhibitor)"}
    html = client.get(r["Location"]).content.decode()
    assert f"stopped {day:%m/%d/%Y}" in html
    assert stop_url(patient, med) not in html  # a stopped medication has no Stop button


def test_stop_without_reason_keeps_the_form_inline(client, nurse, patient, med):
    client.force_login(nurse)
    day = (timezone.localdate() - timedelta(days=1)).isoformat()

    r = client.post(stop_url(patient, med), {"stop_date": day, "reason": ""})

    assert r.status_code == 400
    html = r.content.decode()
    assert f'id="id_stop_{med.public_id}_stop_date"' in html and f'value="{day}"' in html
    assert '<span role="alert" class="error">This field is required.</span>' in html
    assert "<details open><summary>Stop</summary>" in html
    med.refresh_from_db()
    assert med.stop_date is None


@pytest.mark.parametrize(
    ("day", "message"),
    [
        (date(2024, 2, 1), "The stop date cannot be before the start date (03/01/2024)."),
        (None, "The date cannot be in the future."),
    ],
)
def test_stop_date_refused_keeps_what_was_typed(client, nurse, patient, med, day, message):
    day = day or timezone.localdate() + timedelta(days=3)
    client.force_login(nurse)
    r = client.post(stop_url(patient, med), {"stop_date": day.isoformat(), "reason": "Side effects"})
    assert r.status_code == 400
    html = r.content.decode()
    assert message in html and 'value="Side effects"' in html
    med.refresh_from_db()
    assert med.stop_date is None
    assert not AuditEvent.objects.filter(action="medication.stop").exists()


def test_stopping_twice_is_refused(client, nurse, patient, med):
    client.force_login(nurse)
    today = timezone.localdate().isoformat()
    assert client.post(stop_url(patient, med), {"stop_date": today, "reason": "Done"}).status_code == 302
    again = client.post(stop_url(patient, med), {"stop_date": today, "reason": "Done"})
    assert again.status_code == 409
    assert "already stopped" in again.content.decode()
    assert AuditEvent.objects.filter(action="medication.stop").count() == 1


def test_service_requires_a_reason(nurse, med):
    with pytest.raises(ActionRefused):
        services.stop_medication(med, actor=nurse, reason=" ")
    med.refresh_from_db()
    assert med.stop_date is None


def test_future_planned_stop_can_be_brought_forward(nurse, patient):
    planned = services.record_medication(
        patient, actor=nurse, name="Prednisone", stop_date=timezone.localdate() + timedelta(days=5)
    )
    services.stop_medication(planned, actor=nurse, reason="Course cut short")
    planned.refresh_from_db()
    assert planned.stop_date == timezone.localdate()
    assert planned.stop_reason == "Course cut short"


def test_the_chart_shows_why_a_medication_was_stopped(client, nurse, patient, med):
    client.force_login(nurse)
    today = timezone.localdate().isoformat()
    r = client.post(stop_url(patient, med), {"stop_date": today, "reason": "Rash on day 3"})
    html = client.get(r["Location"]).content.decode()
    assert "(Rash on day 3)" in html


# --- resolve a problem -------------------------------------------------------------------------------


def test_provider_resolves_a_problem(client, practice, patient, problem):
    client.force_login(practice.users[Role.PROVIDER])
    r = client.post(resolve_url(patient, problem), {"resolved_on": "2025-06-30"})
    assert r.status_code == 302
    problem.refresh_from_db()
    assert (problem.status, problem.resolved_on) == (Problem.Status.RESOLVED, date(2025, 6, 30))
    html = client.get(r["Location"]).content.decode()
    assert "resolved 06/30/2025" in html and resolve_url(patient, problem) not in html


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("2019-12-31", "The problem cannot resolve before its onset (01/15/2020)."),
        ("2999-01-01", "The date cannot be in the future."),
        ("not-a-date", "Enter a valid date."),
    ],
)
def test_resolve_refused_inline_keeps_input(client, nurse, patient, problem, typed, message):
    client.force_login(nurse)
    r = client.post(resolve_url(patient, problem), {"resolved_on": typed})
    assert r.status_code == 400
    html = r.content.decode()
    assert message in html and f'value="{typed}"' in html and 'role="alert"' in html
    problem.refresh_from_db()
    assert problem.status == Problem.Status.ACTIVE


def test_resolving_twice_is_refused(client, nurse, patient, problem):
    client.force_login(nurse)
    assert client.post(resolve_url(patient, problem), {"resolved_on": "2025-01-01"}).status_code == 302
    again = client.post(resolve_url(patient, problem), {"resolved_on": "2025-01-02"})
    assert again.status_code == 409 and "already resolved" in again.content.decode()
    problem.refresh_from_db()
    assert problem.resolved_on == date(2025, 1, 1)


# --- who sees the buttons ------------------------------------------------------------------------------


def test_buttons_only_for_roles_that_may_change(client, practice, patient, med, problem):
    client.force_login(practice.users[Role.CLINICAL_SUPPORT])  # reads history, keeps none of it
    html = client.get(reverse("patient_detail", args=[patient.public_id])).content.decode()
    assert "Lisinopril" in html and "J45.909" in html
    assert stop_url(patient, med) not in html and resolve_url(patient, problem) not in html
    assert client.post(stop_url(patient, med), {"stop_date": "2025-01-01", "reason": "x"}).status_code == 403
    assert client.post(resolve_url(patient, problem), {"resolved_on": "2025-01-01"}).status_code == 403

    client.force_login(practice.users[Role.NURSE])
    html = client.get(reverse("patient_detail", args=[patient.public_id])).content.decode()
    assert stop_url(patient, med) in html and resolve_url(patient, problem) in html
    assert Medication.objects.get().stop_date is None


def test_another_patients_row_is_404(client, nurse, patient, practice):
    from tests.factories import PatientFactory

    other = PatientFactory(care_team=practice.team)
    foreign = services.record_medication(other, actor=nurse, name="Metformin")
    client.force_login(nurse)
    r = client.post(stop_url(patient, foreign), {"stop_date": "2025-01-01", "reason": "x"})
    assert r.status_code == 404
    foreign.refresh_from_db()
    assert foreign.stop_date is None
