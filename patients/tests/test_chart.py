"""History, expected results, documents (upload, partner posting, refile) and the patient page."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from patients import services, workflow
from patients.models import ChartDocument, ExpectedResult, Problem, Procedure, UnmatchedDocument
from patients.results import outstanding_results
from patients.signals import chart_changed
from tests.factories import PatientFactory
from vma.api.auth import create_token
from vma.models import AuditEvent, WorkItem
from vma.roles import Role

PDF = b"%PDF-1.4\n" + b"x" * 100


def upload(name: str = "r.pdf", body: bytes = PDF) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, body, content_type="application/pdf")


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path


@pytest.fixture
def vma(practice):
    return practice.users[Role.CLINICAL_SUPPORT]


@pytest.fixture
def nurse(practice):
    return practice.users[Role.NURSE]


# --- history ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("bad", ["E11", "XYZ", "E11.99", ""])
def test_invalid_or_header_icd10_refused(patient, nurse, bad):
    with pytest.raises(ValidationError) as exc:
        services.record_problem(patient, actor=nurse, code=bad)
    assert exc.value.message_dict["code"]
    assert not Problem.objects.exists()


def test_problem_code_normalised_and_duplicate_refused(patient, nurse):
    p = services.record_problem(patient, actor=nurse, code=" e11 .9")
    assert (p.code, p.description) == ("E11.9", "Type 2 diabetes mellitus without complications")
    with pytest.raises(ValidationError):
        services.record_problem(patient, actor=nurse, code="E119")


def test_history_refused_without_access(other_patient, nurse, practice):
    from vma.exceptions import NotPermitted

    with pytest.raises(NotPermitted):
        services.record_procedure(other_patient, actor=nurse, code="fit", performed_on=date(2026, 1, 1))
    with pytest.raises(NotPermitted):  # front office keeps no clinical history
        services.record_problem(
            PatientFactory(care_team=practice.team), actor=practice.users[Role.FRONT_OFFICE], code="I10"
        )


def test_history_change_signals_after_commit(patient, vma, django_capture_on_commit_callbacks):
    got = []

    def listener(sender, patient_id, **kw):
        got.append((sender.__name__, patient_id))

    chart_changed.connect(listener)
    try:
        with django_capture_on_commit_callbacks(execute=False) as callbacks:
            services.record_procedure(patient, actor=vma, code="mammogram", performed_on=date(2026, 1, 2))
        assert got == []
        for cb in callbacks:
            cb()
        assert got == [("Procedure", patient.pk)]
    finally:
        chart_changed.disconnect(listener)


# --- expected results --------------------------------------------------------------------------------


def test_result_received_when_matching_document_filed(patient, vma, django_capture_on_commit_callbacks):
    er = workflow.expect_result(
        patient, title="Lipid panel", category="lab_result", expected_by=timezone.localdate(), actor=vma
    )
    assert outstanding_results([patient.pk])[patient.pk][0].public_id == er.public_id
    services.file_document(patient, actor=vma, upload=upload(), category="imaging", title="Chest X-ray")
    er.refresh_from_db()
    assert er.status == ExpectedResult.Status.OUTSTANDING  # another category
    doc = services.file_document(patient, actor=vma, upload=upload(), category="lab_result", title="Lab")
    er.refresh_from_db()
    assert (er.status, er.document_id) == (ExpectedResult.Status.RECEIVED, doc.pk)
    assert outstanding_results([patient.pk]) == {patient.pk: []}


def test_ambiguous_document_left_for_a_person(patient, vma):
    due = timezone.localdate() + timedelta(days=3)
    a = workflow.expect_result(patient, title="CBC", category="lab_result", expected_by=due, actor=vma)
    b = workflow.expect_result(patient, title="Lipid panel", category="lab_result", expected_by=due, actor=vma)
    doc = services.file_document(patient, actor=vma, upload=upload(), category="lab_result", title="Results")
    assert ExpectedResult.objects.filter(status="received").count() == 0
    services.file_document(patient, actor=vma, upload=upload(), category="lab_result", title="Lipid panel 11/2026")
    b.refresh_from_db()
    assert b.status == "received"
    workflow.receive_result(a, document=doc, actor=vma)  # by hand
    a.refresh_from_db()
    assert (a.status, a.matched_by) == ("received", vma)


def test_overdue_item_opened_once_and_closed_on_filing(patient, vma):
    er = workflow.expect_result(
        patient,
        title="MRI brain report",
        category="imaging",
        ordered_at=timezone.localdate() - timedelta(days=10),
        expected_by=timezone.localdate() - timedelta(days=1),
        actor=vma,
    )
    assert outstanding_results([patient.pk])[patient.pk][0].overdue is True
    assert workflow.sweep_overdue() == 1
    assert workflow.sweep_overdue() == 0
    item = WorkItem.objects.get(kind=workflow.RESULT_OVERDUE)
    item_status = item.status
    assert item_status == "open" and item.patient == patient
    services.file_document(patient, actor=vma, upload=upload(), category="imaging", title="MRI brain")
    item.refresh_from_db()
    er.refresh_from_db()
    assert item.status == "done" and er.status == "received"
    assert workflow.sweep_overdue() == 0
    assert WorkItem.objects.filter(kind=workflow.RESULT_OVERDUE).count() == 1


def test_cancel_needs_reason(patient, vma):
    er = workflow.expect_result(patient, title="Echo", category="imaging", expected_by=timezone.localdate(), actor=vma)
    from vma.exceptions import ActionRefused

    with pytest.raises(ActionRefused):
        workflow.cancel_result(er, actor=vma, reason=" ")
    er = workflow.cancel_result(er, actor=vma, reason="Patient declined")
    assert er.status == "cancelled"


def test_outstanding_results_constant_queries(practice, vma):
    counts = []
    for n in (5, 40):
        ids = []
        for _ in range(n):
            p = PatientFactory(care_team=practice.team)
            ExpectedResult.objects.create(
                patient=p, title="TSH", category="lab_result", expected_by=timezone.localdate()
            )
            ids.append(p.pk)
        with CaptureQueriesContext(connection) as ctx:
            result = outstanding_results(ids)
        assert all(len(result[i]) == 1 for i in ids)
        counts.append(len(ctx.captured_queries))
    assert counts == [1, 1]


# --- documents: page upload, refile --------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "message"),
    [(b"MZ\x90\x00" + b"x" * 100, "Only PDF, PNG and JPEG"), (b"%PDF" + b"x" * 3000, "the limit is")],
)
def test_page_upload_refused_keeps_form(client, patient, vma, settings, body, message):
    settings.DOCUMENT_MAX_BYTES = 2048
    client.force_login(vma)
    r = client.post(
        reverse("document_upload", args=[patient.public_id]),
        {"category": "consult", "title": "Cardiology consult", "file": upload("x.pdf", body)},
    )
    assert r.status_code == 400
    html = r.content.decode()
    assert message in html and 'value="Cardiology consult"' in html
    assert '<option value="consult" selected>' in html
    assert not ChartDocument.objects.exists()


def test_refile_audited_and_match_undone(patient, vma, practice):
    other = PatientFactory(care_team=practice.team)
    er = workflow.expect_result(
        patient, title="Lipid panel", category="lab_result", expected_by=timezone.localdate(), actor=vma
    )
    doc = services.file_document(patient, actor=vma, upload=upload(), category="lab_result", title="Lipid panel")
    Procedure.objects.create(patient=patient, code="lipid_panel", performed_on=date(2026, 1, 1), document=doc)
    from vma.exceptions import ActionRefused

    with pytest.raises(ActionRefused):
        services.refile_document(doc, actor=vma, reason="", patient=other)
    services.refile_document(doc, actor=vma, reason="Wrong patient: same name", patient=other)
    doc.refresh_from_db()
    er.refresh_from_db()
    assert doc.patient == other
    assert (er.status, er.document) == ("outstanding", None)
    assert Procedure.objects.get().document is None
    event = AuditEvent.objects.get(action="document.refile")
    assert sorted(event.patient_ids) == sorted([patient.pk, other.pk])
    assert event.detail["reason"] == "Wrong patient: same name"
    from auditlog.models import LogEntry

    assert LogEntry.objects.filter(object_pk=str(doc.pk), changes__has_key="patient").exists()


def test_refile_to_another_team_refused(patient, other_patient, vma):
    from vma.exceptions import NotPermitted

    doc = services.file_document(patient, actor=vma, upload=upload(), category="lab_result", title="x")
    with pytest.raises(NotPermitted):
        services.refile_document(doc, actor=vma, reason="x", patient=other_patient)


def test_refile_page(client, patient, vma, practice):
    other = PatientFactory(care_team=practice.team)
    doc = services.file_document(patient, actor=vma, upload=upload(), category="lab_result", title="x")
    client.force_login(vma)
    url = reverse("document_refile", args=[patient.public_id, doc.public_id])
    r = client.post(url, {"mrn": other.mrn, "reason": ""})
    assert r.status_code == 400 and "Say why" in r.content.decode()
    r = client.post(url, {"mrn": other.mrn, "reason": "Misfiled"})
    assert r.status_code == 302
    doc.refresh_from_db()
    assert doc.patient == other


# --- partner posting ---------------------------------------------------------------------------


@pytest.fixture
def partner(vma):
    _t, raw = create_token(
        name="Lab", user=vma, scopes=["documents:write"], expires_at=timezone.now() + timedelta(days=1), created_by=None
    )
    return {"HTTP_AUTHORIZATION": f"Bearer {raw}"}


def _post(client, partner, **data):
    body = {"category": "lab_result", "title": "CBC", "file": upload(), **data}
    return client.post(reverse("api-document-partner"), body, **partner)


def test_partner_posting_matches_mrn_and_dob(client, patient, partner):
    r = _post(client, partner, mrn=patient.mrn.lower(), date_of_birth=patient.date_of_birth.isoformat())
    assert r.status_code == 201, r.content
    assert ChartDocument.objects.get().patient == patient


def test_partner_mismatch_same_answer_and_kept(client, patient, partner):
    wrong_dob = _post(client, partner, mrn=patient.mrn, date_of_birth="1901-01-01")
    unknown = _post(client, partner, mrn="NOPE-1", date_of_birth="1901-01-01")
    assert wrong_dob.status_code == unknown.status_code == 400
    strip = lambda r: r.json()["detail"].split("(reference")[0]  # noqa: E731
    assert strip(wrong_dob) == strip(unknown)
    assert "No patient matches" in strip(unknown)
    assert not ChartDocument.objects.exists()
    kept = UnmatchedDocument.objects.order_by("id")
    assert [k.reason.split(" ")[0] for k in kept] == ["MRN", "No"]
    items = WorkItem.objects.filter(kind="patients.document_index")
    assert items.count() == 2 and all(i.status == "open" for i in items)
    # the queue item (seen by every team's queue) carries no identifiers: the scoped page does
    detail = items.get(subject_id=kept[0].pk).detail
    assert patient.mrn not in detail and "1901" not in detail and "matched no chart" in detail


def test_unmatched_filed_by_a_person_closes_item(client, patient, partner, vma):
    _post(client, partner, mrn="NOPE-1", date_of_birth="1901-01-01")
    kept = UnmatchedDocument.objects.get()
    doc = services.file_unmatched(kept, actor=vma, patient=patient)
    assert doc.file.read() == PDF
    assert WorkItem.objects.get(kind="patients.document_index").status == "done"


def test_partner_scope_required(client, patient, vma):
    _t, raw = create_token(
        name="Lab", user=vma, scopes=["documents:read"], expires_at=timezone.now() + timedelta(days=1), created_by=None
    )
    r = _post(client, {"HTTP_AUTHORIZATION": f"Bearer {raw}"}, mrn=patient.mrn, date_of_birth="1970-05-17")
    assert r.status_code == 403


# --- API: documents, care gaps, evidence -------------------------------------------------------------


def test_api_upload_wrong_type_refused(client, patient, vma):
    client.force_login(vma)
    r = client.post(
        reverse("api-document-list"),
        {"patient": str(patient.public_id), "category": "consult", "file": upload("x.exe", b"MZ" + b"0" * 50)},
    )
    assert r.status_code == 400 and "Only PDF" in str(r.json())


def test_api_care_gaps_and_evidence_closes(client, rules, vma, practice):
    p = PatientFactory(care_team=practice.team, sex="F", date_of_birth=date(1960, 1, 1))
    client.force_login(vma)
    url = reverse("api-patient-care-gaps", args=[p.public_id])
    gaps = {g["rule"]: g for g in client.get(url).json()["gaps"]}
    assert "breast-cancer-screening" in gaps
    assert gaps["breast-cancer-screening"]["closes_with"] == "Mammogram within 27 months"
    doc = services.file_document(p, actor=vma, upload=upload(), category="imaging", title="Mammogram")
    r = client.post(
        reverse("api-procedure-list"),
        {
            "patient": str(p.public_id),
            "code": "mammogram",
            "performed_on": timezone.localdate().isoformat(),
            "document": str(doc.public_id),
        },
        content_type="application/json",
    )
    assert r.status_code == 201, r.content
    assert "breast-cancer-screening" not in {g["rule"] for g in client.get(url).json()["gaps"]}


# --- the patient page -------------------------------------------------------------------------------


def test_patient_page_shows_chart_and_constant_queries(client, rules, nurse, patient, vma):
    client.force_login(nurse)
    url = reverse("patient_detail", args=[patient.public_id])

    def queries() -> int:
        with CaptureQueriesContext(connection) as ctx:
            r = client.get(url)
        assert r.status_code == 200
        return len(ctx.captured_queries)

    services.record_problem(patient, actor=nurse, code="E11.9")
    before = queries()
    for i in range(6):
        services.record_problem(patient, actor=nurse, code=["I10", "E78.5", "J45.909", "K21.9", "M54.50", "F41.1"][i])
        services.record_medication(patient, actor=nurse, name=f"Med {i}")
        services.record_allergy(patient, actor=nurse, substance=f"Thing {i}")
        services.record_procedure(patient, actor=nurse, code="bp_reading", performed_on=date(2026, 1, i + 1))
        services.record_immunization(patient, actor=nurse, vaccine="Flu", cvx_code="141", given_on=date(2025, 1, i + 1))
        workflow.expect_result(
            patient, title=f"Lab {i}", category="lab_result", expected_by=timezone.localdate(), actor=vma
        )
    assert queries() == before
    html = client.get(url).content.decode()
    assert "E11.9 Type 2 diabetes" in html and "Lab 3" in html and "Care gaps" in html
    # The fixture patient is a woman born 05/17/1970: breast screening is open, and says why.
    assert "Woman aged 50–74; no mammogram on record (due every 27 months)" in html
    assert "Closes with: Mammogram within 27 months." in html


def test_page_problem_refused_keeps_input(client, patient, nurse):
    client.force_login(nurse)
    r = client.post(
        reverse("history_add_problem", args=[patient.public_id]), {"code": "E11", "onset_date": "2020-01-02"}
    )
    assert r.status_code == 400
    html = r.content.decode()
    assert "header code" in html and 'value="E11"' in html and 'value="2020-01-02"' in html
