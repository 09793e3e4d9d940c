"""Claim states and transitions: the only code that sets Claim.status.

Every function re-reads the claim under a row lock, checks the actor (None is the system: the
send task, the sweep, remittance posting), refuses a move the table does not allow, saves, and
opens or closes the billing queue's work items in the same transaction.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from functools import partial
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from eligibility.x12.reader import X12Error
from vma.access import panel_ids
from vma.exceptions import ActionRefused, NotPermitted
from vma.workflow import close_work_item, open_work_item

from . import denials, scrubber
from .coding import Problem
from .models import Claim, ClaimDiagnosis, ClaimLine

if TYPE_CHECKING:
    from vma.models import User, WorkItem

    from .clearinghouse import Acknowledgement

S = Claim.Status
TRANSITIONS: dict[str, frozenset[str]] = {
    S.DRAFT: frozenset({S.SCRUBBED, S.VOIDED}),
    # Back to draft to edit; the scrubber runs again before anything leaves.
    S.SCRUBBED: frozenset({S.DRAFT, S.SUBMITTED, S.VOIDED}),
    S.SUBMITTED: frozenset({S.ACCEPTED, S.REJECTED}),
    # An accepted claim is at the payer: it is voided or replaced by a frequency 8/7 claim.
    S.ACCEPTED: frozenset({S.PAID, S.PARTIALLY_PAID, S.DENIED, S.VOIDED, S.CORRECTED}),
    # Rejected on intake, never adjudicated: fix this same claim and send it again.
    S.REJECTED: frozenset({S.DRAFT, S.VOIDED}),
    # Back to accepted: the payer reversed its payment (835 CLP02 22); a new adjudication follows.
    S.PAID: frozenset({S.ACCEPTED, S.CORRECTED, S.VOIDED}),
    S.PARTIALLY_PAID: frozenset({S.PAID, S.ACCEPTED, S.APPEALED, S.CORRECTED, S.VOIDED}),
    # A payer may reprocess a denial on its own (records received, its error found): paid without an appeal.
    S.DENIED: frozenset({S.PAID, S.PARTIALLY_PAID, S.ACCEPTED, S.APPEALED, S.CORRECTED, S.VOIDED}),
    S.APPEALED: frozenset({S.PAID, S.PARTIALLY_PAID, S.DENIED, S.ACCEPTED}),
    S.VOIDED: frozenset(),
    S.CORRECTED: frozenset(),
}

REJECTED = "billing.claim_rejected"
FOLLOW_UP = "billing.status_follow_up"
UNPAID = "billing.unpaid_30"
FILING_DEADLINE = "billing.filing_deadline"
KINDS = (REJECTED, FOLLOW_UP, UNPAID, FILING_DEADLINE)

VIEW = "billing.view_claim"
ADD = "billing.add_claim"
CHANGE = "billing.change_claim"
SCRUB = "billing.scrub_claim"
SUBMIT = "billing.submit_claim"
VOID = "billing.void_claim"


def setting(name: str, default: Any) -> Any:
    return getattr(settings, name, default)


def claim_url(item: WorkItem) -> str:
    return reverse("billing_claim_detail", args=[item.subject.public_id])  # type: ignore[union-attr]


# ---------------------------------------------------------------------------------------------
# The move itself
# ---------------------------------------------------------------------------------------------


def lock(claim: Claim | int) -> Claim:
    pk = claim if isinstance(claim, int) else claim.pk
    return (
        Claim.objects.select_for_update(of=("self",))
        .select_related("patient", "coverage", "payer", "rendering_provider", "appointment")
        .get(pk=pk)
    )


def check_actor(actor: User | None, claim: Claim, perm: str) -> None:
    if actor is None:  # the system
        return
    if not (actor.has_perm(perm) and claim.patient.care_team_id in panel_ids(actor)):
        raise NotPermitted("You cannot act on this claim.")


def _move(claim: Claim, *, to: str, actor: User | None, perm: str = CHANGE, **changes: Any) -> Claim:
    """Re-read under a row lock, check, change, save. Callers are atomic."""
    claim = lock(claim)
    check_actor(actor, claim, perm)
    if to not in TRANSITIONS[claim.status]:
        raise ActionRefused(
            f"This claim is {claim.get_status_display().lower()}; it cannot become {S(to).label.lower()}."
        )
    claim.status = to
    claim.updated_by = actor
    fields = {"status", "updated_at", "updated_by"}
    for name, value in changes.items():
        setattr(claim, name, value)
        fields.add(name)
    claim.save(update_fields=sorted(fields))
    return claim


def _close(claim: Claim, kinds: tuple[str, ...], note: str, actor: User | None) -> None:
    for kind in kinds:
        close_work_item(kind=kind, subject=claim, note=note, actor=actor)


# ---------------------------------------------------------------------------------------------
# Scrub and submit
# ---------------------------------------------------------------------------------------------


@dataclass
class ScrubResult:
    claim: Claim
    problems: list[Problem] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        return not scrubber.blocking(self.problems)


@transaction.atomic
def scrub(claim: Claim, *, actor: User | None, today: Any = None) -> ScrubResult:
    """draft -> scrubbed when nothing blocks; otherwise the claim stays a draft with every problem listed."""
    claim = lock(claim)
    check_actor(actor, claim, SCRUB)
    if claim.status not in (S.DRAFT, S.SCRUBBED):
        raise ActionRefused(f"This claim is {claim.get_status_display().lower()}; only a draft is scrubbed.")
    problems, auth_number = scrubber.scrub(claim, today=today)
    stored = [p.as_dict() for p in problems]
    clean = not scrubber.blocking(problems)
    changes: dict[str, Any] = {"scrub_problems": stored, "scrubbed_at": timezone.now()}
    if auth_number and not claim.prior_authorization_number:
        changes["prior_authorization_number"] = auth_number
    if clean and claim.status == S.DRAFT:
        claim = _move(claim, to=S.SCRUBBED, actor=actor, perm=SCRUB, **changes)
    elif not clean and claim.status == S.SCRUBBED:
        claim = _move(claim, to=S.DRAFT, actor=actor, perm=SCRUB, **changes)
    else:
        for name, value in changes.items():
            setattr(claim, name, value)
        claim.updated_by = actor
        claim.save(update_fields=[*changes, "updated_by", "updated_at"])
    return ScrubResult(claim, problems)


def submit(claim: Claim, *, actor: User | None, now: datetime | None = None) -> Claim:
    """scrubbed -> submitted: the 837P is built, checked by pyx12 and handed to the send task.

    A claim that no longer scrubs clean goes back to draft; an 837 pyx12 refuses never leaves:
    the claim stays scrubbed with pyx12's findings. Either way the answer is a refusal that says why.
    A second press finds the claim submitted already (row lock) and is refused: one submission.
    """
    refusal = ""
    with transaction.atomic():
        claim = lock(claim)
        check_actor(actor, claim, SUBMIT)
        if claim.status != S.SCRUBBED:
            raise ActionRefused(
                f"This claim is {claim.get_status_display().lower()}; scrub it clean before submitting."
            )
        result = scrub(claim, actor=actor)
        claim = result.claim
        if not result.clean:
            refusal = "The claim no longer scrubs clean; it is back to draft with its problems listed."
        else:
            refusal, claim = _submit_locked(claim, actor=actor, now=now or timezone.now())
    if refusal:
        raise ActionRefused(refusal)
    return claim


def _submit_locked(claim: Claim, *, actor: User | None, now: datetime) -> tuple[str, Claim]:
    from . import tasks
    from .x12 import x837

    control = x837.interchange_control_number(claim)
    try:
        text = x837.build_837(claim, interchange_control_number=control, when=timezone.localtime(now))
        errors = x837.validate_with_pyx12(text)
    except X12Error as exc:
        text, errors = "", [str(exc)]
    if errors:
        claim.validation_errors = errors
        claim.updated_by = actor
        claim.save(update_fields=["validation_errors", "updated_by", "updated_at"])
        return f"The 837 did not pass validation ({len(errors)} problem(s)); nothing was sent.", claim
    claim = _move(
        claim,
        to=S.SUBMITTED,
        actor=actor,
        perm=SUBMIT,
        raw_837=text,
        interchange_control_number=control,
        validation_errors=[],
        submitted_at=now,
        submitted_by=actor,
        transmitted_at=None,
        acknowledgement="",
        rejection_reasons=[],
        follow_up_flagged_at=None,
        unpaid_flagged_at=None,
    )
    _close(claim, (FILING_DEADLINE,), "Submitted.", actor)
    transaction.on_commit(partial(tasks.send_claim.delay, claim.pk))
    return "", claim


@transaction.atomic
def record_acknowledgement(claim: Claim, ack: Acknowledgement, *, now: datetime | None = None) -> Claim:
    """submitted -> accepted | rejected, from the clearinghouse's answer (the system acts)."""
    now = now or timezone.now()
    if ack.accepted:
        return _move(
            claim,
            to=S.ACCEPTED,
            actor=None,
            accepted_at=now,
            clearinghouse_reference=ack.reference[:60],
            acknowledgement=ack.raw,
        )
    claim = _move(
        claim,
        to=S.REJECTED,
        actor=None,
        clearinghouse_reference=ack.reference[:60],
        acknowledgement=ack.raw,
        rejection_reasons=list(ack.reasons),
        first_rejected_at=claim.first_rejected_at or now,
    )
    reasons = "\n".join(f"- {r}" for r in ack.reasons) or "- (no reason given)"
    open_work_item(
        kind=REJECTED,
        subject=claim,
        patient=claim.patient,
        title=f"Claim {claim.patient_control_number} rejected by the clearinghouse",
        detail=f"{claim.payer.name}, date of service {claim.service_date:%m/%d/%Y}. Reasons:\n{reasons}",
        due_at=now + timedelta(days=1),
    )
    return claim


