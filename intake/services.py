"""Writes of intake: packets for visits, the patient's pages, landing answers in the chart, the sweep."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone

from patients import services as patient_services
from patients.models import ChartDocument, Patient
from scheduling.models import Appointment
from vma import audit, outbox
from vma.access import can_access_patient
from vma.exceptions import ActionRefused, NotPermitted
from vma.models import AuditEvent, WorkItem
from vma.workflow import close_work_item, open_work_item

from . import scoring, workflow
from .models import (
    IntakePacket,
    IntakeResponse,
    IntakeRule,
    PatientReportedAllergy,
    PatientReportedMedication,
    ProposedChange,
    Questionnaire,
)
from .notify import channel_for

if TYPE_CHECKING:
    from vma.models import User

S = IntakePacket.Status
BOOKED = (Appointment.Status.SCHEDULED, Appointment.Status.CONFIRMED)
FIELD_LABELS = {
    "patient.first_name": "First name",
    "patient.last_name": "Last name",
    "patient.phone": "Phone",
    "patient.email": "Email",
    "patient.address_line": "Street address",
    "patient.city": "City",
    "patient.state": "State",
    "patient.postal_code": "ZIP code",
    "patient.preferred_channel": "Preferred contact",
    "coverage.member_id": "Insurance member ID",
    "coverage.group_number": "Insurance group number",
    "coverage.plan_name": "Insurance plan name",
}


# ---------------------------------------------------------------------------------------------
# Packets for visits
# ---------------------------------------------------------------------------------------------


def rule_for(visit_type: str, rules: list[IntakeRule] | None = None) -> IntakeRule | None:
    """The rule of the visit type (any case), else the default "*" rule, else none."""
    if rules is None:
        rules = list(IntakeRule.objects.filter(active=True))
    by_type = {r.visit_type.strip().lower(): r for r in rules}
    return by_type.get(visit_type.strip().lower()) or by_type.get(IntakeRule.DEFAULT)


@transaction.atomic
def create_packet(appointment: Appointment, rule: IntakeRule) -> tuple[IntakePacket, bool]:
    """The packet of a visit with the active version of each of the rule's forms. Once per visit."""
    existing = IntakePacket.objects.filter(appointment=appointment).first()
    if existing is not None:
        return existing, False
    codes = {q.code for q in rule.questionnaires.all()}
    forms = list(Questionnaire.objects.filter(code__in=codes, active=True).order_by("position", "code"))
    try:
        # A savepoint: a concurrent sweep that created it first must not poison our transaction.
        with transaction.atomic():
            packet = IntakePacket.objects.create(
                appointment=appointment, patient_id=appointment.patient_id, expires_at=appointment.start_at
            )
    except IntegrityError:
        return IntakePacket.objects.get(appointment=appointment), False
    IntakeResponse.objects.bulk_create(
        [IntakeResponse(packet=packet, questionnaire=q, position=i) for i, q in enumerate(forms)]
    )
    return packet, True


@transaction.atomic
def send_packet(packet: IntakePacket, *, now: datetime | None = None) -> bool:
    """Send the link through the patient's channel (after commit, via the outbox). False: unreachable."""
    packet = IntakePacket.objects.select_related("patient").get(pk=packet.pk)
    if packet.status != S.CREATED:
        return False
    channel = channel_for(packet)
    if not channel:
        open_work_item(
            kind=workflow.INCOMPLETE,
            subject=packet,
            patient=packet.patient,
            title="Intake not sent: no phone or email on file",
            detail="Add a mobile number or email address to the chart, or give the patient the forms at check-in.",
        )
        return False
    packet = workflow.mark_sent(packet, channel=channel, now=now)
    outbox.enqueue("intake.send_link", {"packet_id": packet.pk, "kind": "link"}, key=f"intake-link:{packet.pk}")
    return True


# ---------------------------------------------------------------------------------------------
# The patient's side: identity, pages, upload, submission
# ---------------------------------------------------------------------------------------------


def _norm_name(value: str) -> str:
    return re.sub(r"\s+", "", value or "").casefold()


def parse_date(value: str) -> date | None:
    value = (value or "").strip()
    for fmt in ("%Y-%m-%d", "%m/%d/%Y", "%m-%d-%Y"):
        try:
            return datetime.strptime(value, fmt).date()  # noqa: DTZ007 - a calendar date, no time zone
        except ValueError:
            continue
    return None


