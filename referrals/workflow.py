"""Referral states and transitions: the only code that sets Referral.status.

Every move re-reads the row under a lock, checks the actor, refuses what the table does not
allow, records a ReferralContact (who, when, channel, note, from → to), re-sets the follow-up
clock for the new state, closes the work items the new state no longer calls for, opens the ones
it does, and tells the chart scrub after commit. Actors: a person (model permission + the
patient's care team), the referral's specialist account (its token; specialist-side moves only),
or None (the system: the sweep, a signed order).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from patients.signals import chart_changed_on_commit
from vma.access import can_access_patient
from vma.exceptions import ActionRefused, NotPermitted
from vma.models import WorkItem
from vma.workflow import close_work_item, open_work_item

from . import followups
from .models import Referral, ReferralContact
from .packet import build_packet

if TYPE_CHECKING:
    from patients.models import ChartDocument
    from vma.models import User

S = Referral.Status
C = ReferralContact.Channel
D = ReferralContact.Direction

TRANSITIONS: dict[str, frozenset[str]] = {
    S.DRAFT: frozenset({S.SENT, S.CANCELLED}),
    S.SENT: frozenset({S.ACKNOWLEDGED, S.SCHEDULED, S.SEEN, S.REPORT_RECEIVED, S.DECLINED, S.CANCELLED, S.EXPIRED}),
    S.ACKNOWLEDGED: frozenset({S.SCHEDULED, S.SEEN, S.REPORT_RECEIVED, S.DECLINED, S.CANCELLED, S.EXPIRED}),
    # scheduled → scheduled: a new appointment date (rescheduled).
    S.SCHEDULED: frozenset({S.SCHEDULED, S.SEEN, S.REPORT_RECEIVED, S.DECLINED, S.CANCELLED, S.EXPIRED}),
    # seen → cancelled: the practice stops waiting for a report that will not come (reason kept).
    S.SEEN: frozenset({S.REPORT_RECEIVED, S.CANCELLED}),
    # A further report (an addendum) is filed and goes to the provider's review like the first.
    S.REPORT_RECEIVED: frozenset({S.REPORT_RECEIVED, S.CLOSED}),
    S.CLOSED: frozenset({S.REPORT_RECEIVED}),
    S.DECLINED: frozenset(),
    S.CANCELLED: frozenset(),
    S.EXPIRED: frozenset(),
}

VIEW = "referrals.view_referral"
ADD = "referrals.add_referral"
WORK = "referrals.change_referral"
REVIEW = "referrals.review_referral"

PREPARE = "referrals.prepare"
REPORT_REVIEW = "referrals.report_review"
DECLINED_ITEM = "referrals.declined"
EXPIRED_ITEM = "referrals.expired"
# Every kind this app opens, for closing them all when a referral ends.
ALL_KINDS = (
    PREPARE,
    followups.NO_ACK,
    followups.NO_APPOINTMENT,
    followups.NO_REPORT,
    followups.AUTH_EXPIRING,
    REPORT_REVIEW,
    DECLINED_ITEM,
    EXPIRED_ITEM,
)
MAX_APPOINTMENT_AHEAD = timedelta(days=730)


def referral_url(item: WorkItem) -> str:
    public_id = Referral.objects.filter(pk=item.subject_id).values_list("public_id", flat=True).first()
    return reverse("referrals_detail", args=[public_id]) if public_id else reverse("referrals_list")


class PacketIncomplete(ActionRefused):
    """Sending refused: the packet's missing lines, in checklist order: (code, label, what to do)."""

    def __init__(self, missing: list[tuple[str, str, str]]) -> None:
        listed = "; ".join(f"{label}: {detail}" for _code, label, detail in missing)
        super().__init__(f"The packet is not complete — {listed}", status_code=409)
        self.missing = missing


# ---------------------------------------------------------------------------------------------
# Who may act
# ---------------------------------------------------------------------------------------------


def is_specialist_of(actor: User | None, referral: Referral) -> bool:
    """The actor is the (active) partner account of the specialist the referral is addressed to."""
    if actor is None or not actor.is_authenticated or not actor.is_service_account or referral.specialist_id is None:
        return False
    s = referral.specialist
    return bool(s is not None and s.active and s.service_account_id == actor.pk)


def _check(actor: User | None, referral: Referral, perm: str, *, specialist_may: bool = False) -> None:
    if actor is None:  # the system
        return
    if specialist_may and is_specialist_of(actor, referral):
        return
    if not can_access_patient(actor, referral.patient, perm):
        raise NotPermitted("You cannot do this for this referral.")


def _lock(referral: Referral) -> Referral:
    return (
        Referral.objects.select_for_update(of=("self",))
        .select_related("patient", "specialist", "referring_provider", "encounter", "coverage__payer")
        .get(pk=referral.pk)
    )


