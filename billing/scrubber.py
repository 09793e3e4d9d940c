"""The claim scrubber: every reason a claim would come back, listed at once, before it leaves.

A finding with blocking=False is a warning: shown to the biller, it does not stop submission.
"""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING

from django.db.models import Q
from django.utils import timezone

from eligibility.models import EligibilityCheck, PriorAuthorization
from eligibility.priorauth_services import authorization_required
from vma.validators import is_valid_npi

from . import coding
from .coding import Problem
from .models import Claim, PayerBillingProfile

if TYPE_CHECKING:
    from patients.models import Payer


def profile_for(payer: Payer) -> PayerBillingProfile:
    """The payer's billing profile, or one (unsaved) from the payer's own fields when none is kept."""
    try:
        return payer.billing_profile  # type: ignore[attr-defined, no-any-return]
    except PayerBillingProfile.DoesNotExist:
        return PayerBillingProfile(
            payer=payer, timely_filing_days=payer.timely_filing_days, requires_referral=payer.requires_referral
        )


def _d(day: date | None) -> str:
    return f"{day:%m/%d/%Y}" if day else "?"


def check_eligibility(claim: Claim) -> list[Problem]:
    """An answered check for this coverage says active, and its plan dates cover the date of service."""
    dos = claim.service_date
    checks = list(
        EligibilityCheck.objects.filter(coverage_id=claim.coverage_id, status__in=EligibilityCheck.ANSWERED).order_by(
            "-responded_at", "-id"
        )[:20]
    )

    def covers(check: EligibilityCheck) -> bool:
        if check.plan_begin is None and check.plan_end is None:
            return check.service_date == dos  # the payer answered for that very day
        return (check.plan_begin is None or check.plan_begin <= dos) and (
            check.plan_end is None or dos <= check.plan_end
        )

    if any(c.status == EligibilityCheck.Status.ACTIVE and covers(c) for c in checks):
        return []
    if not checks:
        message = f"Eligibility was never verified for this coverage: run a check for {_d(dos)}."
    else:
        last = checks[0]
        if last.status != EligibilityCheck.Status.ACTIVE:
            message = (
                f"The payer's last eligibility answer ({_d(last.service_date)}) was "
                f"{last.get_status_display().lower()}: verify coverage for {_d(dos)} before billing."
            )
        else:
            message = (
                f"The plan dates the payer gave ({_d(last.plan_begin)}-{_d(last.plan_end)}) do not cover the date "
                f"of service {_d(dos)}: check for another coverage."
            )
    return [Problem("eligibility", message)]


def check_prior_auth(claim: Claim, codes: list[str]) -> tuple[list[Problem], str]:
    """(problems, authorization number to put on the claim) for the services a rule says need one."""
    dos = claim.service_date
    problems: list[Problem] = []
    number = ""
    auths = list(
        PriorAuthorization.objects.filter(patient_id=claim.patient_id, payer_id=claim.payer_id).filter(
            Q(appointment_id=claim.appointment_id) | Q(appointment__isnull=True)
            if claim.appointment_id
            else Q(appointment__isnull=True)
        )
    )
    usable = [
        a
        for a in auths
        if a.status in PriorAuthorization.USABLE
        and a.valid_from is not None
        and a.valid_to is not None
        and a.valid_from <= dos <= a.valid_to
    ]
    for code in sorted(set(codes)):
        rule = authorization_required(claim.payer, code=code, on=dos)
        if rule is None:
            continue
        found = next((a for a in usable if a.service_code.strip().upper() == code), None)
        if found is None:
            problems.append(
                Problem(
                    "prior_auth",
                    f"{code} needs prior authorization from {claim.payer.name} and no approval covers {_d(dos)}: "
                    "get it (or a retro-authorization) before submitting.",
                )
            )
        elif found.authorization_number and not number:
            number = found.authorization_number
    # The visit's own requests that never got an approval (denied, still pending) also stop the claim.
    for auth in auths:
        if auth.appointment_id and auth.status in (
            PriorAuthorization.Status.REQUIRED,
            PriorAuthorization.Status.SUBMITTED,
            PriorAuthorization.Status.PENDING,
            PriorAuthorization.Status.DENIED,
        ):
            problems.append(
                Problem(
                    "prior_auth",
                    f"The visit's prior authorization for {auth.service_code or auth.category} is "
                    f"{auth.get_status_display().lower()}.",
                )
            )
    return problems, number


