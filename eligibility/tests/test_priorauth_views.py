"""Prior-authorization pages: the list in constant queries, the detail's actions, the patient panel."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from eligibility import priorauth
from eligibility.models import PriorAuthorization
from tests.factories import CoverageFactory, PatientFactory
from vma.models import AuditEvent
from vma.roles import Role

S = PriorAuthorization.Status


def auth_for(patient, status: str = S.REQUIRED, *, due_in: timedelta = timedelta(days=5)) -> PriorAuthorization:
    coverage = CoverageFactory(patient=patient, active=False)
    submitted = status != S.REQUIRED
    now = timezone.now()
    return PriorAuthorization.objects.create(
        patient=patient,
        coverage=coverage,
        payer=coverage.payer,
        service_code="70551",
        status=status,
        requested_units=10,
        submitted_at=now if submitted else None,
        decision_due_at=now + due_in if submitted else None,
    )


@pytest.fixture
def worker(client, practice):
    client.force_login(practice.users[Role.FRONT_OFFICE])
    return client


def list_queries(client, url: str) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200
    return len(queries)


def test_list_runs_in_constant_queries(worker, practice):
    patients = [PatientFactory(care_team=practice.team) for _ in range(3)]
    for p in patients:
        auth_for(p, S.SUBMITTED)
    url = reverse("priorauth_list")
    few = list_queries(worker, url)
    for i in range(37):
        auth_for(PatientFactory(care_team=practice.team), S.PENDING if i % 2 else S.SUBMITTED)
    many = list_queries(worker, url)
    assert few == many
    assert len(worker.get(url).context["rows"]) == 40


def test_list_highlights_deadlines_and_filters(worker, patient):
    overdue = auth_for(patient, S.SUBMITTED, due_in=-timedelta(hours=1))
    soon = auth_for(patient, S.PENDING, due_in=timedelta(hours=5))
    later = auth_for(patient, S.SUBMITTED, due_in=timedelta(days=6))
    page = worker.get(reverse("priorauth_list")).content.decode()
    assert "Overdue ·" in page and "Due soon ·" in page
    rows = worker.get(reverse("priorauth_list") + "?due=overdue").context["rows"]
    assert rows == [overdue]
    assert worker.get(reverse("priorauth_list") + "?due=due_soon").context["rows"] == [soon]
    assert later in worker.get(reverse("priorauth_list") + "?status=submitted").context["rows"]
    assert AuditEvent.objects.filter(action="page.priorauth_list", patient_ids=[patient.pk]).exists()


def test_another_teams_authorization_is_404(worker, other_patient):
    theirs = auth_for(other_patient)
    assert worker.get(reverse("priorauth_detail", args=[theirs.public_id])).status_code == 404
    r = worker.post(reverse("priorauth_action", args=[theirs.public_id, "withdraw"]), {"reason": "x"})
    assert r.status_code == 404
    assert worker.get(reverse("priorauth_panel", args=[other_patient.public_id])).status_code == 404
    theirs.refresh_from_db()
    assert theirs.status == S.REQUIRED
    assert theirs not in worker.get(reverse("priorauth_list")).context["rows"]


def test_submit_from_the_detail_page(worker, patient):
    auth = auth_for(patient)
    r = worker.post(reverse("priorauth_action", args=[auth.public_id, "submit"]), {"urgency": "expedited"})
    assert r.status_code == 302 and r["Location"] == reverse("priorauth_detail", args=[auth.public_id])
    auth.refresh_from_db()
    assert auth.status == S.SUBMITTED and auth.decision_due_at == auth.submitted_at + timedelta(hours=72)
    page = worker.get(r["Location"]).content.decode()
    assert "Record the decision" in page and "Mark pending" in page


def test_bad_input_shows_a_clear_message_and_keeps_what_was_typed(worker, patient):
    auth = auth_for(patient, S.PENDING)
    form = {"authorization_number": "AUTH-55", "approved_units": "six", "valid_from": "2026-01-01", "valid_to": "x"}
    r = worker.post(reverse("priorauth_action", args=[auth.public_id, "approve"]), form, HTTP_HX_REQUEST="true")
    page = r.content.decode()
    assert r.status_code == 200 and "Give the approved units as a whole number." in page
    assert 'value="AUTH-55"' in page
    auth.refresh_from_db()
    assert auth.status == S.PENDING
    r = worker.post(reverse("priorauth_action", args=[auth.public_id, "submit"]), {"urgency": "standard"})
    assert r.status_code == 409 and "cannot become submitted" in r.content.decode()


def test_a_reader_cannot_act(client, practice, patient):
    auth = auth_for(patient)
    client.force_login(practice.users[Role.PROVIDER])
    assert client.get(reverse("priorauth_detail", args=[auth.public_id])).status_code == 200
    r = client.post(reverse("priorauth_action", args=[auth.public_id, "withdraw"]), {"reason": "x"})
    assert r.status_code == 403
    auth.refresh_from_db()
    assert auth.status == S.REQUIRED


def test_patient_panel_lists_requests_open_first(worker, patient):
    done = auth_for(patient, S.SUBMITTED)
    priorauth.deny(done, actor=None, reason="No")
    open_one = auth_for(patient, S.SUBMITTED)
    r = worker.get(reverse("priorauth_panel", args=[patient.public_id]))
    assert r.status_code == 200 and list(r.context["rows"]) == [open_one, done]
    assert AuditEvent.objects.filter(action="page.priorauth_panel", patient_ids=[patient.pk]).exists()
