"""One permission class for every endpoint: the view states its policy, missing means denied."""

from __future__ import annotations

from typing import Any

from rest_framework.permissions import BasePermission

from vma.models import ApiToken

SAFE = {"GET", "HEAD", "OPTIONS"}


class ScopedRolePermission(BasePermission):
    """A view declares `policy = {"read": (perm, scope), "write": (perm, scope)}`.

    Both the role's model permission and (for tokens) the token's scope must hold. A view
    without a policy for the request's method is denied: a forgotten check fails closed.
    Object scope (which patients) is applied by each view's queryset through vma.access.
    """

    message = "You do not have access to this."

    def has_permission(self, request: Any, view: Any) -> bool:
        user = request.user
        if user is None or not user.is_authenticated:
            return False
        policy: dict[str, tuple[str, str]] = getattr(view, "policy", {})
        action = getattr(view, "action", None)
        key = action if action in policy else ("read" if request.method in SAFE else "write")
        if key not in policy:
            return False
        perm, scope = policy[key]
        if not user.has_perm(perm):
            return False
        if isinstance(request.auth, ApiToken):
            return scope in request.auth.scopes
        return True