def check_referral(claim: Claim, profile: PayerBillingProfile) -> list[Problem]:
    if not profile.requires_referral:
        return []
    if not claim.referral_number.strip():
        return [
            Problem(
                "referral",
                f"{claim.payer.name} requires an HMO referral: enter the referral number on the claim.",
            )
        ]
    # There is no referrals app yet to look the referral up in: say so rather than pretend.
    return [
        Problem(
            "referral_unverified",
            f"Referral on file: cannot be verified yet (no referral records in the portal); make sure referral "
            f"{claim.referral_number} covers {_d(claim.service_date)}.",
            blocking=False,
        )
    ]


def check_identifiers(claim: Claim) -> list[Problem]:
    problems: list[Problem] = []
    provider = claim.rendering_provider
    if not provider.npi:
        problems.append(Problem("npi", f"The rendering provider {provider.get_full_name()} has no NPI on file."))
    elif not is_valid_npi(provider.npi):
        problems.append(Problem("npi", f"The rendering provider's NPI {provider.npi} fails its check digit."))
    if not claim.billing_npi:
        problems.append(Problem("npi", "The practice's billing NPI is not configured (PRACTICE_NPI)."))
    elif not is_valid_npi(claim.billing_npi):
        problems.append(Problem("npi", f"The billing NPI {claim.billing_npi} fails its check digit."))
    if not (len(claim.billing_tax_id) == 9 and claim.billing_tax_id.isdigit()):
        problems.append(Problem("tax_id", "The practice's tax id (EIN, 9 digits) is not configured (PRACTICE_TAX_ID)."))
    if not claim.coverage.member_id.strip():
        problems.append(Problem("member_id", "The coverage has no member id."))
    patient = claim.patient
    if not (patient.address_line and patient.city and patient.state and patient.postal_code):
        problems.append(Problem("address", "The patient's address is incomplete (street, city, state, ZIP needed)."))
    if claim.frequency_code != Claim.Frequency.ORIGINAL and not claim.original_payer_claim_number:
        problems.append(
            Problem("original_claim", "A replacement or void claim needs the payer's claim number of the original.")
        )
    return problems


def check_timely_filing(claim: Claim, profile: PayerBillingProfile, today: date) -> list[Problem]:
    deadline = claim.filing_deadline(profile.timely_filing_days)
    if today > deadline:
        return [
            Problem(
                "timely_filing",
                f"{claim.payer.name}'s {profile.timely_filing_days}-day timely-filing window closed on {_d(deadline)}.",
            )
        ]
    return []


def check_duplicate(claim: Claim, codes: list[str]) -> list[Problem]:
    if claim.frequency_code != Claim.Frequency.ORIGINAL:
        return []  # a replacement or void stands beside its original by design
    others = (
        Claim.objects.filter(
            patient_id=claim.patient_id, service_date=claim.service_date, frequency_code=Claim.Frequency.ORIGINAL
        )
        .exclude(pk=claim.pk)
        .exclude(status__in=[Claim.Status.VOIDED, Claim.Status.CORRECTED])
        .prefetch_related("lines")
    )
    mine = sorted(codes)
    for other in others:
        if sorted(ln.procedure_code for ln in other.lines.all()) == mine:
            return [
                Problem(
                    "duplicate",
                    f"Claim {other.patient_control_number} ({other.get_status_display().lower()}) already bills "
                    f"the same codes for this patient on {_d(claim.service_date)}.",
                )
            ]
    return []


def scrub(claim: Claim, *, today: date | None = None) -> tuple[list[Problem], str]:
    """Every problem with the claim, blocking or not, and the authorization number found (if any)."""
    today = today or timezone.localdate()
    profile = profile_for(claim.payer)
    codes = [ln.procedure_code for ln in claim.lines.all()]
    auth_problems, auth_number = check_prior_auth(claim, codes)
    problems = (
        check_eligibility(claim)
        + auth_problems
        + check_referral(claim, profile)
        + check_identifiers(claim)
        + check_timely_filing(claim, profile, today)
        + check_duplicate(claim, codes)
        + coding.check_claim(claim)
        + coding.check_note(claim)
    )
    return problems, auth_number


def blocking(problems: list[Problem]) -> list[Problem]:
    return [p for p in problems if p.blocking]
