"""The expected-results API: list per patient, match a document by hand, cancel with a reason."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from patients import services, workflow
from patients.models import ExpectedResult
from vma.api.auth import create_token
from vma.models import AuditEvent
from vma.roles import Role


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path


@pytest.fixture
def vma(practice):
    return practice.users[Role.CLINICAL_SUPPORT]


def expect(patient, vma, title: str, *, days: int = 3, category: str = "lab_result") -> ExpectedResult:
    today = timezone.localdate()
    return workflow.expect_result(
        patient,
        title=title,
        category=category,
        ordered_at=today - timedelta(days=10),
        expected_by=today + timedelta(days=days),
        actor=vma,
    )


def file(patient, vma, title: str, category: str = "lab_result"):
    body = SimpleUploadedFile("r.pdf", b"%PDF-1.4\n" + b"x" * 40, content_type="application/pdf")
    return services.file_document(patient, actor=vma, upload=body, category=category, title=title)


def listing(client, patient, **params):
    return client.get(reverse("api-expectedresult-list"), {"patient": str(patient.public_id), **params})


def test_list_is_per_patient_outstanding_first_due_first_and_audited(client, vma, patient, practice):
    from tests.factories import PatientFactory

    late = expect(patient, vma, "Lipid panel", days=-2)
    soon = expect(patient, vma, "CBC", days=1)
    gone = expect(patient, vma, "Echo", category="imaging")
    workflow.cancel_result(gone, actor=vma, reason="Declined")
    expect(PatientFactory(care_team=practice.team), vma, "Someone else's TSH")
    client.force_login(vma)

    r = listing(client, patient)

    assert r.status_code == 200
    rows = r.json()["results"]
    assert [(x["id"], x["overdue"]) for x in rows] == [(str(late.public_id), True), (str(soon.public_id), False)]
    assert {x["status"] for x in rows} == {"outstanding"}
    every = listing(client, patient, status="all").json()["results"]
    assert {x["title"] for x in every} == {"Lipid panel", "CBC", "Echo"}
    cancelled = listing(client, patient, status="cancelled").json()["results"]
    assert [(x["title"], x["cancel_reason"]) for x in cancelled] == [("Echo", "Declined")]
    event = AuditEvent.objects.filter(action="api.expected_results.list").first()
    assert event is not None and event.patient_ids == [patient.pk] and event.kind == AuditEvent.Kind.READ


def test_list_needs_a_patient_and_a_known_status(client, vma, patient):
    client.force_login(vma)
    assert client.get(reverse("api-expectedresult-list")).status_code == 400
    r = listing(client, patient, status="lost")
    assert r.status_code == 400 and "status" in r.json()


def test_another_teams_patient_and_result_are_404(client, vma, other_patient):
    theirs = ExpectedResult.objects.create(
        patient=other_patient, title="TSH", category="lab_result", expected_by=timezone.localdate()
    )
    client.force_login(vma)
    assert listing(client, other_patient).status_code == 404
    assert client.get(reverse("api-expectedresult-detail", args=[theirs.public_id])).status_code == 404
    r = client.post(
        reverse("api-expectedresult-cancel", args=[theirs.public_id]), {"reason": "x"}, content_type="application/json"
    )
    assert r.status_code == 404
    theirs.refresh_from_db()
    assert theirs.status == "outstanding"


def test_match_by_hand(client, vma, patient, practice):
    from tests.factories import PatientFactory

    a = expect(patient, vma, "CBC")
    expect(patient, vma, "Lipid panel")
    doc = file(patient, vma, "Results 11/2026")  # ambiguous: left for a person
    elsewhere = file(PatientFactory(care_team=practice.team), vma, "CBC")
    client.force_login(vma)
    url = reverse("api-expectedresult-match", args=[a.public_id])

    wrong = client.post(url, {"document": str(elsewhere.public_id)}, content_type="application/json")
    assert wrong.status_code == 400 and wrong.json() == {"document": ["No such document in this chart."]}
    r = client.post(url, {"document": str(doc.public_id)}, content_type="application/json")

    assert r.status_code == 200, r.content
    assert (r.json()["status"], r.json()["document"]) == ("received", str(doc.public_id))
    a.refresh_from_db()
    assert (a.status, a.document, a.matched_by) == ("received", doc, vma)
    again = client.post(url, {"document": str(doc.public_id)}, content_type="application/json")
    assert again.status_code == 409 and "received" in again.json()["detail"]


def test_cancel_needs_a_reason(client, vma, patient):
    result = expect(patient, vma, "Echo", category="imaging")
    client.force_login(vma)
    url = reverse("api-expectedresult-cancel", args=[result.public_id])
    blank = client.post(url, {"reason": ""}, content_type="application/json")
    assert blank.status_code == 400 and "reason" in blank.json()
    r = client.post(url, {"reason": "Patient declined the echo"}, content_type="application/json")
    assert r.status_code == 200 and r.json()["status"] == "cancelled"
    result.refresh_from_db()
    assert result.cancel_reason == "Patient declined the echo"


def test_provider_reads_but_may_not_match_or_cancel(client, practice, patient, vma):
    result = expect(patient, vma, "Echo", category="imaging")
    client.force_login(practice.users[Role.PROVIDER])
    assert listing(client, patient).status_code == 200
    url = reverse("api-expectedresult-cancel", args=[result.public_id])
    assert client.post(url, {"reason": "x"}, content_type="application/json").status_code == 403


def test_token_scopes_history_not_documents(client, vma, patient):
    expect(patient, vma, "CBC")

    def bearer(*scopes: str) -> dict[str, str]:
        _t, raw = create_token(
            name="t", user=vma, scopes=list(scopes), expires_at=timezone.now() + timedelta(days=1), created_by=None
        )
        return {"HTTP_AUTHORIZATION": f"Bearer {raw}"}

    url = reverse("api-expectedresult-list")
    q = {"patient": str(patient.public_id)}
    assert client.get(url, q, **bearer("documents:read")).status_code == 403
    ok = client.get(url, q, **bearer("history:read"))
    assert ok.status_code == 200 and len(ok.json()["results"]) == 1
    result = ExpectedResult.objects.get()
    cancel = reverse("api-expectedresult-cancel", args=[result.public_id])
    assert (
        client.post(cancel, {"reason": "x"}, content_type="application/json", **bearer("history:read")).status_code
        == 403
    )
    assert (
        client.post(cancel, {"reason": "x"}, content_type="application/json", **bearer("history:write")).status_code
        == 200
    )