def _channel(actor: User | None, referral: Referral, given: str | None) -> str:
    """The specialist's token is always the API; a person says how the office told them."""
    if actor is not None and is_specialist_of(actor, referral):
        return C.API
    if given:
        if given not in C.values or given in (C.SYSTEM, C.API):
            raise ActionRefused("Choose how the contact happened (fax, secure message, phone, …).", status_code=400)
        return given
    return C.SYSTEM if actor is None else C.PORTAL


def _move(
    referral: Referral,
    *,
    to: str,
    actor: User | None,
    now: datetime,
    channel: str,
    direction: str,
    note: str,
    **changes: Any,
) -> Referral:
    """Refuse a move the table does not allow, save, record, re-clock. Callers are atomic and hold the lock."""
    if to not in TRANSITIONS[referral.status]:
        raise ActionRefused(
            f"This referral is {referral.get_status_display().lower()}; it cannot become {S(to).label.lower()}."
        )
    from_status = referral.status
    referral.status = to
    fields = {"status", "updated_at", "followup_due_at"}
    for name, value in changes.items():
        setattr(referral, name, value)
        fields.add(name)
    if to in Referral.ENDED:
        referral.ended_at = now
        fields.add("ended_at")
    referral.followup_due_at = followups.clock_for(referral)
    referral.save(update_fields=sorted(fields))
    ReferralContact.objects.create(
        referral=referral,
        at=now,
        by=actor,
        channel=channel,
        direction=direction,
        from_status=from_status,
        to_status=to,
        note=note[:500],
    )
    followups.close_stale_followups(referral, note=f"Referral {S(to).label.lower()}.", cancel=to in Referral.ENDED)
    chart_changed_on_commit(Referral, referral.patient_id)
    return referral


def _close_all(referral: Referral, *, note: str, cancel: bool, keep: tuple[str, ...] = ()) -> None:
    for kind in ALL_KINDS:
        if kind not in keep:
            close_work_item(kind=kind, subject=referral, note=note, cancel=cancel)


def _now(now: datetime | None) -> datetime:
    return now or timezone.now()


def _reason(reason: str, what: str) -> str:
    reason = (reason or "").strip()
    if not reason:
        raise ActionRefused(f"Say why the referral is {what} (a reason is required).", status_code=400)
    return reason[:300]


# ---------------------------------------------------------------------------------------------
# The practice's moves
# ---------------------------------------------------------------------------------------------


@transaction.atomic
def send_referral(referral: Referral, *, actor: User, now: datetime | None = None) -> Referral:
    """Send the packet: refused, with what is missing, until the checklist is complete."""
    now = _now(now)
    referral = _lock(referral)
    _check(actor, referral, WORK)
    if S.SENT not in TRANSITIONS[referral.status]:
        raise ActionRefused(f"This referral is {referral.get_status_display().lower()}; it was sent already.")
    packet = build_packet(referral, day=timezone.localdate(now))
    if not packet.complete:
        raise PacketIncomplete([(line.code, line.label, line.detail) for line in packet.missing])
    s = referral.specialist
    assert s is not None
    channel = {s.Contact.FAX: C.FAX, s.Contact.SECURE_MESSAGE: C.SECURE_MESSAGE}.get(s.contact_method, C.API)  # type: ignore[call-overload]
    how = (
        f"Packet sent by {s.contact_detail} to {s.name}, {s.organisation}."
        if channel != C.API
        else f"Packet made available to {s.organisation} through the specialist API."
    )
    referral = _move(
        referral,
        to=S.SENT,
        actor=actor,
        now=now,
        channel=channel,
        direction=D.OUTBOUND,
        note=how + (" Warning noted: " + " ".join(packet.warnings) if packet.warnings else ""),
        sent_at=now,
        coverage=packet.coverage,
    )
    close_work_item(kind=PREPARE, subject=referral, note="Packet sent.", actor=actor)
    return referral


@transaction.atomic
def cancel_referral(referral: Referral, *, actor: User, reason: str, now: datetime | None = None) -> Referral:
    """The practice stops the referral (the patient declined, no longer needed…), with a reason."""
    now = _now(now)
    reason = _reason(reason, "cancelled")
    referral = _lock(referral)
    _check(actor, referral, WORK)
    was_sent = referral.sent_at is not None
    referral = _move(
        referral,
        to=S.CANCELLED,
        actor=actor,
        now=now,
        channel=C.PORTAL,
        direction=D.OUTBOUND if was_sent else D.INTERNAL,
        note=f"Cancelled: {reason}" + (" (tell the specialist's office)" if was_sent else ""),
        status_reason=reason,
    )
    _close_all(referral, note=f"Referral cancelled: {reason}", cancel=True)
    return referral


