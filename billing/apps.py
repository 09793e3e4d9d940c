"""App config for billing: audited claims, the billing queue's work kinds, the claim sweep."""

from django.apps import AppConfig


class BillingConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "billing"
    verbose_name = "Billing and remittance"

    def ready(self) -> None:
        from auditlog.registry import auditlog

        from vma.schedule import register_periodic
        from vma.workqueue import WorkKind, register_kind

        from . import models, tasks  # noqa: F401 - tasks registers the Celery tasks
        from .workflow import FILING_DEADLINE, FOLLOW_UP, REJECTED, UNPAID, claim_url

        # The raw 837 and the acknowledgement stay on the row; copying them into the log would duplicate PHI.
        auditlog.register(
            models.Claim,
            exclude_fields=[
                "updated_at",
                "raw_837",
                "acknowledgement",
                "scrub_problems",
                "validation_errors",
                "transmitted_at",
                "transmit_attempts",
            ],
        )
        auditlog.register(models.ClaimLine)
        auditlog.register(models.ClaimDiagnosis)
        auditlog.register(models.ProcedureCode, exclude_fields=["updated_at"])
        auditlog.register(models.PayerBillingProfile, exclude_fields=["updated_at"])
        auditlog.register(models.FeeScheduleLine)
        register_kind(
            WorkKind(
                code=REJECTED,
                label="Claim rejected",
                queue="billing",
                sla_minutes=24 * 60,
                priority=2,
                help="The clearinghouse or payer refused the claim on intake: the reasons are on the item. "
                "Fix the claim (back to draft), scrub it and submit it again.",
                subject_url=claim_url,
            )
        )
        register_kind(
            WorkKind(
                code=FOLLOW_UP,
                label="Claim status follow-up",
                queue="billing",
                sla_minutes=2 * 24 * 60,
                help="No answer from the payer 7 days after submission: check the claim's status with the payer "
                "(portal, phone or 276/277) and record what was said.",
                subject_url=claim_url,
            )
        )
        register_kind(
            WorkKind(
                code=UNPAID,
                label="Claim unpaid over 30 days",
                queue="billing",
                sla_minutes=2 * 24 * 60,
                priority=2,
                help="Submitted more than 30 days ago and not paid: call the payer, find out what is missing.",
                subject_url=claim_url,
            )
        )
        register_kind(
            WorkKind(
                code=FILING_DEADLINE,
                label="Timely-filing deadline approaching",
                queue="billing",
                sla_minutes=24 * 60,
                priority=1,
                help="The payer's timely-filing window closes soon and the claim has not been accepted: finish, "
                "scrub and submit it now (a CO-29 denial cannot be appealed).",
                subject_url=claim_url,
            )
        )
        register_periodic("claim sweep", "billing.tasks.sweep_claims", 3600)
