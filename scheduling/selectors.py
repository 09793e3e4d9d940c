"""Reads of scheduling: appointments within access, free time, the calendar, waitlist matches, no-show rates."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import Case, Count, F, FloatField, Q, QuerySet, Value, When
from django.db.models.functions import Cast
from django.http import Http404
from django.utils import timezone

from patients.models import Patient
from vma.access import panel_ids
from vma.models import User
from vma.roles import Role

from .models import (
    FREEING_STATUSES,
    Appointment,
    AppointmentType,
    Location,
    ScheduleBlock,
    ScheduleTemplate,
    WaitlistEntry,
)

VIEW = "scheduling.view_appointment"
S = Appointment.Status
NOON = time(12, 0)


def provider_label(provider: User) -> str:
    if provider.credentials in {"MD", "DO"} and provider.last_name:
        return f"Dr {provider.last_name}"
    return str(provider)


# ---------------------------------------------------------------------------------------------
# Access
# ---------------------------------------------------------------------------------------------


def accessible_appointments(user: User, perm: str = VIEW) -> QuerySet[Appointment]:
    """The one choke point for appointment lists and details: the role may, and own care teams."""
    if not user.is_authenticated or not user.has_perm(perm):
        return Appointment.objects.none()
    return Appointment.objects.filter(patient__care_team_id__in=panel_ids(user))


def access_appointment(user: User, public_id: Any, perm: str = VIEW) -> Appointment:
    """An appointment the user may see, or 404 (missing and not yours answer alike)."""
    try:
        return (
            accessible_appointments(user, perm)
            .select_related("patient", "provider", "appointment_type", "location")
            .get(public_id=public_id)
        )
    except (Appointment.DoesNotExist, ValidationError, ValueError, TypeError):
        raise Http404("No such appointment.") from None


def providers() -> QuerySet[User]:
    """Everyone who can be booked: providers with a weekly schedule."""
    return (
        User.objects.filter(is_active=True, groups__name=Role.PROVIDER, schedule_templates__isnull=False)
        .distinct()
        .order_by("last_name", "first_name", "id")
    )


def provider_by_public_id(public_id: Any) -> User:
    try:
        return providers().get(public_id=public_id)
    except (User.DoesNotExist, ValidationError, ValueError, TypeError):
        raise Http404("No such provider.") from None


def appointment_types() -> QuerySet[AppointmentType]:
    return AppointmentType.objects.filter(active=True).order_by("name")


# ---------------------------------------------------------------------------------------------
# Free time: templates minus blocks minus bookings
# ---------------------------------------------------------------------------------------------


def local_dt(day: date, at: time) -> datetime:
    return timezone.make_aware(datetime.combine(day, at))


@dataclass(frozen=True)
class Busy:
    start: datetime
    end: datetime
    label: str
    booked: bool  # an appointment (vs a block)


@dataclass(frozen=True)
class Window:
    start: datetime
    end: datetime
    location: Location


@dataclass(frozen=True)
class Slot:
    provider: User
    start: datetime
    end: datetime
    location: Location | None


class Availability:
    """Templates, blocks and bookings of some providers over some days, read in four queries.

    Whatever the number of slots asked about afterwards, no further query is made.
    """

    def __init__(
        self, provider_ids: Iterable[int], first_day: date, last_day: date, *, ignore_appointment: int | None = None
    ) -> None:
        ids = list(provider_ids)
        self.first_day, self.last_day = first_day, last_day
        self.templates: dict[tuple[int, int], list[ScheduleTemplate]] = defaultdict(list)
        for t in (
            ScheduleTemplate.objects.filter(provider_id__in=ids).select_related("location").prefetch_related("blocks")
        ):
            self.templates[(t.provider_id, t.weekday)].append(t)
        start, end = local_dt(first_day, time.min), local_dt(last_day + timedelta(days=1), time.min)
        self.busy: dict[int, list[Busy]] = defaultdict(list)
        for b in ScheduleBlock.objects.filter(provider_id__in=ids, start_at__lt=end, end_at__gt=start):
            self.busy[b.provider_id].append(Busy(b.start_at, b.end_at, b.get_kind_display(), booked=False))
        booked = (
            Appointment.objects.filter(provider_id__in=ids, start_at__lt=end, end_at__gt=start)
            .exclude(status__in=FREEING_STATUSES)
            .values_list("provider_id", "start_at", "end_at", "pk")
        )
        for provider_id, b_start, b_end, pk in booked:
            if pk != ignore_appointment:
                self.busy[provider_id].append(Busy(b_start, b_end, "Booked", booked=True))
        for items in self.busy.values():
            items.sort(key=lambda b: b.start)

    def windows(self, provider_id: int, day: date) -> list[Window]:
        """Bookable stretches of the day: template hours minus the template's blocks."""
        out: list[Window] = []
        for t in self.templates.get((provider_id, day.weekday()), []):
            cursor = t.start_time
            for block in sorted(t.blocks.all(), key=lambda b: b.start_time):
                if block.start_time > cursor:
                    out.append(
                        Window(local_dt(day, cursor), local_dt(day, min(block.start_time, t.end_time)), t.location)
                    )
                cursor = max(cursor, block.end_time)
            if cursor < t.end_time:
                out.append(Window(local_dt(day, cursor), local_dt(day, t.end_time), t.location))
        return out

    def template_blocks(self, provider_id: int, day: date) -> list[Busy]:
        return [
            Busy(local_dt(day, b.start_time), local_dt(day, b.end_time), b.get_kind_display(), booked=False)
            for t in self.templates.get((provider_id, day.weekday()), [])
            for b in t.blocks.all()
        ]

    def conflict(self, provider_id: int, start: datetime, end: datetime) -> Busy | None:
        for b in self.busy.get(provider_id, []):
            if b.start < end and start < b.end:
                return b
        return None

    def refusal(self, provider: User, start: datetime, end: datetime) -> tuple[str, int] | None:
        """Why the provider cannot be booked for [start, end), with an HTTP status; None if free."""
        day = timezone.localdate(start)
        name = provider_label(provider)
        busy = self.conflict(provider.pk, start, end)
        if busy is not None and busy.booked:
            return f"That time is already booked for {name}.", 409
        if busy is not None:
            return f"That time is blocked for {name} ({busy.label}).", 409
        if not any(w.start <= start and end <= w.end for w in self.windows(provider.pk, day)):
            blocks = [b for b in self.template_blocks(provider.pk, day) if b.start < end and start < b.end]
            if blocks:
                return f"That time is blocked for {name} ({blocks[0].label}).", 409
            return f"That time is outside {name}'s hours.", 409
        return None

    def location_at(self, provider_id: int, start: datetime) -> Location | None:
        for w in self.windows(provider_id, timezone.localdate(start)):
            if w.start <= start < w.end:
                return w.location
        return None

    def free_slots(self, provider: User, day: date, minutes: int, *, step: int = 15) -> Iterator[Slot]:
        length = timedelta(minutes=minutes)
        for w in self.windows(provider.pk, day):
            t = w.start
            while t + length <= w.end:
                if self.conflict(provider.pk, t, t + length) is None:
                    yield Slot(provider, t, t + length, w.location)
                t += timedelta(minutes=step)


