"""Reads of huddle: scrubs within access, the scrub list, and the daily huddle sheet (live and snapshot)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from django.apps import apps
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q, QuerySet
from django.http import Http404
from django.utils import timezone

from intake.models import IntakePacket
from scheduling.models import FREEING_STATUSES, Appointment
from scheduling.selectors import no_show_rates, provider_label
from vma.access import panel_ids, patient_scope_q
from vma.models import User, WorkItem

from . import facts as F
from .days import day_bounds
from .models import ChartScrub, HuddleSnapshot, ScrubItem
from .workflow import SCRUB_KIND

VIEW_SCRUB = "huddle.view_chartscrub"
VIEW_SHEET = "huddle.view_huddle_sheet"

# --- high-risk, urgent, no-show: the definitions the sheet uses (shown on the page's legend) ---------
RISK_WINDOW_DAYS = 30  # a PHQ-9 answered within this many days counts
RISK_PHQ9_BANDS = ("moderately severe", "severe")  # PHQ-9 ≥ 15
RISK_ACTIVE_PROBLEMS = 3  # complex: this many active problems on the chart (once patients/ keeps them)
NO_SHOW_RATE = 0.20  # no-show risk: at least this share of visits with a verdict …
NO_SHOW_MIN_VISITS = 3  # … over at least this many visits …
NO_SHOW_YEARS = 2  # … in the last two years
URGENT_PRIORITY = WorkItem.Priority.HIGH  # urgent messages: open items of this priority or higher, or escalated


# ---------------------------------------------------------------------------------------------
# Scrubs: the one choke point
# ---------------------------------------------------------------------------------------------


def accessible_scrubs(user: User, perm: str = VIEW_SCRUB) -> QuerySet[ChartScrub]:
    if not user.is_authenticated or not user.has_perm(perm):
        return ChartScrub.objects.none()
    return ChartScrub.objects.filter(patient_scope_q(user))


def access_scrub(user: User, public_id: Any, perm: str = VIEW_SCRUB) -> ChartScrub:
    """A scrub the user may see, or 404 (missing and not yours answer alike)."""
    try:
        return (
            accessible_scrubs(user, perm)
            .select_related("patient", "appointment", "provider", "scrubbed_by")
            .get(public_id=public_id)
        )
    except (ChartScrub.DoesNotExist, ValidationError, ValueError, TypeError):
        raise Http404("No such chart scrub.") from None


def access_item(scrub: ChartScrub, public_id: Any) -> ScrubItem:
    try:
        return scrub.items.get(public_id=public_id)
    except (ScrubItem.DoesNotExist, ValidationError, ValueError, TypeError):
        raise Http404("No such checklist item.") from None


def scrub_list(user: User, *, day: date, provider: User | None = None) -> QuerySet[ChartScrub]:
    """The day's scrubs of the user's patients, in visit order (one query)."""
    qs = accessible_scrubs(user).filter(day=day).select_related("patient", "appointment", "provider")
    if provider is not None:
        qs = qs.filter(provider=provider)
    return qs.order_by("appointment__start_at", "id")


def scrub_items(scrub: ChartScrub) -> list[ScrubItem]:
    return list(scrub.items.select_related("marked_by").order_by("position", "code"))


def sheet_providers() -> QuerySet[User]:
    from scheduling.selectors import providers

    return providers()


def provider_by_public_id(public_id: Any) -> User | None:
    if not public_id:
        return None
    try:
        return User.objects.get(public_id=public_id, groups__name="provider")
    except (User.DoesNotExist, ValidationError, ValueError, TypeError):
        raise Http404("No such provider.") from None


# ---------------------------------------------------------------------------------------------
# The huddle sheet
# ---------------------------------------------------------------------------------------------

FLAG_LABELS: dict[str, str] = {
    "coverage": "Coverage",
    "auth": "Auth",
    "intake": "Intake",
    "reports": "Reports",
    "gaps": "Care gaps",
    "risk": "High risk",
    "urgent": "Urgent msg",
    "no_show": "No-show risk",
}


@dataclass
class Flag:
    code: str
    reason: str

    @property
    def label(self) -> str:
        return FLAG_LABELS[self.code]


@dataclass
class SheetRow:
    appointment: Appointment
    flags: list[Flag]
    scrub_status: str = ""

    @property
    def reason_line(self) -> str:
        return " · ".join(f.reason for f in self.flags)

    @property
    def flag_codes(self) -> list[str]:
        return [f.code for f in self.flags]

    def as_json(self) -> dict[str, Any]:
        a = self.appointment
        return {
            "appointment": str(a.public_id),
            "time": f"{timezone.localtime(a.start_at):%H:%M}",
            "patient": f"{a.patient.last_name}, {a.patient.first_name}",
            "patient_id": a.patient_id,
            "care_team_id": a.patient.care_team_id,
            "visit_type": a.visit_type,
            "flags": self.flag_codes,
            "reasons": {f.code: f.reason for f in self.flags},
        }


@dataclass
class Change:
    kind: str  # "added", "removed", "flags"
    time: str
    patient: str
    added: list[str] = field(default_factory=list)
    cleared: list[str] = field(default_factory=list)

    @property
    def text(self) -> str:
        if self.kind == "added":
            return "New visit"
        if self.kind == "removed":
            return "Visit removed (cancelled or moved)"
        parts = []
        if self.added:
            parts.append("new: " + ", ".join(FLAG_LABELS.get(c, c) for c in self.added))
        if self.cleared:
            parts.append("cleared: " + ", ".join(FLAG_LABELS.get(c, c) for c in self.cleared))
        return "; ".join(parts)


@dataclass
class Sheet:
    provider: User
    day: date
    rows: list[SheetRow]
    hidden: int = 0  # visits of patients outside the user's care teams (time shown as busy only)
    snapshot: HuddleSnapshot | None = None
    changes: list[Change] = field(default_factory=list)

    @property
    def provider_name(self) -> str:
        return provider_label(self.provider)

    @property
    def totals(self) -> dict[str, int]:
        counts = dict.fromkeys(FLAG_LABELS, 0)
        for r in self.rows:
            for code in set(r.flag_codes):
                counts[code] += 1
        return counts

    @property
    def total_rows(self) -> list[tuple[str, str, int]]:
        return [(code, FLAG_LABELS[code], n) for code, n in self.totals.items()]

    @property
    def flagged(self) -> int:
        return sum(1 for r in self.rows if r.flags)

    @property
    def clear(self) -> int:
        return len(self.rows) - self.flagged

    def as_json(self) -> list[dict[str, Any]]:
        return [r.as_json() for r in self.rows]


def _active_problem_counts(patient_ids: list[int]) -> dict[int, int]:
    """Active problems per patient (patients/ keeps the problem list)."""
    from django.db.models import Count

    model = apps.get_model("patients", "Problem")
    rows = (
        model.objects.filter(patient_id__in=patient_ids, status="active").values("patient_id").annotate(n=Count("id"))
    )
    return {row["patient_id"]: row["n"] for row in rows.order_by()}


def _flags(
    f: F.VisitFacts,
    *,
    urgent: list[str],
    risk: list[str],
    no_show: tuple[int, int] | None,
) -> list[Flag]:
    out: list[Flag] = []
    e = f.eligibility
    if e.state != F.VERIFIED:
        out.append(
            Flag("coverage", {F.SELF_PAY: "No insurance on file"}.get(e.state, e.detail.split(":", 1)[-1].strip()))
        )
    if f.auth_flag in ("missing", "pending", "denied"):
        out.append(Flag("auth", {"missing": "PA missing", "pending": "PA pending", "denied": "PA denied"}[f.auth_flag]))
    if f.intake_status not in (IntakePacket.Status.SUBMITTED, IntakePacket.Status.REVIEWED):
        out.append(
            Flag(
                "intake",
                "Intake not sent"
                if f.intake_status is None
                else f"Intake {IntakePacket.Status(f.intake_status).label.lower()}",
            )
        )
    missing = [r for r in f.referrals if r.due_back]  # seen by the specialist, no report yet
    if f.outstanding or missing:
        parts = []
        if f.outstanding:
            overdue = sum(1 for o in f.outstanding if o.overdue)
            parts.append(f"{len(f.outstanding)} result(s) outstanding" + (f", {overdue} overdue" if overdue else ""))
        if missing:
            parts.append(f"{len(missing)} referral report(s) missing")
        out.append(Flag("reports", "; ".join(parts)))
    if f.gaps:
        out.append(Flag("gaps", "Due: " + ", ".join(g.title for g in f.gaps)))
    if risk:
        out.append(Flag("risk", "; ".join(risk)))
    if urgent:
        out.append(Flag("urgent", "; ".join(urgent[:2]) + (f" (+{len(urgent) - 2})" if len(urgent) > 2 else "")))
    if no_show is not None:
        out.append(Flag("no_show", f"No-shows {no_show[0]}/{no_show[1]} visits"))
    return out


def build_rows(visits: list[Appointment], *, now: datetime) -> list[SheetRow]:
    """Flags for the visits (patients loaded): a constant number of queries whatever their number."""
    if not visits:
        return []
    patient_ids = sorted({v.patient_id for v in visits})
    all_facts = F.visit_facts(visits, as_of=timezone.localdate(now))
    urgent: dict[int, list[str]] = defaultdict(list)
    for pid, title, status in (
        WorkItem.objects.filter(patient_id__in=patient_ids, status__in=WorkItem.OPEN_STATES)
        .filter(Q(priority__lte=URGENT_PRIORITY) | Q(status=WorkItem.Status.ESCALATED))
        .exclude(kind=SCRUB_KIND)
        .order_by("priority", "due_at", "id")
        .values_list("patient_id", "title", "status")
    ):
        urgent[pid].append(f"{title} (escalated)" if status == WorkItem.Status.ESCALATED else title)
    risk: dict[int, list[str]] = defaultdict(list)
    since = now - timedelta(days=RISK_WINDOW_DAYS)
    for pid, item9, score, band in (
        IntakePacket.objects.filter(patient_id__in=patient_ids, submitted_at__gte=since)
        .filter(Q(item9_positive=True) | Q(phq9_band__in=RISK_PHQ9_BANDS))
        .order_by("-submitted_at")
        .values_list("patient_id", "item9_positive", "phq9_score", "phq9_band")
    ):
        if risk[pid]:
            continue  # the newest answer speaks
        risk[pid].append("PHQ-9 item 9 positive" if item9 else f"PHQ-9 {score} ({band})")
    problems = _active_problem_counts(patient_ids)
    for pid, n in problems.items():
        if n >= RISK_ACTIVE_PROBLEMS:
            risk[pid].append(f"{n} active problems")
    no_shows: dict[int, tuple[int, int]] = {}
    since_day = timezone.localdate(now) - timedelta(days=365 * NO_SHOW_YEARS)
    for row in no_show_rates("patient", since=since_day, ids=patient_ids):
        if row["visits"] >= NO_SHOW_MIN_VISITS and row["rate"] is not None and row["rate"] >= NO_SHOW_RATE:
            no_shows[row["patient_id"]] = (row["no_shows"], row["visits"])
    scrubs = dict(ChartScrub.objects.filter(appointment__in=visits).values_list("appointment_id", "status"))
    return [
        SheetRow(
            appointment=v,
            flags=_flags(
                all_facts[v.pk],
                urgent=urgent.get(v.patient_id, []),
                risk=risk.get(v.patient_id, []),
                no_show=no_shows.get(v.patient_id),
            ),
            scrub_status=scrubs.get(v.pk, ""),
        )
        for v in visits
    ]


def _day_visits(provider: User, day: date) -> QuerySet[Appointment]:
    start, end = day_bounds(day)
    return (
        Appointment.objects.filter(provider=provider, start_at__gte=start, start_at__lt=end)
        .exclude(status__in=FREEING_STATUSES)
        .select_related("patient")
        .order_by("start_at", "id")
    )


def diff(snapshot_rows: list[dict[str, Any]], live_rows: list[dict[str, Any]]) -> list[Change]:
    """What changed since the snapshot: visits added or removed, flags added or cleared."""
    before = {r["appointment"]: r for r in snapshot_rows}
    after = {r["appointment"]: r for r in live_rows}
    changes: list[Change] = []
    for key, r in after.items():
        old = before.get(key)
        if old is None:
            changes.append(Change("added", r["time"], r["patient"], added=list(r["flags"])))
            continue
        added = [c for c in r["flags"] if c not in old["flags"]]
        cleared = [c for c in old["flags"] if c not in r["flags"]]
        if added or cleared:
            changes.append(Change("flags", r["time"], r["patient"], added=added, cleared=cleared))
    for key, r in before.items():
        if key not in after:
            changes.append(Change("removed", r["time"], r["patient"], cleared=list(r["flags"])))
    changes.sort(key=lambda c: (c.time, c.patient))
    return changes


def huddle_sheet(user: User, *, provider: User, day: date, now: datetime | None = None) -> Sheet:
    """The live sheet of one provider and day for this user, and what changed since the morning snapshot."""
    now = now or timezone.now()
    if not user.is_authenticated or not user.has_perm(VIEW_SHEET):
        return Sheet(provider=provider, day=day, rows=[])
    mine = set(panel_ids(user))
    all_visits = list(_day_visits(provider, day))
    visits = [v for v in all_visits if v.patient.care_team_id in mine]
    sheet = Sheet(provider=provider, day=day, rows=build_rows(visits, now=now), hidden=len(all_visits) - len(visits))
    sheet.snapshot = HuddleSnapshot.objects.filter(provider=provider, day=day).first()
    if sheet.snapshot is not None:
        # Only the user's patients, in the snapshot as on the live sheet.
        old = [r for r in sheet.snapshot.rows if r.get("care_team_id") in mine]
        sheet.changes = diff(old, sheet.as_json())
    return sheet


def snapshot_due(day: date) -> list[int]:
    """Providers with visits on the day and no snapshot of it yet."""
    start, end = day_bounds(day)
    with_visits = set(
        Appointment.objects.filter(start_at__gte=start, start_at__lt=end)
        .exclude(status__in=FREEING_STATUSES)
        .values_list("provider_id", flat=True)
    )
    done = set(HuddleSnapshot.objects.filter(day=day).values_list("provider_id", flat=True))
    return sorted(with_visits - done)


def store_snapshots(provider_ids: list[int], day: date, *, now: datetime) -> int:
    """Store the sheet of each provider as generated (all their visits: the system reads, people are scoped)."""
    stored = 0
    for provider in User.objects.filter(pk__in=provider_ids).order_by("pk"):
        rows = [r.as_json() for r in build_rows(list(_day_visits(provider, day)), now=now)]
        try:
            with transaction.atomic():
                HuddleSnapshot.objects.create(
                    provider=provider,
                    day=day,
                    generated_at=now,
                    rows=rows,
                    patient_ids=sorted({r["patient_id"] for r in rows}),
                )
            stored += 1
        except IntegrityError:
            continue  # another run stored it first: once per day
    return stored
