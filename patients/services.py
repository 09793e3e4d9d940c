"""Writes of patient data: one function per change, each permission-checked."""

from __future__ import annotations

from datetime import date
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from vma import audit
from vma.access import accessible_patients, can_access_patient, panel_ids
from vma.exceptions import ActionRefused, NotPermitted
from vma.models import AuditEvent, CareTeam, User, WorkItem
from vma.workflow import close_work_item, open_work_item

from .icd10 import validate_billable
from .models import (
    Allergy,
    ChartDocument,
    Coverage,
    ExpectedResult,
    Immunization,
    Medication,
    Patient,
    Problem,
    Procedure,
    UnmatchedDocument,
)
from .selectors import accessible_unmatched
from .signals import chart_changed_on_commit
from .workflow import on_document_filed, unmatch_result

DOCUMENT_INDEX = "patients.document_index"


def document_index_url(item: WorkItem) -> str:
    """Where a document-index item is worked: the incoming-document page for a partner's
    unmatched document, the patient's chart for anything else (documents faxed in and scanned)."""
    if item.subject_type.model_class() is UnmatchedDocument:
        public_id = UnmatchedDocument.objects.filter(pk=item.subject_id).values_list("public_id", flat=True).first()
        return reverse("incoming_document", args=[public_id]) if public_id else reverse("incoming_documents")
    return (
        reverse("patient_detail", args=[item.patient.public_id])
        if item.patient is not None
        else reverse("patient_search")
    )


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
    on_document_filed(doc)
    return doc


# ---------------------------------------------------------------------------------------------
# Documents: refiling, partner posting, documents that matched no patient
# ---------------------------------------------------------------------------------------------


@transaction.atomic
def refile_document(
    doc: ChartDocument, *, actor: User, reason: str, patient: Patient | None = None, category: str | None = None
) -> ChartDocument:
    """Move a misfiled document to another chart (within the actor's access) or category.

    Audited twice: auditlog records the changed fields, and an audit event names both patients
    and the reason. A result the document answered in the old chart is awaited again, and
    history rows citing it as evidence there lose the link.
    """
    doc = ChartDocument.objects.select_for_update(of=("self",)).select_related("patient").get(pk=doc.pk)
    if not can_access_patient(actor, doc.patient, "patients.change_chartdocument"):
        raise NotPermitted("You cannot refile this document.")
    reason = (reason or "").strip()
    if not reason:
        raise ActionRefused("Say why the document is refiled.", status_code=400)
    new_patient = patient or doc.patient
    new_category = category or doc.category
    if new_category not in ChartDocument.Category.values:
        raise ActionRefused("Choose one of the document categories.", status_code=400)
    if new_patient.pk != doc.patient_id and not can_access_patient(actor, new_patient, "patients.add_chartdocument"):
        raise NotPermitted("You cannot file documents to that chart.")
    if new_patient.pk == doc.patient_id and new_category == doc.category:
        raise ActionRefused("Choose another patient or another category.", status_code=400)
    old_patient_id, old_category = doc.patient_id, doc.category
    moved = new_patient.pk != old_patient_id
    undone = []
    for result in ExpectedResult.objects.filter(document=doc, status=ExpectedResult.Status.RECEIVED):
        if moved or result.category != new_category:
            unmatch_result(result, actor=actor)
            undone.append(str(result.public_id))
    unlinked = 0
    if moved:
        unlinked += Procedure.objects.filter(document=doc).update(document=None)
        unlinked += Immunization.objects.filter(document=doc).update(document=None)
    doc.patient = new_patient
    doc.category = new_category
    doc.indexed_by = actor
    doc.indexed_at = timezone.now()
    doc.save(update_fields=["patient", "category", "indexed_by", "indexed_at"])
    audit.append(
        kind=AuditEvent.Kind.WRITE,
        action="document.refile",
        actor=actor,
        target=str(doc.public_id),
        patient_ids=[old_patient_id, new_patient.pk],
        detail={
            "reason": reason[:300],
            "from_category": old_category,
            "to_category": new_category,
            "moved_to_another_patient": moved,
            "results_awaited_again": undone,
            "evidence_links_removed": unlinked,
        },
    )
    if moved:
        chart_changed_on_commit(ChartDocument, old_patient_id)
    on_document_filed(doc)
    return doc


