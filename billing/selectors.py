"""Reads of billing: the one choke point per model for lists and details, drill-down filters, accounts."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any

from django.core.exceptions import ValidationError
from django.db.models import Count, Exists, F, OuterRef, Q, QuerySet
from django.http import Http404
from django.utils import timezone

from scheduling.models import Appointment
from vma.access import panel_ids, patient_scope_q
from vma.models import User

from . import revenue
from .models import (
    AdjustmentPosting,
    Appeal,
    Claim,
    Denial,
    PatientBalance,
    PatientLedgerEntry,
    PatientPayment,
    PaymentPosting,
    RemittanceClaim,
    RemittanceFile,
    Statement,
)

if TYPE_CHECKING:
    from patients.models import Patient

VIEW = "billing.view_claim"
VIEW_REMITTANCE = "billing.view_remittancefile"
VIEW_DENIAL = "billing.view_denial"
VIEW_APPEAL = "billing.view_appeal"
VIEW_BALANCE = "billing.view_patientbalance"
VIEW_STATEMENT = "billing.view_statement"


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


# ---------------------------------------------------------------------------------------------
# Drill-down filters of the claim list (the dashboards' cells link here)


@dataclass(frozen=True)
class ClaimFilter:
    """What a dashboard cell counted, as a claim-list filter: the list shows exactly those claims."""

    status: str = ""
    payer: str = ""  # the payer's electronic id
    ar: str = ""  # an AR bucket slug (revenue.BUCKETS), counted on `as_of`
    as_of: date | None = None
    provider: str = ""  # the rendering provider's public id
    denial_reason: str = ""  # claims with a denial led by this CARC, created between since and until
    denied: bool = False  # claims first adjudicated between since and until that had a denial
    since: date | None = None
    until: date | None = None

    @classmethod
    def from_query(cls, params: Any) -> tuple[ClaimFilter, list[str]]:
        """Parse the list's query string; what cannot be read is reported (and leaves the list empty)."""
        problems: list[str] = []

        def day(name: str) -> date | None:
            raw = params.get(name, "")
            if not raw:
                return None
            try:
                return date.fromisoformat(raw)
            except ValueError:
                problems.append(f"“{raw}” is not a date (YYYY-MM-DD) for {name}.")
                return None

        ar = params.get("ar", "")
        if ar and ar not in revenue.BUCKET_SLUGS:
            problems.append(f"“{ar[:20]}” is not an AR bucket.")
            ar = ""
        status = params.get("status", "")
        if status and status not in Claim.Status.values:
            problems.append(f"“{status[:20]}” is not a claim status.")
            status = ""
        provider = params.get("provider", "")
        if provider:
            try:
                uuid.UUID(provider)
            except ValueError:
                problems.append("The provider is not one of ours.")
                provider = ""
        found = cls(
            status=status,
            payer=params.get("payer", "")[:20],
            ar=ar,
            as_of=day("as_of"),
            provider=provider,
            denial_reason=params.get("denial_reason", "")[:5].upper(),
            denied=params.get("denied", "") == "1",
            since=day("since"),
            until=day("until"),
        )
        return found, problems

    @property
    def active(self) -> bool:
        return any((self.payer, self.ar, self.provider, self.denial_reason, self.denied))

    def apply(self, qs: QuerySet[Claim], today: date) -> QuerySet[Claim]:
        if self.status:
            qs = qs.filter(status=self.status)
        if self.payer:
            qs = qs.filter(payer__payer_id=self.payer)
        if self.provider:
            qs = qs.filter(rendering_provider__public_id=self.provider)
        if self.ar:
            qs = revenue.ar_claims(qs).filter(revenue.bucket_q(self.ar, self.as_of or today))
        since = self.since or today - timedelta(days=89)
        until = self.until or today
        start = timezone.make_aware(datetime.combine(since, time.min))
        end = timezone.make_aware(datetime.combine(until + timedelta(days=1), time.min))
        if self.denial_reason:
            qs = qs.filter(
                Exists(
                    Denial.objects.filter(
                        claim=OuterRef("pk"), reason=self.denial_reason, created_at__gte=start, created_at__lt=end
                    )
                )
            )
        if self.denied:
            qs = qs.filter(first_adjudicated_at__gte=start, first_adjudicated_at__lt=end, denied_at__isnull=False)
        return qs


def filtered_claims(user: User, flt: ClaimFilter, *, today: date | None = None) -> QuerySet[Claim]:
    """The claim list under a drill-down filter; the figures' scope (dashboard readers see their teams)."""
    return (
        flt.apply(accessible_claims(user), today or timezone.localdate())
        .select_related("patient", "payer", "rendering_provider")
        .order_by("-service_date", "-id")
    )


# ---------------------------------------------------------------------------------------------
# Remittances, denials, appeals


def remittance_files(user: User) -> QuerySet[RemittanceFile]:
    """835 files are the practice's (one payment spans care teams): any reader of remittances lists them."""
    if not user.is_authenticated or not user.has_perm(VIEW_REMITTANCE):
        return RemittanceFile.objects.none()
    return RemittanceFile.objects.all()


def access_remittance_file(user: User, public_id: Any) -> RemittanceFile:
    try:
        return remittance_files(user).get(public_id=public_id)
    except (RemittanceFile.DoesNotExist, ValidationError, ValueError, TypeError):
        raise Http404("No such remittance.") from None


