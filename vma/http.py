"""Request types for views behind login: `request.user` is a User, `request.htmx` is set."""

from __future__ import annotations

from typing import Any, cast

from django.http import HttpRequest
from django_htmx.middleware import HtmxDetails

from .models import User


class AuthedHttpRequest(HttpRequest):
    user: User  # type: ignore[assignment]
    htmx: HtmxDetails


def user_of(request: Any) -> User:
    """The signed-in user of a DRF request (its permission class already refused anonymous)."""
    return cast(User, request.user)
