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


# ---------------------------------------------------------------------------------------------
# Clinical history: kept simply enough for care-gap rules and standing orders to work.
# ---------------------------------------------------------------------------------------------


class HistoryRecord(models.Model):
    """Common columns of a history row: who recorded it, when."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    recorded_by = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True

    def audit_patient_id(self) -> int | None:
        return self.patient_id  # type: ignore[attr-defined, no-any-return]


class Problem(HistoryRecord):
    """A diagnosis on the problem list, coded in ICD-10-CM (billable codes only)."""

    class Status(models.TextChoices):
        ACTIVE = "active", "Active"  # counts for care-gap and standing-order rules
        RESOLVED = "resolved", "Resolved"  # kept for history, counts for nothing

    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="problems")
    code = models.CharField("ICD-10-CM", max_length=8, help_text="Stored normalised, with the dot: E11.9.")
    description = models.CharField(max_length=250)
    onset_date = models.DateField(null=True, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.ACTIVE)
    resolved_on = models.DateField(null=True, blank=True)

    class Meta:
        ordering: ClassVar = ["status", "code"]
        indexes: ClassVar = [models.Index(fields=["patient", "status"], name="problem_patient_status_idx")]
        constraints: ClassVar = [
            models.UniqueConstraint(
                fields=["patient", "code"], condition=Q(status="active"), name="problem_one_active_per_code"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.code} {self.description}"


class Medication(HistoryRecord):
    """A medication the patient takes or took. Active while it has no stop date in the past."""

    class Source(models.TextChoices):
        CLINICIAN = "clinician", "Clinician"
        PATIENT_REPORTED = "patient_reported", "Patient-reported"

    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="medications")
    name = models.CharField(max_length=200)
    dose = models.CharField(max_length=100, blank=True)
    sig = models.CharField("Sig (directions)", max_length=200, blank=True)
    start_date = models.DateField(null=True, blank=True)
    stop_date = models.DateField(null=True, blank=True)
    stop_reason = models.CharField(max_length=300, blank=True, help_text="Why it was stopped (shown on the chart).")
    source = models.CharField(max_length=20, choices=Source.choices, default=Source.CLINICIAN)

    class Meta:
        ordering: ClassVar = ["name", "id"]
        indexes: ClassVar = [models.Index(fields=["patient", "stop_date"], name="med_patient_stop_idx")]
        constraints: ClassVar = [
            models.CheckConstraint(
                condition=Q(stop_date__isnull=True)
                | Q(start_date__isnull=True)
                | Q(stop_date__gte=models.F("start_date")),
                name="medication_dates_ordered",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} {self.dose}".strip()

    def active_on(self, day: date) -> bool:
        return self.stop_date is None or self.stop_date >= day


class Allergy(HistoryRecord):
    """An allergy or intolerance: the substance, what it does, how bad."""

    class Severity(models.TextChoices):
        MILD = "mild", "Mild"
        MODERATE = "moderate", "Moderate"
        SEVERE = "severe", "Severe"
        UNKNOWN = "unknown", "Unknown"

    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="allergies")
    substance = models.CharField(max_length=200)
    reaction = models.CharField(max_length=200, blank=True)
    severity = models.CharField(max_length=10, choices=Severity.choices, default=Severity.UNKNOWN)

    class Meta:
        ordering: ClassVar = ["substance", "id"]
        verbose_name_plural = "allergies"

    def __str__(self) -> str:
        return self.substance


class Immunization(HistoryRecord):
    """A vaccine given, with its CDC CVX code (what care-gap rules match on)."""

    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="immunizations")
    vaccine = models.CharField(max_length=200)
    cvx_code = models.CharField(
        "CVX code", max_length=3, validators=[RegexValidator(r"^\d{1,3}$", "The CVX code is 1 to 3 digits.")]
    )
    given_on = models.DateField()
    document = models.ForeignKey(
        "ChartDocument", null=True, blank=True, on_delete=models.SET_NULL, related_name="immunizations"
    )

    class Meta:
        ordering: ClassVar = ["-given_on", "-id"]
        indexes: ClassVar = [models.Index(fields=["patient", "cvx_code", "given_on"], name="imm_patient_cvx_idx")]

    def __str__(self) -> str:
        return f"{self.vaccine} ({self.given_on:%m/%d/%Y})"


class ProcedureCode(models.TextChoices):
    """The practice's short list of procedures and measurements that care-gap rules look for."""

    MAMMOGRAM = "mammogram", "Mammogram"
    COLONOSCOPY = "colonoscopy", "Colonoscopy"
    FIT = "fit", "FIT (fecal immunochemical test)"
    FIT_DNA = "fit_dna", "FIT-DNA (stool DNA test)"
    FLEX_SIG = "flex_sig", "Flexible sigmoidoscopy"
    CT_COLONOGRAPHY = "ct_colonography", "CT colonography"
    CERVICAL_CYTOLOGY = "cervical_cytology", "Cervical cytology (Pap)"
    HPV_TEST = "hpv_test", "HPV test"
    HBA1C = "hba1c", "HbA1c"
    BP_READING = "bp_reading", "Blood pressure reading"
    LIPID_PANEL = "lipid_panel", "Lipid panel"
    TSH = "tsh", "TSH"
    EYE_EXAM = "eye_exam", "Diabetic eye exam"
    URINE_ALBUMIN = "urine_albumin", "Urine albumin-creatinine ratio"


