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

    class PharmacyStatus(models.TextChoices):
        NOT_SENT = "", "Not sent"
        ACCEPTED = "accepted", "Accepted by the pharmacy"
        REFUSED = "refused", "Refused by the pharmacy"

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
    # Who sent it back or cancelled it, and when (the comment and reason are above).
    returned_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    returned_at = models.DateTimeField(null=True, blank=True)
    cancelled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    cancelled_at = models.DateTimeField(null=True, blank=True)
    # Prior authorization: what the payer's rules said when it was pended (shown to the signer);
    # the authorization itself is opened when the order is signed.
    needs_prior_auth = models.BooleanField(default=False)
    prior_authorization = models.ForeignKey(
        "eligibility.PriorAuthorization", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Effects of signing, each recorded once (the effect handler is safe to run twice).
    effects_done_at = models.DateTimeField(null=True, blank=True)
    expected_result = models.ForeignKey(
        "patients.ExpectedResult", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    medication = models.ForeignKey(
        "patients.Medication", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    pharmacy_status = models.CharField(max_length=10, choices=PharmacyStatus.choices, blank=True, default="")
    pharmacy_confirmation = models.CharField(
        max_length=300, blank=True, help_text="The pharmacy's reference, or the reason it refused."
    )
    sent_at = models.DateTimeField(null=True, blank=True, help_text="When the prescription went to the pharmacy.")
    referral_ref = models.CharField(max_length=64, blank=True, help_text="Public id of the referral it started.")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        permissions: ClassVar = [
            ("sign_order", "Sign or return pended orders (providers)"),
            ("cancel_order", "Cancel a pended or returned order"),
        ]
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

    @property
    def is_editable(self) -> bool:
        """A VMA may still change it: nothing has been signed."""
        return self.status in (self.Status.PENDED, self.Status.RETURNED)

    def audit_patient_id(self) -> int | None:
        return self.patient_id


class SecondFactorDevice(models.Model):
    """A provider's TOTP authenticator, asked for when signing controlled-substance prescriptions.

    `last_used_counter` is the TOTP time step of the last accepted code: a code of that step or an
    earlier one is refused, so a code seen over a shoulder cannot be replayed within its 30 s.
    """

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="second_factor")
    secret = models.CharField(max_length=64, help_text="Base32 TOTP secret.")
    confirmed = models.BooleanField(default=False, help_text="A code from it was accepted at least once.")
    confirmed_at = models.DateTimeField(null=True, blank=True)
    last_used_counter = models.BigIntegerField(default=0)
    failed_attempts = models.PositiveSmallIntegerField(default=0, help_text="Consecutive failures.")
    locked_until = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"Authenticator of {self.user}"
