"""Eligibility-check states and transitions: the only code that sets EligibilityCheck.status.

A page or the sweeper only *requests* a check (a queued row); a Celery task sends it. The payer
call runs outside any database transaction: the claim commits first (queued -> sent, with a
lease), the 271 is recorded in a second transaction under a row lock, and an answer that comes
back after another worker took the check over is ignored.
"""

from __future__ import annotations

import logging
from datetime import date, datetime, timedelta
from decimal import Decimal
from functools import partial
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import IntegrityError, models, transaction
from django.db.models import F, Q
from django.utils import timezone

from patients.models import Coverage
from vma import audit
from vma.access import can_access_patient
from vma.exceptions import ActionRefused, NotPermitted
from vma.models import AuditEvent
from vma.workflow import close_work_item, open_work_item
from vma.workqueue import get_kind

from .clearinghouse import PayerError, PayerUnavailable, get_clearinghouse
from .models import EligibilityCheck
from .x12 import codes
from .x12.reader import X12Error
from .x12.x270 import Dependent, EligibilityRequest, Payer, Provider, Subscriber, build_270
from .x12.x271 import ACTIVE, DEPENDENT, INACTIVE, REJECTED, BenefitsSummary, EligibilityResponse, parse_271

if TYPE_CHECKING:
    from scheduling.models import Appointment
    from vma.models import User

log = logging.getLogger(__name__)

S = EligibilityCheck.Status
TRANSITIONS: dict[str, frozenset[str]] = {
    S.QUEUED: frozenset({S.SENT}),
    # sent -> sent: a worker takes over a check whose lease ran out (the first one died mid-call).
    S.SENT: frozenset({S.SENT, S.ACTIVE, S.INACTIVE, S.REJECTED, S.ERROR, S.FAILED}),
    S.ERROR: frozenset({S.QUEUED}),
    S.ACTIVE: frozenset(),
    S.INACTIVE: frozenset(),
    S.REJECTED: frozenset(),
    S.FAILED: frozenset(),
}

WORK_KIND = "eligibility.coverage_problem"
# AAA03 reasons that describe the payer's state, not our request: resubmitting later may work.
TRANSIENT_REASONS = frozenset({"42", "80"})
_MAX_AMOUNT = Decimal("999999999")  # larger than any real benefit figure, and than the columns hold


class CoverageIncomplete(Exception):
    """The coverage on file lacks what a 270 needs; a person must complete it."""


# ---------------------------------------------------------------------------------------------
# Settings (read at call time so tests and admins can change them)
# ---------------------------------------------------------------------------------------------


def setting(name: str, default: Any) -> Any:
    return getattr(settings, name, default)


def max_attempts() -> int:
    return int(setting("ELIGIBILITY_MAX_ATTEMPTS", 5))


def timeout_seconds() -> float:
    return float(setting("ELIGIBILITY_TIMEOUT_SECONDS", 10))


def lease() -> timedelta:
    # Longer than the payer timeout with room to record the answer, or two workers would overlap.
    seconds = max(float(setting("ELIGIBILITY_LEASE_SECONDS", 300)), 2 * timeout_seconds() + 30)
    return timedelta(seconds=seconds)


def backoff(attempts: int) -> timedelta:
    """Wait before attempt `attempts + 1`: doubling from ELIGIBILITY_RETRY_BASE_SECONDS, capped."""
    base = float(setting("ELIGIBILITY_RETRY_BASE_SECONDS", 300))
    cap = float(setting("ELIGIBILITY_RETRY_MAX_SECONDS", 3000))
    return timedelta(seconds=min(cap, base * 2 ** max(0, attempts - 1)))


# ---------------------------------------------------------------------------------------------
# The move itself
# ---------------------------------------------------------------------------------------------


def _lock(check_id: int) -> EligibilityCheck:
    return (
        EligibilityCheck.objects.select_for_update(of=("self",))
        .select_related("patient", "coverage__payer", "appointment")
        .get(pk=check_id)
    )


def _check_actor(actor: User | None, check: EligibilityCheck) -> None:
    if actor is None:  # the system: the sweeper or a worker
        return
    if not can_access_patient(actor, check.patient, "patients.view_coverage"):
        raise NotPermitted("You cannot act on this eligibility check.")


