"""Management command: print the remittances in one or more 835 files as JSON."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from billing.x12.x835 import Remittance, as_json, parse_835
from eligibility.x12.reader import X12Error


class Command(BaseCommand):
    help = "Parse X12 835 remittance advice files and print one JSON object per remittance (ST/SE)."
    # A pure file parser: it should work even while another app's system checks fail.
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("files", nargs="+", metavar="FILE", help="835 file(s) to read")

    def handle(self, *args: Any, **options: Any) -> None:
        remittances: list[Remittance] = []
        for name in options["files"]:
            try:
                remittances += parse_835(Path(name).read_bytes())
            except (OSError, X12Error) as exc:
                problem = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
                # One line, no traceback: scripts read this, and CommandError would add a prefix.
                self.stderr.write(f"parse_835: {name}: {' '.join(problem.split())}")
                sys.exit(2)
        self.stdout.write(as_json(remittances))
