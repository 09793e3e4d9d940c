"""Verify the audit trail's hash chain; exit 1 and name the first broken link if it fails."""

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from vma.audit import verify_chain


class Command(BaseCommand):
    help = "Verify the audit trail's hash chain and report the first broken link."

    def handle(self, *args: Any, **options: Any) -> None:
        report = verify_chain()
        if not report.ok:
            raise CommandError(
                f"Audit chain BROKEN at event #{report.broken_at}: {report.reason} ({report.checked} events verified before it).",
                returncode=1,
            )
        self.stdout.write(f"Audit chain intact: {report.checked} events verified.")
