"""The demo seed: today's video visits walked through the real workflow, once."""

from __future__ import annotations

from datetime import datetime, time

from django.utils import timezone

from telehealth import demo
from telehealth.models import VisitRoom
from tests.factories import PatientFactory, UserFactory
from vma.access import add_to_care_team
from vma.models import WorkItem
from vma.roles import Role


def test_seed_makes_rooms_in_several_states_once(practice):
    add_to_care_team(UserFactory(role=Role.CLINICAL_SUPPORT), practice.other_team)
    for team in (practice.team, practice.other_team):
        for _ in range(6):
            PatientFactory(care_team=team)
    noon = timezone.make_aware(datetime.combine(timezone.localdate(), time(12)))
    made = demo.seed(now=noon)
    assert made == len(demo.PLAN)
    statuses = set(VisitRoom.objects.values_list("status", flat=True))
    assert statuses == set(VisitRoom.Status.values) - {"roomed"}
    assert WorkItem.objects.filter(kind="telehealth.no_join").count() == 1
    assert demo.seed(now=noon) == 0
    assert VisitRoom.objects.count() == made
