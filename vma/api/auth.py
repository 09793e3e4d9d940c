"""Named API tokens for partner systems: `Authorization: Bearer vma_<prefix>_<secret>`."""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Any

from auditlog.context import auditlog_value
from django.utils import timezone
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions

from vma.models import ApiToken, User


def create_token(
    *, name: str, user: User, scopes: list[str], expires_at: datetime, created_by: User | None
) -> tuple[ApiToken, str]:
    """Create a token; returns it and the raw secret, which is never stored and shown once."""
    from vma.access import API_SCOPES

    unknown = sorted(set(scopes) - set(API_SCOPES))
    if unknown:
        raise ValueError(f"Unknown scopes: {', '.join(unknown)}")
    if expires_at <= timezone.now():
        raise ValueError("A token must expire in the future.")
    prefix = secrets.token_hex(4)
    raw = f"vma_{prefix}_{secrets.token_urlsafe(32)}"
    token = ApiToken.objects.create(
        name=name,
        user=user,
        prefix=prefix,
        key_hash=ApiToken.hash_key(raw),
        scopes=sorted(set(scopes)),
        expires_at=expires_at,
        created_by=created_by,
    )
    return token, raw


class ApiTokenAuthentication(authentication.BaseAuthentication):
    keyword = "Bearer"

    def authenticate(self, request: Any) -> tuple[User, ApiToken] | None:
        header = authentication.get_authorization_header(request).decode("latin-1")
        if not header:
            return None
        parts = header.split()
        if parts[0] != self.keyword:
            return None  # another scheme: not ours to judge
        if len(parts) != 2:
            raise self._failure()
        token = ApiToken.objects.select_related("user").filter(key_hash=ApiToken.hash_key(parts[1])).first()
        if token is None or not token.is_active or not token.user.is_active:
            raise self._failure()
        # auditlog's middleware ran before DRF authenticated the token: name the actor now, so
        # writes made through the token are attributed to its account.
        context = auditlog_value.get(None)
        if isinstance(context, dict) and context.get("actor") is None:
            context["actor"] = token.user
        now = timezone.now()
        if token.last_used_at is None or (now - token.last_used_at).total_seconds() > 60:
            ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        return token.user, token

    def _failure(self) -> exceptions.AuthenticationFailed:
        # One message for unknown, expired and revoked: nothing to learn by probing.
        return exceptions.AuthenticationFailed("Invalid, expired or revoked token.")

    def authenticate_header(self, request: Any) -> str:
        return self.keyword


class ApiTokenScheme(OpenApiAuthenticationExtension):  # type: ignore[no-untyped-call]
    target_class = "vma.api.auth.ApiTokenAuthentication"
    name = "apiToken"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {"type": "http", "scheme": "bearer", "description": "A named, scoped API token created by an admin."}
