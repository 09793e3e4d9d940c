"""App config for huddle: audited models, the scrub work kind, re-scrub signals and the periodic jobs."""

from django.apps import AppConfig


class HuddleConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "huddle"
    verbose_name = "Chart scrub and huddle"

    def ready(self) -> None:
        from auditlog.registry import auditlog

        from vma.schedule import register_periodic
        from vma.workqueue import WorkKind, register_kind

        from . import models, signals
        from .workflow import SCRUB_KIND, scrub_url

        auditlog.register(models.ChartScrub, exclude_fields=["updated_at", "evaluated_at", "needs_action"])
        # A person's marks are audited; the automatic lines are derived from audited chart rows.
        auditlog.register(models.ScrubItem, include_fields=["state", "note", "marked_by", "marked_at"])
        # Chart preparation (results, reports, care gaps, standing orders) is the clinical-support
        # VMA's work; the front office also works scrub lines (eligibility, authorizations) from the page.
        register_kind(
            WorkKind(
                code=SCRUB_KIND,
                label="Scrub the chart before the visit",
                queue="clinical_support",
                sla_minutes=24 * 60,
                help="Work the visit's checklist (eligibility, authorization, intake, results, care gaps, "
                "standing orders): mark each line done or not applicable, then mark the chart scrubbed.",
                subject_url=scrub_url,
            )
        )
        signals.connect()
        register_periodic("huddle scrub build (hourly)", "huddle.tasks.build_scrubs", 3600)
        register_periodic("huddle sheet snapshots (daily, before clinic)", "huddle.tasks.snapshot_huddles", 900)
