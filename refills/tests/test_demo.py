"""The demo seed: one request in each interesting state for dr.rivera's patients, once."""

from __future__ import annotations

from refills import demo
from refills.models import RefillRequest
from tests.factories import CareTeamFactory, PatientFactory, UserFactory
from vma.access import sync_role_groups
from vma.models import WorkItem
from vma.roles import Role

S = RefillRequest.Status


def test_seed_makes_each_state_once(db):
    sync_role_groups()
    rivera = UserFactory(username="dr.rivera", role=Role.PROVIDER)
    eve = UserFactory(username="cs.eve", role=Role.CLINICAL_SUPPORT)
    team = CareTeamFactory(provider=rivera, members=[eve])
    for _ in range(6):
        PatientFactory(care_team=team)
    demo.seed()
    statuses = sorted(RefillRequest.objects.values_list("status", flat=True))
    assert statuses == sorted(
        [S.PENDED, S.MERGED, S.NEEDS_APPOINTMENT, S.NEEDS_REVIEW, S.NEEDS_REVIEW, S.NEEDS_REVIEW, S.SIGNED]
    )
    assert WorkItem.objects.filter(kind="refills.red_flag", queue=Role.NURSE).count() == 1
    assert RefillRequest.objects.get(status=S.NEEDS_REVIEW, controlled_schedule="CIV")
    demo.seed()
    assert RefillRequest.objects.count() == 7
