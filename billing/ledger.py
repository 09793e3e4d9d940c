"""Patients' balances: the ledger (patient responsibility from 835s, payments), statements, collections stages.

Every ledger write recomputes the patient's PatientBalance under its row lock in the same
transaction, so the balance never disagrees with the ledger. Collections stages follow the age of
the oldest unpaid charge (its posting date): 30 days a reminder, 60 a final notice, 90 a work item
for a person to review the account. Nothing is ever sent to a collection agency automatically: at
120 days the review item says the account may be referred, and a person decides.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F
from django.urls import reverse
from django.utils import timezone

from vma import audit
from vma.access import can_access_patient
from vma.exceptions import ActionRefused, NotPermitted
from vma.models import AuditEvent
from vma.workflow import close_work_item, open_work_item

from .models import Claim, PatientBalance, PatientLedgerEntry, PatientPayment, Statement, StatementRun

if TYPE_CHECKING:
    from patients.models import Patient
    from vma.models import User, WorkItem

COLLECTIONS_KIND = "billing.collections_review"
PAYMENT_PERM = "billing.add_patientpayment"
RUN_PERM = "billing.add_statementrun"
AGENCY_DAYS = 120
Stage = PatientBalance.Stage
# (days since the oldest unpaid charge, stage), oldest first.
STAGES: tuple[tuple[int, str], ...] = (
    (90, Stage.COLLECTIONS_REVIEW),
    (60, Stage.FINAL_NOTICE),
    (30, Stage.REMINDER),
    (0, Stage.CURRENT),
)
NOTICES: dict[str, str] = {
    Stage.CURRENT: "",
    Stage.REMINDER: "Reminder: part of this balance is more than 30 days old. Please pay or call us to set up a plan.",
    Stage.FINAL_NOTICE: "Final notice: part of this balance is more than 60 days old. Please pay or call us "
    "within 21 days.",
    Stage.COLLECTIONS_REVIEW: "Your account is more than 90 days past due. Please call our billing office now.",
}


def setting(name: str, default: Any) -> Any:
    return getattr(settings, name, default)


def stage_for(balance: Decimal, oldest_open_on: date | None, today: date) -> str:
    if balance <= 0 or oldest_open_on is None:
        return Stage.NONE
    age = (today - oldest_open_on).days
    return next(stage for days, stage in STAGES if age >= days)


def balance_url(item: WorkItem) -> str:
    return reverse("billing_patient_account", args=[item.patient.public_id])  # type: ignore[union-attr]


# ---------------------------------------------------------------------------------------------
# The balance row


def _oldest_open(entries: list[tuple[Decimal, date]]) -> date | None:
    """The posting date of the oldest charge credits have not covered (credits pay the oldest first)."""
    credits = -sum((a for a, _ in entries if a < 0), Decimal(0))
    for amount, day in entries:
        if amount <= 0:
            continue
        if credits >= amount:
            credits -= amount
            continue
        return day
    return None


def refresh(patient_id: int, *, now: datetime | None = None) -> PatientBalance:
    """Recompute the patient's balance, oldest open charge and stage from the ledger (callers are atomic)."""
    now = now or timezone.now()
    today = timezone.localdate(now)
    row = PatientBalance.objects.select_for_update().filter(patient_id=patient_id).first()
    entries = list(
        PatientLedgerEntry.objects.filter(patient_id=patient_id)
        .order_by("posted_on", "id")
        .values_list("amount", "posted_on")
    )
    balance = sum((a for a, _ in entries), Decimal("0.00"))
    oldest = _oldest_open(entries) if balance > 0 else None
    stage = stage_for(balance, oldest, today)
    if row is None:
        try:
            with transaction.atomic():
                row = PatientBalance.objects.create(
                    patient_id=patient_id, balance=balance, oldest_open_on=oldest, stage=stage
                )
        except IntegrityError:
            # A concurrent first entry made the row: read again under its lock, with both entries.
            return refresh(patient_id, now=now)
        previous: str = Stage.NONE
    else:
        previous = row.stage
        row.balance, row.oldest_open_on, row.stage = balance, oldest, stage
        row.save(update_fields=["balance", "oldest_open_on", "stage", "updated_at"])
    # A review item can be open only once the review stage was reached.
    if stage != previous and Stage.COLLECTIONS_REVIEW in (stage, previous):
        _sync_item(row, today=today, now=now)
    return row


