"""App config for orders: audited models, work kinds, the order SignableKind and the effects handler."""

from django.apps import AppConfig


class OrdersConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "orders"
    verbose_name = "Orders and the signing queue"

    def ready(self) -> None:
        from auditlog.registry import auditlog

        from vma.signing import register_signable
        from vma.workqueue import WorkKind, register_kind

        from . import effects, models
        from .signing import OrderSignable
        from .workflow import RETURNED_KIND, order_url

        auditlog.register(models.Order, exclude_fields=["updated_at"])
        # The TOTP secret never goes into the audit trail; that it changed, and when, does.
        auditlog.register(models.SecondFactorDevice, exclude_fields=["secret", "updated_at"])
        register_signable(OrderSignable())
        register_kind(
            WorkKind(
                code=RETURNED_KIND,
                label="Order returned by the provider",
                queue="clinical_support",
                sla_minutes=60,
                priority=2,
                help="The provider sent a pended order back with a comment: edit it and pend it again, or cancel it.",
                subject_url=order_url,
            )
        )
        register_kind(
            WorkKind(
                code=effects.PHARMACY_FAILED,
                label="Prescription refused by the pharmacy",
                queue="clinical_support",
                sla_minutes=60,
                priority=2,
                help="The pharmacy did not accept a signed prescription: call it, or ask the patient for another "
                "pharmacy, and have the provider send a new prescription.",
                subject_url=order_url,
            )
        )
        register_kind(
            WorkKind(
                code=effects.REFERRAL_TO_SEND,
                label="Referral to send",
                queue="clinical_support",
                sla_minutes=24 * 60,
                help="A signed referral order could not start the referral workflow: send it to the specialist "
                "and track it until the consult report is filed.",
                subject_url=order_url,
            )
        )
        register_kind(
            WorkKind(
                code=effects.FOLLOW_UP_TO_BOOK,
                label="Book a follow-up visit",
                queue="front_office",
                sla_minutes=2 * 24 * 60,
                help="The provider ordered a follow-up visit: call the patient and book it in the time asked.",
                # The patient's chart (the default), not the order: the front office reads no orders.
            )
        )
