"""The after visit summary: built from the signed note, prepared by the provider, delivered by secure link.

The patient's link is a signed, expiring token naming the summary only (no patient data travels in a
text message); the page asks last name and date of birth before showing anything, counts wrong
answers and locks the summary after AVS_IDENTITY_ATTEMPTS (staff re-send it after talking to the
patient). Each delivery freezes the content the patient will see; the first view is recorded, and a
summary not opened within AVS_NOT_VIEWED_HOURS opens a follow-up call (AVS_NOT_VIEWED_FOLLOW_UP).
"""

from __future__ import annotations

import logging
import re
import uuid
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.core import signing
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import F, Q
from django.urls import reverse
from django.utils import timezone

from patients.models import Medication, Patient
from vma import audit
from vma.access import can_access_patient
from vma.exceptions import ActionRefused, NotPermitted
from vma.models import AuditEvent
from vma.outbox import enqueue, handler
from vma.signing import content_hash
from vma.workflow import close_work_item, open_work_item

from .models import AfterVisitSummary, AvsDelivery, EducationMaterial, Encounter
from .policy import DELIVER_AVS, PREPARE_AVS
from .selectors import diagnoses_of, selectable_materials
from .workflow import AVS_DELIVER

if TYPE_CHECKING:
    from vma.models import User, WorkItem

log = logging.getLogger(__name__)
SALT = "encounters.avs"
AVS_NOT_VIEWED = "encounters.avs_not_viewed"
C = AvsDelivery.Channel


def summary_url(item: WorkItem) -> str:
    return reverse("encounters_avs", args=[item.subject.encounter.public_id])  # type: ignore[union-attr]


# ---------------------------------------------------------------------------------------------
# Building
# ---------------------------------------------------------------------------------------------


def summary_for(encounter: Encounter) -> AfterVisitSummary:
    """The encounter's summary (created on first need). Only a signed note has one."""
    if not encounter.is_signed:
        raise ActionRefused("The after visit summary is built from the signed note: the note is not signed yet.")
    summary, _ = AfterVisitSummary.objects.get_or_create(encounter=encounter, defaults={"patient": encounter.patient})
    return summary


def _chart_medication_changes(encounter: Encounter, prescribed: set[str]) -> list[dict[str, Any]]:
    """Medicines started or stopped on the chart on the day of the visit (besides the new prescriptions)."""
    day = encounter.date_of_service
    out = []
    rows = Medication.objects.filter(patient_id=encounter.patient_id).filter(Q(start_date=day) | Q(stop_date=day))
    for med in rows.order_by("name", "pk"):
        name = f"{med.name} {med.dose}".strip()
        if med.stop_date == day:
            out.append(
                {
                    "kind": "medication_stopped",
                    "kind_label": "Stopped",
                    "title": name,
                    "instructions": f"Stop taking {name}.",
                }
            )
        elif med.name.casefold() not in prescribed and med.source == Medication.Source.CLINICIAN:
            how = f": {med.sig}" if med.sig else ""
            out.append(
                {
                    "kind": "medication_changed",
                    "kind_label": "Changed",
                    "title": name,
                    "instructions": f"Take {name}{how}.",
                }
            )
    return out


def build_content(encounter: Encounter, summary: AfterVisitSummary) -> dict[str, Any]:
    """What the patient reads, from the signed note, the signed orders and the provider's choices only."""
    from orders.selectors import avs_lines

    if not encounter.is_signed:
        raise ActionRefused("The after visit summary is built from the signed note: the note is not signed yet.")
    lines = avs_lines(encounter)
    prescriptions = [line for line in lines if line["kind"] == "prescription"]
    prescribed = {str(line["title"]).split(" ")[0].casefold() for line in prescriptions}
    materials: list[EducationMaterial] = list(
        summary.education.filter(active=True, approved_at__isnull=False).order_by("title")
    )
    signed_at = timezone.localtime(encounter.signed_at) if encounter.signed_at else None
    day = encounter.date_of_service
    return {
        "patient_first_name": encounter.patient.first_name,
        "visit_date": encounter.date_of_service.isoformat(),
        "visit_day": f"{day:%A, %B} {day.day}, {day.year}",
        "provider": str(encounter.provider),
        "modality": encounter.get_modality_display(),
        "diagnoses": [{"code": d.code, "description": d.description} for d in diagnoses_of(encounter)],
        "plan": encounter.plan,
        "medications": prescriptions + _chart_medication_changes(encounter, prescribed),
        "orders": [line for line in lines if line["kind"] not in ("prescription", "follow_up")],
        "follow_up": [line for line in lines if line["kind"] == "follow_up"],
        "follow_up_words": summary.follow_up,
        "education": [{"title": m.title, "body": m.body} for m in materials],
        "signed_by": str(encounter.signed_by),
        "signed_at": signed_at.isoformat() if signed_at else "",
    }


