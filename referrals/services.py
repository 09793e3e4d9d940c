"""Referral writes other than status moves: create (by hand or from a signed order), the packet,
the contact log, filing the consult report, referring again after a decline or an expiry."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.db import IntegrityError, transaction
from django.utils import timezone

from patients.icd10 import validate_billable
from patients.models import ChartDocument, ExpectedResult, Patient
from patients.services import check_upload
from patients.signals import chart_changed_on_commit
from patients.workflow import on_document_filed, receive_result
from vma.access import can_access_patient
from vma.exceptions import ActionRefused, NotPermitted
from vma.models import WorkItem
from vma.workflow import close_work_item, open_work_item

from . import followups, workflow
from .models import Referral, ReferralContact, Specialist
from .packet import build_packet

if TYPE_CHECKING:
    from orders.models import Order
    from vma.models import User

S = Referral.Status
C = ReferralContact.Channel
D = ReferralContact.Direction

PACKET_FIELDS = frozenset(
    {
        "specialist",
        "reason",
        "urgency",
        "diagnosis_code",
        "clinical_notes",
        "results_not_needed",
        "results_note",
        "coverage",
        "self_pay",
        "documents",
    }
)
AUTH_FIELDS = frozenset({"authorization_number", "visits_allowed", "visits_used", "authorization_expires_on"})
ADD_DOCUMENT = "patients.add_chartdocument"


def _contact(
    referral: Referral,
    *,
    actor: User | None,
    note: str,
    now: datetime,
    channel: str = C.PORTAL,
    direction: str = D.INTERNAL,
) -> ReferralContact:
    return ReferralContact.objects.create(
        referral=referral, at=now, by=actor, channel=channel, direction=direction, note=note[:500]
    )


def _open_prepare(referral: Referral, *, now: datetime) -> None:
    """A draft is somebody's work until it is sent or cancelled: it never waits unseen."""
    missing = build_packet(referral, day=timezone.localdate(now)).missing
    todo = "; ".join(f"{line.label}: {line.detail}" for line in missing) or "The packet looks complete: send it."
    open_work_item(
        kind=workflow.PREPARE,
        subject=referral,
        patient=referral.patient,
        title=f"Prepare and send referral: {referral.specialty} for {referral.patient.last_name}",
        detail=f"Referred by {referral.referring_provider} for: {referral.reason or '(no reason yet)'}.\nTo do: {todo}",
        due_at=now + timedelta(hours=4) if referral.is_urgent else None,
        priority=WorkItem.Priority.HIGH if referral.is_urgent else None,
    )


def _diagnosis(code: str) -> tuple[str, str]:
    if not (code or "").strip():
        return "", ""
    try:
        normalised, description = validate_billable(code)
    except ValidationError as exc:
        raise ValidationError({"diagnosis_code": exc.message_dict["code"]}) from None
    return normalised, description[:250]


def _provider_for(patient: Patient, actor: User, given: User | None) -> User:
    if given is not None:
        if not given.is_provider:
            raise ValidationError({"referring_provider": "Choose a provider."})
        return given
    if actor.is_provider:
        return actor
    return patient.care_team.provider


@transaction.atomic
def create_referral(
    patient: Patient,
    *,
    actor: User,
    specialty: str,
    reason: str = "",
    urgency: str = Referral.Urgency.ROUTINE,
    diagnosis_code: str = "",
    specialist: Specialist | None = None,
    clinical_notes: str = "",
    referring_provider: User | None = None,
    now: datetime | None = None,
) -> Referral:
    """A referral started by hand (a provider's message, an outside request); most come from orders."""
    now = now or timezone.now()
    if not can_access_patient(actor, patient, workflow.ADD):
        raise NotPermitted("You cannot refer this patient.")
    specialty = (specialty or "").strip()
    if not specialty:
        raise ValidationError({"specialty": "Say which specialty the patient is referred to."})
    if urgency not in Referral.Urgency.values:
        raise ValidationError({"urgency": "Choose routine, urgent or STAT."})
    if specialist is not None and not specialist.active:
        raise ValidationError({"specialist": "That specialist is no longer in the directory."})
    code, description = _diagnosis(diagnosis_code)
    referral = Referral.objects.create(
        patient=patient,
        referring_provider=_provider_for(patient, actor, referring_provider),
        specialist=specialist,
        specialty=specialty[:80],
        reason=(reason or "").strip()[:300],
        urgency=urgency,
        diagnosis_code=code,
        diagnosis_description=description,
        clinical_notes=(clinical_notes or "").strip(),
        created_at=now,
        created_by=actor,
    )
    _contact(referral, actor=actor, note=f"Referral to {specialty} created.", now=now)
    _open_prepare(referral, now=now)
    return referral


