"""Denials: each categorised by CARC/RARC and group code with the usual next step, worked from the billing queue.

A denial stays open (its amount stays in AR) until the claim is appealed, corrected or voided,
the payer pays it on reprocessing, or a biller writes the amount off.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING

from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from vma.access import panel_ids
from vma.exceptions import ActionRefused, NotPermitted
from vma.workflow import close_work_item, open_work_item

from . import carc
from .models import AdjustmentPosting, Claim, Denial

if TYPE_CHECKING:
    from vma.models import User, WorkItem

DENIAL_KIND = "billing.denial"
CHANGE = "billing.change_denial"

# Adjustments that settle the amount for good: the contract's reduction (45 and its retired 42),
# sequestration (253), and what a prior payer's adjudication already covered (OA-23 on a secondary).
WRITE_OFF_CARCS = frozenset({"45", "42", "253"})


def effect_of(group: str, reason: str) -> str:
    """How one CAS amount lands in the books: on the patient, written off, or denied (kept in AR)."""
    group, reason = group.strip().upper(), reason.strip().upper()
    if group == "PR":
        return AdjustmentPosting.Effect.PATIENT
    if reason in WRITE_OFF_CARCS or (group == "OA" and reason == "23"):
        return AdjustmentPosting.Effect.WRITE_OFF
    return AdjustmentPosting.Effect.DENIAL


@dataclass(frozen=True)
class Category:
    """A kind of denial and what a biller usually does about it."""

    code: str
    label: str
    next_step: str
    due_days: int  # when the work item is due: how long the usual fix may take before deadlines bite
    appeal_argument: str  # the paragraph the default appeal letter argues with


CATEGORIES: dict[str, Category] = {
    c.code: c
    for c in (
        Category(
            "correct_resubmit",
            "Missing or invalid information",
            "Correct and resubmit: fix what the remark codes say is missing or wrong, then send a corrected "
            "(frequency 7) claim. An appeal does not help: the payer never adjudicated the service.",
            7,
            "The claim has been reviewed and the information the payer found missing is supplied below.",
        ),
        Category(
            "authorization",
            "Authorization absent",
            "Ask the payer for a retro-authorization; if it is refused, appeal with the records showing why the "
            "service could not wait or that authorization was requested in time.",
            10,
            "The service was medically urgent and could not be delayed to obtain authorization; a retro-"
            "authorization was requested. The enclosed records document the urgency.",
        ),
        Category(
            "timely_filing",
            "Timely filing",
            "Send proof of timely filing: the clearinghouse's acceptance report (999/277CA) or the first "
            "submission's date. Without proof the amount is written off and may not be billed to the patient.",
            7,
            "The claim was filed within the payer's timely-filing limit; the enclosed clearinghouse acceptance "
            "report shows the original submission date.",
        ),
        Category(
            "medical_necessity",
            "Medical necessity",
            "Appeal with records: the signed visit note, the diagnoses supporting the service and any guideline "
            "or advance beneficiary notice. Watch the appeal deadline (Medicare: 120 days).",
            21,
            "The enclosed signed visit note documents the patient's condition and why the service was medically "
            "necessary; the diagnoses on the claim support it.",
        ),
        Category(
            "duplicate",
            "Duplicate",
            "Check the original claim's status with the payer and do not resubmit. If the service really was "
            "repeated, correct the claim with the right modifier (76, 77 or 59).",
            7,
            "This was a separate service, not a duplicate of an earlier claim; the records are enclosed.",
        ),
        Category(
            "coordination",
            "Other payer / coordination of benefits",
            "Verify the patient's coverage order: bill the primary payer first (or send its remittance), or have "
            "the patient update coordination of benefits with the payer, then resubmit.",
            7,
            "The patient's coordination of benefits has been updated; this payer is the responsible payer.",
        ),
        Category(
            "eligibility",
            "Coverage not in effect",
            "Verify eligibility for the date of service: bill the coverage in force, or the patient when there "
            "was none.",
            7,
            "The patient's coverage was in effect on the date of service; the eligibility response is enclosed.",
        ),
        Category(
            "network",
            "Network or referral",
            "Check the referral and network status: attach the referral (HMO) and correct the claim, or appeal "
            "if the service could not be obtained in network.",
            10,
            "A valid referral covered this service; it is enclosed.",
        ),
        Category(
            "non_covered",
            "Not covered",
            "Check the plan's benefits: bill the patient when a signed waiver (ABN) covers it, otherwise appeal "
            "or write the amount off.",
            14,
            "The service is a covered benefit under the patient's plan for the diagnoses on the claim.",
        ),
        Category(
            "bundled",
            "Bundled into another service",
            "Review the coding: if the service was separate and distinct, correct the claim with modifier 59/XS "
            "(or 25 on the visit) and resubmit; otherwise write it off.",
            14,
            "This service was separate and distinct from the other services billed that day.",
        ),
        Category(
            "other",
            "Other denial",
            "Read the reason and remark codes and call the payer to learn what it needs; then correct and "
            "resubmit, appeal, or write the amount off.",
            14,
            "We believe the claim was denied in error and ask you to reprocess it.",
        ),
    )
}

# (group or "*", CARC) -> category. The group matters where it changes who is liable or what it means.
_BY_CARC: dict[tuple[str, str], str] = {
    ("*", "16"): "correct_resubmit",
    ("*", "17"): "correct_resubmit",
    ("*", "4"): "correct_resubmit",
    ("*", "197"): "authorization",
    ("*", "198"): "authorization",
    ("*", "29"): "timely_filing",
    ("*", "50"): "medical_necessity",
    ("*", "18"): "duplicate",
    ("*", "22"): "coordination",
    ("*", "109"): "coordination",
    ("*", "26"): "eligibility",
    ("*", "27"): "eligibility",
    ("*", "28"): "eligibility",
    ("*", "38"): "network",
    ("*", "242"): "network",
    ("*", "96"): "non_covered",
    ("*", "46"): "non_covered",
    ("*", "48"): "non_covered",
    ("*", "97"): "bundled",
}
# Remark codes that say more than a vague CARC: used when the CARC alone gives "other".
_BY_RARC: dict[str, str] = {
    "MA04": "coordination",
    "N130": "non_covered",
    "M15": "bundled",
    "N362": "correct_resubmit",
}
# CLP02 claim statuses that are denials whatever the CAS say.
DENIED_STATUSES = frozenset({"4", "23"})


def categorize(group: str, reason: str, remarks: Sequence[str] = (), status_code: str = "") -> Category:
    """The category of a denial from its group, CARC and RARCs (and CLP02 23: not this payer's claim)."""
    group, reason = group.strip().upper(), reason.strip().upper()
    code = _BY_CARC.get((group, reason)) or _BY_CARC.get(("*", reason))
    if code is None and status_code == "23":
        code = "coordination"
    if code is None:
        code = next((_BY_RARC[r] for r in remarks if r in _BY_RARC), "other")
    return CATEGORIES[code]


@dataclass(frozen=True)
class DeniedAmount:
    group: str
    reason: str
    amount: Decimal


def draft_denial(
    *,
    codes: list[DeniedAmount],
    remarks: list[str],
    status_code: str,
    fallback_amount: Decimal,
) -> tuple[str, str, Decimal, Category]:
    """(group, reason, amount, category) for a denial: the largest denied amount's code leads."""
    ordered = sorted(codes, key=lambda d: d.amount, reverse=True)
    total = sum((d.amount for d in codes), Decimal(0))
    lead = ordered[0] if ordered else DeniedAmount("CO", "", fallback_amount)
    category = categorize(lead.group, lead.reason, remarks, status_code)
    if category.code == "other":
        # A vague leading code: a more specific one further down may say what to do.
        for other in ordered[1:]:
            candidate = categorize(other.group, other.reason, remarks, status_code)
            if candidate.code != "other":
                category = candidate
                break
    return lead.group, lead.reason, total or fallback_amount, category


def describe_codes(denial: Denial, on: datetime | None = None) -> list[dict[str, str]]:
    """Each denying code with its meaning on the adjudication date (retired codes stay readable)."""
    day = timezone.localdate(on) if on else None
    return [
        {
            "group": c["group"],
            "group_meaning": carc.group_meaning(c["group"]),
            "reason": c["reason"],
            "description": str(carc.describe_carc(c["reason"], on=day)),
            "amount": c["amount"],
        }
        for c in denial.codes
    ]


def describe_remarks(remarks: list[str], on: datetime | None = None) -> list[dict[str, str]]:
    day = timezone.localdate(on) if on else None
    return [{"code": r, "description": str(carc.describe_rarc(r, on=day))} for r in remarks]


def denial_url(item: WorkItem) -> str:
    denial = item.subject
    return reverse("billing_claim_detail", args=[denial.claim.public_id]) + "#denials"  # type: ignore[union-attr]


def open_item(denial: Denial, claim: Claim, *, now: datetime) -> None:
    category = CATEGORIES.get(denial.category, CATEGORIES["other"])
    what = "claim" if denial.level == Denial.Level.CLAIM else f"line {denial.procedure_code}"
    meaning = carc.describe_carc(denial.reason, on=timezone.localdate(now)) if denial.reason else None
    codes = "; ".join(f"{c['group']}-{c['reason']} {c['amount']}" for c in denial.codes) or "no reason code given"
    remarks = ", ".join(denial.remarks)
    open_work_item(
        kind=DENIAL_KIND,
        subject=denial,
        patient=claim.patient,
        title=f"Denied {what}: {category.label} ({denial.group}-{denial.reason or '?'}) on claim "
        f"{claim.patient_control_number}",
        detail=f"{claim.payer.name}, date of service {claim.service_date:%m/%d/%Y}, {denial.amount} denied.\n"
        f"Reason: {meaning or 'none given'}.\nCodes: {codes}."
        + (f"\nRemarks: {remarks}." if remarks else "")
        + f"\nNext step: {category.next_step}",
        due_at=now + timedelta(days=category.due_days),
        priority=2,
    )


def resolve_claim_denials(claim: Claim, *, note: str, actor: User | None, now: datetime | None = None) -> int:
    """Resolve every open denial of the claim (appealed, corrected, voided, reprocessed) and close their items."""
    now = now or timezone.now()
    count = 0
    for denial in Denial.objects.select_for_update().filter(claim=claim, status=Denial.Status.OPEN):
        denial.status = Denial.Status.RESOLVED
        denial.resolution = note
        denial.resolved_at = now
        denial.resolved_by = actor
        denial.save(update_fields=["status", "resolution", "resolved_at", "resolved_by"])
        close_work_item(kind=DENIAL_KIND, subject=denial, note=note, actor=actor)
        count += 1
    return count


@transaction.atomic
def write_off(denial: Denial, *, actor: User | None, reason: str, now: datetime | None = None) -> Denial:
    """Write the denied amount off (it leaves AR, never billed to the patient) and close the denial."""
    from . import workflow

    reason = (reason or "").strip()
    if not reason:
        raise ActionRefused("Say why the amount is written off.", status_code=400)
    denial = Denial.objects.select_for_update(of=("self",)).select_related("claim__patient").get(pk=denial.pk)
    if actor is not None and not (
        actor.has_perm(CHANGE)
        and actor.has_perm(workflow.CHANGE)
        and denial.claim.patient.care_team_id in panel_ids(actor)
    ):
        raise NotPermitted("You cannot act on this denial.")
    if denial.status != Denial.Status.OPEN:
        raise ActionRefused("This denial is resolved already.")
    claim = workflow.lock(denial.claim_id)
    # Never more than what is still open on the claim (a reprocessing may have paid part of it).
    amount = min(denial.amount, max(claim.insurance_balance, Decimal(0)))
    claim.written_off += amount
    claim.updated_by = actor
    claim.save(update_fields=["written_off", "updated_by", "updated_at"])
    now = now or timezone.now()
    note = f"Written off ({amount}): {reason}"
    denial.status = Denial.Status.RESOLVED
    denial.resolution = note
    denial.resolved_at = now
    denial.resolved_by = actor
    denial.save(update_fields=["status", "resolution", "resolved_at", "resolved_by"])
    close_work_item(kind=DENIAL_KIND, subject=denial, note=note, actor=actor)
    return denial
