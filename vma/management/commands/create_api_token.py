"""Create a named, scoped, expiring API token for a partner system; prints the secret once."""

from datetime import timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from vma.api.auth import create_token
from vma.models import User


class Command(BaseCommand):
    help = "Create an API token for an account. The secret is printed once and stored only as a hash."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")
        parser.add_argument("--name", required=True)
        parser.add_argument("--scope", action="append", required=True, dest="scopes")
        parser.add_argument("--days", type=int, default=90)

    def handle(self, *args: Any, **o: Any) -> None:
        user = User.objects.filter(username=o["username"], is_active=True).first()
        if user is None:
            raise CommandError(f"No active user {o['username']!r}.")
        try:
            _token, raw = create_token(
                name=o["name"],
                user=user,
                scopes=o["scopes"],
                expires_at=timezone.now() + timedelta(days=o["days"]),
                created_by=None,
            )
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(raw)
