"""The protocol check: each line passing and failing with its reason, the outcome it routes to, matching."""

from __future__ import annotations

import pytest
from django.utils import timezone

from orders.models import Order
from patients.models import ExpectedResult, Procedure
from refills import protocols
from refills.matching import matches_drug, medication_key, red_flags_in
from refills.models import MedicationClass, RefillProtocol, RefillRequest
from tests.factories import PatientFactory

from .helpers import NOW, fresh, lab, line, medication, request, statin_chart, visit

S = RefillRequest.Status


@pytest.fixture
def chart(practice):
    patient = PatientFactory(care_team=practice.team)
    statin_chart(patient)
    return patient


def test_a_chart_meeting_the_statin_protocol_is_pended_with_every_line_passed(vma, chart):
    refill = fresh(request(vma, chart).request)
    assert refill.status == S.PENDED
    assert [(item["code"], item["passed"]) for item in refill.check_lines] == [
        ("red_flags", True),
        ("controlled", True),
        ("medication_list", True),
        ("protocol", True),
        ("visit", True),
        ("lab:Lipid panel", True),
        ("refills", True),
        ("days_supply", True),
    ]
    assert line(refill, "protocol")["reason"] == "Statin protocol"
    assert line(refill, "lab:Lipid panel")["reason"].startswith("Lipid panel 01/10/2026 (filed lab result")
    assert refill.medication is not None and refill.medication.name == "Atorvastatin"
    assert refill.pended_by is None and refill.pended_note.startswith("Protocol met")


def test_visit_line_fails_when_the_last_visit_is_too_old_and_routes_to_needs_appointment(vma, practice):
    patient = PatientFactory(care_team=practice.team)
    medication(patient)
    lab(patient)
    visit(patient, months_ago=13)
    refill = fresh(request(vma, patient).request)
    assert refill.status == S.NEEDS_APPOINTMENT
    visit_line = line(refill, "visit")
    assert not visit_line["passed"] and visit_line["reason"] == "Last visit 02/10/2025 (13 months ago)"
    assert visit_line["label"] == f"Visit with {refill.provider} within 12 months"


def test_visit_with_another_provider_does_not_count(vma, practice):
    patient = PatientFactory(care_team=practice.team)
    medication(patient)
    lab(patient)
    visit(patient, provider=practice.outsider_provider)
    refill = fresh(request(vma, patient).request)
    assert not line(refill, "visit")["passed"]
    assert "No completed visit with" in line(refill, "visit")["reason"]


def test_a_cancelled_visit_does_not_count(vma, practice):
    patient = PatientFactory(care_team=practice.team)
    medication(patient)
    lab(patient)
    visit(patient, status="cancelled", cancel_reason="Sick")
    assert not line(fresh(request(vma, patient).request), "visit")["passed"]


@pytest.mark.parametrize(
    ("months_ago", "passed"),
    [(11.5, True), (12, False), (14, False)],
    ids=["within-12-months", "exactly-12-months-opens-again", "too-old"],
)
def test_lab_line_window(vma, practice, months_ago, passed):
    patient = PatientFactory(care_team=practice.team)
    medication(patient)
    visit(patient)
    lab(patient, "Lipid profile (fasting)", months_ago=months_ago)
    refill = fresh(request(vma, patient).request)
    assert line(refill, "lab:Lipid panel")["passed"] is passed
    assert refill.status == (S.PENDED if passed else S.NEEDS_REVIEW)


def test_lab_line_fails_without_evidence_and_says_so(vma, practice):
    patient = PatientFactory(care_team=practice.team)
    medication(patient)
    visit(patient)
    lab(patient, "CBC with differential")  # a lab result, but not a lipid panel
    refill = fresh(request(vma, patient).request)
    assert line(refill, "lab:Lipid panel") == {
        "code": "lab:Lipid panel",
        "label": "Lipid panel within 12 months",
        "passed": False,
        "reason": "No lipid panel on record in the last 12 months",
    }
    assert refill.status == S.NEEDS_REVIEW


