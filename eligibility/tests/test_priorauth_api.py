"""Prior-authorization API: scoped reads, require, the actions, field errors, refusals, tokens."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from eligibility.models import PriorAuthorization
from tests.factories import CoverageFactory
from vma.api.auth import create_token
from vma.models import AuditEvent, WorkItem
from vma.roles import Role

S = PriorAuthorization.Status
LIST = reverse("api-priorauthorization-list")


def act(name: str, auth: PriorAuthorization) -> str:
    return reverse(f"api-priorauthorization-{name}", args=[auth.public_id])


@pytest.fixture
def api(practice):
    client = APIClient()
    client.force_authenticate(practice.users[Role.FRONT_OFFICE])
    return client


def required(api, patient, **extra) -> PriorAuthorization:
    coverage = CoverageFactory(patient=patient)
    r = api.post(LIST, {"coverage": str(coverage.public_id), "service_code": "70551", **extra}, format="json")
    assert r.status_code == 201, r.content
    return PriorAuthorization.objects.get(public_id=r.json()["id"])


def test_require_is_idempotent_and_opens_one_item(api, patient):
    coverage = CoverageFactory(patient=patient)
    body = {"coverage": str(coverage.public_id), "service_code": "70551", "requested_units": 6}
    first, again = api.post(LIST, body, format="json"), api.post(LIST, body, format="json")
    assert (first.status_code, again.status_code) == (201, 200) and first.json()["id"] == again.json()["id"]
    assert first.json()["status"] == S.REQUIRED and first.json()["requested_units"] == 6
    assert WorkItem.objects.filter(kind="priorauth.follow_up").count() == 1


def test_field_errors_are_400(api, patient):
    coverage = CoverageFactory(patient=patient, active=False)
    r = api.post(LIST, {"coverage": str(coverage.public_id)}, format="json")
    assert r.status_code == 400 and r.json() == {"service_code": ["Give the service code or its category."]}
    auth = required(api, patient)
    r = api.post(act("submit", auth), {"urgency": "soon"}, format="json")
    assert r.status_code == 400 and "urgency" in r.json()
    today = timezone.localdate().isoformat()
    bad = {"authorization_number": "A", "approved_units": 0, "valid_from": today, "valid_to": today}
    api.post(act("submit", auth), {"urgency": "standard"}, format="json")
    r = api.post(act("approve", auth), bad, format="json")
    assert r.status_code == 400 and "approved_units" in r.json()
    auth.refresh_from_db()
    assert auth.status == S.SUBMITTED


def test_the_whole_path_through_the_api(api, patient):
    auth = required(api, patient, requested_units=10)
    r = api.post(act("submit", auth), {"urgency": "expedited"}, format="json")
    assert r.status_code == 200 and r.json()["status"] == S.SUBMITTED
    submitted = timezone.datetime.fromisoformat(r.json()["submitted_at"])
    assert timezone.datetime.fromisoformat(r.json()["decision_due_at"]) - submitted == timedelta(hours=72)
    assert api.post(act("mark-pending", auth), {"payer_reference": "PR-7"}, format="json").json()["status"] == S.PENDING
    today = timezone.localdate()
    terms = {
        "authorization_number": "AU-1",
        "approved_units": 6,
        "valid_from": today,
        "valid_to": today + timedelta(60),
    }
    r = api.post(act("approve", auth), terms, format="json")
    assert r.json()["status"] == S.PARTIALLY_APPROVED and r.json()["units_left"] == 6
    assert api.post(act("record-use", auth), {"units": 2}, format="json").json()["units_used"] == 2
    r = api.post(act("record-use", auth), {"units": 5}, format="json")
    assert r.status_code == 409 and "Only 4 of 6" in r.json()["detail"]
    r = api.post(act("withdraw", auth), {"reason": "changed"}, format="json")
    assert r.status_code == 409 and "partially approved" in r.json()["detail"]


def test_deny_opens_an_appeal(api, patient):
    auth = required(api, patient)
    api.post(act("submit", auth), {"urgency": "standard"}, format="json")
    r = api.post(act("deny", auth), {"reason": "Not necessary", "peer_to_peer": True}, format="json")
    assert r.status_code == 200 and r.json()["decision_reason"] == "Not necessary"
    assert WorkItem.objects.get(kind="priorauth.appeal").title.startswith("Request a peer-to-peer")


def test_another_teams_authorization_is_404_like_an_unknown_one(api, practice, other_patient, patient):
    writer = APIClient()
    writer.force_authenticate(practice.users[Role.FRONT_OFFICE])
    theirs = CoverageFactory(patient=other_patient)
    r = api.post(LIST, {"coverage": str(theirs.public_id), "service_code": "70551"}, format="json")
    assert r.status_code == 400 and r.json() == {"coverage": ["No such coverage."]}
    outsider = APIClient()
    outsider.force_authenticate(practice.outsider_provider)
    mine = required(api, patient)
    assert outsider.get(reverse("api-priorauthorization-detail", args=[mine.public_id])).status_code == 404
    assert api.get(reverse("api-priorauthorization-detail", args=[uuid.uuid4()])).status_code == 404
    other_team_worker = APIClient()
    from tests.factories import UserFactory
    from vma.access import add_to_care_team

    stranger = UserFactory(role=Role.FRONT_OFFICE)
    add_to_care_team(stranger, practice.other_team)
    other_team_worker.force_authenticate(stranger)
    assert other_team_worker.post(act("withdraw", mine), {"reason": "x"}, format="json").status_code == 404
    mine.refresh_from_db()
    assert mine.status == S.REQUIRED


def test_list_is_scoped_filtered_and_audited(api, patient, other_patient, practice):
    mine = required(api, patient)
    PriorAuthorization.objects.create(
        patient=other_patient, coverage=CoverageFactory(patient=other_patient), payer_id=mine.payer_id, service_code="X"
    )
    body = api.get(LIST).json()
    assert [row["id"] for row in body["results"]] == [str(mine.public_id)]
    assert api.get(f"{LIST}?status=approved").json()["results"] == []
    assert AuditEvent.objects.filter(action="api.prior_authorizations.list", patient_ids=[patient.pk]).exists()


def test_roles_and_scopes(practice, patient, api):
    auth = required(api, patient)
    nurse = APIClient()
    nurse.force_authenticate(practice.users[Role.NURSE])
    assert nurse.get(LIST).status_code == 200
    assert nurse.post(act("submit", auth), {"urgency": "standard"}, format="json").status_code == 403
    _, raw = create_token(
        name="PA portal",
        user=practice.users[Role.FRONT_OFFICE],
        scopes=["priorauth:read"],
        expires_at=timezone.now() + timedelta(days=1),
        created_by=None,
    )
    reader = APIClient()
    reader.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert reader.get(LIST).status_code == 200
    assert reader.post(act("submit", auth), {"urgency": "standard"}, format="json").status_code == 403
