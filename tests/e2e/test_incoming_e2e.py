"""Incoming documents end to end: a lab's result that matched no patient is filed by a VMA and
the patient's outstanding result turns received."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from playwright.sync_api import expect

from patients import services, workflow
from patients.models import ChartDocument, ExpectedResult, UnmatchedDocument
from tests.factories import PatientFactory, UserFactory
from vma.access import add_to_care_team
from vma.models import WorkItem
from vma.roles import Role

from .conftest import BrowserProblems, log_in

pytestmark = pytest.mark.e2e


def test_a_vma_files_a_partners_unmatched_lab_result_and_the_result_turns_received(
    live_server, practice, page, problems: BrowserProblems, settings, tmp_path
):
    settings.MEDIA_ROOT = tmp_path
    vma = practice.users[Role.CLINICAL_SUPPORT]
    # given a patient awaiting a lipid panel, and one with the same birthday (so a DOB search finds two)
    patient = PatientFactory(care_team=practice.team, first_name="Ada", last_name="Okonkwo")
    PatientFactory(care_team=practice.team, first_name="Bea", last_name="Lindqvist")
    today = timezone.localdate()
    result = workflow.expect_result(
        patient,
        title="Lipid panel",
        category="lab_result",
        ordered_at=today - timedelta(days=7),
        expected_by=today + timedelta(days=2),
        actor=vma,
    )
    # and the lab posts it with a mistyped MRN: kept as unmatched, with a work item
    lab = UserFactory(username="acme_lab", role=Role.FRONT_OFFICE)
    add_to_care_team(lab, practice.team)
    _doc, kept = services.post_partner_document(
        actor=lab,
        mrn=patient.mrn + "9",
        date_of_birth=patient.date_of_birth,
        upload=SimpleUploadedFile("lipids.pdf", b"%PDF-1.4\n" + b"LDL 96" * 30, content_type="application/pdf"),
        category="lab_result",
        title="Lipid panel (fasting)",
    )
    assert kept is not None

    # when the clinical-support VMA signs in, sees the result outstanding on the patient page
    log_in(page, vma)
    page.goto(f"/patients/{patient.public_id}/")
    expect(page.locator(f"#outstanding li[data-result='{result.public_id}']")).to_contain_text("Lipid panel")
    # opens the incoming documents from the menu and finds the lab's document with why it did not match
    page.click("nav a:has-text('Incoming')")
    row = page.locator(f"tr[data-incoming='{kept.public_id}']")
    expect(row).to_contain_text("Lipid panel (fasting)")
    expect(row).to_contain_text(f"No patient has MRN {patient.mrn}9.")
    expect(row).to_contain_text("acme_lab")
    row.locator("a.file-or-discard").click()
    expect(page.locator("h1")).to_have_text("Lab result: Lipid panel (fasting)")
    # searches by the claimed date of birth, picks the right one of the two patients, files it
    page.fill("#q", date(1970, 5, 17).strftime("%m/%d/%Y"))
    page.click("#patient-search button:has-text('Search')")
    expect(page.locator("#patient-choices tbody tr")).to_have_count(2)
    page.check(f"#choose-{patient.public_id}")
    with page.expect_navigation():
        page.click("#file-button")

    # then the patient page shows the document, and the result received, no longer outstanding
    expect(page.locator("h1")).to_have_text("Okonkwo, Ada")
    expect(page.locator(".messages")).to_contain_text("filed to Okonkwo, Ada's chart")
    expect(page.locator(f"#received-results li[data-result='{result.public_id}']")).to_contain_text("received")
    expect(page.locator(f"#outstanding li[data-result='{result.public_id}']")).to_have_count(0)
    expect(page.locator("#outstanding")).to_contain_text("Nothing outstanding.")
    result.refresh_from_db()
    kept.refresh_from_db()
    assert result.status == ExpectedResult.Status.RECEIVED
    assert kept.status == UnmatchedDocument.Status.FILED and kept.filed_document == result.document
    assert ChartDocument.objects.get().patient == patient
    assert WorkItem.objects.get(kind="patients.document_index").status == "done"
    # and the incoming list is empty again
    page.click("nav a:has-text('Incoming')")
    expect(page.locator("#incoming")).to_contain_text("Nothing awaiting filing.")
    assert problems.js_errors == [] and problems.broken_assets == []