def _sync_item(row: PatientBalance, *, today: date, now: datetime) -> None:
    if row.stage == Stage.COLLECTIONS_REVIEW:
        age = (today - row.oldest_open_on).days if row.oldest_open_on else 0
        agency = (
            " It is over 120 days: the account may be referred to a collection agency if the practice's policy "
            "allows; decide and record it (nothing is sent automatically)."
            if age >= AGENCY_DAYS
            else f" At {AGENCY_DAYS} days it may be considered for agency referral (a person decides)."
        )
        open_work_item(
            kind=COLLECTIONS_KIND,
            subject=row,
            patient=row.patient,
            title=f"Collections review: {row.balance} owed for {age} days",
            detail=f"The oldest unpaid charge was posted on {row.oldest_open_on:%m/%d/%Y}. Call the patient, offer "
            f"a payment plan, or check for an insurance problem.{agency}",
            due_at=now + timedelta(days=5),
        )
    else:
        close_work_item(
            kind=COLLECTIONS_KIND, subject=row, note=f"Balance now {row.balance} ({row.get_stage_display()})."
        )


# ---------------------------------------------------------------------------------------------
# Writes


def add_insurance_responsibility(
    claim: Claim, *, remittance_claim: Any, amount: Decimal, posted_on: date, now: datetime
) -> PatientLedgerEntry:
    """Move an 835's patient responsibility (PR) for a claim to the patient's account (once per 835 claim)."""
    sign = "reversed" if amount < 0 else "after insurance"
    entry = PatientLedgerEntry.objects.create(
        patient_id=claim.patient_id,
        claim=claim,
        kind=PatientLedgerEntry.Kind.INSURANCE,
        amount=amount,
        description=f"{claim.payer.name}: your share {sign}, visit of {claim.service_date:%m/%d/%Y}",
        remittance_claim=remittance_claim,
        posted_on=posted_on,
    )
    refresh(claim.patient_id, now=now)
    return entry


def parse_amount(raw: Any) -> Decimal:
    try:
        value = Decimal(str(raw).strip().lstrip("$").replace(",", ""))
    except InvalidOperation:
        raise ActionRefused(f"“{raw}” is not an amount (e.g. 25.00).", status_code=400) from None
    if not value.is_finite() or value <= 0 or value >= Decimal("1000000"):
        raise ActionRefused("The payment must be more than 0 and under 1,000,000.", status_code=400)
    if value != value.quantize(Decimal("0.01")):
        raise ActionRefused("Give the amount in dollars and cents (at most two decimals).", status_code=400)
    return value.quantize(Decimal("0.01"))


@dataclass(frozen=True)
class PaymentInput:
    amount: Any
    method: str
    received_on: date | None = None
    reference: str = ""
    note: str = ""
    idempotency_key: str = ""


@transaction.atomic
def record_payment(
    patient: Patient, data: PaymentInput, *, actor: User | None, now: datetime | None = None
) -> tuple[PatientPayment, bool]:
    """Record a patient payment, applied to the oldest claim balances first; the rest is a credit on account.

    Returns (payment, created): the same form token twice (a double click) records one payment.
    """
    now = now or timezone.now()
    if actor is not None and not can_access_patient(actor, patient, PAYMENT_PERM):
        raise NotPermitted("You cannot record payments for this patient.")
    amount = parse_amount(data.amount)
    if data.method not in PatientPayment.Method.values:
        raise ActionRefused("Choose how the patient paid (cash, check, card or online).", status_code=400)
    received_on = data.received_on or timezone.localdate(now)
    if received_on > timezone.localdate(now):
        raise ActionRefused("A payment cannot be received in the future.", status_code=400)
    key = (data.idempotency_key or "").strip()[:64]
    if key:
        existing = PatientPayment.objects.filter(patient=patient, idempotency_key=key).first()
        if existing is not None:
            return existing, False
    try:
        with transaction.atomic():
            payment = PatientPayment.objects.create(
                patient=patient,
                amount=amount,
                method=data.method,
                reference=data.reference.strip()[:60],
                received_on=received_on,
                note=data.note.strip()[:300],
                idempotency_key=key,
                recorded_by=actor,
            )
    except IntegrityError:
        return PatientPayment.objects.get(patient=patient, idempotency_key=key), False
    left = amount
    open_claims = (
        Claim.objects.select_for_update(of=("self",))
        .filter(patient=patient, patient_responsibility__gt=F("patient_paid"))
        .select_related("payer")
        .order_by("service_date", "id")
    )
    for claim in open_claims:
        if left <= 0:
            break
        applied = min(left, claim.patient_balance)
        claim.patient_paid += applied
        claim.updated_by = actor
        claim.save(update_fields=["patient_paid", "updated_by", "updated_at"])
        PatientLedgerEntry.objects.create(
            patient=patient,
            claim=claim,
            kind=PatientLedgerEntry.Kind.PAYMENT,
            amount=-applied,
            description=f"Payment ({payment.get_method_display().lower()}), visit of {claim.service_date:%m/%d/%Y}",
            payment=payment,
            posted_on=received_on,
        )
        left -= applied
    if left > 0:
        PatientLedgerEntry.objects.create(
            patient=patient,
            kind=PatientLedgerEntry.Kind.PAYMENT,
            amount=-left,
            description=f"Payment ({payment.get_method_display().lower()}), credit on account",
            payment=payment,
            posted_on=received_on,
        )
    row = refresh(patient.pk, now=now)
    if row.last_payment_on is None or received_on > row.last_payment_on:
        row.last_payment_on = received_on
        row.save(update_fields=["last_payment_on", "updated_at"])
    return payment, True