def _move(
    check: EligibilityCheck, *, to: str, actor: User | None = None, attempt: int | None = None, **changes: Any
) -> EligibilityCheck:
    """Re-read under a row lock, check, change, save. Callers are atomic.

    `attempt` guards a worker's answer: if another worker has since re-claimed the check, the
    late answer belongs to a superseded attempt and is refused. auditlog records who and when.
    """
    check = _lock(check.pk)
    _check_actor(actor, check)
    if to not in TRANSITIONS[check.status]:
        raise ActionRefused(f"This eligibility check is {check.get_status_display().lower()}; it cannot become {to}.")
    if attempt is not None and check.attempts != attempt:
        raise ActionRefused(f"Attempt {attempt} was superseded by attempt {check.attempts}.")
    check.status = to
    fields = {"status", "updated_at"}
    for name, value in changes.items():
        setattr(check, name, value)
        fields.add(name)
    if to in EligibilityCheck.FINISHED:
        check.completed_at = changes.get("completed_at") or timezone.now()
        check.lease_until = None
        fields |= {"completed_at", "lease_until"}
    check.save(update_fields=sorted(fields))
    return check


def _publish_after_commit(check_id: int, countdown: float | None = None) -> None:
    from .tasks import publish_send

    transaction.on_commit(partial(publish_send, check_id, countdown=countdown))


# ---------------------------------------------------------------------------------------------
# Asking (pages, the API, the sweeper): never calls the payer
# ---------------------------------------------------------------------------------------------


def in_flight_check(coverage: Coverage, appointment: Appointment | None) -> EligibilityCheck | None:
    return EligibilityCheck.objects.filter(
        coverage=coverage, appointment=appointment, status__in=EligibilityCheck.IN_FLIGHT
    ).first()


@transaction.atomic
def request_check(
    coverage: Coverage,
    *,
    appointment: Appointment | None = None,
    actor: User | None = None,
    service_date: date,
    now: datetime | None = None,
) -> EligibilityCheck:
    """Queue a check, or return the one already in flight for this visit and coverage.

    A person asking while a retry waits gets the retry now rather than after the back-off.
    """
    now = now or timezone.now()
    if actor is not None and not can_access_patient(actor, coverage.patient, "patients.view_coverage"):
        raise NotPermitted("You cannot check this coverage.")
    if appointment is not None and appointment.patient_id != coverage.patient_id:
        raise ActionRefused("That visit is another patient's.", status_code=400)
    existing = in_flight_check(coverage, appointment)
    if existing is None:
        try:
            # A savepoint: losing the race to a concurrent request must not poison the caller.
            with transaction.atomic():
                check = EligibilityCheck.objects.create(
                    appointment=appointment,
                    patient_id=coverage.patient_id,
                    coverage=coverage,
                    service_date=service_date,
                    status=S.QUEUED,
                    next_attempt_at=now,
                    requested_by=actor,
                    requested_at=now,
                )
        except IntegrityError:
            existing = in_flight_check(coverage, appointment)
            if existing is None:
                raise
        else:
            _publish_after_commit(check.pk)
            return check
    if actor is not None and existing.status == S.ERROR:
        return retry_check(existing, actor=actor, now=now)
    return existing


@transaction.atomic
def retry_check(
    check: EligibilityCheck, *, actor: User | None = None, now: datetime | None = None, publish: bool = True
) -> EligibilityCheck:
    """error -> queued: the retry's time came (sweeper, countdown) or a person asked for it now."""
    now = now or timezone.now()
    check = _move(check, to=S.QUEUED, actor=actor, next_attempt_at=now, lease_until=None)
    if publish:
        _publish_after_commit(check.pk)
    return check


# ---------------------------------------------------------------------------------------------
# Sending (a Celery task only)
# ---------------------------------------------------------------------------------------------


def _claimable(now: datetime) -> Q:
    # Derived from the table: every state that may move to sent; a sent one only once its lease ran out.
    sources = [s for s, targets in TRANSITIONS.items() if S.SENT in targets]
    return Q(status__in=[s for s in sources if s != S.SENT]) | Q(status=S.SENT, lease_until__lt=now)


