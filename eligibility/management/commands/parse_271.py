"""Management command: print the eligibility responses in one or more 271 files as JSON."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from eligibility.x12.reader import X12Error
from eligibility.x12.x271 import parse_271


class Command(BaseCommand):
    help = "Parse X12 271 eligibility responses and print one JSON object per subscriber/dependent."
    # A pure file parser: it should work even while another app's system checks fail.
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("files", nargs="+", metavar="FILE", help="271 file(s) to read")

    def handle(self, *args: Any, **options: Any) -> None:
        results: list[dict[str, Any]] = []
        for name in options["files"]:
            try:
                data = Path(name).read_bytes()
                results += [response.as_dict() for response in parse_271(data)]
            except (OSError, X12Error) as exc:
                problem = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
                # One line, no traceback: scripts read this, and CommandError would add a prefix.
                self.stderr.write(f"parse_271: {name}: {' '.join(problem.split())}")
                sys.exit(2)
        self.stdout.write(json.dumps(results, indent=2))
