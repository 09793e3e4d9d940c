"""Chart-scrub writes: build the next working day's scrubs, and (re-)evaluate checklists from the chart."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass
from datetime import date, datetime

from django.db import transaction
from django.utils import timezone

from intake.models import IntakePacket
from scheduling.models import FREEING_STATUSES, Appointment

from . import facts as F
from . import workflow
from .days import day_bounds, next_working_day
from .models import ChartScrub, ScrubItem

I = ScrubItem.State  # noqa: E741
P = IntakePacket.Status
NOT_AVAILABLE = "Not available yet: the chart does not track this in the portal."


@dataclass(frozen=True)
class Check:
    """One line as the chart says it now."""

    code: str
    label: str
    detail: str
    state: str
    position: int


def _fmt(d: date) -> str:
    return f"{d:%m/%d}"


def checklist(f: F.VisitFacts) -> list[Check]:
    """The scrub's lines for one visit, from its facts (no query)."""
    out: list[Check] = []
    # 1. Eligibility verified: an active answer within the look-ahead for every checked coverage.
    e = f.eligibility
    out.append(
        Check(
            "eligibility", "Eligibility verified", e.detail, I.AUTO_OK if e.state == F.VERIFIED else I.NEEDS_ACTION, 10
        )
    )
    # 2. Prior authorization in place.
    pa = {
        None: (I.AUTO_OK, "No prior authorization required for this visit."),
        "approved": (I.AUTO_OK, "Approved."),
        "missing": (I.NEEDS_ACTION, "Required by the payer and not requested yet."),
        "pending": (I.NEEDS_ACTION, "Requested; the payer has not decided yet."),
        "denied": (I.NEEDS_ACTION, "Denied: appeal, reschedule, or agree self-pay with the patient."),
    }[f.auth_flag]
    out.append(Check("prior_auth", "Prior authorization in place", pa[1], pa[0], 20))
    # 3. Intake complete.
    if f.intake_status in (P.SUBMITTED, P.REVIEWED):
        when = timezone.localtime(f.intake_submitted_at) if f.intake_submitted_at else None
        detail = f"Submitted {when:%m/%d %H:%M}." if when else "Submitted."
        out.append(Check("intake", "Intake complete", detail, I.AUTO_OK, 30))
    elif f.intake_status is None:
        out.append(Check("intake", "Intake complete", "No intake forms sent for this visit yet.", I.NEEDS_ACTION, 30))
    else:
        label = IntakePacket.Status(f.intake_status).label.lower()
        out.append(Check("intake", "Intake complete", f"Not finished ({label}).", I.NEEDS_ACTION, 30))
    # 4. Outstanding results and reports retrieved.
    if f.outstanding is None:
        out.append(Check("results", "Outstanding results and reports retrieved", NOT_AVAILABLE, I.NOT_APPLICABLE, 40))
    elif not f.outstanding:
        out.append(Check("results", "Outstanding results and reports retrieved", "Nothing outstanding.", I.AUTO_OK, 40))
    else:
        parts = [
            f"{o.title} (ordered {_fmt(o.ordered_at)}, expected by {_fmt(o.expected_by)}{', overdue' if o.overdue else ''})"
            for o in f.outstanding
        ]
        detail = f"{len(parts)} outstanding: " + "; ".join(parts)
        out.append(Check("results", "Outstanding results and reports retrieved", detail[:500], I.NEEDS_ACTION, 40))
    # 5. Open referrals awaiting a report: needs action once the specialist visit has happened
    #    (the report should be in); referrals still before their visit are listed, green.
    due = [r for r in f.referrals if r.due_back]
    if not f.referrals:
        detail, state = "No referral awaiting a report.", I.AUTO_OK
    else:
        head = f"{len(f.referrals)} awaiting a report" + (f", {len(due)} seen without one" if due else "")
        detail = f"{head}: " + "; ".join(r.text for r in sorted(f.referrals, key=lambda r: not r.due_back))
        state = I.NEEDS_ACTION if due else I.AUTO_OK
    out.append(Check("referrals", "Open referrals awaiting a report", detail[:500], state, 50))
    # 6. Care gaps due: one line per gap, with the reason.
    if f.gaps is None:
        out.append(Check("care_gaps", "Care gaps due", NOT_AVAILABLE, I.NOT_APPLICABLE, 60))
    elif not f.gaps:
        out.append(Check("care_gaps", "Care gaps due", "No care gap due.", I.AUTO_OK, 60))
    for gap in f.gaps or []:
        out.append(
            Check(f"gap:{gap.rule_code}"[:80], f"Care gap: {gap.title}"[:200], gap.reason[:500], I.NEEDS_ACTION, 61)
        )
    # 7. Standing orders suggested by protocol: one line each.
    if f.standing is None:
        out.append(Check("standing_orders", "Standing orders suggested", NOT_AVAILABLE, I.NOT_APPLICABLE, 70))
    elif not f.standing:
        out.append(Check("standing_orders", "Standing orders suggested", "None suggested.", I.AUTO_OK, 70))
    for s in f.standing or []:
        out.append(
            Check(
                f"order:{s.protocol_code}"[:80], f"Standing order: {s.title}"[:200], s.reason[:500], I.NEEDS_ACTION, 71
            )
        )
    return out


