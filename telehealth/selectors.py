"""Reads of the waiting room: visits within access, the day's board, one visit, the waiting-time figures."""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from django.core.exceptions import ObjectDoesNotExist, ValidationError
from django.db import connection
from django.db.models import Aggregate, Count, F, FloatField, Func, Max, QuerySet, Value
from django.db.models.functions import Greatest, TruncDate
from django.http import Http404
from django.utils import timezone

from scheduling.models import FREEING_STATUSES, Appointment
from vma.access import patient_scope_q
from vma.models import User

from .models import RoomEvent, VisitRoom
from .policy import HOST, METRICS, VIEW
from .workflow import ROOMING_CHECKLIST

S = VisitRoom.Status


def day_bounds(day: date) -> tuple[datetime, datetime]:
    start = timezone.make_aware(datetime.combine(day, time.min))
    return start, timezone.make_aware(datetime.combine(day + timedelta(days=1), time.min))


@dataclass
class VisitRow:
    """A telehealth visit and its room (None until the room is first used)."""

    appointment: Appointment
    room: VisitRoom | None

    @property
    def status(self) -> str:
        return self.room.status if self.room else S.CREATED

    @property
    def status_label(self) -> str:
        return self.room.get_status_display() if self.room else S.CREATED.label

    @property
    def since(self) -> datetime | None:
        return self.room.since if self.room else None

    @property
    def patient_waiting(self) -> bool:
        return bool(self.room and self.room.patient_waiting)

    @property
    def no_join_alerted(self) -> bool:
        return bool(self.room and self.room.no_join_notified_at and self.room.status in VisitRoom.NOT_JOINED)

    def audit_patient_id(self) -> int | None:
        return self.appointment.patient_id


def row_of(appointment: Appointment) -> VisitRow:
    try:
        room: VisitRoom | None = appointment.visit_room  # type: ignore[attr-defined]
    except ObjectDoesNotExist:
        room = None
    return VisitRow(appointment, room)


# ---------------------------------------------------------------------------------------------
# Access: the one choke point
# ---------------------------------------------------------------------------------------------


def telehealth_visits(user: User, perm: str = VIEW) -> QuerySet[Appointment]:
    """Telehealth visits of the user's care teams' patients (none without the permission)."""
    if not user.is_authenticated or not user.has_perm(perm):
        return Appointment.objects.none()
    return Appointment.objects.filter(patient_scope_q(user), telehealth=True)


def access_visit(user: User, public_id: Any, perm: str = VIEW) -> Appointment:
    """A telehealth visit the user may see, or 404 (missing and not yours answer alike)."""
    try:
        return (
            telehealth_visits(user, perm)
            .select_related("patient", "provider", "appointment_type")
            .get(public_id=public_id)
        )
    except (Appointment.DoesNotExist, ValidationError, ValueError, TypeError):
        raise Http404("No such telehealth visit.") from None


def fresh_room(room: VisitRoom) -> VisitRoom:
    """The room as the pages show it (one query)."""
    return VisitRoom.objects.select_related("appointment__provider", "patient", "vma", "ended_by").get(pk=room.pk)


def day_visits(qs: QuerySet[Appointment], day: date) -> QuerySet[Appointment]:
    start, end = day_bounds(day)
    return (
        qs.filter(start_at__gte=start, start_at__lt=end)
        .exclude(status__in=FREEING_STATUSES)
        .select_related("patient", "provider", "visit_room", "visit_room__vma")
        .order_by("start_at", "id")
    )


def waiting_room(user: User, *, day: date, provider: User | None = None) -> list[VisitRow]:
    """The day's telehealth visits of the user's teams with their rooms, in start order (one query)."""
    qs = telehealth_visits(user)
    if provider is not None:
        qs = qs.filter(provider=provider)
    return [row_of(a) for a in day_visits(qs, day)]


def provider_board(user: User, *, day: date) -> list[VisitRow]:
    """The provider's own visits of the day: ready patients first, longest wait first; then by start."""
    rows = [row_of(a) for a in day_visits(telehealth_visits(user, HOST).filter(provider=user), day)]

    def order(r: VisitRow) -> tuple[int, datetime]:
        if r.status == S.READY and r.room and r.room.ready_at:
            return 0, r.room.ready_at
        if r.status == S.PROVIDER_JOINED:
            return 1, r.appointment.start_at
        return (3 if r.status == S.ENDED else 2), r.appointment.start_at

    return sorted(rows, key=order)


def room_events(room: VisitRoom) -> list[RoomEvent]:
    return list(room.events.select_related("actor").order_by("at", "id"))


@dataclass
class CheckRow:
    code: str
    label: str
    done: bool
    at: datetime | None = None
    by: str = ""