@transaction.atomic
def prepare(
    encounter: Encounter, *, education: list[Any], follow_up: str, actor: User, now: datetime | None = None
) -> AfterVisitSummary:
    """The provider chooses education materials (approved and active only) and writes follow-up words."""
    if not can_access_patient(actor, encounter.patient, PREPARE_AVS):
        raise NotPermitted("Only a provider chooses what goes on the summary.")
    follow_up = (follow_up or "").replace("\r\n", "\n").strip()
    if len(follow_up) > 2000:
        raise ActionRefused("Keep the follow-up words under 2,000 characters.", status_code=400)
    try:
        wanted = {uuid.UUID(str(x)) for x in education if str(x).strip()}
    except ValueError:
        raise ActionRefused("Choose education materials from the library.", status_code=400) from None
    materials = list(selectable_materials().filter(public_id__in=wanted))
    if len(materials) != len(wanted):
        raise ActionRefused(
            "Only education materials a provider approved (and nobody retired) can be chosen.", status_code=400
        )
    summary = AfterVisitSummary.objects.select_for_update().get(pk=summary_for(encounter).pk)
    summary.education.set(materials)
    summary.follow_up = follow_up
    summary.prepared_by, summary.prepared_at = actor, now or timezone.now()
    summary.save(update_fields=["follow_up", "prepared_by", "prepared_at", "updated_at"])
    return summary


# ---------------------------------------------------------------------------------------------
# Delivering
# ---------------------------------------------------------------------------------------------


def make_token(summary: AfterVisitSummary) -> str:
    return signing.TimestampSigner(salt=SALT).sign(str(summary.public_id))


def read_token(token: str) -> str:
    """The summary's public id, or BadSignature / SignatureExpired."""
    return signing.TimestampSigner(salt=SALT).unsign(token, max_age=settings.AVS_LINK_MAX_AGE_DAYS * 86400)


def link_for(summary: AfterVisitSummary) -> str:
    return settings.PORTAL_BASE_URL.rstrip("/") + reverse("encounters_avs_patient", args=[make_token(summary)])


def channel_for(patient: Patient) -> str:
    """The patient's channel: e-mail if they prefer it and have one; otherwise a text if we have a phone."""
    if patient.preferred_channel == Patient.Channel.EMAIL and patient.email:
        return C.EMAIL
    if patient.phone:
        return C.SMS
    return C.EMAIL if patient.email else ""


@transaction.atomic
def deliver(
    encounter: Encounter, *, actor: User, channel: str = "", now: datetime | None = None
) -> tuple[AfterVisitSummary, AvsDelivery]:
    """Freeze the summary's content and send the patient the secure link (after commit, through the outbox)."""
    if not can_access_patient(actor, encounter.patient, DELIVER_AVS):
        raise NotPermitted("You cannot deliver this summary.")
    now = now or timezone.now()
    summary = AfterVisitSummary.objects.select_for_update().get(pk=summary_for(encounter).pk)
    patient = encounter.patient
    channel = channel or channel_for(patient)
    if not channel:
        raise ActionRefused(
            f"No phone or e-mail on file for {patient.first_name} {patient.last_name}: add one on the chart, "
            "or print the summary and hand it over.",
            status_code=400,
        )
    if channel not in C.values:
        raise ActionRefused("Send the link by text message or e-mail.", status_code=400)
    recipient = patient.phone if channel == C.SMS else patient.email
    if not recipient:
        missing = "mobile phone number" if channel == C.SMS else "e-mail address"
        raise ActionRefused(f"No {missing} on file for this patient.", status_code=400)
    content = build_content(encounter, summary)
    summary.content, summary.content_hash = content, content_hash(content)
    summary.delivered_at = summary.delivered_at or now
    summary.last_delivered_at = now
    # Staff re-send after talking to a patient who locked the link with wrong answers: the count restarts.
    summary.failed_identity_checks, summary.locked_at = 0, None
    summary.save(
        update_fields=[
            "content",
            "content_hash",
            "delivered_at",
            "last_delivered_at",
            "failed_identity_checks",
            "locked_at",
            "updated_at",
        ]
    )
    delivery = AvsDelivery.objects.create(
        summary=summary,
        channel=channel,
        recipient=recipient,
        content_hash=summary.content_hash,
        requested_by=actor,
        requested_at=now,
    )
    enqueue("encounters.send_avs_link", {"delivery_id": delivery.pk}, key=f"encounters.avs:{delivery.public_id}")
    close_work_item(kind=AVS_DELIVER, subject=encounter, note=f"Sent: {delivery.get_channel_display()}.", actor=actor)
    return summary, delivery


@handler("encounters.send_avs_link")
def send_avs_link(payload: dict[str, Any]) -> None:
    """Send the link once (a second run finds it sent). No clinical words travel: only the link."""
    from scheduling.notify import sms_backend

    delivery = AvsDelivery.objects.select_related("summary__encounter").get(pk=payload["delivery_id"])
    if delivery.sent_at is not None:
        return
    day = delivery.summary.encounter.date_of_service
    body = (
        f"Your visit summary from {settings.PRACTICE_NAME} ({day:%B %d}) is ready. Open it securely; you will "
        f"confirm your last name and date of birth first: {link_for(delivery.summary)}"
    )
    if delivery.channel == C.EMAIL:
        send_mail("Your visit summary", body, settings.DEFAULT_FROM_EMAIL, [delivery.recipient])
    else:
        sms_backend().send(delivery.recipient, body)
    delivery.sent_at = timezone.now()
    delivery.save(update_fields=["sent_at"])


