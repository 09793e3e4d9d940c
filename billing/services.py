"""Billing writes other than transitions: charges from a visit, line and diagnosis edits, sending, the sweep."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from functools import partial
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F, Sum
from django.utils import timezone

from eligibility.priorauth_services import primary_coverage
from patients.icd10 import validate_billable
from scheduling.models import Appointment
from vma.access import panel_ids
from vma.exceptions import ActionRefused, NotPermitted

from . import workflow
from .coding import MAX_DIAGNOSES, MAX_MODIFIERS, MAX_POINTERS, MODIFIER, PROCEDURE
from .models import Claim, ClaimDiagnosis, ClaimLine, ProcedureCode
from .scrubber import profile_for

if TYPE_CHECKING:
    from patients.models import Coverage
    from vma.models import User

    from .clearinghouse import Clearinghouse

S = Claim.Status
TELEHEALTH_MODIFIER = "95"
OFFICE = "11"


@dataclass(frozen=True)
class LineInput:
    """One charge as typed: the code, modifiers, units, charge (empty: the code's default), pointers."""

    procedure_code: str
    modifiers: Sequence[str] = ()
    units: int = 1
    charge: Decimal | None = None
    diagnosis_pointers: Sequence[int] = ()
    service_date: date | None = None


# ---------------------------------------------------------------------------------------------
# Parsing what a person typed (pages and API share these)


def parse_modifiers(raw: str | Sequence[str]) -> list[str]:
    parts = re.split(r"[\s,:;]+", raw) if isinstance(raw, str) else list(raw)
    mods = [p.strip().upper() for p in parts if p and p.strip()]
    if len(mods) > MAX_MODIFIERS:
        raise ActionRefused(f"A line takes at most {MAX_MODIFIERS} modifiers.", status_code=400)
    for mod in mods:
        if not MODIFIER.fullmatch(mod):
            raise ActionRefused(f"“{mod}” is not a modifier (two letters or digits, e.g. 25, 95).", status_code=400)
    if len(set(mods)) != len(mods):
        raise ActionRefused("A modifier is listed twice.", status_code=400)
    return mods


def parse_pointers(raw: str | Sequence[int | str]) -> list[int]:
    parts = re.split(r"[\s,:;]+", raw) if isinstance(raw, str) else list(raw)
    pointers: list[int] = []
    for part in parts:
        if part in ("", None):
            continue
        try:
            value = int(part)
        except (TypeError, ValueError):
            raise ActionRefused(f"“{part}” is not a diagnosis number (1-12).", status_code=400) from None
        if not 1 <= value <= MAX_DIAGNOSES:
            raise ActionRefused(f"Diagnosis pointer {value} must be between 1 and {MAX_DIAGNOSES}.", status_code=400)
        pointers.append(value)
    if len(pointers) > MAX_POINTERS:
        raise ActionRefused(f"A line points to at most {MAX_POINTERS} diagnoses.", status_code=400)
    if len(set(pointers)) != len(pointers):
        raise ActionRefused("A diagnosis pointer is listed twice.", status_code=400)
    return pointers


def parse_units(raw: str | int) -> int:
    try:
        units = int(raw)
    except (TypeError, ValueError):
        raise ActionRefused("Give the units as a whole number.", status_code=400) from None
    if not 1 <= units <= 999:
        raise ActionRefused("Units must be between 1 and 999.", status_code=400)
    return units


def parse_charge(raw: str | Decimal | None) -> Decimal | None:
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return None
    try:
        value = Decimal(str(raw).strip().lstrip("$").replace(",", ""))
    except InvalidOperation:
        raise ActionRefused(f"“{raw}” is not an amount (e.g. 125.00).", status_code=400) from None
    if not value.is_finite() or value < 0 or value >= Decimal("10000000"):
        raise ActionRefused("The charge must be zero or more, under 10,000,000.", status_code=400)
    return value.quantize(Decimal("0.01"))


def parse_code(raw: str) -> str:
    code = (raw or "").strip().upper()
    if not PROCEDURE.fullmatch(code):
        raise ActionRefused(f"“{raw.strip()}” is not a CPT/HCPCS code (5 characters, e.g. 99213).", status_code=400)
    return code


# ---------------------------------------------------------------------------------------------
# Drafting a claim from a visit


def _check(actor: User | None, claim_or_patient: Any, perm: str) -> None:
    patient = getattr(claim_or_patient, "patient", claim_or_patient)
    if actor is not None and not (actor.has_perm(perm) and patient.care_team_id in panel_ids(actor)):
        raise NotPermitted("You cannot bill for this patient.")


def place_of_service(appointment: Appointment, coverage: Coverage) -> str:
    if not appointment.telehealth:
        return OFFICE
    return profile_for(coverage.payer).telehealth_place_of_service


@transaction.atomic
def draft_claim(
    appointment: Appointment,
    *,
    actor: User | None,
    coverage: Coverage | None = None,
    diagnoses: Sequence[str] = (),
    lines: Sequence[LineInput] = (),
) -> tuple[Claim, bool]:
    """The visit's claim (draft), made once; returns (claim, created).

    The encounter note does not exist yet (issue 5), so the biller or coding VMA enters the codes;
    place of service and modifier 95 for telehealth come from the visit and the payer's profile.
    """
    _check(actor, appointment.patient, workflow.ADD)
    if appointment.status != Appointment.Status.COMPLETED:
        raise ActionRefused("Only a completed visit is billed.")
    dos = timezone.localdate(appointment.start_at)
    coverage = coverage or primary_coverage(appointment.patient_id, dos)
    if coverage is None:
        raise ActionRefused("The patient has no primary coverage in force on the date of service: add it first.")
    if coverage.patient_id != appointment.patient_id:
        raise ActionRefused("That coverage belongs to another patient.", status_code=400)
    existing = (
        Claim.objects.filter(appointment=appointment, coverage=coverage, frequency_code=Claim.Frequency.ORIGINAL)
        .exclude(status__in=[S.VOIDED, S.CORRECTED])
        .first()
    )
    if existing is not None:
        return existing, False
    try:
        with transaction.atomic():
            claim = Claim.objects.create(
                patient=appointment.patient,
                coverage=coverage,
                payer=coverage.payer,
                appointment=appointment,
                service_date=dos,
                rendering_provider=appointment.provider,
                billing_name=str(getattr(settings, "PRACTICE_NAME", "") or "Practice")[:60],
                billing_npi=str(getattr(settings, "PRACTICE_NPI", "") or ""),
                billing_tax_id=str(getattr(settings, "PRACTICE_TAX_ID", "") or ""),
                place_of_service=place_of_service(appointment, coverage),
                telehealth=appointment.telehealth,
                created_by=actor,
                updated_by=actor,
            )
    except IntegrityError:
        # Two people pressed "bill this visit" at once: the other one's claim is the claim.
        return Claim.objects.get(
            appointment=appointment, coverage=coverage, frequency_code="1", status__in=Claim.OPEN_TO_EDIT
        ), False
    for code in diagnoses:
        add_diagnosis(claim, code, actor=actor)
    for line in lines:
        add_line(claim, line, actor=actor)
    claim.refresh_from_db()
    return claim, True


# ---------------------------------------------------------------------------------------------
# Editing a draft's charges


def _editable(claim: Claim, actor: User | None) -> Claim:
    claim = workflow.lock(claim)
    _check(actor, claim, workflow.CHANGE)
    if claim.status != S.DRAFT:
        raise ActionRefused(
            f"This claim is {claim.get_status_display().lower()}; move it back to draft to change its charges."
        )
    return claim


def _retotal(claim: Claim, actor: User | None) -> None:
    total = claim.lines.aggregate(total=Sum("charge"))["total"] or Decimal("0.00")
    claim.total_charge = total
    claim.updated_by = actor
    claim.scrubbed_at = None
    claim.save(update_fields=["total_charge", "updated_by", "scrubbed_at", "updated_at"])


def _with_telehealth(claim: Claim, modifiers: list[str]) -> list[str]:
    if claim.telehealth and profile_for(claim.payer).telehealth_modifier_95 and TELEHEALTH_MODIFIER not in modifiers:
        if len(modifiers) >= MAX_MODIFIERS:
            raise ActionRefused(
                "No room for telehealth modifier 95: this payer wants it on every line.", status_code=400
            )
        return [*modifiers, TELEHEALTH_MODIFIER]
    return modifiers


@transaction.atomic
def add_line(claim: Claim, line: LineInput, *, actor: User | None) -> ClaimLine:
    claim = _editable(claim, actor)
    code = parse_code(line.procedure_code)
    modifiers = _with_telehealth(claim, parse_modifiers(line.modifiers))
    units = parse_units(line.units)
    pointers = parse_pointers(line.diagnosis_pointers)
    charge = parse_charge(line.charge)
    if charge is None:
        known = ProcedureCode.objects.filter(code=code).first()
        if known is None:
            raise ActionRefused(f"{code} is not on the practice's list: give its charge.", status_code=400)
        charge = known.default_charge * units
    number = (claim.lines.order_by("-line_number").values_list("line_number", flat=True).first() or 0) + 1
    if number > 50:
        raise ActionRefused("An 837P claim holds at most 50 service lines.", status_code=400)
    created = ClaimLine.objects.create(
        claim=claim,
        line_number=number,
        procedure_code=code,
        modifiers=modifiers,
        units=units,
        charge=charge,
        diagnosis_pointers=pointers,
        service_date=line.service_date or claim.service_date,
    )
    _retotal(claim, actor)
    return created


@transaction.atomic
def update_line(claim: Claim, line_number: int, line: LineInput, *, actor: User | None) -> ClaimLine:
    claim = _editable(claim, actor)
    row = ClaimLine.objects.filter(claim=claim, line_number=line_number).first()
    if row is None:
        raise ActionRefused("No such line on this claim.", status_code=404)
    row.procedure_code = parse_code(line.procedure_code)
    row.modifiers = _with_telehealth(claim, parse_modifiers(line.modifiers))
    row.units = parse_units(line.units)
    row.diagnosis_pointers = parse_pointers(line.diagnosis_pointers)
    charge = parse_charge(line.charge)
    if charge is not None:
        row.charge = charge
    if line.service_date:
        row.service_date = line.service_date
    row.save()
    _retotal(claim, actor)
    return row


@transaction.atomic
def remove_line(claim: Claim, line_number: int, *, actor: User | None) -> None:
    claim = _editable(claim, actor)
    deleted, _ = ClaimLine.objects.filter(claim=claim, line_number=line_number).delete()
    if not deleted:
        raise ActionRefused("No such line on this claim.", status_code=404)
    # Keep line numbers 1..n (LX01 counts from 1 without gaps).
    for number, row in enumerate(claim.lines.order_by("line_number"), 1):
        if row.line_number != number:
            ClaimLine.objects.filter(pk=row.pk).update(line_number=number)
    _retotal(claim, actor)


@transaction.atomic
def add_diagnosis(claim: Claim, raw_code: str, *, actor: User | None) -> ClaimDiagnosis:
    """Append a billable ICD-10-CM code; an invalid or header code is refused with the reason."""
    claim = _editable(claim, actor)
    try:
        code, description = validate_billable(raw_code)
    except ValidationError as exc:
        raise ActionRefused(" ".join(exc.message_dict.get("code", exc.messages)), status_code=400) from None
    current = list(claim.diagnoses.order_by("position"))
    if any(d.code == code for d in current):
        raise ActionRefused(f"{code} is on the claim already.", status_code=400)
    if len(current) >= MAX_DIAGNOSES:
        raise ActionRefused(f"A claim holds at most {MAX_DIAGNOSES} diagnoses.", status_code=400)
    dx = ClaimDiagnosis.objects.create(claim=claim, position=len(current) + 1, code=code, description=description[:250])
    _retotal(claim, actor)
    return dx


@transaction.atomic
def remove_diagnosis(claim: Claim, position: int, *, actor: User | None) -> None:
    """Remove one diagnosis; later ones move up and the lines' pointers follow them."""
    claim = _editable(claim, actor)
    deleted, _ = ClaimDiagnosis.objects.filter(claim=claim, position=position).delete()
    if not deleted:
        raise ActionRefused("No such diagnosis on this claim.", status_code=404)
    remaining = list(claim.diagnoses.order_by("position"))
    mapping = {d.position: i for i, d in enumerate(remaining, 1)}
    # Two passes: positions are unique, so move them out of the way first.
    ClaimDiagnosis.objects.filter(claim=claim).update(position=F("position") + 100)
    for d in remaining:
        ClaimDiagnosis.objects.filter(pk=d.pk).update(position=mapping[d.position])
    for row in claim.lines.all():
        new = [mapping[p] for p in row.diagnosis_pointers if p in mapping]
        if new != row.diagnosis_pointers:
            row.diagnosis_pointers = new
            row.save(update_fields=["diagnosis_pointers"])
    _retotal(claim, actor)


@transaction.atomic
def set_referral_number(claim: Claim, number: str, *, actor: User | None) -> Claim:
    claim = _editable(claim, actor)
    claim.referral_number = (number or "").strip()[:50]
    claim.updated_by = actor
    claim.save(update_fields=["referral_number", "updated_by", "updated_at"])
    return claim


# ---------------------------------------------------------------------------------------------
# Sending (the send task) and the sweep (beat)


def transmit(claim_id: int, *, clearinghouse: Clearinghouse | None = None, now: datetime | None = None) -> Claim | None:
    """Hand a submitted claim's 837 to the clearinghouse once and record its acknowledgement.

    The conditional UPDATE claims the send: a second run finds transmitted_at set and does nothing.
    If the process dies after the clearinghouse took the file but before the answer is recorded, the
    claim stays submitted and the 7-day status follow-up catches it (a resend could double-bill).
    """
    from .clearinghouse import ClearinghouseUnavailable, get_clearinghouse

    now = now or timezone.now()
    # Bookkeeping columns only (excluded from auditlog); the status moves through the workflow.
    claimed = Claim.objects.filter(pk=claim_id, status=S.SUBMITTED, transmitted_at__isnull=True).update(
        transmitted_at=now, transmit_attempts=F("transmit_attempts") + 1
    )
    if not claimed:
        return None
    claim = Claim.objects.get(pk=claim_id)
    house = clearinghouse or get_clearinghouse()
    try:
        ack = house.submit_837(claim.raw_837, timeout=float(workflow.setting("BILLING_CLEARINGHOUSE_TIMEOUT", 30)))
    except ClearinghouseUnavailable:
        # Nothing was taken: release the claim so the retry (or the sweep) sends it.
        Claim.objects.filter(pk=claim_id, status=S.SUBMITTED).update(transmitted_at=None)
        raise
    return workflow.record_acknowledgement(claim, ack, now=now)


@dataclass
class SweepResult:
    resent: int = 0
    follow_ups: int = 0
    unpaid: int = 0
    deadlines: int = 0

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


def sweep(*, now: datetime | None = None, batch: int = 500) -> SweepResult:
    """Open the billing queue's follow-ups once per claim, and resend submissions never handed over."""
    from . import tasks

    now = now or timezone.now()
    today = timezone.localdate(now)
    result = SweepResult()
    stale = now - timedelta(minutes=10)
    for pk in Claim.objects.filter(status=S.SUBMITTED, transmitted_at__isnull=True, submitted_at__lt=stale).values_list(
        "pk", flat=True
    )[:batch]:
        transaction.on_commit(partial(tasks.send_claim.delay, pk))
        result.resent += 1
    follow_days = int(workflow.setting("BILLING_STATUS_FOLLOW_UP_DAYS", 7))
    for claim in Claim.objects.filter(
        status__in=[S.SUBMITTED, S.ACCEPTED],
        submitted_at__lte=now - timedelta(days=follow_days),
        follow_up_flagged_at__isnull=True,
    ).select_related("payer")[:batch]:
        submitted_at = claim.submitted_at or now
        result.follow_ups += workflow.flag(
            claim,
            kind=workflow.FOLLOW_UP,
            title=f"Check the status of claim {claim.patient_control_number}",
            detail=f"Submitted to {claim.payer.name} on {timezone.localdate(submitted_at):%m/%d/%Y}"
            f" with no answer from the payer after {follow_days} days.",
            due_at=submitted_at + timedelta(days=14),
            now=now,
        )
    unpaid_days = int(workflow.setting("BILLING_UNPAID_DAYS", 30))
    for claim in Claim.objects.filter(
        status__in=list(Claim.AWAITING_PAYER),
        submitted_at__lte=now - timedelta(days=unpaid_days),
        unpaid_flagged_at__isnull=True,
    ).select_related("payer")[:batch]:
        result.unpaid += workflow.flag(
            claim,
            kind=workflow.UNPAID,
            title=f"Claim {claim.patient_control_number} unpaid after {unpaid_days} days",
            detail=f"{claim.payer.name}, {claim.total_charge} charged for {claim.service_date:%m/%d/%Y}.",
            due_at=now + timedelta(days=2),
            now=now,
        )
    warn = int(workflow.setting("BILLING_FILING_WARNING_DAYS", 14))
    for claim in Claim.objects.filter(
        status__in=list(Claim.NOT_FILED), filing_deadline_flagged_at__isnull=True
    ).select_related("payer", "payer__billing_profile")[: batch * 4]:
        deadline = claim.filing_deadline(profile_for(claim.payer).timely_filing_days)
        if deadline - today > timedelta(days=warn):
            continue
        result.deadlines += workflow.flag(
            claim,
            kind=workflow.FILING_DEADLINE,
            title=f"Timely filing for claim {claim.patient_control_number} ends {deadline:%m/%d/%Y}",
            detail=f"{claim.payer.name}: the claim for {claim.service_date:%m/%d/%Y} is "
            f"{claim.get_status_display().lower()} and must be accepted by {deadline:%m/%d/%Y}.",
            due_at=timezone.make_aware(datetime.combine(deadline, datetime.min.time())) if deadline > today else now,
            now=now,
        )
    return result