def test_a_received_expected_result_counts_as_lab_evidence(vma, practice):
    patient = PatientFactory(care_team=practice.team)
    medication(patient, name="Lisinopril", dose="10 mg")
    visit(patient)
    doc = lab(patient, "Outside results 01/2026")  # a title that names no test
    ExpectedResult.objects.create(
        patient=patient,
        title="Basic metabolic panel",
        category="lab_result",
        ordered_at=doc.received_at.date(),
        expected_by=doc.received_at.date(),
        status=ExpectedResult.Status.RECEIVED,
        document=doc,
        received_at=doc.received_at,
    )
    refill = fresh(request(vma, patient, medication="lisinopril 10mg", strength="10 mg").request)
    assert line(refill, "protocol")["reason"] == "ACE inhibitor or ARB protocol"
    assert line(refill, "lab:Basic metabolic panel")["passed"]
    assert "received result" in line(refill, "lab:Basic metabolic panel")["reason"]
    assert refill.status == S.PENDED


def test_a_recorded_procedure_counts_as_lab_evidence_and_the_metformin_window_is_6_months(vma, practice):
    patient = PatientFactory(care_team=practice.team)
    medication(patient, name="Metformin ER", dose="500 mg")
    visit(patient)
    Procedure.objects.create(patient=patient, code="hba1c", performed_on=NOW.date().replace(month=1), value="7.1")
    refill = fresh(request(vma, patient, medication="metformin er 500 mg").request)
    assert line(refill, "lab:HbA1c")["passed"] and "recorded HbA1c" in line(refill, "lab:HbA1c")["reason"]
    Procedure.objects.all().update(performed_on=NOW.date().replace(year=2025, month=8))
    rechecked = fresh(refill)
    from refills import workflow

    rechecked = workflow.check_request(rechecked, actor=vma, now=NOW)
    assert not line(rechecked, "lab:HbA1c")["passed"]
    assert line(rechecked, "lab:HbA1c")["label"] == "HbA1c within 6 months"


def test_levothyroxine_needs_a_tsh(vma, practice):
    patient = PatientFactory(care_team=practice.team)
    medication(patient, name="Levothyroxine", dose="50 mcg")
    visit(patient)
    lab(patient, "TSH")
    refill = fresh(request(vma, patient, medication="Synthroid 50 mcg").request)
    assert line(refill, "protocol")["reason"] == "Levothyroxine protocol"
    # Synthroid (the brand) is not on the chart under that name: the medication line fails.
    assert not line(refill, "medication_list")["passed"] and refill.status == S.NEEDS_REVIEW
    assert line(refill, "lab:TSH")["passed"]


@pytest.mark.parametrize(("asked", "passed"), [(3, True), (4, False)])
def test_refills_line(vma, chart, asked, passed):
    refill = fresh(request(vma, chart, refills=asked).request)
    assert line(refill, "refills")["passed"] is passed
    assert line(refill, "refills")["reason"] == (f"{asked} requested" + ("" if passed else "; at most 3 by protocol"))
    assert refill.status == (S.PENDED if passed else S.NEEDS_REVIEW)


@pytest.mark.parametrize(("days", "passed"), [(90, True), (180, False), (None, False)])
def test_days_supply_line(vma, chart, days, passed):
    refill = fresh(request(vma, chart, days_supply=days).request)
    days_line = line(refill, "days_supply")
    assert days_line["passed"] is passed
    if days is None:
        assert days_line["reason"] == "Days' supply not given"
    assert refill.status == (S.PENDED if passed else S.NEEDS_REVIEW)


def test_medication_line_fails_when_not_on_the_active_list(vma, practice):
    patient = PatientFactory(care_team=practice.team)
    medication(patient, stop_date=NOW.date().replace(month=1), start_date=NOW.date().replace(year=2025))
    visit(patient)
    lab(patient)
    refill = fresh(request(vma, patient).request)
    assert not line(refill, "medication_list")["passed"]
    assert "is not an active medication" in line(refill, "medication_list")["reason"]
    assert refill.status == S.NEEDS_REVIEW and refill.medication is None


def test_no_protocol_for_the_medication_means_provider_review(vma, practice):
    patient = PatientFactory(care_team=practice.team)
    medication(patient, name="Amlodipine", dose="5 mg")
    visit(patient)
    refill = fresh(request(vma, patient, medication="amlodipine 5 mg").request)
    assert line(refill, "protocol") == {
        "code": "protocol",
        "label": "A refill protocol covers this medication",
        "passed": False,
        "reason": "No medication class matches “amlodipine 5 mg”",
    }
    assert refill.status == S.NEEDS_REVIEW
    assert not any(item["code"] == "visit" for item in refill.check_lines)  # nothing to measure against


