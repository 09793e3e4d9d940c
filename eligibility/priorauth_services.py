"""Prior-authorization writes other than transitions: the rules lookup, booking's hook, flags, the sweep."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from patients.models import Coverage, Patient, Payer

from . import priorauth
from .models import PriorAuthorization, PriorAuthRule

if TYPE_CHECKING:
    from scheduling.models import Appointment
    from vma.models import User

S = PriorAuthorization.Status

# What a page shows next to a visit. None: no authorization is needed (or it was withdrawn).
MISSING, PENDING, APPROVED, DENIED = "missing", "pending", "approved", "denied"
_FLAG: dict[str, str] = {
    S.REQUIRED: MISSING,
    S.EXPIRED: MISSING,  # the approval ran out before the visit: a new one is needed
    S.SUBMITTED: PENDING,
    S.PENDING: PENDING,
    S.APPROVED: APPROVED,
    S.PARTIALLY_APPROVED: APPROVED,
    S.DENIED: DENIED,
}
# A visit with several services shows its worst one.
_SEVERITY: dict[str, int] = {DENIED: 0, MISSING: 1, PENDING: 2, APPROVED: 3}
# Visits that are over or off need no authorization work.
_CLOSED_VISITS = frozenset({"cancelled", "no_show", "completed"})


# ---------------------------------------------------------------------------------------------
# The rules
# ---------------------------------------------------------------------------------------------


def authorization_required(
    payer: Payer | None, code: str | None = None, category: str | None = None, on: date | None = None
) -> PriorAuthRule | None:
    """The rule that makes authorization required for this service with this payer on `on`, or None.

    The most specific rule in effect wins: the payer's own rules before the practice's defaults
    (any payer), a code before a category, then the newest. A winning "not required" rule is an
    exemption, so the answer is None.
    """
    on = on or timezone.localdate()
    code = (code or "").strip()
    category = (category or "").strip()
    if not (code or category):
        return None
    matches = Q(pk__in=[])
    if code:
        matches |= Q(code__iexact=code)
    if category:
        matches |= Q(code="", category__iexact=category)
    payers = Q(payer__isnull=True) | Q(payer=payer) if payer is not None else Q(payer__isnull=True)
    rules = PriorAuthRule.objects.filter(
        matches, payers, Q(effective_to__isnull=True) | Q(effective_to__gte=on), active=True, effective_from__lte=on
    )

    def specificity(rule: PriorAuthRule) -> tuple[int, int, int, int]:
        return (rule.payer_id is None, rule.code == "", -rule.effective_from.toordinal(), -rule.pk)

    best = min(rules, key=specificity, default=None)
    return best if best is not None and best.required else None


def primary_coverage(patient: Patient | int, on: date) -> Coverage | None:
    patient_id = patient if isinstance(patient, int) else patient.pk
    for coverage in (
        Coverage.objects.filter(patient_id=patient_id, active=True, rank=Coverage.Rank.PRIMARY)
        .select_related("payer", "patient")
        .order_by("id")
    ):
        if coverage.in_force_on(on):
            return coverage
    return None


# ---------------------------------------------------------------------------------------------
# Booking and orders
# ---------------------------------------------------------------------------------------------


def open_for_appointment(
    appointment: Appointment, *, actor: User | None = None, now: datetime | None = None
) -> PriorAuthorization | None:
    """Called by booking: if the visit's type needs a check and a rule requires authorization for
    the primary coverage's payer, record a required authorization and open its work item.

    Safe to call twice (on reschedule, on a retried booking): the open one is returned. The rules
    decide, not the person booking, so their permissions are not checked here; they are recorded.
    """
    # scheduling is growing appointment types; read them defensively until it has them.
    kind = getattr(appointment, "appointment_type", None)
    if kind is None or not getattr(kind, "needs_prior_auth_check", False):
        return None
    if appointment.status in _CLOSED_VISITS:
        return None
    code = str(getattr(kind, "service_code", "") or "")
    # Without a code on the type, a rule whose category is the type's name ("MRI") applies.
    category = str(getattr(kind, "prior_auth_category", "") or getattr(kind, "name", "") or "")
    day = timezone.localdate(appointment.start_at)
    coverage = primary_coverage(appointment.patient_id, day)
    if coverage is None:
        return None  # self-pay: no payer to ask
    rule = authorization_required(coverage.payer, code=code, category=category, on=day)
    if rule is None:
        return None
    auth, _created = priorauth.require(
        coverage,
        service_code=code,
        category=category or rule.category,
        service_description=str(getattr(kind, "name", "") or appointment.visit_type),
        appointment=appointment,
        rule=rule,
        actor=actor,
        check=False,
        now=now,
    )
    return auth


def open_for_order(
    patient: Patient,
    *,
    service_code: str = "",
    category: str = "",
    description: str = "",
    requested_units: int | None = None,
    on: date | None = None,
    actor: User | None = None,
    now: datetime | None = None,
) -> PriorAuthorization | None:
    """An order (a drug, imaging) not tied to a visit: require authorization if a rule says so.

    The caller has already checked the actor may see the patient (it placed the order).
    """
    on = on or timezone.localdate(now)
    coverage = primary_coverage(patient, on)
    if coverage is None:
        return None
    rule = authorization_required(coverage.payer, code=service_code, category=category, on=on)
    if rule is None:
        return None
    auth, _created = priorauth.require(
        coverage,
        service_code=service_code,
        category=category or rule.category,
        service_description=description,
        requested_units=requested_units,
        rule=rule,
        actor=actor,
        check=False,
        now=now,
    )
    return auth


# ---------------------------------------------------------------------------------------------
# Flags for schedule pages
# ---------------------------------------------------------------------------------------------


def authorization_flags(appointments: Iterable[Appointment | int]) -> dict[int, str | None]:
    """{appointment id: "missing" | "pending" | "approved" | "denied" | None} in one query."""
    ids = [a if isinstance(a, int) else a.pk for a in appointments]
    flags: dict[int, str | None] = dict.fromkeys(ids)
    if not ids:
        return flags
    newest: dict[tuple[int, str], str] = {}
    for appointment_id, code, status in (
        PriorAuthorization.objects.filter(appointment_id__in=ids)
        .order_by("-created_at", "-id")
        .values_list("appointment_id", "service_code", "status")
    ):
        newest.setdefault((appointment_id, code), status)  # the newest request per service decides
    for (appointment_id, _code), status in newest.items():
        flag = _FLAG.get(status)
        current = flags[appointment_id]
        if flag is not None and (current is None or _SEVERITY[flag] < _SEVERITY[current]):
            flags[appointment_id] = flag
    return flags


# What a page shows next to a visit: an approval needs no badge.
BADGES = {MISSING: "PA missing", PENDING: "PA pending", DENIED: "PA denied"}


def authorization_badges(appointments: Iterable[Appointment | int]) -> dict[int, str]:
    """{appointment id: "PA missing" | "PA pending" | "PA denied" | ""} in one query."""
    return {pk: BADGES.get(flag or "", "") for pk, flag in authorization_flags(appointments).items()}


def authorization_flag(appointment: Appointment) -> str | None:
    return authorization_flags([appointment.pk])[appointment.pk]


# ---------------------------------------------------------------------------------------------
# The hourly sweep
# ---------------------------------------------------------------------------------------------


@dataclass
class SweepResult:
    follow_ups: int = 0  # follow-up items opened or kept for requests awaiting the payer
    overdue: int = 0  # of those, requests whose decision deadline passed (urgent)
    expired: int = 0  # approvals whose dates ran out
    running_out: int = 0  # approvals ending within 14 days or 80 % used, flagged once

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


def sweep_prior_auths(*, now: datetime | None = None, batch: int = 500) -> SweepResult:
    """Open follow-ups every 2 business days and once a deadline passes; expire and warn on approvals.

    Safe to run twice or concurrently: rows are taken with SKIP LOCKED, each flag is set once,
    and a work item is opened at most once per (kind, authorization) while open.
    """
    now = now or timezone.now()
    today = timezone.localdate(now)
    result = SweepResult()
    with transaction.atomic():
        for auth in _pick(
            Q(next_follow_up_at__lte=now) | Q(decision_due_at__lt=now, deadline_flagged_at__isnull=True),
            status__in=PriorAuthorization.AWAITING_PAYER,
            batch=batch,
        ):
            overdue = auth.decision_due_at is not None and auth.decision_due_at < now
            priorauth.follow_up(auth, now=now)
            result.follow_ups += 1
            result.overdue += overdue
    with transaction.atomic():
        for auth in _pick(Q(valid_to__lt=today), status__in=PriorAuthorization.USABLE, batch=batch):
            priorauth.expire(auth, now=now)
            result.expired += 1
    with transaction.atomic():
        soon = today + timedelta(days=priorauth.EXPIRY_WARNING_DAYS)
        used = Q(units_used__gte=F("approved_units") * priorauth.UNITS_WARNING_PERCENT / 100.0)
        for auth in _pick(
            Q(valid_to__lte=soon) | used,
            status__in=PriorAuthorization.USABLE,
            expiry_flagged_at__isnull=True,
            batch=batch,
        ):
            result.running_out += priorauth.flag_running_out(auth, now=now)
    return result


def _pick(condition: Q, *, batch: int, **filters: Any) -> list[PriorAuthorization]:
    return list(
        PriorAuthorization.objects.filter(condition, **filters)
        .select_related("patient", "payer")
        .order_by("id")
        .select_for_update(skip_locked=True, of=("self",))[:batch]
    )
