"""Order states and transitions: the only code that sets Order.status.

pended → signed | returned | cancelled; returned → pended (edited and re-pended) | cancelled.
Signed and cancelled are final: a signed order is never edited (a change is a new order and a
new signature). Signing locks the rows (`select_for_update`) and checks status and content hash
under the lock, so twenty clicks give one signature; effects run after commit through the outbox.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import TYPE_CHECKING, Any
from uuid import UUID

from auditlog.context import disable_auditlog
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from vma import audit, outbox
from vma.access import can_access_patient, panel_ids
from vma.exceptions import ActionRefused, NotPermitted
from vma.models import AuditEvent
from vma.roles import Role
from vma.signing import SignOutcome
from vma.workflow import close_work_item, open_work_item

from . import services
from .models import Order
from .policy import CANCEL, CHANGE, PEND, SIGN

if TYPE_CHECKING:
    from encounters.models import Encounter, EncounterDiagnosis
    from vma.models import User, WorkItem

S = Order.Status
TRANSITIONS: dict[str, frozenset[str]] = {
    S.PENDED: frozenset({S.PENDED, S.SIGNED, S.RETURNED, S.CANCELLED}),  # pended → pended: edited
    S.RETURNED: frozenset({S.PENDED, S.CANCELLED}),
    S.SIGNED: frozenset(),
    S.CANCELLED: frozenset(),
}
RETURNED_KIND = "orders.returned"
EFFECTS_HANDLER = "orders.apply_effects"
KIND_CODE = "order"  # the SignableKind code of orders in vma.signing
CHANGED = "Changed since you reviewed it: look at it again before signing."
NOT_FOUND = "Not found."


def order_url(item: WorkItem) -> str:
    return reverse("orders_detail", args=[item.subject.public_id])  # type: ignore[union-attr]


def _check(actor: User, order: Order, perm: str, message: str) -> None:
    if not can_access_patient(actor, order.patient, perm):
        raise NotPermitted(message)


def _lock(order: Order) -> Order:
    return (
        Order.objects.select_for_update(of=("self",))
        .select_related("patient", "encounter", "diagnosis", "pended_by", "signed_by")
        .get(pk=order.pk)
    )


def _move(order: Order, *, to: str, **changes: Any) -> Order:
    """Refuse a move the table does not allow, save. Callers are atomic and hold the row lock."""
    if to not in TRANSITIONS[order.status]:
        raise ActionRefused(
            f"This order is {order.get_status_display().lower()}; it cannot become {S(to).label.lower()}."
        )
    order.status = to
    fields = {"status", "updated_at"}
    for name, value in changes.items():
        setattr(order, name, value)
        fields.add(name)
    order.save(update_fields=sorted(fields))
    return order


# ---------------------------------------------------------------------------------------------
# The VMA: pend, edit (re-pend), cancel
# ---------------------------------------------------------------------------------------------


@transaction.atomic
def pend_order(
    encounter: Encounter,
    *,
    actor: User,
    kind: str,
    diagnosis: EncounterDiagnosis | None,
    now: datetime | None = None,
    **data: Any,
) -> Order:
    """A VMA pends an order of the visit for its provider's signature. ValidationError on bad fields."""
    if not can_access_patient(actor, encounter.patient, PEND):
        raise NotPermitted("You cannot pend orders for this patient.")
    fields = services.clean_fields(kind, data)
    services.check_diagnosis(diagnosis, encounter.pk)
    now = now or timezone.now()
    return Order.objects.create(
        encounter=encounter,
        patient=encounter.patient,
        provider=encounter.provider,
        diagnosis=diagnosis,
        kind=kind,
        status=S.PENDED,
        pended_by=actor,
        pended_at=now,
        needs_prior_auth=services.needs_prior_auth(encounter.patient, kind, fields, on=timezone.localdate(now)),
        **fields,
    )


@transaction.atomic
def edit_order(
    order: Order, *, actor: User, diagnosis: EncounterDiagnosis | None, now: datetime | None = None, **data: Any
) -> Order:
    """Change a pended or returned order; a returned one is re-pended (its work item closes).

    The content hash follows the content, so a provider's page showing the old version can no
    longer sign it ("changed since you reviewed it").
    """
    order = _lock(order)
    _check(actor, order, CHANGE, "You cannot change this order.")
    if not order.is_editable:
        raise ActionRefused(f"This order is {order.get_status_display().lower()}; it can no longer be changed.")
    fields = services.clean_fields(order.kind, data)
    services.check_diagnosis(diagnosis, order.encounter_id)
    now = now or timezone.now()
    was_returned = order.status == S.RETURNED
    fields["needs_prior_auth"] = services.needs_prior_auth(
        order.patient, order.kind, fields, on=timezone.localdate(now)
    )
    order = _move(order, to=S.PENDED, diagnosis=diagnosis, pended_by=actor, pended_at=now, **fields)
    if was_returned:
        close_work_item(kind=RETURNED_KIND, subject=order, note="Edited and pended again.", actor=actor)
    return order


@transaction.atomic
def cancel_order(order: Order, *, actor: User, reason: str, now: datetime | None = None) -> Order:
    reason = (reason or "").strip()
    order = _lock(order)
    _check(actor, order, CANCEL, "You cannot cancel this order.")
    if not reason:
        raise ActionRefused("Give the reason for cancelling.", status_code=400)
    if order.status == S.SIGNED:
        raise ActionRefused("This order is signed; a signed order cannot be cancelled here.")
    order = _move(
        order, to=S.CANCELLED, cancel_reason=reason[:300], cancelled_by=actor, cancelled_at=now or timezone.now()
    )
    close_work_item(kind=RETURNED_KIND, subject=order, note=f"Order cancelled: {reason}", actor=actor, cancel=True)
    return order


