"""Closed-loop referrals: the specialist directory, referrals with their contact history, follow-up rules."""

from __future__ import annotations

import uuid
from typing import ClassVar

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils import timezone

from vma.models import User
from vma.validators import validate_npi


class Specialist(models.Model):
    """A specialist (or a department) the practice refers to, and how the packet reaches them."""

    class Contact(models.TextChoices):
        FAX = "fax", "Fax"
        SECURE_MESSAGE = "secure_message", "Secure message (Direct)"
        API = "api", "Portal API (their system answers through a token)"

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    organisation = models.CharField(max_length=160)
    name = models.CharField(max_length=120, help_text="The clinician or department referrals go to.")
    specialty = models.CharField(max_length=80, help_text="As orders name it, e.g. Cardiology.")
    npi = models.CharField("NPI", max_length=10, unique=True, validators=[validate_npi])
    contact_method = models.CharField(max_length=16, choices=Contact.choices, default=Contact.FAX)
    fax = models.CharField(max_length=20, blank=True)
    secure_address = models.CharField("Direct address", max_length=200, blank=True)
    phone = models.CharField(max_length=20, blank=True)
    address = models.CharField(max_length=300, blank=True)
    accepted_payers = models.ManyToManyField(
        "patients.Payer", blank=True, related_name="specialists", help_text="Plans this specialist is in network for."
    )
    # The partner account whose API tokens (scope referrals:specialist) act as this specialist:
    # it sees and answers only the referrals addressed here.
    service_account = models.OneToOneField(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="specialist"
    )
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering: ClassVar = ["specialty", "organisation", "name"]
        indexes: ClassVar = [models.Index(fields=["specialty", "active"], name="specialist_specialty_idx")]
        constraints: ClassVar = [
            models.CheckConstraint(condition=~Q(contact_method="fax") | ~Q(fax=""), name="specialist_fax_has_number"),
            models.CheckConstraint(
                condition=~Q(contact_method="secure_message") | ~Q(secure_address=""),
                name="specialist_direct_has_address",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name}, {self.organisation} ({self.specialty})"

    @property
    def contact_detail(self) -> str:
        """Where the packet goes, as a person would read it."""
        if self.contact_method == self.Contact.FAX:
            return f"fax {self.fax}"
        if self.contact_method == self.Contact.SECURE_MESSAGE:
            return f"Direct {self.secure_address}"
        return "the specialist API"

    def clean(self) -> None:
        super().clean()
        needed = {
            self.Contact.FAX: ("fax", self.fax, "Give the fax number packets go to."),
            self.Contact.SECURE_MESSAGE: ("secure_address", self.secure_address, "Give the Direct address."),
        }.get(self.contact_method)  # type: ignore[call-overload]
        if needed and not needed[1].strip():
            raise ValidationError({needed[0]: needed[2]})
        if self.contact_method == self.Contact.API and self.service_account_id is None:
            raise ValidationError({"service_account": "An API specialist needs the partner account its tokens use."})
        if self.service_account_id is not None and not self.service_account.is_service_account:  # type: ignore[union-attr]
            raise ValidationError({"service_account": "Link a service account (a partner system), not a person."})


class FollowUpRule(models.Model):
    """The follow-up cadence as practice data: how long to wait before a follow-up item opens.

    Missing rows fall back to the defaults in referrals/followups.py; an inactive row stops that
    kind of follow-up. After an item opens, the next one opens the same wait later while the
    condition lasts (the item is closed by then, or it is still open and nothing doubles).
    """

    class Code(models.TextChoices):
        NO_ACK = "no_ack", "No acknowledgement after sending"
        NO_APPOINTMENT = "no_appointment", "No appointment after sending"
        NO_REPORT = "no_report", "No report after the specialist visit"

    code = models.CharField(max_length=20, choices=Code.choices, unique=True)
    days = models.PositiveSmallIntegerField()
    urgent_days = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text="For urgent and STAT referrals; empty: the same as routine."
    )
    business_days = models.BooleanField(default=True, help_text="Count Monday to Friday only.")
    active = models.BooleanField(default=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering: ClassVar = ["code"]

    def __str__(self) -> str:
        unit = "business days" if self.business_days else "days"
        return f"{self.get_code_display()}: {self.days} {unit}"


class Referral(models.Model):
    """A referral to a specialist, tracked until the report is in the chart and reviewed.

    Only referrals/workflow.py sets .status; each move is a ReferralContact row (who, when, how).
    """

    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"  # the packet is being prepared; nothing sent yet
        SENT = "sent", "Sent"  # the packet went out; awaiting the specialist's acknowledgement
        ACKNOWLEDGED = "acknowledged", "Acknowledged"  # the specialist accepted it; no appointment yet
        SCHEDULED = "scheduled", "Scheduled"  # the appointment date is known
        SEEN = "seen", "Seen"  # the patient was seen; awaiting the consult report
        REPORT_RECEIVED = "report_received", "Report received"  # filed to the chart; awaiting provider review
        CLOSED = "closed", "Closed"  # the provider reviewed the report: the loop is closed
        DECLINED = "declined", "Declined"  # the specialist declined it (reason kept)
        CANCELLED = "cancelled", "Cancelled"  # the practice cancelled it (reason kept)
        EXPIRED = "expired", "Expired"  # the plan's referral authorization expired unused (by rule)

    class Urgency(models.TextChoices):
        ROUTINE = "routine", "Routine"
        URGENT = "urgent", "Urgent"
        STAT = "stat", "STAT"

    OPEN_STATES: ClassVar[tuple[str, ...]] = (
        Status.DRAFT,
        Status.SENT,
        Status.ACKNOWLEDGED,
        Status.SCHEDULED,
        Status.SEEN,
        Status.REPORT_RECEIVED,
    )
    AWAITING_REPORT: ClassVar[tuple[str, ...]] = (Status.SENT, Status.ACKNOWLEDGED, Status.SCHEDULED, Status.SEEN)
    ENDED: ClassVar[tuple[str, ...]] = (Status.CLOSED, Status.DECLINED, Status.CANCELLED, Status.EXPIRED)

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    patient = models.ForeignKey("patients.Patient", on_delete=models.PROTECT, related_name="referrals")
    referring_provider = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    order = models.OneToOneField(
        "orders.Order", null=True, blank=True, on_delete=models.PROTECT, related_name="referral"
    )
    encounter = models.ForeignKey(
        "encounters.Encounter", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    specialist = models.ForeignKey(
        Specialist, null=True, blank=True, on_delete=models.PROTECT, related_name="referrals"
    )
    replaces = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="replacements",
        help_text="The declined or expired referral this one sends again.",
    )
    specialty = models.CharField(max_length=80)
    reason = models.CharField(max_length=300, blank=True, help_text="The clinical question for the specialist.")
    urgency = models.CharField(max_length=8, choices=Urgency.choices, default=Urgency.ROUTINE)
    diagnosis_code = models.CharField("ICD-10-CM", max_length=8, blank=True)
    diagnosis_description = models.CharField(max_length=250, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.DRAFT)
    status_reason = models.CharField(max_length=300, blank=True, help_text="Why it ended (or the last move's note).")
    # The packet (see referrals/packet.py for the checklist built from these).
    clinical_notes = models.TextField(blank=True, help_text="Relevant history and findings for the specialist.")
    documents = models.ManyToManyField(
        "patients.ChartDocument", blank=True, related_name="+", help_text="Results and records sent with the packet."
    )
    results_not_needed = models.BooleanField(default=False)
    results_note = models.CharField(max_length=300, blank=True, help_text="Why no results go with the packet.")
    coverage = models.ForeignKey(
        "patients.Coverage", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    self_pay = models.BooleanField(default=False, help_text="The patient pays the specialist directly (confirmed).")
    # The plan's referral authorization (HMO plans).
    authorization_number = models.CharField(max_length=40, blank=True)
    visits_allowed = models.PositiveSmallIntegerField(null=True, blank=True)
    visits_used = models.PositiveSmallIntegerField(default=0)
    authorization_expires_on = models.DateField(null=True, blank=True)
    auth_expiry_flagged_for = models.DateField(
        null=True, blank=True, help_text="The expiry date the 14-day warning was opened for (once per date)."
    )
    # The specialist's side.
    appointment_at = models.DateTimeField(null=True, blank=True)
    report_document = models.ForeignKey(
        "patients.ChartDocument", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Clocks: each set once by the move that reaches it (the dashboard reads them).
    created_at = models.DateTimeField(default=timezone.now)
    created_by = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    sent_at = models.DateTimeField(null=True, blank=True)
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    first_scheduled_at = models.DateTimeField(null=True, blank=True, help_text="When an appointment was first given.")
    seen_at = models.DateTimeField(null=True, blank=True)
    report_received_at = models.DateTimeField(null=True, blank=True)
    reviewed_at = models.DateTimeField(null=True, blank=True)
    reviewed_by = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    ended_at = models.DateTimeField(null=True, blank=True)
    followup_due_at = models.DateTimeField(
        null=True, blank=True, help_text="When the next follow-up item opens if nothing moves (the sweep's clock)."
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering: ClassVar = ["-created_at", "-id"]
        permissions: ClassVar = [
            ("review_referral", "Review consult reports and close the referral loop"),
            ("view_referral_dashboard", "Read the referral dashboard (own care teams)"),
            ("view_practice_referral_stats", "Read the referral dashboard for the whole practice (counts only)"),
            ("respond_referral", "Answer referrals as their specialist (partner accounts; never a role)"),
        ]
        indexes: ClassVar = [
            models.Index(fields=["patient", "status"], name="referral_patient_status_idx"),
            models.Index(fields=["status", "created_at"], name="referral_status_created_idx"),
            models.Index(fields=["specialist", "status"], name="referral_specialist_idx"),
            models.Index(fields=["sent_at"], name="referral_sent_idx"),
            # The dashboard's window reads "sent or reported since": a bitmap OR of the two indexes.
            models.Index(
                fields=["report_received_at"],
                condition=Q(report_received_at__isnull=False),
                name="referral_report_idx",
            ),
            models.Index(
                fields=["followup_due_at"], condition=Q(followup_due_at__isnull=False), name="referral_followup_idx"
            ),
        ]
        constraints: ClassVar = [
            models.CheckConstraint(
                condition=~Q(status__in=["closed", "declined", "cancelled", "expired"])
                | (~Q(status_reason="") & Q(ended_at__isnull=False)),
                name="referral_ended_has_reason",
            ),
            models.CheckConstraint(
                condition=Q(status="draft") | Q(sent_at__isnull=False) | Q(status="cancelled"),
                name="referral_sent_has_time",
            ),
            models.CheckConstraint(
                condition=~Q(status__in=["report_received", "closed"]) | Q(report_received_at__isnull=False),
                name="referral_report_has_time",
            ),
            models.CheckConstraint(
                condition=~Q(status="closed") | Q(reviewed_at__isnull=False), name="referral_closed_was_reviewed"
            ),
            models.CheckConstraint(
                condition=Q(visits_allowed__isnull=True) | Q(visits_allowed__gte=1), name="referral_visits_allowed_pos"
            ),
        ]

    def __str__(self) -> str:
        return f"Referral to {self.specialty} ({self.get_status_display()})"

    def audit_patient_id(self) -> int | None:
        return self.patient_id

    @property
    def is_open(self) -> bool:
        return self.status in self.OPEN_STATES

    @property
    def is_urgent(self) -> bool:
        return self.urgency != self.Urgency.ROUTINE

    @property
    def visits_left(self) -> int | None:
        return None if self.visits_allowed is None else max(self.visits_allowed - self.visits_used, 0)


class ReferralContact(models.Model):
    """One line of a referral's history: a move, a fax, a call, a message — who, when, how, what."""

    class Channel(models.TextChoices):
        FAX = "fax", "Fax"
        SECURE_MESSAGE = "secure_message", "Secure message"
        API = "api", "Specialist API"
        PHONE = "phone", "Phone"
        PORTAL = "portal", "Portal page"
        SYSTEM = "system", "System"

    class Direction(models.TextChoices):
        OUTBOUND = "out", "To the specialist"
        INBOUND = "in", "From the specialist"
        INTERNAL = "internal", "Internal"

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    referral = models.ForeignKey(Referral, on_delete=models.CASCADE, related_name="contacts")
    at = models.DateTimeField(default=timezone.now)
    by = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    channel = models.CharField(max_length=16, choices=Channel.choices)
    direction = models.CharField(max_length=8, choices=Direction.choices, default=Direction.INTERNAL)
    from_status = models.CharField(max_length=16, blank=True)
    to_status = models.CharField(max_length=16, blank=True)
    note = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering: ClassVar = ["at", "id"]
        indexes: ClassVar = [models.Index(fields=["referral", "at"], name="refcontact_referral_idx")]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.get_channel_display()}: {self.note[:40]}"

    def audit_patient_id(self) -> int | None:
        return self.referral.patient_id

    @property
    def by_label(self) -> str:
        if self.by is None:
            return "system"
        specialist = getattr(self.by, "specialist", None) if self.by.is_service_account else None
        return specialist.organisation if specialist is not None else str(self.by)
