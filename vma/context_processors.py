"""Template context shared by every page."""

from typing import Any

from django.conf import settings
from django.http import HttpRequest


def portal(request: HttpRequest) -> dict[str, Any]:
    user = getattr(request, "user", None)
    roles = sorted(user.role_names) if user is not None and user.is_authenticated else []
    return {
        "idle_seconds": settings.SESSION_IDLE_SECONDS,
        "user_roles": roles,
        "can_view_queue_health": bool(user and user.is_authenticated and user.has_perm("vma.view_queue_health")),
        "can_view_audit": bool(user and user.is_authenticated and user.has_perm("vma.view_auditevent")),
    }