@transaction.atomic
def review_report(referral: Referral, *, actor: User, note: str = "", now: datetime | None = None) -> Referral:
    """The provider read the consult report: the loop closes (only this closes it)."""
    now = _now(now)
    referral = _lock(referral)
    _check(actor, referral, REVIEW)
    if referral.status != S.REPORT_RECEIVED:
        raise ActionRefused(
            f"This referral is {referral.get_status_display().lower()}; only a received report can be reviewed."
        )
    note = (note or "").strip()[:250]
    referral = _move(
        referral,
        to=S.CLOSED,
        actor=actor,
        now=now,
        channel=C.PORTAL,
        direction=D.INTERNAL,
        note="Report reviewed" + (f": {note}" if note else "."),
        status_reason=f"Report reviewed by {actor}" + (f": {note}" if note else "."),
        reviewed_at=now,
        reviewed_by=actor,
    )
    _close_all(referral, note="Report reviewed: loop closed.", cancel=False)
    return referral


# ---------------------------------------------------------------------------------------------
# The specialist's moves (their token, or staff recording what the office said)
# ---------------------------------------------------------------------------------------------


@transaction.atomic
def acknowledge_referral(
    referral: Referral, *, actor: User | None, note: str = "", channel: str | None = None, now: datetime | None = None
) -> Referral:
    now = _now(now)
    referral = _lock(referral)
    _check(actor, referral, WORK, specialist_may=True)
    if referral.status == S.ACKNOWLEDGED:
        return referral  # a retry: already acknowledged
    return _move(
        referral,
        to=S.ACKNOWLEDGED,
        actor=actor,
        now=now,
        channel=_channel(actor, referral, channel),
        direction=D.INBOUND,
        note=(note or "").strip() or "Referral acknowledged.",
        acknowledged_at=now,
    )


@transaction.atomic
def schedule_referral(
    referral: Referral,
    *,
    actor: User | None,
    appointment_at: datetime,
    note: str = "",
    channel: str | None = None,
    now: datetime | None = None,
) -> Referral:
    """The appointment date (or a new one: rescheduled)."""
    now = _now(now)
    referral = _lock(referral)
    _check(actor, referral, WORK, specialist_may=True)
    if timezone.is_naive(appointment_at):
        appointment_at = timezone.make_aware(appointment_at)
    if referral.status == S.SCHEDULED and referral.appointment_at == appointment_at:
        return referral  # a retry of the same answer
    if referral.sent_at is not None and appointment_at < referral.sent_at - timedelta(days=1):
        raise ActionRefused("The appointment cannot be before the referral was sent.", status_code=400)
    if appointment_at > now + MAX_APPOINTMENT_AHEAD:
        raise ActionRefused("The appointment is more than two years ahead: check the date.", status_code=400)
    when = timezone.localtime(appointment_at)
    verb = "Rescheduled" if referral.status == S.SCHEDULED else "Appointment"
    return _move(
        referral,
        to=S.SCHEDULED,
        actor=actor,
        now=now,
        channel=_channel(actor, referral, channel),
        direction=D.INBOUND,
        note=f"{verb}: {when:%a %m/%d/%Y %H:%M}." + (f" {note.strip()}" if note and note.strip() else ""),
        appointment_at=appointment_at,
        acknowledged_at=referral.acknowledged_at or now,
        first_scheduled_at=referral.first_scheduled_at or now,
    )


@transaction.atomic
def mark_seen(
    referral: Referral,
    *,
    actor: User | None,
    seen_at: datetime | None = None,
    note: str = "",
    channel: str | None = None,
    now: datetime | None = None,
) -> Referral:
    """The patient was seen (one authorized visit used); the report clock starts at the visit."""
    now = _now(now)
    referral = _lock(referral)
    _check(actor, referral, WORK, specialist_may=True)
    if seen_at is None:
        appt = referral.appointment_at
        seen_at = appt if appt is not None and appt <= now else now
    if seen_at > now:
        raise ActionRefused("A visit cannot be recorded as seen before it happens.", status_code=400)
    return _move(
        referral,
        to=S.SEEN,
        actor=actor,
        now=now,
        channel=_channel(actor, referral, channel),
        direction=D.INBOUND,
        note=(note or "").strip() or f"Patient seen {timezone.localtime(seen_at):%m/%d/%Y}.",
        seen_at=seen_at,
        visits_used=referral.visits_used + 1,
    )