def claim_check(check_id: int, *, now: datetime | None = None) -> EligibilityCheck | None:
    """queued -> sent by one conditional UPDATE; None if another delivery already has it."""
    now = now or timezone.now()
    with transaction.atomic():
        claimed = EligibilityCheck.objects.filter(_claimable(now), pk=check_id).update(
            status=S.SENT, lease_until=now + lease(), attempts=F("attempts") + 1, updated_at=now
        )
        if not claimed:
            return None
        check = EligibilityCheck.objects.select_related(
            "patient__care_team__provider", "coverage__payer", "appointment__provider"
        ).get(pk=check_id)
        # QuerySet.update() bypasses auditlog: the trail row is written here instead.
        audit.append(
            kind=AuditEvent.Kind.WRITE,
            action="eligibility.eligibilitycheck.claim",
            target=f"eligibility.eligibilitycheck:{check.pk}",
            patient_ids=[check.patient_id],
            # The 270 about to leave carries PHI to this payer: the trail says to whom.
            detail={
                "fields": ["attempts", "lease_until", "status"],
                "attempt": check.attempts,
                "payer": check.coverage.payer.payer_id,
            },
        )
    return check


def send_check(check_id: int, *, now: datetime | None = None) -> str:
    """Send one check's 270 and record the 271. Returns the outcome, for logs and tests.

    Called by the send task, never by a page: the payer may take seconds or not answer at all.
    """
    now = now or timezone.now()
    _requeue_if_due(check_id, now)
    check = claim_check(check_id, now=now)
    if check is None:
        return "skipped"
    attempt = check.attempts
    try:
        text_270 = build_check_270(check, now=now)
    except (X12Error, CoverageIncomplete) as exc:
        return _outcome(
            give_up,
            check_id,
            attempt=attempt,
            reason=f"the 270 could not be built: {exc}",
            now=now,
            instruction=f"The coverage on file is incomplete or invalid ({exc}). Correct it and check again.",
        )
    try:
        text_271 = get_clearinghouse().send_270(text_270, timeout=timeout_seconds())
    except PayerUnavailable as exc:  # time-outs included
        return _outcome(record_failure, check_id, attempt=attempt, reason=str(exc), raw_270=text_270, now=now)
    except PayerError as exc:
        return _outcome(
            give_up,
            check_id,
            attempt=attempt,
            reason=f"the clearinghouse refused the 270: {exc}",
            raw_270=text_270,
            now=now,
        )
    return _outcome(record_answer, check_id, attempt=attempt, raw_270=text_270, raw_271=text_271, now=now)


def _outcome(fn: Any, check_id: int, **kwargs: Any) -> str:
    try:
        return str(fn(check_id, **kwargs).status)
    except ActionRefused as exc:
        # Our lease ran out and another worker re-sent the check: its answer is the one kept.
        log.info("eligibility: late answer for check %s ignored (%s)", check_id, exc)
        return "stale"


def _requeue_if_due(check_id: int, now: datetime) -> None:
    # A countdown message for a retry arrives while the check waits in error: its time has come.
    due = EligibilityCheck.objects.filter(pk=check_id, status=S.ERROR, next_attempt_at__lte=now).first()
    if due is not None:
        try:
            retry_check(due, now=now, publish=False)
        except ActionRefused:
            pass  # a concurrent sweeper re-queued it first


def _control_number(check: EligibilityCheck) -> int:
    # ISA13/GS06: nine digits, different for every attempt of every check.
    return (check.pk % 9_999_999) * 100 + check.attempts % 100


def build_check_270(check: EligibilityCheck, *, now: datetime | None = None) -> str:
    """The 270 for a check: the patient's coverage, the visit's provider (or the practice)."""
    coverage, patient = check.coverage, check.patient
    provider_user = check.appointment.provider if check.appointment is not None else patient.care_team.provider
    npi = provider_user.npi or setting("PRACTICE_NPI", "")
    if not npi:
        raise CoverageIncomplete("no NPI: the provider has none and PRACTICE_NPI is not set")
    if coverage.subscriber_relation == Coverage.Relation.SELF:
        subscriber = Subscriber(
            first_name=patient.first_name,
            last_name=patient.last_name,
            member_id=coverage.member_id,
            birth_date=patient.date_of_birth,
            gender=patient.sex,
        )
        dependent = None
    else:
        if not (coverage.subscriber_first_name and coverage.subscriber_last_name):
            raise CoverageIncomplete("the subscriber's name is missing on the coverage")
        subscriber = Subscriber(
            first_name=coverage.subscriber_first_name,
            last_name=coverage.subscriber_last_name,
            member_id=coverage.member_id,
            birth_date=coverage.subscriber_date_of_birth,
        )
        dependent = Dependent(
            first_name=patient.first_name,
            last_name=patient.last_name,
            birth_date=patient.date_of_birth,
            gender=patient.sex,
        )
    request = EligibilityRequest(
        payer=Payer(name=coverage.payer.name, id=coverage.payer.payer_id),
        provider=Provider(name=setting("PRACTICE_NAME", "VMA PORTAL PRACTICE"), npi=npi),
        subscriber=subscriber,
        dependent=dependent,
        date_of_service=check.service_date,
        trace_number=check.trace_number,
    )
    control = _control_number(check)
    return build_270(
        request,
        sender_id=setting("ELIGIBILITY_SENDER_ID", "VMAPORTAL"),
        receiver_id=coverage.payer.payer_id,
        interchange_control_number=control,
        group_control_number=control,
        # X12 stamps are the sender's local wall time.
        when=timezone.localtime(now or timezone.now()).replace(tzinfo=None),
        usage=setting("ELIGIBILITY_USAGE", "P"),
    )


