"""Refill pages (list, new phone request, detail and its actions) and the API (pharmacy tokens, scoping)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from refills import workflow
from refills.models import RefillRequest
from tests.factories import PASSWORD, PatientFactory, UserFactory
from vma.access import add_to_care_team
from vma.api.auth import create_token
from vma.models import AuditEvent
from vma.roles import Role

from .helpers import fresh, medication, request, statin_chart

S = RefillRequest.Status


def today_request(actor, patient, **kw):
    return request(actor, patient, now=timezone.now(), **kw)


@pytest.fixture
def patient(practice):
    patient = PatientFactory(care_team=practice.team, mrn="RX0001", last_name="Okafor")
    # The chart is dated from today: pages and the API check on the real clock.
    statin_chart(patient, now=timezone.now())
    return patient


# --- pages ------------------------------------------------------------------------------------------------


def test_a_vma_enters_a_phone_request_and_sees_it_pended(client, vma, patient):
    client.force_login(vma)
    response = client.post(
        reverse("refills_new"),
        {
            "mrn": "rx0001",
            "date_of_birth": "1970-05-17",
            "source": "phone",
            "requester": "Patient",
            "medication": "Atorvastatin",
            "strength": "20 mg",
            "quantity": "90",
            "days_supply": "90",
            "refills": "3",
            "pharmacy": "Main Street Pharmacy",
            "urgency": "routine",
            "request_text": "Running low",
        },
    )
    refill = RefillRequest.objects.get(patient=patient)
    assert response.status_code == 302 and response["Location"] == reverse("refills_detail", args=[refill.public_id])
    assert refill.status == S.PENDED and refill.received_by == vma and refill.source == "phone"
    page = client.get(response["Location"])
    html = page.content.decode()
    assert 'id="refill-status">Pended for signature<' in html
    assert 'data-line="lab:Lipid panel" class="passed"' in html


def test_the_phone_form_refuses_a_wrong_date_of_birth_and_keeps_what_was_typed(client, vma, patient):
    client.force_login(vma)
    response = client.post(
        reverse("refills_new"),
        {"mrn": "RX0001", "date_of_birth": "1971-01-01", "source": "phone", "requester": "Patient",
         "medication": "Atorvastatin", "pharmacy": "Main Street Pharmacy", "urgency": "routine"},
    )  # fmt: skip
    assert response.status_code == 200
    assert "No patient in your care teams has this MRN and date of birth." in response.content.decode()
    assert 'value="Atorvastatin"' in response.content.decode()
    assert not RefillRequest.objects.exists()


def test_the_lookup_panel_shows_the_patient_and_active_medications(client, vma, patient):
    client.force_login(vma)
    response = client.get(reverse("refills_new") + "?mrn=RX0001&date_of_birth=1970-05-17", HTTP_HX_REQUEST="true")
    html = response.content.decode()
    assert "Okafor" in html and '<option value="Atorvastatin">' in html
    wrong = client.get(reverse("refills_new") + "?mrn=RX0001&date_of_birth=1999-01-01", HTTP_HX_REQUEST="true")
    assert "Okafor" not in wrong.content.decode() and "No patient in your care teams" in wrong.content.decode()


def test_a_red_flag_phone_request_warns_the_vma(client, vma, patient):
    client.force_login(vma)
    response = client.post(
        reverse("refills_new"),
        {"mrn": "RX0001", "date_of_birth": "1970-05-17", "source": "phone", "requester": "Daughter",
         "medication": "Atorvastatin", "pharmacy": "Main Street Pharmacy", "urgency": "routine",
         "request_text": "Mom has shortness of breath"},
        follow=True,
    )  # fmt: skip
    assert "Red flag (shortness of breath): escalated to the nurse queue at once." in response.content.decode()


def test_a_duplicate_phone_request_lands_on_the_open_request(client, vma, patient):
    first = today_request(vma, patient).request
    client.force_login(vma)
    response = client.post(
        reverse("refills_new"),
        {"mrn": "RX0001", "date_of_birth": "1970-05-17", "source": "portal", "requester": "Patient",
         "medication": "atorvastatin 20mg", "pharmacy": "Main Street Pharmacy", "urgency": "routine"},
        follow=True,
    )  # fmt: skip
    assert response.redirect_chain[-1][0] == reverse("refills_detail", args=[first.public_id])
    assert "merged into it" in response.content.decode()


def test_vma_actions_and_htmx_partial(client, vma, patient):
    refill = today_request(vma, patient, days_supply=180).request
    assert refill.status == S.NEEDS_REVIEW
    client.force_login(vma)
    url = reverse("refills_work", args=[refill.public_id, "amend"])
    data = {"pharmacy": "Main Street Pharmacy", "days_supply": "90", "quantity": "90", "refills": "3"}
    response = client.post(url, data | {"strength": "20 mg", "sig": "1 tablet daily"}, HTTP_HX_REQUEST="true")
    html = response.content.decode()
    assert response.status_code == 200 and html.startswith('<div id="refill" data-status="pended">')
    assert "Saved and checked again: pended for signature." in html
    refused = client.post(reverse("refills_work", args=[refill.public_id, "cancel"]), {"reason": ""})
    assert refused.status_code == 302
    assert fresh(refill).status == S.PENDED
    assert client.post(reverse("refills_work", args=[refill.public_id, "nonsense"])).status_code == 404


def test_the_provider_signs_on_the_page_with_the_password(client, vma, provider, patient):
    refill = fresh(today_request(vma, patient).request)
    client.force_login(provider)
    url = reverse("refills_decide", args=[refill.public_id, "sign"])
    digest = workflow.signing_hash(refill)
    wrong = client.post(url, {"content_hash": digest, "password": "nope"}, HTTP_HX_REQUEST="true")
    assert "Password incorrect" in wrong.content.decode() and fresh(refill).status == S.PENDED
    ok = client.post(url, {"content_hash": digest, "password": PASSWORD}, HTTP_HX_REQUEST="true")
    assert "Refill signed" in ok.content.decode() and fresh(refill).status == S.SIGNED


def test_another_teams_provider_gets_404_on_page_and_decide(client, vma, practice, patient):
    refill = today_request(vma, patient).request
    client.force_login(practice.outsider_provider)
    assert client.get(reverse("refills_detail", args=[refill.public_id])).status_code == 404
    url = reverse("refills_decide", args=[refill.public_id, "deny"])
    assert client.post(url, {"reason": "x"}).status_code == 404
    # On the team but not the request's provider: also "not found" for deciding.
    colleague = UserFactory(role=Role.PROVIDER)
    add_to_care_team(colleague, practice.team)
    client.force_login(colleague)
    assert client.post(url, {"reason": "x"}).status_code == 404
    assert fresh(refill).status == S.PENDED


def test_billing_cannot_see_refills(client, practice, vma, patient):
    refill = today_request(vma, patient).request
    client.force_login(practice.users[Role.BILLING])
    assert client.get(reverse("refills_list")).status_code == 403
    assert client.get(reverse("refills_detail", args=[refill.public_id])).status_code == 403


def test_pages_record_their_reads(client, vma, patient):
    refill = today_request(vma, patient).request
    client.force_login(vma)
    client.get(reverse("refills_list"))
    client.get(reverse("refills_detail", args=[refill.public_id]))
    actions = set(AuditEvent.objects.filter(kind="read").values_list("action", flat=True))
    assert {"page.refills_list", "page.refills_detail"} <= actions


def _many(practice, vma, n: int) -> None:
    for _ in range(n):
        p = PatientFactory(care_team=practice.team)
        statin_chart(p, now=timezone.now())
        today_request(vma, p, request_text="chest pain" if n % 2 else "")


def _queries(client, url: str) -> int:
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(url).status_code == 200
    return len(ctx.captured_queries)


def test_list_and_detail_queries_are_constant(client, practice, vma, patient):
    first = today_request(vma, patient).request
    client.force_login(vma)
    _many(practice, vma, 2)
    small_list = _queries(client, reverse("refills_list"))
    small_detail = _queries(client, reverse("refills_detail", args=[first.public_id]))
    _many(practice, vma, 8)
    request(vma, patient, now=timezone.now())  # a duplicate: one more history line and merged row
    assert _queries(client, reverse("refills_list")) == small_list
    assert _queries(client, reverse("refills_detail", args=[first.public_id])) == small_detail


def test_turnaround_by_day_on_the_list(client, vma, provider, patient, practice):
    refill = today_request(vma, patient).request
    workflow.sign_refill(
        fresh(refill), provider=provider, content_hash=workflow.signing_hash(fresh(refill)), from_queue=True
    )
    RefillRequest.objects.filter(pk=refill.pk).update(notified_at=timezone.now(), status=S.CLOSED)
    late = PatientFactory(care_team=practice.team)
    medication(late)
    # A week back: whatever the weekday, its due time (next business day at the latest) has passed.
    old = timezone.now() - timedelta(days=7)
    stale = request(vma, late, now=old).request  # no visit on record: waits for one, past due
    assert stale.status == S.NEEDS_APPOINTMENT
    client.force_login(vma)
    html = client.get(reverse("refills_list")).content.decode()
    today = timezone.localdate().isoformat()
    assert f'data-day="{today}"' in html
    from refills.selectors import turnaround_by_day

    rows = {d.day: d for d in turnaround_by_day(vma)}
    assert rows[timezone.localdate()].received == 1 and rows[timezone.localdate()].notified == 1
    assert rows[timezone.localdate()].on_time == 1
    assert rows[timezone.localdate(old)].open_overdue == 1


# --- API --------------------------------------------------------------------------------------------------


@pytest.fixture
def pharmacy(practice):
    """A pharmacy's service account on the practice's care team."""
    account = UserFactory(username="main-st-pharmacy", role=Role.CLINICAL_SUPPORT, is_service_account=True)
    add_to_care_team(account, practice.team)
    return account


def token_client(user, scopes):
    _token, raw = create_token(
        name="Pharmacy", user=user, scopes=scopes, expires_at=timezone.now() + timedelta(days=30), created_by=None
    )
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    return client


BODY = {
    "mrn": "RX0001",
    "date_of_birth": "1970-05-17",
    "medication": "Atorvastatin 20 mg tablet",
    "strength": "20 mg",
    "sig": "1 tablet daily",
    "quantity": 90,
    "days_supply": 90,
    "refills": 3,
    "pharmacy": "Main Street Pharmacy #12",
    "requester": "Main Street Pharmacy, J. Park RPh",
}


def test_a_pharmacy_posts_a_request_and_reads_only_its_own(pharmacy, vma, patient, practice):
    client = token_client(pharmacy, ["refills:request", "refills:read"])
    response = client.post(reverse("api-refillrequest-list"), BODY, format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert (
        body["status"] == "pended"
        and body["source"] == "pharmacy"
        and body["message"].startswith("Refill request recorded")
    )
    assert [line["code"] for line in body["check"]][:2] == ["red_flags", "controlled"]
    # Someone else's request for another medication, same patient: invisible to the pharmacy.
    medication(patient, name="Lisinopril", dose="10 mg")
    other = today_request(vma, patient, medication="Lisinopril 10 mg").request
    assert client.get(reverse("api-refillrequest-detail", args=[other.public_id])).status_code == 404
    listed = client.get(reverse("api-refillrequest-list")).json()["results"]
    assert [row["id"] for row in listed] == [body["id"]]
    # Its scopes do not reach the check or a denial.
    assert client.post(reverse("api-refillrequest-check", args=[body["id"]])).status_code == 403


def test_a_pharmacy_duplicate_is_merged_and_the_pharmacy_told(pharmacy, vma, patient):
    first = today_request(vma, patient).request
    client = token_client(pharmacy, ["refills:request", "refills:read"])
    response = client.post(reverse("api-refillrequest-list"), BODY, format="json")
    assert response.status_code == 201
    body = response.json()
    assert body["status"] == "merged" and body["merged_into"] == str(first.public_id)
    assert "merged into it" in body["message"]


def test_a_pharmacy_cannot_post_for_a_patient_it_does_not_serve(pharmacy, practice):
    outsider = PatientFactory(care_team=practice.other_team, mrn="RX0002")
    client = token_client(pharmacy, ["refills:request", "refills:read"])
    response = client.post(reverse("api-refillrequest-list"), BODY | {"mrn": outsider.mrn}, format="json")
    assert response.status_code == 400 and response.json() == {"patient": ["No such patient."]}
    missing = client.post(reverse("api-refillrequest-list"), BODY | {"mrn": "NOPE99"}, format="json")
    assert missing.json() == response.json()
    bad = client.post(reverse("api-refillrequest-list"), {"medication": ""}, format="json")
    assert bad.status_code == 400 and "pharmacy" in bad.json()


def test_a_token_without_the_request_scope_cannot_post(pharmacy):
    client = token_client(pharmacy, ["refills:read"])
    assert client.post(reverse("api-refillrequest-list"), BODY, format="json").status_code == 403


def test_staff_check_and_the_provider_denies_through_the_api(client, vma, provider, patient):
    refill = today_request(vma, patient, days_supply=180).request
    client.force_login(vma)
    checked = client.post(reverse("api-refillrequest-check", args=[refill.public_id]))
    assert checked.status_code == 200 and checked.json()["status"] == "needs_review"
    assert client.post(reverse("api-refillrequest-deny", args=[refill.public_id]), {"reason": "x"}).status_code == 403
    client.force_login(provider)
    empty = client.post(reverse("api-refillrequest-deny", args=[refill.public_id]), {}, content_type="application/json")
    assert empty.status_code == 400
    denied = client.post(
        reverse("api-refillrequest-deny", args=[refill.public_id]),
        {"reason": "Needs a visit first"},
        content_type="application/json",
    )
    assert denied.status_code == 200 and denied.json()["status"] == "denied"
    again = client.post(
        reverse("api-refillrequest-deny", args=[refill.public_id]), {"reason": "x"}, content_type="application/json"
    )
    assert again.status_code == 409 and again.json()["detail"].startswith("Already denied")


def test_api_list_queries_are_constant_and_reads_audited(client, practice, vma, patient):
    today_request(vma, patient)
    client.force_login(vma)
    small = _queries(client, reverse("api-refillrequest-list"))
    _many(practice, vma, 6)
    assert _queries(client, reverse("api-refillrequest-list")) == small
    assert AuditEvent.objects.filter(action="api.refills.list").exists()
