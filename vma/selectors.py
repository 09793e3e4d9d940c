"""Reads of the work queue: what a user may see, the queue page, queue health."""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.core.exceptions import ValidationError
from django.db import connection
from django.db.models import Count, Q, QuerySet
from django.http import Http404
from django.utils import timezone

from .access import panel_ids
from .models import User, WorkItem
from .workflow import user_queues
from .workqueue import get_kind

S = WorkItem.Status


def visible_work_items(user: User) -> QuerySet[WorkItem]:
    """The one choke point for work-item lists and details: own queues or own items, own patients."""
    if not user.is_authenticated or not user.has_perm("vma.view_workitem"):
        return WorkItem.objects.none()
    return WorkItem.objects.filter(
        Q(queue__in=user_queues(user)) | Q(assignee=user),
        Q(patient__isnull=True) | Q(patient__care_team_id__in=panel_ids(user)),
    )


def access_work_item(user: User, public_id: Any) -> WorkItem:
    try:
        return visible_work_items(user).select_related("patient", "assignee", "subject_type").get(public_id=public_id)
    except (WorkItem.DoesNotExist, ValidationError, ValueError, TypeError):
        # Missing, not yours and malformed all answer the same.
        raise Http404("No such work item.") from None


@dataclass(frozen=True)
class QueueFilters:
    view: str = "mine"  # mine | queue | all
    kind: str = ""
    queue: str = ""
    due: str = ""  # overdue | today | week | ""
    q: str = ""


def queue_items(user: User, f: QueueFilters, *, now: datetime | None = None) -> QuerySet[WorkItem]:
    now = now or timezone.now()
    qs = visible_work_items(user).select_related("patient", "assignee")
    if f.view == "mine":
        qs = qs.filter(assignee=user, status__in=[S.CLAIMED, S.WAITING])
    elif f.view == "queue":
        # Name the queues again (visible_work_items ORs them with the assignee): a plain
        # `queue IN (...)` lets PostgreSQL walk the claimable index in order and stop at a page.
        qs = qs.filter(queue__in=user_queues(user), status__in=[S.OPEN, S.ESCALATED])
    else:
        qs = qs.filter(status__in=WorkItem.OPEN_STATES)
    if f.kind:
        qs = qs.filter(kind=f.kind)
    if f.queue:
        qs = qs.filter(queue=f.queue)
    if f.due == "overdue":
        qs = qs.filter(due_at__lt=now)
    elif f.due == "today":
        end = timezone.localtime(now).replace(hour=23, minute=59, second=59)
        qs = qs.filter(due_at__lte=end)
    elif f.due == "week":
        qs = qs.filter(due_at__lte=now + timedelta(days=7))
    # Only what the list shows: the page builds 50 rows of three objects each.
    return qs.only(
        "id",
        "public_id",
        "kind",
        "title",
        "due_at",
        "priority",
        "queue",
        "status",
        "patient_id",
        "assignee_id",
        "patient__first_name",
        "patient__last_name",
        "patient__mrn",
        "assignee__username",
    ).order_by("priority", "due_at", "id")


@dataclass
class HealthRow:
    kind: str
    queue: str
    open: int
    overdue: int
    claimed: int
    median_close_minutes: float | None
    label: str = ""


def queue_health(*, now: datetime | None = None, window_days: int = 30) -> list[HealthRow]:
    """Open, overdue and median time to close, per kind and queue; computed in the database."""
    now = now or timezone.now()
    open_rows = (
        WorkItem.objects.filter(status__in=WorkItem.OPEN_STATES)
        .values("kind", "queue")
        .annotate(
            open=Count("id"),
            overdue=Count("id", filter=Q(due_at__lt=now)),
            claimed=Count("id", filter=Q(status=S.CLAIMED)),
        )
    )
    rows: dict[tuple[str, str], HealthRow] = {
        (r["kind"], r["queue"]): HealthRow(r["kind"], r["queue"], r["open"], r["overdue"], r["claimed"], None)
        for r in open_rows
    }
    since = now - timedelta(days=window_days)
    for (kind, queue), minutes in _median_close_minutes(since).items():
        rows.setdefault((kind, queue), HealthRow(kind, queue, 0, 0, 0, None)).median_close_minutes = minutes
    for row in rows.values():
        try:
            row.label = get_kind(row.kind).label
        except LookupError:
            row.label = row.kind
    return sorted(rows.values(), key=lambda r: (-r.overdue, -r.open, r.kind, r.queue))


def _median_close_minutes(since: datetime) -> dict[tuple[str, str], float]:
    if connection.vendor == "postgresql":
        with connection.cursor() as cur:
            cur.execute(
                """
                SELECT kind, queue,
                       percentile_cont(0.5) WITHIN GROUP (ORDER BY EXTRACT(EPOCH FROM closed_at - created_at)) / 60
                FROM vma_workitem
                WHERE status = 'done' AND closed_at >= %s
                GROUP BY kind, queue
                """,
                [since],
            )
            return {(k, q): round(float(m), 1) for k, q, m in cur.fetchall()}
    # The embedded SQLite demo: small enough to take the median in Python.
    durations: dict[tuple[str, str], list[float]] = {}
    for kind, queue, created, closed in WorkItem.objects.filter(status=S.DONE, closed_at__gte=since).values_list(
        "kind", "queue", "created_at", "closed_at"
    ):
        if closed is not None:
            durations.setdefault((kind, queue), []).append((closed - created).total_seconds() / 60)
    return {key: round(statistics.median(v), 1) for key, v in durations.items()}