def checklist_rows(room: VisitRoom) -> list[CheckRow]:
    rows = []
    for code, label in ROOMING_CHECKLIST:
        mark = room.checklist.get(code)
        at = datetime.fromisoformat(mark["at"]) if mark else None
        rows.append(CheckRow(code, label, bool(mark), at, mark.get("by", "") if mark else ""))
    return rows


# ---------------------------------------------------------------------------------------------
# Figures: start delay and waiting time per provider and day (computed in the database)
# ---------------------------------------------------------------------------------------------


class Median(Aggregate):
    function = "PERCENTILE_CONT"
    template = "%(function)s(0.5) WITHIN GROUP (ORDER BY %(expressions)s)"
    output_field = FloatField()


def _minutes(later: str, earlier: str) -> Func:
    """Minutes from `earlier` to `later`, never negative (a provider early counts as on time)."""
    seconds = Func(F(later) - F(earlier), template="EXTRACT(EPOCH FROM %(expressions)s)", output_field=FloatField())
    return Greatest(Value(0.0), seconds / Value(60.0), output_field=FloatField())


@dataclass
class Spread:
    median: float | None = None
    max: float | None = None


@dataclass
class MetricRow:
    provider: User
    day: date
    visits: int  # visits the provider joined
    start_delay: Spread = field(default_factory=Spread)  # provider joined − scheduled start
    wait_ready: Spread = field(default_factory=Spread)  # ready for provider → provider joined
    wait_joined: Spread = field(default_factory=Spread)  # patient joined → provider joined


MEASURES = {
    "start_delay": ("provider_joined_at", "appointment__start_at"),
    "wait_ready": ("provider_joined_at", "ready_at"),
    "wait_joined": ("provider_joined_at", "patient_joined_at"),
}


def _r(value: float | None) -> float | None:
    return None if value is None else round(float(value), 1)


def metric_rooms(user: User, *, start: date, end: date) -> QuerySet[VisitRoom]:
    """Rooms the provider joined between the days (inclusive): every provider's for the manager,
    the provider's own for a provider. Numbers only: no patient scope needed, none shown."""
    if not user.is_authenticated or not user.has_perm(METRICS):
        return VisitRoom.objects.none()
    lo, _ = day_bounds(start)
    _, hi = day_bounds(end)
    qs = VisitRoom.objects.filter(
        provider_joined_at__isnull=False, appointment__start_at__gte=lo, appointment__start_at__lt=hi
    )
    if user.is_provider:
        qs = qs.filter(appointment__provider=user)
    return qs


def wait_metrics(user: User, *, start: date, end: date) -> list[MetricRow]:
    rooms = metric_rooms(user, start=start, end=end)
    grouped: list[dict[str, Any]]
    if connection.vendor == "postgresql":
        aggregates: dict[str, Any] = {"visits": Count("id")}
        for name, (later, earlier) in MEASURES.items():
            aggregates[f"{name}_median"] = Median(_minutes(later, earlier))
            aggregates[f"{name}_max"] = Max(_minutes(later, earlier))
        per_day = (
            rooms.annotate(day=TruncDate("appointment__start_at", tzinfo=timezone.get_current_timezone()))
            .values("appointment__provider_id", "day")
            .annotate(**aggregates)
            .order_by("-day", "appointment__provider_id")
        )
        grouped = [dict(g) for g in per_day]
    else:
        grouped = _grouped_in_python(rooms)
    providers = User.objects.in_bulk({g["appointment__provider_id"] for g in grouped})
    out = []
    for g in grouped:
        row = MetricRow(providers[g["appointment__provider_id"]], g["day"], g["visits"])
        for name in MEASURES:
            setattr(row, name, Spread(_r(g[f"{name}_median"]), _r(g[f"{name}_max"])))
        out.append(row)
    return sorted(out, key=lambda r: (-r.day.toordinal(), str(r.provider)))


def _grouped_in_python(rooms: QuerySet[VisitRoom]) -> list[dict[str, Any]]:
    # The embedded SQLite demo has no percentile_cont: small enough to take the median here.
    groups: dict[tuple[int, date], list[VisitRoom]] = {}
    for room in rooms.select_related("appointment"):
        key = (room.appointment.provider_id, timezone.localdate(room.appointment.start_at))
        groups.setdefault(key, []).append(room)
    out = []
    for (provider_id, day), members in groups.items():
        g: dict[str, Any] = {"appointment__provider_id": provider_id, "day": day, "visits": len(members)}
        for name, (later, earlier) in MEASURES.items():
            values = []
            for room in members:
                a, b = _path(room, later), _path(room, earlier)
                if a is not None and b is not None:
                    values.append(max(0.0, (a - b).total_seconds() / 60))
            g[f"{name}_median"] = statistics.median(values) if values else None
            g[f"{name}_max"] = max(values) if values else None
        out.append(g)
    return out


def _path(obj: Any, path: str) -> Any:
    for part in path.split("__"):
        obj = getattr(obj, part)
    return obj
