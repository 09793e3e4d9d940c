"""Care-gap rules (starter set) and standing orders: eligible and ineligible, boundaries, evidence."""

from __future__ import annotations

from datetime import date

import pytest
from dateutil.relativedelta import relativedelta
from django.core.exceptions import ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext

from patients.caregaps import flu_season_start, open_gaps, standing_orders, validate_evidence
from patients.models import Immunization, Medication, Problem, Procedure
from tests.factories import PatientFactory

AS_OF = date(2026, 11, 23)  # in influenza season


def born(age: int, *, on: date = AS_OF, days_after: int = 0) -> date:
    """A date of birth giving `age` on `on` (days_after > 0: the birthday is that many days later)."""
    return on - relativedelta(years=age) + relativedelta(days=days_after)


def person(age: int, sex: str = "F", *, days_after: int = 0):
    return PatientFactory(date_of_birth=born(age, days_after=days_after), sex=sex)


def codes(patient, *, as_of: date = AS_OF) -> set[str]:
    return {g.rule_code for g in open_gaps([patient.pk], as_of=as_of)[patient.pk]}


def proc(patient, code: str, on: date, value: str = "") -> Procedure:
    return Procedure.objects.create(patient=patient, code=code, performed_on=on, value=value)


def problem(patient, code: str) -> Problem:
    return Problem.objects.create(patient=patient, code=code, description=code)


# --- breast cancer screening: women 50–74, mammogram within 27 months ---------------------------


@pytest.mark.parametrize(
    ("age", "sex", "days_after", "due"),
    [
        (50, "F", 0, True),  # 50th birthday today
        (49, "F", 1, False),  # turns 50 tomorrow
        (74, "F", 0, True),
        (75, "F", 0, False),  # 75 today: past the band
        (60, "M", 0, False),
    ],
)
def test_breast_screening_eligibility(rules, age, sex, days_after, due):
    p = person(age, sex, days_after=days_after)
    assert ("breast-cancer-screening" in codes(p)) is due


def test_breast_screening_interval_boundary_and_reason(rules):
    p = person(60)
    gap = next(g for g in open_gaps([p.pk], as_of=AS_OF)[p.pk] if g.rule_code == "breast-cancer-screening")
    assert gap.reason == "Woman aged 50–74; no mammogram on record (due every 27 months)"
    # Done 27 months ago tomorrow: still closed today; exactly 27 months ago: open again.
    m = proc(p, "mammogram", AS_OF - relativedelta(months=27) + relativedelta(days=1))
    assert "breast-cancer-screening" not in codes(p)
    m.performed_on = AS_OF - relativedelta(months=27)
    m.save()
    gap = next(g for g in open_gaps([p.pk], as_of=AS_OF)[p.pk] if g.rule_code == "breast-cancer-screening")
    assert gap.reason == f"Woman aged 50–74; no mammogram since {m.performed_on:%m/%Y} (due every 27 months)"


def test_evidence_after_as_of_does_not_count(rules):
    p = person(60)
    proc(p, "mammogram", AS_OF + relativedelta(days=3))
    assert "breast-cancer-screening" in codes(p)


# --- colorectal: 45–75, any one of four options ---------------------------------------------------


@pytest.mark.parametrize(("age", "days_after", "due"), [(45, 0, True), (44, 1, False), (75, 0, True), (76, 0, False)])
def test_colorectal_age_band(rules, age, days_after, due):
    assert ("colorectal-cancer-screening" in codes(person(age, "M", days_after=days_after))) is due


@pytest.mark.parametrize(
    ("code", "months"),
    [("fit", 12), ("fit_dna", 36), ("flex_sig", 60), ("ct_colonography", 60), ("colonoscopy", 120)],
)
def test_colorectal_each_option_closes_within_its_interval(rules, code, months):
    p = person(55, "M")
    row = proc(p, code, AS_OF - relativedelta(months=months) + relativedelta(days=1))
    assert "colorectal-cancer-screening" not in codes(p)
    row.performed_on = AS_OF - relativedelta(months=months)
    row.save()
    assert "colorectal-cancer-screening" in codes(p)