def verify_identity(packet: IntakePacket, *, last_name: str, date_of_birth: str, remote_addr: str | None) -> bool:
    """Two identifiers before anything is shown. Wrong answers count; the last allowed one locks the packet."""
    patient = packet.patient
    ok = _norm_name(last_name) == _norm_name(patient.last_name) and parse_date(date_of_birth) == patient.date_of_birth
    if ok:
        workflow.mark_opened(packet)
        return True
    limit = settings.INTAKE_IDENTITY_ATTEMPTS
    with transaction.atomic():
        # A conditional UPDATE: two wrong answers at once both count, and never pass the limit.
        IntakePacket.objects.filter(pk=packet.pk, locked_at__isnull=True).update(
            failed_identity_checks=F("failed_identity_checks") + 1
        )
        IntakePacket.objects.filter(pk=packet.pk, locked_at__isnull=True, failed_identity_checks__gte=limit).update(
            locked_at=timezone.now()
        )
        packet.refresh_from_db(fields=["failed_identity_checks", "locked_at"])
        # No PHI in the message: who and what was typed stay out of the trail.
        audit.append(
            kind=AuditEvent.Kind.AUTH,
            action="intake.identity_failed",
            target=f"intake.intakepacket:{packet.pk}",
            patient_ids=[packet.patient_id],
            detail={"attempt": packet.failed_identity_checks, "locked": packet.locked_at is not None},
            remote_addr=remote_addr,
        )
    return False


@dataclass
class Page:
    """One page the patient sees: one section of one questionnaire."""

    number: int  # 1-based
    response: IntakeResponse
    section_index: int
    section: dict[str, Any]

    @property
    def label(self) -> str:
        return f"{self.response.questionnaire.code}:{self.section.get('title', self.section_index + 1)}"[:200]


def pages_of(packet: IntakePacket) -> list[Page]:
    responses = packet.responses.select_related("questionnaire").order_by("position", "id")
    out: list[Page] = []
    for response in responses:
        for index, section in enumerate(response.questionnaire.sections):
            out.append(Page(len(out) + 1, response, index, section))
    return out


@dataclass
class PageResult:
    errors: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.errors


def _clean(question: dict[str, Any], raw: Any) -> tuple[Any, str]:
    """(value, error) for one posted answer; the value is kept even when it is refused, for the form."""
    qtype = question.get("type")
    options = {str(o["value"]) for o in question.get("options", [])}
    if qtype == "multi":
        values = [v for v in (raw or []) if v]
        if any(v not in options for v in values):
            return [], "Choose from the list."
        return values, ""
    value = (raw or "").strip() if isinstance(raw, str) else ""
    if not value:
        return "", ""
    if qtype == "choice" and value not in options:
        return "", "Choose from the list."
    if qtype == "yes_no" and value not in ("yes", "no"):
        return "", "Answer yes or no."
    if qtype == "date" and parse_date(value) is None:
        return value, "Enter a date like 1980-12-31."
    if qtype == "number":
        try:
            float(value)
        except ValueError:
            return value, "Enter a number."
    return value[:2000], ""


@transaction.atomic
def save_page(packet: IntakePacket, page: Page, data: Any, files: Any) -> PageResult:
    """Save one page's answers (all that are valid, whatever else is wrong). Returns the errors to show."""
    packet = IntakePacket.objects.select_for_update(of=("self",)).select_related("patient").get(pk=packet.pk)
    if packet.status not in IntakePacket.OPEN_TO_PATIENT:
        raise ActionRefused("These forms can no longer be changed.")
    response = IntakeResponse.objects.select_for_update().get(pk=page.response.pk)
    answers = dict(response.answers)
    result = PageResult()
    for q in page.section.get("questions", []):
        qid = q["id"]
        if q.get("type") == "file":
            upload = files.get(qid)
            if upload is not None:
                try:
                    answers[qid] = str(_file_card(packet.patient, upload).public_id)
                except ValidationError as exc:
                    result.errors[qid] = "; ".join(exc.message_dict.get("file", exc.messages))
                    continue
        else:
            raw = data.getlist(qid) if q.get("type") == "multi" else data.get(qid)
            value, error = _clean(q, raw)
            answers[qid] = value
            if error:
                result.errors[qid] = error
                continue
        if q.get("required") and not answers.get(qid):
            result.errors[qid] = "This question needs an answer."
    now = timezone.now()
    response.answers = answers
    response.saved_at = now
    response.save(update_fields=["answers", "saved_at"])
    changes: dict[str, Any] = {"answers_saved_at": now}
    if page.number > packet.furthest_step:
        changes |= {"furthest_step": page.number, "furthest_section": page.label}
    IntakePacket.objects.filter(pk=packet.pk).update(**changes)
    workflow.mark_in_progress(packet)
    return result


