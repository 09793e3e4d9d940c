"""App config for telehealth: audited models, the no-join work kind, the minute sweep, the outbox handler."""

from django.apps import AppConfig


class TelehealthConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "telehealth"
    verbose_name = "Virtual waiting room"

    def ready(self) -> None:
        from auditlog.registry import auditlog

        from vma.schedule import register_periodic
        from vma.workqueue import WorkKind, register_kind

        from . import models, notify  # noqa: F401 - notify registers the outbox handler
        from .workflow import NO_JOIN_KIND, visit_url

        auditlog.register(models.VisitRoom, exclude_fields=["updated_at"])
        auditlog.register(models.RoomEvent)
        # Calling a patient is the front office's work (they own phone contact and the schedule).
        register_kind(
            WorkKind(
                code=NO_JOIN_KIND,
                label="Call a patient who has not joined their video visit",
                queue="front_office",
                sla_minutes=10,
                priority=2,
                help="Five minutes after the start the patient is not in the waiting room; they were sent the link "
                "and the backup phone plan. Call them: help them join, or tell the care team to switch to a "
                "phone visit. The item closes by itself when they join.",
                subject_url=visit_url,
            )
        )
        register_periodic("telehealth waiting-room sweep (links, no-join)", "telehealth.tasks.sweep_waiting_rooms", 60)