def test_colorectal_reason_lists_the_options(rules):
    p = person(55, "M")
    proc(p, "fit", date(2024, 3, 5))
    gap = next(g for g in open_gaps([p.pk], as_of=AS_OF)[p.pk] if g.rule_code == "colorectal-cancer-screening")
    assert gap.reason.startswith("Aged 45–75; none of: FIT within 12 months (last 03/2024), ")
    assert "colonoscopy within 120 months (none on record)" in gap.reason


# --- cervical: women 21–65; cytology 36 months, or HPV 60 months from 30 -------------------------


@pytest.mark.parametrize(
    ("age", "sex", "days_after", "due"),
    [(21, "F", 0, True), (20, "F", 1, False), (65, "F", 0, True), (66, "F", 0, False), (40, "M", 0, False)],
)
def test_cervical_eligibility(rules, age, sex, days_after, due):
    assert ("cervical-cancer-screening" in codes(person(age, sex, days_after=days_after))) is due


def test_cervical_hpv_counts_only_from_30(rules):
    young, older = person(29), person(30)
    for p in (young, older):
        proc(p, "hpv_test", AS_OF - relativedelta(months=40))
    assert "cervical-cancer-screening" in codes(young)  # HPV alone is not an option under 30
    assert "cervical-cancer-screening" not in codes(older)
    proc(young, "cervical_cytology", AS_OF - relativedelta(months=36) + relativedelta(days=1))
    assert "cervical-cancer-screening" not in codes(young)


# --- HbA1c for diabetes; BP for hypertension --------------------------------------------------------


def test_hba1c_needs_active_diabetes(rules):
    p = person(40, "M")
    assert "diabetes-hba1c" not in codes(p)
    dm = problem(p, "E11.9")
    gap = next(g for g in open_gaps([p.pk], as_of=AS_OF)[p.pk] if g.rule_code == "diabetes-hba1c")
    assert gap.reason == "Diabetes (E11.9); no HbA1c on record (due every 6 months)"
    proc(p, "hba1c", AS_OF - relativedelta(months=6) + relativedelta(days=1), "7.2")
    assert "diabetes-hba1c" not in codes(p)
    dm.status = Problem.Status.RESOLVED
    dm.save()
    Procedure.objects.all().delete()
    assert "diabetes-hba1c" not in codes(p)  # a resolved problem counts for nothing


def test_hba1c_interval_boundary(rules):
    p = person(40, "M")
    problem(p, "E10.9")
    proc(p, "hba1c", AS_OF - relativedelta(months=6))
    assert "diabetes-hba1c" in codes(p)


def test_bp_check_for_hypertension(rules):
    p = person(40, "M")
    problem(p, "E78.5")  # hyperlipidemia is not hypertension
    assert "hypertension-bp-check" not in codes(p)
    problem(p, "I10")
    assert "hypertension-bp-check" in codes(p)
    proc(p, "bp_reading", AS_OF - relativedelta(months=12) + relativedelta(days=1), "132/84")
    assert "hypertension-bp-check" not in codes(p)


# --- influenza (season) and pneumococcal (65+, ever) ------------------------------------------------


def test_flu_season_bounds():
    assert flu_season_start(date(2026, 8, 1)) == date(2026, 8, 1)
    assert flu_season_start(date(2027, 3, 31)) == date(2026, 8, 1)
    assert flu_season_start(date(2027, 4, 1)) is None
    assert flu_season_start(date(2026, 7, 31)) is None


def test_flu_vaccine_due_in_season_closed_by_this_seasons_shot(rules):
    p = person(30, "M")
    assert "influenza-vaccine" in codes(p)
    assert "influenza-vaccine" not in codes(p, as_of=date(2027, 5, 1))  # out of season
    Immunization.objects.create(patient=p, vaccine="Flu", cvx_code="141", given_on=date(2026, 7, 31))
    assert "influenza-vaccine" in codes(p)  # last season's
    Immunization.objects.create(patient=p, vaccine="Flu", cvx_code="150", given_on=date(2026, 8, 1))
    assert "influenza-vaccine" not in codes(p)
    assert "influenza-vaccine" in codes(p, as_of=date(2027, 8, 1))  # a new season


@pytest.mark.parametrize(("age", "days_after", "due"), [(65, 0, True), (64, 1, False), (90, 0, True)])
def test_pneumococcal_at_65(rules, age, days_after, due):
    assert ("pneumococcal-vaccine-65" in codes(person(age, "M", days_after=days_after))) is due


