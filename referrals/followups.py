"""The follow-up cadence: rules as data, business-day clocks, and the sweep that opens the items.

A referral carries `followup_due_at`, the time its next follow-up item opens if nothing moves.
Each transition sets it from the rule of the new state (workflow.py); the sweep opens the item
for the state the referral is in, then sets the clock one more wait ahead, so a referral nobody
answers keeps producing an item every wait until it moves: nothing goes quiet.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from vma.models import WorkItem
from vma.workflow import close_work_item, open_work_item

from .models import FollowUpRule, Referral

S = Referral.Status
R = FollowUpRule.Code

NO_ACK = "referrals.no_ack"
NO_APPOINTMENT = "referrals.no_appointment"
NO_REPORT = "referrals.no_report"
AUTH_EXPIRING = "referrals.auth_expiring"
FOLLOWUP_KINDS: dict[str, str] = {R.NO_ACK: NO_ACK, R.NO_APPOINTMENT: NO_APPOINTMENT, R.NO_REPORT: NO_REPORT}
AUTH_WARNING_DAYS = 14

# The practice's defaults (DOMAIN: 3 business days to acknowledge, 10 to give an appointment, a
# report 7 days after the visit); a FollowUpRule row of the same code overrides.
DEFAULT_RULES: dict[str, tuple[int, int | None, bool]] = {
    R.NO_ACK: (3, 1, True),
    R.NO_APPOINTMENT: (10, 3, True),
    R.NO_REPORT: (7, 3, False),
}
# Which rule watches a referral in each state (states not listed have no follow-up clock).
RULE_FOR_STATE: dict[str, str] = {
    S.SENT: R.NO_ACK,
    S.ACKNOWLEDGED: R.NO_APPOINTMENT,
    S.SCHEDULED: R.NO_REPORT,
    S.SEEN: R.NO_REPORT,
}


def add_business_days(start: datetime, days: int) -> datetime:
    """The same local time `days` working days (Monday–Friday) later. Holidays are not modelled."""
    local = timezone.localtime(start)
    day = local.date()
    left = days
    while left > 0:
        day += timedelta(days=1)
        if day.weekday() < 5:
            left -= 1
    return timezone.make_aware(datetime.combine(day, local.time().replace(tzinfo=None)))


@dataclass(frozen=True)
class Rule:
    code: str
    days: int
    urgent_days: int | None
    business_days: bool
    active: bool = True

    def wait(self, *, urgent: bool) -> int:
        return self.urgent_days if urgent and self.urgent_days is not None else self.days

    def due(self, start: datetime, *, urgent: bool) -> datetime:
        n = self.wait(urgent=urgent)
        return add_business_days(start, n) if self.business_days else start + timedelta(days=n)

    def describe(self, *, urgent: bool) -> str:
        n = self.wait(urgent=urgent)
        return f"{n} {'business ' if self.business_days else ''}day{'s' if n != 1 else ''}"


def rules() -> dict[str, Rule]:
    """The cadence in force: the defaults, overridden by the practice's rows (one query)."""
    out = {code: Rule(code, days, urgent, business) for code, (days, urgent, business) in DEFAULT_RULES.items()}
    for row in FollowUpRule.objects.all():
        out[row.code] = Rule(row.code, row.days, row.urgent_days, row.business_days, row.active)
    return out


def visit_time(referral: Referral) -> datetime | None:
    """When the specialist saw (or was to see) the patient: the report clock starts there."""
    return referral.seen_at or referral.appointment_at


def clock_for(referral: Referral, *, cadence: dict[str, Rule] | None = None) -> datetime | None:
    """When the first follow-up of the referral's current state is due (None: no clock)."""
    code = RULE_FOR_STATE.get(referral.status)
    if code is None:
        return None
    rule = (cadence or rules())[code]
    if not rule.active:
        return None
    urgent = referral.is_urgent
    if code in (R.NO_ACK, R.NO_APPOINTMENT):
        assert referral.sent_at is not None
        return rule.due(referral.sent_at, urgent=urgent)
    start = visit_time(referral)
    return rule.due(start, urgent=urgent) if start is not None else None