@transaction.atomic
def create_from_order(order: Order) -> Referral:
    """The referral a signed referral order starts (orders calls this after signing).

    Idempotent per order: the order's row lock serialises concurrent calls, the one-to-one column
    backs it, and a second call returns the referral the first made.
    """
    from orders.models import Order

    order = Order.objects.select_for_update(of=("self",)).select_related("diagnosis", "encounter").get(pk=order.pk)
    existing = Referral.objects.filter(order=order).first()
    if existing is not None:
        return existing
    if order.kind != Order.Kind.REFERRAL:
        raise ActionRefused("Only a referral order starts a referral.", status_code=400)
    if order.status != Order.Status.SIGNED:
        raise ActionRefused("The referral order is not signed yet.")
    now = order.signed_at or timezone.now()
    dx = order.diagnosis
    try:
        with transaction.atomic():
            referral = Referral.objects.create(
                patient_id=order.patient_id,
                referring_provider_id=order.signed_by_id or order.provider_id,
                order=order,
                encounter_id=order.encounter_id,
                specialty=(order.specialty or order.title)[:80],
                reason=order.reason.strip()[:300],
                urgency=order.urgency if order.urgency in Referral.Urgency.values else Referral.Urgency.ROUTINE,
                diagnosis_code=dx.code if dx is not None else "",
                diagnosis_description=dx.description[:250] if dx is not None else "",
                created_at=now,
                created_by_id=order.signed_by_id,
            )
    except IntegrityError:
        return Referral.objects.get(order=order)
    referral = Referral.objects.select_related("patient", "referring_provider", "encounter").get(pk=referral.pk)
    _contact(
        referral,
        actor=None,
        note=f"Created from the order signed by {referral.referring_provider}: {order.title}"[:500],
        now=now,
        channel=C.SYSTEM,
    )
    _open_prepare(referral, now=timezone.now())
    return referral


def _lock_for_work(referral: Referral, actor: User) -> Referral:
    referral = (
        Referral.objects.select_for_update(of=("self",))
        .select_related("patient", "specialist", "referring_provider")
        .get(pk=referral.pk)
    )
    if not can_access_patient(actor, referral.patient, workflow.WORK):
        raise NotPermitted("You cannot change this referral.")
    return referral


def _positive(value: Any, field: str, *, minimum: int) -> int | None:
    if value in (None, ""):
        return None
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise ValidationError({field: "Give a whole number."}) from None
    if number < minimum:
        raise ValidationError({field: f"Give a number of at least {minimum}."})
    return number


