"""App config for refills: audited models, the refill work kinds, the signing kind, the notify handler."""

from django.apps import AppConfig


class RefillsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "refills"
    verbose_name = "Refills"

    def ready(self) -> None:
        from auditlog.registry import auditlog

        from vma.signing import register_signable
        from vma.workqueue import WorkKind, register_kind

        from . import models, notify  # noqa: F401 - notify registers its outbox handler
        from . import workflow as w
        from .signing import RefillSignable

        # The request's own rows carry every change; its event history (like WorkItemEvent) is derived.
        auditlog.register(models.RefillRequest, exclude_fields=["updated_at"])
        # Practice data (protocols, classes, red-flag terms): who changed them matters, no patient data.
        auditlog.register(models.MedicationClass, exclude_fields=["updated_at"])
        auditlog.register(models.RefillProtocol, exclude_fields=["updated_at"])
        auditlog.register(models.RedFlagTerm)
        register_signable(RefillSignable())
        day = 8 * 60
        kinds = [
            WorkKind(
                code=w.RED_FLAG,
                label="Red flag on a refill request",
                queue="nurse",
                sla_minutes=15,
                priority=1,
                help="The requester reported a red-flag symptom. Contact the patient now, follow the practice's "
                "protocol and document the hand-off when completing the item. The refill itself waits for the "
                "provider's review.",
                subject_url=w.request_url,
            ),
            WorkKind(
                code=w.SIGN,
                label="Sign a pended refill",
                queue="provider",
                sla_minutes=day,
                help="The protocol is met: sign it with your other pended items on the signing queue, or deny it.",
                subject_url=w.request_url,
            ),
            WorkKind(
                code=w.REVIEW,
                label="Review a refill the protocol does not pass",
                queue="provider",
                sla_minutes=day,
                help="The check shows which line failed and why: sign it, approve it to the signing queue "
                "(controlled substances) or deny it with a reason.",
                subject_url=w.request_url,
            ),
            WorkKind(
                code=w.APPOINTMENT,
                label="Book a visit a refill waits for",
                queue="front_office",
                sla_minutes=day,
                help="The last visit with the prescriber is older than the protocol allows. Book a visit, then "
                "pend a bridge refill for signature on the refill page.",
                subject_url=w.request_url,
            ),
            WorkKind(
                code=w.RETURNED,
                label="Refill sent back by the provider",
                queue="clinical_support",
                sla_minutes=day,
                help="Do what the provider's comment asks (a lab, a correction), then re-check the request.",
                subject_url=w.request_url,
            ),
            WorkKind(
                code=w.PHARMACY_REFUSED,
                label="Pharmacy refused a refill",
                queue="clinical_support",
                sla_minutes=4 * 60,
                help="Call the pharmacy: resend (to another pharmacy if the patient wants) or record that the "
                "pharmacy was told by phone.",
                subject_url=w.request_url,
            ),
            WorkKind(
                code=w.NOTIFY_PATIENT,
                label="Tell the patient about a refill",
                queue="front_office",
                sla_minutes=4 * 60,
                help="The patient could not be reached by text or email: call them, then record it on the refill page.",
                subject_url=w.request_url,
            ),
        ]
        for kind in kinds:
            register_kind(kind)