class Procedure(HistoryRecord):
    """A procedure or measurement done, on a date, with an optional value and its document."""

    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="procedures")
    code = models.CharField(max_length=30, choices=ProcedureCode.choices)
    performed_on = models.DateField()
    value = models.CharField(max_length=40, blank=True, help_text="e.g. 132/84 for a BP reading, 7.2 for an HbA1c.")
    document = models.ForeignKey(
        "ChartDocument", null=True, blank=True, on_delete=models.SET_NULL, related_name="procedures"
    )

    class Meta:
        ordering: ClassVar = ["-performed_on", "-id"]
        indexes: ClassVar = [models.Index(fields=["patient", "code", "performed_on"], name="proc_patient_code_idx")]

    def __str__(self) -> str:
        return f"{self.get_code_display()} {self.performed_on:%m/%d/%Y}"


# ---------------------------------------------------------------------------------------------
# Outstanding results, and documents a partner posted that matched no patient
# ---------------------------------------------------------------------------------------------


class ExpectedResult(models.Model):
    """An order or referral awaiting its result: outstanding until a matching document is filed."""

    class Status(models.TextChoices):
        OUTSTANDING = "outstanding", "Outstanding"  # awaited; past expected_by it opens a work item
        RECEIVED = "received", "Received"  # a filed document is linked as the result
        CANCELLED = "cancelled", "Cancelled"  # no longer awaited (reason kept)

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="expected_results")
    title = models.CharField(max_length=200)
    category = models.CharField(max_length=20, choices=ChartDocument.Category.choices)
    source = models.CharField(max_length=200, blank=True, help_text="The order or referral it comes from.")
    ordered_at = models.DateField(default=timezone.localdate)
    expected_by = models.DateField()
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.OUTSTANDING)
    document = models.ForeignKey(
        ChartDocument, null=True, blank=True, on_delete=models.SET_NULL, related_name="fulfils"
    )
    received_at = models.DateTimeField(null=True, blank=True)
    matched_by = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    cancel_reason = models.CharField(max_length=300, blank=True)
    overdue_flagged_at = models.DateTimeField(
        null=True, blank=True, help_text="When the sweep opened its overdue work item (once per wait)."
    )
    created_by = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering: ClassVar = ["expected_by", "id"]
        indexes: ClassVar = [
            models.Index(fields=["patient", "status"], name="expres_patient_status_idx"),
            models.Index(fields=["status", "expected_by"], name="expres_status_due_idx"),
        ]
        constraints: ClassVar = [
            models.CheckConstraint(
                condition=~Q(status="received") | Q(document__isnull=False), name="expres_received_has_document"
            ),
            models.CheckConstraint(condition=Q(expected_by__gte=models.F("ordered_at")), name="expres_dates_ordered"),
        ]

    def __str__(self) -> str:
        return f"{self.title} (by {self.expected_by:%m/%d/%Y})"

    def audit_patient_id(self) -> int | None:
        return self.patient_id


def unmatched_path(instance: UnmatchedDocument, filename: str) -> str:
    return f"incoming/{instance.public_id}"


