"""Coding checks: each on a charge that passes and one that fails, with a reason a biller understands."""

from __future__ import annotations

from datetime import date

import pytest

from billing import coding
from billing.models import Claim, ClaimDiagnosis, ClaimLine

from .factories import codes

pytestmark = pytest.mark.django_db
DOS = date(2026, 3, 2)


def _dx(*codes_: str) -> list[ClaimDiagnosis]:
    return [ClaimDiagnosis(position=i, code=c) for i, c in enumerate(codes_, 1)]


def _line(n: int, code: str, pointers: list[int], mods: tuple[str, ...] = (), units: int = 1) -> ClaimLine:
    return ClaimLine(
        line_number=n,
        procedure_code=code,
        diagnosis_pointers=pointers,
        modifiers=list(mods),
        units=units,
        charge=0,
        service_date=DOS,
    )


def _checks(problems: list[coding.Problem]) -> list[str]:
    return [p.check for p in problems]


def test_billable_diagnosis_passes_and_normalised_forms_are_accepted():
    assert coding.check_diagnoses(_dx("E11.9", "i10", "e119")) == []


@pytest.mark.parametrize(
    ("code", "words"),
    [("E11", "header code"), ("Z99.99", "not in the ICD-10-CM code set"), ("123", "not an ICD-10-CM code")],
)
def test_invalid_or_header_diagnosis_is_flagged(code, words):
    problems = coding.check_diagnoses(_dx("I10", code))
    assert _checks(problems) == ["diagnosis_invalid"]
    assert problems[0].message.startswith("Diagnosis 2") and words in problems[0].message


def test_no_diagnosis_at_all_is_flagged():
    assert _checks(coding.check_diagnoses([])) == ["diagnosis_missing"]


def test_pointer_missing_and_pointer_to_nothing_are_flagged():
    known = codes()
    ok = coding.check_lines([_line(1, "99213", [1])], _dx("I10"), known)
    assert ok == []
    bad = coding.check_lines([_line(1, "36415", []), _line(2, "93000", [3])], _dx("I10"), known)
    assert _checks(bad) == ["pointer_missing", "pointer_dangling"]
    assert "Line 1 (36415) points to no diagnosis" in bad[0].message
    assert "diagnosis 3" in bad[1].message and bad[1].line == 2


def test_em_with_procedure_same_day_needs_modifier_25():
    known = codes()
    without = coding.check_lines([_line(1, "99213", [1]), _line(2, "93000", [1])], _dx("I10"), known)
    assert _checks(without) == ["modifier_25_missing"]
    assert "modifier 25" in without[0].message and "93000" in without[0].message
    with_25 = coding.check_lines([_line(1, "99213", [1], ("25",)), _line(2, "93000", [1])], _dx("I10"), known)
    assert with_25 == []
    em_alone = coding.check_lines([_line(1, "99213", [1])], _dx("I10"), known)
    assert em_alone == []


def test_units_beyond_the_daily_maximum_are_flagged_across_lines():
    known = codes()  # 97110: at most 4 a day
    assert coding.check_lines([_line(1, "97110", [1], units=4)], _dx("I10"), known) == []
    over = coding.check_lines([_line(1, "97110", [1], units=3), _line(2, "97110", [1], units=2)], _dx("I10"), known)
    assert _checks(over) == ["units_exceeded"]
    assert "5 units" in over[0].message and "the 4 a day" in over[0].message


def test_unknown_procedure_code_is_flagged():
    known = codes()
    problems = coding.check_lines([_line(1, "G9999", [1])], _dx("I10"), known)
    assert _checks(problems) == ["procedure_unknown"]
    assert "not on the practice's procedure list" in problems[0].message


def test_check_claim_reads_the_saved_claim(practice):
    from .factories import draft

    claim: Claim = draft(practice)
    assert coding.check_claim(claim) == []
    ClaimDiagnosis.objects.create(claim=claim, position=2, code="E11")  # stored around the form, e.g. seeded
    assert _checks(coding.check_claim(claim)) == ["diagnosis_invalid"]
