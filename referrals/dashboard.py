"""The referral dashboard, computed in the database: a fixed number of queries whatever the volume.

- open referrals by state and age (days since created, AGE_BUCKETS);
- over a window of days: sent, reports received, loops closed (closure rate = closed / sent),
  leakage (sent and never scheduled: ended unseen, or no appointment after LEAKAGE_DAYS), and the
  median days from sending to the report (reports received in the window);
- the same per specialist.

Scope: the whole practice for `view_practice_referral_stats` (the manager: counts and specialists
only, no patient named), otherwise the user's care teams. The drill-down lists are always scoped
to the user's care teams, like every list.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from django.db import connection
from django.db.models import Aggregate, Count, F, FloatField, Func, Q, QuerySet
from django.utils import timezone

from vma.models import User

from .models import Referral, Specialist
from .policy import DASHBOARD, PRACTICE_STATS
from .selectors import AGE_BUCKETS, accessible_referrals, age_q, leaked_q

S = Referral.Status
WINDOWS = (30, 90, 365)


class EpochDays(Func):
    """A duration in days (PostgreSQL)."""

    template = "(EXTRACT(EPOCH FROM %(expressions)s) / 86400.0)"
    output_field = FloatField()


class Median(Aggregate):
    """percentile_cont(0.5) (PostgreSQL), FILTER-able like any aggregate."""

    function = "percentile_cont"
    name = "Median"
    template = "percentile_cont(0.5) WITHIN GROUP (ORDER BY %(expressions)s)"
    output_field = FloatField()


@dataclass
class OpenRow:
    status: str
    label: str
    total: int
    buckets: list[tuple[str, int]]  # (age label, count)


@dataclass
class SpecialistRow:
    public_id: UUID | None
    name: str
    sent: int
    open: int
    reports: int
    closed: int
    leaked: int
    median_days: float | None

    @property
    def closure_rate(self) -> float | None:
        return round(100 * self.closed / self.sent, 1) if self.sent else None

    @property
    def leakage_rate(self) -> float | None:
        return round(100 * self.leaked / self.sent, 1) if self.sent else None


@dataclass
class Dashboard:
    practice_wide: bool
    window_days: int
    open_rows: list[OpenRow]
    sent: int = 0
    reports: int = 0
    closed: int = 0
    leaked: int = 0
    ended_unseen: int = 0
    median_days_to_report: float | None = None
    specialists: list[SpecialistRow] = field(default_factory=list)

    @property
    def open_total(self) -> int:
        return sum(r.total for r in self.open_rows)

    @property
    def bucket_totals(self) -> list[tuple[str, int]]:
        return [(label, sum(dict(r.buckets)[label] for r in self.open_rows)) for label, _, _ in AGE_BUCKETS]

    @property
    def closure_rate(self) -> float | None:
        return round(100 * self.closed / self.sent, 1) if self.sent else None

    @property
    def leakage_rate(self) -> float | None:
        return round(100 * self.leaked / self.sent, 1) if self.sent else None


def scope(user: User) -> tuple[QuerySet[Referral], bool]:
    """(referrals the dashboard counts, practice-wide?)."""
    if not user.is_authenticated or not user.has_perm(DASHBOARD):
        return Referral.objects.none(), False
    if user.has_perm(PRACTICE_STATS):
        return Referral.objects.all(), True
    return accessible_referrals(user, DASHBOARD), False


def _window_counts(since: datetime, now: datetime) -> dict[str, Any]:
    sent = Q(sent_at__gte=since)
    return {
        "sent": Count("id", filter=sent),
        "reports": Count("id", filter=sent & Q(report_received_at__isnull=False)),
        "closed": Count("id", filter=sent & Q(status=S.CLOSED)),
        "leaked": Count("id", filter=sent & leaked_q(now)),
        "ended_unseen": Count("id", filter=sent & Q(status__in=[S.DECLINED, S.CANCELLED, S.EXPIRED])),
    }


def _median_q(since: datetime) -> Q:
    return Q(report_received_at__gte=since, sent_at__isnull=False)


def _days_to_report() -> EpochDays:
    return EpochDays(F("report_received_at") - F("sent_at"))


def build_dashboard(user: User, *, window_days: int = 90, now: datetime | None = None) -> Dashboard:
    """Four queries on PostgreSQL (five on the embedded SQLite, whose median is taken in Python)."""
    now = now or timezone.now()
    window_days = window_days if window_days in WINDOWS else 90
    since = now - timedelta(days=window_days)
    qs, practice_wide = scope(user)
    pg = connection.vendor == "postgresql"

    # 1. Open referrals by state and age.
    buckets = {f"b{i}": Count("id", filter=age_q(label, now)) for i, (label, _, _) in enumerate(AGE_BUCKETS)}
    by_state: dict[str, dict[str, Any]] = {
        row["status"]: dict(row)
        for row in qs.filter(status__in=Referral.OPEN_STATES)
        .values("status")
        .annotate(total=Count("id"), **buckets)
        .order_by()
    }
    open_rows = []
    for status in Referral.OPEN_STATES:
        counts = by_state.get(status, {})
        open_rows.append(
            OpenRow(
                status=status,
                label=S(status).label,
                total=int(counts.get("total", 0)),
                buckets=[(label, int(counts.get(f"b{i}", 0))) for i, (label, _, _) in enumerate(AGE_BUCKETS)],
            )
        )

    # 2. The window: sent, reports, closed, leaked, median days to report.
    in_window = qs.filter(Q(sent_at__gte=since) | Q(report_received_at__gte=since))
    aggregates: dict[str, Any] = _window_counts(since, now)
    if pg:
        aggregates["median"] = Median(_days_to_report(), filter=_median_q(since))
    totals = in_window.aggregate(**aggregates)
    dash = Dashboard(
        practice_wide=practice_wide,
        window_days=window_days,
        open_rows=open_rows,
        sent=totals["sent"],
        reports=totals["reports"],
        closed=totals["closed"],
        leaked=totals["leaked"],
        ended_unseen=totals["ended_unseen"],
    )

    # 3. Per specialist (grouped by id alone; the names of the ≤100 rows are read after).
    per = in_window.filter(specialist__isnull=False).values("specialist_id")
    per_aggregates: dict[str, Any] = {
        **_window_counts(since, now),
        "open": Count("id", filter=Q(sent_at__gte=since, status__in=Referral.OPEN_STATES)),
    }
    if pg:
        per_aggregates["median"] = Median(_days_to_report(), filter=_median_q(since))
    rows: list[dict[str, Any]] = [
        dict(row)
        for row in per.annotate(**per_aggregates).order_by("-sent", "specialist_id")[:100]  # type: ignore[misc]
    ]
    names = {
        s["pk"]: s
        for s in Specialist.objects.filter(pk__in=[r["specialist_id"] for r in rows]).values(
            "pk", "public_id", "organisation", "name"
        )
    }

    medians: dict[Any, float | None]
    if pg:
        dash.median_days_to_report = _round(totals["median"])
        medians = {row["specialist_id"]: row["median"] for row in rows}
    else:
        dash.median_days_to_report, medians = _python_medians(in_window.filter(_median_q(since)))
    dash.specialists = [
        SpecialistRow(
            public_id=names[row["specialist_id"]]["public_id"],
            name=f"{names[row['specialist_id']]['organisation']} — {names[row['specialist_id']]['name']}",
            sent=row["sent"],
            open=row["open"],
            reports=row["reports"],
            closed=row["closed"],
            leaked=row["leaked"],
            median_days=_round(medians.get(row["specialist_id"])),
        )
        for row in rows
    ]
    return dash


def _round(value: float | None) -> float | None:
    return None if value is None else round(float(value), 1)


def _python_medians(qs: QuerySet[Referral]) -> tuple[float | None, dict[Any, float | None]]:
    """The embedded SQLite demo has no percentile_cont: its few rows are read once."""
    every: list[float] = []
    per: dict[Any, list[float]] = defaultdict(list)
    for specialist_id, sent_at, received_at in qs.values_list("specialist_id", "sent_at", "report_received_at"):
        if sent_at is None or received_at is None:
            continue
        days = (received_at - sent_at).total_seconds() / 86400
        every.append(days)
        per[specialist_id].append(days)
    overall = statistics.median(every) if every else None
    return overall, {key: statistics.median(v) for key, v in per.items()}