@dataclass
class EvaluateResult:
    evaluated: int = 0
    created_items: int = 0
    reopened: int = 0
    cancelled: int = 0

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


def _apply(
    scrub: ChartScrub, checks: list[Check], items: list[ScrubItem], now: datetime
) -> tuple[list[ScrubItem], list[ScrubItem], list[int], list[str]]:
    """Merge the chart's lines into the stored ones. Returns (new, changed, ids to delete, newly failing labels).

    Automatic lines follow the chart; a person's done / not-applicable mark is kept unless the line
    newly fails (it was fine and now needs action): new information outranks an old mark.
    """
    existing = {i.code: i for i in items}
    new: list[ScrubItem] = []
    changed: list[ScrubItem] = []
    failing: list[str] = []
    for c in checks:
        item = existing.pop(c.code, None)
        if item is None:
            new.append(
                ScrubItem(
                    scrub=scrub,
                    code=c.code,
                    label=c.label,
                    detail=c.detail,
                    position=c.position,
                    auto_state=c.state,
                    state=c.state,
                )
            )
            if c.state == I.NEEDS_ACTION:
                failing.append(c.label)
            continue
        newly_failing = c.state == I.NEEDS_ACTION and item.auto_state != I.NEEDS_ACTION
        before = (item.label, item.detail, item.position, item.auto_state, item.state, item.resolved, item.marked_at)
        if newly_failing:
            failing.append(c.label)
            item.marked_at, item.marked_by, item.note = None, None, ""
        item.label, item.detail, item.position, item.auto_state, item.resolved = (
            c.label,
            c.detail,
            c.position,
            c.state,
            False,
        )
        if not item.is_manual:
            item.state = c.state
        if before != (
            item.label,
            item.detail,
            item.position,
            item.auto_state,
            item.state,
            item.resolved,
            item.marked_at,
        ):
            changed.append(item)
    gone: list[int] = []
    for item in existing.values():
        # Its source went away (a gap closed by evidence, a suggestion met): kept, green, for the record,
        # unless it was only ever an automatic "all fine" line.
        if item.is_manual or item.auto_state == I.NEEDS_ACTION or item.resolved:
            if not item.resolved or item.auto_state != I.AUTO_OK:
                item.resolved, item.auto_state = True, I.AUTO_OK
                item.detail = f"No longer due (as of {timezone.localtime(now):%m/%d %H:%M})."
                if not item.is_manual:
                    item.state = I.AUTO_OK
                changed.append(item)
        else:
            gone.append(item.pk)
    return new, changed, gone, failing


