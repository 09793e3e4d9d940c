"""Reads of referrals: the one choke point per audience (staff by care team, a specialist by its own
referrals), the filtered list, the specialist directory, and the chart scrub's batch read."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from uuid import UUID

from django.core.exceptions import ValidationError
from django.db.models import Count, Q, QuerySet
from django.http import Http404
from django.utils import timezone

from vma.access import patient_scope_q
from vma.models import User

from .models import Referral, ReferralContact, Specialist

S = Referral.Status
VIEW = "referrals.view_referral"
VIEW_SPECIALIST = "referrals.view_specialist"

# Age buckets of open referrals, in days since created (the dashboard's columns and the list's filter).
AGE_BUCKETS: list[tuple[str, int, int | None]] = [
    ("0-7", 0, 7),
    ("8-14", 8, 14),
    ("15-30", 15, 30),
    ("31-60", 31, 60),
    ("61+", 61, None),
]
# A sent referral still without an appointment after this long counts as leaked (never scheduled).
LEAKAGE_DAYS = 30


def accessible_referrals(user: User, perm: str = VIEW) -> QuerySet[Referral]:
    """Referrals of the user's care teams' patients, if the role may see referrals at all."""
    if not user.is_authenticated or not user.has_perm(perm):
        return Referral.objects.none()
    return Referral.objects.filter(patient_scope_q(user))


def access_referral(user: User, public_id: Any, perm: str = VIEW) -> Referral:
    """A referral the user may see, or 404 (missing and not yours answer alike)."""
    try:
        return (
            accessible_referrals(user, perm)
            .select_related(
                "patient",
                "specialist",
                "referring_provider",
                "encounter",
                "coverage__payer",
                "report_document",
                "reviewed_by",
                "replaces",
                "order",
            )
            .get(public_id=public_id)
        )
    except (Referral.DoesNotExist, ValidationError, ValueError, TypeError):
        raise Http404("No such referral.") from None


# --- the specialist's side ----------------------------------------------------------------------


def specialist_of(user: User) -> Specialist | None:
    """The active specialist a partner account answers for (None for everyone else)."""
    if not user.is_authenticated or not user.is_service_account:
        return None
    return Specialist.objects.filter(service_account=user, active=True).first()


def specialist_referrals(user: User) -> QuerySet[Referral]:
    """What a specialist's token sees: referrals sent to it (never drafts), nothing else."""
    specialist = specialist_of(user)
    if specialist is None:
        return Referral.objects.none()
    return Referral.objects.filter(specialist=specialist).exclude(status=S.DRAFT)


def access_specialist_referral(user: User, public_id: Any) -> Referral:
    try:
        return (
            specialist_referrals(user)
            .select_related("patient", "specialist", "referring_provider", "coverage__payer", "report_document")
            .get(public_id=public_id)
        )
    except (Referral.DoesNotExist, ValidationError, ValueError, TypeError):
        raise Http404("No such referral.") from None


# --- the list -----------------------------------------------------------------------------------


@dataclass
class ListFilters:
    status: str = "open"  # a status, "open", "ended" or "all"
    age: str = ""  # an AGE_BUCKETS label (open referrals by days since created)
    specialist: str = ""  # a specialist's public id
    sent_within: int | None = None  # sent in the last N days
    leaked: bool = False  # sent, never scheduled (ended unseen, or no appointment after LEAKAGE_DAYS)
    patient: str = ""  # a patient's public id

    @classmethod
    def from_query(cls, params: Any) -> ListFilters:
        def number(raw: str | None) -> int | None:
            try:
                value = int(raw or "")
            except ValueError:
                return None
            return value if 0 < value <= 3650 else None

        status = params.get("status") or "open"
        valid = {*S.values, "open", "ended", "all"}
        return cls(
            status=status if status in valid else "open",
            age=params.get("age", "") if params.get("age", "") in {b[0] for b in AGE_BUCKETS} else "",
            specialist=params.get("specialist", "")[:36],
            sent_within=number(params.get("sent_within")),
            leaked=params.get("leaked") in ("1", "true", "on"),
            patient=params.get("patient", "")[:36],
        )

    def as_query(self) -> dict[str, str]:
        out = {"status": self.status}
        for key, value in (("age", self.age), ("specialist", self.specialist), ("patient", self.patient)):
            if value:
                out[key] = value
        if self.sent_within:
            out["sent_within"] = str(self.sent_within)
        if self.leaked:
            out["leaked"] = "1"
        return out


