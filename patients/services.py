"""Writes of patient data: one function per change, each permission-checked."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.utils import timezone

from vma.access import can_access_patient, panel_ids
from vma.exceptions import NotPermitted
from vma.models import CareTeam, User

from .models import ChartDocument, Coverage, Patient

ALLOWED_DOCUMENT_TYPES = {
    "application/pdf": b"%PDF",
    "image/png": b"\x89PNG",
    "image/jpeg": b"\xff\xd8\xff",
}


def _require(actor: User, perm: str) -> None:
    if not actor.has_perm(perm):
        raise NotPermitted("You cannot do this.")


@transaction.atomic
def create_patient(*, actor: User, care_team: CareTeam, **fields: Any) -> Patient:
    _require(actor, "patients.add_patient")
    if care_team.pk not in panel_ids(actor):
        raise NotPermitted("You cannot add patients to that care team.")
    patient = Patient(care_team=care_team, **fields)
    patient.full_clean()
    patient.save()
    return patient


@transaction.atomic
def update_patient(patient: Patient, *, actor: User, **fields: Any) -> Patient:
    patient = Patient.objects.select_for_update().get(pk=patient.pk)
    if not can_access_patient(actor, patient, "patients.change_patient"):
        raise NotPermitted("You cannot change this patient.")
    for name, value in fields.items():
        setattr(patient, name, value)
    patient.full_clean()
    patient.save()
    return patient


@transaction.atomic
def add_coverage(patient: Patient, *, actor: User, **fields: Any) -> Coverage:
    if not can_access_patient(actor, patient, "patients.add_coverage"):
        raise NotPermitted("You cannot add coverage for this patient.")
    coverage = Coverage(patient=patient, **fields)
    coverage.full_clean()
    coverage.save()
    return coverage


@transaction.atomic
def update_coverage(coverage: Coverage, *, actor: User, **fields: Any) -> Coverage:
    coverage = Coverage.objects.select_for_update(of=("self",)).select_related("patient").get(pk=coverage.pk)
    if not can_access_patient(actor, coverage.patient, "patients.change_coverage"):
        raise NotPermitted("You cannot change this coverage.")
    for name, value in fields.items():
        setattr(coverage, name, value)
    coverage.full_clean()
    coverage.save()
    return coverage


def check_upload(upload: UploadedFile) -> str:
    """Return the checked content type, or raise a ValidationError a person can act on."""
    limit = settings.DOCUMENT_MAX_BYTES
    if upload.size is None or upload.size == 0:
        raise ValidationError({"file": "The file is empty."})
    if upload.size > limit:
        raise ValidationError(
            {"file": f"The file is {upload.size / 1_048_576:.1f} MB; the limit is {limit / 1_048_576:.0f} MB."}
        )
    head = upload.read(8)
    upload.seek(0)
    for content_type, magic in ALLOWED_DOCUMENT_TYPES.items():
        if head.startswith(magic):
            return content_type
    raise ValidationError({"file": "Only PDF, PNG and JPEG files are accepted."})


@transaction.atomic
def file_document(patient: Patient, *, actor: User, upload: UploadedFile, category: str, title: str) -> ChartDocument:
    if not can_access_patient(actor, patient, "patients.add_chartdocument"):
        raise NotPermitted("You cannot add documents to this chart.")
    content_type = check_upload(upload)
    now = timezone.now()
    doc = ChartDocument(
        patient=patient,
        category=category,
        title=title or upload.name or "Document",
        content_type=content_type,
        size_bytes=upload.size or 0,
        received_at=now,
        indexed_by=actor,
        indexed_at=now,
    )
    doc.full_clean(exclude=["file"])
    doc.file.save("document", upload, save=False)
    doc.save()
    return doc
