"""The scrubber lists every problem at once; a clean claim scrubs clean."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from billing import scrubber, workflow
from billing.models import Claim, ClaimDiagnosis, ClaimLine
from billing.services import LineInput
from eligibility.models import EligibilityCheck, PriorAuthorization, PriorAuthRule

from .factories import draft, verified

pytestmark = pytest.mark.django_db


def _checks(claim: Claim, **kw) -> list[str]:
    problems, _ = scrubber.scrub(claim, **kw)
    return sorted({p.check for p in problems if p.blocking})


def test_a_clean_claim_has_no_problem(practice):
    claim = draft(practice)
    assert _checks(claim) == []


def test_every_problem_is_listed_at_once(practice, settings):
    claim = draft(practice, verify=False, days_ago=400, profile={"timely_filing_days": 90, "requires_referral": True})
    # no eligibility answer, no referral number, rendering NPI broken, filing window closed,
    # a duplicate claim, a prior-auth rule for a billed code, and coding problems
    PriorAuthRule.objects.create(payer=claim.payer, code="93000", effective_from=claim.service_date - timedelta(days=1))
    ClaimLine.objects.create(
        claim=claim, line_number=2, procedure_code="93000", charge=60, service_date=claim.service_date
    )
    ClaimDiagnosis.objects.create(claim=claim, position=2, code="E11")
    provider = claim.rendering_provider
    provider.npi = "1234567890"  # wrong check digit (saved around the form's validator)
    type(provider).objects.filter(pk=provider.pk).update(npi="1234567890")
    twin = Claim.objects.create(
        patient=claim.patient,
        coverage=claim.coverage,
        payer=claim.payer,
        service_date=claim.service_date,
        rendering_provider=provider,
        billing_name="x",
    )
    for line in claim.lines.all():
        ClaimLine.objects.create(
            claim=twin,
            line_number=line.line_number,
            procedure_code=line.procedure_code,
            charge=1,
            service_date=line.service_date,
        )
    claim = Claim.objects.select_related("rendering_provider", "payer", "patient", "coverage").get(pk=claim.pk)
    assert _checks(claim) == sorted(
        {
            "eligibility",
            "referral",
            "npi",
            "timely_filing",
            "duplicate",
            "prior_auth",
            "diagnosis_invalid",
            "pointer_missing",
            "modifier_25_missing",
        }
    )
    result = workflow.scrub(claim, actor=None)
    assert result.claim.status == Claim.Status.DRAFT and not result.clean
    assert len(result.claim.scrub_problems) >= 9


def test_eligibility_must_be_active_and_cover_the_date(practice):
    claim = draft(practice, verify=False)
    verified(claim.coverage, claim.service_date, status=EligibilityCheck.Status.INACTIVE)
    problems, _ = scrubber.scrub(claim)
    assert next(p.message for p in problems if p.check == "eligibility").count("inactive") == 1
    verified(claim.coverage, claim.service_date)
    assert _checks(claim) == []


def test_prior_auth_approved_for_the_code_passes_and_is_put_on_the_claim(practice):
    claim = draft(practice, lines=[LineInput("93000", diagnosis_pointers=[1])])
    PriorAuthRule.objects.create(payer=claim.payer, code="93000", effective_from=claim.service_date - timedelta(days=5))
    assert _checks(claim) == ["prior_auth"]
    now = timezone.now()
    PriorAuthorization.objects.create(
        patient=claim.patient,
        coverage=claim.coverage,
        payer=claim.payer,
        service_code="93000",
        status="approved",
        submitted_at=now,
        decision_due_at=now,
        authorization_number="AUTH-77",
        approved_units=1,
        valid_from=claim.service_date,
        valid_to=claim.service_date + timedelta(days=30),
    )
    assert _checks(claim) == []
    claim = workflow.scrub(claim, actor=None).claim
    assert claim.status == Claim.Status.SCRUBBED and claim.prior_authorization_number == "AUTH-77"


def test_hmo_referral_number_given_is_a_warning_that_cannot_be_verified(practice):
    claim = draft(practice, profile={"requires_referral": True})
    assert _checks(claim) == ["referral"]
    claim.referral_number = "R-123"
    claim.save()
    problems, _ = scrubber.scrub(claim)
    warning = [p for p in problems if p.check == "referral_unverified"]
    assert warning and not warning[0].blocking and "cannot be verified yet" in warning[0].message
    assert workflow.scrub(claim, actor=None).claim.status == Claim.Status.SCRUBBED


def test_voided_claims_are_not_duplicates(practice):
    claim = draft(practice)
    twin = Claim.objects.create(
        patient=claim.patient,
        coverage=claim.coverage,
        payer=claim.payer,
        service_date=claim.service_date,
        rendering_provider=claim.rendering_provider,
        billing_name="x",
        status=Claim.Status.VOIDED,
    )
    ClaimLine.objects.create(
        claim=twin, line_number=1, procedure_code="99213", charge=1, service_date=claim.service_date
    )
    assert _checks(claim) == []
