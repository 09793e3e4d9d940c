"""Charges and claims: the practice's procedure list, payer billing rules, fee schedules, 837P claims."""

from __future__ import annotations

import uuid
from datetime import date
from decimal import Decimal
from typing import ClassVar

from django.db import models
from django.db.models import F, Q
from django.utils import timezone

from vma.models import User


class ProcedureCode(models.Model):
    """A CPT/HCPCS code the practice bills, with the practice's own short label.

    CPT descriptions are licensed by the AMA: the label is written by the practice, never copied.
    """

    code = models.CharField(max_length=5, unique=True, help_text="CPT (5 digits) or HCPCS level II (e.g. G0506).")
    label = models.CharField(max_length=80, help_text="The practice's own short label (not the AMA's text).")
    is_em = models.BooleanField(
        "E/M code", default=False, help_text="Evaluation and management: needs modifier 25 beside a procedure."
    )
    max_units_per_day = models.PositiveSmallIntegerField(default=1)
    default_charge = models.DecimalField(max_digits=9, decimal_places=2, default=Decimal("0.00"))
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering: ClassVar = ["code"]
        constraints: ClassVar = [
            models.CheckConstraint(condition=Q(max_units_per_day__gte=1), name="procedurecode_units_positive"),
            models.CheckConstraint(condition=Q(default_charge__gte=0), name="procedurecode_charge_not_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.code} {self.label}"


class PayerBillingProfile(models.Model):
    """How one payer wants claims: filing window, telehealth coding, HMO referrals (contract data)."""

    class TelehealthPlace(models.TextChoices):
        OTHER = "02", "02 Telehealth other than the patient's home"
        HOME = "10", "10 Telehealth in the patient's home"

    payer = models.OneToOneField("patients.Payer", on_delete=models.CASCADE, related_name="billing_profile")
    timely_filing_days = models.PositiveIntegerField(
        default=365, help_text="Days after the date of service the payer accepts a claim (Medicare: 365)."
    )
    telehealth_modifier_95 = models.BooleanField(
        default=True, help_text="Add modifier 95 to telehealth services (synchronous audio-video)."
    )
    telehealth_place_of_service = models.CharField(
        max_length=2, choices=TelehealthPlace.choices, default=TelehealthPlace.HOME
    )
    requires_referral = models.BooleanField(default=False, help_text="HMO plans: a referral must be on file.")
    claim_filing_indicator = models.CharField(
        max_length=2,
        default="CI",
        help_text="837 SBR09: CI commercial, MB Medicare Part B, MC Medicaid, HM HMO, BL Blue Cross ...",
    )
    notes = models.TextField(blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering: ClassVar = ["payer__name"]

    def __str__(self) -> str:
        return f"Billing profile of {self.payer}"


class FeeScheduleLine(models.Model):
    """What a payer is expected to allow for a code between two dates (underpayment detection)."""

    payer = models.ForeignKey("patients.Payer", on_delete=models.CASCADE, related_name="fee_schedule")
    procedure = models.ForeignKey(ProcedureCode, on_delete=models.CASCADE, related_name="fee_schedule")
    modifier = models.CharField(max_length=2, blank=True, help_text="Empty: any modifier.")
    allowed_amount = models.DecimalField(max_digits=9, decimal_places=2)
    effective_from = models.DateField()
    effective_to = models.DateField(null=True, blank=True, help_text="Empty: until further notice.")

    class Meta:
        ordering: ClassVar = ["payer__name", "procedure__code", "-effective_from"]
        constraints: ClassVar = [
            models.CheckConstraint(
                condition=Q(effective_to__isnull=True) | Q(effective_to__gte=F("effective_from")),
                name="feeschedule_dates_ordered",
            ),
            models.CheckConstraint(condition=Q(allowed_amount__gte=0), name="feeschedule_amount_not_negative"),
            models.UniqueConstraint(
                fields=["payer", "procedure", "modifier", "effective_from"], name="feeschedule_one_per_start"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.payer} {self.procedure.code}: {self.allowed_amount} from {self.effective_from}"


def new_patient_control_number() -> str:
    # CLM01 allows 38 characters but many payers keep only 20; random, so it says nothing about the patient.
    return "V" + uuid.uuid4().hex[:19].upper()


class Claim(models.Model):
    """One professional claim (837P) for one visit. Only billing/workflow.py sets .status."""

    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"  # charges being entered or fixed; the scrubber has not passed it
        SCRUBBED = "scrubbed", "Scrubbed"  # every check passed; ready to submit
        SUBMITTED = "submitted", "Submitted"  # the 837 left (or is leaving); waiting for the acknowledgement
        ACCEPTED = "accepted", "Accepted"  # the clearinghouse/payer took it in; waiting for adjudication
        REJECTED = "rejected", "Rejected"  # refused on intake (never adjudicated): fix and resubmit
        PAID = "paid", "Paid"  # paid in full of what the payer allows
        PARTIALLY_PAID = "partially_paid", "Partially paid"  # some lines or amounts unpaid
        DENIED = "denied", "Denied"  # adjudicated and refused: correct, appeal or write off
        APPEALED = "appealed", "Appealed"  # an appeal is with the payer
        VOIDED = "voided", "Voided"  # cancelled (frequency 8 sent for a claim the payer had)
        CORRECTED = "corrected", "Corrected"  # replaced by a frequency 7 claim

    class Frequency(models.TextChoices):
        ORIGINAL = "1", "1 Original"
        REPLACEMENT = "7", "7 Replacement of a prior claim"
        VOID = "8", "8 Void of a prior claim"

    OPEN_TO_EDIT: ClassVar[tuple[str, ...]] = (Status.DRAFT,)
    AWAITING_PAYER: ClassVar[tuple[str, ...]] = (Status.SUBMITTED, Status.ACCEPTED, Status.APPEALED)
    NOT_FILED: ClassVar[tuple[str, ...]] = (Status.DRAFT, Status.SCRUBBED, Status.REJECTED)
    # Claims the payer has on file: voiding or correcting them needs a frequency 8 or 7 claim.
    AT_PAYER: ClassVar[tuple[str, ...]] = (
        Status.ACCEPTED,
        Status.PAID,
        Status.PARTIALLY_PAID,
        Status.DENIED,
        Status.APPEALED,
    )

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    patient = models.ForeignKey("patients.Patient", on_delete=models.PROTECT, related_name="claims")
    coverage = models.ForeignKey("patients.Coverage", on_delete=models.PROTECT, related_name="claims")
    payer = models.ForeignKey("patients.Payer", on_delete=models.PROTECT, related_name="claims")
    appointment = models.ForeignKey(
        "scheduling.Appointment", null=True, blank=True, on_delete=models.PROTECT, related_name="claims"
    )
    service_date = models.DateField()
    rendering_provider = models.ForeignKey(User, on_delete=models.PROTECT, related_name="rendered_claims")
    # The billing provider is the practice (settings.PRACTICE_*), copied when the claim is made.
    billing_name = models.CharField(max_length=60)
    billing_npi = models.CharField(max_length=10, blank=True)
    billing_tax_id = models.CharField(max_length=9, blank=True)
    place_of_service = models.CharField(max_length=2, default="11", help_text="11 office, 02/10 telehealth.")
    telehealth = models.BooleanField(default=False)
    frequency_code = models.CharField(max_length=1, choices=Frequency.choices, default=Frequency.ORIGINAL)
    original_claim = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="replacements"
    )
    original_payer_claim_number = models.CharField(max_length=50, blank=True, help_text="REF*F8 for 7/8.")
    prior_authorization_number = models.CharField(max_length=50, blank=True, help_text="REF*G1 when one applies.")
    referral_number = models.CharField(max_length=50, blank=True, help_text="REF*9F: the HMO referral's number.")
    patient_control_number = models.CharField(max_length=20, unique=True, default=new_patient_control_number)
    total_charge = models.DecimalField(max_digits=11, decimal_places=2, default=Decimal("0.00"))
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.DRAFT)
    scrubbed_at = models.DateTimeField(null=True, blank=True)
    scrub_problems = models.JSONField(default=list, blank=True, help_text="The last scrub's findings.")
    validation_errors = models.JSONField(default=list, blank=True, help_text="pyx12's findings on the last 837.")
    raw_837 = models.TextField(blank=True)
    interchange_control_number = models.PositiveIntegerField(null=True, blank=True)
    submitted_at = models.DateTimeField(null=True, blank=True)
    submitted_by = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    transmitted_at = models.DateTimeField(
        null=True, blank=True, help_text="When the clearinghouse took the 837 (the send task claims this)."
    )
    transmit_attempts = models.PositiveSmallIntegerField(default=0)
    acknowledgement = models.TextField(blank=True, help_text="The clearinghouse's answer, as received.")
    clearinghouse_reference = models.CharField(max_length=60, blank=True)
    rejection_reasons = models.JSONField(default=list, blank=True)
    accepted_at = models.DateTimeField(null=True, blank=True)
    adjudicated_at = models.DateTimeField(null=True, blank=True)
    payer_claim_number = models.CharField(max_length=50, blank=True)
    paid_amount = models.DecimalField(max_digits=11, decimal_places=2, null=True, blank=True)
    closed_reason = models.TextField(blank=True, help_text="Why voided, corrected, denied or appealed.")
    # Set once by the sweep so a follow-up that was worked and closed is not opened again.
    follow_up_flagged_at = models.DateTimeField(null=True, blank=True)
    unpaid_flagged_at = models.DateTimeField(null=True, blank=True)
    filing_deadline_flagged_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    updated_by = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering: ClassVar = ["-service_date", "-id"]
        permissions: ClassVar = [
            ("scrub_claim", "Can scrub a claim"),
            ("submit_claim", "Can submit a claim"),
            ("void_claim", "Can void or correct a claim"),
        ]
        constraints: ClassVar = [
            models.CheckConstraint(
                condition=Q(frequency_code="1", original_claim__isnull=True)
                | Q(frequency_code__in=["7", "8"], original_claim__isnull=False),
                name="claim_replacement_names_original",
            ),
            # A visit is billed once; a replacement or void claim stands beside the original.
            models.UniqueConstraint(
                fields=["appointment", "coverage"],
                condition=Q(frequency_code="1", appointment__isnull=False) & ~Q(status__in=["voided", "corrected"]),
                name="claim_one_original_per_visit",
            ),
            models.CheckConstraint(
                condition=~Q(status__in=["submitted", "accepted", "rejected"]) | Q(submitted_at__isnull=False),
                name="claim_submitted_has_time",
            ),
            models.CheckConstraint(condition=Q(total_charge__gte=0), name="claim_charge_not_negative"),
        ]
        indexes: ClassVar = [
            models.Index(fields=["status", "submitted_at"], name="claim_status_submitted_idx"),
            models.Index(fields=["status", "service_date"], name="claim_status_dos_idx"),
            models.Index(fields=["patient", "service_date"], name="claim_patient_dos_idx"),
        ]

    def __str__(self) -> str:
        return f"Claim {self.patient_control_number} {self.service_date:%Y-%m-%d} ({self.get_status_display()})"

    @property
    def editable(self) -> bool:
        return self.status in self.OPEN_TO_EDIT

    def filing_deadline(self, days: int) -> date:
        from datetime import timedelta

        return self.service_date + timedelta(days=days)

    def audit_patient_id(self) -> int | None:
        return self.patient_id


class ClaimDiagnosis(models.Model):
    """One ICD-10-CM code on a claim; position 1 is the principal diagnosis (HI ABK)."""

    claim = models.ForeignKey(Claim, on_delete=models.CASCADE, related_name="diagnoses")
    position = models.PositiveSmallIntegerField(help_text="1-12; line pointers refer to it.")
    code = models.CharField("ICD-10-CM", max_length=8, help_text="Normalised, with the dot: E11.9.")
    description = models.CharField(max_length=250, blank=True)

    class Meta:
        ordering: ClassVar = ["claim", "position"]
        constraints: ClassVar = [
            models.UniqueConstraint(fields=["claim", "position"], name="claimdx_one_per_position"),
            models.UniqueConstraint(fields=["claim", "code"], name="claimdx_code_once"),
            models.CheckConstraint(condition=Q(position__gte=1, position__lte=12), name="claimdx_position_1_12"),
        ]

    def __str__(self) -> str:
        return f"{self.position}. {self.code}"

    def audit_patient_id(self) -> int | None:
        return self.claim.patient_id


class ClaimLine(models.Model):
    """One service line (837P loop 2400)."""

    claim = models.ForeignKey(Claim, on_delete=models.CASCADE, related_name="lines")
    line_number = models.PositiveSmallIntegerField()
    procedure_code = models.CharField(max_length=5, help_text="CPT/HCPCS; checked against the practice's list.")
    modifiers = models.JSONField(default=list, blank=True, help_text="Up to 4 two-character modifiers.")
    units = models.PositiveSmallIntegerField(default=1)
    charge = models.DecimalField(max_digits=9, decimal_places=2, help_text="The line's charge (all units), SV102.")
    diagnosis_pointers = models.JSONField(default=list, blank=True, help_text="1-4 diagnosis positions.")
    service_date = models.DateField()

    class Meta:
        ordering: ClassVar = ["claim", "line_number"]
        constraints: ClassVar = [
            models.UniqueConstraint(fields=["claim", "line_number"], name="claimline_one_per_number"),
            models.CheckConstraint(condition=Q(units__gte=1), name="claimline_units_positive"),
            models.CheckConstraint(condition=Q(charge__gte=0), name="claimline_charge_not_negative"),
        ]

    def __str__(self) -> str:
        mods = ":".join(self.modifiers)
        return f"{self.line_number}. {self.procedure_code}{':' + mods if mods else ''} x{self.units}"

    def audit_patient_id(self) -> int | None:
        return self.claim.patient_id