def test_an_inactive_protocol_does_not_apply(vma, chart):
    RefillProtocol.objects.filter(medication_class__code="statin").update(active=False)
    refill = fresh(request(vma, chart).request)
    assert line(refill, "protocol")["reason"] == "No refill protocol for Statin"
    assert refill.status == S.NEEDS_REVIEW


@pytest.mark.parametrize(
    "how",
    ["class", "request", "prescription"],
    ids=["recognised-by-its-class", "said-by-the-requester", "from-the-original-prescription"],
)
def test_a_controlled_substance_never_auto_pends(vma, practice, provider, how):
    patient = PatientFactory(care_team=practice.team)
    # Everything a protocol could ask for is in place, and a permissive protocol exists for the class.
    drug = {"class": "alprazolam", "request": "atorvastatin", "prescription": "atorvastatin"}[how]
    medication(patient, name=drug.capitalize(), dose="20 mg")
    visit(patient)
    lab(patient)
    benzo = MedicationClass.objects.get(code="benzodiazepine")
    RefillProtocol.objects.create(medication_class=benzo, required_labs=[], max_refills=5, max_days_supply=90)
    kw = {"medication": f"{drug} 20 mg"}
    if how == "request":
        kw["controlled_schedule"] = "CIV"
    if how == "prescription":
        from encounters.models import Encounter

        enc = Encounter.objects.create(patient=patient, provider=provider)
        Order.objects.create(
            encounter=enc,
            patient=patient,
            provider=provider,
            kind=Order.Kind.PRESCRIPTION,
            status=Order.Status.SIGNED,
            title="Atorvastatin",
            drug="Atorvastatin",
            strength="20 mg",
            controlled_schedule="CIII",
            pended_by=vma,
            signed_by=provider,
            signed_at=timezone.now(),
            signed_hash="x" * 64,
        )
    refill = fresh(request(vma, patient, **kw).request)
    assert refill.status == S.NEEDS_REVIEW
    controlled = line(refill, "controlled")
    assert not controlled["passed"] and "never refilled by protocol" in controlled["reason"]
    assert refill.is_controlled


def test_red_flag_line_fails_and_routes_to_review(vma, chart):
    refill = fresh(request(vma, chart, request_text="Needs it today, has had chest pain since Sunday").request)
    assert refill.red_flags == ["chest pain"]
    assert not line(refill, "red_flags")["passed"]
    assert refill.status == S.NEEDS_REVIEW


def test_the_check_runs_in_constant_queries(vma, practice, django_assert_max_num_queries):
    refills = []
    for _ in range(8):
        patient = PatientFactory(care_team=practice.team)
        statin_chart(patient)
        refills.append(request(vma, patient).request)
    rows = list(RefillRequest.objects.filter(pk__in=[r.pk for r in refills]).select_related("provider"))
    with django_assert_max_num_queries(6):
        results = protocols.evaluate(rows[:2], now=NOW)
    with django_assert_max_num_queries(6):
        results = protocols.evaluate(rows, now=NOW)
    assert all(r.outcome == S.PENDED for r in results.values()) and len(results) == 8


# --- matching -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("Atorvastatin 20 mg tab", "atorvastatin"),
        ("atorvastatin calcium 20mg", "atorvastatin"),
        ("ATORVASTATIN", "atorvastatin"),
        ("Lisinopril-HCTZ 20-12.5 mg", "lisinopril-hctz"),
        ("Metformin ER 500 mg tablet", "metformin"),
        ("Calcium carbonate 500 mg", "calcium carbonate"),
        ("Levothyroxine (Synthroid) 50 mcg", "levothyroxine"),
    ],
)
def test_medication_key_normalises(text, key):
    assert medication_key(text) == key


def test_class_patterns_are_whole_words():
    statin = ["atorvastatin", "simvastatin"]
    assert matches_drug(statin, "Atorvastatin 20 mg")
    assert matches_drug(statin, "ezetimibe-simvastatin")
    assert not matches_drug(statin, "nystatin")
    assert not matches_drug(["statin"], "nystatin")
    assert matches_drug(["*sartan"], "Losartan 50 mg") and not matches_drug(["*sartan"], "sartanic")


def test_red_flags_are_whole_words_in_any_case():
    terms = ["chest pain", "suicidal", "short of breath"]
    assert red_flags_in("Has CHEST   PAIN and is Short of Breath", terms) == ["chest pain", "short of breath"]
    assert red_flags_in("feeling suicidal.", terms) == ["suicidal"]
    assert red_flags_in("no chest painting class today; nonsuicidal", terms) == []
