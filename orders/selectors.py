"""Reads of orders: the one access choke point, the signing queue's lines, the after-visit-summary lines."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from uuid import UUID

from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import Http404

from encounters.models import Encounter, EncounterDiagnosis
from vma.access import panel_ids, patient_scope_q
from vma.signing import PendingSignature

from . import services
from .models import Order
from .policy import SIGN, VIEW

if TYPE_CHECKING:
    from vma.models import User

_LOOKUP_ERRORS = (ValidationError, ValueError, TypeError)
_NOTE_TEXTS = ("hpi", "ros", "exam", "assessment", "plan")


# ---------------------------------------------------------------------------------------------
# Access: missing and not yours answer alike (404)
# ---------------------------------------------------------------------------------------------


def accessible_orders(user: User, perm: str = VIEW) -> QuerySet[Order]:
    if not user.is_authenticated or not user.has_perm(perm):
        return Order.objects.none()
    return Order.objects.filter(patient_scope_q(user))


def access_order(user: User, public_id: Any, perm: str = VIEW) -> Order:
    try:
        return (
            accessible_orders(user, perm)
            .select_related("patient", "encounter", "diagnosis", "provider", "pended_by", "signed_by")
            .get(public_id=public_id)
        )
    except (Order.DoesNotExist, *_LOOKUP_ERRORS):
        raise Http404("No such order.") from None


def access_encounter(user: User, public_id: Any, perm: str = VIEW) -> Encounter:
    """An encounter whose orders the user may see (or pend, with perm=add_order), or 404."""
    if not user.is_authenticated or not user.has_perm(perm):
        raise Http404("No such visit.")
    try:
        return (
            Encounter.objects.filter(patient_scope_q(user))
            .select_related("patient", "provider", "appointment")
            .get(public_id=public_id)
        )
    except (Encounter.DoesNotExist, *_LOOKUP_ERRORS):
        raise Http404("No such visit.") from None


def encounter_diagnosis(encounter: Encounter, ref: Any) -> EncounterDiagnosis | None:
    """One of the encounter's diagnoses by public id or by ICD-10-CM code; None if it has no such one."""
    ref = str(ref or "").strip()
    if not ref:
        return None
    diagnoses = encounter.diagnoses.all()
    try:
        return diagnoses.get(public_id=UUID(ref))
    except ValueError:
        return diagnoses.filter(code__iexact=ref).first()
    except EncounterDiagnosis.DoesNotExist:
        return None


def encounter_orders(encounter: Encounter) -> list[Order]:
    """Every order of the visit, newest first, in one query."""
    return list(
        encounter.orders.select_related("diagnosis", "pended_by", "signed_by", "returned_by", "cancelled_by").order_by(
            "-pended_at", "-pk"
        )
    )


# ---------------------------------------------------------------------------------------------
# The signing queue
# ---------------------------------------------------------------------------------------------


def pending_orders(provider: User) -> QuerySet[Order]:
    """Pended orders awaiting this provider, for patients of their panels (one query)."""
    if not provider.is_authenticated or not provider.has_perm(SIGN):
        return Order.objects.none()
    return (
        Order.objects.filter(
            provider=provider, status=Order.Status.PENDED, patient__care_team_id__in=panel_ids(provider)
        )
        .select_related("patient", "encounter", "diagnosis", "pended_by")
        # Only the visit's id is shown and hashed: leave its note's long texts in the database.
        .defer(*(f"encounter__{name}" for name in _NOTE_TEXTS))
        .order_by("patient__last_name", "patient__first_name", "patient_id", "pended_at", "pk")
    )


def order_line(order: Order) -> PendingSignature:
    return PendingSignature(
        kind="order",
        public_id=order.public_id,
        patient=order.patient,
        title=f"{order.get_kind_display()}: {order.title}",
        effect=services.effect_text(order),
        pended_by=str(order.pended_by),
        pended_at=order.pended_at,
        content_hash=services.order_hash(order),
        requires_second_factor=order.is_controlled,
        detail=services.detail_text(order),
    )


# ---------------------------------------------------------------------------------------------
# The after visit summary (encounters/ calls this)
# ---------------------------------------------------------------------------------------------


def patient_instructions(order: Order) -> str:
    """Patient-facing words for one signed order: what happens next."""
    extra = f" {order.instructions}" if order.instructions else ""
    if order.kind == Order.Kind.LAB:
        return f"Have your blood drawn for: {order.title}.{extra}"
    if order.kind == Order.Kind.IMAGING:
        return f"Have this imaging done: {order.title}.{extra}"
    if order.kind == Order.Kind.PRESCRIPTION:
        medicine = " ".join(p for p in (order.drug, order.strength) if p)
        where = f" Sent to {order.pharmacy}." if order.pharmacy else ""
        return f"New medicine: {medicine}, {order.sig}.{where}{extra}"
    if order.kind == Order.Kind.REFERRAL:
        return f"You are being referred to {order.specialty}: {order.reason}.{extra}"
    return f"Book a follow-up visit in {services.weeks_or_days(order.follow_up_in_days or 0)}.{extra}"


def avs_lines(encounter: Encounter) -> list[dict[str, Any]]:
    """The encounter's SIGNED orders in patient words, for the after visit summary (one query).

    Keys: kind, kind_label, title, instructions. Pended, returned and cancelled orders are left out:
    only what the provider signed is promised to the patient.
    """
    orders = Order.objects.filter(encounter=encounter, status=Order.Status.SIGNED).order_by("kind", "pk")
    return [
        {
            "kind": o.kind,
            "kind_label": o.get_kind_display(),
            "title": o.title,
            "instructions": patient_instructions(o),
        }
        for o in orders
    ]