@transaction.atomic
def reopen(claim: Claim, *, actor: User | None) -> Claim:
    """scrubbed | rejected -> draft, to edit the charges."""
    claim = _move(claim, to=S.DRAFT, actor=actor, scrubbed_at=None)
    _close(claim, (REJECTED,), "Back to draft to fix.", actor)
    return claim


# ---------------------------------------------------------------------------------------------
# The payer's answer (the 835 posting of part 2 calls these)
# ---------------------------------------------------------------------------------------------

_ADJUDICATED = (S.PAID, S.PARTIALLY_PAID, S.DENIED)


@transaction.atomic
def record_adjudication(
    claim: Claim,
    *,
    to: str,
    actor: User | None = None,
    paid_amount: Decimal | None = None,
    payer_claim_number: str = "",
    reason: str = "",
    now: datetime | None = None,
) -> Claim:
    """accepted | appealed | partially paid -> paid | partially paid | denied."""
    if to not in _ADJUDICATED:
        raise ActionRefused("An adjudication is paid, partially paid or denied.", status_code=400)
    changes: dict[str, Any] = {"adjudicated_at": now or timezone.now()}
    if paid_amount is not None:
        changes["paid_amount"] = paid_amount
    if payer_claim_number:
        changes["payer_claim_number"] = payer_claim_number[:50]
    if reason:
        changes["closed_reason"] = reason
    claim = _move(claim, to=to, actor=actor, **changes)
    _close(claim, (FOLLOW_UP, UNPAID), f"Payer answered: {S(to).label.lower()}.", actor)
    return claim


