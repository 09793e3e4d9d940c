"""Intake: questionnaires as versioned data, per-visit packets, answers, and what they propose to the chart."""

from __future__ import annotations

import re
import uuid
from typing import Any, ClassVar

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils import timezone

from vma.models import User

QUESTION_TYPES = ("choice", "multi", "text", "date", "number", "yes_no", "file")
# Where an answer may land. Demographics and coverage are only *proposed* (staff confirm them).
MAPS_TO = (
    "patient.first_name",
    "patient.last_name",
    "patient.phone",
    "patient.email",
    "patient.address_line",
    "patient.city",
    "patient.state",
    "patient.postal_code",
    "patient.preferred_channel",
    "coverage.member_id",
    "coverage.group_number",
    "coverage.plan_name",
    "coverage.card_image",
    "medication",
    "allergy",
    "consent",
)
SCORINGS = ("phq9", "gad7")
_ID = re.compile(r"^[a-z0-9_]{1,40}$")


def validate_definition(definition: Any) -> None:
    """Refuse a malformed questionnaire definition with a message a practice manager can act on."""
    errors: list[str] = []
    if not isinstance(definition, dict):
        raise ValidationError('The definition must be a JSON object: {"sections": [...]}.')
    sections = definition.get("sections")
    if not isinstance(sections, list) or not sections:
        raise ValidationError('The definition needs a non-empty "sections" list.')
    scoring = definition.get("scoring")
    if scoring not in (None, "", *SCORINGS):
        errors.append(f'"scoring" must be one of {", ".join(SCORINGS)} or empty, not {scoring!r}.')
    seen: set[str] = set()
    for s_index, section in enumerate(sections, start=1):
        where = f"Section {s_index}"
        if not isinstance(section, dict):
            errors.append(f"{where} must be an object.")
            continue
        if not str(section.get("title", "")).strip():
            errors.append(f'{where} needs a "title".')
        questions = section.get("questions")
        if not isinstance(questions, list) or not questions:
            errors.append(f'{where} needs a non-empty "questions" list.')
            continue
        for q_index, q in enumerate(questions, start=1):
            qwhere = f"{where}, question {q_index}"
            if not isinstance(q, dict):
                errors.append(f"{qwhere} must be an object.")
                continue
            qid = q.get("id")
            if not isinstance(qid, str) or not _ID.match(qid):
                errors.append(f'{qwhere}: "id" must be lowercase letters, digits or _ (got {qid!r}).')
            elif qid in seen:
                errors.append(f'{qwhere}: the id "{qid}" is used twice.')
            else:
                seen.add(qid)
            if not str(q.get("text", "")).strip():
                errors.append(f'{qwhere} needs a "text".')
            qtype = q.get("type")
            if qtype not in QUESTION_TYPES:
                errors.append(f'{qwhere}: "type" must be one of {", ".join(QUESTION_TYPES)} (got {qtype!r}).')
            if qtype in ("choice", "multi"):
                options = q.get("options")
                if not isinstance(options, list) or not options:
                    errors.append(f'{qwhere}: a {qtype} question needs "options".')
                else:
                    for o_index, opt in enumerate(options, start=1):
                        if not isinstance(opt, dict) or not str(opt.get("value", "")).strip() or not opt.get("label"):
                            errors.append(f'{qwhere}, option {o_index} needs a "value" and a "label".')
                        elif "score" in opt and not isinstance(opt["score"], int):
                            errors.append(f'{qwhere}, option {o_index}: "score" must be a whole number.')
            if "required" in q and not isinstance(q["required"], bool):
                errors.append(f'{qwhere}: "required" must be true or false.')
            maps_to = q.get("maps_to")
            if maps_to not in (None, "", *MAPS_TO):
                errors.append(f'{qwhere}: "maps_to" {maps_to!r} is not known; use one of {", ".join(MAPS_TO)}.')
    if scoring == "phq9" and not {f"q{i}" for i in range(1, 10)} <= seen:
        errors.append("PHQ-9 scoring needs the questions q1 … q9.")
    if scoring == "gad7" and not {f"q{i}" for i in range(1, 8)} <= seen:
        errors.append("GAD-7 scoring needs the questions q1 … q7.")
    if errors:
        raise ValidationError(errors)