MISMATCH = (
    "No patient matches this MRN and date of birth. The document was kept for the practice to file "
    "(reference {ref}); there is no need to send it again."
)


@transaction.atomic
def post_partner_document(
    *, actor: User, mrn: str, date_of_birth: date, upload: UploadedFile, category: str, title: str
) -> tuple[ChartDocument | None, UnmatchedDocument | None]:
    """A partner (lab, imaging centre) posts a document for MRN + date of birth.

    Matched within the account's care teams: filed to that chart. Otherwise kept as an unmatched
    document with a work item saying why; the caller answers the same whatever the reason, so a
    partner never learns whether an MRN exists.
    """
    if not actor.has_perm("patients.add_chartdocument"):
        raise NotPermitted("You cannot add documents.")
    if category not in ChartDocument.Category.values:
        raise ValidationError({"category": "Choose one of the document categories."})
    content_type = check_upload(upload)
    clean_mrn = (mrn or "").strip().upper()
    patient = (
        accessible_patients(actor, "patients.add_chartdocument")
        .filter(mrn=clean_mrn, date_of_birth=date_of_birth)
        .first()
    )
    if patient is not None:
        return file_document(patient, actor=actor, upload=upload, category=category, title=title), None
    # Why, for the person who files it (never for the partner).
    known = Patient.objects.filter(mrn=clean_mrn).first()
    if known is None:
        why = f"No patient has MRN {clean_mrn[:20]}."
    elif known.date_of_birth != date_of_birth:
        why = f"MRN {clean_mrn[:20]} exists but the date of birth {date_of_birth:%m/%d/%Y} differs."
    else:
        why = f"MRN {clean_mrn[:20]} is not in a care team this partner account serves."
    unmatched = UnmatchedDocument(
        category=category,
        title=(title or upload.name or "Document")[:200],
        content_type=content_type,
        size_bytes=upload.size or 0,
        claimed_mrn=clean_mrn[:40],
        claimed_date_of_birth=date_of_birth,
        reason=why,
        posted_by=actor,
    )
    unmatched.file.save("document", upload, save=False)
    unmatched.save()
    open_work_item(
        kind=DOCUMENT_INDEX,
        subject=unmatched,
        title=f"Unmatched {unmatched.get_category_display().lower()} from {actor.get_username()}",
        # The item has no patient, so queue members of every team see it: no identifiers or match
        # details here (minimum necessary). The incoming-document page, scoped to the partner's
        # care teams, shows what was sent and why it matched no chart.
        detail="A partner's document matched no chart. Open it to see what was sent and why; "
        "file it to the right chart, or discard it with a reason.",
    )
    return None, unmatched


def _may_see_unmatched(actor: User, unmatched: UnmatchedDocument) -> bool:
    return accessible_unmatched(actor).filter(pk=unmatched.pk).exists()


