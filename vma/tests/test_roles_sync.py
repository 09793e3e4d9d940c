"""Role groups after a plain `migrate`: every app's permissions, not only those of apps before vma."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group

from vma.access import ROLE_PERMISSIONS


@pytest.mark.django_db
def test_migrate_gives_each_role_group_its_whole_table():
    # No fixture re-syncs here: the groups are what the test database's migrate left.
    for role, perms in ROLE_PERMISSIONS.items():
        group = Group.objects.get(name=role)
        held = {f"{app}.{code}" for app, code in group.permissions.values_list("content_type__app_label", "codename")}
        assert held == set(perms), (role, sorted(set(perms) - held))
