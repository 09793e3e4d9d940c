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
        self._register_part_two()

    def _register_part_two(self) -> None:
        """Remittance posting, denials, patient balances: their audited models, work kinds and jobs."""
        from auditlog.registry import auditlog

        from vma.schedule import register_periodic
        from vma.workqueue import WorkKind, register_kind

        from . import denials, ledger, models, remittance

        # The raw 835 stays on its row (it is the record); copying it into the log would duplicate PHI.
        auditlog.register(models.RemittanceFile, exclude_fields=["content"])
        for model in (
            models.Remittance,
            models.RemittanceClaim,
            models.PaymentPosting,
            models.AdjustmentPosting,
            models.Denial,
            models.AppealTemplate,
            models.Appeal,
            models.PatientPayment,
            models.PatientLedgerEntry,
            models.StatementRun,
            models.Statement,
        ):
            auditlog.register(model)
        auditlog.register(models.PatientBalance, exclude_fields=["updated_at", "last_statement_on"])
        kinds = [
            WorkKind(
                code=denials.DENIAL_KIND,
                label="Claim denied",
                queue="billing",
                sla_minutes=7 * 24 * 60,
                priority=2,
                help="A payer denied a claim or a line: the item says the reason codes and the usual next step "
                "(correct and resubmit, retro-authorization, proof of timely filing, appeal with records ...). "
                "Appeal, correct, or write the amount off from the claim's page.",
                subject_url=denials.denial_url,
            ),
            WorkKind(
                code=remittance.FILE_FAILED,
                label="835 file not posted",
                queue="billing",
                sla_minutes=24 * 60,
                priority=2,
                help="An 835 could not be read or failed validation; it is kept as received. Get a corrected file "
                "from the payer or clearinghouse, or post it anyway when the findings do not matter.",
                subject_url=remittance.file_url,
            ),
            WorkKind(
                code=remittance.UNMATCHED,
                label="835 claim matches no claim",
                queue="billing",
                sla_minutes=2 * 24 * 60,
                help="A payment in an 835 names a patient control number no claim has: find the claim (patient, "
                "member id, date of service) and post the payment to it from the remittance page.",
                subject_url=remittance.file_url,
            ),
            WorkKind(
                code=remittance.UNDERPAYMENT,
                label="Claim underpaid",
                queue="billing",
                sla_minutes=7 * 24 * 60,
                help="The payer allowed less than its fee schedule says: check the contract and ask the payer to "
                "reprocess the claim at the right rate.",
                subject_url=remittance.underpayment_url,
            ),
            WorkKind(
                code=ledger.COLLECTIONS_KIND,
                label="Patient balance over 90 days",
                queue="billing",
                sla_minutes=5 * 24 * 60,
                help="A patient's balance is more than 90 days old: call, offer a payment plan or check for an "
                "insurance problem. Referral to an agency (120+ days) is a person's decision, never automatic.",
                subject_url=ledger.balance_url,
            ),
        ]
        for kind in kinds:
            register_kind(kind)
        register_periodic("remittance fetch", "billing.tasks.fetch_remittances", 3600)
        register_periodic("patient billing", "billing.tasks.patient_billing", 6 * 3600)