class UnmatchedDocument(models.Model):
    """A partner's document that matched no patient: kept, never lost, until someone files it."""

    class Status(models.TextChoices):
        PENDING = "pending", "Awaiting filing"
        FILED = "filed", "Filed to a chart"
        DISCARDED = "discarded", "Discarded"

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    category = models.CharField(max_length=20, choices=ChartDocument.Category.choices)
    title = models.CharField(max_length=200)
    file = models.FileField(upload_to=unmatched_path, max_length=300)
    content_type = models.CharField(max_length=100)
    size_bytes = models.PositiveIntegerField()
    claimed_mrn = models.CharField(max_length=40)
    claimed_date_of_birth = models.DateField(null=True, blank=True)
    reason = models.CharField(max_length=300)
    posted_by = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    received_at = models.DateTimeField(default=timezone.now)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    filed_document = models.OneToOneField(
        ChartDocument, null=True, blank=True, on_delete=models.SET_NULL, related_name="arrived_as"
    )
    resolved_by = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolution_note = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering: ClassVar = ["-received_at", "-id"]

    def __str__(self) -> str:
        return f"Unmatched {self.get_category_display().lower()}: {self.title}"

    def audit_patient_id(self) -> int | None:
        return self.filed_document.patient_id if self.filed_document_id else None  # type: ignore[union-attr]


# ---------------------------------------------------------------------------------------------
# Care-gap rules and standing-order protocols: practice data, kept by the manager in admin
# ---------------------------------------------------------------------------------------------


class CareGapRule(models.Model):
    """Who is eligible (age, sex, problem) and what closes the gap (evidence within an interval).

    `evidence` is a list of options; any one closes the gap, e.g.
    [{"procedure": "fit", "months": 12}, {"procedure": "colonoscopy", "months": 120}]
    [{"cvx": ["33", "133"], "label": "pneumococcal vaccine"}]            (no months: ever)
    [{"procedure": "hpv_test", "months": 60, "min_age": 30}]           (an option for some ages)
    Seasonal rules (influenza) are due only in season (Aug 1 – Mar 31) and close with evidence
    given since the season began.
    """

    class Sex(models.TextChoices):
        ANY = "any", "Any"
        FEMALE = "F", "Female"
        MALE = "M", "Male"

    code = models.SlugField(max_length=60, unique=True)
    title = models.CharField(max_length=120)
    sex = models.CharField(max_length=3, choices=Sex.choices, default=Sex.ANY)
    min_age = models.PositiveSmallIntegerField(null=True, blank=True, help_text="Inclusive.")
    max_age = models.PositiveSmallIntegerField(null=True, blank=True, help_text="Inclusive.")
    problem_prefixes = models.JSONField(
        default=list, blank=True, help_text='Active problem ICD-10 prefixes required (any one), e.g. ["E10", "E11"].'
    )
    problem_label = models.CharField(max_length=80, blank=True, help_text="e.g. Diabetes")
    evidence = models.JSONField(help_text="Options that close the gap (see the model's docstring).")
    seasonal = models.BooleanField(default=False, help_text="Influenza season: due Aug 1 – Mar 31.")
    active = models.BooleanField(default=True)
    sort_order = models.PositiveSmallIntegerField(default=100)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering: ClassVar = ["sort_order", "code"]
        constraints: ClassVar = [
            models.CheckConstraint(
                condition=Q(min_age__isnull=True) | Q(max_age__isnull=True) | Q(max_age__gte=models.F("min_age")),
                name="caregap_ages_ordered",
            ),
        ]

    def __str__(self) -> str:
        return self.title

    def clean(self) -> None:
        from .caregaps import validate_evidence

        validate_evidence(self.evidence, seasonal=self.seasonal)


class StandingOrderProtocol(models.Model):
    """A protocol suggesting an order: who (problem or medication), what, how often."""

    code = models.SlugField(max_length=60, unique=True)
    title = models.CharField(max_length=120, help_text="What is suggested, e.g. HbA1c.")
    problem_prefixes = models.JSONField(default=list, blank=True, help_text='e.g. ["E10", "E11"]')
    problem_label = models.CharField(max_length=80, blank=True, help_text="e.g. Diabetes")
    medication_keywords = models.JSONField(
        default=list, blank=True, help_text='Active medication names containing any of these, e.g. ["levothyroxine"].'
    )
    procedure = models.CharField(max_length=30, choices=ProcedureCode.choices, help_text="What the order is for.")
    interval_months = models.PositiveSmallIntegerField()
    active = models.BooleanField(default=True)
    sort_order = models.PositiveSmallIntegerField(default=100)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering: ClassVar = ["sort_order", "code"]

    def __str__(self) -> str:
        return self.title
