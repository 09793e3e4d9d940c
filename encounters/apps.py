"""App config for encounters: audited models, work kinds, the `note` signable kind and the AVS sweep."""

from django.apps import AppConfig


class EncountersConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "encounters"
    verbose_name = "Encounters, notes and after visit summaries"

    def ready(self) -> None:
        from auditlog.registry import auditlog

        from vma.schedule import register_periodic
        from vma.signing import register_signable
        from vma.workqueue import WorkKind, register_kind

        from . import avs, models, workflow
        from .signing import NoteSignable

        # Concrete fields only (auditlog would otherwise read the reverse one-to-one `summary` on every
        # save); the per-field bookkeeping changes with every autosave and the fields themselves are audited.
        auditlog.register(
            models.Encounter,
            include_fields=[
                f.name for f in models.Encounter._meta.concrete_fields if f.name not in ("updated_at", "field_changes")
            ],
        )
        auditlog.register(models.EncounterDiagnosis)
        auditlog.register(models.Addendum)
        auditlog.register(models.AfterVisitSummary, exclude_fields=["updated_at"], m2m_fields={"education"})
        auditlog.register(models.AvsDelivery)
        auditlog.register(models.EducationMaterial)
        register_kind(
            WorkKind(
                code=workflow.NOTE_RETURNED,
                label="Note returned by the provider",
                queue="clinical_support",
                sla_minutes=4 * 60,
                help="The provider returned the visit note with a comment: fix what it says, then mark the note "
                "ready for signature again.",
                subject_url=workflow.note_url,
            )
        )
        register_kind(
            WorkKind(
                code=workflow.AVS_DELIVER,
                label="Send the after visit summary",
                queue="clinical_support",
                sla_minutes=24 * 60,
                help="The note is signed: check the summary (the provider may add education materials) and send "
                "the patient the secure link.",
                subject_url=workflow.avs_url,
            )
        )
        register_kind(
            WorkKind(
                code=avs.AVS_NOT_VIEWED,
                label="Visit summary not opened",
                queue="clinical_support",
                sla_minutes=24 * 60,
                help="The patient has not opened their after visit summary: call, check the link reached them "
                "(re-send it if needed) and answer their questions.",
                subject_url=avs.summary_url,
            )
        )
        register_signable(NoteSignable())
        register_periodic("encounters AVS not viewed (hourly)", "encounters.tasks.sweep_avs_not_viewed", 3600)
