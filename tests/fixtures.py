"""Shared fixtures (loaded by the root conftest): a two-team practice with one user per role."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from django.core.cache import cache

from vma.access import sync_role_groups
from vma.models import CareTeam, User
from vma.roles import Role

from .factories import CareTeamFactory, PatientFactory, UserFactory


@pytest.fixture(autouse=True)
def _clear_cache():
    # Throttle counters live in the cache; a test starts with none.
    cache.clear()
    yield


@dataclass
class Practice:
    team: CareTeam
    other_team: CareTeam
    users: dict[str, User]  # role -> user on `team` (manager/admin on no team)
    outsider_provider: User  # the provider of other_team


@pytest.fixture
def practice(db) -> Practice:
    sync_role_groups()
    users = {role.value: UserFactory(username=f"{role.value}_u", role=role) for role in Role}
    team = CareTeamFactory(
        provider=users[Role.PROVIDER],
        members=[users[r] for r in (Role.FRONT_OFFICE, Role.BILLING, Role.CLINICAL_SUPPORT, Role.NURSE)],
    )
    other = CareTeamFactory()
    return Practice(team=team, other_team=other, users=users, outsider_provider=other.provider)


@pytest.fixture
def patient(practice):
    return PatientFactory(care_team=practice.team, last_name="Inpanel")


@pytest.fixture
def other_patient(practice):
    return PatientFactory(care_team=practice.other_team, last_name="Outsider")
