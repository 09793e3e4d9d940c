"""Eligibility checks: one X12 270 inquiry per coverage and visit, and what the payer's 271 said."""

from __future__ import annotations

import uuid
from typing import ClassVar

from django.db import models
from django.db.models import Q
from django.utils import timezone

from vma.models import User


def new_trace_number() -> str:
    # TRN02 allows 50 characters; a random hex id never repeats and says nothing about the patient.
    return uuid.uuid4().hex


class EligibilityCheck(models.Model):
    """One question to a payer: is this coverage active on the service date, and what is owed.

    Only eligibility/workflow.py sets .status.
    """

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"  # waiting for a worker to send the 270 (new, or a retry whose time came)
        SENT = "sent", "Sent"  # a worker took it and is waiting for the payer's 271 (until lease_until)
        ACTIVE = "active", "Active"  # the payer confirmed coverage on the service date; benefits recorded
        INACTIVE = "inactive", "Inactive"  # the payer says the coverage is not in force on the service date
        REJECTED = "rejected", "Rejected"  # the payer refused the inquiry (AAA): correct the data, see instruction
        ERROR = (
            "error",
            "Error",
        )  # no usable answer this time (time-out, payer busy, unreadable 271); retried at next_attempt_at
        FAILED = "failed", "Failed"  # gave up (retries exhausted or the 270 was refused); a work item says why

    IN_FLIGHT: ClassVar[tuple[str, ...]] = (Status.QUEUED, Status.SENT, Status.ERROR)
    ANSWERED: ClassVar[tuple[str, ...]] = (Status.ACTIVE, Status.INACTIVE, Status.REJECTED)
    FINISHED: ClassVar[tuple[str, ...]] = (Status.ACTIVE, Status.INACTIVE, Status.REJECTED, Status.FAILED)
    PROBLEMS: ClassVar[tuple[str, ...]] = (Status.INACTIVE, Status.REJECTED, Status.FAILED)

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    appointment = models.ForeignKey(
        "scheduling.Appointment",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="eligibility_checks",
        help_text="Empty for a check asked from the patient page with no visit booked.",
    )
    patient = models.ForeignKey("patients.Patient", on_delete=models.PROTECT, related_name="eligibility_checks")
    coverage = models.ForeignKey("patients.Coverage", on_delete=models.PROTECT, related_name="eligibility_checks")
    service_date = models.DateField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    attempts = models.PositiveSmallIntegerField(default=0, help_text="270s sent so far (each claim counts one).")
    next_attempt_at = models.DateTimeField(default=timezone.now, help_text="Queued or error: when to send (again).")
    lease_until = models.DateTimeField(null=True, blank=True, help_text="Sent: the worker's claim runs out then.")
    last_error = models.TextField(blank=True)
    raw_270 = models.TextField(blank=True)
    raw_271 = models.TextField(blank=True)
    trace_number = models.CharField(max_length=50, unique=True, default=new_trace_number, editable=False)
    requested_by = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    requested_at = models.DateTimeField(default=timezone.now)
    responded_at = models.DateTimeField(null=True, blank=True, help_text="When the payer's 271 arrived.")
    completed_at = models.DateTimeField(null=True, blank=True, help_text="When the check reached a final state.")
    updated_at = models.DateTimeField(auto_now=True)

    # What the 271 said, normalised for the front desk (None: the payer did not say).
    plan_begin = models.DateField(null=True, blank=True)
    plan_end = models.DateField(null=True, blank=True)
    copay_office = models.DecimalField(max_digits=9, decimal_places=2, null=True, blank=True)
    deductible_ind_total = models.DecimalField(max_digits=11, decimal_places=2, null=True, blank=True)
    deductible_ind_remaining = models.DecimalField(max_digits=11, decimal_places=2, null=True, blank=True)
    deductible_fam_total = models.DecimalField(max_digits=11, decimal_places=2, null=True, blank=True)
    deductible_fam_remaining = models.DecimalField(max_digits=11, decimal_places=2, null=True, blank=True)
    coinsurance_percent = models.DecimalField(max_digits=6, decimal_places=2, null=True, blank=True)
    oop_ind_total = models.DecimalField(max_digits=11, decimal_places=2, null=True, blank=True)
    oop_ind_remaining = models.DecimalField(max_digits=11, decimal_places=2, null=True, blank=True)
    oop_fam_total = models.DecimalField(max_digits=11, decimal_places=2, null=True, blank=True)
    oop_fam_remaining = models.DecimalField(max_digits=11, decimal_places=2, null=True, blank=True)
    in_network = models.BooleanField(null=True, blank=True, help_text="Whether the figures are in-network ones.")
    rejection_reason = models.CharField(max_length=3, blank=True, help_text="AAA03")
    rejection_follow_up = models.CharField(max_length=1, blank=True, help_text="AAA04")
    instruction = models.TextField(blank=True, help_text="What the front desk should do, in plain words.")
    amount_to_collect = models.DecimalField(
        max_digits=9, decimal_places=2, null=True, blank=True, help_text="The co-pay to collect at check-in."
    )

    class Meta:
        ordering: ClassVar = ["-requested_at", "-id"]
        constraints: ClassVar = [
            # The sweep may run twice, or a person may press "check now" twice: one inquiry in flight.
            models.UniqueConstraint(
                fields=["appointment", "coverage"],
                condition=Q(status__in=["queued", "sent", "error"], appointment__isnull=False),
                name="eligibility_one_in_flight_per_visit",
            ),
            # NULLs are distinct in a unique index: checks without a visit need their own rule.
            models.UniqueConstraint(
                fields=["coverage"],
                condition=Q(status__in=["queued", "sent", "error"], appointment__isnull=True),
                name="eligibility_one_in_flight_per_coverage",
            ),
            models.CheckConstraint(
                condition=~Q(status="sent") | Q(lease_until__isnull=False), name="eligibility_sent_has_lease"
            ),
            models.CheckConstraint(
                condition=Q(status__in=["active", "inactive", "rejected", "failed"], completed_at__isnull=False)
                | (~Q(status__in=["active", "inactive", "rejected", "failed"]) & Q(completed_at__isnull=True)),
                name="eligibility_completed_at_iff_finished",
            ),
        ]
        indexes: ClassVar = [
            # The sweeper's pick: due queued checks, expired leases, due retries.
            models.Index(
                fields=["status", "next_attempt_at"],
                condition=Q(status__in=["queued", "sent", "error"]),
                name="eligibility_due_idx",
            ),
            models.Index(fields=["appointment", "coverage", "requested_at"], name="eligibility_visit_idx"),
            models.Index(fields=["coverage", "requested_at"], name="eligibility_coverage_idx"),
            models.Index(fields=["patient", "requested_at"], name="eligibility_patient_idx"),
        ]

    def __str__(self) -> str:
        return f"Eligibility {self.service_date:%Y-%m-%d} ({self.get_status_display()})"

    @property
    def in_flight(self) -> bool:
        return self.status in self.IN_FLIGHT

    @property
    def is_problem(self) -> bool:
        return self.status in self.PROBLEMS

    def audit_patient_id(self) -> int | None:
        return self.patient_id


