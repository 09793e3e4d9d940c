"""Virtual waiting room: one room per telehealth visit, its live status, and the log of every step."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import ClassVar

from django.db import models
from django.db.models import Q
from django.utils import timezone

from vma.models import User


class VisitRoom(models.Model):
    """The waiting room of one telehealth appointment. Only telehealth/workflow.py sets .status."""

    class Status(models.TextChoices):
        CREATED = "created", "Link not sent"  # the room exists; the patient has no join link yet
        LINK_SENT = "link_sent", "Link sent"  # the join link went out through the patient's channel
        PATIENT_JOINED = "patient_joined", "Patient joined"  # the patient opened the link (checked in)
        TECH_CHECK_PASSED = "tech_check_passed", "Tech check passed"  # camera and microphone work
        ROOMED = "roomed", "Roomed"  # the VMA finished the rooming checklist (medications, history…)
        READY = "ready_for_provider", "Ready for provider"  # warm handoff done: the provider is awaited
        PROVIDER_JOINED = "provider_joined", "Provider joined"  # the visit is under way
        ENDED = "ended", "Ended"  # over: completed by the provider, or closed early with a reason

    class TechCheck(models.TextChoices):
        DEVICE = "device", "The browser granted camera and microphone"
        PATIENT = "patient", "The patient ticked “I can see and hear”"
        VMA = "vma", "Confirmed by the VMA"

    # Before the patient is in the waiting room: the states the no-join sweep looks for.
    NOT_JOINED: ClassVar[tuple[str, ...]] = (Status.CREATED, Status.LINK_SENT)

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    appointment = models.OneToOneField("scheduling.Appointment", on_delete=models.PROTECT, related_name="visit_room")
    patient = models.ForeignKey("patients.Patient", on_delete=models.PROTECT, related_name="visit_rooms")
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.CREATED)
    link_sent_at = models.DateTimeField(null=True, blank=True, help_text="Last time the join link was sent.")
    link_sends = models.PositiveSmallIntegerField(default=0)
    patient_joined_at = models.DateTimeField(null=True, blank=True)
    tech_check_at = models.DateTimeField(null=True, blank=True)
    tech_check_method = models.CharField(max_length=10, choices=TechCheck.choices, blank=True)
    vma = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", help_text="Who is rooming."
    )
    vma_joined_at = models.DateTimeField(null=True, blank=True)
    checklist = models.JSONField(
        default=dict,
        blank=True,
        help_text="Rooming items done: code -> {at, by} (codes in workflow.ROOMING_CHECKLIST).",
    )
    roomed_at = models.DateTimeField(null=True, blank=True)
    ready_at = models.DateTimeField(null=True, blank=True, help_text="Warm handoff: ready for the provider.")
    handoff_note = models.CharField(max_length=500, blank=True)
    provider_joined_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    ended_by = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    end_reason = models.CharField(max_length=300, blank=True)
    no_join_notified_at = models.DateTimeField(
        null=True, blank=True, help_text="When the backup-phone message went out (at most once per room)."
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering: ClassVar = ["appointment__start_at", "id"]
        permissions: ClassVar = [
            ("invite_visitroom", "Send a patient the video waiting-room link"),
            ("room_visitroom", "Room telehealth visits: join first, rooming checklist, warm handoff"),
            ("host_visitroom", "Join and end telehealth visits as the provider"),
            ("view_telehealth_metrics", "Read telehealth start delay and waiting times"),
        ]
        constraints: ClassVar = [
            models.CheckConstraint(
                condition=~Q(status="ready_for_provider") | (Q(ready_at__isnull=False) & ~Q(handoff_note="")),
                name="telehealth_ready_has_handoff",
            ),
            models.CheckConstraint(
                condition=~Q(status="provider_joined") | Q(provider_joined_at__isnull=False),
                name="telehealth_joined_has_time",
            ),
            models.CheckConstraint(
                condition=~Q(status="ended") | Q(ended_at__isnull=False), name="telehealth_ended_has_time"
            ),
        ]
        indexes: ClassVar = [
            models.Index(
                fields=["status"], condition=Q(status__in=["created", "link_sent"]), name="telehealth_waiting_idx"
            ),
            models.Index(fields=["patient"], name="telehealth_room_patient_idx"),
        ]

    def __str__(self) -> str:
        return f"Waiting room {self.appointment_id} ({self.get_status_display()})"

    def audit_patient_id(self) -> int | None:
        return self.patient_id

    @property
    def since(self) -> datetime | None:
        """When the room entered its current status (what the timers count from)."""
        s = self.Status
        stamps: dict[str, datetime | None] = {
            s.CREATED: self.created_at,
            s.LINK_SENT: self.link_sent_at,
            s.PATIENT_JOINED: self.patient_joined_at,
            s.TECH_CHECK_PASSED: self.tech_check_at,
            s.ROOMED: self.roomed_at,
            s.READY: self.ready_at,
            s.PROVIDER_JOINED: self.provider_joined_at,
            s.ENDED: self.ended_at,
        }
        return stamps.get(self.status)

    @property
    def patient_waiting(self) -> bool:
        """The patient is in the waiting room and nobody is with them yet (or the provider is awaited)."""
        return self.status in (self.Status.PATIENT_JOINED, self.Status.TECH_CHECK_PASSED, self.Status.READY)


class RoomEvent(models.Model):
    """One step of a waiting room: a status move, the VMA joining, a checklist tick, a message sent."""

    room = models.ForeignKey(VisitRoom, on_delete=models.CASCADE, related_name="events")
    at = models.DateTimeField(default=timezone.now)
    actor = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    kind = models.CharField(max_length=30, help_text="A status code, or vma_joined, checked, link_resent, message…")
    from_status = models.CharField(max_length=20, blank=True)
    to_status = models.CharField(max_length=20, blank=True)
    note = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering: ClassVar = ["at", "id"]
        indexes: ClassVar = [models.Index(fields=["room", "at"], name="telehealth_event_room_idx")]

    def __str__(self) -> str:
        return f"{self.kind} at {self.at:%H:%M:%S}"

    def audit_patient_id(self) -> int | None:
        return self.room.patient_id
