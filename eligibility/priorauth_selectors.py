"""Reads of prior authorizations: within access, the work list, the patient panel."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import Http404
from django.utils import timezone

from patients.models import Patient
from vma.access import patient_scope_q
from vma.models import User

from .models import PriorAuthorization

S = PriorAuthorization.Status
VIEW = "eligibility.view_priorauthorization"
CHANGE = "eligibility.change_priorauthorization"
DUE_SOON = timedelta(hours=24)
FILTERS = {"due_soon": "Decision due within 24 h", "overdue": "Decision overdue", "open": "Open", "all": "All"}


def accessible_prior_auths(user: User) -> QuerySet[PriorAuthorization]:
    """The one choke point for lists and details: readers of prior auths, own care teams."""
    if not user.is_authenticated or not user.has_perm(VIEW):
        return PriorAuthorization.objects.none()
    return PriorAuthorization.objects.filter(patient_scope_q(user))


def access_prior_auth(user: User, public_id: Any) -> PriorAuthorization:
    """An authorization the user may see, or 404 (missing and not yours answer alike)."""
    try:
        return (
            accessible_prior_auths(user)
            .select_related("patient", "coverage", "payer", "appointment", "rule")
            .get(public_id=public_id)
        )
    except (PriorAuthorization.DoesNotExist, ValidationError, ValueError, TypeError):
        raise Http404("No such prior authorization.") from None


def prior_auth_list(
    user: User, *, status: str = "", due: str = "", now: datetime | None = None
) -> QuerySet[PriorAuthorization]:
    """The user's panels' authorizations, most pressing first (one query).

    due: "due_soon" (awaiting the payer, decision due within 24 h), "overdue" (deadline passed),
    "all"; by default the open ones.
    """
    now = now or timezone.now()
    qs = accessible_prior_auths(user).select_related("patient", "payer", "appointment")
    if status in S.values:
        qs = qs.filter(status=status)
    elif due != "all":
        qs = qs.filter(status__in=PriorAuthorization.OPEN)
    if due == "due_soon":
        qs = qs.filter(
            status__in=PriorAuthorization.AWAITING_PAYER, decision_due_at__gte=now, decision_due_at__lt=now + DUE_SOON
        )
    elif due == "overdue":
        qs = qs.filter(status__in=PriorAuthorization.AWAITING_PAYER, decision_due_at__lt=now)
    return qs.order_by("decision_due_at", "-created_at", "-id")


def patient_prior_auths(patient: Patient) -> list[PriorAuthorization]:
    """A patient's authorizations for the chart panel: open ones first, then the last closed ones."""
    rows = list(
        PriorAuthorization.objects.filter(patient=patient)
        .select_related("payer", "appointment")
        .order_by("-created_at", "-id")[:50]
    )
    return sorted(rows, key=lambda a: (not a.is_open,))