# ---------------------------------------------------------------------------------------------
# The patient's side
# ---------------------------------------------------------------------------------------------


def _norm_name(value: str) -> str:
    return re.sub(r"[\s'’.-]+", "", value or "").casefold()


def _parse_date(value: str) -> date | None:
    value = (value or "").strip()
    for fmt in ("%Y-%m-%d", "%m/%d/%Y", "%m-%d-%Y"):
        try:
            return datetime.strptime(value, fmt).date()  # noqa: DTZ007 - a calendar date, no time zone
        except ValueError:
            continue
    return None


def verify_identity(summary: AfterVisitSummary, *, last_name: str, date_of_birth: str, remote_addr: str | None) -> bool:
    """Two identifiers before anything is shown. Wrong answers count (atomically); the limit locks the link."""
    patient = summary.patient
    if summary.is_locked:
        return False
    if _norm_name(last_name) == _norm_name(patient.last_name) and _parse_date(date_of_birth) == patient.date_of_birth:
        return True
    limit = settings.AVS_IDENTITY_ATTEMPTS
    with transaction.atomic():
        # Conditional UPDATEs: two wrong answers at once both count and never pass the limit unnoticed.
        AfterVisitSummary.objects.filter(pk=summary.pk, locked_at__isnull=True).update(
            failed_identity_checks=F("failed_identity_checks") + 1
        )
        AfterVisitSummary.objects.filter(
            pk=summary.pk, locked_at__isnull=True, failed_identity_checks__gte=limit
        ).update(locked_at=timezone.now())
        summary.refresh_from_db(fields=["failed_identity_checks", "locked_at"])
        # No PHI and nothing typed in the trail: which summary, which attempt, locked or not.
        audit.append(
            kind=AuditEvent.Kind.AUTH,
            action="encounters.avs_identity_failed",
            target=f"encounters.aftervisitsummary:{summary.pk}",
            patient_ids=[summary.patient_id],
            detail={"attempt": summary.failed_identity_checks, "locked": summary.locked_at is not None},
            remote_addr=remote_addr,
        )
    return False


@transaction.atomic
def record_view(summary: AfterVisitSummary, *, remote_addr: str | None, now: datetime | None = None) -> bool:
    """The patient opened the summary: count it, record the first view, close the not-viewed call. True if first."""
    now = now or timezone.now()
    summary = AfterVisitSummary.objects.select_for_update().get(pk=summary.pk)
    first = summary.first_viewed_at is None
    summary.first_viewed_at = summary.first_viewed_at or now
    summary.view_count += 1
    summary.save(update_fields=["first_viewed_at", "view_count", "updated_at"])
    audit.append(
        kind=AuditEvent.Kind.READ,
        action="patient.avs_view",
        target=f"encounters.aftervisitsummary:{summary.pk}",
        patient_ids=[summary.patient_id],
        detail={"first": first, "content_hash": summary.content_hash},
        remote_addr=remote_addr,
    )
    if first:
        close_work_item(kind=AVS_NOT_VIEWED, subject=summary, note="The patient opened the summary.")
    return first


# ---------------------------------------------------------------------------------------------
# The follow-up sweep
# ---------------------------------------------------------------------------------------------


def sweep_not_viewed(*, now: datetime | None = None, batch: int = 500) -> int:
    """Open one call item per summary delivered AVS_NOT_VIEWED_HOURS ago and never opened. Safe to run twice."""
    if not settings.AVS_NOT_VIEWED_FOLLOW_UP:
        return 0
    now = now or timezone.now()
    cutoff = now - timedelta(hours=settings.AVS_NOT_VIEWED_HOURS)
    with transaction.atomic():
        due = list(
            AfterVisitSummary.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("patient", "encounter")
            .filter(delivered_at__lte=cutoff, first_viewed_at__isnull=True, not_viewed_item_at__isnull=True)
            .order_by("delivered_at", "pk")[:batch]
        )
        for summary in due:
            patient = summary.patient
            sent = timezone.localtime(summary.delivered_at) if summary.delivered_at else now
            open_work_item(
                kind=AVS_NOT_VIEWED,
                subject=summary,
                patient=patient,
                title=f"Call {patient.first_name} {patient.last_name}: visit summary not opened",
                detail=f"Sent {sent:%m/%d %H:%M} and not opened within {settings.AVS_NOT_VIEWED_HOURS} hours. "
                "Check they received the link (re-send if the number or e-mail changed) and answer questions.",
            )
            summary.not_viewed_item_at = now
            summary.save(update_fields=["not_viewed_item_at", "updated_at"])
    return len(due)