# ---------------------------------------------------------------------------------------------
# Recording what happened (one transaction each, under the row lock)
# ---------------------------------------------------------------------------------------------


@transaction.atomic
def record_answer(
    check_id: int, *, attempt: int, raw_270: str, raw_271: str, now: datetime | None = None
) -> EligibilityCheck:
    """sent -> active | inactive | rejected from the payer's 271, or error when it is unusable."""
    now = now or timezone.now()
    check = _lock(check_id)
    raw: dict[str, Any] = {"raw_270": raw_270, "raw_271": raw_271, "responded_at": now}
    try:
        response = _response_for(check, parse_271(raw_271))
        summary = response.summary()
        figures: dict[str, Any] = _figures(summary)
    except X12Error as exc:
        return _unusable(check, attempt=attempt, reason=f"The payer's answer could not be read: {exc}", now=now, **raw)
    transient = [r for r in response.rejections if r.reason in TRANSIENT_REASONS]
    if response.status == REJECTED and transient:
        return _retry_later(check, attempt=attempt, reason=transient[0].message, now=now, **raw)
    if response.status == ACTIVE:
        # A secondary plan pays after the primary: the desk collects the primary plan's co-pay only.
        amount = figures["copay_office"] if check.coverage.rank == Coverage.Rank.PRIMARY else None
        check = _move(
            check,
            to=S.ACTIVE,
            attempt=attempt,
            completed_at=now,
            last_error="",
            **raw,
            **figures,
            rejection_reason="",
            rejection_follow_up="",
            amount_to_collect=amount,
            instruction=_active_instruction(check, summary),
        )
        _resolve_problem(check)
        return check
    if response.status == INACTIVE:
        check = _move(
            check,
            to=S.INACTIVE,
            attempt=attempt,
            completed_at=now,
            last_error="",
            **raw,
            **figures,
            amount_to_collect=None,
            instruction=_inactive_instruction(check, summary),
        )
        _open_problem(check, now=now)
        return check
    if response.status == REJECTED:
        first = response.rejections[0]
        check = _move(
            check,
            to=S.REJECTED,
            attempt=attempt,
            completed_at=now,
            last_error="",
            **raw,
            **figures,
            rejection_reason=first.reason[:3],
            rejection_follow_up=first.follow_up[:1],
            amount_to_collect=None,
            instruction=_rejected_instruction(response),
        )
        _open_problem(check, now=now)
        return check
    return _unusable(
        check, attempt=attempt, reason="The payer's answer says neither active nor inactive.", now=now, **raw
    )


@transaction.atomic
def record_failure(
    check_id: int, *, attempt: int, reason: str, raw_270: str = "", now: datetime | None = None
) -> EligibilityCheck:
    """sent -> error (retry after a back-off) or failed when attempts are used up: a transient failure."""
    now = now or timezone.now()
    return _retry_later(_lock(check_id), attempt=attempt, reason=reason, now=now, raw_270=raw_270)


@transaction.atomic
def give_up(
    check_id: int,
    *,
    attempt: int,
    reason: str,
    raw_270: str = "",
    raw_271: str = "",
    instruction: str | None = None,
    now: datetime | None = None,
) -> EligibilityCheck:
    """sent -> failed: resending cannot help; a front-office work item says what to do."""
    now = now or timezone.now()
    check = _lock(check_id)
    return _fail(
        check, attempt=attempt, reason=reason, now=now, instruction=instruction, raw_270=raw_270, raw_271=raw_271
    )


