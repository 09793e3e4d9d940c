"""App config for patients: registers audited models and work kinds."""

from django.apps import AppConfig


class PatientsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "patients"

    def ready(self) -> None:
        from auditlog.registry import auditlog

        from vma.schedule import register_periodic
        from vma.workqueue import WorkKind, register_kind

        from . import models
        from .services import document_index_url
        from .workflow import RESULT_OVERDUE

        auditlog.register(models.Patient)
        auditlog.register(models.Coverage)
        auditlog.register(models.ChartDocument, exclude_fields=["file"])
        for model in (models.Problem, models.Medication, models.Allergy, models.Immunization, models.Procedure):
            auditlog.register(model)
        auditlog.register(models.ExpectedResult)
        auditlog.register(models.UnmatchedDocument, exclude_fields=["file"])
        auditlog.register(models.CareGapRule)
        auditlog.register(models.StandingOrderProtocol)
        register_kind(
            WorkKind(
                code=RESULT_OVERDUE,
                label="Result overdue",
                queue="clinical_support",
                sla_minutes=24 * 60,
                help="An ordered test or referral report is past its expected date: call the lab or the "
                "consultant for it and file it to the chart (filing it closes this item), or cancel the "
                "expected result with a reason on the patient page.",
            )
        )
        register_periodic("overdue results sweep", "patients.tasks.sweep_overdue_results", 3600)
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
                subject_url=document_index_url,
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
