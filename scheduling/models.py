"""Appointments, appointment types, provider schedule templates and blocks, waitlist and reminders."""

from __future__ import annotations

import secrets
import uuid
from datetime import timedelta
from typing import Any, ClassVar

from django.conf import settings
from django.contrib.postgres.constraints import ExclusionConstraint
from django.contrib.postgres.fields import DateTimeRangeField, RangeBoundary, RangeOperators
from django.db import models
from django.db.models import F, Func, Q
from django.utils import timezone

from vma.models import User


class TsTzRange(Func):
    function = "TSTZRANGE"
    output_field = DateTimeRangeField()


class PostgresOnlyExclusionConstraint(ExclusionConstraint):
    """An exclusion constraint on PostgreSQL; nothing on SQLite (the embedded demo).

    SQLite has no EXCLUDE; there the booking service's check under the provider's row lock is the
    guard (SQLite has a single writer anyway). Returning no SQL lets SQLite build and rebuild the
    table without it.
    """

    def constraint_sql(self, model: Any, schema_editor: Any) -> Any:
        if schema_editor.connection.vendor != "postgresql":
            return None
        return super().constraint_sql(model, schema_editor)

    def create_sql(self, model: Any, schema_editor: Any) -> Any:
        if schema_editor.connection.vendor != "postgresql":
            return None
        return super().create_sql(model, schema_editor)

    def remove_sql(self, model: Any, schema_editor: Any) -> Any:
        if schema_editor.connection.vendor != "postgresql":
            return None
        return super().remove_sql(model, schema_editor)

    def validate(self, *args: Any, **kwargs: Any) -> None:
        from django.db import connections

        if connections[kwargs.get("using") or "default"].vendor == "postgresql":
            super().validate(*args, **kwargs)


class Location(models.Model):
    """A place where a provider sees patients (an office, a satellite clinic)."""

    name = models.CharField(max_length=80, unique=True)
    address = models.CharField(max_length=200, blank=True)

    def __str__(self) -> str:
        return self.name


class AppointmentType(models.Model):
    """What kind of visit: its length and what it needs. Practice data, edited in admin."""

    class PatientKind(models.TextChoices):
        NEW = "new", "New patient"
        ESTABLISHED = "established", "Established patient"
        ANY = "any", "Any patient"

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    name = models.CharField(max_length=60, unique=True)
    duration_minutes = models.PositiveSmallIntegerField(default=20)
    patient_kind = models.CharField(max_length=12, choices=PatientKind.choices, default=PatientKind.ANY)
    telehealth = models.BooleanField(default=False)
    needs_prior_auth_check = models.BooleanField(default=False)
    colour = models.CharField(max_length=7, default="#4a90d9", help_text="#rrggbb, used on the calendar")
    active = models.BooleanField(default=True)

    class Meta:
        ordering: ClassVar = ["name"]
        constraints: ClassVar = [
            models.CheckConstraint(
                condition=Q(duration_minutes__gte=5, duration_minutes__lte=480), name="appttype_duration_range"
            ),
        ]

    def __str__(self) -> str:
        return self.name


class Weekday(models.IntegerChoices):
    MONDAY = 0, "Monday"
    TUESDAY = 1, "Tuesday"
    WEDNESDAY = 2, "Wednesday"
    THURSDAY = 3, "Thursday"
    FRIDAY = 4, "Friday"
    SATURDAY = 5, "Saturday"
    SUNDAY = 6, "Sunday"


class ScheduleTemplate(models.Model):
    """A provider's regular hours on one weekday at one location (local time)."""

    provider = models.ForeignKey(User, on_delete=models.CASCADE, related_name="schedule_templates")
    weekday = models.PositiveSmallIntegerField(choices=Weekday.choices)
    location = models.ForeignKey(Location, on_delete=models.PROTECT, related_name="templates")
    start_time = models.TimeField()
    end_time = models.TimeField()

    class Meta:
        ordering: ClassVar = ["provider", "weekday", "start_time"]
        constraints: ClassVar = [
            models.CheckConstraint(condition=Q(end_time__gt=F("start_time")), name="template_hours_ordered"),
        ]

    def __str__(self) -> str:
        return f"{self.provider} {self.get_weekday_display()} {self.start_time:%H:%M}-{self.end_time:%H:%M}"


class BlockKind(models.TextChoices):
    LUNCH = "lunch", "Lunch"
    ADMIN = "admin", "Admin time"
    PROCEDURES = "procedures", "Procedures"
    VACATION = "vacation", "Vacation"
    MEETING = "meeting", "Meeting"
    OTHER = "other", "Other"