# ---------------------------------------------------------------------------------------------
# Prior authorizations (eligibility/priorauth.py is the only code that sets .status)
# ---------------------------------------------------------------------------------------------


class PriorAuthRule(models.Model):
    """Practice data: whether a payer (or any payer) wants prior authorization for a code or category.

    A manager keeps these in admin; the most specific rule in effect wins (see
    priorauth_services.authorization_required), so a payer-specific "not required" row is an exemption.
    """

    payer = models.ForeignKey(
        "patients.Payer",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="prior_auth_rules",
        help_text="Empty: the practice's default for every payer.",
    )
    code = models.CharField(
        max_length=40, blank=True, help_text="CPT/HCPCS code, NDC or drug name (matched without regard to case)."
    )
    category = models.CharField(
        max_length=60, blank=True, help_text='Used when no code is given, e.g. "advanced imaging", "specialty drug".'
    )
    required = models.BooleanField(default=True, help_text="Unticked: an exemption from a broader rule.")
    turnaround_days = models.PositiveSmallIntegerField(
        default=7, help_text="What this payer usually takes to decide (routine requests take 3-7 days)."
    )
    active = models.BooleanField(default=True)
    effective_from = models.DateField(default=timezone.localdate)
    effective_to = models.DateField(null=True, blank=True, help_text="Empty: until further notice.")
    notes = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering: ClassVar = ["payer__name", "code", "category", "-effective_from"]
        constraints: ClassVar = [
            models.CheckConstraint(condition=~Q(code="") | ~Q(category=""), name="priorauthrule_code_or_category"),
            models.CheckConstraint(
                condition=Q(effective_to__isnull=True) | Q(effective_to__gte=models.F("effective_from")),
                name="priorauthrule_dates_ordered",
            ),
        ]
        indexes: ClassVar = [models.Index(fields=["code"], name="priorauthrule_code_idx")]

    def __str__(self) -> str:
        what = self.code or self.category
        who = self.payer.name if self.payer_id else "any payer"  # type: ignore[union-attr]
        return f"{what} · {who}: {'required' if self.required else 'not required'}"


