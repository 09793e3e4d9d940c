"""Core models: users, care teams, the shared work queue, audit, outbox, API tokens."""

from __future__ import annotations

import hashlib
import uuid
from typing import TYPE_CHECKING, Any, ClassVar

from django.contrib.auth.models import AbstractUser
from django.contrib.contenttypes.fields import GenericForeignKey
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils import timezone
from guardian.models import UserObjectPermissionBase

from .roles import Role
from .validators import validate_npi

if TYPE_CHECKING:
    from patients.models import Patient


class User(AbstractUser):
    """A person (or a partner system's service account) who signs in."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    npi = models.CharField(
        "NPI",
        max_length=10,
        blank=True,
        validators=[validate_npi],
        help_text="Providers only: 10 digits, Luhn-checked.",
    )
    credentials = models.CharField(max_length=20, blank=True, help_text="e.g. MD, DO, NP, PA, RN")
    is_service_account = models.BooleanField(default=False, help_text="A partner system acting through API tokens.")

    class Meta:
        constraints: ClassVar = [
            models.UniqueConstraint(fields=["npi"], condition=~Q(npi=""), name="user_npi_unique"),
        ]

    def __str__(self) -> str:
        full = self.get_full_name()
        return f"{full}, {self.credentials}" if full and self.credentials else (full or self.username)

    @property
    def role_names(self) -> set[str]:
        cached = getattr(self, "_role_names", None)
        if cached is None and self.is_active and not self.is_anonymous:
            self.get_all_permissions()  # vma.backends.RoleBackend loads roles with permissions
            cached = getattr(self, "_role_names", None)
        if cached is None:
            cached = set(self.groups.filter(name__in=Role.values).values_list("name", flat=True))
            self._role_names = cached
        return cached

    def has_role(self, *roles: str) -> bool:
        return bool(self.role_names.intersection(roles))

    @property
    def is_provider(self) -> bool:
        return self.has_role(Role.PROVIDER)

    def clean(self) -> None:
        super().clean()
        if self.npi and not self.pk:
            validate_npi(self.npi)


class CareTeam(models.Model):
    """A provider's panel. Members are granted `vma.access_panel` on it through django-guardian."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    name = models.CharField(max_length=120, unique=True)
    provider = models.ForeignKey(User, on_delete=models.PROTECT, related_name="led_care_teams")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        permissions: ClassVar = [("access_panel", "See and work this care team's patients")]

    def __str__(self) -> str:
        return self.name


class CareTeamUserObjectPermission(UserObjectPermissionBase):
    """Direct foreign key for guardian: fast joins, no text casts on object_pk."""

    content_object = models.ForeignKey(CareTeam, on_delete=models.CASCADE)


# ---------------------------------------------------------------------------------------------
# The shared work queue
# ---------------------------------------------------------------------------------------------