# ---------------------------------------------------------------------------------------------
# The provider: sign, return (batches; one outcome per id, in the order given)
# ---------------------------------------------------------------------------------------------


def _check_signer(provider: User) -> None:
    if not (provider.is_authenticated and provider.has_perm(SIGN) and provider.has_role(Role.PROVIDER)):
        raise NotPermitted("Only a provider signs orders.")


def _lock_for(provider: User, ids: list[UUID]) -> dict[UUID, Order]:
    """The provider's own orders among `ids`, locked in id order (two batches never deadlock).

    Another provider's order, or one of a patient outside their panels, is simply absent: it
    answers "not found", like an id that does not exist.
    """
    rows = (
        Order.objects.select_for_update(of=("self",))
        .select_related("patient", "encounter", "diagnosis", "signed_by", "cancelled_by", "pended_by")
        .filter(public_id__in=ids, provider=provider, patient__care_team_id__in=panel_ids(provider))
        .order_by("pk")
    )
    return {o.public_id: o for o in rows}


def _refusal(order: Order) -> str | None:
    if order.status == S.SIGNED:
        assert order.signed_at is not None
        return f"Already signed by {order.signed_by} at {timezone.localtime(order.signed_at):%m/%d %H:%M}."
    if order.status == S.RETURNED:
        return "Returned to the VMA; it must be pended again before it can be signed."
    if order.status == S.CANCELLED:
        return f"Cancelled by {order.cancelled_by}: {order.cancel_reason}"
    return None


@transaction.atomic
def sign_orders(
    ids: Iterable[UUID],
    *,
    provider: User,
    hashes: dict[UUID, str],
    second_factor_ok: bool = False,
    now: datetime | None = None,
) -> list[SignOutcome]:
    """Sign each order exactly once, if it is the provider's, pended, unchanged since it was shown
    (its hash), and, for a controlled substance, the second factor was given."""
    _check_signer(provider)
    wanted = list(dict.fromkeys(ids))
    now = now or timezone.now()
    orders = _lock_for(provider, wanted)
    outcomes = []
    signed: list[Order] = []
    for public_id in wanted:
        order = orders.get(public_id)
        if order is None:
            outcomes.append(SignOutcome(KIND_CODE, public_id, False, NOT_FOUND))
            continue
        refusal = _refusal(order)
        current = services.order_hash(order)
        if refusal is None and hashes.get(public_id) != current:
            refusal = CHANGED
        if refusal is None and order.is_controlled and not second_factor_ok:
            refusal = (
                f"{order.get_controlled_schedule_display()} controlled substance: "
                "re-enter your password and a one-time code to sign it."
            )
        if refusal is not None:
            outcomes.append(SignOutcome(KIND_CODE, public_id, False, refusal))
            continue
        # The hot path of the batch: auditlog would re-read each row and chain one entry per
        # order; the batch's signatures are written to the audit chain once, below, instead.
        with disable_auditlog():
            _move(
                order,
                to=S.SIGNED,
                signed_by=provider,
                signed_at=now,
                signed_hash=current,
                second_factor_at=now if order.is_controlled else None,
            )
        outbox.enqueue(EFFECTS_HANDLER, {"order_id": order.pk}, key=f"order-effects:{order.pk}")
        outcomes.append(SignOutcome(KIND_CODE, public_id, True, "Signed"))
        signed.append(order)
    if signed:
        audit.append(
            kind=AuditEvent.Kind.WRITE,
            action="orders.sign",
            actor=provider,
            target=f"orders:{len(signed)}",
            patient_ids=[o.patient_id for o in signed],
            detail={
                "fields": ["status", "signed_by", "signed_at", "signed_hash", "second_factor_at"],
                "signed_at": now.isoformat(),
                "orders": [
                    {"id": str(o.public_id), "hash": o.signed_hash, "second_factor": o.second_factor_at is not None}
                    for o in signed
                ],
            },
        )
    return outcomes


def _vma_queue(order: Order) -> str:
    """The pending VMA's queue: their clinical role (clinical support unless they are a nurse)."""
    roles = order.pended_by.role_names
    return Role.CLINICAL_SUPPORT if Role.CLINICAL_SUPPORT in roles or Role.NURSE not in roles else Role.NURSE


@transaction.atomic
def return_orders(
    ids: Iterable[UUID], *, provider: User, comment: str, now: datetime | None = None
) -> list[SignOutcome]:
    """Send pended orders back to the VMA with the provider's comment, as a work item in their queue."""
    _check_signer(provider)
    comment = (comment or "").strip()
    if not comment:
        raise ActionRefused("Say what needs to change (a comment is required to return).", status_code=400)
    wanted = list(dict.fromkeys(ids))
    now = now or timezone.now()
    orders = _lock_for(provider, wanted)
    outcomes = []
    for public_id in wanted:
        order = orders.get(public_id)
        if order is None:
            outcomes.append(SignOutcome(KIND_CODE, public_id, False, NOT_FOUND))
            continue
        refusal = _refusal(order)
        if refusal is not None:
            outcomes.append(SignOutcome(KIND_CODE, public_id, False, refusal))
            continue
        _move(order, to=S.RETURNED, returned_comment=comment[:500], returned_by=provider, returned_at=now)
        open_work_item(
            kind=RETURNED_KIND,
            subject=order,
            patient=order.patient,
            title=f"Order returned by {provider}: {order.title}"[:200],
            detail=f"{provider} returned this order: “{comment}”. Edit it and pend it again, or cancel it.",
            queue=_vma_queue(order),
            actor=provider,
        )
        outcomes.append(SignOutcome(KIND_CODE, public_id, True, "Returned to the VMA"))
    return outcomes
