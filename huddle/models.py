"""Huddle: the chart scrub of each visit of the next working day, and the daily huddle sheet's snapshot."""

from __future__ import annotations

import uuid
from typing import ClassVar

from django.db import models
from django.db.models import Q
from django.utils import timezone

from vma.models import User


class ChartScrub(models.Model):
    """The pre-visit checklist of one appointment. Only huddle/workflow.py sets .status."""

    class Status(models.TextChoices):
        OPEN = "open", "To scrub"  # items may need action; the scrub work item is open
        SCRUBBED = "scrubbed", "Scrubbed"  # a VMA confirmed the chart is ready; nothing needs action
        CANCELLED = "cancelled", "Cancelled"  # the visit no longer holds time (cancelled, moved, no-show)

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    appointment = models.OneToOneField("scheduling.Appointment", on_delete=models.PROTECT, related_name="chart_scrub")
    patient = models.ForeignKey("patients.Patient", on_delete=models.PROTECT, related_name="chart_scrubs")
    provider = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    day = models.DateField(help_text="The visit's local date.")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    needs_action = models.PositiveSmallIntegerField(default=0, help_text="Items needing action (kept by evaluate).")
    evaluated_at = models.DateTimeField(null=True, blank=True)
    scrubbed_at = models.DateTimeField(null=True, blank=True)
    scrubbed_by = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    reopened_reason = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering: ClassVar = ["day", "appointment__start_at", "id"]
        permissions: ClassVar = [("work_chartscrub", "Work chart scrubs: mark items and charts scrubbed")]
        constraints: ClassVar = [
            models.CheckConstraint(
                condition=~Q(status="scrubbed") | Q(scrubbed_at__isnull=False), name="huddle_scrubbed_has_time"
            ),
        ]
        indexes: ClassVar = [
            models.Index(fields=["day", "provider"], name="huddle_scrub_day_idx"),
            models.Index(fields=["patient", "day"], name="huddle_scrub_patient_idx"),
        ]

    def __str__(self) -> str:
        return f"Chart scrub {self.day:%Y-%m-%d} ({self.get_status_display()})"

    def audit_patient_id(self) -> int | None:
        return self.patient_id


class ScrubItem(models.Model):
    """One line of a scrub. Automatic states come from the chart; done / not applicable are a person's."""

    class State(models.TextChoices):
        AUTO_OK = "auto_ok", "OK"  # the chart shows it in place
        NEEDS_ACTION = "needs_action", "Needs action"  # missing: someone has to act before the visit
        DONE = "done", "Done"  # a person dealt with it (note optional)
        NOT_APPLICABLE = "not_applicable", "Not applicable"  # does not apply (a person's note says why)

    MANUAL: ClassVar[tuple[str, ...]] = (State.DONE, State.NOT_APPLICABLE)

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    scrub = models.ForeignKey(ChartScrub, on_delete=models.CASCADE, related_name="items")
    code = models.CharField(max_length=80, help_text='"eligibility", "prior_auth", "gap:<rule>", …')
    label = models.CharField(max_length=200)
    detail = models.CharField(max_length=500, blank=True, help_text="Why, as the last evaluation found it.")
    position = models.PositiveSmallIntegerField(default=0)
    auto_state = models.CharField(max_length=16, choices=State.choices, default=State.NEEDS_ACTION)
    state = models.CharField(max_length=16, choices=State.choices, default=State.NEEDS_ACTION)
    note = models.CharField(max_length=300, blank=True)
    marked_by = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    marked_at = models.DateTimeField(null=True, blank=True)
    resolved = models.BooleanField(default=False, help_text="Its source went away (gap closed, result filed).")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering: ClassVar = ["scrub", "position", "code"]
        constraints: ClassVar = [
            models.UniqueConstraint(fields=["scrub", "code"], name="huddle_one_item_per_code"),
            models.CheckConstraint(
                condition=~Q(state="not_applicable") | ~Q(note="") | Q(marked_at__isnull=True),
                name="huddle_na_mark_has_note",
            ),
            models.CheckConstraint(
                condition=Q(auto_state__in=["auto_ok", "needs_action", "not_applicable"]),
                name="huddle_auto_state_is_automatic",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.label}: {self.get_state_display()}"

    def audit_patient_id(self) -> int | None:
        return self.scrub.patient_id

    @property
    def is_manual(self) -> bool:
        return self.marked_at is not None


class HuddleSnapshot(models.Model):
    """The huddle sheet of one provider and day as generated before clinic, to show what changed since."""

    provider = models.ForeignKey(User, on_delete=models.CASCADE, related_name="+")
    day = models.DateField()
    generated_at = models.DateTimeField(default=timezone.now)
    rows = models.JSONField(default=list, help_text="One entry per visit: ids, time, patient, flags, reasons.")
    patient_ids = models.JSONField(default=list, help_text="Patients in the snapshot (read audit, scoping).")

    class Meta:
        ordering: ClassVar = ["-day", "provider_id"]
        permissions: ClassVar = [("view_huddle_sheet", "Read the daily huddle sheet")]
        constraints: ClassVar = [
            models.UniqueConstraint(fields=["provider", "day"], name="huddle_one_snapshot_per_day"),
        ]

    def __str__(self) -> str:
        return f"Huddle snapshot {self.day:%Y-%m-%d} for {self.provider_id}"