class WorkItem(models.Model):
    """One piece of follow-up work, whatever app made it. Only vma/workflow.py sets .status."""

    class Status(models.TextChoices):
        OPEN = "open", "Open"  # waiting in its queue for someone to claim it
        CLAIMED = "claimed", "Claimed"  # one person is working it
        WAITING = "waiting", "Waiting"  # snoozed until a time (a call back, a fax to arrive)
        ESCALATED = "escalated", "Escalated"  # handed to another role, or overdue; top of the queue
        DONE = "done", "Done"  # finished, with a note
        CANCELLED = "cancelled", "Cancelled"  # no longer needed (its subject closed elsewhere)

    class Priority(models.IntegerChoices):
        URGENT = 1, "Urgent"
        HIGH = 2, "High"
        NORMAL = 3, "Normal"
        LOW = 4, "Low"

    OPEN_STATES: ClassVar[tuple[str, ...]] = (Status.OPEN, Status.CLAIMED, Status.WAITING, Status.ESCALATED)
    CLOSED_STATES: ClassVar[tuple[str, ...]] = (Status.DONE, Status.CANCELLED)

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    kind = models.CharField(max_length=80, help_text="Registered by an app in vma.workqueue.")
    title = models.CharField(max_length=200)
    detail = models.TextField(blank=True)
    subject_type = models.ForeignKey(ContentType, on_delete=models.PROTECT, related_name="+")
    subject_id = models.BigIntegerField()
    subject = GenericForeignKey("subject_type", "subject_id")
    patient = models.ForeignKey(
        "patients.Patient", null=True, blank=True, on_delete=models.PROTECT, related_name="work_items"
    )
    queue = models.CharField(max_length=32, choices=[(r.value, r.label) for r in Role if r != Role.ADMIN])
    assignee = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL, related_name="work_items")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.OPEN)
    priority = models.PositiveSmallIntegerField(choices=Priority.choices, default=Priority.NORMAL)
    due_at = models.DateTimeField()
    sla_minutes = models.PositiveIntegerField(help_text="Time allowed from opening to done.")
    snoozed_until = models.DateTimeField(null=True, blank=True)
    escalation_reason = models.TextField(blank=True)
    overdue_escalated_at = models.DateTimeField(null=True, blank=True)
    resolution_note = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    closed_by = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        constraints: ClassVar = [
            # Opening is idempotent: a beat job may run twice and nothing doubles.
            models.UniqueConstraint(
                fields=["kind", "subject_type", "subject_id"],
                condition=Q(status__in=["open", "claimed", "waiting", "escalated"]),
                name="workitem_one_open_per_kind_subject",
            ),
            models.CheckConstraint(
                condition=~Q(status="claimed") | Q(assignee__isnull=False), name="workitem_claimed_has_assignee"
            ),
            models.CheckConstraint(
                condition=~Q(status="waiting") | Q(snoozed_until__isnull=False), name="workitem_waiting_has_time"
            ),
            models.CheckConstraint(
                condition=Q(status__in=["done", "cancelled"], closed_at__isnull=False)
                | (~Q(status__in=["done", "cancelled"]) & Q(closed_at__isnull=True)),
                name="workitem_closed_at_iff_closed",
            ),
        ]
        indexes: ClassVar = [
            # claim-next and the queue page: the head of a queue among claimable items
            models.Index(
                fields=["queue", "priority", "due_at", "id"],
                condition=Q(status__in=["open", "escalated"]),
                name="workitem_claimable_idx",
            ),
            # ... and across queues, for people with several roles (one ordered walk, not a sort).
            models.Index(
                fields=["priority", "due_at", "id"],
                condition=Q(status__in=["open", "escalated"]),
                name="workitem_claimable_all_idx",
            ),
            models.Index(
                fields=["assignee", "status"], condition=Q(status__in=["claimed", "waiting"]), name="workitem_mine_idx"
            ),
            models.Index(
                fields=["due_at"],
                condition=Q(status__in=["open", "claimed", "escalated"], overdue_escalated_at__isnull=True),
                name="workitem_overdue_idx",
            ),
            models.Index(fields=["snoozed_until"], condition=Q(status="waiting"), name="workitem_snoozed_idx"),
            models.Index(fields=["patient", "status"], name="workitem_patient_idx"),
            models.Index(fields=["kind", "queue", "status"], name="workitem_health_idx"),
        ]
        permissions: ClassVar = [
            ("work_workitem", "Claim, complete, snooze and escalate work items in own queues"),
            ("reassign_workitem", "Reassign work items to another person"),
            ("view_queue_health", "Read the queue-health dashboard"),
        ]

    def __str__(self) -> str:
        return f"{self.title} ({self.get_status_display()})"

    @property
    def is_open(self) -> bool:
        return self.status in self.OPEN_STATES

    @property
    def is_overdue(self) -> bool:
        return self.is_open and self.due_at < timezone.now()

    def audit_patient_id(self) -> int | None:
        return self.patient_id

    def subject_url(self) -> str | None:
        """A link to the thing to work on: the kind's own page, or the patient's chart."""
        from django.urls import reverse

        from .workqueue import get_kind

        try:
            builder = get_kind(self.kind).subject_url
        except LookupError:
            builder = None
        if builder is not None:
            return builder(self)
        if self.patient is not None:
            return reverse("patient_detail", args=[self.patient.public_id])
        return None


class WorkItemEvent(models.Model):
    """The history of a work item: who moved it, when, from what to what, and why."""

    item = models.ForeignKey(WorkItem, on_delete=models.CASCADE, related_name="events")
    actor = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    action = models.CharField(max_length=32)
    from_status = models.CharField(max_length=16, blank=True)
    to_status = models.CharField(max_length=16)
    note = models.TextField(blank=True)
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering: ClassVar = ["at", "id"]

    def audit_patient_id(self) -> int | None:
        return self.item.patient_id


# ---------------------------------------------------------------------------------------------
# Audit: append-only, hash-chained
# ---------------------------------------------------------------------------------------------


