"""Reads of claims: the one choke point for lists and details, counts by status, visits to bill."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import Count, Exists, OuterRef, QuerySet
from django.http import Http404
from django.utils import timezone

from scheduling.models import Appointment
from vma.access import panel_ids, patient_scope_q
from vma.models import User

from .models import Claim

VIEW = "billing.view_claim"


def accessible_claims(user: User) -> QuerySet[Claim]:
    """Claims of the user's care teams, for readers of claims; nothing otherwise."""
    if not user.is_authenticated or not user.has_perm(VIEW):
        return Claim.objects.none()
    return Claim.objects.filter(patient_scope_q(user))


def access_claim(user: User, public_id: Any) -> Claim:
    """A claim the user may see, or 404 (missing and not yours answer alike)."""
    try:
        return (
            accessible_claims(user)
            .select_related("patient", "coverage", "payer", "appointment", "rendering_provider", "original_claim")
            .get(public_id=public_id)
        )
    except (Claim.DoesNotExist, ValidationError, ValueError, TypeError):
        raise Http404("No such claim.") from None


def claim_list(user: User, *, status: str = "") -> QuerySet[Claim]:
    qs = accessible_claims(user).select_related("patient", "payer", "rendering_provider")
    if status in Claim.Status.values:
        qs = qs.filter(status=status)
    return qs.order_by("-service_date", "-id")


def status_counts(user: User) -> dict[str, int]:
    """How many claims in each status (one grouped query)."""
    rows = accessible_claims(user).order_by().values("status").annotate(n=Count("id"))
    counts = dict.fromkeys(Claim.Status.values, 0)
    counts.update({r["status"]: r["n"] for r in rows})
    return counts


def visits_to_bill(user: User, *, days: int = 60) -> QuerySet[Appointment]:
    """Completed visits of the user's teams in the last `days` with no claim yet (one query)."""
    if not user.has_perm("billing.add_claim"):
        return Appointment.objects.none()
    since = timezone.now() - timedelta(days=days)
    billed = Claim.objects.filter(appointment=OuterRef("pk")).exclude(status__in=["voided", "corrected"])
    return (
        Appointment.objects.filter(
            patient__care_team_id__in=panel_ids(user), status=Appointment.Status.COMPLETED, start_at__gte=since
        )
        .exclude(Exists(billed))
        .select_related("patient", "provider")
        .order_by("-start_at")
    )


def access_visit(user: User, public_id: Any) -> Appointment:
    try:
        return (
            Appointment.objects.filter(patient__care_team_id__in=panel_ids(user))
            .select_related("patient", "provider")
            .get(public_id=public_id)
        )
    except (Appointment.DoesNotExist, ValidationError, ValueError, TypeError):
        raise Http404("No such visit.") from None