@transaction.atomic
def update_packet(referral: Referral, *, actor: User, now: datetime | None = None, **fields: Any) -> Referral:
    """Change the packet (while it is a draft) or the plan's authorization (while the referral is open)."""
    now = now or timezone.now()
    unknown = set(fields) - PACKET_FIELDS - AUTH_FIELDS
    if unknown:
        raise ActionRefused(f"These cannot be changed here: {', '.join(sorted(unknown))}.", status_code=400)
    referral = _lock_for_work(referral, actor)
    if set(fields) & PACKET_FIELDS and referral.status != S.DRAFT:
        raise ActionRefused(
            "The packet was sent: tell the specialist's office of changes and log the contact, "
            "or cancel and refer again."
        )
    if set(fields) & AUTH_FIELDS and not referral.is_open:
        raise ActionRefused(f"This referral is {referral.get_status_display().lower()}; it cannot change.")
    changed: list[str] = []
    documents = fields.pop("documents", None)
    for name, value in fields.items():
        if name == "specialist":
            if value is not None and not value.active:
                raise ValidationError({"specialist": "That specialist is no longer in the directory."})
        elif name == "diagnosis_code":
            value, referral.diagnosis_description = _diagnosis(value)
        elif name == "coverage":
            if value is not None and value.patient_id != referral.patient_id:
                raise ValidationError({"coverage": "That plan is another patient's."})
        elif name == "urgency":
            if value not in Referral.Urgency.values:
                raise ValidationError({"urgency": "Choose routine, urgent or STAT."})
        elif name == "visits_allowed":
            value = _positive(value, name, minimum=1)
        elif name == "visits_used":
            value = _positive(value, name, minimum=0) or 0
        elif name in ("reason", "clinical_notes", "results_note", "authorization_number"):
            value = (value or "").strip()
        elif name == "authorization_expires_on" and value is not None and not isinstance(value, date):
            raise ValidationError({name: "Give the expiry date as YYYY-MM-DD."})
        if getattr(referral, name) != value:
            setattr(referral, name, value)
            changed.append(name)
            if name == "diagnosis_code":
                changed.append("diagnosis_description")
    if referral.results_not_needed and not referral.results_note and "results_not_needed" in changed:
        raise ValidationError({"results_note": "Say why no results go with the packet."})
    if referral.visits_allowed is not None and referral.visits_used > referral.visits_allowed:
        raise ValidationError({"visits_used": f"More visits used than the {referral.visits_allowed} allowed."})
    if "authorization_expires_on" in changed:
        referral.auth_expiry_flagged_for = None  # a new date gets its own 14-day warning
        changed.append("auth_expiry_flagged_for")
    # Field values only (lengths, choices); the rules above are the model's constraints in words.
    referral.clean_fields(exclude=["patient", "referring_provider", "order", "encounter"])
    if changed:
        referral.save(update_fields=[*changed, "updated_at"])
    if documents is not None:
        docs = list(documents)
        if any(d.patient_id != referral.patient_id for d in docs):
            raise ValidationError({"documents": "A document is in another patient's chart."})
        before = set(referral.documents.values_list("pk", flat=True))
        if before != {d.pk for d in docs}:
            referral.documents.set(docs)
            changed.append("documents")
    if not changed:
        return referral
    shown = [n.replace("_", " ") for n in changed if n not in ("auth_expiry_flagged_for", "diagnosis_description")]
    _contact(referral, actor=actor, note="Updated: " + ", ".join(shown) + ".", now=now)
    _settle_auth_warning(referral, now=now)
    if set(changed) & AUTH_FIELDS:
        chart_changed_on_commit(Referral, referral.patient_id)
    return referral


def _settle_auth_warning(referral: Referral, *, now: datetime) -> None:
    """An extended or used-up authorization no longer needs the expiry warning."""
    expires = referral.authorization_expires_on
    horizon = timezone.localdate(now) + timedelta(days=followups.AUTH_WARNING_DAYS)
    if expires is None or expires > horizon or referral.visits_left == 0:
        close_work_item(
            kind=followups.AUTH_EXPIRING,
            subject=referral,
            note=f"Authorization now valid to {expires:%m/%d/%Y}." if expires else "Authorization removed.",
        )


@transaction.atomic
def record_contact(
    referral: Referral,
    *,
    actor: User,
    channel: str,
    note: str,
    direction: str = D.OUTBOUND,
    now: datetime | None = None,
) -> ReferralContact:
    """A call, fax or message about the referral, in its history (what a follow-up item asks for)."""
    now = now or timezone.now()
    referral = _lock_for_work(referral, actor)
    note = (note or "").strip()
    if not note:
        raise ActionRefused("Say what was said or sent.", status_code=400)
    if channel not in C.values or channel in (C.SYSTEM, C.API):
        raise ActionRefused("Choose how the contact happened (phone, fax, secure message, portal).", status_code=400)
    if direction not in D.values:
        raise ActionRefused("Choose whether the contact was to or from the specialist.", status_code=400)
    return _contact(referral, actor=actor, note=note, now=now, channel=channel, direction=direction)


REPORT_STATES = (*Referral.AWAITING_REPORT, S.REPORT_RECEIVED, S.CLOSED)