class TemplateBlock(models.Model):
    """Time inside a template that is not bookable (lunch, admin, procedures)."""

    template = models.ForeignKey(ScheduleTemplate, on_delete=models.CASCADE, related_name="blocks")
    kind = models.CharField(max_length=12, choices=BlockKind.choices, default=BlockKind.LUNCH)
    start_time = models.TimeField()
    end_time = models.TimeField()

    class Meta:
        ordering: ClassVar = ["template", "start_time"]
        constraints: ClassVar = [
            models.CheckConstraint(condition=Q(end_time__gt=F("start_time")), name="template_block_ordered"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.start_time:%H:%M}-{self.end_time:%H:%M}"


class ScheduleBlock(models.Model):
    """A one-off block of a provider's time (vacation, a meeting)."""

    provider = models.ForeignKey(User, on_delete=models.CASCADE, related_name="schedule_blocks")
    kind = models.CharField(max_length=12, choices=BlockKind.choices, default=BlockKind.MEETING)
    start_at = models.DateTimeField()
    end_at = models.DateTimeField()
    note = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering: ClassVar = ["provider", "start_at"]
        constraints: ClassVar = [
            models.CheckConstraint(condition=Q(end_at__gt=F("start_at")), name="schedule_block_ordered"),
        ]
        indexes: ClassVar = [models.Index(fields=["provider", "start_at"], name="schedblock_provider_idx")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {timezone.localtime(self.start_at):%Y-%m-%d %H:%M}"


# A cancelled, no-show or rescheduled visit no longer holds the provider's time.
FREEING_STATUSES = ("cancelled", "no_show", "rescheduled")


class AppointmentManager(models.Manager["Appointment"]):
    def bulk_create(self, objs: Any, *args: Any, **kwargs: Any) -> Any:
        # bulk_create skips save(): keep end_at in step for seeds and imports too.
        for obj in objs:
            obj.end_at = obj.start_at + timedelta(minutes=obj.duration_minutes)
        return super().bulk_create(objs, *args, **kwargs)


def new_room() -> str:
    return secrets.token_urlsafe(16)


class Appointment(models.Model):
    """A visit on a provider's schedule. Only scheduling/workflow.py changes .status after booking."""

    class Status(models.TextChoices):
        SCHEDULED = "scheduled", "Scheduled"  # booked, not yet confirmed by the patient
        CONFIRMED = "confirmed", "Confirmed"  # the patient said they will come
        CHECKED_IN = "checked_in", "Checked in"  # arrived (or joined the video waiting room)
        IN_ROOM = "in_room", "In room"  # with the clinical staff or provider
        COMPLETED = "completed", "Completed"  # the visit took place
        CANCELLED = "cancelled", "Cancelled"  # called off, with a reason; frees the slot
        NO_SHOW = "no_show", "No-show"  # did not come; the slot is lost
        RESCHEDULED = "rescheduled", "Rescheduled"  # moved: rescheduled_to is the new visit

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    patient = models.ForeignKey("patients.Patient", on_delete=models.PROTECT, related_name="appointments")
    provider = models.ForeignKey(User, on_delete=models.PROTECT, related_name="appointments")
    appointment_type = models.ForeignKey(
        AppointmentType,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="appointments",
        help_text="Empty only on visits from before appointment types existed.",
    )
    location = models.ForeignKey(Location, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    start_at = models.DateTimeField()
    duration_minutes = models.PositiveSmallIntegerField(default=20)
    end_at = models.DateTimeField(editable=False, help_text="start_at + duration_minutes, kept by save().")
    visit_type = models.CharField(max_length=60)
    telehealth = models.BooleanField(default=False)
    telehealth_room = models.CharField(max_length=40, blank=True, help_text="Telehealth: the per-visit room id.")
    reason = models.CharField(max_length=200, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.SCHEDULED)
    rescheduled_to = models.OneToOneField(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="rescheduled_from"
    )
    cancel_reason = models.CharField(max_length=200, blank=True)
    late_cancel = models.BooleanField(default=False, help_text="Cancelled with less notice than LATE_CANCEL_HOURS.")
    cancelled_at = models.DateTimeField(null=True, blank=True)
    confirmed_at = models.DateTimeField(null=True, blank=True)
    checked_in_at = models.DateTimeField(null=True, blank=True)
    booked_by = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    objects = AppointmentManager()

    class Meta:
        ordering: ClassVar = ["start_at", "id"]
        indexes: ClassVar = [
            models.Index(fields=["provider", "start_at"], name="appt_provider_start_idx"),
            models.Index(fields=["patient", "start_at"], name="appt_patient_start_idx"),
            models.Index(fields=["status", "start_at"], name="appt_status_start_idx"),
        ]
        constraints: ClassVar = [
            models.CheckConstraint(condition=Q(end_at__gt=F("start_at")), name="appt_end_after_start"),
            # A cancellation recorded by the workflow has its reason (rows from before it may not).
            models.CheckConstraint(
                condition=Q(cancelled_at__isnull=True) | ~Q(cancel_reason=""), name="appt_cancel_has_reason"
            ),
            # Two bookings of one provider never overlap, even when two people book at the same
            # moment. Typed visits only: untyped rows predate booking rules (imports may overlap).
            PostgresOnlyExclusionConstraint(
                name="appt_no_double_booking",
                expressions=[
                    ("provider", RangeOperators.EQUAL),
                    (TsTzRange("start_at", "end_at", RangeBoundary()), RangeOperators.OVERLAPS),
                ],
                condition=Q(appointment_type__isnull=False) & ~Q(status__in=FREEING_STATUSES),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.visit_type} {timezone.localtime(self.start_at):%Y-%m-%d %H:%M}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        self.end_at = self.start_at + timedelta(minutes=self.duration_minutes)
        update_fields = kwargs.get("update_fields")
        if update_fields is not None and {"start_at", "duration_minutes"} & set(update_fields):
            kwargs["update_fields"] = {*update_fields, "end_at"}
        super().save(*args, **kwargs)

    def audit_patient_id(self) -> int | None:
        return self.patient_id

    @property
    def holds_time(self) -> bool:
        return self.status not in FREEING_STATUSES

    @property
    def join_url(self) -> str:
        if not (self.telehealth and self.telehealth_room):
            return ""
        return f"{settings.TELEHEALTH_BASE_URL.rstrip('/')}/{self.telehealth_room}"

    @property
    def colour(self) -> str:
        return self.appointment_type.colour if self.appointment_type else "#9aa5b1"


class WaitlistEntry(models.Model):
    """A patient who wants an earlier or any visit, and what would suit them."""

    class PartOfDay(models.TextChoices):
        ANY = "any", "Any time"
        MORNING = "morning", "Morning"
        AFTERNOON = "afternoon", "Afternoon"

    class Status(models.TextChoices):
        WAITING = "waiting", "Waiting"
        BOOKED = "booked", "Booked"
        REMOVED = "removed", "Removed"

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    patient = models.ForeignKey("patients.Patient", on_delete=models.CASCADE, related_name="waitlist_entries")
    appointment_type = models.ForeignKey(AppointmentType, null=True, blank=True, on_delete=models.PROTECT)
    provider = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.CASCADE, related_name="+", help_text="Empty: any provider."
    )
    weekdays = models.JSONField(default=list, blank=True, help_text="Preferred weekdays, 0 = Monday; empty: any.")
    part_of_day = models.CharField(max_length=10, choices=PartOfDay.choices, default=PartOfDay.ANY)
    earliest_date = models.DateField(null=True, blank=True)
    latest_date = models.DateField(null=True, blank=True)
    note = models.CharField(max_length=200, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.WAITING)
    created_at = models.DateTimeField(default=timezone.now)
    created_by = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        ordering: ClassVar = ["created_at", "id"]
        verbose_name_plural = "waitlist entries"
        indexes: ClassVar = [
            models.Index(fields=["status", "created_at"], name="waitlist_status_idx"),
        ]

    def __str__(self) -> str:
        return f"Waitlist {self.patient_id} ({self.get_status_display()})"

    def audit_patient_id(self) -> int | None:
        return self.patient_id


class Reminder(models.Model):
    """One reminder of one visit at one offset: a row, so it is sent once whoever runs the sweep."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"  # due (or retrying at next_attempt_at)
        SENT = "sent", "Sent"
        SKIPPED = "skipped", "Skipped"  # a later reminder superseded it (booked at short notice)
        FAILED = "failed", "Failed"  # gave up; a work item says why

    appointment = models.ForeignKey(Appointment, on_delete=models.CASCADE, related_name="reminders")
    offset_hours = models.PositiveSmallIntegerField()
    channel = models.CharField(max_length=10)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    last_error = models.TextField(blank=True)
    log = models.TextField(blank=True, help_text="What was sent, to where (the demo SMS/voice backends write here).")
    sent_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering: ClassVar = ["appointment", "-offset_hours"]
        constraints: ClassVar = [
            models.UniqueConstraint(fields=["appointment", "offset_hours"], name="reminder_once_per_offset"),
        ]
        indexes: ClassVar = [
            models.Index(fields=["status", "next_attempt_at"], condition=Q(status="pending"), name="reminder_due_idx"),
        ]

    def __str__(self) -> str:
        return f"Reminder {self.offset_hours} h ({self.get_status_display()})"

    def audit_patient_id(self) -> int | None:
        return self.appointment.patient_id
