"""Pages and API of remittances, denials, appeals and balances: access, scope, bad input, constant queries."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from billing import ledger, remittance
from billing.models import Appeal, Claim, Denial, RemittanceClaim, RemittanceFile
from billing.services import LineInput
from billing.x12.x835_build import Cas, LineAnswer
from tests.factories import PayerFactory
from vma.api.auth import create_token
from vma.models import AuditEvent
from vma.roles import Role

from .factories import answer, at_payer, file_835, paid_in_full

pytestmark = pytest.mark.django_db
D = Decimal


def _mine_and_theirs(practice):
    payer = PayerFactory()
    mine = at_payer(practice, payer=payer, lines=[LineInput("99213", diagnosis_pointers=[1])])
    theirs = at_payer(practice, payer=payer, own=False, lines=[LineInput("99213", diagnosis_pointers=[1])])
    return payer, mine, theirs


def test_upload_page_posts_and_a_second_upload_posts_nothing(client, practice):
    payer, mine, theirs = _mine_and_theirs(practice)
    text = file_835([paid_in_full(mine), paid_in_full(theirs)], payer=payer)
    client.force_login(practice.users[Role.BILLING])
    response = client.post(reverse("billing_remittance_upload"), {"file": SimpleUploadedFile("era.835", text.encode())})
    file = RemittanceFile.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse(
        "billing_remittance_detail", args=[file.public_id]
    )
    page = client.get(response["Location"]).content.decode()
    assert "Posted 2 claim(s)." in page
    # the file's claims of another team are not shown; the reader's own are, and the read is audited
    assert mine.patient_control_number in page and theirs.patient_control_number not in page
    assert AuditEvent.objects.filter(action="page.billing_remittance_detail", patient_ids=[mine.patient_id]).exists()
    again = client.post(
        reverse("billing_remittance_upload"), {"file": SimpleUploadedFile("copy.835", text.encode())}, follow=True
    )
    assert "nothing was posted again" in again.content.decode()
    assert RemittanceFile.objects.count() == 1 and RemittanceClaim.objects.count() == 2
    assert client.post(reverse("billing_remittance_upload"), {}).status_code == 302  # no file: said so, nothing stored


def test_a_malformed_upload_is_kept_and_explained(client, practice):
    client.force_login(practice.users[Role.BILLING])
    response = client.post(
        reverse("billing_remittance_upload"), {"file": SimpleUploadedFile("bad.835", b"not an 835 at all")}, follow=True
    )
    page = response.content.decode()
    assert response.status_code == 200 and "Not posted" in page and "not a readable 835" in page
    assert RemittanceFile.objects.get().content == "not an 835 at all"


def test_matching_an_unmatched_claim_on_the_page(client, practice):
    payer, mine, _ = _mine_and_theirs(practice)
    ans = paid_in_full(mine)
    ans.patient_control_number = "VTYPO"
    remittance.import_835(file_835([ans], payer=payer), source="api")
    file = RemittanceFile.objects.get()
    row = RemittanceClaim.objects.get()
    client.force_login(practice.users[Role.BILLING])
    url = reverse("billing_remittance_action", args=[file.public_id, "match"])
    wrong = client.post(url, {"row": str(row.public_id), "control_number": "VNOPE"}, follow=True)
    assert "Check the control number" in wrong.content.decode()
    client.post(url, {"row": str(row.public_id), "control_number": mine.patient_control_number.lower()})
    mine.refresh_from_db()
    assert mine.status == Claim.Status.PAID


def test_front_office_cannot_import_and_the_api_needs_the_scope(client, practice):
    client.force_login(practice.users[Role.FRONT_OFFICE])
    assert client.get(reverse("billing_remittances")).status_code == 403
    assert (
        client.post(reverse("api-remittance-list"), {"content": "x"}, content_type="application/json").status_code
        == 403
    )
    client.logout()
    payer, mine, _ = _mine_and_theirs(practice)
    _t, read_only = create_token(
        name="Reader",
        user=practice.users[Role.BILLING],
        scopes=["remittances:read"],
        expires_at=timezone.now() + timedelta(days=1),
        created_by=None,
    )
    _t, writer = create_token(
        name="Clearinghouse",
        user=practice.users[Role.BILLING],
        scopes=["remittances:write", "remittances:read"],
        expires_at=timezone.now() + timedelta(days=1),
        created_by=None,
    )
    body = {"content": file_835([paid_in_full(mine)], payer=payer), "filename": "api.835"}
    refused = client.post(
        reverse("api-remittance-list"), body, content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {read_only}"
    )
    assert refused.status_code == 403
    created = client.post(
        reverse("api-remittance-list"), body, content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {writer}"
    )
    assert created.status_code == 201, created.content
    data = created.json()
    assert data["status"] == "posted" and data["claims"][0]["claim_status"] == "paid"
    again = client.post(
        reverse("api-remittance-list"), body, content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {writer}"
    )
    assert again.status_code == 200 and again.json()["id"] == data["id"]
    listed = client.get(reverse("api-remittance-list"), HTTP_AUTHORIZATION=f"Bearer {read_only}").json()
    assert [f["id"] for f in listed["results"]] == [data["id"]]
    empty = client.post(
        reverse("api-remittance-list"), {}, content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {writer}"
    )
    assert empty.status_code == 400 and "content" in empty.json()


def _denied(practice, *, own: bool = True) -> Claim:
    claim = at_payer(practice, own=own, lines=[LineInput("99213", diagnosis_pointers=[1])])
    lines = [LineAnswer("99213", claim.total_charge, D("0"), adjustments=[Cas("CO", "50", claim.total_charge)])]
    remittance.import_835(
        file_835([answer(claim, lines=lines, status_code="4")], payer=claim.payer, trace=f"D{claim.pk}", icn=claim.pk),
        source="api",
    )
    claim.refresh_from_db()
    return claim


def test_appeal_api_drafts_edits_and_sends(client, practice):
    claim = _denied(practice)
    theirs = _denied(practice, own=False)
    denial = Denial.objects.get(claim=claim)
    client.force_login(practice.users[Role.BILLING])
    listed = client.get(reverse("api-denial-list")).json()["results"]
    assert [d["id"] for d in listed] == [str(denial.public_id)]
    assert listed[0]["category"] == "medical_necessity" and listed[0]["codes"][0]["reason"] == "50"
    other = client.post(
        reverse("api-appeal-list"),
        {"denial": str(Denial.objects.get(claim=theirs).public_id)},
        content_type="application/json",
    )
    assert other.status_code == 400 and other.json() == {"denial": ["No such denial."]}
    created = client.post(
        reverse("api-appeal-list"), {"denial": str(denial.public_id)}, content_type="application/json"
    )
    assert created.status_code == 201 and claim.patient.last_name in created.json()["letter"]
    appeal_id = created.json()["id"]
    assert (
        client.post(
            reverse("api-appeal-list"), {"denial": str(denial.public_id)}, content_type="application/json"
        ).status_code
        == 200
    )
    short = client.patch(
        reverse("api-appeal-detail", args=[appeal_id]), {"letter": "too short"}, content_type="application/json"
    )
    assert short.status_code == 400 and "too short" in short.json()["detail"]
    letter = "Dear payer,\n" + "Please reconsider this claim; the records are enclosed. " * 3
    client.patch(reverse("api-appeal-detail", args=[appeal_id]), {"letter": letter}, content_type="application/json")
    sent = client.post(reverse("api-appeal-send", args=[appeal_id]), {}, content_type="application/json").json()
    assert sent["status"] == "sent" and sent["claim_status"] == "appealed" and sent["letter"].startswith("Dear payer")
    assert Appeal.objects.get().letter.startswith("Dear payer")


def test_appeal_page_keeps_the_typed_letter_when_refused(client, practice):
    claim = _denied(practice)
    client.force_login(practice.users[Role.BILLING])
    denial = Denial.objects.get(claim=claim)
    response = client.post(reverse("billing_denial_action", args=[denial.public_id, "appeal"]))
    appeal = Appeal.objects.get()
    assert response["Location"] == reverse("billing_appeal", args=[appeal.public_id])
    refused = client.post(reverse("billing_appeal_action", args=[appeal.public_id, "save"]), {"letter": "short"})
    assert (
        refused.status_code == 400
        and "too short" in refused.content.decode()
        and ">short</textarea>" in refused.content.decode()
    )
    client.post(reverse("billing_appeal_action", args=[appeal.public_id, "send"]), {"letter": appeal.letter})
    claim.refresh_from_db()
    assert claim.status == "appealed"
    printed = client.get(reverse("billing_appeal", args=[appeal.public_id]) + "?print=1").content.decode()
    assert claim.patient.last_name in printed and "topbar" not in printed


def test_balances_api_and_payment(client, practice):
    claim = at_payer(practice, lines=[LineInput("99213", diagnosis_pointers=[1])])
    remittance.import_835(file_835([paid_in_full(claim)], payer=claim.payer), source="api")
    client.force_login(practice.users[Role.FRONT_OFFICE])
    listed = client.get(reverse("api-patientbalance-list")).json()["results"]
    assert [(b["patient"], b["balance"]) for b in listed] == [(str(claim.patient.public_id), "20.00")]
    url = reverse("api-patientbalance-payments", args=[claim.patient.public_id])
    paid = client.post(
        url, {"amount": "15.00", "method": "card", "idempotency_key": "abc"}, content_type="application/json"
    )
    assert paid.status_code == 201
    assert (
        client.post(
            url, {"amount": "15.00", "method": "card", "idempotency_key": "abc"}, content_type="application/json"
        ).status_code
        == 200
    )
    account = client.get(reverse("api-patientbalance-detail", args=[claim.patient.public_id])).json()
    assert account["balance"] == "5.00" and [e["amount"] for e in account["entries"]][:2] == ["-15.00", "20.00"]
    other = at_payer(practice, own=False)
    assert client.get(reverse("api-patientbalance-detail", args=[other.patient.public_id])).status_code == 404
    assert (
        client.post(
            reverse("api-patientbalance-payments", args=[other.patient.public_id]),
            {"amount": "1", "method": "cash"},
            content_type="application/json",
        ).status_code
        == 404
    )


def test_payment_page_keeps_what_was_typed_when_refused(client, practice):
    claim = at_payer(practice)
    client.force_login(practice.users[Role.FRONT_OFFICE])
    url = reverse("billing_patient_payment", args=[claim.patient.public_id])
    refused = client.post(url, {"amount": "12,5x", "method": "cash", "reference": "R-77", "token": "t1"})
    page = refused.content.decode()
    assert refused.status_code == 400 and "not an amount" in page and 'value="R-77"' in page
    ok = client.post(url, {"amount": "12.50", "method": "cash", "token": "t2"}, follow=True)
    assert "Payment of 12.50 recorded." in ok.content.decode()


def test_balance_list_query_count_is_constant(client, practice):
    client.force_login(practice.users[Role.BILLING])

    def owe(n: int) -> None:
        for i in range(n):
            claim = at_payer(practice, lines=[LineInput("99213", diagnosis_pointers=[1])])
            remittance.import_835(
                file_835([paid_in_full(claim)], payer=claim.payer, trace=f"Q{claim.pk}", icn=claim.pk + i), source="api"
            )

    owe(1)
    client.get(reverse("billing_balances"))
    with CaptureQueriesContext(connection) as small:
        assert client.get(reverse("billing_balances")).status_code == 200
    owe(4)
    with CaptureQueriesContext(connection) as large:
        response = client.get(reverse("billing_balances"))
    assert response.content.decode().count("data-patient=") == 5
    assert len(large) == len(small)


def test_claim_page_query_count_does_not_grow_with_postings(client, practice):
    client.force_login(practice.users[Role.BILLING])
    claim = at_payer(practice, lines=[LineInput("99213", diagnosis_pointers=[1])])
    original = [LineAnswer("99213", D("125"), D("80"), adjustments=[Cas("CO", "45", D("45"))])]
    remittance.import_835(
        file_835([answer(claim, lines=original, payer_claim_number="A1")], payer=claim.payer, trace="T1"), source="api"
    )
    url = reverse("billing_claim_detail", args=[claim.public_id])
    client.get(url)
    with CaptureQueriesContext(connection) as small:
        client.get(url)
    reversal = [LineAnswer("99213", D("-125"), D("-80"), adjustments=[Cas("CO", "45", D("-45"))])]
    again = [LineAnswer("99213", D("125"), D("95"), adjustments=[Cas("CO", "45", D("30"))])]
    remittance.import_835(
        file_835(
            [
                answer(claim, lines=reversal, status_code="22", payer_claim_number="A1"),
                answer(claim, lines=again, payer_claim_number="A2"),
            ],
            payer=claim.payer,
            trace="T2",
            icn=2,
        ),
        source="api",
    )
    with CaptureQueriesContext(connection) as large:
        page = client.get(url).content.decode()
    assert page.count("<td>99213</td>") == 4  # the service line and its three postings
    assert len(large) == len(small)


def test_statement_runs_page_and_manual_run(client, practice):
    claim = at_payer(practice, lines=[LineInput("99213", diagnosis_pointers=[1])])
    remittance.import_835(file_835([paid_in_full(claim)], payer=claim.payer), source="api")
    client.force_login(practice.users[Role.BILLING])
    assert client.post(reverse("billing_statement_run")).status_code == 403  # the manager runs statements
    client.force_login(practice.users[Role.MANAGER])
    done = client.post(reverse("billing_statement_run"), follow=True).content.decode()
    assert "1 statement(s) made" in done
    again = client.post(reverse("billing_statement_run"), follow=True).content.decode()
    assert "one run a month" in again
    assert ledger.run_statements()[1] is False