def _fail(
    check: EligibilityCheck,
    *,
    attempt: int | None,
    reason: str,
    now: datetime,
    instruction: str | None = None,
    **raw: Any,
) -> EligibilityCheck:
    payer = check.coverage.payer.name
    check = _move(
        check,
        to=S.FAILED,
        attempt=attempt,
        completed_at=now,
        last_error=reason[:2000],
        amount_to_collect=None,
        instruction=instruction
        or f"Eligibility could not be verified electronically ({reason.rstrip('.')}). "
        f"Verify the coverage by phone with {payer} before the visit.",
        **raw,
    )
    _open_problem(check, now=now)
    return check


def _retry_later(check: EligibilityCheck, *, attempt: int, reason: str, now: datetime, **raw: Any) -> EligibilityCheck:
    if check.attempts >= max_attempts():
        return _fail(
            check, attempt=attempt, reason=f"no answer after {check.attempts} attempts: {reason}", now=now, **raw
        )
    wait = backoff(check.attempts)
    at = now + wait
    check = _move(
        check,
        to=S.ERROR,
        attempt=attempt,
        next_attempt_at=at,
        lease_until=None,
        last_error=reason[:2000],
        instruction=f"Waiting for the payer ({reason.rstrip('.')}); trying again at {timezone.localtime(at):%H:%M}.",
        **raw,
    )
    # The countdown is the doorbell for the retry; the sweeper re-queues it anyway if the message
    # is lost. Never an ETA beyond the broker's visibility timeout (it would be delivered twice).
    if wait.total_seconds() < 3000:
        _publish_after_commit(check.pk, countdown=wait.total_seconds())
    return check


def _unusable(check: EligibilityCheck, *, attempt: int, reason: str, now: datetime, **raw: Any) -> EligibilityCheck:
    # An unreadable 271 is no payer outage: a person hears of it now, while a retry may still fix it.
    check = _retry_later(check, attempt=attempt, reason=reason, now=now, **raw)
    _open_problem(check, now=now)
    return check


@transaction.atomic
def abandon_check(check_id: int, *, now: datetime | None = None) -> EligibilityCheck:
    """sent -> failed for a check whose worker died on its last allowed attempt."""
    now = now or timezone.now()
    check = _lock(check_id)
    return _fail(check, attempt=check.attempts, reason=f"no answer recorded after {check.attempts} attempts", now=now)


# ---------------------------------------------------------------------------------------------
# Reading the 271
# ---------------------------------------------------------------------------------------------


def _response_for(check: EligibilityCheck, responses: list[EligibilityResponse]) -> EligibilityResponse:
    """The response that answers this check: the one echoing our trace number."""
    matching = [r for r in responses if r.trace_number == check.trace_number]
    if not matching and len(responses) == 1 and not responses[0].trace_number:
        matching = responses  # a payer that does not echo TRN; one answer to one question
    if not matching:
        raise X12Error(f"the 271 does not answer this inquiry (no trace number {check.trace_number})")
    dependent = [r for r in matching if r.role == DEPENDENT]
    if check.coverage.subscriber_relation != Coverage.Relation.SELF and dependent:
        return dependent[0]
    return matching[0]


def _amount(value: Decimal | None) -> Decimal | None:
    if value is None:
        return None
    if abs(value) > _MAX_AMOUNT:
        raise X12Error(f"amount {value} is out of range")
    return value.quantize(Decimal("0.01"))


def _figures(summary: BenefitsSummary) -> dict[str, Any]:
    percent = summary.coinsurance_percent
    if percent is not None and not Decimal(0) <= percent <= Decimal(100):
        raise X12Error(f"co-insurance {percent} % is out of range")
    return {
        "plan_begin": summary.plan_begin,
        "plan_end": summary.plan_end,
        "copay_office": _amount(summary.office_visit_copay),
        "deductible_ind_total": _amount(summary.deductible_individual),
        "deductible_ind_remaining": _amount(summary.deductible_individual_remaining),
        "deductible_fam_total": _amount(summary.deductible_family),
        "deductible_fam_remaining": _amount(summary.deductible_family_remaining),
        "coinsurance_percent": percent.quantize(Decimal("0.01")) if percent is not None else None,
        "oop_ind_total": _amount(summary.out_of_pocket_individual),
        "oop_ind_remaining": _amount(summary.out_of_pocket_individual_remaining),
        "oop_fam_total": _amount(summary.out_of_pocket_family),
        "oop_fam_remaining": _amount(summary.out_of_pocket_family_remaining),
        "in_network": summary.in_network,
    }