def matches_preference(start: datetime, weekdays: Iterable[int] | None, part_of_day: str) -> bool:
    local = timezone.localtime(start)
    days = set(weekdays or [])
    if days and local.weekday() not in days:
        return False
    if part_of_day == WaitlistEntry.PartOfDay.MORNING:
        return local.time() < NOON
    if part_of_day == WaitlistEntry.PartOfDay.AFTERNOON:
        return local.time() >= NOON
    return True


def find_slots(
    appointment_type: AppointmentType,
    *,
    date_from: date,
    date_to: date,
    provider: User | None = None,
    weekdays: Iterable[int] | None = None,
    part_of_day: str = "any",
    limit: int = 20,
    now: datetime | None = None,
) -> list[Slot]:
    """The earliest free slots for a type: templates minus blocks minus bookings, the patient's
    preferred weekdays and part of day honoured. Four queries for any number of providers and days."""
    now = now or timezone.now()
    date_to = min(date_to, date_from + timedelta(days=92))  # bound the work a request can ask for
    candidates = [provider] if provider is not None else list(providers())
    avail = Availability([p.pk for p in candidates], date_from, date_to)
    wanted = list(weekdays or [])
    found: list[Slot] = []
    day = date_from
    while day <= date_to and len(found) < limit:
        if not wanted or day.weekday() in wanted:
            day_slots = [
                s
                for p in candidates
                for s in avail.free_slots(p, day, appointment_type.duration_minutes)
                if s.start > now and matches_preference(s.start, wanted, part_of_day)
            ]
            day_slots.sort(key=lambda s: (s.start, s.provider.last_name, s.provider.pk))
            found.extend(day_slots[: limit - len(found)])
        day += timedelta(days=1)
    return found


# ---------------------------------------------------------------------------------------------
# The calendar
# ---------------------------------------------------------------------------------------------

DAY_START = time(7, 0)
DAY_END = time(18, 0)
SLOT_MINUTES = 15
ROWS = (DAY_END.hour - DAY_START.hour) * 60 // SLOT_MINUTES


