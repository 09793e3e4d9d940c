"""Reads of eligibility: checks within access, the patient panel, tomorrow's schedule."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import F, Prefetch, QuerySet, Window
from django.db.models.functions import RowNumber
from django.http import Http404
from django.utils import timezone

from patients.models import Coverage, Patient
from scheduling.models import Appointment
from vma.access import accessible_patients, panel_ids, patient_scope_q
from vma.models import User

from .models import EligibilityCheck
from .services import CHECKED_RANKS

S = EligibilityCheck.Status
VIEW_COVERAGE = "patients.view_coverage"


def accessible_checks(user: User) -> QuerySet[EligibilityCheck]:
    """The one choke point for check lists and details: coverage readers, own care teams."""
    if not user.is_authenticated or not user.has_perm(VIEW_COVERAGE):
        return EligibilityCheck.objects.none()
    return EligibilityCheck.objects.filter(patient_scope_q(user))


def access_check(user: User, public_id: Any) -> EligibilityCheck:
    try:
        return (
            accessible_checks(user).select_related("patient", "coverage__payer", "appointment").get(public_id=public_id)
        )
    except (EligibilityCheck.DoesNotExist, ValidationError, ValueError, TypeError):
        raise Http404("No such eligibility check.") from None


def access_coverage(user: User, public_id: Any) -> Coverage:
    """A coverage the user may check, or 404 (missing and not yours answer alike)."""
    try:
        return (
            Coverage.objects.filter(patient__in=accessible_patients(user, VIEW_COVERAGE))
            .select_related("patient", "payer")
            .get(public_id=public_id)
        )
    except (Coverage.DoesNotExist, ValidationError, ValueError, TypeError):
        raise Http404("No such coverage.") from None


def access_appointment(user: User, public_id: Any, *, patient: Patient) -> Appointment:
    try:
        return Appointment.objects.filter(patient=patient, patient__care_team_id__in=panel_ids(user)).get(
            public_id=public_id
        )
    except (Appointment.DoesNotExist, ValidationError, ValueError, TypeError):
        raise Http404("No such appointment.") from None


def latest_checks() -> QuerySet[EligibilityCheck]:
    """The newest check of every (visit, coverage) pair, in one query (for a Prefetch)."""
    return (
        EligibilityCheck.objects.annotate(
            newest=Window(
                RowNumber(),
                partition_by=[F("appointment_id"), F("coverage_id")],
                order_by=[F("requested_at").desc(), F("id").desc()],
            )
        )
        .filter(newest=1)
        .order_by()
    )


# ---------------------------------------------------------------------------------------------
# The patient panel
# ---------------------------------------------------------------------------------------------


@dataclass
class CoverageLine:
    coverage: Coverage
    check: EligibilityCheck | None


@dataclass
class PatientPanel:
    patient: Patient
    lines: list[CoverageLine]

    @property
    def in_flight(self) -> bool:
        return any(line.check is not None and line.check.status in (S.QUEUED, S.SENT) for line in self.lines)


def patient_panel(patient: Patient) -> PatientPanel:
    """Each active coverage with its newest check, whatever the visit (two queries)."""
    coverages = list(
        patient.coverages.filter(active=True)
        .select_related("payer")
        .prefetch_related(
            Prefetch(
                "eligibility_checks",
                queryset=EligibilityCheck.objects.annotate(
                    newest=Window(
                        RowNumber(),
                        partition_by=[F("coverage_id")],
                        order_by=[F("requested_at").desc(), F("id").desc()],
                    )
                )
                .filter(newest=1)
                .order_by(),
                to_attr="newest_checks",
            )
        )
        .order_by("rank")
    )
    return PatientPanel(
        patient=patient,
        lines=[CoverageLine(c, c.newest_checks[0] if c.newest_checks else None) for c in coverages],  # type: ignore[attr-defined]
    )


# ---------------------------------------------------------------------------------------------
# Tomorrow's schedule
# ---------------------------------------------------------------------------------------------

VERIFIED = "verified"
PROBLEM = "problem"
CHECKING = "checking"
RETRYING = "retrying"
NOT_CHECKED = "not_checked"
SELF_PAY = "self_pay"
_LABELS = {
    VERIFIED: "Verified",
    PROBLEM: "Problem",
    CHECKING: "Checking…",
    RETRYING: "Retrying",
    NOT_CHECKED: "Not checked yet",
    SELF_PAY: "Self-pay",
}


@dataclass
class VisitRow:
    appointment: Appointment
    lines: list[CoverageLine]
    state: str
    amount_to_collect: Decimal | None

    @property
    def label(self) -> str:
        return _LABELS[self.state]

    @property
    def in_flight(self) -> bool:
        return any(line.check is not None and line.check.status in (S.QUEUED, S.SENT) for line in self.lines)


@dataclass
class Schedule:
    day: date
    rows: list[VisitRow] = field(default_factory=list)

    def _count(self, state: str) -> int:
        return sum(1 for r in self.rows if r.state == state)

    @property
    def total(self) -> int:
        return len(self.rows)

    @property
    def insured(self) -> int:
        return self.total - self._count(SELF_PAY)

    @property
    def verified(self) -> int:
        return self._count(VERIFIED)

    @property
    def problems(self) -> int:
        return self._count(PROBLEM)

    @property
    def pending(self) -> int:
        return self.insured - self.verified - self.problems

    @property
    def done(self) -> int:
        return self.verified + self.problems

    @property
    def percent(self) -> int:
        return round(100 * self.done / self.insured) if self.insured else 100

    @property
    def in_flight(self) -> bool:
        return any(r.in_flight for r in self.rows)

    @property
    def to_collect(self) -> Decimal:
        return sum((r.amount_to_collect for r in self.rows if r.amount_to_collect), Decimal("0.00"))


def _row(appointment: Appointment) -> VisitRow:
    newest = {c.coverage_id: c for c in appointment.newest_checks}  # type: ignore[attr-defined]
    lines = [CoverageLine(cov, newest.get(cov.pk)) for cov in appointment.patient.checked_coverages]  # type: ignore[attr-defined]
    statuses = [line.check.status if line.check else None for line in lines]
    if not lines:
        state = SELF_PAY
    elif any(s in EligibilityCheck.PROBLEMS for s in statuses):
        state = PROBLEM
    elif None in statuses:
        state = NOT_CHECKED
    elif any(s in (S.QUEUED, S.SENT) for s in statuses):
        state = CHECKING
    elif S.ERROR in statuses:
        state = RETRYING
    else:
        state = VERIFIED
    # The co-pay is collected for the first-ranked coverage; a secondary one pays after it.
    first = lines[0].check if lines else None
    amount = first.amount_to_collect if first is not None and first.status == S.ACTIVE else None
    return VisitRow(appointment=appointment, lines=lines, state=state, amount_to_collect=amount)


def visits_on(user: User, day: date) -> QuerySet[Appointment]:
    """The day's visits of the user's patients, with their coverages and newest checks (3 queries)."""
    start = timezone.make_aware(datetime.combine(day, time.min))
    return (
        Appointment.objects.filter(
            patient_scope_q(user),
            start_at__gte=start,
            start_at__lt=start + timedelta(days=1),
        )
        .exclude(status__in=[Appointment.Status.CANCELLED, Appointment.Status.NO_SHOW])
        .select_related("patient", "provider")
        .prefetch_related(
            Prefetch("eligibility_checks", queryset=latest_checks(), to_attr="newest_checks"),
            Prefetch(
                "patient__coverages",
                queryset=Coverage.objects.filter(active=True, rank__in=CHECKED_RANKS)
                .select_related("payer")
                .order_by("rank"),
                to_attr="checked_coverages",
            ),
        )
        .order_by("start_at", "id")
    )


def tomorrow_schedule(user: User, *, today: date | None = None) -> Schedule:
    """Tomorrow's visits the user may see, each with its verification state and amount to collect."""
    if not user.is_authenticated or not user.has_perm(VIEW_COVERAGE):
        return Schedule(day=(today or timezone.localdate()) + timedelta(days=1))
    day = (today or timezone.localdate()) + timedelta(days=1)
    return Schedule(day=day, rows=[_row(a) for a in visits_on(user, day)])
