"""Encounters: one per visit, with its structured SOAP note and coded assessment."""

from __future__ import annotations

import uuid
from typing import ClassVar

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
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
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
