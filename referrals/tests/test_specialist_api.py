"""The specialist's API: a scoped token sees only its own referrals (404 for others), acknowledges,
gives the appointment, posts the report; the loop closes only after the provider's review."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from patients import workflow as patients_workflow
from patients.models import ChartDocument, ExpectedResult
from referrals import workflow
from referrals.models import Referral
from vma.api.auth import create_token
from vma.models import AuditEvent, WorkItem
from vma.roles import Role

from .factories import PDF, advance, bearer, document, pdf, ready, specialist_with_token

S = Referral.Status


@pytest.fixture
def heart(practice):
    return specialist_with_token()


@pytest.fixture
def sent(heart, patient):
    return advance(ready(patient, to=heart[0]), S.SENT)


def url(name: str, referral: Referral | None = None, **kw) -> str:
    if referral is None:
        return reverse(f"api-specialistreferral-{name}")
    return reverse(f"api-specialistreferral-{name}", kwargs={"id": referral.public_id, **kw})


def test_a_specialist_sees_only_its_own_referrals(client, practice, patient, heart, sent):
    _, _, raw = heart
    other_specialist, _, other_raw = specialist_with_token(organisation="Valley Cardiology")
    theirs = advance(ready(patient, to=other_specialist), S.SENT)
    draft = ready(patient, to=heart[0])  # not sent yet: not theirs to see
    body = client.get(url("list"), **bearer(raw)).json()
    assert [r["id"] for r in body["results"]] == [str(sent.public_id)]
    assert client.get(url("detail", theirs), **bearer(raw)).status_code == 404
    assert client.get(url("detail", draft), **bearer(raw)).status_code == 404
    for action in ("acknowledge", "decline", "appointment"):
        data = {"reason": "x"} if action == "decline" else {"appointment_at": timezone.now().isoformat()}
        r = client.post(url(action, theirs), data, content_type="application/json", **bearer(raw))
        assert r.status_code == 404, action
    assert Referral.objects.get(pk=theirs.pk).status == S.SENT
    # and the other specialist sees its own, not ours
    assert [r["id"] for r in client.get(url("list"), **bearer(other_raw)).json()["results"]] == [str(theirs.public_id)]


def test_the_detail_is_the_packet_and_is_audited(client, patient, heart, sent):
    body = client.get(url("detail", sent), **bearer(heart[2])).json()
    assert body["reason"] == sent.reason and body["patient"]["last_name"] == patient.last_name
    assert "mrn" not in body["patient"] and body["referring_provider"]["npi"] == patient.care_team.provider.npi
    event = AuditEvent.objects.filter(action="api.specialist_referrals.detail").first()
    assert event is not None and event.patient_ids == [patient.pk] and event.actor == heart[1]


def test_tokens_without_the_scope_and_sessions_are_refused(client, practice, patient, heart, sent):
    _, account, _ = heart
    _, wrong = create_token(
        name="wrong scope",
        user=account,
        scopes=["referrals:read"],
        expires_at=timezone.now() + timedelta(days=1),
        created_by=None,
    )
    assert client.get(url("list"), **bearer(wrong)).status_code == 403
    # a staff token with the scope, but no specialist behind the account
    vma = practice.users[Role.CLINICAL_SUPPORT]
    _, staff = create_token(
        name="staff",
        user=vma,
        scopes=["referrals:specialist"],
        expires_at=timezone.now() + timedelta(days=1),
        created_by=None,
    )
    assert client.get(url("list"), **bearer(staff)).status_code == 403
    # the specialist's account signed in with a session: tokens only
    client.force_login(account)
    assert client.get(url("list")).status_code == 403
    client.logout()
    assert client.get(url("list")).status_code in (401, 403)


def test_acknowledge_appointment_report_then_review_closes_the_loop(client, practice, patient, heart, sent):
    _, account, raw = heart
    provider = practice.users[Role.PROVIDER]
    # an expected result the order opened for this referral
    expected = patients_workflow.expect_result(
        patient,
        title="Cardiology consult",
        category="consult",
        expected_by=timezone.localdate() + timedelta(days=30),
        source=f"Referral {sent.public_id}",
        actor=None,
    )
    r = client.post(url("acknowledge", sent), {"note": "Got it"}, content_type="application/json", **bearer(raw))
    assert r.status_code == 200 and r.json()["status"] == S.ACKNOWLEDGED
    when = (timezone.now() + timedelta(days=6)).replace(microsecond=0)
    r = client.post(
        url("appointment", sent), {"appointment_at": when.isoformat()}, content_type="application/json", **bearer(raw)
    )
    assert r.status_code == 200 and r.json()["status"] == S.SCHEDULED
    # when the specialist posts the consult report
    r = client.post(url("report", sent), {"file": pdf(), "title": "Consult: stress test normal"}, **bearer(raw))
    assert r.status_code == 200, r.content
    referral = Referral.objects.get(pk=sent.pk)
    # then it is in the chart as a consult note, the expected result is fulfilled, the provider has an item
    doc = ChartDocument.objects.get(patient=patient, category="consult")
    assert doc.title == "Consult: stress test normal" and doc.content_type == "application/pdf"
    assert doc.indexed_by == account and referral.report_document == doc
    expected.refresh_from_db()
    assert expected.status == ExpectedResult.Status.RECEIVED and expected.document == doc
    review = WorkItem.objects.get(kind=workflow.REPORT_REVIEW, subject_id=referral.pk)
    assert review.status == "open" and review.queue == "provider"
    # and the loop is NOT closed until the provider reviews it
    assert referral.status == S.REPORT_RECEIVED and referral.reviewed_at is None
    closed = workflow.review_report(referral, actor=provider)
    review.refresh_from_db()
    assert closed.status == S.CLOSED and review.status == "done" and closed.reviewed_by == provider
    assert [c.channel for c in closed.contacts.order_by("id")][-4:] == ["api", "api", "api", "portal"]


def test_a_bad_upload_is_refused_clearly_and_nothing_changes(client, patient, heart, sent, settings):
    raw = heart[2]
    r = client.post(url("report", sent), {"file": pdf("notes.txt", b"just text, not a PDF")}, **bearer(raw))
    assert r.status_code == 400 and "Only PDF, PNG and JPEG" in r.json()["file"][0]
    settings.DOCUMENT_MAX_BYTES = 16
    r = client.post(url("report", sent), {"file": pdf()}, **bearer(raw))
    assert r.status_code == 400 and "the limit is" in r.json()["file"][0]
    r = client.post(url("report", sent), {}, **bearer(raw))
    assert r.status_code == 400 and "file" in r.json()
    assert Referral.objects.get(pk=sent.pk).status == S.SENT
    assert not ChartDocument.objects.filter(patient=patient).exists()


def test_decline_needs_a_reason_and_ends_the_referral(client, heart, sent):
    raw = heart[2]
    r = client.post(url("decline", sent), {"reason": ""}, content_type="application/json", **bearer(raw))
    assert r.status_code == 400
    r = client.post(
        url("decline", sent), {"reason": "Not accepting new patients"}, content_type="application/json", **bearer(raw)
    )
    assert r.status_code == 200 and r.json()["status"] == S.DECLINED
    assert WorkItem.objects.filter(kind=workflow.DECLINED_ITEM, subject_id=sent.pk, status="open").exists()
    # a closed referral refuses further moves with 409
    r = client.post(url("acknowledge", sent), {}, content_type="application/json", **bearer(raw))
    assert r.status_code == 409


def test_only_packet_documents_can_be_downloaded(client, patient, heart):
    s, _, raw = heart
    attached = document(patient, "Echo report", "imaging")
    other = document(patient, "Psychiatry note", "consult")
    referral = ready(patient, to=s)
    referral.documents.set([attached])
    advance(referral, S.SENT)
    ok = client.get(url("document", referral, document_id=attached.public_id), **bearer(raw))
    assert ok.status_code == 200 and b"".join(ok.streaming_content).startswith(b"\x89PNG")
    assert client.get(url("document", referral, document_id=other.public_id), **bearer(raw)).status_code == 404


def test_staff_can_file_a_faxed_report_on_the_specialists_behalf(client, practice, patient, sent):
    vma = practice.users[Role.CLINICAL_SUPPORT]
    client.force_login(vma)
    r = client.post(reverse("api-referral-report", args=[sent.public_id]), {"file": pdf(body=PDF), "channel": "fax"})
    assert r.status_code == 200 and r.json()["status"] == S.REPORT_RECEIVED
    # a provider reads the chart but does not file documents: refused
    client.force_login(practice.users[Role.PROVIDER])
    assert client.post(reverse("api-referral-report", args=[sent.public_id]), {"file": pdf()}).status_code == 403


def test_a_specialist_account_cannot_use_staff_endpoints(client, heart, sent):
    _, account, _ = heart
    _, raw = create_token(
        name="both",
        user=account,
        scopes=["referrals:specialist", "referrals:read"],
        expires_at=timezone.now() + timedelta(days=1),
        created_by=None,
    )
    # the account has no role: every staff permission fails closed
    assert client.get(reverse("api-referral-list"), **bearer(raw)).status_code == 403