def _file_card(patient: Patient, upload: UploadedFile) -> ChartDocument:
    """The insurance-card photo goes to the chart as a received, not yet indexed, document."""
    content_type = patient_services.check_upload(upload)
    doc = ChartDocument(
        patient=patient,
        category=ChartDocument.Category.INSURANCE_CARD,
        title="Insurance card (from intake)",
        content_type=content_type,
        size_bytes=upload.size or 0,
        received_at=timezone.now(),
    )
    doc.file.save("document", upload, save=False)
    doc.save()
    return doc


def missing_answers(packet: IntakePacket) -> Page | None:
    """The first page with a required question unanswered, if any."""
    for page in pages_of(packet):
        for q in page.section.get("questions", []):
            if q.get("required") and not page.response.answers.get(q["id"]):
                return page
    return None


@transaction.atomic
def submit_packet(packet: IntakePacket) -> IntakePacket:
    """The patient is done: score, land medications and allergies, propose chart changes, escalate."""
    packet = workflow._lock(packet)
    if packet.status in (S.SUBMITTED, S.REVIEWED):
        return packet  # a double tap on "Submit"
    first_gap = missing_answers(packet)
    if first_gap is not None:
        raise ActionRefused(f"Page {first_gap.number} has a question still to answer.", status_code=400)
    now = timezone.now()
    flags: dict[str, Any] = {}
    escalate: list[tuple[IntakeResponse, scoring.Score]] = []
    for response in packet.responses.select_related("questionnaire").select_for_update(of=("self",)):
        result = scoring.score(response.questionnaire.scoring, response.answers)
        response.completed_at = now
        if result is not None:
            response.total_score, response.band, response.item9_positive = (
                result.total,
                result.band,
                result.item9_positive,
            )
            flags[f"{result.instrument}_score"] = result.total
            flags[f"{result.instrument}_band"] = result.band
            if result.item9_positive:
                flags["item9_positive"] = True
                escalate.append((response, result))
        response.save(update_fields=["completed_at", "total_score", "band", "item9_positive"])
        _land(packet, response, now)
    packet = workflow.mark_submitted(packet, **flags)
    for response, result in escalate:
        _escalate_item9(packet, response, result, now)
    changes = _propose_changes(packet)
    if changes:
        lines = "\n".join(f"- {c.label}: {c.current_value or '(empty)'} → {c.proposed_value}" for c in changes)
        open_work_item(
            kind=workflow.CONFIRM_UPDATES,
            subject=packet,
            patient=packet.patient,
            title="Confirm intake updates",
            detail=f"The patient's intake proposes {len(changes)} change(s) to the chart:\n{lines}",
        )
    close_work_item(kind=workflow.INCOMPLETE, subject=packet, note="The patient submitted the intake.")
    return packet


def _land(packet: IntakePacket, response: IntakeResponse, now: datetime) -> None:
    """Medications and allergies become patient-reported rows (one per line: "name, dose")."""
    for q in response.questionnaire.questions():
        target = q.get("maps_to")
        if target not in ("medication", "allergy"):
            continue
        for line in str(response.answers.get(q["id"]) or "").splitlines():
            name, _, rest = line.partition(",")
            if not name.strip() or name.strip().lower() in {"none", "no", "n/a", "nka", "nkda"}:
                continue
            if target == "medication":
                PatientReportedMedication.objects.create(
                    patient_id=packet.patient_id,
                    packet=packet,
                    name=name.strip()[:200],
                    dose=rest.strip()[:200],
                    reported_at=now,
                )
            else:
                PatientReportedAllergy.objects.create(
                    patient_id=packet.patient_id,
                    packet=packet,
                    name=name.strip()[:200],
                    reaction=rest.strip()[:200],
                    reported_at=now,
                )


