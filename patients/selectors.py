"""Reads of patients: search within access, and the patient page's data."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import Q, QuerySet
from django.http import Http404
from django.utils import timezone

from vma.access import accessible_patients, panel_ids
from vma.models import CareTeamUserObjectPermission, User

from .caregaps import GapView, StandingOrderSuggestion, gap_views, standing_orders
from .models import (
    Allergy,
    ChartDocument,
    Coverage,
    ExpectedResult,
    Immunization,
    Medication,
    Patient,
    Problem,
    Procedure,
    UnmatchedDocument,
)

_DOB_FORMATS = ("%Y-%m-%d", "%m/%d/%Y", "%m-%d-%Y")


def parse_dob(text: str) -> date | None:
    for fmt in _DOB_FORMATS:
        try:
            return datetime.strptime(text, fmt).date()  # noqa: DTZ007 - a date, no time zone
        except ValueError:
            continue
    return None


def search_patients(user: User, query: str) -> QuerySet[Patient]:
    """Search by MRN, date of birth, or name ("last", "last, first", "first last")."""
    qs = accessible_patients(user).select_related("care_team")
    query = (query or "").strip()
    if not query:
        return qs
    dob = parse_dob(query)
    if dob is not None:
        return qs.filter(date_of_birth=dob)
    if re.fullmatch(r"[A-Za-z]*\d[\w-]*", query):
        return qs.filter(mrn__iexact=query) | qs.filter(mrn__istartswith=query.upper())
    if "," in query:
        last, first = (part.strip() for part in query.split(",", 1))
        return qs.filter(last_name__istartswith=last, first_name__istartswith=first)
    words = query.split()
    if len(words) >= 2:
        return qs.filter(
            Q(first_name__istartswith=words[0], last_name__istartswith=words[-1])
            | Q(last_name__istartswith=words[0], first_name__istartswith=words[-1])
        )
    return qs.filter(Q(last_name__istartswith=query) | Q(first_name__istartswith=query))


def accessible_coverages(user: User) -> QuerySet[Coverage]:
    if not user.has_perm("patients.view_coverage"):
        return Coverage.objects.none()
    return Coverage.objects.filter(patient__in=accessible_patients(user))


# The patient page lists results received lately under the outstanding ones, so the person who
# filed or matched one sees it arrive.
RECENTLY_RECEIVED_DAYS = 30


@dataclass
class ChartSummary:
    """The patient page's clinical sections; None where the user's role may not see them."""

    problems: list[Problem] | None = None
    medications: list[Medication] | None = None
    allergies: list[Allergy] | None = None
    immunizations: list[Immunization] | None = None
    procedures: list[Procedure] | None = None
    results: list[ExpectedResult] | None = None
    received_results: list[ExpectedResult] | None = None  # received in the last RECENTLY_RECEIVED_DAYS
    gaps: list[GapView] | None = None
    orders: list[StandingOrderSuggestion] | None = None
    today: date = field(default_factory=timezone.localdate)


def chart_summary(user: User, patient: Patient) -> ChartSummary:
    """History, outstanding results, care gaps and suggested orders: a fixed number of queries."""
    summary = ChartSummary()
    if user.has_perm("patients.view_problem"):
        summary.problems = list(patient.problems.all()[:100])
    if user.has_perm("patients.view_medication"):
        summary.medications = list(patient.medications.order_by("stop_date", "name")[:100])
    if user.has_perm("patients.view_allergy"):
        summary.allergies = list(patient.allergies.all()[:100])
    if user.has_perm("patients.view_immunization"):
        summary.immunizations = list(patient.immunizations.all()[:50])
    if user.has_perm("patients.view_procedure"):
        summary.procedures = list(patient.procedures.select_related("document")[:50])
        summary.gaps = gap_views([patient.pk])[patient.pk]
        summary.orders = standing_orders([patient.pk])[patient.pk]
    if user.has_perm("patients.view_expectedresult"):
        summary.results = list(
            patient.expected_results.filter(status=ExpectedResult.Status.OUTSTANDING).order_by("expected_by")[:50]
        )
        since = timezone.now() - timedelta(days=RECENTLY_RECEIVED_DAYS)
        summary.received_results = list(
            patient.expected_results.filter(status=ExpectedResult.Status.RECEIVED, received_at__gte=since)
            .select_related("document")
            .order_by("-received_at")[:20]
        )
    return summary


def accessible_documents(user: User) -> QuerySet[ChartDocument]:
    """The one choke point for chart documents (lists, details, downloads)."""
    if not user.has_perm("patients.view_chartdocument"):
        return ChartDocument.objects.none()
    return ChartDocument.objects.filter(patient__in=accessible_patients(user, "patients.view_chartdocument"))


def accessible_history(user: User, model: type[Any]) -> QuerySet[Any]:
    """Procedures or immunizations of the user's patients (the care-gap evidence API)."""
    if not user.has_perm(f"patients.view_{model._meta.model_name}"):
        return model.objects.none()  # type: ignore[no-any-return]
    return model.objects.filter(patient__in=accessible_patients(user))  # type: ignore[no-any-return]


def accessible_unmatched(user: User) -> QuerySet[UnmatchedDocument]:
    """The one choke point for partner documents that matched no patient (list, detail, download, actions).

    They have no patient yet, so the care-team rule is applied to who posted them: a user sees the
    documents of partner accounts that share one of the user's care teams. The grant table is read
    directly (not panel_ids of each poster) so a partner account deactivated since still counts.
    """
    if not user.is_authenticated or not user.has_perm("patients.view_unmatcheddocument"):
        return UnmatchedDocument.objects.none()
    posters = CareTeamUserObjectPermission.objects.filter(
        permission__codename="access_panel",
        permission__content_type__app_label="vma",
        content_object_id__in=panel_ids(user),
    ).values("user_id")
    return UnmatchedDocument.objects.filter(posted_by_id__in=posters)


def access_unmatched(user: User, public_id: Any) -> UnmatchedDocument:
    """One unmatched document the user may see, or 404 (missing and not yours answer the same)."""
    try:
        return accessible_unmatched(user).select_related("posted_by", "resolved_by").get(public_id=public_id)
    except (UnmatchedDocument.DoesNotExist, ValidationError, ValueError, TypeError):
        raise Http404("No such document.") from None


def accessible_results(user: User) -> QuerySet[ExpectedResult]:
    """The one choke point for expected results (API detail and actions)."""
    if not user.has_perm("patients.view_expectedresult"):
        return ExpectedResult.objects.none()
    return ExpectedResult.objects.filter(patient__in=accessible_patients(user, "patients.view_expectedresult"))
