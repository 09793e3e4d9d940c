"""Claim pages and API: access, bad input kept and explained, double submit, constant query counts."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from billing.models import Claim
from billing.services import LineInput
from vma.roles import Role

from .factories import draft

pytestmark = pytest.mark.django_db


def test_front_office_gets_403_and_other_team_404(client, practice):
    mine = draft(practice)
    theirs = draft(practice, own=False)
    client.force_login(practice.users[Role.FRONT_OFFICE])
    assert client.get(reverse("billing_claims")).status_code == 403
    assert client.get(reverse("billing_claim_detail", args=[mine.public_id])).status_code == 403
    client.force_login(practice.users[Role.BILLING])
    assert client.get(reverse("billing_claim_detail", args=[mine.public_id])).status_code == 200
    assert client.get(reverse("billing_claim_detail", args=[theirs.public_id])).status_code == 404
    assert client.get(reverse("api-claim-detail", args=[theirs.public_id])).status_code == 404
    listed = client.get(reverse("api-claim-list")).json()["results"]
    assert [c["id"] for c in listed] == [str(mine.public_id)]


def test_invalid_diagnosis_is_kept_and_explained(client, practice):
    claim = draft(practice)
    client.force_login(practice.users[Role.BILLING])
    url = reverse("billing_claim_action", args=[claim.public_id, "add_diagnosis"])
    response = client.post(url, {"code": "e11"}, HTTP_HX_REQUEST="true")
    body = response.content.decode()
    assert response.status_code == 200 and 'role="alert"' in body
    assert "header code" in body and 'value="e11"' in body
    assert list(claim.diagnoses.values_list("code", flat=True)) == ["E11.9"]


def test_bad_line_input_is_kept_and_explained(client, practice):
    claim = draft(practice)
    client.force_login(practice.users[Role.BILLING])
    url = reverse("billing_claim_action", args=[claim.public_id, "add_line"])
    response = client.post(url, {"procedure_code": "36415", "units": "two", "diagnosis_pointers": "1"})
    body = response.content.decode()
    assert response.status_code == 400 and "whole number" in body and 'value="two"' in body
    assert claim.lines.count() == 1


def test_scrub_lists_problems_and_double_submit_sends_once(client, practice, django_capture_on_commit_callbacks):
    claim = draft(practice, lines=[LineInput("99213", diagnosis_pointers=[1]), LineInput("93000")])
    client.force_login(practice.users[Role.BILLING])
    action = lambda name: reverse("billing_claim_action", args=[claim.public_id, name])  # noqa: E731
    body = client.post(action("scrub"), HTTP_HX_REQUEST="true").content.decode()
    assert "points to no diagnosis" in body and "modifier 25" in body
    claim.lines.filter(line_number=2).update(diagnosis_pointers=[1])
    claim.lines.filter(line_number=1).update(modifiers=["25"])
    client.post(action("scrub"))
    assert Claim.objects.get(pk=claim.pk).status == Claim.Status.SCRUBBED
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        first = client.post(action("submit"))
        second = client.post(action("submit"), HTTP_HX_REQUEST="true")
    assert first.status_code == 302 and second.status_code == 200
    assert "submitted" in second.content.decode()
    assert len(callbacks) == 1


def test_api_create_scrub_and_token_scope(client, practice):
    from .factories import codes, visit

    codes()
    user = practice.users[Role.BILLING]
    appointment = visit(practice)
    client.force_login(user)
    created = client.post(
        reverse("api-claim-list"),
        {
            "appointment": str(appointment.public_id),
            "diagnoses": ["I10"],
            "lines": [{"procedure_code": "99213", "diagnosis_pointers": [1]}],
        },
        content_type="application/json",
    )
    assert created.status_code == 201, created.content
    claim_id = created.json()["id"]
    again = client.post(
        reverse("api-claim-list"), {"appointment": str(appointment.public_id)}, content_type="application/json"
    )
    assert again.status_code == 200 and again.json()["id"] == claim_id
    scrub = client.post(reverse("api-claim-scrub", args=[claim_id]), {}, content_type="application/json").json()
    assert scrub["clean"] is True and scrub["claim"]["status"] == "scrubbed"
    bad = client.post(reverse("api-claim-diagnoses", args=[claim_id]), {"code": "E11"}, content_type="application/json")
    assert bad.status_code == 409  # the claim is scrubbed: back to draft first
    client.logout()
    from datetime import timedelta

    from django.utils import timezone

    from vma.api.auth import create_token

    _token, secret = create_token(
        name="Partner",
        user=user,
        scopes=["claims:read"],
        expires_at=timezone.now() + timedelta(days=1),
        created_by=None,
    )
    auth = {"HTTP_AUTHORIZATION": f"Bearer {secret}"}
    assert client.get(reverse("api-claim-detail", args=[claim_id]), **auth).status_code == 200
    refused = client.post(reverse("api-claim-scrub", args=[claim_id]), {}, content_type="application/json", **auth)
    assert refused.status_code == 403


def test_claims_list_query_count_is_constant(client, practice):
    client.force_login(practice.users[Role.BILLING])
    draft(practice)
    client.get(reverse("billing_claims"))
    with CaptureQueriesContext(connection) as small:
        assert client.get(reverse("billing_claims")).status_code == 200
    for _ in range(5):
        draft(practice)
    with CaptureQueriesContext(connection) as large:
        response = client.get(reverse("billing_claims"))
    assert response.content.decode().count("billing/claims/") >= 6
    assert len(large) == len(small), [q["sql"] for q in large.captured_queries]