def _uuid(raw: str) -> UUID | None:
    try:
        return UUID(raw)
    except (ValueError, TypeError):
        return None


def age_q(label: str, now: datetime) -> Q:
    """Created within the bucket's days (inclusive), counted back from now."""
    for name, low, high in AGE_BUCKETS:
        if name == label:
            q = Q(created_at__lte=now - timedelta(days=low))
            if high is not None:
                q &= Q(created_at__gt=now - timedelta(days=high + 1))
            return q
    return Q()


def leaked_q(now: datetime) -> Q:
    """Sent, never given an appointment nor seen: ended that way, or still waiting past LEAKAGE_DAYS."""
    never = Q(sent_at__isnull=False, first_scheduled_at__isnull=True, seen_at__isnull=True)
    ended_unseen = Q(status__in=[S.DECLINED, S.CANCELLED, S.EXPIRED])
    stale = Q(status__in=[S.SENT, S.ACKNOWLEDGED], sent_at__lt=now - timedelta(days=LEAKAGE_DAYS))
    return never & (ended_unseen | stale)


def filter_referrals(qs: QuerySet[Referral], f: ListFilters, *, now: datetime) -> QuerySet[Referral]:
    if f.status == "open":
        qs = qs.filter(status__in=Referral.OPEN_STATES)
    elif f.status == "ended":
        qs = qs.filter(status__in=Referral.ENDED)
    elif f.status != "all":
        qs = qs.filter(status=f.status)
    if f.age:
        qs = qs.filter(age_q(f.age, now))
    if f.specialist:
        sid = _uuid(f.specialist)
        qs = qs.filter(specialist__public_id=sid) if sid else qs.none()
    if f.patient:
        pid = _uuid(f.patient)
        qs = qs.filter(patient__public_id=pid) if pid else qs.none()
    if f.sent_within:
        qs = qs.filter(sent_at__gte=now - timedelta(days=f.sent_within))
    if f.leaked:
        qs = qs.filter(leaked_q(now))
    return qs


def referral_list(user: User, f: ListFilters, *, now: datetime | None = None) -> QuerySet[Referral]:
    """The user's referrals as filtered, newest first, with what a row shows (one query)."""
    now = now or timezone.now()
    return (
        filter_referrals(accessible_referrals(user), f, now=now)
        .select_related("patient", "specialist", "referring_provider")
        .order_by("-created_at", "-id")
    )


def status_counts(user: User) -> dict[str, int]:
    rows = accessible_referrals(user).values("status").annotate(n=Count("id")).order_by()
    counts = dict.fromkeys(S.values, 0)
    for row in rows:
        counts[row["status"]] = row["n"]
    return counts


def contacts(referral: Referral) -> list[ReferralContact]:
    return list(referral.contacts.select_related("by__specialist").order_by("at", "id"))


# --- the specialist directory -------------------------------------------------------------------


def directory(*, specialty: str = "", include_inactive: bool = False) -> QuerySet[Specialist]:
    qs = Specialist.objects.all() if include_inactive else Specialist.objects.filter(active=True)
    if specialty:
        qs = qs.filter(specialty__iexact=specialty.strip())
    return qs.prefetch_related("accepted_payers").order_by("specialty", "organisation", "name")


def specialties() -> list[str]:
    return list(
        Specialist.objects.filter(active=True).order_by("specialty").values_list("specialty", flat=True).distinct()
    )


def specialist_choices(referral: Referral, payer_id: int | None) -> list[tuple[Specialist, bool | None]]:
    """Active specialists of the referral's specialty, in network for the patient's plan first.

    (specialist, in network?) — None when there is no plan to check against.
    """
    rows = []
    for s in directory(specialty=referral.specialty):
        accepted = {p.pk for p in s.accepted_payers.all()}
        rows.append((s, None if payer_id is None else payer_id in accepted))
    rows.sort(key=lambda r: (r[1] is False, r[0].organisation, r[0].name))
    return rows


