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
    keywords = models.CharField(
        max_length=300,
        blank=True,
        help_text="Words the signed note uses for this service, comma-separated (e.g. venipuncture, blood draw). "
        "A non-E/M charge whose label and keywords the note never mentions is flagged.",
    )
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


# Billed and not settled: the claims that make up insurance AR.
AR_STATUSES_LIST = ["submitted", "accepted", "rejected", "partially_paid", "denied", "appealed"]
# Never billed, or billed and then taken back: left out of charges and collections.
NOT_BILLED_LIST = ["draft", "scrubbed", "voided", "corrected"]
_MONEY = ["total_charge", "paid_amount", "contractual_adjustment", "written_off", "patient_responsibility"]


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
    # Running totals kept by remittance posting (billing/remittance.py) and patient payments
    # (billing/ledger.py), so AR and the dashboards are single-table aggregates.
    contractual_adjustment = models.DecimalField(
        max_digits=11, decimal_places=2, default=Decimal("0.00"), help_text="Contractual write-offs from 835s (CO-45)."
    )
    written_off = models.DecimalField(
        max_digits=11, decimal_places=2, default=Decimal("0.00"), help_text="Denied amounts written off by hand."
    )
    patient_responsibility = models.DecimalField(
        max_digits=11, decimal_places=2, default=Decimal("0.00"), help_text="PR adjustments moved to the patient."
    )
    patient_paid = models.DecimalField(
        max_digits=11, decimal_places=2, default=Decimal("0.00"), help_text="Patient payments applied to this claim."
    )
    first_adjudicated_at = models.DateTimeField(null=True, blank=True)
    denied_at = models.DateTimeField(null=True, blank=True, help_text="First denial (claim or line) posted.")
    first_rejected_at = models.DateTimeField(null=True, blank=True)
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
            ("view_revenue_dashboard", "Can view the AR and denial dashboards"),
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
            # The dashboards (billing/revenue.py) read these covering indexes only (index-only scans):
            # AR aging, the open claims by payer and age, with what makes up their balance;
            models.Index(
                fields=["payer", "service_date"],
                name="claim_ar_idx",
                condition=Q(status__in=AR_STATUSES_LIST),
                include=["id", *_MONEY, "patient"],
            ),
            # charges and collections of billed claims by date of service (days in AR, net collection rate);
            models.Index(
                fields=["service_date"],
                name="claim_billed_dos_idx",
                condition=~Q(status__in=NOT_BILLED_LIST),
                include=["id", *_MONEY, "patient_paid", "patient"],
            ),
            # denial rates by first adjudication, and the clean-claim rate by submission.
            models.Index(
                fields=["first_adjudicated_at"],
                name="claim_adjudicated_idx",
                include=["id", "denied_at", "payer", "rendering_provider", "patient"],
            ),
            models.Index(
                fields=["submitted_at"], name="claim_submitted_idx", include=["id", "first_rejected_at", "patient"]
            ),
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

    @property
    def insurance_balance(self) -> Decimal:
        """What the payer still owes or has to answer for: denied amounts stay until appealed or written off."""
        return (
            self.total_charge
            - (self.paid_amount or 0)
            - self.contractual_adjustment
            - self.written_off
            - self.patient_responsibility
        )

    @property
    def patient_balance(self) -> Decimal:
        return self.patient_responsibility - self.patient_paid


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


# ---------------------------------------------------------------------------------------------
# Remittance (835) posting
# ---------------------------------------------------------------------------------------------


class RemittanceFile(models.Model):
    """One 835 file as received, kept verbatim whatever happens to it (nothing is lost).

    The same bytes twice are one file (unique content hash): a second import posts nothing.
    """

    class Source(models.TextChoices):
        UPLOAD = "upload", "Uploaded on a page"
        API = "api", "Sent through the API"
        CLEARINGHOUSE = "clearinghouse", "Fetched from the clearinghouse"

    class Status(models.TextChoices):
        RECEIVED = "received", "Received"  # stored, not read yet
        POSTED = "posted", "Posted"  # every claim posted (or recognised as posted before)
        EXCEPTIONS = "exceptions", "Posted with exceptions"  # some claims unmatched: work items
        INVALID = "invalid", "Failed validation"  # pyx12 found errors: not posted until a person decides
        FAILED = "failed", "Unreadable"  # not an 835 we can read: work item with the reason

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    source = models.CharField(max_length=16, choices=Source.choices)
    filename = models.CharField(max_length=200, blank=True)
    content = models.TextField(help_text="The file as received (latin-1 decoded: byte for byte).")
    content_hash = models.CharField(max_length=64, unique=True, help_text="SHA-256 of the received bytes.")
    size_bytes = models.PositiveIntegerField(default=0)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.RECEIVED)
    error = models.TextField(blank=True, help_text="Why the file could not be read or posted.")
    validation_errors = models.JSONField(default=list, blank=True, help_text="pyx12's findings (005010X221A1).")
    warnings = models.JSONField(default=list, blank=True, help_text="Imbalances the reader reported.")
    claims_posted = models.PositiveIntegerField(default=0)
    claims_unmatched = models.PositiveIntegerField(default=0)
    claims_duplicate = models.PositiveIntegerField(default=0)
    received_by = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    received_at = models.DateTimeField(default=timezone.now)
    posted_at = models.DateTimeField(null=True, blank=True)
    posted_by = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        ordering: ClassVar = ["-received_at", "-id"]

    def __str__(self) -> str:
        return f"835 {self.filename or self.content_hash[:12]} ({self.get_status_display()})"