def visible_remittance_claims(user: User, file: RemittanceFile) -> QuerySet[RemittanceClaim]:
    """A file's 835 claims the user may see: their teams' patients, and the unmatched (no patient yet)."""
    return (
        RemittanceClaim.objects.filter(remittance__file=file)
        .filter(patient_scope_q(user) | Q(patient__isnull=True))
        .select_related("remittance", "claim", "patient")
        .order_by("remittance_id", "sequence")
    )


def access_unmatched(user: User, file: RemittanceFile, public_id: Any) -> RemittanceClaim:
    try:
        return visible_remittance_claims(user, file).get(public_id=public_id, outcome=RemittanceClaim.Outcome.UNMATCHED)
    except (RemittanceClaim.DoesNotExist, ValidationError, ValueError, TypeError):
        raise Http404("No such unmatched claim.") from None


def claim_by_control_number(user: User, pcn: str) -> Claim:
    try:
        return accessible_claims(user).select_related("patient").get(patient_control_number=pcn.strip().upper())
    except Claim.DoesNotExist:
        raise Http404("No such claim.") from None


def accessible_denials(user: User) -> QuerySet[Denial]:
    if not user.is_authenticated or not user.has_perm(VIEW_DENIAL):
        return Denial.objects.none()
    return Denial.objects.filter(patient_scope_q(user, "claim__patient"))


def denial_list(user: User, *, status: str = "open", category: str = "") -> QuerySet[Denial]:
    qs = accessible_denials(user).select_related("claim__patient", "claim__payer")
    if status in Denial.Status.values:
        qs = qs.filter(status=status)
    if category:
        qs = qs.filter(category=category)
    return qs.order_by("-created_at", "-id")


def access_denial(user: User, public_id: Any) -> Denial:
    try:
        return accessible_denials(user).select_related("claim__patient", "claim__payer").get(public_id=public_id)
    except (Denial.DoesNotExist, ValidationError, ValueError, TypeError):
        raise Http404("No such denial.") from None


def accessible_appeals(user: User) -> QuerySet[Appeal]:
    if not user.is_authenticated or not user.has_perm(VIEW_APPEAL):
        return Appeal.objects.none()
    return Appeal.objects.filter(patient_scope_q(user, "claim__patient"))


def access_appeal(user: User, public_id: Any) -> Appeal:
    try:
        return (
            accessible_appeals(user)
            .select_related("claim__patient", "claim__payer", "denial", "sent_by", "created_by")
            .get(public_id=public_id)
        )
    except (Appeal.DoesNotExist, ValidationError, ValueError, TypeError):
        raise Http404("No such appeal.") from None


def claim_remittance(claim: Claim) -> dict[str, Any]:
    """What the payers answered for a claim: postings with their adjustments, denials, appeals (4 queries)."""
    postings = list(
        PaymentPosting.objects.filter(claim=claim)
        .select_related("remittance_claim__remittance")
        .prefetch_related("adjustments")
        .order_by("remittance_claim__created_at", "remittance_claim_id", "sequence")
    )
    claim_level = list(
        AdjustmentPosting.objects.filter(claim=claim, posting__isnull=True).select_related("remittance_claim")
    )
    return {
        "postings": postings,
        "claim_adjustments": claim_level,
        "denials": list(claim.denials.select_related("remittance_claim").order_by("-created_at", "-id")),
        "appeals": list(claim.appeals.order_by("-created_at", "-id")),
    }


# ---------------------------------------------------------------------------------------------
# Patients' balances


def balances(user: User, *, stage: str = "") -> QuerySet[PatientBalance]:
    if not user.is_authenticated or not user.has_perm(VIEW_BALANCE):
        return PatientBalance.objects.none()
    qs = PatientBalance.objects.filter(patient_scope_q(user)).filter(balance__gt=0).select_related("patient")
    if stage in PatientBalance.Stage.values:
        qs = qs.filter(stage=stage)
    return qs.order_by("oldest_open_on", "pk")


def patient_account(patient: Patient) -> dict[str, Any]:
    """A patient's balance row, ledger, open claim balances, payments and statements (5 queries)."""
    return {
        "balance": PatientBalance.objects.filter(patient=patient).first(),
        "entries": list(
            PatientLedgerEntry.objects.filter(patient=patient)
            .select_related("claim")
            .order_by("-posted_on", "-id")[:200]
        ),
        "open_claims": list(
            Claim.objects.filter(patient=patient, patient_responsibility__gt=F("patient_paid"))
            .select_related("payer")
            .order_by("service_date", "id")
        ),
        "payments": list(PatientPayment.objects.filter(patient=patient).order_by("-received_on", "-id")[:50]),
        "statements": list(Statement.objects.filter(patient=patient).order_by("-statement_date", "-id")[:24]),
    }


def accessible_statements(user: User) -> QuerySet[Statement]:
    if not user.is_authenticated or not user.has_perm(VIEW_STATEMENT):
        return Statement.objects.none()
    return Statement.objects.filter(patient_scope_q(user))


def access_statement(user: User, public_id: Any) -> Statement:
    try:
        return accessible_statements(user).select_related("patient", "run").get(public_id=public_id)
    except (Statement.DoesNotExist, ValidationError, ValueError, TypeError):
        raise Http404("No such statement.") from None
