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
