"""`manage.py enroll_otp USERNAME`: give a provider an authenticator for controlled-substance signing."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from orders.second_factor import enroll, provisioning_uri
from vma.models import User


class Command(BaseCommand):
    help = "Enroll a TOTP authenticator for a user and print its provisioning URI (scan it as a QR code)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")
        parser.add_argument("--replace", action="store_true", help="replace an existing authenticator")
        parser.add_argument("--secret", help="use this base32 secret instead of a random one (demo, tests)")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            user = User.objects.get(username=options["username"])
        except User.DoesNotExist:
            raise CommandError(f"No user {options['username']!r}.") from None
        if not user.has_perm("orders.sign_order"):
            raise CommandError(f"{user.username} does not sign orders; only providers need a second factor.")
        try:
            device = enroll(user, secret=options.get("secret"), replace=options["replace"])
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(provisioning_uri(device))
        self.stderr.write(
            "Scan this URI as a QR code (or type the secret) in an authenticator app; the first accepted "
            "code at signing confirms it."
        )
