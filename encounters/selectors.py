"""Reads of encounters: the one access choke point, the note page's data, the day's visits, the signed content."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import Prefetch, QuerySet
from django.http import Http404
from django.utils import timezone

from scheduling.models import FREEING_STATUSES, Appointment
from vma.access import patient_scope_q
from vma.models import User
from vma.signing import content_hash

from .models import Addendum, AfterVisitSummary, EducationMaterial, Encounter, EncounterDiagnosis
from .policy import OPEN, VIEW, VIEW_AVS

# Appointment states in which the visit's note can be opened: the patient is here (or in the video
# room), or the visit is over and the note is being finished.
OPENABLE_STATUSES = (
    Appointment.Status.CHECKED_IN,
    Appointment.Status.IN_ROOM,
    Appointment.Status.COMPLETED,
)


def accessible_encounters(user: User, perm: str = VIEW) -> QuerySet[Encounter]:
    if not user.is_authenticated or not user.has_perm(perm):
        return Encounter.objects.none()
    return Encounter.objects.filter(patient_scope_q(user))


def access_encounter(user: User, public_id: Any, perm: str = VIEW) -> Encounter:
    """An encounter the user may see (or act on with `perm`), or 404: missing and not yours answer alike."""
    try:
        return (
            accessible_encounters(user, perm)
            .select_related("patient", "provider", "appointment", "signed_by", "pended_by", "returned_by")
            .get(public_id=public_id)
        )
    except (Encounter.DoesNotExist, ValidationError, ValueError, TypeError):
        raise Http404("No such encounter.") from None


def access_diagnosis(encounter: Encounter, public_id: Any) -> EncounterDiagnosis:
    try:
        return encounter.diagnoses.get(public_id=public_id)
    except (EncounterDiagnosis.DoesNotExist, ValidationError, ValueError, TypeError):
        raise Http404("No such diagnosis.") from None


def access_visit(user: User, public_id: Any) -> Appointment:
    """An appointment of the user's patients whose note the user may open, or 404."""
    if not user.is_authenticated or not user.has_perm(OPEN):
        raise Http404("No such appointment.")
    try:
        return (
            Appointment.objects.filter(patient_scope_q(user))
            .select_related("patient", "provider")
            .get(public_id=public_id)
        )
    except (Appointment.DoesNotExist, ValidationError, ValueError, TypeError):
        raise Http404("No such appointment.") from None


def diagnoses_of(encounter: Encounter) -> list[EncounterDiagnosis]:
    return list(encounter.diagnoses.order_by("rank", "pk"))


def addenda_of(encounter: Encounter) -> list[Addendum]:
    return list(encounter.addenda.select_related("author").order_by("created_at", "pk"))


def signed_content(encounter: Encounter, diagnoses: list[EncounterDiagnosis]) -> dict[str, Any]:
    """Exactly what a signature covers: the note's identity, its SOAP fields and its ranked, coded diagnoses."""
    return {
        "encounter": str(encounter.public_id),
        **{name: getattr(encounter, name) for name in Encounter.NOTE_FIELDS},
        "diagnoses": [{"rank": d.rank, "code": d.code, "description": d.description} for d in diagnoses],
    }


def note_hash(encounter: Encounter, diagnoses: list[EncounterDiagnosis] | None = None) -> str:
    return content_hash(signed_content(encounter, diagnoses if diagnoses is not None else diagnoses_of(encounter)))


def missing_for_signature(encounter: Encounter, diagnoses: list[EncounterDiagnosis]) -> list[str]:
    """The practice's minimum for a note to be signed (and so to be pended): what a person still has to do."""
    missing = []
    if not encounter.chief_complaint.strip():
        missing.append("write the chief complaint")
    if not diagnoses:
        missing.append("code at least one diagnosis (ICD-10-CM)")
    if not encounter.plan.strip():
        missing.append("write the plan")
    return missing


@dataclass
class NotePage:
    encounter: Encounter
    diagnoses: list[EncounterDiagnosis]
    addenda: list[Addendum]
    content_hash: str
    missing: list[str]


def note_page(encounter: Encounter) -> NotePage:
    """Everything the note page shows, in a constant number of queries (diagnoses, addenda)."""
    diagnoses = diagnoses_of(encounter)
    return NotePage(
        encounter=encounter,
        diagnoses=diagnoses,
        addenda=addenda_of(encounter),
        content_hash=note_hash(encounter, diagnoses),
        missing=missing_for_signature(encounter, diagnoses),
    )


def visits_of_day(user: User, *, day: date, provider: User | None = None) -> QuerySet[Appointment]:
    """The day's visits of the user's patients, with their encounter if one was opened (one query)."""
    if not user.is_authenticated or not user.has_perm(VIEW):
        return Appointment.objects.none()
    start = timezone.make_aware(datetime.combine(day, time.min))
    end = timezone.make_aware(datetime.combine(day + timedelta(days=1), time.min))
    qs = (
        Appointment.objects.filter(patient_scope_q(user), start_at__gte=start, start_at__lt=end)
        .exclude(status__in=FREEING_STATUSES)
        .select_related("patient", "provider", "encounter")
    )
    if provider is not None:
        qs = qs.filter(provider=provider)
    return qs.order_by("start_at", "id")


def pended_notes(provider: User) -> QuerySet[Encounter]:
    """Notes awaiting this provider's signature, within their panels, diagnoses prefetched (two queries)."""
    from .policy import SIGN

    if not provider.is_authenticated or not provider.is_active or not provider.has_perm(SIGN):
        return Encounter.objects.none()
    return (
        Encounter.objects.filter(patient_scope_q(provider), provider=provider, status=Encounter.Status.PENDED)
        .select_related("patient", "pended_by")
        .prefetch_related(Prefetch("diagnoses", queryset=EncounterDiagnosis.objects.order_by("rank", "pk")))
        .order_by("patient__last_name", "patient__first_name", "pended_at", "pk")
    )


def accessible_summaries(user: User, perm: str = VIEW_AVS) -> QuerySet[AfterVisitSummary]:
    if not user.is_authenticated or not user.has_perm(perm):
        return AfterVisitSummary.objects.none()
    return AfterVisitSummary.objects.filter(patient_scope_q(user))


def selectable_materials() -> QuerySet[EducationMaterial]:
    """Only what a provider approved and nobody retired can go on a summary."""
    return EducationMaterial.objects.filter(active=True, approved_at__isnull=False).order_by("title")


def library() -> QuerySet[EducationMaterial]:
    return EducationMaterial.objects.select_related("approved_by", "created_by").order_by("-active", "title")