def money(value: Decimal) -> str:
    return f"${value:,.2f}"


def _active_instruction(check: EligibilityCheck, summary: BenefitsSummary) -> str:
    parts = [f"Coverage active on {check.service_date:%m/%d/%Y}."]
    copay = summary.office_visit_copay
    if check.coverage.rank != Coverage.Rank.PRIMARY:
        parts.append("Secondary coverage: it pays after the primary plan; collect the primary plan's co-pay.")
    elif copay is not None and copay > 0:
        parts.append(f"Collect the {money(copay)} office co-pay at check-in.")
    else:
        parts.append("No office co-pay to collect at check-in.")
    remaining, total = summary.deductible_individual_remaining, summary.deductible_individual
    if remaining is not None and remaining > 0:
        of = f" of {money(total)}" if total is not None else ""
        parts.append(f"Deductible not met: {money(remaining)}{of} left, so the visit may be billed to the patient.")
    if summary.coinsurance_percent:
        parts.append(f"Co-insurance {summary.coinsurance_percent:g} % after the deductible.")
    if summary.in_network is False:
        parts.append("These are out-of-network figures.")
    return " ".join(parts)


def _inactive_instruction(check: EligibilityCheck, summary: BenefitsSummary) -> str:
    ended = f" (plan ended {summary.plan_end:%m/%d/%Y})" if summary.plan_end else ""
    return (
        f"Coverage is not active on {check.service_date:%m/%d/%Y}{ended}. Call the patient before the visit "
        "for their current insurance, update the coverage and check again; otherwise the visit is self-pay."
    )


def _rejected_instruction(response: EligibilityResponse) -> str:
    seen: list[str] = []
    for rejection in response.rejections:
        if rejection.message not in seen:
            seen.append(rejection.message)
    text = "; ".join(seen) or codes.instruction("", "")
    return f"The payer rejected the inquiry: {text}. Confirm the details with the patient or the insurance card, correct the coverage and check again."


# ---------------------------------------------------------------------------------------------
# The front desk's work item
# ---------------------------------------------------------------------------------------------


def _subject(check: EligibilityCheck) -> models.Model:
    # One item per visit (a re-check finds the open one), or per coverage when no visit is booked.
    return check.appointment if check.appointment is not None else check.coverage


def _open_problem(check: EligibilityCheck, *, now: datetime) -> None:
    payer = check.coverage.payer.name
    when = ""
    due = None
    spec = get_kind(WORK_KIND)
    if check.appointment is not None:
        start = check.appointment.start_at
        local = timezone.localtime(start)
        when = f" before the {local:%a %b} {local.day} {local:%H:%M} visit"
        # Due in time to call the patient before they come, never due in the past.
        due = max(
            now + timedelta(minutes=30), min(now + timedelta(minutes=spec.sla_minutes), start - timedelta(hours=2))
        )
    open_work_item(
        kind=WORK_KIND,
        subject=_subject(check),
        patient=check.patient,
        title=f"Eligibility {check.get_status_display().lower()}: {payer}{when}",
        detail=check.instruction,
        due_at=due,
    )


def _resolve_problem(check: EligibilityCheck) -> None:
    note = f"Verified active with {check.coverage.payer.name} for {check.service_date:%m/%d/%Y}."
    close_work_item(kind=WORK_KIND, subject=check.coverage, note=note)
    if check.appointment is not None and visit_verified(check.appointment):
        close_work_item(kind=WORK_KIND, subject=check.appointment, note=note)


def visit_verified(appointment: Appointment) -> bool:
    """Every active primary and secondary coverage's latest check for the visit is active."""
    coverage_ids = set(
        Coverage.objects.filter(
            patient_id=appointment.patient_id, active=True, rank__in=[Coverage.Rank.PRIMARY, Coverage.Rank.SECONDARY]
        ).values_list("id", flat=True)
    )
    latest: dict[int, str] = {}
    for coverage_id, status in (
        EligibilityCheck.objects.filter(appointment=appointment, coverage_id__in=coverage_ids)
        .order_by("-requested_at", "-id")
        .values_list("coverage_id", "status")
    ):
        latest.setdefault(coverage_id, status)
    return bool(coverage_ids) and all(latest.get(c) == S.ACTIVE for c in coverage_ids)
