"""Reads of patients: search within access, and the patient page's data."""

from __future__ import annotations

import re
from datetime import date, datetime

from django.db.models import Q, QuerySet

from vma.access import accessible_patients
from vma.models import User

from .models import Coverage, Patient

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