class Questionnaire(models.Model):
    """One version of a form. Immutable once a packet used it: a change is saved as a new version."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    code = models.SlugField(max_length=40, help_text='Stable name across versions, e.g. "phq9".')
    title = models.CharField(max_length=120)
    version = models.PositiveIntegerField(default=1)
    active = models.BooleanField(default=True, help_text="Only the active version of a code is sent.")
    position = models.PositiveSmallIntegerField(default=100, help_text="Order within a packet (lower first).")
    definition = models.JSONField(validators=[validate_definition])
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering: ClassVar = ["position", "code", "-version"]
        constraints: ClassVar = [
            models.UniqueConstraint(fields=["code", "version"], name="intake_questionnaire_code_version"),
            models.UniqueConstraint(fields=["code"], condition=Q(active=True), name="intake_one_active_version"),
        ]

    def __str__(self) -> str:
        return f"{self.title} (v{self.version})"

    @property
    def sections(self) -> list[dict[str, Any]]:
        return list(self.definition.get("sections", []))

    @property
    def scoring(self) -> str:
        return str(self.definition.get("scoring") or "")

    def questions(self) -> list[dict[str, Any]]:
        return [q for s in self.sections for q in s.get("questions", [])]

    def is_used(self) -> bool:
        return self.pk is not None and self.responses.exists()


class IntakeRule(models.Model):
    """Which forms a visit type gets, and how long before the visit they go. "*" is the default rule."""

    DEFAULT = "*"

    visit_type = models.CharField(
        max_length=60, unique=True, help_text='The appointment\'s visit type (any case), or "*" for all others.'
    )
    questionnaires = models.ManyToManyField(
        Questionnaire, related_name="rules", help_text="Any version: the active version of each code is sent."
    )
    send_hours_before = models.PositiveSmallIntegerField(default=72)
    active = models.BooleanField(default=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering: ClassVar = ["visit_type"]

    def __str__(self) -> str:
        return f"Intake for {self.visit_type}"


class IntakePacket(models.Model):
    """The forms one patient fills in before one visit. Only intake/workflow.py sets .status."""

    class Status(models.TextChoices):
        CREATED = "created", "Created"  # the forms are chosen; the link has not gone out yet
        SENT = "sent", "Sent"  # the link went to the patient's channel
        OPENED = "opened", "Opened"  # the patient confirmed their identity on the link
        IN_PROGRESS = "in_progress", "In progress"  # at least one page of answers saved
        SUBMITTED = "submitted", "Submitted"  # the patient finished; answers are in the chart or proposed
        REVIEWED = "reviewed", "Reviewed"  # a VMA confirmed or rejected every proposed change
        ABANDONED = "abandoned", "Abandoned"  # not finished 24 h before the visit (the patient may still finish)
        EXPIRED = "expired", "Expired"  # the visit started before the patient finished; the link is dead

    OPEN_TO_PATIENT: ClassVar[tuple[str, ...]] = (Status.SENT, Status.OPENED, Status.IN_PROGRESS, Status.ABANDONED)
    UNFINISHED: ClassVar[tuple[str, ...]] = (
        Status.CREATED,
        Status.SENT,
        Status.OPENED,
        Status.IN_PROGRESS,
        Status.ABANDONED,
    )

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    appointment = models.OneToOneField("scheduling.Appointment", on_delete=models.PROTECT, related_name="intake_packet")
    patient = models.ForeignKey("patients.Patient", on_delete=models.PROTECT, related_name="intake_packets")
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.CREATED)
    channel = models.CharField(max_length=10, blank=True, help_text="Where the link went (sms, email).")
    expires_at = models.DateTimeField(help_text="The link dies when the visit starts.")
    created_at = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(null=True, blank=True)
    opened_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    submitted_at = models.DateTimeField(null=True, blank=True)
    reviewed_at = models.DateTimeField(null=True, blank=True)
    reviewed_by = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    reminder_sent_at = models.DateTimeField(null=True, blank=True)
    incomplete_flagged_at = models.DateTimeField(null=True, blank=True)
    answers_saved_at = models.DateTimeField(null=True, blank=True)
    # Where the patient got to (1-based page), for the abandonment measure.
    furthest_step = models.PositiveSmallIntegerField(default=0)
    furthest_section = models.CharField(max_length=200, blank=True)
    failed_identity_checks = models.PositiveSmallIntegerField(default=0)
    locked_at = models.DateTimeField(null=True, blank=True, help_text="Too many wrong identity answers.")
    # Flags for the staff list, set once on submission (read in the list without a join).
    phq9_score = models.PositiveSmallIntegerField(null=True, blank=True)
    phq9_band = models.CharField(max_length=24, blank=True)
    gad7_score = models.PositiveSmallIntegerField(null=True, blank=True)
    gad7_band = models.CharField(max_length=24, blank=True)
    item9_positive = models.BooleanField(default=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering: ClassVar = ["expires_at", "id"]
        permissions: ClassVar = [("review_intakepacket", "Confirm intake updates and mark a packet reviewed")]
        constraints: ClassVar = [
            models.CheckConstraint(
                condition=Q(status__in=["created"]) | Q(sent_at__isnull=False), name="intake_sent_has_sent_at"
            ),
            models.CheckConstraint(
                condition=~Q(status__in=["submitted", "reviewed"]) | Q(submitted_at__isnull=False),
                name="intake_submitted_has_submitted_at",
            ),
        ]
        indexes: ClassVar = [
            models.Index(fields=["status", "sent_at"], name="intake_status_sent_idx"),
            models.Index(fields=["patient", "created_at"], name="intake_patient_idx"),
        ]

    def __str__(self) -> str:
        return f"Intake {self.public_id} ({self.get_status_display()})"

    def audit_patient_id(self) -> int | None:
        return self.patient_id

    @property
    def is_locked(self) -> bool:
        return self.locked_at is not None


class IntakeResponse(models.Model):
    """One questionnaire of a packet and the patient's answers to it (saved page by page)."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    packet = models.ForeignKey(IntakePacket, on_delete=models.CASCADE, related_name="responses")
    questionnaire = models.ForeignKey(Questionnaire, on_delete=models.PROTECT, related_name="responses")
    position = models.PositiveSmallIntegerField(default=0)
    answers = models.JSONField(default=dict, blank=True)
    saved_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    total_score = models.PositiveSmallIntegerField(null=True, blank=True)
    band = models.CharField(max_length=24, blank=True)
    item9_positive = models.BooleanField(default=False)

    class Meta:
        ordering: ClassVar = ["packet", "position", "id"]
        constraints: ClassVar = [
            models.UniqueConstraint(fields=["packet", "questionnaire"], name="intake_one_response_per_form")
        ]

    def __str__(self) -> str:
        return f"{self.questionnaire} for {self.packet_id}"

    def audit_patient_id(self) -> int | None:
        return self.packet.patient_id


