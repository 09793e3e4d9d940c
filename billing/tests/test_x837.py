"""837P generation: what the X12 layer writes passes pyx12's 005010X222A1 map; a broken one is refused."""

from __future__ import annotations

from datetime import datetime

import pytest

from billing.services import LineInput
from billing.x12 import x837
from eligibility.x12.envelope import iter_transactions, read_interchanges

from .factories import draft

pytestmark = pytest.mark.django_db
WHEN = datetime(2026, 3, 2, 10, 30)


def test_generated_837p_validates_with_pyx12(practice):
    claim = draft(
        practice,
        telehealth=True,
        diagnoses=("E11.9", "I10"),
        lines=[
            LineInput("99214", modifiers=["25"], diagnosis_pointers=[1, 2]),
            LineInput("93000", diagnosis_pointers=[2]),
        ],
    )
    text = x837.build_837(claim, interchange_control_number=17, when=WHEN)
    assert x837.validate_with_pyx12(text) == []
    segments = next(iter_transactions(read_interchanges(text))).segments
    clm = next(s for s in segments if s.id == "CLM")
    assert clm.get(1) == claim.patient_control_number
    assert clm.get(2) == "240"  # 180 + 60
    assert clm.components(5)[:3] == ["10", "B", "1"]  # telehealth at home by default, original claim
    sv1 = [s for s in segments if s.id == "SV1"]
    assert sv1[0].components(1) == ["HC", "99214", "25", "95"]  # 95 added for a telehealth payer
    assert sv1[0].components(7) == ["1", "2"]
    hi = next(s for s in segments if s.id == "HI")
    assert hi.components(1) == ["ABK", "E119"] and hi.components(2) == ["ABF", "I10"]


def test_an_837_that_breaks_the_map_is_reported(practice):
    claim = draft(practice)
    text = x837.build_837(claim, interchange_control_number=18, when=WHEN)
    broken = text.replace("*UN*", "*XX*")  # SV103 unit code not in the code list
    errors = x837.validate_with_pyx12(broken)
    assert errors and any("SV103" in e or "XX" in e for e in errors), errors
