"""App config for scheduling: audited models, work kinds, the reminder sweep and outbox handler."""

from django.apps import AppConfig


class SchedulingConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "scheduling"

    def ready(self) -> None:
        from auditlog.registry import auditlog

        from vma.schedule import register_periodic
        from vma.workqueue import WorkKind, register_kind

        from . import models, reminders  # noqa: F401  (reminders registers its outbox handler)

        auditlog.register(models.Appointment, exclude_fields=["updated_at", "end_at"])
        auditlog.register(models.WaitlistEntry)
        register_kind(
            WorkKind(
                code="scheduling.slot_open",
                label="Open slot to fill from the waitlist",
                queue="front_office",
                sla_minutes=60,
                priority=2,
                help="A visit was cancelled or moved. Call the waitlisted patients listed, best match first, "
                "and book the one who takes the slot.",
            )
        )
        register_kind(
            WorkKind(
                code="scheduling.reminder_failed",
                label="Appointment reminder not delivered",
                queue="front_office",
                sla_minutes=4 * 60,
                help="A reminder could not be sent. Call the patient and check their phone and email.",
            )
        )
        register_periodic("scheduling reminders", "scheduling.tasks.sweep_reminders", 600)