def _fulfil_expected(referral: Referral, document: ChartDocument) -> bool:
    """Link the report to the expected result awaiting it, if the order or referral opened one."""
    keys = [str(referral.public_id)]
    expected_id = None
    if referral.order_id is not None:
        order = referral.order
        keys.append(str(order.public_id))  # type: ignore[union-attr]
        expected_id = getattr(order, "expected_result_id", None)
    candidates = ExpectedResult.objects.filter(
        patient_id=referral.patient_id, status=ExpectedResult.Status.OUTSTANDING
    ).order_by("expected_by", "id")
    chosen = candidates.filter(pk=expected_id).first() if expected_id else None
    if chosen is None:
        chosen = next((r for r in candidates if any(k in r.source for k in keys)), None)
    if chosen is None:
        return False
    receive_result(chosen, document=document, actor=None)
    return True


@transaction.atomic
def attach_report(
    referral: Referral,
    *,
    actor: User,
    upload: UploadedFile,
    title: str = "",
    channel: str | None = None,
    now: datetime | None = None,
) -> Referral:
    """File the consult report to the chart (category consult note) and hand it to the provider's review.

    The upload is checked like any chart document (type by content, size limit). The document
    fulfils the expected result the order or referral opened, if any; otherwise it goes through the
    chart's usual matching. The loop closes only when the provider marks the report reviewed.
    """
    now = now or timezone.now()
    referral = Referral.objects.select_related("patient", "specialist", "order").get(pk=referral.pk)
    if not workflow.is_specialist_of(actor, referral) and not (
        can_access_patient(actor, referral.patient, workflow.WORK)
        and can_access_patient(actor, referral.patient, ADD_DOCUMENT)
    ):
        raise NotPermitted("You cannot file a report for this referral.")
    if referral.status not in REPORT_STATES:
        raise ActionRefused(
            f"This referral is {referral.get_status_display().lower()}: file the document on the patient's chart."
        )
    content_type = check_upload(upload)
    who = referral.specialist.organisation if referral.specialist else referral.specialty
    doc = ChartDocument(
        patient=referral.patient,
        category=ChartDocument.Category.CONSULT,
        title=((title or "").strip() or f"{referral.specialty} consult report — {who}")[:200],
        content_type=content_type,
        size_bytes=upload.size or 0,
        received_at=now,
        indexed_by=actor,
        indexed_at=now,
    )
    doc.full_clean(exclude=["file"])
    doc.file.save("document", upload, save=False)
    doc.save()
    if _fulfil_expected(referral, doc):
        chart_changed_on_commit(ChartDocument, doc.patient_id)
    else:
        on_document_filed(doc)
    return workflow.receive_report(referral, actor=actor, document=doc, channel=channel, now=now)


@transaction.atomic
def refer_again(referral: Referral, *, actor: User, now: datetime | None = None) -> Referral:
    """A declined or expired referral, sent again: a new draft with the same packet (a new
    specialist after a decline, a new authorization after an expiry)."""
    now = now or timezone.now()
    old = _lock_for_work(referral, actor)
    if not can_access_patient(actor, old.patient, workflow.ADD):
        raise NotPermitted("You cannot refer this patient.")
    if old.status not in (S.DECLINED, S.EXPIRED):
        raise ActionRefused("Only a declined or expired referral is referred again.")
    if old.replacements.exists():
        raise ActionRefused("This referral was already referred again.")
    new = Referral.objects.create(
        patient=old.patient,
        referring_provider=old.referring_provider,
        encounter=old.encounter,
        replaces=old,
        specialist=old.specialist if old.status == S.EXPIRED and old.specialist and old.specialist.active else None,
        specialty=old.specialty,
        reason=old.reason,
        urgency=old.urgency,
        diagnosis_code=old.diagnosis_code,
        diagnosis_description=old.diagnosis_description,
        clinical_notes=old.clinical_notes,
        results_not_needed=old.results_not_needed,
        results_note=old.results_note,
        coverage=old.coverage,
        self_pay=old.self_pay,
        created_at=now,
        created_by=actor,
    )
    new.documents.set(old.documents.all())
    why = old.get_status_display().lower()
    _contact(new, actor=actor, note=f"Copied from a referral {why}: {old.status_reason}"[:500], now=now)
    _contact(old, actor=actor, note="Referred again (a new draft with the same packet).", now=now)
    for kind in (workflow.DECLINED_ITEM, workflow.EXPIRED_ITEM):
        close_work_item(kind=kind, subject=old, note="Referred again.", actor=actor)
    _open_prepare(new, now=now)
    return new
