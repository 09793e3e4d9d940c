"""Incoming documents: a partner's document that matched no patient, listed, filed or discarded by a person."""

from __future__ import annotations

from datetime import date

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from patients import services, workflow
from patients.models import ChartDocument, ExpectedResult, UnmatchedDocument
from tests.factories import UserFactory
from vma.access import add_to_care_team
from vma.exceptions import NotPermitted
from vma.models import AuditEvent, WorkItem
from vma.roles import Role

PDF = b"%PDF-1.4\n" + b"lab values" * 20


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path


@pytest.fixture
def vma(practice):
    return practice.users[Role.CLINICAL_SUPPORT]


def make_partner(team, name: str):
    # A lab's account: posts documents for the care team it serves.
    partner = UserFactory(username=name, role=Role.FRONT_OFFICE)
    add_to_care_team(partner, team)
    return partner


@pytest.fixture
def partner(practice):
    return make_partner(practice.team, "acme_lab")


@pytest.fixture
def other_partner(practice):
    return make_partner(practice.other_team, "far_lab")


def post(partner, *, mrn: str = "NOPE-1", dob: date = date(1970, 5, 17), title: str = "Lipid panel", body=PDF):
    doc, kept = services.post_partner_document(
        actor=partner,
        mrn=mrn,
        date_of_birth=dob,
        upload=SimpleUploadedFile("r.pdf", body, content_type="application/pdf"),
        category="lab_result",
        title=title,
    )
    assert doc is None and kept is not None
    return kept


def action_url(kept: UnmatchedDocument, action: str) -> str:
    return reverse("incoming_document_action", args=[kept.public_id, action])


# --- the list ------------------------------------------------------------------------------------


def test_list_shows_only_pending_documents_of_partners_sharing_a_team(client, vma, partner, other_partner):
    mine = post(partner, mrn="t-404", title="CBC from Acme")
    theirs = post(other_partner, title="CBC from Far")
    done = post(partner, title="Already discarded")
    services.discard_unmatched(done, actor=vma, reason="Duplicate")
    client.force_login(vma)

    r = client.get(reverse("incoming_documents"))

    assert r.status_code == 200
    html = r.content.decode()
    assert f'data-incoming="{mine.public_id}"' in html
    assert "CBC from Acme" in html and "No patient has MRN T-404." in html and "T-404" in html
    assert "05/17/1970" in html and "acme_lab" in html
    assert reverse("incoming_document_download", args=[mine.public_id]) in html
    assert "CBC from Far" not in html and str(theirs.public_id) not in html
    assert "Already discarded" not in html
    event = AuditEvent.objects.get(action="page.incoming_documents")
    assert (event.kind, event.actor, event.detail) == (AuditEvent.Kind.READ, vma, {"document": str(mine.public_id)})


def test_roles_without_the_permission_are_refused(client, practice, partner):
    kept = post(partner)
    for role in (Role.FRONT_OFFICE, Role.BILLING, Role.PROVIDER):
        client.force_login(practice.users[role])
        assert client.get(reverse("incoming_documents")).status_code == 403
        assert client.get(reverse("incoming_document", args=[kept.public_id])).status_code == 403


def test_another_teams_partner_document_is_404_everywhere(client, vma, other_partner, patient):
    theirs = post(other_partner)
    client.force_login(vma)
    assert client.get(reverse("incoming_document", args=[theirs.public_id])).status_code == 404
    assert client.get(reverse("incoming_document_download", args=[theirs.public_id])).status_code == 404
    r = client.post(action_url(theirs, "file"), {"patient": str(patient.public_id), "category": "lab_result"})
    assert r.status_code == 404
    assert client.post(action_url(theirs, "discard"), {"reason": "x"}).status_code == 404
    theirs.refresh_from_db()
    assert theirs.status == UnmatchedDocument.Status.PENDING
    assert not ChartDocument.objects.exists()
    # and the services refuse it too, whatever calls them
    with pytest.raises(NotPermitted):
        services.file_unmatched(theirs, actor=vma, patient=patient)
    with pytest.raises(NotPermitted):
        services.discard_unmatched(theirs, actor=vma, reason="x")