def _escalate_item9(packet: IntakePacket, response: IntakeResponse, result: scoring.Score, now: datetime) -> None:
    """PHQ-9 item 9 positive: a nurse now, whatever the total; the item documents the hand-off."""
    q9 = next((q for q in response.questionnaire.questions() if q["id"] == "q9"), {})
    chosen = str(response.answers.get("q9"))
    label = next((o["label"] for o in q9.get("options", []) if str(o["value"]) == chosen), chosen)
    when = timezone.localtime(now)
    visit = timezone.localtime(packet.appointment.start_at)
    item, created = open_work_item(
        kind=workflow.SAFETY_ESCALATION,
        subject=response,
        patient=packet.patient,
        title="PHQ-9 item 9 positive: contact the patient now",
        detail=(
            f"Submitted {when:%Y-%m-%d %H:%M} on the intake for the visit of {visit:%Y-%m-%d %H:%M}.\n"
            f'Item 9 ("{q9.get("text", "Thoughts of self-harm")}") was answered "{label}" ({chosen}).\n'
            f"PHQ-9 total {result.total} ({result.band}).\n"
            "Handed off by the intake system to the nurse queue: contact the patient and follow the safety protocol."
        ),
        due_at=now,
        priority=WorkItem.Priority.URGENT,
        queue="nurse",
    )
    if created:
        event_id = item.events.order_by("-id").values_list("id", flat=True).first()
        outbox.enqueue(
            "vma.notify_escalation", {"item_id": item.pk, "event_id": event_id}, key=f"escalation:{event_id}"
        )


def _norm(value: Any) -> str:
    return re.sub(r"\s+", " ", str(value or "")).strip()


def _propose_changes(packet: IntakePacket) -> list[ProposedChange]:
    """Differences between the answers mapped to demographics/coverage and the chart: proposals only."""
    patient = packet.patient
    coverage = patient.coverages.filter(active=True).order_by("rank").first()
    out: list[ProposedChange] = []
    for response in packet.responses.select_related("questionnaire"):
        for q in response.questionnaire.questions():
            target = q.get("maps_to") or ""
            if target not in FIELD_LABELS:
                continue
            proposed = _norm(response.answers.get(q["id"]))
            if not proposed:
                continue
            owner, name = target.split(".", 1)
            obj: Any = patient if owner == "patient" else coverage
            current = _norm(getattr(obj, name, "")) if obj is not None else ""
            if proposed.casefold() == current.casefold():
                continue
            change, _ = ProposedChange.objects.get_or_create(
                packet=packet,
                target=target,
                defaults={
                    "patient": patient,
                    "coverage": coverage if owner == "coverage" else None,
                    "label": FIELD_LABELS[target],
                    "current_value": current,
                    "proposed_value": proposed,
                },
            )
            out.append(change)
    return out


# ---------------------------------------------------------------------------------------------
# Staff: apply or reject a proposed change
# ---------------------------------------------------------------------------------------------


@transaction.atomic
def decide_change(change: ProposedChange, *, actor: User, apply: bool, note: str = "") -> ProposedChange:
    """Apply (through patients.services, with its own permission check) or reject one proposal."""
    change = (
        ProposedChange.objects.select_for_update(of=("self",)).select_related("patient", "coverage").get(pk=change.pk)
    )
    if not can_access_patient(actor, change.patient, workflow.REVIEW_PERM):
        raise NotPermitted("You cannot review this intake.")
    if change.status != ProposedChange.Status.PENDING:
        raise ActionRefused(f"This change was already {change.get_status_display().lower()}.")
    if apply:
        owner, name = change.target.split(".", 1)
        try:
            if owner == "patient":
                patient_services.update_patient(change.patient, actor=actor, **{name: change.proposed_value})
            elif change.coverage is not None:
                patient_services.update_coverage(change.coverage, actor=actor, **{name: change.proposed_value})
            else:
                raise ActionRefused(
                    "No active coverage on file: add the coverage from the patient page.", status_code=400
                )
        except ValidationError as exc:
            raise ActionRefused("; ".join(exc.messages), status_code=400) from None
    change.status = ProposedChange.Status.APPLIED if apply else ProposedChange.Status.REJECTED
    change.decided_by, change.decided_at, change.note = actor, timezone.now(), note[:300]
    change.save(update_fields=["status", "decided_by", "decided_at", "note"])
    return change


# ---------------------------------------------------------------------------------------------
# The sweep (beat, every 15 minutes): send, remind, flag incomplete, expire
# ---------------------------------------------------------------------------------------------


@dataclass
class SweepResult:
    created: int = 0
    sent: int = 0
    reminded: int = 0
    flagged: int = 0
    expired: int = 0

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


