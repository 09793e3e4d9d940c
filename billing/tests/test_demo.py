"""The billing demo data: a posted remittance, a denial with its work item, patient balances."""

from __future__ import annotations

import pytest

from billing import denials
from billing.demo import seed_billing
from billing.models import Claim, Denial, PatientBalance, RemittanceFile
from tests.factories import CoverageFactory, PatientFactory
from vma.models import WorkItem

pytestmark = pytest.mark.django_db


def test_seed_billing_posts_a_remittance_with_a_denial_and_balances(practice):
    for _ in range(6):
        CoverageFactory(
            patient=PatientFactory(
                care_team=practice.team, address_line="1 Main St", city="Springfield", state="IL", postal_code="62704"
            )
        )
    seed_billing()
    seed_billing.__globals__["seed_remittance"]()  # a second run adds nothing
    assert RemittanceFile.objects.count() == 2
    assert set(RemittanceFile.objects.values_list("status", flat=True)) == {"posted"}
    statuses = sorted(Claim.objects.exclude(status="draft").values_list("status", flat=True))
    assert statuses == ["denied", "paid", "paid", "partially_paid"]
    assert {d.category for d in Denial.objects.all()} == {"authorization", "bundled"}
    assert WorkItem.objects.filter(kind=denials.DENIAL_KIND, status="open").count() == 2
    stages = sorted(PatientBalance.objects.filter(balance__gt=0).values_list("stage", flat=True))
    assert stages == ["current", "current", "final_notice"]
