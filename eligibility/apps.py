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

        # Prior authorizations: the audited request, its three work kinds, the hourly sweep.
        from . import priorauth, priorauth_tasks  # noqa: F401 - registers the sweep task with Celery

        auditlog.register(models.PriorAuthorization, exclude_fields=["updated_at", "next_follow_up_at"])
        auditlog.register(models.PriorAuthRule, exclude_fields=["updated_at"])
        register_kind(
            WorkKind(
                code=priorauth.FOLLOW_UP,
                label="Prior authorization follow-up",
                queue="front_office",
                sla_minutes=8 * 60,
                help="Submit a required prior authorization, or call the payer about one waiting for a decision "
                "(every 2 business days; urgent once the decision deadline passed). Record what was said.",
                subject_url=priorauth.detail_url,
            )
        )
        register_kind(
            WorkKind(
                code=priorauth.APPEAL,
                label="Prior authorization denied: appeal or peer-to-peer",
                queue="clinical_support",
                sla_minutes=2 * 24 * 60,
                priority=2,
                help="The payer denied a prior authorization: gather the clinical notes and appeal, or set up "
                "a peer-to-peer review with the provider.",
                subject_url=priorauth.detail_url,
            )
        )
        register_kind(
            WorkKind(
                code=priorauth.EXPIRING,
                label="Prior authorization running out",
                queue="front_office",
                sla_minutes=3 * 24 * 60,
                help="An approval ends within 14 days or has 80 % of its units used: ask for an extension or a "
                "new authorization if care continues.",
                subject_url=priorauth.detail_url,
            )
        )
        register_periodic("prior authorization sweep", "eligibility.priorauth_tasks.sweep_prior_auths", 3600)