def test_a_nurse_of_the_team_sees_it(client, practice, partner):
    kept = post(partner)
    client.force_login(practice.users[Role.NURSE])
    assert client.get(reverse("incoming_document", args=[kept.public_id])).status_code == 200


# --- detail, search, download ---------------------------------------------------------------------


def test_detail_search_is_limited_to_the_users_patients(client, vma, partner, patient, other_patient):
    kept = post(partner)
    client.force_login(vma)
    url = reverse("incoming_document", args=[kept.public_id])

    found = client.get(url, {"q": "Inpanel"}).content.decode()
    hidden = client.get(url, {"q": "Outsider"}).content.decode()
    by_dob = client.get(url, {"q": "05/17/1970"}).content.decode()

    assert f'value="{patient.public_id}"' in found
    assert "No patient of your care teams matches “Outsider”" in hidden
    assert str(other_patient.public_id) not in hidden and str(other_patient.public_id) not in by_dob
    assert f'value="{patient.public_id}"' in by_dob
    reads = AuditEvent.objects.filter(action="page.incoming_document_search")
    assert [e.patient_ids for e in reads] == [[patient.pk], [patient.pk]]
    assert all(e.detail == {"document": str(kept.public_id)} for e in reads)
    assert AuditEvent.objects.filter(action="page.incoming_document", detail__document=str(kept.public_id)).count() == 3


def test_download_serves_the_file_and_is_audited(client, vma, partner):
    kept = post(partner)
    client.force_login(vma)
    r = client.get(reverse("incoming_document_download", args=[kept.public_id]))
    assert r.status_code == 200 and r["Content-Type"] == "application/pdf"
    assert b"".join(r.streaming_content) == PDF
    event = AuditEvent.objects.get(action="page.incoming_document_download")
    assert event.kind == AuditEvent.Kind.READ and event.detail == {"document": str(kept.public_id)}
    assert event.actor == vma and event.patient_ids == []


# --- the work item leads to the page ---------------------------------------------------------------


def test_work_item_links_to_the_incoming_page(client, vma, partner):
    kept = post(partner)
    item = WorkItem.objects.get(kind="patients.document_index")
    url = reverse("incoming_document", args=[kept.public_id])
    assert item.subject_url() == url
    client.force_login(vma)
    html = client.get(reverse("work_item", args=[item.public_id])).content.decode()
    assert f'href="{url}" id="item-subject"' in html


def test_document_index_item_about_a_patient_still_links_to_the_chart(patient):
    item, _ = workflow_open_index(patient)
    assert item.subject_url() == reverse("patient_detail", args=[patient.public_id])


def workflow_open_index(patient):
    from vma.workflow import open_work_item

    return open_work_item(kind="patients.document_index", subject=patient, patient=patient, title="Faxed labs")


# --- filing ------------------------------------------------------------------------------------------


def test_file_to_patient_changes_category_closes_item_and_receives_the_result(client, vma, partner, patient):
    result = workflow.expect_result(
        patient, title="Lipid panel", category="lab_result", expected_by=timezone.localdate(), actor=vma
    )
    kept = post(partner, title="Lipid panel")
    client.force_login(vma)

    r = client.post(action_url(kept, "file"), {"patient": str(patient.public_id), "category": "lab_result"})

    assert r.status_code == 302 and r["Location"] == reverse("patient_detail", args=[patient.public_id])
    doc = ChartDocument.objects.get()
    assert (doc.patient, doc.category, doc.indexed_by) == (patient, "lab_result", vma)
    assert doc.file.read() == PDF
    kept.refresh_from_db()
    assert (kept.status, kept.filed_document, kept.resolved_by) == ("filed", doc, vma)
    assert WorkItem.objects.get(kind="patients.document_index").status == "done"
    result.refresh_from_db()
    assert (result.status, result.document) == (ExpectedResult.Status.RECEIVED, doc)
    page = client.get(r["Location"]).content.decode()
    assert "filed to" in page and 'id="received-results"' in page


def test_file_with_another_category(client, vma, partner, patient):
    kept = post(partner)
    client.force_login(vma)
    r = client.post(action_url(kept, "file"), {"patient": str(patient.public_id), "category": "consult"})
    assert r.status_code == 302
    assert ChartDocument.objects.get().category == "consult"