class AuditEvent(models.Model):
    """One audited read or write of patient data. Append-only; each row hashes the previous."""

    class Kind(models.TextChoices):
        READ = "read", "Read"
        WRITE = "write", "Write"
        EXPORT = "export", "Export"
        AUTH = "auth", "Sign-in"

    seq = models.BigIntegerField(unique=True)
    at = models.DateTimeField(default=timezone.now, db_index=True)
    actor = models.ForeignKey(User, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    actor_label = models.CharField(max_length=160, blank=True, help_text="Kept even if the user is renamed.")
    kind = models.CharField(max_length=8, choices=Kind.choices)
    action = models.CharField(max_length=120, help_text="e.g. patients.view_patient, api.list, task name")
    target = models.CharField(max_length=200, blank=True, help_text="Model and id, page path or export name.")
    patient_ids = models.JSONField(default=list, help_text="Patients whose data was returned or changed.")
    detail = models.JSONField(default=dict, blank=True)
    remote_addr = models.GenericIPAddressField(null=True, blank=True)
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64)

    class Meta:
        ordering: ClassVar = ["-seq"]
        indexes: ClassVar = [models.Index(fields=["actor", "at"], name="audit_actor_at_idx")]

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise ValidationError("Audit events are append-only.")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> Any:
        raise ValidationError("Audit events are append-only.")


class AuditEventPatient(models.Model):
    """Index of which patients an audit event touched, for filtering the trail by patient."""

    event = models.ForeignKey(AuditEvent, on_delete=models.PROTECT, related_name="patient_links")
    patient = models.ForeignKey("patients.Patient", on_delete=models.DO_NOTHING, db_constraint=False, related_name="+")

    class Meta:
        indexes: ClassVar = [models.Index(fields=["patient", "event"], name="auditpatient_patient_idx")]


class AuditChainHead(models.Model):
    """A single row holding the chain's tip; locking it serialises appends."""

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    seq = models.BigIntegerField(default=0)
    hash = models.CharField(max_length=64, default="0" * 64)


# ---------------------------------------------------------------------------------------------
# Background work: outbox, heartbeats, notifications
# ---------------------------------------------------------------------------------------------


class OutboxMessage(models.Model):
    """A side effect written in the same transaction as the change that caused it.

    Redis only rings the doorbell; if the publish is lost, the sweeper re-sends due rows.
    """

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"  # waiting to be delivered (again)
        RUNNING = "running", "Running"  # claimed by a worker until lease_until
        DONE = "done", "Done"
        FAILED = "failed", "Failed"  # gave up after max attempts; a work item says why

    key = models.CharField(max_length=200, unique=True, help_text="Idempotency key.")
    handler = models.CharField(max_length=100)
    payload = models.JSONField(default=dict)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    max_attempts = models.PositiveIntegerField(default=8)
    due_at = models.DateTimeField(default=timezone.now)
    lease_until = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    done_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes: ClassVar = [
            models.Index(fields=["due_at"], condition=Q(status__in=["pending", "running"]), name="outbox_due_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.handler} {self.key} ({self.status})"


class Heartbeat(models.Model):
    """Last time a named background signal was seen (the canary, the sweepers)."""

    name = models.CharField(max_length=60, primary_key=True)
    seen_at = models.DateTimeField()


class Notification(models.Model):
    """An in-app notice to one user (an escalation reached their queue)."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="notifications")
    key = models.CharField(max_length=200, help_text="Idempotency: one notice per user and cause.")
    message = models.CharField(max_length=300)
    work_item = models.ForeignKey(WorkItem, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints: ClassVar = [models.UniqueConstraint(fields=["user", "key"], name="notification_once_per_user_key")]


# ---------------------------------------------------------------------------------------------
# API tokens for partner systems
# ---------------------------------------------------------------------------------------------


class ApiToken(models.Model):
    """A named, scoped, expiring token. Only its SHA-256 is stored; the secret is shown once."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    name = models.CharField(max_length=120)
    user = models.ForeignKey(
        User, on_delete=models.CASCADE, related_name="api_tokens", help_text="Acts as this account."
    )
    prefix = models.CharField(max_length=12, unique=True, editable=False)
    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    scopes = models.JSONField(default=list)
    expires_at = models.DateTimeField()
    created_at = models.DateTimeField(default=timezone.now)
    created_by = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @staticmethod
    def hash_key(raw: str) -> str:
        return hashlib.sha256(raw.encode()).hexdigest()

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None and self.expires_at > timezone.now()


def patient_of(obj: object) -> Patient | None:
    """The patient an object's data belongs to, for access checks and audit."""
    getter = getattr(obj, "audit_patient_id", None)
    if getter is None:
        return None
    from patients.models import Patient

    pid = getter()
    return Patient.objects.filter(pk=pid).first() if pid else None