@transaction.atomic
def file_unmatched(
    unmatched: UnmatchedDocument, *, actor: User, patient: Patient, category: str | None = None
) -> ChartDocument:
    """File a kept partner document to the chart a person found for it."""
    unmatched = UnmatchedDocument.objects.select_for_update().get(pk=unmatched.pk)
    if not actor.has_perm("patients.change_unmatcheddocument") or not _may_see_unmatched(actor, unmatched):
        raise NotPermitted("You cannot file incoming documents.")
    if not can_access_patient(actor, patient, "patients.add_chartdocument"):
        raise NotPermitted("You cannot file documents to that chart.")
    if unmatched.status != UnmatchedDocument.Status.PENDING:
        raise ActionRefused(f"This document was already {unmatched.get_status_display().lower()}.")
    now = timezone.now()
    doc = ChartDocument(
        patient=patient,
        category=category or unmatched.category,
        title=unmatched.title,
        content_type=unmatched.content_type,
        size_bytes=unmatched.size_bytes,
        received_at=unmatched.received_at,
        indexed_by=actor,
        indexed_at=now,
    )
    doc.full_clean(exclude=["file"])
    with unmatched.file.open("rb") as fh:
        doc.file.save("document", fh, save=False)
    doc.save()
    unmatched.status = UnmatchedDocument.Status.FILED
    unmatched.filed_document = doc
    unmatched.resolved_by, unmatched.resolved_at = actor, now
    unmatched.save(update_fields=["status", "filed_document", "resolved_by", "resolved_at"])
    close_work_item(kind=DOCUMENT_INDEX, subject=unmatched, note=f"Filed to {patient.mrn}", actor=actor)
    on_document_filed(doc)
    return doc


@transaction.atomic
def discard_unmatched(unmatched: UnmatchedDocument, *, actor: User, reason: str) -> UnmatchedDocument:
    unmatched = UnmatchedDocument.objects.select_for_update().get(pk=unmatched.pk)
    if not actor.has_perm("patients.change_unmatcheddocument") or not _may_see_unmatched(actor, unmatched):
        raise NotPermitted("You cannot discard incoming documents.")
    reason = (reason or "").strip()
    if not reason:
        raise ActionRefused("Say why the document is discarded.", status_code=400)
    if unmatched.status != UnmatchedDocument.Status.PENDING:
        raise ActionRefused(f"This document was already {unmatched.get_status_display().lower()}.")
    unmatched.status = UnmatchedDocument.Status.DISCARDED
    unmatched.resolution_note = reason[:300]
    unmatched.resolved_by, unmatched.resolved_at = actor, timezone.now()
    unmatched.save(update_fields=["status", "resolution_note", "resolved_by", "resolved_at"])
    close_work_item(kind=DOCUMENT_INDEX, subject=unmatched, note=f"Discarded: {reason}", actor=actor, cancel=True)
    return unmatched


# ---------------------------------------------------------------------------------------------
# Clinical history
# ---------------------------------------------------------------------------------------------


def _history_access(actor: User, patient: Patient, perm: str) -> None:
    if not can_access_patient(actor, patient, perm):
        raise NotPermitted("You cannot record this for this patient.")


def _not_future(day: date | None, field: str) -> None:
    if day is not None and day > timezone.localdate():
        raise ValidationError({field: "The date cannot be in the future."})


def _evidence(patient: Patient, document: ChartDocument | None) -> None:
    if document is not None and document.patient_id != patient.pk:
        raise ValidationError({"document": "The document is in another patient's chart."})


def _save(obj: Any, model: type[Any], patient_id: int) -> Any:
    obj.full_clean()
    obj.save()
    chart_changed_on_commit(model, patient_id)
    return obj


@transaction.atomic
def record_problem(
    patient: Patient, *, actor: User, code: str, onset_date: date | None = None, status: str = "active"
) -> Problem:
    _history_access(actor, patient, "patients.add_problem")
    normalised, description = validate_billable(code)
    _not_future(onset_date, "onset_date")
    if (
        status == Problem.Status.ACTIVE
        and Problem.objects.filter(patient=patient, code=normalised, status=Problem.Status.ACTIVE).exists()
    ):
        raise ValidationError({"code": f"{normalised} is already on the active problem list."})
    problem = Problem(
        patient=patient,
        code=normalised,
        description=description[:250],
        onset_date=onset_date,
        status=status,
        recorded_by=actor,
    )
    return _save(problem, Problem, patient.pk)