class ProposedChange(models.Model):
    """A demographics or insurance difference the patient reported; a VMA applies or rejects it."""

    class Status(models.TextChoices):
        PENDING = "pending", "Waiting for review"
        APPLIED = "applied", "Applied to the chart"
        REJECTED = "rejected", "Rejected"

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    packet = models.ForeignKey(IntakePacket, on_delete=models.CASCADE, related_name="proposed_changes")
    patient = models.ForeignKey("patients.Patient", on_delete=models.PROTECT, related_name="+")
    coverage = models.ForeignKey("patients.Coverage", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    target = models.CharField(max_length=40, help_text='"patient.phone", "coverage.member_id" …')
    label = models.CharField(max_length=200)
    current_value = models.TextField(blank=True)
    proposed_value = models.TextField(blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    decided_by = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    decided_at = models.DateTimeField(null=True, blank=True)
    note = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering: ClassVar = ["packet", "id"]
        constraints: ClassVar = [
            models.UniqueConstraint(fields=["packet", "target"], name="intake_one_change_per_field"),
        ]

    def __str__(self) -> str:
        return f"{self.label}: {self.proposed_value}"

    def audit_patient_id(self) -> int | None:
        return self.patient_id


class PatientReportedMedication(models.Model):
    """A medication the patient says they take: reported, not reconciled by a clinician."""

    patient = models.ForeignKey("patients.Patient", on_delete=models.CASCADE, related_name="reported_medications")
    packet = models.ForeignKey(IntakePacket, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    name = models.CharField(max_length=200)
    dose = models.CharField(max_length=200, blank=True)
    source = models.CharField(max_length=20, default="intake")
    reported_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering: ClassVar = ["patient", "-reported_at", "name"]

    def __str__(self) -> str:
        return f"{self.name} {self.dose}".strip()

    def audit_patient_id(self) -> int | None:
        return self.patient_id


class PatientReportedAllergy(models.Model):
    """An allergy the patient reports, with the reaction in their words."""

    patient = models.ForeignKey("patients.Patient", on_delete=models.CASCADE, related_name="reported_allergies")
    packet = models.ForeignKey(IntakePacket, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    name = models.CharField(max_length=200)
    reaction = models.CharField(max_length=200, blank=True)
    source = models.CharField(max_length=20, default="intake")
    reported_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering: ClassVar = ["patient", "-reported_at", "name"]
        verbose_name_plural = "patient-reported allergies"

    def __str__(self) -> str:
        return f"{self.name} ({self.reaction})" if self.reaction else self.name

    def audit_patient_id(self) -> int | None:
        return self.patient_id
