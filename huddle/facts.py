"""What the chart says about a batch of visits, read in a constant number of queries.

The scrub (services.py) and the huddle sheet (selectors.py) read the same facts, so a visit is
never green on one and red on the other. The chart contract of patients/ (results, care gaps,
standing orders) is imported lazily: until it is installed, those facts are "not available".
"""

from __future__ import annotations

import importlib
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from types import ModuleType
from typing import Any

from django.conf import settings
from django.utils import timezone

from eligibility.models import EligibilityCheck
from intake.models import IntakePacket
from patients.models import Coverage
from scheduling.models import Appointment

E = EligibilityCheck.Status
CHECKED_RANKS = (Coverage.Rank.PRIMARY, Coverage.Rank.SECONDARY)

# Eligibility states of a visit (worst coverage decides).
VERIFIED, PROBLEM, NOT_CHECKED, CHECKING, STALE, SELF_PAY = (
    "verified",
    "problem",
    "not_checked",
    "checking",
    "stale",
    "self_pay",
)


def eligibility_max_age() -> timedelta:
    """An active answer counts when the payer gave it within the eligibility look-ahead before the visit."""
    return timedelta(hours=float(getattr(settings, "ELIGIBILITY_LOOKAHEAD_HOURS", 72)))


def chart_contract(name: str) -> ModuleType | None:
    """patients.results / patients.caregaps when installed; None until then (the item says so)."""
    try:
        return importlib.import_module(f"patients.{name}")
    except ModuleNotFoundError as exc:
        if exc.name == f"patients.{name}":
            return None
        raise


@dataclass
class Eligibility:
    state: str
    detail: str
    amount_to_collect: Any = None


@dataclass
class VisitFacts:
    appointment: Appointment
    eligibility: Eligibility
    auth_flag: str | None  # eligibility.priorauth_services: missing | pending | approved | denied | None
    intake_status: str | None  # the packet's status; None: no packet
    intake_submitted_at: datetime | None
    outstanding: list[Any] | None  # patients.results.Outstanding; None: not available
    gaps: list[Any] | None  # patients.caregaps.GapDue; None: not available
    standing: list[Any] | None  # patients.caregaps.StandingOrderSuggestion; None: not available
    referrals: list[Any] = field(default_factory=list)  # referrals.selectors.AwaitingReport
    extra: dict[str, Any] = field(default_factory=dict)


def _eligibility(
    visit: Appointment, coverages: list[Coverage], newest: dict[tuple[int, int], EligibilityCheck]
) -> Eligibility:
    if not coverages:
        return Eligibility(SELF_PAY, "No active insurance on file: confirm self-pay or add the coverage.")
    worst: Eligibility | None = None
    order = [PROBLEM, NOT_CHECKED, STALE, CHECKING, VERIFIED]
    for cov in coverages:
        check = newest.get((visit.pk, cov.pk))
        name = cov.payer.name
        if check is None:
            found = Eligibility(NOT_CHECKED, f"{name}: not checked for this visit yet.")
        elif check.status in EligibilityCheck.PROBLEMS:
            why = check.instruction or check.get_status_display().lower()
            found = Eligibility(PROBLEM, f"{name}: {check.get_status_display().lower()} — {why}"[:300])
        elif check.status in EligibilityCheck.IN_FLIGHT:
            found = Eligibility(CHECKING, f"{name}: check in progress ({check.get_status_display().lower()}).")
        elif check.completed_at is None or check.completed_at < visit.start_at - eligibility_max_age():
            found = Eligibility(STALE, f"{name}: the last active answer is too old; check again.")
        else:
            found = Eligibility(
                VERIFIED,
                f"{name}: active (answered {timezone.localtime(check.completed_at):%m/%d %H:%M}).",
                check.amount_to_collect if cov.rank == Coverage.Rank.PRIMARY else None,
            )
        if worst is None or order.index(found.state) < order.index(worst.state):
            amount = worst.amount_to_collect if worst is not None else None
            worst = found
            worst.amount_to_collect = worst.amount_to_collect or amount
    assert worst is not None
    return worst


def visit_facts(appointments: Iterable[Appointment], *, as_of: date | None = None) -> dict[int, VisitFacts]:
    """{appointment id: facts}; appointments need patient loaded. Nine queries whatever their number."""
    from eligibility.priorauth_services import authorization_flags
    from referrals.selectors import awaiting_reports

    visits = list(appointments)
    if not visits:
        return {}
    ids = [v.pk for v in visits]
    patient_ids = sorted({v.patient_id for v in visits})
    coverages: dict[int, list[Coverage]] = defaultdict(list)
    for cov in (
        Coverage.objects.filter(patient_id__in=patient_ids, active=True, rank__in=CHECKED_RANKS)
        .select_related("payer")
        .order_by("patient_id", "rank", "id")
    ):
        coverages[cov.patient_id].append(cov)
    newest: dict[tuple[int, int], EligibilityCheck] = {}
    for check in EligibilityCheck.objects.filter(appointment_id__in=ids).order_by("-requested_at", "-id"):
        newest.setdefault((check.appointment_id, check.coverage_id), check)  # type: ignore[arg-type]
    flags = authorization_flags(ids)
    packets = {
        appointment_id: (status, submitted_at)
        for appointment_id, status, submitted_at in IntakePacket.objects.filter(appointment_id__in=ids).values_list(
            "appointment_id", "status", "submitted_at"
        )
    }
    results = chart_contract("results")
    caregaps = chart_contract("caregaps")
    outstanding = results.outstanding_results(patient_ids, as_of=as_of) if results else None
    gaps = caregaps.open_gaps(patient_ids, as_of=as_of) if caregaps else None
    standing = caregaps.standing_orders(patient_ids, as_of=as_of) if caregaps else None
    referrals = awaiting_reports(patient_ids, as_of=as_of)
    out: dict[int, VisitFacts] = {}
    for v in visits:
        status, submitted_at = packets.get(v.pk, (None, None))
        out[v.pk] = VisitFacts(
            appointment=v,
            eligibility=_eligibility(v, coverages.get(v.patient_id, []), newest),
            auth_flag=flags.get(v.pk),
            intake_status=status,
            intake_submitted_at=submitted_at,
            outstanding=list(outstanding.get(v.patient_id, [])) if outstanding is not None else None,
            gaps=list(gaps.get(v.patient_id, [])) if gaps is not None else None,
            standing=list(standing.get(v.patient_id, [])) if standing is not None else None,
            referrals=list(referrals.get(v.patient_id, [])),
        )
    return out