class PriorAuthorization(models.Model):
    """One request to a payer to approve a service before it is given. Only eligibility/priorauth.py sets .status."""

    class Status(models.TextChoices):
        REQUIRED = "required", "Required"  # a rule says the payer wants one; nothing sent yet
        SUBMITTED = "submitted", "Submitted"  # sent to the payer; the decision clock runs from submitted_at
        PENDING = "pending", "Pending"  # the payer acknowledged it (has a reference) and is reviewing
        APPROVED = "approved", "Approved"  # authorized as requested, with a number, units and dates
        PARTIALLY_APPROVED = "partially_approved", "Partially approved"  # authorized for fewer units than asked
        DENIED = "denied", "Denied"  # the payer refused; an appeal or peer-to-peer is the next step
        WITHDRAWN = "withdrawn", "Withdrawn"  # no longer needed (visit cancelled, order changed)
        EXPIRED = "expired", "Expired"  # the approval's dates ran out; a new request is needed

    class Urgency(models.TextChoices):
        EXPEDITED = "expedited", "Expedited (72 h)"
        STANDARD = "standard", "Standard (7 days)"

    OPEN: ClassVar[tuple[str, ...]] = (
        Status.REQUIRED,
        Status.SUBMITTED,
        Status.PENDING,
        Status.APPROVED,
        Status.PARTIALLY_APPROVED,
    )
    AWAITING_PAYER: ClassVar[tuple[str, ...]] = (Status.SUBMITTED, Status.PENDING)
    USABLE: ClassVar[tuple[str, ...]] = (Status.APPROVED, Status.PARTIALLY_APPROVED)

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    patient = models.ForeignKey("patients.Patient", on_delete=models.PROTECT, related_name="prior_authorizations")
    coverage = models.ForeignKey("patients.Coverage", on_delete=models.PROTECT, related_name="prior_authorizations")
    payer = models.ForeignKey("patients.Payer", on_delete=models.PROTECT, related_name="prior_authorizations")
    appointment = models.ForeignKey(
        "scheduling.Appointment",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="prior_authorizations",
        help_text="Empty for an order (a drug, imaging) not tied to a booked visit.",
    )
    rule = models.ForeignKey(
        PriorAuthRule, null=True, blank=True, on_delete=models.SET_NULL, related_name="authorizations"
    )
    service_code = models.CharField(max_length=40, blank=True, help_text="CPT/HCPCS code, NDC or drug name.")
    service_description = models.CharField(max_length=200, blank=True)
    category = models.CharField(max_length=60, blank=True)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.REQUIRED)
    urgency = models.CharField(max_length=10, choices=Urgency.choices, default=Urgency.STANDARD)
    submitted_at = models.DateTimeField(null=True, blank=True)
    decision_due_at = models.DateTimeField(
        null=True, blank=True, help_text="CMS-0057-F: expedited 72 h, standard 7 calendar days after submission."
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    last_contact_at = models.DateTimeField(
        null=True, blank=True, help_text="Last time we heard from or called the payer."
    )
    next_follow_up_at = models.DateTimeField(
        null=True, blank=True, help_text="Submitted or pending: when the sweeper opens the next follow-up item."
    )
    deadline_flagged_at = models.DateTimeField(
        null=True, blank=True, help_text="When the sweeper raised the passed decision deadline (once)."
    )
    expiry_flagged_at = models.DateTimeField(
        null=True, blank=True, help_text="When an item about the approval running out was opened (once)."
    )
    payer_reference = models.CharField(max_length=60, blank=True)
    authorization_number = models.CharField(max_length=60, blank=True)
    requested_units = models.PositiveIntegerField(null=True, blank=True, help_text="Units or visits asked for.")
    approved_units = models.PositiveIntegerField(null=True, blank=True)
    units_used = models.PositiveIntegerField(default=0)
    valid_from = models.DateField(null=True, blank=True)
    valid_to = models.DateField(null=True, blank=True)
    decision_reason = models.TextField(blank=True, help_text="The payer's reason for a denial, or why withdrawn.")
    supporting_documents = models.ManyToManyField("patients.ChartDocument", blank=True, related_name="+")
    notes = models.TextField(blank=True)
    created_by = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    submitted_by = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    decided_by = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    updated_by = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering: ClassVar = ["-created_at", "-id"]
        constraints: ClassVar = [
            # open_for_appointment may run twice (booking retried, two people): one open request.
            models.UniqueConstraint(
                fields=["patient", "coverage", "service_code", "appointment"],
                condition=Q(
                    status__in=["required", "submitted", "pending", "approved", "partially_approved"],
                    appointment__isnull=False,
                ),
                name="priorauth_one_open_per_service_visit",
            ),
            # NULLs are distinct in a unique index: an order's request (no visit) needs its own rule.
            models.UniqueConstraint(
                fields=["patient", "coverage", "service_code"],
                condition=Q(
                    status__in=["required", "submitted", "pending", "approved", "partially_approved"],
                    appointment__isnull=True,
                ),
                name="priorauth_one_open_per_service",
            ),
            models.CheckConstraint(
                condition=Q(status__in=["required", "withdrawn"])
                | Q(submitted_at__isnull=False, decision_due_at__isnull=False),
                name="priorauth_submitted_has_deadline",
            ),
            models.CheckConstraint(
                condition=~Q(status__in=["approved", "partially_approved", "expired"])
                | Q(approved_units__isnull=False, valid_from__isnull=False, valid_to__isnull=False),
                name="priorauth_approval_has_terms",
            ),
            models.CheckConstraint(
                condition=Q(approved_units__isnull=True) | Q(units_used__lte=models.F("approved_units")),
                name="priorauth_no_overuse",
            ),
            models.CheckConstraint(
                condition=Q(valid_to__isnull=True)
                | Q(valid_from__isnull=True)
                | Q(valid_to__gte=models.F("valid_from")),
                name="priorauth_valid_dates_ordered",
            ),
        ]
        indexes: ClassVar = [
            # The sweeper's picks: awaiting the payer by follow-up time, and approvals by end date.
            models.Index(
                fields=["status", "next_follow_up_at"],
                condition=Q(status__in=["submitted", "pending"]),
                name="priorauth_awaiting_idx",
            ),
            models.Index(
                fields=["status", "valid_to"],
                condition=Q(status__in=["approved", "partially_approved"]),
                name="priorauth_usable_idx",
            ),
            models.Index(fields=["patient", "created_at"], name="priorauth_patient_idx"),
        ]

    def __str__(self) -> str:
        return f"Prior auth {self.service_code or self.category} ({self.get_status_display()})"

    @property
    def is_open(self) -> bool:
        return self.status in self.OPEN

    @property
    def awaiting_payer(self) -> bool:
        return self.status in self.AWAITING_PAYER

    @property
    def is_overdue(self) -> bool:
        return self.awaiting_payer and self.decision_due_at is not None and self.decision_due_at < timezone.now()

    @property
    def units_left(self) -> int | None:
        return None if self.approved_units is None else self.approved_units - self.units_used

    def audit_patient_id(self) -> int | None:
        return self.patient_id