def evaluate(scrub_ids: Iterable[int], *, now: datetime | None = None) -> EvaluateResult:
    """Re-read the chart for these scrubs and update their lines. Idempotent; safe to run concurrently
    (the scrub rows are locked in id order). A constant number of queries for any number of scrubs,
    plus a few per scrub that changes state (re-opened, cancelled)."""
    now = now or timezone.now()
    result = EvaluateResult()
    ids = sorted(set(scrub_ids))
    if not ids:
        return result
    with transaction.atomic():
        scrubs = list(
            ChartScrub.objects.filter(pk__in=ids)
            .select_related("appointment", "patient")
            .select_for_update(of=("self",))
            .order_by("id")
        )
        items: dict[int, list[ScrubItem]] = {s.pk: [] for s in scrubs}
        for item in ScrubItem.objects.filter(scrub_id__in=ids):
            items[item.scrub_id].append(item)
        live = [s for s in scrubs if s.appointment.status not in FREEING_STATUSES]
        all_facts = F.visit_facts([s.appointment for s in live], as_of=timezone.localdate(now))
        new_items: list[ScrubItem] = []
        changed_items: list[ScrubItem] = []
        gone: list[int] = []
        for scrub in scrubs:
            visit = scrub.appointment
            if visit.status in FREEING_STATUSES:
                if scrub.status != ChartScrub.Status.CANCELLED:
                    workflow.cancel(scrub, reason=f"The visit was {visit.get_status_display().lower()}.")
                    result.cancelled += 1
                continue
            if scrub.status == ChartScrub.Status.CANCELLED:
                scrub = workflow.restore(scrub)
            new, changed, drop, failing = _apply(scrub, checklist(all_facts[visit.pk]), items[scrub.pk], now)
            new_items += new
            changed_items += changed
            gone += drop
            states = [i.state for i in [*new, *(i for i in items[scrub.pk] if i.pk not in drop)]]
            scrub.needs_action = states.count(I.NEEDS_ACTION)
            scrub.evaluated_at = now
            scrub.day = timezone.localdate(visit.start_at)
            if scrub.status == ChartScrub.Status.SCRUBBED and scrub.needs_action:
                workflow.reopen(scrub, reason="New information: " + "; ".join(failing or ["an item needs action"]))
                result.reopened += 1
            result.evaluated += 1
        if new_items:
            ScrubItem.objects.bulk_create(new_items)
            result.created_items = len(new_items)
        if changed_items:
            ScrubItem.objects.bulk_update(
                changed_items,
                ["label", "detail", "position", "auto_state", "state", "resolved", "note", "marked_by", "marked_at"],
                batch_size=500,
            )
        if gone:
            ScrubItem.objects.filter(pk__in=gone).delete()
        ChartScrub.objects.bulk_update(
            [s for s in scrubs if s.appointment.status not in FREEING_STATUSES],
            ["needs_action", "evaluated_at", "day"],
            batch_size=500,
        )
    return result


@dataclass
class BuildResult:
    day: str = ""
    created: int = 0
    evaluated: int = 0
    reopened: int = 0
    cancelled: int = 0

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def build_scrubs(*, day: date | None = None, now: datetime | None = None) -> BuildResult:
    """One scrub per visit of the next working day (Friday builds Monday's), each with its work item,
    and every scrub of that day re-evaluated. Run twice: still one scrub per visit (unique appointment)."""
    now = now or timezone.now()
    day = day or next_working_day(timezone.localdate(now))
    start, end = day_bounds(day)
    visits = list(
        Appointment.objects.filter(start_at__gte=start, start_at__lt=end)
        .exclude(status__in=FREEING_STATUSES)
        .filter(chart_scrub__isnull=True)
        .order_by("start_at", "id")
    )
    ChartScrub.objects.bulk_create(
        [ChartScrub(appointment=v, patient_id=v.patient_id, provider_id=v.provider_id, day=day) for v in visits],
        ignore_conflicts=True,  # a concurrent build made it first: its row stands
    )
    # Visits that had no scrub when this run started; opening their work item is idempotent.
    new_ids = set(ChartScrub.objects.filter(appointment__in=visits).values_list("pk", flat=True)) if visits else set()
    for scrub in ChartScrub.objects.filter(pk__in=new_ids, status=ChartScrub.Status.OPEN).select_related(
        "appointment", "patient"
    ):
        workflow.open_scrub_item(scrub)
    scrub_ids = list(
        ChartScrub.objects.filter(day=day).exclude(status=ChartScrub.Status.CANCELLED).values_list("pk", flat=True)
    ) + list(
        # A visit moved onto or off this day, or cancelled: its scrub follows the appointment.
        ChartScrub.objects.filter(appointment__start_at__gte=start, appointment__start_at__lt=end)
        .exclude(day=day)
        .values_list("pk", flat=True)
    )
    ev = evaluate(scrub_ids, now=now)
    return BuildResult(
        day=day.isoformat(), created=len(new_ids), evaluated=ev.evaluated, reopened=ev.reopened, cancelled=ev.cancelled
    )


def rescrub_patient(patient_id: int, *, now: datetime | None = None) -> EvaluateResult:
    """New information on a patient's chart: re-evaluate their scrubs of visits still to come."""
    now = now or timezone.now()
    ids = list(
        ChartScrub.objects.filter(patient_id=patient_id, day__gte=timezone.localdate(now)).values_list("pk", flat=True)
    )
    return evaluate(ids, now=now)