@transaction.atomic
def resolve_problem(problem: Problem, *, actor: User, resolved_on: date | None = None) -> Problem:
    problem = Problem.objects.select_for_update(of=("self",)).select_related("patient").get(pk=problem.pk)
    _history_access(actor, problem.patient, "patients.change_problem")
    if problem.status == Problem.Status.RESOLVED:
        raise ActionRefused("This problem is already resolved.")
    _not_future(resolved_on, "resolved_on")
    if resolved_on is not None and problem.onset_date is not None and resolved_on < problem.onset_date:
        raise ValidationError(
            {"resolved_on": f"The problem cannot resolve before its onset ({problem.onset_date:%m/%d/%Y})."}
        )
    problem.status = Problem.Status.RESOLVED
    problem.resolved_on = resolved_on or timezone.localdate()
    return _save(problem, Problem, problem.patient_id)


@transaction.atomic
def record_medication(patient: Patient, *, actor: User, name: str, **fields: Any) -> Medication:
    _history_access(actor, patient, "patients.add_medication")
    med = Medication(patient=patient, name=(name or "").strip(), recorded_by=actor, **fields)
    return _save(med, Medication, patient.pk)


@transaction.atomic
def stop_medication(med: Medication, *, actor: User, reason: str, stop_date: date | None = None) -> Medication:
    """Stop a medication on a day (today by default, never ahead), saying why.

    The reason is kept on the row (the chart shows it) and in the audit trail with the change.
    """
    med = Medication.objects.select_for_update(of=("self",)).select_related("patient").get(pk=med.pk)
    _history_access(actor, med.patient, "patients.change_medication")
    reason = (reason or "").strip()
    if not reason:
        raise ActionRefused("Say why the medication is stopped.", status_code=400)
    today = timezone.localdate()
    if med.stop_date is not None and med.stop_date <= today:
        raise ActionRefused(f"This medication was already stopped on {med.stop_date:%m/%d/%Y}.")
    day = stop_date or today
    _not_future(day, "stop_date")
    if med.start_date is not None and day < med.start_date:
        raise ValidationError(
            {"stop_date": f"The stop date cannot be before the start date ({med.start_date:%m/%d/%Y})."}
        )
    med.stop_date = day
    med.stop_reason = reason[:300]
    med = _save(med, Medication, med.patient_id)
    audit.append(
        kind=AuditEvent.Kind.WRITE,
        action="medication.stop",
        actor=actor,
        target=str(med.public_id),
        patient_ids=[med.patient_id],
        detail={"stop_date": day.isoformat(), "reason": reason[:300]},
    )
    return med


@transaction.atomic
def record_allergy(patient: Patient, *, actor: User, substance: str, **fields: Any) -> Allergy:
    _history_access(actor, patient, "patients.add_allergy")
    allergy = Allergy(patient=patient, substance=(substance or "").strip(), recorded_by=actor, **fields)
    return _save(allergy, Allergy, patient.pk)


@transaction.atomic
def record_immunization(
    patient: Patient,
    *,
    actor: User,
    vaccine: str,
    cvx_code: str,
    given_on: date,
    document: ChartDocument | None = None,
) -> Immunization:
    _history_access(actor, patient, "patients.add_immunization")
    _not_future(given_on, "given_on")
    _evidence(patient, document)
    imm = Immunization(
        patient=patient,
        vaccine=(vaccine or "").strip(),
        cvx_code=(cvx_code or "").strip(),
        given_on=given_on,
        document=document,
        recorded_by=actor,
    )
    return _save(imm, Immunization, patient.pk)


@transaction.atomic
def record_procedure(
    patient: Patient,
    *,
    actor: User,
    code: str,
    performed_on: date,
    value: str = "",
    document: ChartDocument | None = None,
) -> Procedure:
    """A procedure done (mammogram, FIT...) or a measurement (BP, HbA1c): closing evidence."""
    _history_access(actor, patient, "patients.add_procedure")
    _not_future(performed_on, "performed_on")
    _evidence(patient, document)
    proc = Procedure(
        patient=patient,
        code=code,
        performed_on=performed_on,
        value=(value or "").strip(),
        document=document,
        recorded_by=actor,
    )
    return _save(proc, Procedure, patient.pk)
