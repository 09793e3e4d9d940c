"""The coding check "a charge the note does not support": the signed note must mention each non-E/M charge."""

from __future__ import annotations

import pytest
from django.utils import timezone

from billing import coding, scrubber, workflow
from billing.models import Claim, ProcedureCode
from billing.services import LineInput
from encounters.models import Encounter

from .factories import draft

pytestmark = pytest.mark.django_db


def _note(claim: Claim, *, status: str = "signed", **text: str) -> Encounter:
    signed = status == "signed"
    return Encounter.objects.create(
        appointment=claim.appointment,
        patient=claim.patient,
        provider=claim.rendering_provider,
        date_of_service=claim.service_date,
        status=status,
        signed_at=timezone.now() if signed else None,
        signed_hash="a" * 64 if signed else "",
        **text,
    )


def _claim(practice) -> Claim:
    return draft(
        practice,
        lines=[
            LineInput("99213", modifiers=["25"], diagnosis_pointers=[1]),
            LineInput("36415", diagnosis_pointers=[1]),
            LineInput("93000", diagnosis_pointers=[1]),
        ],
    )


def test_charges_the_signed_note_mentions_pass(practice):
    claim = _claim(practice)
    ProcedureCode.objects.filter(code="36415").update(keywords="blood draw, phlebotomy")
    _note(claim, hpi="Follow-up of diabetes.", plan="Blood drawn for A1c. ECG with report: sinus rhythm.")
    assert coding.check_note(claim) == []


def test_a_charge_the_note_does_not_mention_is_flagged_with_the_reason(practice):
    claim = _claim(practice)
    _note(claim, hpi="Follow-up of diabetes.", plan="Venipuncture for A1c. Return in 3 months.")
    (problem,) = coding.check_note(claim)
    assert problem.check == "note_unsupported" and problem.blocking and problem.line == 3
    assert problem.message.startswith("Line 3 (93000): not supported by the note")
    assert "“93000”" in problem.message and "“ecg with report”" in problem.message
    # the biller sees why, not the note itself
    assert "Follow-up of diabetes" not in problem.message


def test_the_practices_keywords_make_the_note_support_a_charge(practice):
    claim = _claim(practice)
    _note(claim, plan="Venipuncture done. Electrocardiogram reviewed.")
    assert [p.line for p in coding.check_note(claim)] == [3]
    ProcedureCode.objects.filter(code="93000").update(keywords="EKG, electrocardiogram")
    assert coding.check_note(claim) == []


def test_words_match_on_word_starts_only(practice):
    claim = draft(practice, lines=[LineInput("36415", diagnosis_pointers=[1])])
    ProcedureCode.objects.filter(code="36415").update(label="Draw", keywords="")
    _note(claim, plan="Overdrawn account discussed.")  # "draw" inside a word is not a mention
    assert [p.check for p in coding.check_note(claim)] == ["note_unsupported"]


def test_no_signed_note_is_a_warning(practice):
    claim = _claim(practice)
    (problem,) = coding.check_note(claim)
    assert (problem.check, problem.blocking) == ("note_missing", False)
    assert problem.message.startswith("No signed note for this visit")
    _note(claim, status="pended", plan="ECG")
    (pended,) = coding.check_note(claim)
    assert "the note is awaiting signature" in pended.message and not pended.blocking


def test_the_scrubber_stops_an_unsupported_charge_and_lets_a_missing_note_pass(practice):
    claim = _claim(practice)
    result = workflow.scrub(claim, actor=None)
    assert result.clean and "note_missing" in {p.check for p in result.problems}
    workflow.reopen(result.claim, actor=None)
    _note(claim, plan="Venipuncture.")
    problems, _ = scrubber.scrub(claim)
    assert {p.check for p in scrubber.blocking(problems)} == {"note_unsupported"}
