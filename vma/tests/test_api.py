"""API base: token auth, scopes, access filtering, pagination, validation, throttling."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from tests.factories import PatientFactory, PayerFactory, UserFactory
from vma import workflow
from vma.access import add_to_care_team
from vma.api.auth import create_token
from vma.models import ApiToken
from vma.roles import Role


@pytest.fixture
def partner(practice):
    """A lab's service account on the practice's care team."""
    account = UserFactory(username="lab-partner", role=Role.CLINICAL_SUPPORT, is_service_account=True)
    add_to_care_team(account, practice.team)
    return account


def token_client(user, scopes, *, days=30):
    token, raw = create_token(
        name="Lab", user=user, scopes=scopes, expires_at=timezone.now() + timedelta(days=days), created_by=None
    )
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    return client, token, raw


def test_token_is_stored_hashed_and_works(partner, patient, other_patient):
    client, token, raw = token_client(partner, ["patients:read"])
    assert raw not in (token.key_hash, token.prefix) and ApiToken.hash_key(raw) == token.key_hash
    response = client.get(reverse("api-patient-list"))
    assert response.status_code == 200
    ids = {row["id"] for row in response.json()["results"]}
    assert ids == {str(patient.public_id)}  # only the account's care teams
    assert client.get(reverse("api-patient-detail", args=[other_patient.public_id])).status_code == 404


@pytest.mark.parametrize("state", ["expired", "revoked", "garbage"])
def test_bad_tokens_are_refused_alike(partner, state):
    client, token, _raw = token_client(partner, ["patients:read"])
    if state == "expired":
        ApiToken.objects.filter(pk=token.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    elif state == "revoked":
        ApiToken.objects.filter(pk=token.pk).update(revoked_at=timezone.now())
    else:
        client.credentials(HTTP_AUTHORIZATION="Bearer vma_nope_nope")
    response = client.get(reverse("api-patient-list"))
    assert response.status_code == 401
    assert response.json()["detail"] == "Invalid, expired or revoked token."


def test_scope_limits_a_token_even_when_the_role_allows(partner, patient):
    client, _, _ = token_client(partner, ["patients:read"])
    assert client.get(reverse("api-workitem-list")).status_code == 403
    assert client.get(reverse("api-coverage-list")).status_code == 403


def test_unknown_scope_is_refused(partner):
    with pytest.raises(ValueError, match="Unknown scopes"):
        create_token(
            name="x",
            user=partner,
            scopes=["everything"],
            expires_at=timezone.now() + timedelta(days=1),
            created_by=None,
        )


def test_validation_errors_are_400_with_field_messages(client, practice):
    client.force_login(practice.users[Role.FRONT_OFFICE])
    response = client.post(
        reverse("api-patient-list"),
        {
            "mrn": "bad mrn!",
            "first_name": "",
            "last_name": "X",
            "date_of_birth": "31/31/1990",
            "sex": "Q",
            "care_team": str(practice.other_team.public_id),
        },
        content_type="application/json",
    )
    assert response.status_code == 400
    body = response.json()
    assert {"mrn", "first_name", "date_of_birth", "sex", "care_team"} <= set(body)


def test_malformed_and_unknown_ids_are_404(client, practice):
    client.force_login(practice.users[Role.FRONT_OFFICE])
    assert client.get("/api/v1/patients/not-a-uuid/").status_code == 404
    assert client.get("/api/v1/patients/00000000-0000-0000-0000-000000000000/").status_code == 404
    assert client.post("/api/v1/work-items/not-a-uuid/claim/").status_code == 404


def test_malformed_json_is_400_not_500(client, practice):
    client.force_login(practice.users[Role.FRONT_OFFICE])
    response = client.post(reverse("api-workitem-claim-next"), "{not json", content_type="application/json")
    assert response.status_code == 400


def test_unknown_patient_in_body_answers_like_another_teams(client, practice, other_patient):
    client.force_login(practice.users[Role.FRONT_OFFICE])
    payer = PayerFactory()
    answers = []
    for pid in (other_patient.public_id, "00000000-0000-0000-0000-000000000000"):
        r = client.post(
            reverse("api-coverage-list"),
            {"patient": str(pid), "payer": payer.payer_id, "member_id": "AB123"},
            content_type="application/json",
        )
        answers.append((r.status_code, r.json().get("patient")))
    assert answers[0] == answers[1] == (400, ["No such patient."])


def test_cursor_pagination_walks_every_patient_once(client, practice):
    for i in range(7):
        PatientFactory(care_team=practice.team, last_name=f"Page{i}")
    client.force_login(practice.users[Role.PROVIDER])
    seen, url = [], reverse("api-patient-list") + "?page_size=3"
    while url:
        body = client.get(url).json()
        seen += [r["last_name"] for r in body["results"]]
        url = body["next"]
    assert seen == sorted(seen) and len(seen) == len(set(seen)) == 7


def test_work_item_actions_over_api(client, practice, patient):
    item, _ = workflow.open_work_item(kind="patients.callback", subject=patient, patient=patient, title="Call")
    client.force_login(practice.users[Role.FRONT_OFFICE])
    claimed = client.post(reverse("api-workitem-claim-next"), {}, content_type="application/json")
    assert claimed.status_code == 200 and claimed.json()["id"] == str(item.public_id)
    refused = client.post(
        reverse("api-workitem-complete", args=[item.public_id]), {"note": ""}, content_type="application/json"
    )
    assert refused.status_code == 400 and "note" in refused.json()
    done = client.post(
        reverse("api-workitem-complete", args=[item.public_id]),
        {"note": "Called back"},
        content_type="application/json",
    )
    assert done.status_code == 200 and done.json()["status"] == "done"
    again = client.post(
        reverse("api-workitem-complete", args=[item.public_id]), {"note": "again"}, content_type="application/json"
    )
    assert again.status_code == 409 and "already done" in again.json()["detail"]
    assert client.post(reverse("api-workitem-claim-next"), {}, content_type="application/json").status_code == 204


def test_throttling_is_on(client, practice, settings):
    rest = dict(settings.REST_FRAMEWORK)
    rest["DEFAULT_THROTTLE_RATES"] = {"anon": "2/minute", "user": "3/minute"}
    settings.REST_FRAMEWORK = rest
    from rest_framework.settings import api_settings
    from rest_framework.throttling import SimpleRateThrottle

    api_settings.reload()
    SimpleRateThrottle.THROTTLE_RATES = api_settings.DEFAULT_THROTTLE_RATES
    try:
        client.force_login(practice.users[Role.PROVIDER])
        codes = [client.get(reverse("api-patient-list")).status_code for _ in range(5)]
        assert codes[:3] == [200, 200, 200] and codes[3] == 429
    finally:
        settings.REST_FRAMEWORK = {**rest, "DEFAULT_THROTTLE_RATES": {"anon": "30/minute", "user": "2000/minute"}}
        api_settings.reload()
        SimpleRateThrottle.THROTTLE_RATES = api_settings.DEFAULT_THROTTLE_RATES


def test_schema_and_docs_served_offline(client, practice):
    client.force_login(practice.users[Role.FRONT_OFFICE])
    schema = client.get(reverse("api_schema"), HTTP_ACCEPT="application/json")
    assert schema.status_code == 200
    assert "/api/v1/work-items/claim-next/" in schema.content.decode()
    docs = client.get(reverse("api_docs")).content.decode()
    assert "swagger-ui" in docs and "cdn.jsdelivr" not in docs  # sidecar assets, no internet


def test_admin_creates_token_and_sees_secret_once(client, practice, partner):
    admin_user = practice.users[Role.ADMIN]
    admin_user.is_staff = True
    admin_user.save(update_fields=["is_staff"])
    client.force_login(admin_user)
    response = client.post(
        reverse("admin:vma_apitoken_add"),
        {"name": "Lab feed", "user": partner.pk, "scopes": ["patients:read"], "expires_at": "2099-01-01 00:00:00"},
        follow=True,
    )
    assert response.status_code == 200
    shown = [str(m) for m in response.context["messages"] if "shown only once" in str(m)]
    assert len(shown) == 1
    raw = shown[0].rsplit(" ", 1)[-1]
    token = ApiToken.objects.get(name="Lab feed")
    assert token.key_hash == ApiToken.hash_key(raw) and token.created_by == admin_user
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert api.get(reverse("api-patient-list")).status_code == 200


def test_writes_through_a_token_are_attributed_to_its_account(partner, patient, practice):
    from auditlog.models import LogEntry
    from django.contrib.auth.models import Group

    from vma.models import AuditEvent

    # A registration system's account: front-office rights.
    partner.groups.set([Group.objects.get(name=Role.FRONT_OFFICE)])
    client, _, _ = token_client(partner, ["patients:write", "patients:read"])
    response = client.patch(
        reverse("api-patient-detail", args=[patient.public_id]), {"phone": "555-0177"}, format="json"
    )
    assert response.status_code == 200, response.content
    entry = LogEntry.objects.get_for_object(patient).filter(action=LogEntry.Action.UPDATE).get()
    assert entry.actor == partner
    assert AuditEvent.objects.filter(kind="write", action="patients.patient.update", actor=partner).exists()