@transaction.atomic
def appeal(claim: Claim, *, actor: User | None, note: str) -> Claim:
    """denied | partially paid -> appealed; the claim's open denials are resolved (the appeal answers them)."""
    note = (note or "").strip()
    if not note:
        raise ActionRefused("Say what the appeal argues.", status_code=400)
    claim = _move(claim, to=S.APPEALED, actor=actor, closed_reason=note)
    denials.resolve_claim_denials(claim, note=f"Appealed: {note[:200]}", actor=actor)
    return claim


@transaction.atomic
def post_payer_answer(claim: Claim, *, to: str | None, changes: dict[str, Any], now: datetime) -> tuple[Claim, str]:
    """Save an 835's totals on the claim and move it to what the payer decided (the system acts).

    A claim still `submitted` (its acknowledgement lost) is accepted first: the payer has it. When the
    claim's state allows no such move (voided, corrected, a draft), the money is still posted and the
    returned note says the status was left for a person to look at. `to` None: posting only.
    """
    claim = lock(claim)
    note = ""
    if to is not None and to != claim.status:
        if claim.status == S.SUBMITTED:
            claim = _move(claim, to=S.ACCEPTED, actor=None, accepted_at=claim.accepted_at or now)
        if to in TRANSITIONS[claim.status]:
            claim = _move(claim, to=to, actor=None, **changes)
            changes = {}
        elif to != claim.status:
            note = (
                f"The claim is {claim.get_status_display().lower()}: the payer's answer "
                f"({S(to).label.lower()}) was posted without changing its status."
            )
    if changes:
        for name, value in changes.items():
            setattr(claim, name, value)
        claim.save(update_fields=sorted({*changes, "updated_at"}))
    # Only a flagged claim can have these items open (flag() sets the column as it opens one).
    flagged = tuple(k for k, at in ((FOLLOW_UP, claim.follow_up_flagged_at), (UNPAID, claim.unpaid_flagged_at)) if at)
    if claim.status in _ADJUDICATED and flagged:
        _close(claim, flagged, f"Payer answered: {claim.get_status_display().lower()}.", None)
    return claim, note


