"""The demo seed: today's signed and draft notes of dr.rivera and the education library, idempotent."""

from __future__ import annotations

from encounters import demo
from encounters.models import EducationMaterial, Encounter
from tests.factories import CareTeamFactory, PatientFactory, UserFactory
from vma.access import add_to_care_team, sync_role_groups
from vma.roles import Role


def test_seed_makes_a_signed_and_a_draft_note_and_runs_twice(db):
    sync_role_groups()
    rivera = UserFactory(username="dr.rivera", role=Role.PROVIDER)
    eve = UserFactory(username="cs.eve", role=Role.CLINICAL_SUPPORT)
    team = CareTeamFactory(provider=rivera)
    add_to_care_team(eve, team)
    PatientFactory(care_team=team)
    PatientFactory(care_team=team)
    demo.seed()
    demo.seed()
    notes = list(Encounter.objects.order_by("appointment__start_at"))
    assert [n.status for n in notes] == ["signed", "draft"]
    signed, draft = notes
    assert signed.provider == rivera and signed.signed_by == rivera and signed.diagnoses.count() == 2
    assert signed.summary.education.count() == 2
    assert draft.chief_complaint == "Cough for a week" and draft.diagnoses.get().code == "R05.2"
    assert EducationMaterial.objects.filter(approved_by=rivera, active=True).count() == 3


def test_seed_without_the_demo_clinic_does_nothing(db):
    demo.seed()
    assert not Encounter.objects.exists()