# --- the chart scrub's read (huddle/facts.py) ---------------------------------------------------


@dataclass(frozen=True)
class AwaitingReport:
    public_id: UUID
    specialty: str
    specialist: str  # the organisation, or "" when none chosen
    status: str
    sent_on: date | None
    visit_on: date | None  # seen, or the appointment date
    due_back: bool  # the visit happened (seen, or its date passed): the report should be in
    overdue: bool  # the report rule's wait after the visit has passed

    @property
    def text(self) -> str:
        who = f"{self.specialty}" + (f" ({self.specialist})" if self.specialist else "")
        if self.status == S.SEEN and self.visit_on:
            state = f"seen {self.visit_on:%m/%d}"
        elif self.visit_on:
            state = f"{'appointment was' if self.due_back else 'appointment'} {self.visit_on:%m/%d}"
        else:
            state = f"{S(self.status).label.lower()}" + (f" {self.sent_on:%m/%d}" if self.sent_on else "")
        return f"{who} — {state}" + (", report overdue" if self.overdue else ", report due" if self.due_back else "")


def awaiting_reports(patient_ids: list[int], *, as_of: date | None = None) -> dict[int, list[AwaitingReport]]:
    """Per patient id, the referrals sent and still awaiting the specialist's report. One query."""
    from .followups import rules

    day = as_of or timezone.localdate()
    out: dict[int, list[AwaitingReport]] = defaultdict(list)
    ids = sorted(set(patient_ids))
    if not ids:
        return out
    report_days = rules()["no_report"].days
    rows = (
        Referral.objects.filter(patient_id__in=ids, status__in=Referral.AWAITING_REPORT)
        .order_by("sent_at", "id")
        .values_list(
            "patient_id",
            "public_id",
            "specialty",
            "specialist__organisation",
            "status",
            "sent_at",
            "seen_at",
            "appointment_at",
        )
    )
    for pid, public_id, specialty, org, status, sent_at, seen_at, appointment_at in rows:
        visit = seen_at or appointment_at
        visit_on = timezone.localdate(visit) if visit else None
        due_back = status == S.SEEN or (visit_on is not None and visit_on < day)
        out[pid].append(
            AwaitingReport(
                public_id=public_id,
                specialty=specialty,
                specialist=org or "",
                status=status,
                sent_on=timezone.localdate(sent_at) if sent_at else None,
                visit_on=visit_on,
                due_back=due_back,
                overdue=due_back and visit_on is not None and visit_on + timedelta(days=report_days) < day,
            )
        )
    return out


# --- for billing: is an HMO claim's referral number on file? ------------------------------------


@dataclass(frozen=True)
class AuthorizationCheck:
    found: bool
    valid: bool
    detail: str


def authorization_on_file(patient_id: int, number: str, day: date) -> AuthorizationCheck:
    """Whether a referral of the patient carries this plan authorization number, valid on the day
    of service with visits left (billing's claim scrubber can call this for HMO claims). One query."""
    number = (number or "").strip()
    referral = (
        Referral.objects.filter(patient_id=patient_id, authorization_number__iexact=number)
        .exclude(status=S.DRAFT)
        .select_related("specialist")
        .order_by("-authorization_expires_on", "-id")
        .first()
        if number
        else None
    )
    if referral is None:
        return AuthorizationCheck(
            False, False, f"No referral of this patient carries authorization {number or '(none)'}."
        )
    expires = referral.authorization_expires_on
    who = referral.specialist.organisation if referral.specialist else referral.specialty
    if expires is not None and day > expires:
        return AuthorizationCheck(True, False, f"Authorization {number} ({who}) expired {expires:%m/%d/%Y}.")
    if referral.visits_allowed is not None and referral.visits_used > referral.visits_allowed:
        return AuthorizationCheck(
            True,
            False,
            f"Authorization {number} ({who}): {referral.visits_used} visits used of {referral.visits_allowed}.",
        )
    return AuthorizationCheck(True, True, f"Authorization {number} ({who}) covers {day:%m/%d/%Y}.")
