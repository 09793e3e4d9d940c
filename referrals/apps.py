"""App config for referrals: audited models, the work kinds of the loop, and the follow-up sweep."""

from django.apps import AppConfig


class ReferralsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "referrals"
    verbose_name = "Referrals"

    def ready(self) -> None:
        from auditlog.registry import auditlog

        from vma.schedule import register_periodic
        from vma.workqueue import WorkKind, register_kind

        from . import followups, models, workflow

        auditlog.register(models.Referral, exclude_fields=["updated_at", "followup_due_at"], m2m_fields={"documents"})
        auditlog.register(models.ReferralContact)
        auditlog.register(models.Specialist, m2m_fields={"accepted_payers"})
        auditlog.register(models.FollowUpRule)
        url = workflow.referral_url
        day = 24 * 60
        for kind in (
            WorkKind(
                code=workflow.PREPARE,
                label="Prepare and send a referral",
                queue="clinical_support",
                sla_minutes=2 * day,
                help="A referral is a draft: complete the packet checklist (specialist, reason, notes, results, "
                "insurance, the plan's authorization) and send it, or cancel it with a reason.",
                subject_url=url,
            ),
            WorkKind(
                code=followups.NO_ACK,
                label="Referral not acknowledged",
                queue="clinical_support",
                sla_minutes=day,
                help="The specialist has not acknowledged the referral in time: call or message the office, "
                "confirm the packet arrived, log the contact.",
                subject_url=url,
            ),
            WorkKind(
                code=followups.NO_APPOINTMENT,
                label="Referral without an appointment",
                queue="clinical_support",
                sla_minutes=day,
                help="No appointment in time: get the date from the office or the patient and record it.",
                subject_url=url,
            ),
            WorkKind(
                code=followups.NO_REPORT,
                label="Consult report missing",
                queue="clinical_support",
                sla_minutes=day,
                help="The patient was seen and no report came back: ask for the consult note and file it to "
                "the referral (that closes this item).",
                subject_url=url,
            ),
            WorkKind(
                code=followups.AUTH_EXPIRING,
                label="Referral authorization expiring",
                queue="front_office",
                sla_minutes=2 * day,
                help="The plan's referral authorization ends within 14 days with visits left: ask the plan for an "
                "extension (record the new date) or make sure the visit happens in time.",
                subject_url=url,
            ),
            WorkKind(
                code=workflow.REPORT_REVIEW,
                label="Review a consult report",
                queue="provider",
                sla_minutes=2 * day,
                help="A specialist's report is in the chart: read it and mark it reviewed (that closes the loop).",
                subject_url=url,
            ),
            WorkKind(
                code=workflow.DECLINED_ITEM,
                label="Referral declined by the specialist",
                queue="clinical_support",
                sla_minutes=day,
                help="Refer again to another specialist (the packet is copied) or tell the provider.",
                subject_url=url,
            ),
            WorkKind(
                code=workflow.EXPIRED_ITEM,
                label="Referral expired unused",
                queue="front_office",
                sla_minutes=2 * day,
                help="The plan's authorization ran out before the visit: get a new one and refer again, or tell "
                "the provider the patient did not go.",
                subject_url=url,
            ),
        ):
            register_kind(kind)
        register_periodic("referrals follow-up sweep", "referrals.tasks.sweep_followups", 900)