@transaction.atomic
def decline_referral(
    referral: Referral, *, actor: User | None, reason: str, channel: str | None = None, now: datetime | None = None
) -> Referral:
    """The specialist will not take it: the referral ends, and an item asks for another specialist."""
    now = _now(now)
    reason = _reason(reason, "declined")
    referral = _lock(referral)
    _check(actor, referral, WORK, specialist_may=True)
    referral = _move(
        referral,
        to=S.DECLINED,
        actor=actor,
        now=now,
        channel=_channel(actor, referral, channel),
        direction=D.INBOUND,
        note=f"Declined: {reason}",
        status_reason=reason,
    )
    _close_all(referral, note=f"Declined by the specialist: {reason}", cancel=True, keep=(DECLINED_ITEM,))
    open_work_item(
        kind=DECLINED_ITEM,
        subject=referral,
        patient=referral.patient,
        title=f"Referral declined: {referral.specialty} for {referral.patient.last_name}",
        detail=(
            f"{referral.specialist} declined: {reason}. Refer again to another {referral.specialty} specialist "
            f"(the referral page copies the packet) or tell {referral.referring_provider} why it cannot go ahead."
            f"\n\nContact history:\n{followups.history_text(referral)}"
        ),
        priority=WorkItem.Priority.HIGH if referral.is_urgent else None,
    )
    return referral


@transaction.atomic
def receive_report(
    referral: Referral,
    *,
    actor: User | None,
    document: ChartDocument,
    channel: str | None = None,
    now: datetime | None = None,
) -> Referral:
    """A consult report was filed to the chart: the provider reviews it (services.attach_report files it)."""
    now = _now(now)
    referral = _lock(referral)
    _check(actor, referral, WORK, specialist_may=True)
    if document.patient_id != referral.patient_id:
        raise ActionRefused("That document is in another patient's chart.", status_code=400)
    further = referral.status in (S.REPORT_RECEIVED, S.CLOSED)
    changes: dict[str, Any] = {
        "report_document": document,
        "report_received_at": referral.report_received_at or now,
    }
    if referral.seen_at is None:  # a report is proof of a visit nobody recorded
        appt = referral.appointment_at
        changes["seen_at"] = appt if appt is not None and appt <= now else now
        changes["visits_used"] = referral.visits_used + 1
    if referral.status == S.CLOSED:
        changes.update(status_reason="", ended_at=None)
    referral = _move(
        referral,
        to=S.REPORT_RECEIVED,
        actor=actor,
        now=now,
        channel=_channel(actor, referral, channel),
        direction=D.INBOUND,
        note=("Further report filed: " if further else "Consult report filed: ") + document.title[:200],
        **changes,
    )
    provider = referral.referring_provider
    open_work_item(
        kind=REPORT_REVIEW,
        subject=referral,
        patient=referral.patient,
        title=f"Review consult report: {referral.specialty} for {referral.patient.last_name}",
        detail=(
            f"{referral.specialist or referral.specialty} sent the consult report ({document.title}). "
            f"Referred by {provider} for: {referral.reason}. Read it and mark it reviewed on the referral page "
            "(that closes the loop)."
        ),
        priority=WorkItem.Priority.HIGH if referral.is_urgent else None,
    )
    return referral


# ---------------------------------------------------------------------------------------------
# The system's moves
# ---------------------------------------------------------------------------------------------


@transaction.atomic
def expire_referral(referral: Referral, *, now: datetime | None = None) -> Referral | None:
    """The plan's authorization ran out before the patient was seen. Re-checked under the caller's
    lock; None when it no longer applies (a visit was recorded, the date was extended)."""
    now = _now(now)
    referral = _lock(referral)
    expires = referral.authorization_expires_on
    today = timezone.localdate(now)
    if (
        referral.status not in (S.SENT, S.ACKNOWLEDGED, S.SCHEDULED)
        or expires is None
        or expires >= today
        or referral.visits_used
        or referral.seen_at is not None
        or (referral.appointment_at is not None and timezone.localdate(referral.appointment_at) <= expires)
    ):
        return None
    number = f" {referral.authorization_number}" if referral.authorization_number else ""
    reason = f"Authorization{number} expired on {expires:%m/%d/%Y} before the patient was seen."
    referral = _move(
        referral,
        to=S.EXPIRED,
        actor=None,
        now=now,
        channel=C.SYSTEM,
        direction=D.INTERNAL,
        note=reason,
        status_reason=reason,
    )
    _close_all(referral, note="The authorization expired.", cancel=True, keep=(EXPIRED_ITEM,))
    open_work_item(
        kind=EXPIRED_ITEM,
        subject=referral,
        patient=referral.patient,
        title=f"Referral expired unused: {referral.specialty} for {referral.patient.last_name}",
        detail=(
            f"{reason} Ask the plan for a new authorization and refer again (the referral page copies the "
            f"packet), or tell {referral.referring_provider} the patient did not go."
            f"\n\nContact history:\n{followups.history_text(referral)}"
        ),
    )
    return referral
