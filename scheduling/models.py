"""Appointments. The booking workflow, templates and reminders come with the scheduling issue."""

from __future__ import annotations

import uuid
from typing import ClassVar

from django.db import models
from django.utils import timezone

from vma.models import User


class Appointment(models.Model):
    """A visit on a provider's schedule."""

    class Status(models.TextChoices):
        SCHEDULED = "scheduled", "Scheduled"
        CONFIRMED = "confirmed", "Confirmed"
        CHECKED_IN = "checked_in", "Checked in"
        COMPLETED = "completed", "Completed"
        CANCELLED = "cancelled", "Cancelled"
        NO_SHOW = "no_show", "No-show"

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    patient = models.ForeignKey("patients.Patient", on_delete=models.PROTECT, related_name="appointments")
    provider = models.ForeignKey(User, on_delete=models.PROTECT, related_name="appointments")
    start_at = models.DateTimeField()
    duration_minutes = models.PositiveSmallIntegerField(default=20)
    visit_type = models.CharField(max_length=60)
    telehealth = models.BooleanField(default=False)
    reason = models.CharField(max_length=200, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.SCHEDULED)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering: ClassVar = ["start_at", "id"]
        indexes: ClassVar = [
            models.Index(fields=["provider", "start_at"], name="appt_provider_start_idx"),
            models.Index(fields=["patient", "start_at"], name="appt_patient_start_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.visit_type} {timezone.localtime(self.start_at):%Y-%m-%d %H:%M}"

    def audit_patient_id(self) -> int | None:
        return self.patient_id