# ---------------------------------------------------------------------------------------------
# The sweep: stages as balances age, and the month's statements


def sweep_collections(*, now: datetime | None = None) -> int:
    """Move each owing patient's stage as the balance ages; returns how many changed."""
    now = now or timezone.now()
    today = timezone.localdate(now)
    changed = 0
    rows = PatientBalance.objects.filter(balance__gt=0).order_by("pk")
    for patient_id, balance, oldest, current in rows.values_list("patient_id", "balance", "oldest_open_on", "stage"):
        if stage_for(balance, oldest, today) == current:
            continue
        with transaction.atomic():
            refresh(patient_id, now=now)
        changed += 1
    return changed


def _statement_lines(patient_ids: list[int]) -> dict[int, list[dict[str, str]]]:
    lines: dict[int, list[dict[str, str]]] = {pid: [] for pid in patient_ids}
    claims = (
        Claim.objects.filter(patient_id__in=patient_ids, patient_responsibility__gt=F("patient_paid"))
        .select_related("payer", "rendering_provider")
        .order_by("service_date", "id")
    )
    for c in claims:
        lines[c.patient_id].append(
            {
                "service_date": c.service_date.isoformat(),
                "description": f"Visit with {c.rendering_provider.get_full_name()}",
                "payer": c.payer.name,
                "charged": str(c.total_charge),
                "insurance_paid": str(c.paid_amount or Decimal("0.00")),
                "your_share": str(c.patient_responsibility),
                "you_paid": str(c.patient_paid),
                "due": str(c.patient_balance),
            }
        )
    return lines


def _statement_payments(balances: list[PatientBalance], today: date) -> dict[int, list[dict[str, str]]]:
    """Payments since each patient's previous statement (a month back for a first statement)."""
    since = {b.patient_id: b.last_statement_on or today - timedelta(days=31) for b in balances}
    found: dict[int, list[dict[str, str]]] = {pid: [] for pid in since}
    earliest = min(since.values(), default=today)
    for p in PatientPayment.objects.filter(patient_id__in=list(since), received_on__gt=earliest).order_by(
        "received_on", "id"
    ):
        if p.received_on > since[p.patient_id]:
            found[p.patient_id].append(
                {"received_on": p.received_on.isoformat(), "method": p.get_method_display(), "amount": str(p.amount)}
            )
    return found


def run_statements(*, now: datetime | None = None, actor: User | None = None) -> tuple[StatementRun, bool]:
    """The month's statement run: one statement per patient owing at least the minimum. Once a month.

    Returns (run, created); a second call in the same month returns the run made before.
    """
    now = now or timezone.now()
    if actor is not None and not actor.has_perm(RUN_PERM):
        raise NotPermitted("You cannot run statements.")
    today = timezone.localdate(now)
    period = today.replace(day=1)
    existing = StatementRun.objects.filter(period=period).first()
    if existing is not None:
        return existing, False
    minimum = Decimal(str(setting("BILLING_STATEMENT_MINIMUM", "5.00")))
    due = today + timedelta(days=int(setting("BILLING_STATEMENT_DUE_DAYS", 21)))
    try:
        with transaction.atomic():
            run = StatementRun.objects.create(period=period, run_on=today, created_by=actor)
            balances = list(
                PatientBalance.objects.select_for_update().filter(balance__gte=minimum).order_by("patient_id")
            )
            ids = [b.patient_id for b in balances]
            lines = _statement_lines(ids)
            payments = _statement_payments(balances, today)
            Statement.objects.bulk_create(
                Statement(
                    run=run,
                    patient_id=b.patient_id,
                    statement_date=today,
                    due_date=due,
                    balance=b.balance,
                    stage=b.stage,
                    lines=lines[b.patient_id],
                    payments=payments[b.patient_id],
                )
                for b in balances
            )
            # Bookkeeping only (excluded from auditlog); the run's audit event below names every patient.
            PatientBalance.objects.filter(pk__in=[b.pk for b in balances]).update(last_statement_on=today)
            run.statements = len(balances)
            run.total = sum((b.balance for b in balances), Decimal("0.00"))
            run.save(update_fields=["statements", "total"])
            audit.append(
                kind=AuditEvent.Kind.WRITE,
                action="billing.statement_run",
                actor=actor,
                target=f"billing.statementrun:{run.pk}",
                patient_ids=ids,
                detail={"period": period.isoformat(), "statements": len(ids)},
            )
    except IntegrityError:
        return StatementRun.objects.get(period=period), False
    return run, True


def notice_for(stage: str) -> str:
    return NOTICES.get(stage, "")
