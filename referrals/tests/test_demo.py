"""The demo seed: a synthetic directory with valid NPIs and referrals in several states, idempotent."""

from __future__ import annotations

from referrals import demo
from referrals.models import Referral, Specialist
from tests.factories import CoverageFactory, PatientFactory
from vma.validators import is_valid_npi


def test_seed_is_idempotent_and_synthetic(practice):
    for _ in range(8):
        CoverageFactory(patient=PatientFactory(care_team=practice.team))
    demo.seed()
    specialists, referrals = Specialist.objects.count(), Referral.objects.count()
    states = set(Referral.objects.values_list("status", flat=True))
    demo.seed()
    assert (Specialist.objects.count(), Referral.objects.count()) == (specialists, referrals)
    assert specialists >= 5 and all(is_valid_npi(n) for n in Specialist.objects.values_list("npi", flat=True))
    assert len(states) >= 5 and {"draft", "sent", "report_received", "closed"} <= states
