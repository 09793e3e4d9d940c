"""Encounters: one per visit, with its structured SOAP note and coded assessment, its addenda, and the
after visit summary built from the signed note (with the provider-approved education library)."""

from __future__ import annotations

import uuid
from typing import Any, ClassVar

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone


class Encounter(models.Model):
    """The visit's clinical record. Drafted by a scribe VMA, signed (and then locked) by the provider."""

    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        PENDED = "pended", "Awaiting signature"
        SIGNED = "signed", "Signed"

    class Modality(models.TextChoices):
        IN_PERSON = "in_person", "In person"
        VIDEO = "video", "Telehealth: video"
        AUDIO = "audio", "Telehealth: audio only"

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    appointment = models.OneToOneField(
        "scheduling.Appointment", on_delete=models.PROTECT, related_name="encounter", null=True, blank=True
    )
    patient = models.ForeignKey("patients.Patient", on_delete=models.PROTECT, related_name="encounters")
    provider = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="encounters")
    date_of_service = models.DateField(default=timezone.localdate)
    modality = models.CharField(max_length=12, choices=Modality.choices, default=Modality.IN_PERSON)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.DRAFT)
    # The SOAP note.
    chief_complaint = models.CharField(max_length=300, blank=True)
    hpi = models.TextField("history of present illness", blank=True)
    ros = models.TextField("review of systems", blank=True)
    exam = models.TextField(blank=True)
    assessment = models.TextField(blank=True, help_text="Narrative; the coded diagnoses are EncounterDiagnosis rows.")
    plan = models.TextField(blank=True)
    # Optimistic concurrency for live drafting: every save bumps it; a save based on an older
    # version is refused and the editor is told who changed what.
    version = models.PositiveIntegerField(default=1)
    last_edited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # The signature: who, when, and a hash of exactly what was signed.
    signed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    signed_at = models.DateTimeField(null=True, blank=True)
    signed_hash = models.CharField(max_length=64, blank=True)
    # Per-field concurrency: {field: {"v": version, "by": user id, "by_name": str, "at": iso}} of the last
    # change of each field (and "diagnoses"). A save is stale only if ITS field changed after the version
    # the editor based it on, so a scribe and a provider typing in different fields never collide.
    field_changes = models.JSONField(default=dict, blank=True)
    # Marked ready for signature (status pended) by the scribe; returned with the provider's comment.
    pended_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    pended_at = models.DateTimeField(null=True, blank=True)
    returned_comment = models.CharField(max_length=500, blank=True)
    returned_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    returned_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    # The SOAP fields an editor types into (each saved on its own); their order on the page.
    NOTE_FIELDS: ClassVar[tuple[str, ...]] = ("chief_complaint", "hpi", "ros", "exam", "assessment", "plan")

    class Meta:
        permissions: ClassVar = [("sign_encounter", "Sign encounter notes (providers, their own visits)")]
        indexes: ClassVar = [
            models.Index(fields=["provider", "status"], name="enc_provider_status_idx"),
            models.Index(fields=["patient", "date_of_service"], name="enc_patient_dos_idx"),
        ]
        constraints: ClassVar = [
            models.CheckConstraint(
                condition=~Q(status="signed") | (Q(signed_at__isnull=False) & ~Q(signed_hash="")),
                name="enc_signed_has_signature",
            ),
        ]

    def __str__(self) -> str:
        return f"Encounter {self.date_of_service} ({self.get_status_display()})"

    @property
    def is_signed(self) -> bool:
        return self.status == self.Status.SIGNED

    def audit_patient_id(self) -> int | None:
        return self.patient_id


class EncounterDiagnosis(models.Model):
    """A coded assessment line (ICD-10-CM, validated by patients.icd10), ranked: 1 is primary."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    encounter = models.ForeignKey(Encounter, on_delete=models.CASCADE, related_name="diagnoses")
    code = models.CharField(max_length=8, help_text="ICD-10-CM, stored with the dot (E11.9).")
    description = models.CharField(max_length=250)
    rank = models.PositiveSmallIntegerField(default=1)

    class Meta:
        ordering: ClassVar = ["rank", "pk"]
        constraints: ClassVar = [
            models.UniqueConstraint(fields=["encounter", "code"], name="encdx_unique_code"),
        ]

    def __str__(self) -> str:
        return f"{self.code} {self.description}"

    def audit_patient_id(self) -> int | None:
        return self.encounter.patient_id


class AppendOnly(models.Model):
    """A row that is written once: later changes and deletes are refused (the legal record)."""

    class Meta:
        abstract = True

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.pk is not None and not kwargs.get("force_insert"):
            raise ValueError(f"{self._meta.verbose_name} is append-only; it cannot be changed.")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> Any:
        raise ValueError(f"{self._meta.verbose_name} is append-only; it cannot be deleted.")


class Addendum(AppendOnly):
    """A later addition to a signed note, with its author and time. Never changed, never deleted."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    encounter = models.ForeignKey(Encounter, on_delete=models.PROTECT, related_name="addenda")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    text = models.TextField()

    class Meta:
        ordering: ClassVar = ["created_at", "id"]
        verbose_name_plural = "addenda"
        constraints: ClassVar = [models.CheckConstraint(condition=~Q(text=""), name="addendum_has_text")]

    def __str__(self) -> str:
        return f"Addendum {self.created_at:%Y-%m-%d %H:%M}"

    def audit_patient_id(self) -> int | None:
        return self.encounter.patient_id