def sweep(*, now: datetime | None = None, batch: int = 500) -> SweepResult:
    """Safe to run twice or concurrently: one packet per visit, and every step a conditional claim."""
    now = now or timezone.now()
    result = SweepResult()
    result.created = create_due_packets(now=now, batch=batch)
    result.sent = send_created(now=now, batch=batch)
    result.reminded = send_reminders(now=now, batch=batch)
    result.flagged = flag_incomplete(now=now, batch=batch)
    result.expired = expire_past(now=now, batch=batch)
    return result


def create_due_packets(*, now: datetime, batch: int = 500) -> int:
    rules = list(IntakeRule.objects.filter(active=True).prefetch_related("questionnaires"))
    if not rules:
        return 0
    horizon = now + timedelta(hours=max(r.send_hours_before for r in rules))
    visits = (
        Appointment.objects.filter(
            start_at__gt=now, start_at__lte=horizon, status__in=BOOKED, intake_packet__isnull=True
        )
        .order_by("start_at")
        .only("id", "patient_id", "start_at", "visit_type")[:batch]
    )
    created = 0
    for visit in visits:
        rule = rule_for(visit.visit_type, rules)
        if rule is None or visit.start_at > now + timedelta(hours=rule.send_hours_before):
            continue
        _packet, was_created = create_packet(visit, rule)
        created += was_created
    return created


def send_created(*, now: datetime, batch: int = 500) -> int:
    sent = 0
    with transaction.atomic():
        packets = list(
            IntakePacket.objects.filter(status=S.CREATED, expires_at__gt=now)
            .order_by("expires_at")
            .select_for_update(skip_locked=True)[:batch]
        )
        for packet in packets:
            sent += send_packet(packet, now=now)
    return sent


def send_reminders(*, now: datetime, batch: int = 500) -> int:
    """One reminder, 24 h after sending, if the forms are still not submitted."""
    with transaction.atomic():
        ids = list(
            IntakePacket.objects.filter(
                status__in=(S.SENT, S.OPENED, S.IN_PROGRESS),
                sent_at__lte=now - timedelta(hours=24),
                reminder_sent_at__isnull=True,
                expires_at__gt=now,
            )
            .select_for_update(skip_locked=True)
            .values_list("id", flat=True)[:batch]
        )
        IntakePacket.objects.filter(pk__in=ids, reminder_sent_at__isnull=True).update(reminder_sent_at=now)
        for pk in ids:
            outbox.enqueue("intake.send_link", {"packet_id": pk, "kind": "reminder"}, key=f"intake-reminder:{pk}")
    return len(ids)


def flag_incomplete(*, now: datetime, batch: int = 500) -> int:
    """Not finished 24 h before the visit: a front-office item, once; a started packet counts as abandoned."""
    count = 0
    with transaction.atomic():
        packets = list(
            IntakePacket.objects.filter(
                status__in=(S.SENT, S.OPENED, S.IN_PROGRESS),
                incomplete_flagged_at__isnull=True,
                expires_at__gt=now,
                expires_at__lte=now + timedelta(hours=24),
                # A visit booked inside 24 h had no chance yet; its packet is not "incomplete".
                sent_at__lt=F("expires_at") - timedelta(hours=24),
            )
            .select_related("patient", "appointment")
            .select_for_update(skip_locked=True, of=("self",))[:batch]
        )
        for packet in packets:
            if packet.status in (S.OPENED, S.IN_PROGRESS):
                packet = workflow.mark_abandoned(packet, now=now)
                state = f"started, stopped at {packet.furthest_section or 'the first page'}"
            else:
                IntakePacket.objects.filter(pk=packet.pk).update(incomplete_flagged_at=now)
                state = "link sent, not opened" if packet.opened_at is None else "opened, nothing saved"
            open_work_item(
                kind=workflow.INCOMPLETE,
                subject=packet,
                patient=packet.patient,
                title="Intake forms not finished before the visit",
                detail=f"Visit {timezone.localtime(packet.appointment.start_at):%Y-%m-%d %H:%M}; intake {state}.",
            )
            count += 1
    return count


def expire_past(*, now: datetime, batch: int = 500) -> int:
    count = 0
    with transaction.atomic():
        packets = list(
            IntakePacket.objects.filter(Q(status__in=IntakePacket.UNFINISHED), expires_at__lte=now).select_for_update(
                skip_locked=True
            )[:batch]
        )
        for packet in packets:
            workflow.mark_expired(packet)
            close_work_item(kind=workflow.INCOMPLETE, subject=packet, note="The visit started.", cancel=True)
            count += 1
    return count
