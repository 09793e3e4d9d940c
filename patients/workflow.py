"""Expected results: outstanding → received | cancelled. The only code that sets their status."""

from __future__ import annotations

from datetime import date

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from vma.access import can_access_patient
from vma.exceptions import ActionRefused, NotPermitted
from vma.models import User
from vma.workflow import close_work_item, open_work_item

from .models import ChartDocument, ExpectedResult, Patient
from .signals import chart_changed_on_commit

RESULT_OVERDUE = "patients.result_overdue"

S = ExpectedResult.Status
TRANSITIONS: dict[str, frozenset[str]] = {
    S.OUTSTANDING: frozenset({S.RECEIVED, S.CANCELLED}),
    S.RECEIVED: frozenset({S.OUTSTANDING}),  # only when its document is refiled away
    S.CANCELLED: frozenset(),
}


def _check(actor: User | None, patient: Patient, perm: str) -> None:
    if actor is not None and not can_access_patient(actor, patient, perm):
        raise NotPermitted("You cannot do this for this patient.")


def _move(result: ExpectedResult, *, to: str, actor: User | None, perm: str) -> ExpectedResult:
    """Re-read under a row lock, check the actor and the table. Callers are atomic."""
    result = ExpectedResult.objects.select_for_update(of=("self",)).select_related("patient").get(pk=result.pk)
    _check(actor, result.patient, perm)
    if to not in TRANSITIONS[result.status]:
        raise ActionRefused(f"This result is {result.get_status_display().lower()}; it cannot become {to}.")
    result.status = to
    return result


@transaction.atomic
def expect_result(
    patient: Patient,
    *,
    title: str,
    category: str,
    expected_by: date,
    source: str = "",
    actor: User | None,
    ordered_at: date | None = None,
) -> ExpectedResult:
    """An order or referral now awaits its result (orders and referrals call this).

    A document of the same category already filed since the order counts at once.
    """
    _check(actor, patient, "patients.add_expectedresult")
    if category not in ChartDocument.Category.values:
        raise ValidationError({"category": "Choose the category the result will be filed under."})
    result = ExpectedResult(
        patient=patient,
        title=(title or "").strip()[:200],
        category=category,
        source=(source or "").strip()[:200],
        ordered_at=ordered_at or timezone.localdate(),
        expected_by=expected_by,
        created_by=actor,
    )
    if result.expected_by < result.ordered_at:
        raise ValidationError({"expected_by": "The result cannot be expected before it was ordered."})
    result.full_clean()
    result.save()
    linked = ExpectedResult.objects.filter(document__isnull=False).values("document_id")
    earlier = (
        patient.documents.filter(category=category, received_at__date__gte=result.ordered_at)
        .exclude(pk__in=linked)
        .order_by("received_at")
    )
    doc = next((d for d in earlier if _title_hint(result.title, d.title)), None) or (
        earlier[0] if earlier.count() == 1 else None
    )
    if doc is not None:
        result = _receive(result, document=doc, actor=None)
    return result


def _title_hint(expected: str, document_title: str) -> bool:
    return bool(expected.strip()) and expected.strip().lower() in document_title.lower()


def _receive(result: ExpectedResult, *, document: ChartDocument, actor: User | None) -> ExpectedResult:
    result = _move(result, to=S.RECEIVED, actor=actor, perm="patients.change_expectedresult")
    if document.patient_id != result.patient_id:
        raise ActionRefused("That document is in another patient's chart.", status_code=400)
    result.document = document
    result.received_at = timezone.now()
    result.matched_by = actor
    result.save(update_fields=["status", "document", "received_at", "matched_by", "updated_at"])
    close_work_item(kind=RESULT_OVERDUE, subject=result, note=f"Result filed: {document.title}", actor=actor)
    chart_changed_on_commit(ExpectedResult, result.patient_id)
    return result


@transaction.atomic
def receive_result(result: ExpectedResult, *, document: ChartDocument, actor: User | None) -> ExpectedResult:
    """Link a filed document as the result (a VMA matching by hand, or filing matching it)."""
    return _receive(result, document=document, actor=actor)