# ---------------------------------------------------------------------------------------------
# Void and correct (frequency 8 and 7)
# ---------------------------------------------------------------------------------------------


def _copy(original: Claim, *, frequency: str, actor: User | None) -> Claim:
    """A new draft claim carrying the original's charges, pointing at it (REF*F8 from its payer number)."""
    new = Claim.objects.create(
        patient=original.patient,
        coverage=original.coverage,
        payer=original.payer,
        appointment=original.appointment,
        service_date=original.service_date,
        rendering_provider=original.rendering_provider,
        billing_name=original.billing_name,
        billing_npi=original.billing_npi,
        billing_tax_id=original.billing_tax_id,
        place_of_service=original.place_of_service,
        telehealth=original.telehealth,
        frequency_code=frequency,
        original_claim=original,
        original_payer_claim_number=original.payer_claim_number,
        prior_authorization_number=original.prior_authorization_number,
        referral_number=original.referral_number,
        total_charge=original.total_charge,
        created_by=actor,
        updated_by=actor,
    )
    ClaimDiagnosis.objects.bulk_create(
        ClaimDiagnosis(claim=new, position=d.position, code=d.code, description=d.description)
        for d in original.diagnoses.all()
    )
    ClaimLine.objects.bulk_create(
        ClaimLine(
            claim=new,
            line_number=ln.line_number,
            procedure_code=ln.procedure_code,
            modifiers=list(ln.modifiers),
            units=ln.units,
            charge=ln.charge,
            diagnosis_pointers=list(ln.diagnosis_pointers),
            service_date=ln.service_date,
        )
        for ln in original.lines.all()
    )
    return new


def _reason(reason: str) -> str:
    reason = (reason or "").strip()
    if not reason:
        raise ActionRefused("Give the reason.", status_code=400)
    return reason


@transaction.atomic
def void(claim: Claim, *, actor: User | None, reason: str) -> tuple[Claim, Claim | None]:
    """-> voided. A claim the payer has on file also gets a frequency 8 (void) claim to submit."""
    reason = _reason(reason)
    claim = lock(claim)
    at_payer = claim.status in Claim.AT_PAYER
    claim = _move(claim, to=S.VOIDED, actor=actor, perm=VOID, closed_reason=reason)
    _close(claim, KINDS, "Claim voided.", actor)
    denials.resolve_claim_denials(claim, note="Claim voided.", actor=actor)
    if not at_payer:
        return claim, None
    return claim, _copy(claim, frequency=Claim.Frequency.VOID, actor=actor)


@transaction.atomic
def correct(claim: Claim, *, actor: User | None, reason: str) -> tuple[Claim, Claim]:
    """-> corrected, and a frequency 7 replacement claim (a draft with the same charges) to fix and submit."""
    reason = _reason(reason)
    claim = _move(claim, to=S.CORRECTED, actor=actor, perm=VOID, closed_reason=reason)
    _close(claim, KINDS, "Claim replaced by a corrected claim.", actor)
    denials.resolve_claim_denials(claim, note="Corrected claim (frequency 7) drafted.", actor=actor)
    return claim, _copy(claim, frequency=Claim.Frequency.REPLACEMENT, actor=actor)


# ---------------------------------------------------------------------------------------------
# Follow-ups (the sweep calls these; each opens its item once per claim)
# ---------------------------------------------------------------------------------------------


def flag(claim: Claim, *, kind: str, title: str, detail: str, due_at: datetime, now: datetime) -> bool:
    """Open the item and set the claim's flag for `kind` under the row lock; False when flagged already."""
    column = {
        FOLLOW_UP: "follow_up_flagged_at",
        UNPAID: "unpaid_flagged_at",
        FILING_DEADLINE: "filing_deadline_flagged_at",
    }[kind]
    with transaction.atomic():
        claim = lock(claim)
        if getattr(claim, column) is not None:
            return False
        setattr(claim, column, now)
        claim.save(update_fields=[column, "updated_at"])
        open_work_item(kind=kind, subject=claim, patient=claim.patient, title=title, detail=detail, due_at=due_at)
    return True
