"""Eligibility writes other than transitions: the beat sweep, and "check now" from a person."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from functools import partial
from typing import TYPE_CHECKING

from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from patients.models import Coverage
from scheduling.models import Appointment

from . import workflow
from .models import EligibilityCheck
from .workflow import setting

if TYPE_CHECKING:
    from vma.models import User

S = EligibilityCheck.Status
# Visits still to come; a checked-in one is at the desk already (check now may still be pressed).
CHECKED_VISITS = (Appointment.Status.SCHEDULED, Appointment.Status.CONFIRMED)
CHECKED_RANKS = (Coverage.Rank.PRIMARY, Coverage.Rank.SECONDARY)
_SWEEP_LOCK = 0x454C4947  # "ELIG": one sweep at a time across every beat and worker process


def _hours(name: str, default: int) -> timedelta:
    return timedelta(hours=float(setting(name, default)))


def _batch() -> int:
    return int(setting("ELIGIBILITY_SWEEP_BATCH", 500))


@dataclass
class SweepResult:
    requested: int = 0  # first checks of visits inside the look-ahead
    rechecked: int = 0  # visits in the 24-48 h window whose last answer is older than 24 h
    retried: int = 0  # error -> queued, their back-off over
    dispatched: int = 0  # send tasks enqueued for due queued checks and expired leases
    abandoned: int = 0  # sent on their last attempt and never answered -> failed
    skipped: int = 0  # 1 when another sweep held the lock

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


def sweep(*, now: datetime | None = None) -> SweepResult:
    """The beat job. Every step picks rows by their due time, so a missed tick is repaired by the next."""
    now = now or timezone.now()
    result = SweepResult()
    with transaction.atomic():
        if not _try_sweep_lock():
            result.skipped = 1
            return result
        # Dispatch before requesting: new checks ring their own doorbell once, after commit.
        result.dispatched, result.abandoned = dispatch_due(now=now)
        result.retried = requeue_due_retries(now=now)
        result.requested, result.rechecked = request_upcoming(now=now)
    return result


def _try_sweep_lock() -> bool:
    if connection.vendor != "postgresql":
        return True  # SQLite (the embedded demo) has one writer anyway
    with connection.cursor() as cur:
        cur.execute("SELECT pg_try_advisory_xact_lock(%s)", [_SWEEP_LOCK])
        return bool(cur.fetchone()[0])


def request_upcoming(*, now: datetime) -> tuple[int, int]:
    """(a) visits within the look-ahead with no check for an active coverage; (b) stale answers
    for visits 24-48 h ahead. Returns (requested, rechecked)."""
    window_from = now + _hours("ELIGIBILITY_RECHECK_FROM_HOURS", 24)
    window_to = now + _hours("ELIGIBILITY_RECHECK_TO_HOURS", 48)
    stale_before = now - _hours("ELIGIBILITY_RECHECK_AFTER_HOURS", 24)
    visits = list(
        Appointment.objects.filter(
            status__in=CHECKED_VISITS,
            start_at__gt=now,
            start_at__lte=now + _hours("ELIGIBILITY_LOOKAHEAD_HOURS", 72),
        ).order_by("start_at", "id")
    )
    if not visits:
        return 0, 0
    coverages: dict[int, list[Coverage]] = {}
    for coverage in Coverage.objects.filter(
        patient_id__in={v.patient_id for v in visits}, active=True, rank__in=CHECKED_RANKS
    ).order_by("patient_id", "rank"):
        coverages.setdefault(coverage.patient_id, []).append(coverage)
    latest: dict[tuple[int, int], tuple[str, datetime | None]] = {}
    for visit_id, coverage_id, status, completed_at in (
        EligibilityCheck.objects.filter(appointment__in=visits)
        .order_by("-requested_at", "-id")
        .values_list("appointment_id", "coverage_id", "status", "completed_at")
    ):
        latest.setdefault((visit_id, coverage_id), (status, completed_at))

    requested = rechecked = 0
    for visit in visits:
        for coverage in coverages.get(visit.patient_id, []):
            last = latest.get((visit.pk, coverage.pk))
            if last is None:
                requested += 1
            elif (
                last[0] in EligibilityCheck.FINISHED
                and window_from <= visit.start_at <= window_to
                and last[1] is not None
                and last[1] < stale_before
            ):
                rechecked += 1
            else:
                continue
            workflow.request_check(
                coverage, appointment=visit, service_date=timezone.localdate(visit.start_at), now=now
            )
            if requested + rechecked >= _batch():
                return requested, rechecked  # the rest on the next tick
    return requested, rechecked


def dispatch_due(*, now: datetime) -> tuple[int, int]:
    """(c) enqueue sends for due queued checks and for sent ones whose lease ran out (a lost
    message or a worker killed mid-call). Returns (dispatched, abandoned)."""
    from .tasks import publish_send

    rows = list(
        EligibilityCheck.objects.filter(
            Q(status=S.QUEUED, next_attempt_at__lte=now) | Q(status=S.SENT, lease_until__lt=now)
        )
        .order_by("next_attempt_at", "id")
        .select_for_update(skip_locked=True)
        .values_list("id", "status", "attempts")[: _batch()]
    )
    dispatched: list[int] = []
    abandoned = 0
    for check_id, status, attempts in rows:
        if status == S.SENT and attempts >= workflow.max_attempts():
            workflow.abandon_check(check_id, now=now)
            abandoned += 1
        else:
            dispatched.append(check_id)
    queued = [check_id for check_id, status, _ in rows if status == S.QUEUED]
    if queued:
        # Not due again until a lease later: the next sweep leaves a message in transit alone,
        # and re-sends it only if it was lost. Scheduling only: not an audited field.
        EligibilityCheck.objects.filter(pk__in=queued).update(next_attempt_at=now + workflow.lease())
    for check_id in dispatched:
        transaction.on_commit(partial(publish_send, check_id))
    return len(dispatched), abandoned


def requeue_due_retries(*, now: datetime) -> int:
    """error -> queued for checks whose back-off is over (the countdown doorbell may be lost)."""
    due = list(
        EligibilityCheck.objects.filter(status=S.ERROR, next_attempt_at__lte=now)
        .order_by("next_attempt_at", "id")
        .select_for_update(skip_locked=True)[: _batch()]
    )
    for check in due:
        workflow.retry_check(check, now=now)
    return len(due)


def next_visit(coverage: Coverage, *, now: datetime) -> Appointment | None:
    """The patient's next visit within the look-ahead (today's included), for a check asked by hand."""
    start_of_today = timezone.localtime(now).replace(hour=0, minute=0, second=0, microsecond=0)
    return (
        Appointment.objects.filter(
            patient_id=coverage.patient_id,
            status__in=(*CHECKED_VISITS, Appointment.Status.CHECKED_IN),
            start_at__gte=start_of_today,
            start_at__lte=now + _hours("ELIGIBILITY_LOOKAHEAD_HOURS", 72),
        )
        .order_by("start_at", "id")
        .first()
    )


def check_now(
    coverage: Coverage, *, actor: User, appointment: Appointment | None = None, now: datetime | None = None
) -> EligibilityCheck:
    """A person asks: for the given visit, else the patient's next visit, else for today."""
    now = now or timezone.now()
    if appointment is None:
        appointment = next_visit(coverage, now=now)
    service_date = timezone.localdate(appointment.start_at) if appointment else timezone.localdate(now)
    return workflow.request_check(coverage, appointment=appointment, actor=actor, service_date=service_date, now=now)