def test_pressing_file_twice_files_once(client, vma, partner, patient):
    kept = post(partner)
    client.force_login(vma)
    body = {"patient": str(patient.public_id), "category": "lab_result"}

    first = client.post(action_url(kept, "file"), body)
    second = client.post(action_url(kept, "file"), body)

    assert first.status_code == 302
    assert second.status_code == 409
    html = second.content.decode()
    assert 'role="alert"' in html and "This document was already filed to a chart." in html
    assert 'id="file-button"' not in html  # no second button to press
    assert ChartDocument.objects.count() == 1


def test_file_to_another_teams_patient_keeps_the_form(client, vma, partner, other_patient):
    kept = post(partner)
    client.force_login(vma)
    r = client.post(
        action_url(kept, "file"), {"patient": str(other_patient.public_id), "category": "imaging", "q": "Outsider"}
    )
    assert r.status_code == 400
    html = r.content.decode()
    assert "No patient you can file to is this one" in html
    assert '<option value="imaging" selected>' in html and 'value="Outsider"' in html
    assert not ChartDocument.objects.exists()
    kept.refresh_from_db()
    assert kept.status == "pending"


def test_file_without_choosing_a_patient_keeps_the_form(client, vma, partner, patient):
    kept = post(partner)
    client.force_login(vma)
    r = client.post(action_url(kept, "file"), {"category": "consult", "q": "Inpanel"})
    assert r.status_code == 400
    html = r.content.decode()
    assert "Search for the patient and choose one." in html
    assert '<option value="consult" selected>' in html
    assert f'value="{patient.public_id}"' in html  # the search is shown again
    assert not ChartDocument.objects.exists()


def test_chosen_patient_stays_checked_when_category_is_bad(client, vma, partner, patient):
    kept = post(partner)
    client.force_login(vma)
    r = client.post(action_url(kept, "file"), {"patient": str(patient.public_id), "category": "nope", "q": "Inpanel"})
    assert r.status_code == 400
    assert f'value="{patient.public_id}" id="choose-{patient.public_id}" checked' in r.content.decode()


# --- discarding ----------------------------------------------------------------------------------------


def test_discard_needs_a_reason_then_cancels_the_item(client, vma, partner):
    kept = post(partner)
    client.force_login(vma)

    refused = client.post(action_url(kept, "discard"), {"reason": "  "})
    assert refused.status_code == 400 and "Say why the document is discarded." in refused.content.decode()
    kept.refresh_from_db()
    assert kept.status == "pending"

    r = client.post(action_url(kept, "discard"), {"reason": "Sent to us by mistake"})
    assert r.status_code == 302 and r["Location"] == reverse("incoming_documents")
    kept.refresh_from_db()
    assert (kept.status, kept.resolution_note) == ("discarded", "Sent to us by mistake")
    assert WorkItem.objects.get(kind="patients.document_index").status == "cancelled"
    again = client.post(action_url(kept, "discard"), {"reason": "again"})
    assert again.status_code == 409 and "already discarded" in again.content.decode()


def test_unknown_action_is_404(client, vma, partner):
    kept = post(partner)
    client.force_login(vma)
    assert client.post(action_url(kept, "shred"), {}).status_code == 404


def test_list_query_count_constant(client, vma, partner):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client.force_login(vma)
    counts = []
    for n in (2, 12):
        while UnmatchedDocument.objects.count() < n:
            post(partner, title=f"Doc {UnmatchedDocument.objects.count()}")
        with CaptureQueriesContext(connection) as ctx:
            assert client.get(reverse("incoming_documents")).status_code == 200
        counts.append(len(ctx.captured_queries))
    assert counts[0] == counts[1]


def test_scope_follows_the_posters_current_teams(vma, partner, practice):
    # A deactivated partner account keeps its team grants: its pending documents stay fileable.
    # A partner taken off the team takes them out of this team's sight (minimum necessary).
    from patients.selectors import accessible_unmatched
    from vma.access import remove_from_care_team

    kept = post(partner)
    partner.is_active = False
    partner.save(update_fields=["is_active"])
    assert list(accessible_unmatched(vma)) == [kept]
    remove_from_care_team(partner, practice.team)
    assert list(accessible_unmatched(vma)) == []
