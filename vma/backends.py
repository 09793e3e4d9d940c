"""Authentication backend: permissions come from roles (groups) only, read in one query."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.models import Group, Permission


class RoleBackend(ModelBackend):
    """ModelBackend, but a user's roles and their permissions load together, once per request.

    Access is granted by role, never by a per-user model permission (minimum necessary is
    reviewed per role in vma.access.ROLE_PERMISSIONS), so user_permissions are not consulted.
    """

    def get_user_permissions(self, user_obj: Any, obj: Any = None) -> set[str]:
        return set()

    def get_group_permissions(self, user_obj: Any, obj: Any = None) -> set[str]:
        return self.get_all_permissions(user_obj, obj)

    def get_all_permissions(self, user_obj: Any, obj: Any = None) -> set[str]:
        if not user_obj.is_active or user_obj.is_anonymous or obj is not None:
            return set()
        if not hasattr(user_obj, "_perm_cache"):
            if user_obj.is_superuser:
                perms = {f"{a}.{c}" for a, c in Permission.objects.values_list("content_type__app_label", "codename")}
                roles = set(user_obj.groups.values_list("name", flat=True))
            else:
                rows = Group.objects.filter(user=user_obj).values_list(
                    "name", "permissions__content_type__app_label", "permissions__codename"
                )
                roles, perms = set(), set()
                for name, app_label, codename in rows:
                    roles.add(name)
                    if codename:
                        perms.add(f"{app_label}.{codename}")
            user_obj._perm_cache = perms
            user_obj._group_perm_cache = perms
            user_obj._user_perm_cache = set()
            from .roles import Role

            user_obj._role_names = roles & set(Role.values)
        return user_obj._perm_cache
