"""Patient demographics, payers, coverage and chart documents."""

from __future__ import annotations

import uuid
from datetime import date
from typing import ClassVar

from django.core.validators import RegexValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone

from vma.models import CareTeam, User


class Patient(models.Model):
    """A person receiving care from the practice. Access is through the patient's care team."""

    class Sex(models.TextChoices):
        FEMALE = "F", "Female"
        MALE = "M", "Male"
        UNKNOWN = "U", "Unknown"

    class Channel(models.TextChoices):
        SMS = "sms", "Text message"
        EMAIL = "email", "Email"
        VOICE = "voice", "Phone call"
        PORTAL = "portal", "Patient portal"

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    mrn = models.CharField(
        "MRN",
        max_length=20,
        unique=True,
        validators=[RegexValidator(r"^[A-Z0-9-]{4,20}$", "Letters, digits and dashes.")],
    )
    first_name = models.CharField(max_length=80)
    last_name = models.CharField(max_length=80)
    date_of_birth = models.DateField()
    sex = models.CharField(max_length=1, choices=Sex.choices)
    phone = models.CharField(max_length=20, blank=True)
    email = models.EmailField(blank=True)
    address_line = models.CharField(max_length=200, blank=True)
    city = models.CharField(max_length=80, blank=True)
    state = models.CharField(max_length=2, blank=True)
    postal_code = models.CharField(max_length=10, blank=True)
    preferred_channel = models.CharField(max_length=10, choices=Channel.choices, default=Channel.SMS)
    language = models.CharField(max_length=40, default="English")
    care_team = models.ForeignKey(CareTeam, on_delete=models.PROTECT, related_name="patients")
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering: ClassVar = ["last_name", "first_name", "id"]
        indexes: ClassVar = [
            models.Index(fields=["last_name", "first_name"], name="patient_name_idx"),
            models.Index(fields=["date_of_birth"], name="patient_dob_idx"),
            models.Index(fields=["care_team", "last_name"], name="patient_team_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.last_name}, {self.first_name} ({self.mrn})"

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}"

    def age_on(self, day: date) -> int:
        dob = self.date_of_birth
        return day.year - dob.year - ((day.month, day.day) < (dob.month, dob.day))

    def audit_patient_id(self) -> int | None:
        return self.pk


class Payer(models.Model):
    """An insurance company or plan administrator, with its electronic payer id."""

    name = models.CharField(max_length=120)
    payer_id = models.CharField(max_length=20, unique=True, help_text="Electronic payer id (clearinghouse).")
    requires_referral = models.BooleanField(default=False, help_text="HMO-style plans.")
    timely_filing_days = models.PositiveIntegerField(default=365)
    active = models.BooleanField(default=True)

    class Meta:
        ordering: ClassVar = ["name"]

    def __str__(self) -> str:
        return self.name


class Coverage(models.Model):
    """A patient's insurance policy, primary or secondary."""

    class Rank(models.IntegerChoices):
        PRIMARY = 1, "Primary"
        SECONDARY = 2, "Secondary"
        TERTIARY = 3, "Tertiary"

    class Relation(models.TextChoices):
        SELF = "18", "Self"
        SPOUSE = "01", "Spouse"
        CHILD = "19", "Child"
        OTHER = "G8", "Other"

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="coverages")
    payer = models.ForeignKey(Payer, on_delete=models.PROTECT, related_name="coverages")
    rank = models.PositiveSmallIntegerField(choices=Rank.choices, default=Rank.PRIMARY)
    member_id = models.CharField(
        max_length=40, validators=[RegexValidator(r"^[A-Za-z0-9-]{2,40}$", "Letters, digits and dashes.")]
    )
    group_number = models.CharField(max_length=40, blank=True)
    plan_name = models.CharField(max_length=120, blank=True)
    subscriber_relation = models.CharField(max_length=2, choices=Relation.choices, default=Relation.SELF)
    subscriber_first_name = models.CharField(max_length=80, blank=True)
    subscriber_last_name = models.CharField(max_length=80, blank=True)
    subscriber_date_of_birth = models.DateField(null=True, blank=True)
    plan_begin = models.DateField(null=True, blank=True)
    plan_end = models.DateField(null=True, blank=True)
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering: ClassVar = ["patient", "rank"]
        constraints: ClassVar = [
            models.UniqueConstraint(
                fields=["patient", "rank"], condition=Q(active=True), name="coverage_one_active_per_rank"
            ),
            models.CheckConstraint(
                condition=Q(plan_end__isnull=True)
                | Q(plan_begin__isnull=True)
                | Q(plan_end__gte=models.F("plan_begin")),
                name="coverage_plan_dates_ordered",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.payer} {self.get_rank_display()} {self.member_id}"

    def audit_patient_id(self) -> int | None:
        return self.patient_id

    def in_force_on(self, day: date) -> bool:
        return (
            self.active
            and (self.plan_begin is None or self.plan_begin <= day)
            and (self.plan_end is None or day <= self.plan_end)
        )


def document_path(instance: ChartDocument, filename: str) -> str:
    # Never the patient's name or the uploaded file name in the path: ids only.
    return f"chart/{instance.patient.public_id}/{instance.public_id}"


class ChartDocument(models.Model):
    """A document in the chart: lab result, imaging report, consult note, outside records."""

    class Category(models.TextChoices):
        LAB_RESULT = "lab_result", "Lab result"
        IMAGING = "imaging", "Imaging report"
        CONSULT = "consult", "Consult note"
        HOSPITAL = "hospital", "Hospital / ER record"
        INSURANCE_CARD = "insurance_card", "Insurance card"
        CONSENT = "consent", "Consent form"
        CORRESPONDENCE = "correspondence", "Correspondence"
        OTHER = "other", "Other"

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="documents")
    category = models.CharField(max_length=20, choices=Category.choices)
    title = models.CharField(max_length=200)
    file = models.FileField(upload_to=document_path, max_length=300)
    content_type = models.CharField(max_length=100)
    size_bytes = models.PositiveIntegerField()
    received_at = models.DateTimeField(default=timezone.now)
    indexed_by = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    indexed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering: ClassVar = ["-received_at", "-id"]
        indexes: ClassVar = [models.Index(fields=["patient", "category", "received_at"], name="doc_patient_cat_idx")]

    def __str__(self) -> str:
        return f"{self.get_category_display()}: {self.title}"

    def audit_patient_id(self) -> int | None:
        return self.patient_id