@transaction.atomic
def cancel_result(result: ExpectedResult, *, actor: User, reason: str) -> ExpectedResult:
    reason = (reason or "").strip()
    if not reason:
        raise ActionRefused("Say why the result is no longer expected.", status_code=400)
    result = _move(result, to=S.CANCELLED, actor=actor, perm="patients.change_expectedresult")
    result.cancel_reason = reason[:300]
    result.save(update_fields=["status", "cancel_reason", "updated_at"])
    close_work_item(kind=RESULT_OVERDUE, subject=result, note=f"Cancelled: {reason}", actor=actor, cancel=True)
    chart_changed_on_commit(ExpectedResult, result.patient_id)
    return result


def unmatch_result(result: ExpectedResult, *, actor: User | None) -> ExpectedResult:
    """Its document was refiled away: outstanding again (the sweep flags it again if overdue)."""
    result = _move(result, to=S.OUTSTANDING, actor=None, perm="")
    result.document = None
    result.received_at = None
    result.matched_by = None
    result.overdue_flagged_at = None
    result.save(update_fields=["status", "document", "received_at", "matched_by", "overdue_flagged_at", "updated_at"])
    chart_changed_on_commit(ExpectedResult, result.patient_id)
    return result


def match_filed_document(document: ChartDocument) -> ExpectedResult | None:
    """The outstanding result a newly filed document answers, if it is clear which one.

    Same patient and category, ordered on or before the day the document arrived. With several
    candidates, the one whose title is in the document's title; otherwise none: a person matches
    it by hand on the patient page (a wrong automatic match would hide a missing result).
    """
    received_on = timezone.localdate(document.received_at)
    candidates = list(
        ExpectedResult.objects.filter(
            patient_id=document.patient_id,
            category=document.category,
            status=S.OUTSTANDING,
            ordered_at__lte=received_on,
        ).order_by("expected_by", "id")
    )
    chosen = next((c for c in candidates if _title_hint(c.title, document.title)), None)
    if chosen is None and len(candidates) == 1:
        chosen = candidates[0]
    if chosen is None:
        return None
    return _receive(chosen, document=document, actor=None)


def sweep_overdue(*, today: date | None = None, batch: int = 500) -> int:
    """Open one "result overdue" item per outstanding result past its date. Safe to run twice:
    each result is claimed by a conditional UPDATE of overdue_flagged_at before its item opens."""
    day = today or timezone.localdate()
    opened = 0
    ids = list(
        ExpectedResult.objects.filter(status=S.OUTSTANDING, expected_by__lt=day, overdue_flagged_at__isnull=True)
        .order_by("expected_by")
        .values_list("pk", flat=True)[:batch]
    )
    for pk in ids:
        with transaction.atomic():
            claimed = ExpectedResult.objects.filter(
                pk=pk, status=S.OUTSTANDING, overdue_flagged_at__isnull=True
            ).update(overdue_flagged_at=timezone.now())
            if not claimed:
                continue
            result = ExpectedResult.objects.select_related("patient").get(pk=pk)
            _, created = open_work_item(
                kind=RESULT_OVERDUE,
                subject=result,
                patient=result.patient,
                title=f"Result overdue: {result.title}",
                detail=(
                    f"{result.title} ({result.get_category_display().lower()}) was expected by "
                    f"{result.expected_by:%m/%d/%Y}"
                    + (f" from {result.source}" if result.source else "")
                    + ". Call for it, then file it to the chart (that closes this item)."
                ),
            )
            opened += int(created)
    return opened


def on_document_filed(document: ChartDocument) -> None:
    """After a document is filed (or refiled): match an outstanding result, tell listeners."""
    match_filed_document(document)
    chart_changed_on_commit(ChartDocument, document.patient_id)


__all__ = [
    "RESULT_OVERDUE",
    "cancel_result",
    "expect_result",
    "match_filed_document",
    "on_document_filed",
    "receive_result",
    "sweep_overdue",
    "unmatch_result",
]
