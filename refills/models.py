"""Refills: requests from pharmacies, the portal and the phone; protocols and red-flag terms as practice data."""

from __future__ import annotations

import uuid
from typing import Any, ClassVar

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils import timezone

from vma.roles import Role

# Same meaning as orders.models.Order.Schedule (DEA schedules); kept here so this app's data stands alone.
SCHEDULE_CHOICES = [
    ("", "Not controlled"),
    ("CII", "Schedule II"),
    ("CIII", "Schedule III"),
    ("CIV", "Schedule IV"),
    ("CV", "Schedule V"),
]


class MedicationClass(models.Model):
    """A class of drugs, recognised by name patterns. A controlled class never passes a protocol."""

    code = models.SlugField(max_length=40, unique=True)
    name = models.CharField(max_length=120)
    drug_patterns = models.JSONField(
        default=list,
        help_text='Drug names matched as whole words, case-insensitive; "*" stands for letters '
        '(e.g. "atorvastatin", "*sartan"). Prefer full names: "*statin" would also match nystatin.',
    )
    controlled_schedule = models.CharField(
        max_length=4, choices=SCHEDULE_CHOICES, blank=True, default="", help_text="DEA schedule of the class, if any."
    )
    active = models.BooleanField(default=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering: ClassVar = ["name"]
        verbose_name_plural = "medication classes"

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        patterns = self.drug_patterns
        if (
            not isinstance(patterns, list)
            or not patterns
            or not all(isinstance(p, str) and p.strip() for p in patterns)
        ):
            raise ValidationError({"drug_patterns": "List at least one drug name (text)."})
        bad = [p for p in patterns if not all(c.isalnum() or c in " -*" for c in p.strip())]
        if bad:
            raise ValidationError(
                {"drug_patterns": f"Use letters, digits, spaces, '-' and '*' only: {', '.join(bad)}."}
            )


class RefillProtocol(models.Model):
    """When a VMA may pend a refill of a medication class for signature without provider review."""

    medication_class = models.OneToOneField(MedicationClass, on_delete=models.CASCADE, related_name="protocol")
    visit_within_months = models.PositiveSmallIntegerField(
        default=12, help_text="Last completed visit with the prescriber within this many months."
    )
    required_labs = models.JSONField(
        default=list,
        blank=True,
        help_text='Each: {"name": "Lipid panel", "months": 12, "match": ["lipid panel", "lipid profile"], '
        '"procedure": "lipid_panel"}. Evidence: a filed lab result or a received expected result whose title '
        "contains a match term, or a recorded procedure of that code.",
    )
    max_refills = models.PositiveSmallIntegerField(default=3, help_text="Most refills one authorization may carry.")
    max_days_supply = models.PositiveSmallIntegerField(default=90, help_text="Most days' supply per fill.")
    active = models.BooleanField(default=True)
    note = models.CharField(max_length=300, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering: ClassVar = ["medication_class__name"]

    def __str__(self) -> str:
        return f"{self.medication_class.name} protocol"

    def clean(self) -> None:
        validate_required_labs(self.required_labs)
        if self.visit_within_months == 0 or self.max_days_supply == 0:
            raise ValidationError("Months and days' supply must be at least 1.")


def validate_required_labs(labs: Any) -> None:
    """Refuse lab lines the check could not evaluate, saying what is wrong."""
    from patients.models import ProcedureCode

    if not isinstance(labs, list):
        raise ValidationError({"required_labs": "A list of labs (may be empty)."})
    for i, lab in enumerate(labs, 1):
        if not isinstance(lab, dict) or not str(lab.get("name", "")).strip():
            raise ValidationError({"required_labs": f"Lab {i}: give a name."})
        months = lab.get("months")
        if not isinstance(months, int) or isinstance(months, bool) or months <= 0:
            raise ValidationError({"required_labs": f"Lab {i}: months must be a positive whole number."})
        match = lab.get("match", [])
        if not isinstance(match, list) or not all(isinstance(m, str) and m.strip() for m in match):
            raise ValidationError({"required_labs": f"Lab {i}: match is a list of title words."})
        procedure = lab.get("procedure", "")
        if procedure and procedure not in ProcedureCode.values:
            raise ValidationError({"required_labs": f"Lab {i}: unknown procedure code {procedure}."})
        if not match and not procedure:
            raise ValidationError({"required_labs": f"Lab {i}: give match words or a procedure code."})


class RedFlagTerm(models.Model):
    """A phrase in a request that hands it to a licensed person at once (whole words, any case)."""

    term = models.CharField(max_length=80, unique=True)
    queue = models.CharField(
        max_length=32,
        choices=[(r.value, r.label) for r in Role if r not in (Role.ADMIN, Role.BILLING, Role.FRONT_OFFICE)],
        default=Role.NURSE,
        help_text="The queue that receives the escalation.",
    )
    active = models.BooleanField(default=True)

    class Meta:
        ordering: ClassVar = ["term"]

    def __str__(self) -> str:
        return self.term

    def save(self, *args: Any, **kwargs: Any) -> None:
        self.term = " ".join(self.term.split()).lower()
        super().save(*args, **kwargs)


class RefillRequest(models.Model):
    """One request to refill a medication. Only refills/workflow.py sets .status."""

    class Status(models.TextChoices):
        RECEIVED = "received", "Received"  # recorded; the protocol check has not run yet
        CHECKED = "checked", "Checked"  # the check ran; routed at once to one of the three below
        PENDED = "pended", "Pended for signature"  # protocol met (or approved): in the provider's signing queue
        NEEDS_APPOINTMENT = "needs_appointment", "Needs appointment"  # last visit too old: front office books one
        NEEDS_REVIEW = "needs_review", "Needs provider review"  # protocol not met or not applicable
        SIGNED = "signed", "Signed"  # authorized by the provider; pharmacy and patient being told
        DENIED = "denied", "Denied"  # refused by the provider with a reason; pharmacy and patient being told
        NOTIFIED = "notified", "Notified"  # pharmacy and patient told (turnaround ends here)
        CLOSED = "closed", "Closed"  # nothing left to do
        MERGED = "merged", "Merged"  # a duplicate of an open request; answered with that one
        CANCELLED = "cancelled", "Cancelled"  # withdrawn (the patient no longer needs it), with a reason

    class Source(models.TextChoices):
        PHARMACY = "pharmacy", "Pharmacy"
        PORTAL = "portal", "Patient portal"
        PHONE = "phone", "Phone call"

    class Urgency(models.TextChoices):
        ROUTINE = "routine", "Routine"
        URGENT = "urgent", "Urgent (out of medication)"

    class PharmacyStatus(models.TextChoices):
        NONE = "", "Not sent"
        ACCEPTED = "accepted", "Accepted"
        REFUSED = "refused", "Refused"
        BY_PHONE = "by_phone", "Told by phone"

    # Open: a new request for the same medication merges into it. Every other state is final.
    OPEN_STATES: ClassVar[tuple[str, ...]] = (
        Status.RECEIVED,
        Status.CHECKED,
        Status.PENDED,
        Status.NEEDS_APPOINTMENT,
        Status.NEEDS_REVIEW,
        Status.SIGNED,
        Status.DENIED,
        Status.NOTIFIED,
    )
    # A decision is still to be made (the provider's or, for a bridge refill, the front office's).
    UNDECIDED: ClassVar[tuple[str, ...]] = (
        Status.RECEIVED,
        Status.CHECKED,
        Status.PENDED,
        Status.NEEDS_APPOINTMENT,
        Status.NEEDS_REVIEW,
    )

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    patient = models.ForeignKey("patients.Patient", on_delete=models.PROTECT, related_name="refill_requests")
    provider = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="refills_to_decide",
        help_text="The prescriber who decides: the original prescription's, else the care team's provider.",
    )
    source = models.CharField(max_length=10, choices=Source.choices)
    # What is asked for
    medication = models.ForeignKey(
        "patients.Medication",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="refill_requests",
        help_text="The chart's medication, when the request matched one.",
    )
    medication_text = models.CharField(max_length=200, help_text="As requested.")
    medication_key = models.CharField(max_length=200, help_text="Normalised name: duplicates share it.")
    medication_class = models.ForeignKey(
        MedicationClass, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    prescription = models.ForeignKey(
        "orders.Order", null=True, blank=True, on_delete=models.SET_NULL, related_name="refill_requests"
    )
    strength = models.CharField(max_length=60, blank=True)
    sig = models.CharField("Sig (directions)", max_length=200, blank=True)
    quantity = models.PositiveIntegerField(null=True, blank=True)
    days_supply = models.PositiveSmallIntegerField(null=True, blank=True)
    refills = models.PositiveSmallIntegerField(null=True, blank=True, help_text="Refills asked for.")
    controlled_schedule = models.CharField(max_length=4, choices=SCHEDULE_CHOICES, blank=True, default="")
    pharmacy = models.CharField(max_length=200)
    # Who asked, how, how urgently
    requester = models.CharField(max_length=200, help_text="The patient, a caregiver or the pharmacy (name).")
    callback_phone = models.CharField(max_length=20, blank=True)
    urgency = models.CharField(max_length=8, choices=Urgency.choices, default=Urgency.ROUTINE)
    request_text = models.TextField(blank=True, max_length=2000, help_text="What the requester said or wrote.")
    red_flags = models.JSONField(default=list, blank=True, help_text="Red-flag terms found in the request text.")
    received_at = models.DateTimeField(default=timezone.now)
    received_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="Who recorded it: a VMA, or a pharmacy's service account.",
    )
    due_at = models.DateTimeField(help_text="Turnaround: same day if received by noon, else the next business day.")
    # Workflow
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.RECEIVED)
    merged_into = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT, related_name="duplicates")
    check_lines = models.JSONField(default=list, blank=True, help_text="The last protocol check, line by line.")
    check_outcome = models.CharField(max_length=20, blank=True)
    checked_at = models.DateTimeField(null=True, blank=True)
    checked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    pended_at = models.DateTimeField(null=True, blank=True)
    pended_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    pended_note = models.CharField(max_length=300, blank=True)
    returned_comment = models.CharField(max_length=500, blank=True)
    # The decision: who, when, and a hash of exactly what was authorized.
    signed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    signed_at = models.DateTimeField(null=True, blank=True)
    signed_hash = models.CharField(max_length=64, blank=True)
    denied_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    denied_at = models.DateTimeField(null=True, blank=True)
    deny_reason = models.CharField(max_length=300, blank=True)
    cancel_reason = models.CharField(max_length=300, blank=True)
    # Telling the pharmacy and the patient
    pharmacy_status = models.CharField(max_length=10, choices=PharmacyStatus.choices, blank=True, default="")
    pharmacy_reference = models.CharField(max_length=200, blank=True, help_text="Confirmation, or why refused.")
    pharmacy_notified_at = models.DateTimeField(null=True, blank=True)
    patient_notified_at = models.DateTimeField(null=True, blank=True)
    patient_channel = models.CharField(max_length=10, blank=True, help_text="sms, email, voice or phone (by a VMA).")
    notified_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering: ClassVar = ["due_at", "id"]
        permissions: ClassVar = [
            ("work_refillrequest", "Check refill requests against protocol, amend, cancel, resolve notifications"),
            ("sign_refillrequest", "Sign or deny refills (providers only, own patients)"),
        ]
        constraints: ClassVar = [
            # Never double-worked: one open request per patient and medication; a duplicate merges.
            models.UniqueConstraint(
                fields=["patient", "medication_key"],
                condition=Q(
                    status__in=[
                        "received",
                        "checked",
                        "pended",
                        "needs_appointment",
                        "needs_review",
                        "signed",
                        "denied",
                        "notified",
                    ]
                ),
                name="refill_one_open_per_medication",
            ),
            models.CheckConstraint(
                condition=~Q(status="signed") | (Q(signed_at__isnull=False) & ~Q(signed_hash="")),
                name="refill_signed_has_signature",
            ),
            models.CheckConstraint(
                condition=~Q(status="denied") | (Q(denied_at__isnull=False) & ~Q(deny_reason="")),
                name="refill_denied_has_reason",
            ),
            models.CheckConstraint(
                condition=Q(status="merged", merged_into__isnull=False) | (~Q(status="merged") & Q(merged_into=None)),
                name="refill_merged_iff_target",
            ),
        ]
        indexes: ClassVar = [
            models.Index(fields=["provider", "status"], name="refill_provider_status_idx"),
            models.Index(fields=["status", "due_at"], name="refill_status_due_idx"),
            models.Index(fields=["patient", "status"], name="refill_patient_status_idx"),
            models.Index(fields=["received_by", "received_at"], name="refill_received_by_idx"),
            models.Index(fields=["received_at"], name="refill_received_at_idx"),
        ]

    def __str__(self) -> str:
        return f"Refill {self.medication_text} ({self.get_status_display()})"

    def audit_patient_id(self) -> int | None:
        return self.patient_id

    @property
    def is_controlled(self) -> bool:
        return bool(self.controlled_schedule)

    @property
    def is_open(self) -> bool:
        return self.status in self.OPEN_STATES

    @property
    def is_overdue(self) -> bool:
        return self.status in self.UNDECIDED and self.due_at < timezone.now()

    @property
    def turnaround(self) -> Any:
        return (self.notified_at - self.received_at) if self.notified_at else None

    @property
    def display_name(self) -> str:
        return " ".join(p for p in (self.medication_text, self.strength) if p)


class RefillEvent(models.Model):
    """The history of a request: who moved it, when, from what to what, and why."""

    request = models.ForeignKey(RefillRequest, on_delete=models.CASCADE, related_name="events")
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    action = models.CharField(max_length=32)
    from_status = models.CharField(max_length=20, blank=True)
    to_status = models.CharField(max_length=20)
    note = models.TextField(blank=True)
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering: ClassVar = ["at", "id"]

    def audit_patient_id(self) -> int | None:
        return self.request.patient_id
