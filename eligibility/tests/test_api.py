"""Eligibility-check API: access-filtered reads, requesting a check, scopes, pagination."""

from __future__ import annotations

import itertools
import uuid
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from eligibility import workflow
from eligibility.models import EligibilityCheck
from tests.factories import AppointmentFactory, CoverageFactory, PatientFactory
from vma.api.auth import create_token
from vma.models import AuditEvent
from vma.roles import Role

S = EligibilityCheck.Status
_ids = itertools.count(1)
LIST = reverse("api-eligibilitycheck-list")


def member() -> str:
    return f"A{next(_ids):07d}11"


def check_for(patient, **kw) -> EligibilityCheck:
    coverage = CoverageFactory(patient=patient, member_id=member())
    return workflow.request_check(coverage, service_date=timezone.localdate(), **kw)


@pytest.fixture
def api(practice):
    client = APIClient()
    client.force_authenticate(practice.users[Role.FRONT_OFFICE])
    return client


def token_client(user, scopes):
    _, raw = create_token(
        name="Clearinghouse portal",
        user=user,
        scopes=scopes,
        expires_at=timezone.now() + timedelta(days=1),
        created_by=None,
    )
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    return client


def test_list_shows_only_checks_of_ones_patients_and_is_audited(api, patient, other_patient):
    mine = check_for(patient)
    check_for(other_patient)
    body = api.get(LIST).json()
    assert [row["id"] for row in body["results"]] == [str(mine.public_id)]
    row = body["results"][0]
    assert (row["patient"], row["status"], row["appointment"]) == (str(patient.public_id), S.QUEUED, None)
    assert AuditEvent.objects.filter(action="api.eligibility_checks.list", patient_ids=[patient.pk]).exists()


def test_detail_of_another_teams_check_is_404_like_an_unknown_one(api, patient, other_patient):
    theirs = check_for(other_patient)
    assert api.get(reverse("api-eligibilitycheck-detail", args=[theirs.public_id])).status_code == 404
    assert api.get(reverse("api-eligibilitycheck-detail", args=[uuid.uuid4()])).status_code == 404
    mine = check_for(patient)
    r = api.get(reverse("api-eligibilitycheck-detail", args=[mine.public_id]))
    assert r.status_code == 200 and r.json()["coverage"] == str(mine.coverage.public_id)


def test_post_queues_a_check_once_and_never_calls_the_payer(api, patient, django_capture_on_commit_callbacks):
    coverage = CoverageFactory(patient=patient, member_id=member())
    visit = AppointmentFactory(patient=patient, start_at=timezone.now() + timedelta(hours=30))
    with django_capture_on_commit_callbacks() as callbacks:
        first = api.post(LIST, {"coverage": str(coverage.public_id)}, format="json")
        again = api.post(LIST, {"coverage": str(coverage.public_id)}, format="json")
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json()["id"] == again.json()["id"]
    # The patient's next visit is the one checked for, on its date.
    assert first.json()["appointment"] == str(visit.public_id)
    assert first.json()["service_date"] == timezone.localdate(visit.start_at).isoformat()
    check = EligibilityCheck.objects.get()
    assert (check.status, check.raw_270, len(callbacks)) == (S.QUEUED, "", 1)


def test_post_for_another_teams_coverage_answers_like_an_unknown_one(api, other_patient):
    theirs = CoverageFactory(patient=other_patient, member_id=member())
    r_theirs = api.post(LIST, {"coverage": str(theirs.public_id)}, format="json")
    r_unknown = api.post(LIST, {"coverage": str(uuid.uuid4())}, format="json")
    assert r_theirs.status_code == r_unknown.status_code == 400
    assert r_theirs.json() == r_unknown.json() == {"coverage": ["No such coverage."]}
    assert not EligibilityCheck.objects.exists()


def test_post_with_a_visit_of_another_patient_is_refused(api, practice, patient):
    coverage = CoverageFactory(patient=patient, member_id=member())
    other_visit = AppointmentFactory(patient=PatientFactory(care_team=practice.team))
    r = api.post(LIST, {"coverage": str(coverage.public_id), "appointment": str(other_visit.public_id)}, format="json")
    assert r.status_code == 400 and r.json() == {"appointment": ["No such appointment."]}


def test_scopes_limit_a_token(practice, patient):
    coverage = CoverageFactory(patient=patient, member_id=member())
    user = practice.users[Role.BILLING]
    reader = token_client(user, ["coverage:read"])
    assert reader.get(LIST).status_code == 200
    assert reader.post(LIST, {"coverage": str(coverage.public_id)}, format="json").status_code == 403
    writer = token_client(user, ["coverage:write"])
    assert writer.post(LIST, {"coverage": str(coverage.public_id)}, format="json").status_code == 201
    assert token_client(user, ["patients:read"]).get(LIST).status_code == 403


def test_a_role_without_coverage_access_is_refused(practice):
    client = APIClient()
    client.force_authenticate(practice.users[Role.MANAGER])
    assert client.get(LIST).status_code == 403


def test_filters_and_cursor_pagination_walk_every_check_once(api, patient):
    coverage = CoverageFactory(patient=patient, member_id=member())
    ids = {
        str(
            workflow.request_check(
                coverage, appointment=AppointmentFactory(patient=patient), service_date=timezone.localdate()
            ).public_id
        )
        for _ in range(5)
    }
    other = PatientFactory(care_team=patient.care_team)
    check_for(other)
    seen: list[str] = []
    url = f"{LIST}?patient={patient.public_id}&page_size=2"
    while url:
        body = api.get(url).json()
        seen += [row["id"] for row in body["results"]]
        url = body["next"]
    assert sorted(seen) == sorted(ids)
    assert api.get(f"{LIST}?status=active").json()["results"] == []
    assert api.get(f"{LIST}?patient=not-a-uuid").json()["results"] == []
