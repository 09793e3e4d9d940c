"""Reads: the one access-scoped queryset of refill requests, the list, the history, turnaround by day."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from django.core.exceptions import ValidationError
from django.db.models import Avg, Count, DurationField, ExpressionWrapper, F, Q, QuerySet
from django.db.models.functions import TruncDate
from django.http import Http404
from django.utils import timezone

from vma.access import patient_scope_q

from .models import RefillEvent, RefillRequest

if TYPE_CHECKING:
    from vma.models import User

VIEW_PERM = "refills.view_refillrequest"
S = RefillRequest.Status
# The list's status filters: a named group or one status.
FILTERS: dict[str, tuple[str, tuple[str, ...]]] = {
    "open": ("Open", RefillRequest.OPEN_STATES),
    "waiting_signature": ("Awaiting signature", (S.PENDED,)),
    "needs_review": ("Needs provider review", (S.NEEDS_REVIEW,)),
    "needs_appointment": ("Needs appointment", (S.NEEDS_APPOINTMENT,)),
    "notifying": ("Signed or denied, being notified", (S.SIGNED, S.DENIED, S.NOTIFIED)),
    "closed": ("Closed", (S.CLOSED,)),
    "merged": ("Merged", (S.MERGED,)),
    "cancelled": ("Cancelled", (S.CANCELLED,)),
    "all": ("All", tuple(S.values)),
}


def accessible_requests(user: User, perm: str = VIEW_PERM) -> QuerySet[RefillRequest]:
    """The one choke point for lists and details: the user's care teams; a pharmacy's account, its own only."""
    if not user.is_authenticated or not user.has_perm(perm):
        return RefillRequest.objects.none()
    qs = RefillRequest.objects.filter(patient_scope_q(user, "patient"))
    if user.is_service_account:
        qs = qs.filter(received_by=user)
    return qs


def access_request(user: User, public_id: Any, perm: str = VIEW_PERM) -> RefillRequest:
    """A request the user may see (and act on with `perm`), or 404 (same answer for missing and not yours)."""
    try:
        return (
            accessible_requests(user, perm)
            .select_related(
                "patient",
                "provider",
                "medication",
                "medication_class",
                "received_by",
                "pended_by",
                "checked_by",
                "signed_by",
                "denied_by",
                "merged_into",
            )
            .get(public_id=public_id)
        )
    except (RefillRequest.DoesNotExist, ValidationError, ValueError, TypeError):
        raise Http404("No such refill request.") from None


def request_list(user: User, *, filter_key: str = "open") -> QuerySet[RefillRequest]:
    statuses = FILTERS.get(filter_key, FILTERS["open"])[1]
    return (
        accessible_requests(user)
        .filter(status__in=statuses)
        .select_related("patient", "provider")
        .order_by("due_at", "received_at", "id")
    )


def history(request: RefillRequest) -> list[RefillEvent]:
    return list(request.events.select_related("actor").order_by("at", "id"))


@dataclass(frozen=True)
class TurnaroundDay:
    day: date
    received: int  # requests received that day (duplicates merged away not counted)
    notified: int  # of those, pharmacy and patient told
    on_time: int  # of those, told by the due time
    average_hours: float | None  # received → notified, of the notified ones
    open_overdue: int  # still undecided past their due time

    @property
    def on_time_pct(self) -> int | None:
        return round(100 * self.on_time / self.notified) if self.notified else None


def turnaround_by_day(user: User, *, days: int = 14, now: datetime | None = None) -> list[TurnaroundDay]:
    """Received → notified per day of receipt, newest first (one query)."""
    now = now or timezone.now()
    start = timezone.localdate(now) - timedelta(days=days - 1)
    since = timezone.make_aware(datetime.combine(start, datetime.min.time()))
    turnaround = ExpressionWrapper(F("notified_at") - F("received_at"), output_field=DurationField())
    rows = (
        accessible_requests(user)
        .exclude(status=S.MERGED)
        .filter(received_at__gte=since, received_at__lte=now)
        .annotate(day=TruncDate("received_at", tzinfo=timezone.get_current_timezone()))
        .values("day")
        .annotate(
            received=Count("id"),
            notified=Count("id", filter=Q(notified_at__isnull=False)),
            on_time=Count("id", filter=Q(notified_at__isnull=False, notified_at__lte=F("due_at"))),
            average=Avg(turnaround, filter=Q(notified_at__isnull=False)),
            open_overdue=Count("id", filter=Q(status__in=RefillRequest.UNDECIDED, due_at__lt=now)),
        )
        .order_by("-day")
    )
    return [
        TurnaroundDay(
            day=row["day"],
            received=row["received"],
            notified=row["notified"],
            on_time=row["on_time"],
            average_hours=round(row["average"].total_seconds() / 3600, 1) if row["average"] is not None else None,
            open_overdue=row["open_overdue"],
        )
        for row in rows
    ]