class Remittance(models.Model):
    """One 835 transaction set (BPR/TRN): one payment and the claims it explains."""

    file = models.ForeignKey(RemittanceFile, on_delete=models.CASCADE, related_name="remittances")
    payer = models.ForeignKey("patients.Payer", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    payer_key = models.CharField(max_length=80, help_text="The 835's payer id (N104/REF*2U), else its name.")
    payer_name = models.CharField(max_length=120, blank=True)
    payee_name = models.CharField(max_length=120, blank=True)
    payee_npi = models.CharField(max_length=10, blank=True)
    amount = models.DecimalField(max_digits=12, decimal_places=2)
    method = models.CharField(max_length=3)
    trace_number = models.CharField(max_length=50)
    payment_date = models.DateField(null=True, blank=True)
    production_date = models.DateField(null=True, blank=True)
    transaction_control_number = models.CharField(max_length=9, blank=True)
    provider_adjustments = models.JSONField(default=list, blank=True, help_text="PLB: recoupments, interest ...")
    warnings = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering: ClassVar = ["file", "id"]
        indexes: ClassVar = [models.Index(fields=["payer_key", "trace_number"], name="remit_trace_idx")]

    def __str__(self) -> str:
        return f"{self.payer_name} {self.trace_number} {self.amount}"


class RemittanceClaim(models.Model):
    """One CLP of an 835 and what became of it: posted to a claim, unmatched, or a repeat.

    (payer, trace number, claim) is posted once: the partial unique constraint below. A repeat
    (the same payment re-sent in another envelope) is kept as a `duplicate` row that posts nothing.
    """

    class Outcome(models.TextChoices):
        POSTED = "posted", "Posted"
        UNMATCHED = "unmatched", "Unmatched"  # no claim has this patient control number: work item
        DUPLICATE = "duplicate", "Posted before"  # the same payment of the same claim: nothing posted
        MATCHED_LATER = "matched_later", "Posted after matching by hand"

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    remittance = models.ForeignKey(Remittance, on_delete=models.CASCADE, related_name="claims")
    claim = models.ForeignKey(Claim, null=True, blank=True, on_delete=models.PROTECT, related_name="remittances")
    patient = models.ForeignKey("patients.Patient", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    sequence = models.PositiveIntegerField(help_text="Position of the CLP in its transaction, from 1.")
    payer_key = models.CharField(max_length=80)
    trace_number = models.CharField(max_length=50)
    patient_control_number = models.CharField(max_length=38)
    status_code = models.CharField(max_length=2)
    payer_claim_number = models.CharField(max_length=50, blank=True)
    charge = models.DecimalField(max_digits=11, decimal_places=2)
    paid = models.DecimalField(max_digits=11, decimal_places=2)
    patient_responsibility = models.DecimalField(max_digits=11, decimal_places=2, default=Decimal("0.00"))
    patient_name = models.CharField(max_length=120, blank=True, help_text="NM1*QC as the payer sent it.")
    member_id = models.CharField(max_length=80, blank=True)
    remarks = models.JSONField(default=list, blank=True, help_text="Claim-level RARCs (MOA/MIA).")
    warnings = models.JSONField(default=list, blank=True)
    outcome = models.CharField(max_length=16, choices=Outcome.choices)
    message = models.TextField(blank=True)
    underpaid_amount = models.DecimalField(max_digits=11, decimal_places=2, default=Decimal("0.00"))
    posted_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering: ClassVar = ["remittance", "sequence"]
        constraints: ClassVar = [
            models.UniqueConstraint(
                fields=["payer_key", "trace_number", "patient_control_number", "status_code", "payer_claim_number"],
                condition=~Q(outcome="duplicate"),
                name="remitclaim_posted_once",
            ),
        ]
        indexes: ClassVar = [
            models.Index(fields=["patient_control_number"], name="remitclaim_pcn_idx"),
            models.Index(fields=["claim", "created_at"], name="remitclaim_claim_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.patient_control_number} {self.status_code} paid {self.paid} ({self.get_outcome_display()})"

    def audit_patient_id(self) -> int | None:
        return self.patient_id

    @property
    def is_reversal(self) -> bool:
        return self.status_code == "22"


class PaymentPosting(models.Model):
    """One service line (SVC) of a posted claim: charged, paid, and what the fee schedule expected."""

    remittance_claim = models.ForeignKey(RemittanceClaim, on_delete=models.CASCADE, related_name="postings")
    claim = models.ForeignKey(Claim, on_delete=models.PROTECT, related_name="postings")
    claim_line = models.ForeignKey(ClaimLine, null=True, blank=True, on_delete=models.SET_NULL, related_name="postings")
    sequence = models.PositiveSmallIntegerField()
    procedure_code = models.CharField(max_length=48)
    modifiers = models.JSONField(default=list, blank=True)
    charge = models.DecimalField(max_digits=11, decimal_places=2)
    paid = models.DecimalField(max_digits=11, decimal_places=2)
    units = models.DecimalField(max_digits=9, decimal_places=2, null=True, blank=True)
    service_date = models.DateField(null=True, blank=True)
    remarks = models.JSONField(default=list, blank=True, help_text="LQ*HE RARCs.")
    allowed = models.DecimalField(max_digits=11, decimal_places=2, help_text="Paid plus patient responsibility.")
    expected_allowed = models.DecimalField(
        max_digits=11, decimal_places=2, null=True, blank=True, help_text="From the payer's fee schedule."
    )
    underpaid_amount = models.DecimalField(max_digits=11, decimal_places=2, default=Decimal("0.00"))
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering: ClassVar = ["remittance_claim", "sequence"]
        constraints: ClassVar = [
            models.UniqueConstraint(fields=["remittance_claim", "sequence"], name="posting_one_per_line"),
        ]

    def __str__(self) -> str:
        return f"{self.procedure_code} paid {self.paid}"

    def audit_patient_id(self) -> int | None:
        return self.claim.patient_id


class AdjustmentPosting(models.Model):
    """One CAS reason/amount, claim level (posting empty) or line level, classified for the books."""

    class Effect(models.TextChoices):
        PATIENT = "patient", "Moved to the patient"  # group PR
        WRITE_OFF = "write_off", "Contractual write-off"  # CO-45 and its kind: never billed to anyone
        DENIAL = "denial", "Denied"  # stays in AR until appealed, corrected or written off

    remittance_claim = models.ForeignKey(RemittanceClaim, on_delete=models.CASCADE, related_name="adjustments")
    posting = models.ForeignKey(
        PaymentPosting, null=True, blank=True, on_delete=models.CASCADE, related_name="adjustments"
    )
    claim = models.ForeignKey(Claim, on_delete=models.PROTECT, related_name="adjustments")
    group = models.CharField(max_length=2)
    reason = models.CharField(max_length=5)
    amount = models.DecimalField(max_digits=11, decimal_places=2)
    quantity = models.DecimalField(max_digits=9, decimal_places=2, null=True, blank=True)
    effect = models.CharField(max_length=10, choices=Effect.choices)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering: ClassVar = ["remittance_claim", "id"]
        indexes: ClassVar = [models.Index(fields=["reason", "created_at"], name="adjposting_reason_idx")]

    def __str__(self) -> str:
        return f"{self.group}-{self.reason} {self.amount}"

    def audit_patient_id(self) -> int | None:
        return self.claim.patient_id


class Denial(models.Model):
    """A denied claim or line, categorised by CARC/RARC and group with the usual next step.

    Each open denial is a work item in the billing queue; it closes when the claim is appealed,
    corrected, voided, paid on reprocessing, or the amount is written off.
    """

    class Level(models.TextChoices):
        CLAIM = "claim", "Whole claim"
        LINE = "line", "Service line"

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        RESOLVED = "resolved", "Resolved"

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    claim = models.ForeignKey(Claim, on_delete=models.PROTECT, related_name="denials")
    remittance_claim = models.ForeignKey(RemittanceClaim, on_delete=models.PROTECT, related_name="denials")
    posting = models.ForeignKey(PaymentPosting, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    level = models.CharField(max_length=5, choices=Level.choices)
    procedure_code = models.CharField(max_length=48, blank=True)
    group = models.CharField(max_length=2)
    reason = models.CharField(max_length=5, help_text="The CARC of the largest denied amount.")
    codes = models.JSONField(default=list, help_text="Every denying group-CARC and amount.")
    remarks = models.JSONField(default=list, blank=True, help_text="RARCs.")
    amount = models.DecimalField(max_digits=11, decimal_places=2)
    category = models.CharField(max_length=24)
    next_step = models.TextField()
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.OPEN)
    resolution = models.TextField(blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering: ClassVar = ["-created_at", "-id"]
        constraints: ClassVar = [
            models.CheckConstraint(
                condition=Q(status="open", resolved_at__isnull=True) | Q(status="resolved", resolved_at__isnull=False),
                name="denial_resolved_has_time",
            ),
        ]
        indexes: ClassVar = [
            models.Index(fields=["created_at", "reason"], name="denial_created_reason_idx"),
            models.Index(fields=["claim", "status"], name="denial_claim_status_idx"),
        ]

    def __str__(self) -> str:
        return f"Denial {self.group}-{self.reason} {self.amount} ({self.get_status_display()})"

    def audit_patient_id(self) -> int | None:
        return self.claim.patient_id


class AppealTemplate(models.Model):
    """An appeal letter in Django template syntax, kept by the practice (rendered with the claim's facts)."""

    name = models.CharField(max_length=80, unique=True)
    reasons = models.CharField(
        max_length=120, blank=True, help_text="CARCs this letter suits, comma-separated (empty: any)."
    )
    body = models.TextField()
    active = models.BooleanField(default=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering: ClassVar = ["name"]

    def __str__(self) -> str:
        return self.name


class Appeal(models.Model):
    """An appeal letter drafted for a denied claim, edited, then sent (the claim becomes appealed)."""

    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        SENT = "sent", "Sent"

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    claim = models.ForeignKey(Claim, on_delete=models.PROTECT, related_name="appeals")
    denial = models.ForeignKey(Denial, null=True, blank=True, on_delete=models.PROTECT, related_name="appeals")
    template_name = models.CharField(max_length=80)
    letter = models.TextField()
    status = models.CharField(max_length=5, choices=Status.choices, default=Status.DRAFT)
    sent_at = models.DateTimeField(null=True, blank=True)
    sent_by = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_by = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering: ClassVar = ["-created_at", "-id"]
        constraints: ClassVar = [
            # One letter being written per claim at a time: a second "draft" opens the first.
            models.UniqueConstraint(fields=["claim"], condition=Q(status="draft"), name="appeal_one_draft_per_claim"),
        ]

    def __str__(self) -> str:
        return f"Appeal of {self.claim.patient_control_number} ({self.get_status_display()})"

    def audit_patient_id(self) -> int | None:
        return self.claim.patient_id


# ---------------------------------------------------------------------------------------------
# Patients' balances
# ---------------------------------------------------------------------------------------------


class PatientPayment(models.Model):
    """Money a patient paid (at the desk, by mail, online), applied to the oldest balances first."""

    class Method(models.TextChoices):
        CASH = "cash", "Cash"
        CHECK = "check", "Check"
        CARD = "card", "Card"
        ONLINE = "online", "Online"

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    patient = models.ForeignKey("patients.Patient", on_delete=models.PROTECT, related_name="payments")
    amount = models.DecimalField(max_digits=11, decimal_places=2)
    method = models.CharField(max_length=6, choices=Method.choices)
    reference = models.CharField(max_length=60, blank=True, help_text="Check number, card receipt ...")
    received_on = models.DateField()
    note = models.CharField(max_length=300, blank=True)
    idempotency_key = models.CharField(max_length=64, blank=True, help_text="The form's token: a double submit is one.")
    recorded_by = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering: ClassVar = ["-received_on", "-id"]
        constraints: ClassVar = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="patientpayment_positive"),
            models.UniqueConstraint(
                fields=["patient", "idempotency_key"], condition=~Q(idempotency_key=""), name="patientpayment_once"
            ),
        ]

    def __str__(self) -> str:
        return f"Payment {self.amount} on {self.received_on}"

    def audit_patient_id(self) -> int | None:
        return self.patient_id


class PatientLedgerEntry(models.Model):
    """One line of a patient's account: + what the patient owes (PR from an 835), − payments and credits."""

    class Kind(models.TextChoices):
        INSURANCE = "insurance", "Patient responsibility (insurance)"  # PR adjustments, reversals negative
        PAYMENT = "payment", "Patient payment"
        ADJUSTMENT = "adjustment", "Adjustment"

    patient = models.ForeignKey("patients.Patient", on_delete=models.PROTECT, related_name="ledger")
    claim = models.ForeignKey(Claim, null=True, blank=True, on_delete=models.PROTECT, related_name="ledger")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    amount = models.DecimalField(max_digits=11, decimal_places=2, help_text="+ owed by the patient, − paid/credited.")
    description = models.CharField(max_length=200)
    remittance_claim = models.ForeignKey(
        RemittanceClaim, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    payment = models.ForeignKey(PatientPayment, null=True, blank=True, on_delete=models.PROTECT, related_name="entries")
    posted_on = models.DateField()
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering: ClassVar = ["posted_on", "id"]
        constraints: ClassVar = [
            # An 835 claim moves its patient responsibility once.
            models.UniqueConstraint(
                fields=["remittance_claim"], condition=Q(kind="insurance"), name="ledger_pr_once_per_remit_claim"
            ),
        ]
        indexes: ClassVar = [models.Index(fields=["patient", "posted_on"], name="ledger_patient_idx")]

    def __str__(self) -> str:
        return f"{self.posted_on} {self.description} {self.amount}"

    def audit_patient_id(self) -> int | None:
        return self.patient_id


class PatientBalance(models.Model):
    """What a patient owes now, since when, and the collections stage that age puts them in.

    Kept by billing/ledger.py in the same transaction as every ledger entry; the daily sweep
    moves the stage as the balance ages. No stage ever sends anything to an agency.
    """

    class Stage(models.TextChoices):
        NONE = "none", "No balance"
        CURRENT = "current", "Current"  # under 30 days: the statement is the only notice
        REMINDER = "reminder", "Reminder"  # 30-59 days: statements carry a reminder
        FINAL_NOTICE = "final_notice", "Final notice"  # 60-89 days: the statement is a final notice
        COLLECTIONS_REVIEW = "collections_review", "Collections review"  # 90+: a person reviews (work item)

    patient = models.OneToOneField("patients.Patient", on_delete=models.PROTECT, related_name="billing_balance")
    balance = models.DecimalField(max_digits=11, decimal_places=2, default=Decimal("0.00"))
    oldest_open_on = models.DateField(null=True, blank=True, help_text="Posting date of the oldest unpaid charge.")
    stage = models.CharField(max_length=20, choices=Stage.choices, default=Stage.NONE)
    last_statement_on = models.DateField(null=True, blank=True)
    last_payment_on = models.DateField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering: ClassVar = ["-balance"]
        indexes: ClassVar = [
            models.Index(fields=["oldest_open_on"], name="balance_open_idx", condition=Q(balance__gt=0)),
        ]

    def __str__(self) -> str:
        return f"Balance {self.balance} ({self.get_stage_display()})"

    def audit_patient_id(self) -> int | None:
        return self.patient_id


class StatementRun(models.Model):
    """One monthly statement cycle: a statement for every patient owing at least the minimum."""

    period = models.DateField(unique=True, help_text="First day of the month the run is for.")
    run_on = models.DateField()
    statements = models.PositiveIntegerField(default=0)
    total = models.DecimalField(max_digits=12, decimal_places=2, default=Decimal("0.00"))
    created_by = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering: ClassVar = ["-period"]

    def __str__(self) -> str:
        return f"Statements {self.period:%Y-%m} ({self.statements})"


class Statement(models.Model):
    """A patient's statement as printed: a snapshot of the open items, payments and the stage's notice."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    run = models.ForeignKey(StatementRun, on_delete=models.PROTECT, related_name="statement_set")
    patient = models.ForeignKey("patients.Patient", on_delete=models.PROTECT, related_name="statements")
    statement_date = models.DateField()
    due_date = models.DateField()
    balance = models.DecimalField(max_digits=11, decimal_places=2)
    stage = models.CharField(max_length=20, choices=PatientBalance.Stage.choices)
    lines = models.JSONField(default=list, help_text="Open items: date of service, payer, owed, paid, due.")
    payments = models.JSONField(default=list, help_text="Payments since the previous statement.")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering: ClassVar = ["-statement_date", "-id"]
        constraints: ClassVar = [
            models.UniqueConstraint(fields=["run", "patient"], name="statement_one_per_run"),
        ]

    def __str__(self) -> str:
        return f"Statement {self.statement_date} {self.balance}"

    def audit_patient_id(self) -> int | None:
        return self.patient_id
