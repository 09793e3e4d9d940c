"""App config for the core: audit hooks, role groups, periodic tasks, work kinds."""

from django.apps import AppConfig, apps
from django.db.models.signals import post_migrate


class VmaConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "vma"
    verbose_name = "VMA Portal core"

    def ready(self) -> None:
        from auditlog.registry import auditlog
        from auditlog.signals import post_log

        from . import handlers  # noqa: F401  (registers outbox handlers)
        from .access import sync_role_groups
        from .audit import on_auditlog_entry
        from .models import WorkItem
        from .schedule import sync_periodic_tasks
        from .workqueue import WorkKind, register_kind

        auditlog.register(WorkItem, exclude_fields=["updated_at"])
        post_log.connect(on_auditlog_entry, dispatch_uid="vma.audit.chain")
        # After the LAST app's post_migrate: by then auth has created every app's permissions (on
        # vma's own signal the apps listed after it have none yet, and a fresh database's groups
        # would miss them until a second migrate).
        last_app = list(apps.get_app_configs())[-1]
        post_migrate.connect(sync_role_groups, sender=last_app, dispatch_uid="vma.roles")
        post_migrate.connect(sync_periodic_tasks, sender=self, dispatch_uid="vma.schedule")
        register_kind(
            WorkKind(
                code="vma.outbox_failed",
                label="Background job failed",
                queue="manager",
                sla_minutes=24 * 60,
                priority=2,
                help="A side effect could not be delivered after retries; the reason is on the item.",
            )
        )