def test_pneumococcal_closed_by_any_dose_ever(rules):
    p = person(70, "M")
    Immunization.objects.create(patient=p, vaccine="PCV20", cvx_code="216", given_on=date(2015, 1, 1))
    assert "pneumococcal-vaccine-65" not in codes(p)
    Immunization.objects.all().delete()
    Immunization.objects.create(patient=p, vaccine="Tdap", cvx_code="115", given_on=date(2025, 1, 1))
    assert "pneumococcal-vaccine-65" in codes(p)


def test_inactive_rule_is_not_evaluated(rules):
    p = person(60)
    rules["breast-cancer-screening"].active = False
    rules["breast-cancer-screening"].save()
    assert "breast-cancer-screening" not in codes(p)


def test_evidence_validation_refuses_nonsense():
    with pytest.raises(ValidationError):
        validate_evidence([])
    with pytest.raises(ValidationError):
        validate_evidence([{"procedure": "xray", "months": 12}])
    with pytest.raises(ValidationError):
        validate_evidence([{"procedure": "fit", "months": 0}])
    with pytest.raises(ValidationError):
        validate_evidence([{"cvx": ["88"], "label": "flu", "months": 12}], seasonal=True)
    validate_evidence([{"procedure": "fit", "months": 12}])


# --- standing orders ---------------------------------------------------------------------------


def test_standing_orders(rules):
    dm, thyroid, well = person(50, "M"), person(50), person(50)
    problem(dm, "E11.9")
    Medication.objects.create(patient=thyroid, name="Levothyroxine 50 mcg")
    Medication.objects.create(patient=well, name="Levothyroxine", stop_date=date(2025, 1, 1))
    got = standing_orders([dm.pk, thyroid.pk, well.pk], as_of=AS_OF)
    assert [(s.protocol_code, s.reason) for s in got[dm.pk]] == [
        ("a1c-diabetes-6m", "Diabetes (E11.9) and no HbA1c in 6 months")
    ]
    assert [s.reason for s in got[thyroid.pk]] == ["On levothyroxine and no TSH in 12 months"]
    assert got[well.pk] == []
    proc(dm, "hba1c", AS_OF - relativedelta(months=6) + relativedelta(days=1))
    proc(thyroid, "tsh", AS_OF - relativedelta(months=12))
    got = standing_orders([dm.pk, thyroid.pk], as_of=AS_OF)
    assert got[dm.pk] == []
    assert got[thyroid.pk][0].reason.startswith("On levothyroxine and no TSH in 12 months (last ")


def test_lipid_protocol_for_hypertension(rules):
    p = person(50, "M")
    problem(p, "I10")
    assert [s.title for s in standing_orders([p.pk], as_of=AS_OF)[p.pk]] == ["Lipid panel"]


# --- batch contract: every id present, constant queries ------------------------------------------


def _population(n: int) -> list[int]:
    ids = []
    for i in range(n):
        p = person(40 + i % 40, "F" if i % 2 else "M")
        problem(p, "E11.9" if i % 3 else "I10")
        proc(p, "hba1c", date(2026, 1, 1))
        Immunization.objects.create(patient=p, vaccine="Flu", cvx_code="141", given_on=date(2026, 9, 1))
        Medication.objects.create(patient=p, name="Levothyroxine" if i % 4 else "Metformin")
        ids.append(p.pk)
    return ids


@pytest.mark.parametrize("fn", [open_gaps, standing_orders])
def test_batch_queries_constant_from_5_to_40(rules, fn):
    counts = []
    for n in (5, 40):
        ids = _population(n)
        with CaptureQueriesContext(connection) as ctx:
            result = fn(ids, as_of=AS_OF)
        assert set(result) == set(ids)
        assert any(result[i] for i in ids)
        counts.append(len(ctx.captured_queries))
    assert counts[0] == counts[1]


def test_every_id_present_even_with_nothing_due(rules):
    p = person(10, "M")
    assert open_gaps([p.pk], as_of=date(2027, 5, 1)) == {p.pk: []}
    assert standing_orders([p.pk]) == {p.pk: []}
    assert open_gaps([]) == {}