class EducationMaterial(models.Model):
    """A patient handout in the practice's library. Only provider-approved, active ones can go on a summary."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    title = models.CharField(max_length=200, unique=True)
    body = models.TextField(help_text="Plain words for the patient.")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    approved_at = models.DateTimeField(null=True, blank=True)
    active = models.BooleanField(default=True)

    class Meta:
        ordering: ClassVar = ["title"]
        permissions: ClassVar = [("approve_educationmaterial", "Approve or retire education materials (providers)")]
        constraints: ClassVar = [
            models.CheckConstraint(
                condition=Q(approved_by__isnull=True, approved_at__isnull=True)
                | Q(approved_by__isnull=False, approved_at__isnull=False),
                name="education_approval_complete",
            ),
        ]

    def __str__(self) -> str:
        return self.title

    @property
    def selectable(self) -> bool:
        return self.active and self.approved_at is not None


class AfterVisitSummary(models.Model):
    """What the patient takes home, built from the signed note. `content` is the last delivered version."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    encounter = models.OneToOneField(Encounter, on_delete=models.PROTECT, related_name="summary")
    patient = models.ForeignKey("patients.Patient", on_delete=models.PROTECT, related_name="visit_summaries")
    # The provider's choices (what the signed note does not say).
    education = models.ManyToManyField(EducationMaterial, blank=True, related_name="+")
    follow_up = models.TextField(blank=True, help_text="The provider's follow-up words for the patient.")
    prepared_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    prepared_at = models.DateTimeField(null=True, blank=True)
    # The snapshot the patient sees: frozen at each delivery, so the link shows what was sent.
    content = models.JSONField(default=dict, blank=True)
    content_hash = models.CharField(max_length=64, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True, help_text="The first delivery.")
    last_delivered_at = models.DateTimeField(null=True, blank=True)
    first_viewed_at = models.DateTimeField(null=True, blank=True)
    view_count = models.PositiveIntegerField(default=0)
    failed_identity_checks = models.PositiveSmallIntegerField(default=0)
    locked_at = models.DateTimeField(null=True, blank=True, help_text="Too many wrong identity answers.")
    not_viewed_item_at = models.DateTimeField(
        null=True, blank=True, help_text="When the not-viewed follow-up call item was opened (once)."
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "after visit summary"
        verbose_name_plural = "after visit summaries"
        permissions: ClassVar = [
            ("prepare_aftervisitsummary", "Choose education and follow-up words for after visit summaries"),
            ("deliver_aftervisitsummary", "Deliver after visit summaries to patients"),
        ]
        constraints: ClassVar = [
            models.CheckConstraint(
                condition=Q(delivered_at__isnull=True) | ~Q(content_hash=""), name="avs_delivered_has_content"
            ),
        ]
        indexes: ClassVar = [
            models.Index(
                fields=["delivered_at"],
                condition=Q(first_viewed_at__isnull=True, not_viewed_item_at__isnull=True),
                name="avs_unviewed_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"After visit summary {self.encounter.date_of_service}"

    def audit_patient_id(self) -> int | None:
        return self.patient_id

    @property
    def is_locked(self) -> bool:
        return self.locked_at is not None


class AvsDelivery(models.Model):
    """One sending of the summary's link: through which channel, to where, asked by whom, sent when."""

    class Channel(models.TextChoices):
        SMS = "sms", "Text message with the secure link"
        EMAIL = "email", "E-mail with the secure link"

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    summary = models.ForeignKey(AfterVisitSummary, on_delete=models.PROTECT, related_name="deliveries")
    channel = models.CharField(max_length=8, choices=Channel.choices)
    recipient = models.CharField(max_length=254, help_text="The phone or e-mail the link went to.")
    content_hash = models.CharField(max_length=64, help_text="Which version of the summary was sent.")
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    requested_at = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(null=True, blank=True, help_text="Handed to the mail server / SMS gateway.")

    class Meta:
        ordering: ClassVar = ["requested_at", "id"]
        verbose_name_plural = "AVS deliveries"

    def __str__(self) -> str:
        return f"AVS delivery {self.get_channel_display()} {self.requested_at:%Y-%m-%d %H:%M}"

    def audit_patient_id(self) -> int | None:
        return self.summary.patient_id
