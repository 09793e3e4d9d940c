"""App config for eligibility: audited model, the front desk's work kind, the periodic sweep."""

from django.apps import AppConfig


class EligibilityConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "eligibility"
    verbose_name = "Eligibility and benefits"

    def ready(self) -> None:
        from auditlog.registry import auditlog

        from vma.schedule import register_periodic
        from vma.workqueue import WorkKind, register_kind

        from . import models

        # The raw X12 stays on the row; copying it into every log entry would only duplicate PHI.
        # next_attempt_at and lease_until are scheduling bookkeeping, moved in bulk by the sweeper.
        auditlog.register(
            models.EligibilityCheck,
            exclude_fields=["updated_at", "raw_270", "raw_271", "next_attempt_at", "lease_until"],
        )
        register_kind(
            WorkKind(
                code="eligibility.coverage_problem",
                label="Coverage problem before a visit",
                queue="front_office",
                sla_minutes=4 * 60,
                priority=2,
                help="Eligibility came back inactive or rejected, or could not be verified: call the patient "
                "or the payer before the visit. The instruction on the item says what to do.",
            )
        )
        register_periodic("eligibility sweep", "eligibility.tasks.sweep_eligibility", 1800)