def history_text(referral: Referral, *, limit: int = 8) -> str:
    """The latest contacts, newest last, for a work item's detail (the page shows them all)."""
    rows = list(referral.contacts.select_related("by").order_by("-at", "-id")[:limit])
    if not rows:
        return "No contact recorded yet."
    lines = []
    for c in reversed(rows):
        when = timezone.localtime(c.at)
        move = f" [{c.from_status or '—'} → {c.to_status}]" if c.to_status else ""
        lines.append(
            f"{when:%m/%d %H:%M} {c.get_channel_display()} ({c.get_direction_display().lower()}){move}: "
            f"{c.note or '—'} — {c.by_label}"
        )
    return "\n".join(lines)


def _who(referral: Referral) -> str:
    s = referral.specialist
    if s is None:
        return referral.specialty
    reach = f"{s.contact_detail}" + (f", phone {s.phone}" if s.phone else "")
    return f"{s.name}, {s.organisation} ({reach})"


def _followup_text(referral: Referral, code: str, rule: Rule) -> tuple[str, str]:
    wait = rule.describe(urgent=referral.is_urgent)
    p = referral.patient
    sent = timezone.localtime(referral.sent_at) if referral.sent_at else None
    if code == R.NO_ACK:
        title = f"Referral not acknowledged: {referral.specialty} for {p.last_name}"
        what = (
            f"Sent {sent:%m/%d} to {_who(referral)}; no acknowledgement after {wait}. Call or message the "
            "specialist's office, confirm they have the packet, and log the contact on the referral page."
        )
    elif code == R.NO_APPOINTMENT:
        title = f"Referral without an appointment: {referral.specialty} for {p.last_name}"
        what = (
            f"Sent {sent:%m/%d} to {_who(referral)}; no appointment after {wait}. Ask the office (or the "
            "patient) for the date and record it on the referral page."
        )
    else:
        visit = visit_time(referral)
        title = f"Consult report missing: {referral.specialty} for {p.last_name}"
        what = (
            f"Seen (or due to be seen) {timezone.localtime(visit):%m/%d} by {_who(referral)}; no report after "
            f"{wait}. Ask for the consult note and file it to the referral (that closes this item)."
            if visit
            else f"No report from {_who(referral)} after {wait}."
        )
    return title, f"{what}\n\nContact history:\n{history_text(referral)}"


def open_followup(referral: Referral, code: str, rule: Rule) -> tuple[WorkItem, bool]:
    title, detail = _followup_text(referral, code, rule)
    return open_work_item(
        kind=FOLLOWUP_KINDS[code],
        subject=referral,
        patient=referral.patient,
        title=title,
        detail=detail,
        priority=WorkItem.Priority.HIGH if referral.is_urgent else None,
    )


def close_stale_followups(referral: Referral, *, note: str, cancel: bool = False) -> None:
    """Close the follow-up items the referral's new state no longer calls for."""
    current = RULE_FOR_STATE.get(referral.status)
    for code, kind in FOLLOWUP_KINDS.items():
        if code != current:
            close_work_item(kind=kind, subject=referral, note=note, cancel=cancel)


@dataclass
class SweepResult:
    followups: int = 0
    auth_warnings: int = 0
    expired: int = 0


def sweep(*, now: datetime | None = None, batch: int = 500) -> SweepResult:
    """Open due follow-up items, warn of authorizations expiring within 14 days, expire unused ones.

    Safe to run twice or concurrently: rows are claimed under FOR UPDATE SKIP LOCKED with their
    clock re-checked, items are idempotent per (kind, referral), and the warning is claimed by
    recording the expiry date it was given for.
    """
    now = now or timezone.now()
    result = SweepResult()
    cadence = rules()
    result.expired = _expire_unused(now=now, batch=batch)
    ids = list(
        Referral.objects.filter(followup_due_at__lte=now, status__in=list(RULE_FOR_STATE))
        .order_by("followup_due_at")
        .values_list("pk", flat=True)[:batch]
    )
    for pk in ids:
        with transaction.atomic():
            referral = (
                Referral.objects.select_for_update(of=("self",), skip_locked=True)
                .select_related("patient", "specialist")
                .filter(pk=pk, followup_due_at__lte=now, status__in=list(RULE_FOR_STATE))
                .first()
            )
            if referral is None:
                continue  # moved meanwhile, or another sweeper has it
            code = RULE_FOR_STATE[referral.status]
            rule = cadence[code]
            if rule.active:
                _, created = open_followup(referral, code, rule)
                result.followups += int(created)
                referral.followup_due_at = rule.due(now, urgent=referral.is_urgent)
            else:
                referral.followup_due_at = None
            referral.save(update_fields=["followup_due_at", "updated_at"])
    result.auth_warnings = _warn_expiring(now=now, batch=batch)
    return result


