"""Patients: search within access, chart uploads refused clearly, NPI and coverage rules."""

from __future__ import annotations

from datetime import date

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from patients.models import ChartDocument, Coverage
from patients.selectors import search_patients
from tests.factories import CoverageFactory, PatientFactory
from vma.roles import Role
from vma.validators import is_valid_npi, validate_npi

PDF = b"%PDF-1.4\n% synthetic test document\n"


@pytest.fixture
def people(practice):
    return {
        "ana": PatientFactory(
            care_team=practice.team,
            first_name="Ana",
            last_name="Torres",
            date_of_birth=date(1980, 3, 9),
            mrn="MRN900001",
        ),
        "bo": PatientFactory(
            care_team=practice.team,
            first_name="Bo",
            last_name="Tanaka",
            date_of_birth=date(1975, 7, 1),
            mrn="MRN900002",
        ),
        "other": PatientFactory(
            care_team=practice.other_team,
            first_name="Ana",
            last_name="Torres",
            date_of_birth=date(1980, 3, 9),
            mrn="MRN900003",
        ),
    }


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("Torres", {"ana"}),
        ("torres, ana", {"ana"}),
        ("Ana Torres", {"ana"}),
        ("T", {"ana", "bo"}),
        ("03/09/1980", {"ana"}),
        ("1980-03-09", {"ana"}),
        ("MRN900002", {"bo"}),
        ("mrn900003", set()),  # exists, but on another care team
        ("Nobody", set()),
    ],
)
def test_search_by_name_dob_mrn_within_access(practice, people, query, expected):
    found = set(search_patients(practice.users[Role.FRONT_OFFICE], query))
    assert found == {people[k] for k in expected}


def test_search_page_shows_only_own_patients(client, practice, people):
    client.force_login(practice.users[Role.FRONT_OFFICE])
    body = client.get(reverse("patient_search"), {"q": "Torres"}).content.decode()
    assert "MRN900001" in body and "MRN900003" not in body


def _upload(client, patient, name, content, content_type):
    return client.post(
        reverse("document_upload", args=[patient.public_id]),
        {
            "category": "lab_result",
            "title": "CBC",
            "file": SimpleUploadedFile(name, content, content_type=content_type),
        },
        follow=True,
    )


def test_good_upload_is_filed_and_downloadable(client, practice, people, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    client.force_login(practice.users[Role.CLINICAL_SUPPORT])
    r = _upload(client, people["ana"], "cbc.pdf", PDF, "application/pdf")
    assert "Document filed to the chart." in r.content.decode()
    doc = ChartDocument.objects.get(patient=people["ana"])
    assert doc.content_type == "application/pdf" and doc.indexed_by == practice.users[Role.CLINICAL_SUPPORT]
    assert "cbc" not in doc.file.name  # no uploaded names (or patient names) in storage paths
    download = client.get(reverse("document_download", args=[people["ana"].public_id, doc.public_id]))
    assert b"".join(download.streaming_content) == PDF


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("virus.exe", b"MZ\x90\x00 not a document", "Only PDF, PNG and JPEG files are accepted."),
        ("fake.pdf", b"<html>not a pdf</html>", "Only PDF, PNG and JPEG files are accepted."),
        ("empty.pdf", b"", "The file is empty."),
    ],
)
def test_bad_upload_gets_a_clear_message_and_saves_nothing(
    client, practice, people, settings, tmp_path, name, content, message
):
    settings.MEDIA_ROOT = tmp_path
    client.force_login(practice.users[Role.CLINICAL_SUPPORT])
    r = _upload(client, people["ana"], name, content, "application/pdf")
    assert r.status_code == 400 and message in r.content.decode()  # the page again, form kept
    assert not ChartDocument.objects.exists()
    assert not any(tmp_path.rglob("*"))


def test_oversized_upload_is_refused(client, practice, people, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    settings.DOCUMENT_MAX_BYTES = 1024
    client.force_login(practice.users[Role.CLINICAL_SUPPORT])
    r = _upload(client, people["ana"], "big.pdf", PDF + b"0" * 2048, "application/pdf")
    assert "the limit is" in r.content.decode()
    assert not ChartDocument.objects.exists()


def test_billing_vma_sees_coverage_but_no_clinical_documents(client, practice, people):
    CoverageFactory(patient=people["ana"])
    client.force_login(practice.users[Role.BILLING])
    body = client.get(reverse("patient_detail", args=[people["ana"].public_id])).content.decode()
    assert "Coverage" in body and "Chart documents" not in body


def test_npi_check_digit():
    assert is_valid_npi("1234567893")
    assert not is_valid_npi("1234567890")
    with pytest.raises(ValidationError, match="check digit"):
        validate_npi("1234567890")
    with pytest.raises(ValidationError, match="10 digits"):
        validate_npi("12345")


def test_one_active_coverage_per_rank(practice, people):
    CoverageFactory(patient=people["ana"], rank=1)
    dup = Coverage(patient=people["ana"], payer=CoverageFactory(patient=people["bo"]).payer, rank=1, member_id="XY123")
    with pytest.raises(ValidationError):
        dup.full_clean()
