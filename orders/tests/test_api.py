"""Orders API: scoped list and detail, pend, edit, cancel, FHIR, and the signing queue and batch."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from orders.models import Order
from tests.factories import PASSWORD
from vma.api.auth import create_token
from vma.models import AuditEvent
from vma.roles import Role

from .factories import CONTROLLED, code_at, enroll, fresh, item, pend

S = Order.Status
SOON = timezone.now() + timedelta(days=1)
pytestmark = pytest.mark.django_db


def api(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def _value(order) -> str:
    return ":".join(str(p) for p in item(order))


def test_list_is_scoped_and_audited(visit, other_visit, vma, practice):
    mine = pend(visit, vma)
    from tests.factories import UserFactory
    from vma.access import add_to_care_team

    theirs_vma = UserFactory(role=Role.CLINICAL_SUPPORT)
    add_to_care_team(theirs_vma, practice.other_team)
    theirs = pend(other_visit, theirs_vma)
    response = api(vma).get(reverse("api-order-list"))
    assert response.status_code == 200
    ids = [row["id"] for row in response.json()["results"]]
    assert ids == [str(mine.public_id)]
    assert api(vma).get(reverse("api-order-detail", args=[theirs.public_id])).status_code == 404
    assert AuditEvent.objects.filter(action="api.orders.list").exists()


def test_list_filters_by_encounter_and_status(visit, vma):
    pend(visit, vma, "lab")
    pend(visit, vma, "imaging")
    url = reverse("api-order-list")
    rows = api(vma).get(url, {"encounter": str(visit.public_id), "kind": "imaging"}).json()["results"]
    assert [r["kind"] for r in rows] == ["imaging"]
    assert api(vma).get(url, {"encounter": "not-a-uuid"}).json()["results"] == []


def test_pend_through_the_api(visit, vma):
    body = {
        "encounter": str(visit.public_id),
        "kind": "referral",
        "diagnosis": "R07.9",
        "specialty": "Cardiology",
        "reason": "Exertional chest pain",
        "urgency": "urgent",
    }
    response = api(vma).post(reverse("api-order-list"), body, format="json")
    assert response.status_code == 201, response.json()
    data = response.json()
    assert data["status"] == "pended" and data["title"] == "Referral to Cardiology"
    assert data["diagnosis"] == {"code": "R07.9", "description": "Chest pain, unspecified"}
    assert data["effect"].startswith("Starts a referral to Cardiology (Urgent)")
    assert len(data["content_hash"]) == 64


def test_pend_with_bad_fields_answers_400_per_field(visit, other_visit, vma):
    url = reverse("api-order-list")
    bad = api(vma).post(
        url, {"encounter": str(visit.public_id), "kind": "prescription", "diagnosis": "E78.5"}, format="json"
    )
    assert bad.status_code == 400 and {"drug", "strength", "sig", "pharmacy", "quantity", "refills"} <= set(bad.json())
    theirs = api(vma).post(url, {"encounter": str(other_visit.public_id), "kind": "lab", "title": "CBC"}, format="json")
    assert theirs.status_code == 400 and theirs.json() == {"encounter": ["No such encounter."]}


def test_patch_edits_only_what_it_names_and_re_pends(visit, vma, provider):
    from orders import signing

    order = pend(visit, vma)
    signing.return_batch(provider, [item(order)], comment="Use the LOINC code")
    response = api(vma).patch(
        reverse("api-order-detail", args=[order.public_id]), {"procedure_code": "2093-3"}, format="json"
    )
    assert response.status_code == 200, response.json()
    order = fresh(order)
    assert order.status == S.PENDED and order.procedure_code == "2093-3" and order.title == "Lipid panel"


def test_cancel_and_its_refusal(visit, vma, provider):
    order = pend(visit, vma)
    url = reverse("api-order-cancel", args=[order.public_id])
    assert api(vma).post(url, {"reason": ""}, format="json").status_code == 400
    assert api(vma).post(url, {"reason": "Duplicate"}, format="json").json()["status"] == "cancelled"
    again = api(vma).post(url, {"reason": "Duplicate"}, format="json")
    assert again.status_code == 409 and "cancelled" in again.json()["detail"]
    assert api(provider).post(url, {"reason": "x"}, format="json").status_code == 403


def test_fhir_of_an_unsigned_order_is_409_with_a_message(visit, vma, provider):
    order = pend(visit, vma)
    url = reverse("api-order-fhir", args=[order.public_id])
    refused = api(vma).get(url)
    assert refused.status_code == 409 and refused.json()["detail"].startswith("Only a signed order")
    api(provider).post(reverse("api-signing-batch"), {"items": [_value(order)], "action": "sign"}, format="json")
    response = api(vma).get(url)
    assert response.status_code == 200 and response["Content-Type"] == "application/fhir+json"
    assert response.json()["resourceType"] == "ServiceRequest"
    assert AuditEvent.objects.filter(action="api.orders.fhir", kind="export").exists()


def test_the_signing_queue_and_batch_sign(visit, vma, provider):
    enroll(provider)
    lab, controlled = pend(visit, vma, "lab"), pend(visit, vma, "prescription", **CONTROLLED)
    queue = api(provider).get(reverse("api-signing-queue"))
    assert queue.status_code == 200
    [group] = queue.json()
    assert group["patient"] == str(visit.patient.public_id)
    values = [line["item"] for line in group["items"]]
    assert {line["requires_second_factor"] for line in group["items"]} == {True, False}
    url = reverse("api-signing-batch")
    first = api(provider).post(url, {"items": values, "action": "sign"}, format="json").json()
    assert (first["done"], first["refused"]) == (1, 1)
    by_id = {r["id"]: r for r in first["results"]}
    assert by_id[str(lab.public_id)]["ok"] and not by_id[str(controlled.public_id)]["ok"]
    body = {"items": [_value(controlled)], "action": "sign", "password": PASSWORD, "otp": code_at()}
    assert api(provider).post(url, body, format="json").json()["done"] == 1
    assert fresh(controlled).status == S.SIGNED


def test_batch_rules_for_others_and_bad_input(visit, vma, provider, practice):
    order = pend(visit, vma)
    url = reverse("api-signing-batch")
    body = {"items": [_value(order)], "action": "sign"}
    assert api(vma).post(url, body, format="json").status_code == 403
    outsider = api(practice.outsider_provider).post(url, body, format="json").json()
    assert outsider["results"][0]["message"] == "Not found." and fresh(order).status == S.PENDED
    assert api(provider).post(url, {"items": ["junk"], "action": "sign"}, format="json").status_code == 400
    no_comment = api(provider).post(url, {"items": [_value(order)], "action": "return"}, format="json")
    assert no_comment.status_code == 400 and "comment" in no_comment.json()["detail"]


def test_a_token_needs_the_sign_scope(visit, vma, provider):
    order = pend(visit, vma)
    _token, raw = create_token(name="t", user=provider, scopes=["orders:read"], expires_at=SOON, created_by=provider)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    body = {"items": [_value(order)], "action": "sign"}
    assert client.post(reverse("api-signing-batch"), body, format="json").status_code == 403
    assert client.get(reverse("api-order-list")).status_code == 200
    _token, raw = create_token(name="s", user=provider, scopes=["orders:sign"], expires_at=SOON, created_by=provider)
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert client.post(reverse("api-signing-batch"), body, format="json").json()["done"] == 1