def _auth_open_q() -> Q:
    """Referrals whose authorization still matters: open, and visits left (or not counted)."""
    return Q(status__in=list(Referral.OPEN_STATES)) & (
        Q(visits_allowed__isnull=True) | Q(visits_used__lt=F("visits_allowed"))
    )


def _warn_expiring(*, now: datetime, batch: int) -> int:
    """One item per referral and expiry date when the authorization ends within 14 days."""
    today = timezone.localdate(now)
    horizon = today + timedelta(days=AUTH_WARNING_DAYS)
    ids = list(
        Referral.objects.filter(_auth_open_q())
        .filter(authorization_expires_on__isnull=False, authorization_expires_on__lte=horizon)
        .filter(authorization_expires_on__gte=today)
        .filter(Q(auth_expiry_flagged_for__isnull=True) | ~Q(auth_expiry_flagged_for=F("authorization_expires_on")))
        .values_list("pk", flat=True)[:batch]
    )
    opened = 0
    for pk in ids:
        with transaction.atomic():
            claimed = (
                Referral.objects.filter(pk=pk, authorization_expires_on__isnull=False)
                .filter(
                    Q(auth_expiry_flagged_for__isnull=True) | ~Q(auth_expiry_flagged_for=F("authorization_expires_on"))
                )
                .update(auth_expiry_flagged_for=F("authorization_expires_on"))
            )
            if not claimed:
                continue
            referral = Referral.objects.select_related("patient", "specialist").get(pk=pk)
            opened += int(open_auth_warning(referral, today=today)[1])
    return opened


def open_auth_warning(referral: Referral, *, today: date) -> tuple[WorkItem, bool]:
    expires = referral.authorization_expires_on
    assert expires is not None
    left = referral.visits_left
    visits = f"{left} of {referral.visits_allowed} visit(s) left" if left is not None else "visits not counted"
    return open_work_item(
        kind=AUTH_EXPIRING,
        subject=referral,
        patient=referral.patient,
        title=f"Referral authorization expires {expires:%m/%d}: {referral.specialty} for {referral.patient.last_name}",
        detail=(
            f"Authorization {referral.authorization_number or '(no number)'} for {referral.specialty} expires "
            f"{expires:%m/%d/%Y} ({(expires - today).days} day(s)); {visits}; the referral is "
            f"{referral.get_status_display().lower()}. Ask the plan for an extension (record the new date on the "
            f"referral) or make sure the visit happens before then.\n\nContact history:\n{history_text(referral)}"
        ),
        priority=WorkItem.Priority.HIGH if (expires - today).days <= 3 else None,
    )


def _expire_unused(*, now: datetime, batch: int) -> int:
    """An authorization that ran out before the patient was seen ends the referral (by rule)."""
    from . import workflow

    today = timezone.localdate(now)
    ids = list(
        Referral.objects.filter(
            status__in=[S.SENT, S.ACKNOWLEDGED, S.SCHEDULED],
            authorization_expires_on__lt=today,
            visits_used=0,
            seen_at__isnull=True,
        )
        # A visit booked on or before the last valid day may have happened: the report rule watches it.
        .filter(Q(appointment_at__isnull=True) | Q(appointment_at__date__gt=F("authorization_expires_on")))
        .values_list("pk", flat=True)[:batch]
    )
    done = 0
    for pk in ids:
        with transaction.atomic():
            referral = Referral.objects.select_for_update(of=("self",), skip_locked=True).filter(pk=pk).first()
            if referral is None:
                continue
            if workflow.expire_referral(referral, now=now) is not None:
                done += 1
    return done
