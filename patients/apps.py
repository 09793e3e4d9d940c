"""App config for patients: registers audited models and work kinds."""

from django.apps import AppConfig


class PatientsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "patients"

    def ready(self) -> None:
        from auditlog.registry import auditlog

        from vma.workqueue import WorkKind, register_kind

        from . import models

        auditlog.register(models.Patient)
        auditlog.register(models.Coverage)
        auditlog.register(models.ChartDocument, exclude_fields=["file"])
        register_kind(
            WorkKind(
                code="patients.coverage_review",
                label="Review coverage",
                queue="front_office",
                sla_minutes=24 * 60,
                help="Coverage is missing, expired or needs confirming before the next visit.",
            )
        )
        register_kind(
            WorkKind(
                code="patients.document_index",
                label="Index incoming document",
                queue="clinical_support",
                sla_minutes=8 * 60,
                help="A document arrived and must be filed to the right patient and category.",
            )
        )
        register_kind(
            WorkKind(
                code="patients.callback",
                label="Call the patient back",
                queue="front_office",
                sla_minutes=4 * 60,
                help="The patient asked for a call back.",
            )
        )
