"""Orders pended by the VMA during the visit and signed by the provider in one batch."""

from __future__ import annotations

import uuid
from typing import ClassVar

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone


class Order(models.Model):
    """One order of an encounter, for one diagnosis. Kind-specific fields are blank for other kinds."""

    class Kind(models.TextChoices):
        LAB = "lab", "Lab test"
        IMAGING = "imaging", "Imaging"
        PRESCRIPTION = "prescription", "Prescription"
        REFERRAL = "referral", "Referral"
        FOLLOW_UP = "follow_up", "Follow-up appointment"

    class Status(models.TextChoices):
        PENDED = "pended", "Awaiting signature"
        SIGNED = "signed", "Signed"
        RETURNED = "returned", "Returned to the VMA"
        CANCELLED = "cancelled", "Cancelled"

    class Urgency(models.TextChoices):
        ROUTINE = "routine", "Routine"
        URGENT = "urgent", "Urgent"
        STAT = "stat", "STAT"

    class Schedule(models.TextChoices):
        NONE = "", "Not controlled"
        CII = "CII", "Schedule II"
        CIII = "CIII", "Schedule III"
        CIV = "CIV", "Schedule IV"
        CV = "CV", "Schedule V"

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    encounter = models.ForeignKey("encounters.Encounter", on_delete=models.PROTECT, related_name="orders")
    patient = models.ForeignKey("patients.Patient", on_delete=models.PROTECT, related_name="orders")
    # Who must sign: the encounter's provider.
    provider = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="orders_to_sign")
    diagnosis = models.ForeignKey(
        "encounters.EncounterDiagnosis", null=True, blank=True, on_delete=models.PROTECT, related_name="orders"
    )
    kind = models.CharField(max_length=12, choices=Kind.choices)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDED)
    title = models.CharField(max_length=200, help_text="What is ordered: 'Lipid panel', 'Chest X-ray, 2 views'.")
    urgency = models.CharField(max_length=8, choices=Urgency.choices, default=Urgency.ROUTINE)
    instructions = models.CharField(max_length=500, blank=True, help_text="For the patient or the performer.")
    # Lab / imaging
    procedure_code = models.CharField(max_length=12, blank=True, help_text="CPT/HCPCS or LOINC, when known.")
    result_expected_days = models.PositiveSmallIntegerField(default=7)
    # Prescription
    drug = models.CharField(max_length=200, blank=True)
    strength = models.CharField(max_length=60, blank=True)
    sig = models.CharField("Sig (directions)", max_length=200, blank=True)
    quantity = models.PositiveIntegerField(null=True, blank=True)
    days_supply = models.PositiveSmallIntegerField(null=True, blank=True)
    refills = models.PositiveSmallIntegerField(null=True, blank=True)
    pharmacy = models.CharField(max_length=200, blank=True)
    controlled_schedule = models.CharField(max_length=4, choices=Schedule.choices, blank=True, default="")
    # Referral
    specialty = models.CharField(max_length=80, blank=True)
    reason = models.CharField(max_length=300, blank=True)
    # Follow-up
    follow_up_in_days = models.PositiveSmallIntegerField(null=True, blank=True)
    # Workflow
    pended_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="orders_pended")
    pended_at = models.DateTimeField(default=timezone.now)
    returned_comment = models.CharField(max_length=500, blank=True)
    cancel_reason = models.CharField(max_length=300, blank=True)
    # The signature: who, when, and a hash of exactly what was signed.
    signed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    signed_at = models.DateTimeField(null=True, blank=True)
    signed_hash = models.CharField(max_length=64, blank=True)
    second_factor_at = models.DateTimeField(null=True, blank=True, help_text="Controlled substances only.")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        indexes: ClassVar = [
            models.Index(fields=["provider", "status"], name="order_provider_status_idx"),
            models.Index(fields=["patient", "status"], name="order_patient_status_idx"),
        ]
        constraints: ClassVar = [
            models.CheckConstraint(
                condition=~Q(status="signed") | (Q(signed_at__isnull=False) & ~Q(signed_hash="")),
                name="order_signed_has_signature",
            ),
            models.CheckConstraint(
                condition=Q(controlled_schedule="") | Q(kind="prescription"),
                name="order_schedule_only_rx",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.title} ({self.get_status_display()})"

    @property
    def is_controlled(self) -> bool:
        return bool(self.controlled_schedule)
