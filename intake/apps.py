"""App config for intake: audited models, work kinds, outbox handlers and the periodic sweep."""

from django.apps import AppConfig


class IntakeConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "intake"
    verbose_name = "Digital intake"

    def ready(self) -> None:
        from auditlog.registry import auditlog

        from vma.schedule import register_periodic
        from vma.workqueue import WorkKind, register_kind

        from . import models, notify  # noqa: F401  (notify registers the outbox handlers)
        from .workflow import CONFIRM_UPDATES, INCOMPLETE, SAFETY_ESCALATION, packet_url

        # Answers hold PHI: auditlog records which fields changed, the values stay on the rows.
        auditlog.register(models.IntakePacket, exclude_fields=["updated_at", "answers_saved_at"])
        auditlog.register(models.IntakeResponse, exclude_fields=["answers", "saved_at"])
        auditlog.register(models.ProposedChange, exclude_fields=["current_value", "proposed_value"])
        auditlog.register(models.PatientReportedMedication)
        auditlog.register(models.PatientReportedAllergy)
        auditlog.register(models.Questionnaire)
        auditlog.register(models.IntakeRule)
        register_kind(
            WorkKind(
                code=CONFIRM_UPDATES,
                label="Confirm intake updates",
                queue="front_office",
                sla_minutes=8 * 60,
                help="The patient's intake proposes changes to demographics or insurance: apply or reject "
                "each one on the packet page, then mark the packet reviewed.",
                subject_url=packet_url,
            )
        )
        register_kind(
            WorkKind(
                code=SAFETY_ESCALATION,
                label="Intake safety escalation (PHQ-9 item 9)",
                queue="nurse",
                sla_minutes=15,
                priority=1,
                help="The patient reported thoughts of self-harm on the PHQ-9. Contact the patient now and "
                "follow the practice's safety protocol; document the hand-off when completing the item.",
                subject_url=packet_url,
            )
        )
        register_kind(
            WorkKind(
                code=INCOMPLETE,
                label="Intake incomplete before the visit",
                queue="front_office",
                sla_minutes=8 * 60,
                help="The patient has not finished the intake forms 24 hours before the visit: call them, "
                "resend the link or plan time at check-in.",
                subject_url=packet_url,
            )
        )
        register_periodic("intake sweep", "intake.tasks.sweep_intake", 900)