def _row_of(at: datetime) -> int:
    local = timezone.localtime(at)
    minutes = (local.hour - DAY_START.hour) * 60 + local.minute
    return max(1, min(ROWS + 1, minutes // SLOT_MINUTES + 1))


@dataclass
class CalendarBlock:
    column: int
    row_start: int
    row_end: int
    label: str
    colour: str
    kind: str  # "appointment", "busy", "block"
    appointment: Appointment | None = None
    badge: str = ""  # e.g. "PA missing", set by the page from one batch query

    @property
    def style(self) -> str:
        return f"grid-column:{self.column + 1};grid-row:{self.row_start + 1}/{self.row_end + 1};--c:{self.colour}"


@dataclass
class CalendarColumn:
    index: int
    title: str
    day: date
    provider: User


@dataclass
class Calendar:
    view: str
    day: date
    provider: User | None
    columns: list[CalendarColumn]
    blocks: list[CalendarBlock] = field(default_factory=list)
    free: list[tuple[int, int, str]] = field(default_factory=list)  # (column, row, iso start)
    visible_appointments: list[Appointment] = field(default_factory=list)

    @property
    def rows(self) -> list[tuple[int, str]]:
        return [
            (i + 1, f"{DAY_START.hour + (i * SLOT_MINUTES) // 60:02d}:{(i * SLOT_MINUTES) % 60:02d}")
            for i in range(ROWS)
        ]

    @property
    def prev_day(self) -> date:
        return self.day - timedelta(days=7 if self.view == "week" else 1)

    @property
    def next_day(self) -> date:
        return self.day + timedelta(days=7 if self.view == "week" else 1)


def calendar(user: User, *, view: str, day: date, provider: User | None) -> Calendar:
    """A provider's week (columns = days) or a day of every provider (columns = providers).

    A constant number of queries whatever the number of visits. Visits of patients outside the
    user's panels show as "Busy": the provider's time is not secret, the patient is.
    """
    if view == "week":
        monday = day - timedelta(days=day.weekday())
        who = [provider] if provider is not None else []
        columns = (
            [
                CalendarColumn(i, f"{d:%a %m/%d}", d, who[0])
                for i, d in enumerate(monday + timedelta(days=n) for n in range(7))
            ]
            if who
            else []
        )
        first, last = monday, monday + timedelta(days=6)
        day = monday
    else:
        who = list(providers())
        columns = [CalendarColumn(i, provider_label(p), day, p) for i, p in enumerate(who)]
        first = last = day
    cal = Calendar(view=view, day=day, provider=provider, columns=columns)
    if not columns:
        return cal
    ids = [p.pk for p in who]
    avail = Availability(ids, first, last)
    start, end = local_dt(first, time.min), local_dt(last + timedelta(days=1), time.min)
    visits = list(
        Appointment.objects.filter(provider_id__in=ids, start_at__lt=end, end_at__gt=start)
        .exclude(status__in=FREEING_STATUSES)
        .select_related("patient", "appointment_type")
        .order_by("start_at", "id")
    )
    mine = set(panel_ids(user)) if user.has_perm(VIEW) else set()
    col_of = {(c.day, c.provider.pk): c.index for c in columns}
    for a in visits:
        col = col_of.get((timezone.localdate(a.start_at), a.provider_id))
        if col is None:
            continue
        if a.patient.care_team_id in mine:
            label = (
                f"{timezone.localtime(a.start_at):%H:%M} {a.patient.last_name}, {a.patient.first_name} · {a.visit_type}"
            )
            cal.blocks.append(
                CalendarBlock(col, _row_of(a.start_at), _row_of(a.end_at), label, a.colour, "appointment", a)
            )
            cal.visible_appointments.append(a)
        else:
            cal.blocks.append(CalendarBlock(col, _row_of(a.start_at), _row_of(a.end_at), "Busy", "#c9ced6", "busy"))
    for c in columns:
        for b in [
            *avail.template_blocks(c.provider.pk, c.day),
            *(x for x in avail.busy.get(c.provider.pk, []) if not x.booked),
        ]:
            if timezone.localdate(b.start) == c.day or b.start < local_dt(c.day, DAY_START) < b.end:
                s = max(b.start, local_dt(c.day, DAY_START))
                e = min(b.end, local_dt(c.day, DAY_END))
                if s < e:
                    cal.blocks.append(CalendarBlock(c.index, _row_of(s), _row_of(e), b.label, "#e3e6ea", "block"))
        for w in avail.windows(c.provider.pk, c.day):
            t = w.start
            while t < w.end:
                if avail.conflict(c.provider.pk, t, t + timedelta(minutes=SLOT_MINUTES)) is None:
                    cal.free.append((c.index, _row_of(t), t.isoformat()))
                t += timedelta(minutes=SLOT_MINUTES)
    return cal


# ---------------------------------------------------------------------------------------------
# Waitlist and no-shows
# ---------------------------------------------------------------------------------------------


@dataclass
class Candidate:
    entry: WaitlistEntry
    provider_match: bool
    type_match: bool
    preference_match: bool

    @property
    def rank_key(self) -> tuple[int, int, int, datetime, int]:
        e = self.entry
        return (-self.provider_match, -self.type_match, -self.preference_match, e.created_at, e.pk)

    @property
    def reasons(self) -> str:
        parts = []
        parts.append("this provider" if self.provider_match else "any provider")
        parts.append("same visit type" if self.type_match else "any visit type")
        if self.preference_match:
            parts.append("preferred day and time")
        return ", ".join(parts)


def waitlist_candidates(freed: Appointment, *, limit: int = 10) -> list[Candidate]:
    """Waiting patients the freed slot suits, best first: provider match, type match, preferred
    day and time, then who has waited longest."""
    day = timezone.localdate(freed.start_at)
    entries = (
        WaitlistEntry.objects.filter(status=WaitlistEntry.Status.WAITING)
        .filter(Q(provider__isnull=True) | Q(provider_id=freed.provider_id))
        .filter(Q(earliest_date__isnull=True) | Q(earliest_date__lte=day))
        .filter(Q(latest_date__isnull=True) | Q(latest_date__gte=day))
        .filter(
            Q(appointment_type__isnull=True)
            | Q(appointment_type_id=freed.appointment_type_id)
            | Q(appointment_type__duration_minutes__lte=freed.duration_minutes)
        )
        .exclude(patient_id=freed.patient_id)
        .select_related("patient", "appointment_type")
        .order_by("created_at", "id")[:500]
    )
    out = [
        Candidate(
            entry=e,
            provider_match=e.provider_id == freed.provider_id,
            type_match=e.appointment_type_id is not None and e.appointment_type_id == freed.appointment_type_id,
            preference_match=matches_preference(freed.start_at, e.weekdays, e.part_of_day),
        )
        for e in entries
    ]
    out.sort(key=lambda c: c.rank_key)
    return out[:limit]


def waitlist_entries(user: User, perm: str = VIEW) -> QuerySet[WaitlistEntry]:
    """Waiting entries of the user's panels, oldest first: the one choke point for waitlist reads."""
    if not user.is_authenticated or not user.has_perm(perm):
        return WaitlistEntry.objects.none()
    return (
        WaitlistEntry.objects.filter(status=WaitlistEntry.Status.WAITING, patient__care_team_id__in=panel_ids(user))
        .select_related("patient", "appointment_type", "provider")
        .order_by("created_at", "id")
    )


def access_waitlist_entry(user: User, public_id: Any, perm: str = VIEW) -> WaitlistEntry:
    """A waiting entry of the user's panels, or 404 (missing and not yours answer alike)."""
    try:
        return waitlist_entries(user, perm).get(public_id=public_id)
    except (WaitlistEntry.DoesNotExist, ValidationError, ValueError, TypeError):
        raise Http404("No such waitlist entry.") from None


# Visits that reached a verdict: the patient came or did not.
VERDICT_STATUSES = (S.CHECKED_IN, S.IN_ROOM, S.COMPLETED, S.NO_SHOW)


def no_show_rates(by: str, *, since: date | None = None, ids: Iterable[int] | None = None) -> QuerySet[Any]:
    """No-show rate per patient or provider, computed in the database: no-shows / visits with a verdict.

    Rows: {<by>_id, visits, no_shows, rate} with rate None when there was no visit.
    """
    if by not in {"patient", "provider"}:
        raise ValueError("by must be 'patient' or 'provider'")
    qs = Appointment.objects.filter(status__in=VERDICT_STATUSES)
    if since is not None:
        qs = qs.filter(start_at__gte=local_dt(since, time.min))
    if ids is not None:
        qs = qs.filter(**{f"{by}_id__in": list(ids)})
    return (
        qs.values(f"{by}_id")
        .annotate(visits=Count("id"), no_shows=Count("id", filter=Q(status=S.NO_SHOW)))
        .annotate(
            rate=Case(
                When(visits=0, then=Value(None)),
                default=Cast(F("no_shows"), FloatField()) / Cast(F("visits"), FloatField()),
                output_field=FloatField(),
            )
        )
        .order_by(f"{by}_id")
    )


def patient_choices(user: User, query: str, *, limit: int = 10) -> list[Patient]:
    """Patients the user may book for, matching a name or MRN."""
    from vma.access import accessible_patients

    query = query.strip()
    if len(query) < 2:
        return []
    qs = accessible_patients(user)
    for word in query.split()[:3]:
        qs = qs.filter(Q(last_name__istartswith=word) | Q(first_name__istartswith=word) | Q(mrn__iexact=word))
    return list(qs.order_by("last_name", "first_name", "id")[:limit])
