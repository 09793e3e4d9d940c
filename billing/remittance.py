"""835 posting: import a file, read it, validate it with pyx12, post each claim line by line.

Idempotent at two levels:
- the file: the same bytes are one RemittanceFile (unique SHA-256); a second import posts nothing;
- the claim: (payer, trace number, patient control number, CLP02 status, payer claim number) is
  posted once (partial unique constraint on RemittanceClaim). The same payment re-sent in another
  envelope (new ISA numbers and dates, so a new hash) is kept as `duplicate` rows that post nothing.
  The status and payer claim number are in the key because a reversal (22) and its re-adjudication
  (1) of one claim travel in the same payment.

Nothing is lost: the file is stored, and committed, before anything reads it; a file that cannot
be read or fails pyx12's 005010X221A1 map, and an 835 claim no claim matches, become work items
in the billing queue with the reason, and the biller can post or match them later.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from functools import partial
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import DatabaseError, IntegrityError, transaction
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone

from eligibility.x12.reader import X12Error
from patients.models import Payer
from vma import audit
from vma.access import panel_ids
from vma.exceptions import ActionRefused, NotPermitted
from vma.models import AuditEvent
from vma.workflow import close_work_item, open_work_item

from . import denials, ledger, workflow
from .models import (
    AdjustmentPosting,
    Claim,
    ClaimLine,
    Denial,
    FeeScheduleLine,
    PaymentPosting,
    Remittance,
    RemittanceClaim,
    RemittanceFile,
)
from .x12 import x835

if TYPE_CHECKING:
    from vma.models import User, WorkItem

FILE_FAILED = "billing.remittance_file"
UNMATCHED = "billing.remittance_unmatched"
UNDERPAYMENT = "billing.underpayment"
IMPORT = "billing.add_remittancefile"
CHANGE = "billing.change_remittancefile"
MAX_BYTES = 20 * 1024 * 1024
ZERO = Decimal("0.00")
CENT = Decimal("0.01")
S = Claim.Status
Effect = AdjustmentPosting.Effect
Outcome = RemittanceClaim.Outcome
FileStatus = RemittanceFile.Status


def file_url(item: WorkItem) -> str:
    subject = item.subject
    target = subject if isinstance(subject, RemittanceFile) else subject.remittance.file  # type: ignore[union-attr]
    return reverse("billing_remittance_detail", args=[target.public_id])


def underpayment_url(item: WorkItem) -> str:
    return reverse("billing_claim_detail", args=[item.subject.claim.public_id])  # type: ignore[union-attr]


@dataclass
class ImportResult:
    file: RemittanceFile
    created: bool  # False: these bytes were imported before (nothing posted again)


@dataclass
class _Counts:
    posted: int = 0
    unmatched: int = 0
    duplicate: int = 0
    patients: set[int] = field(default_factory=set)


# ---------------------------------------------------------------------------------------------
# Import


def _check(actor: User | None, perm: str) -> None:
    if actor is not None and not actor.has_perm(perm):
        raise NotPermitted("You cannot import remittances.")


def import_835(
    data: bytes | str,
    *,
    source: str,
    filename: str = "",
    actor: User | None = None,
    now: datetime | None = None,
    defer_large: bool = False,
) -> ImportResult:
    """Store the file (committed on its own), then read, validate and post it.

    Must not run inside a caller's transaction: the stored file has to survive a failed posting.
    `defer_large` (pages and the API): a file of more claims than BILLING_REMITTANCE_SYNC_CLAIMS
    (200) is posted by a task after commit instead of inside the request (posting runs at tens of
    claims a second); the file waits as `received`, and the hourly sweep posts any a lost task left.
    """
    _check(actor, IMPORT)
    raw = data.encode("utf-8") if isinstance(data, str) else bytes(data)
    if not raw.strip():
        raise ActionRefused("The file is empty.", status_code=400)
    if len(raw) > MAX_BYTES:
        raise ActionRefused(f"The file is over {MAX_BYTES // (1024 * 1024)} MB; split it.", status_code=400)
    digest = hashlib.sha256(raw).hexdigest()
    existing = RemittanceFile.objects.filter(content_hash=digest).first()
    if existing is not None:
        return ImportResult(existing, created=False)
    try:
        with transaction.atomic():
            file = RemittanceFile.objects.create(
                source=source,
                filename=(filename or "")[:200],
                # latin-1 maps every byte to one character: the bytes come back exactly.
                content=raw.decode("latin-1"),
                content_hash=digest,
                size_bytes=len(raw),
                received_by=actor,
                received_at=now or timezone.now(),
            )
    except IntegrityError:
        return ImportResult(RemittanceFile.objects.get(content_hash=digest), created=False)
    if defer_large and _claim_count(file.content) > int(getattr(settings, "BILLING_REMITTANCE_SYNC_CLAIMS", 200)):
        from . import tasks

        transaction.on_commit(partial(tasks.post_remittance_file.delay, file.pk))
        return ImportResult(file, created=True)
    post_file(file, actor=actor, now=now)
    file.refresh_from_db()
    return ImportResult(file, created=True)


def _claim_count(text: str) -> int:
    try:
        return sum(len(r.claims) for r in x835.parse_835(text))
    except X12Error:
        return 0  # unreadable: post_file says so at once


def post_received(*, now: datetime | None = None, batch: int = 20) -> int:
    """Post files still `received` 10 minutes after they came (their task was lost); returns how many."""
    now = now or timezone.now()
    stale = RemittanceFile.objects.filter(status=FileStatus.RECEIVED, received_at__lt=now - timedelta(minutes=10))
    files = list(stale.order_by("received_at")[:batch])
    for file in files:
        post_file(file, actor=None, now=now)
    return len(files)


def post_file(
    file: RemittanceFile, *, actor: User | None, now: datetime | None = None, override: bool = False
) -> RemittanceFile:
    """Read, validate and post a stored file. `override`: post although pyx12 reported errors (a person decided).

    A file posted already is left alone. Whatever goes wrong, the file stays with the reason and a work item.
    """
    now = now or timezone.now()
    try:
        remittances = x835.parse_835(file.content)
    except X12Error as exc:
        return _set_failed(file, FileStatus.FAILED, f"The file is not a readable 835: {exc}", now=now)
    if not override:
        errors = x835.validate_with_pyx12(file.content)
        if errors:
            return _set_failed(
                file,
                FileStatus.INVALID,
                f"pyx12 found {len(errors)} problem(s) against the 005010X221A1 map; nothing was posted.",
                validation_errors=errors,
                now=now,
            )
    try:
        with transaction.atomic():
            locked = RemittanceFile.objects.select_for_update().get(pk=file.pk)
            if locked.status in (FileStatus.POSTED, FileStatus.EXCEPTIONS):
                return locked
            counts = _Counts()
            payers = _payers(remittances)
            for remittance in remittances:
                _post_remittance(locked, remittance, payers, counts, now=now)
            locked.status = FileStatus.EXCEPTIONS if counts.unmatched else FileStatus.POSTED
            locked.error = ""
            locked.warnings = [w for r in remittances for w in r.warnings]
            locked.claims_posted = counts.posted
            locked.claims_unmatched = counts.unmatched
            locked.claims_duplicate = counts.duplicate
            locked.posted_at = now
            locked.posted_by = actor
            locked.save()
            close_work_item(kind=FILE_FAILED, subject=locked, note="Posted.", actor=actor)
            # Postings are bulk-inserted (no auditlog signal): one event names every patient posted to.
            audit.append(
                kind=AuditEvent.Kind.WRITE,
                action="billing.remittance_posted",
                actor=actor,
                target=f"billing.remittancefile:{locked.pk}",
                patient_ids=counts.patients,
                detail={"posted": counts.posted, "unmatched": counts.unmatched, "duplicate": counts.duplicate},
            )
            return locked
    except (DatabaseError, ArithmeticError) as exc:
        # A value the database refuses (an amount out of range ...): nothing of this file was posted.
        return _set_failed(file, FileStatus.FAILED, f"Posting stopped, nothing was posted: {exc}", now=now)


def _set_failed(
    file: RemittanceFile, status: str, error: str, *, now: datetime, validation_errors: list[str] | None = None
) -> RemittanceFile:
    with transaction.atomic():
        file = RemittanceFile.objects.select_for_update().get(pk=file.pk)
        file.status = status
        file.error = error
        file.validation_errors = validation_errors or []
        file.save(update_fields=["status", "error", "validation_errors"])
        label = file.filename or f"received {timezone.localtime(file.received_at):%m/%d/%Y %H:%M}"
        shown = "\n".join(f"- {e}" for e in (validation_errors or [])[:20])
        open_work_item(
            kind=FILE_FAILED,
            subject=file,
            title=f"835 file {label} not posted: {file.get_status_display().lower()}",
            detail=f"{error}\n{shown}".strip()
            + "\nThe file is kept as received. Ask the payer or clearinghouse for a corrected file, or post it "
            "anyway from the remittance page if the findings do not matter.",
            due_at=now + timedelta(days=1),
            priority=2,
        )
    return file


def _payers(remittances: list[x835.Remittance]) -> dict[str, Payer]:
    ids = {r.payer.id for r in remittances if r.payer.id}
    return {p.payer_id: p for p in Payer.objects.filter(payer_id__in=ids)}


def _post_remittance(
    file: RemittanceFile, r: x835.Remittance, payers: dict[str, Payer], counts: _Counts, *, now: datetime
) -> None:
    payer_key = (r.payer.id or r.payer.name or "unknown payer").strip()[:80]
    remit = Remittance.objects.create(
        file=file,
        payer=payers.get(r.payer.id),
        payer_key=payer_key,
        payer_name=r.payer.name[:120],
        payee_name=r.payee.name[:120],
        payee_npi=r.payee.npi[:10],
        amount=r.payment.amount,
        method=r.payment.method[:3],
        trace_number=r.payment.trace_number[:50],
        payment_date=r.payment.date,
        production_date=r.production_date,
        transaction_control_number=r.transaction_control_number[:9],
        provider_adjustments=[p.as_dict() for p in r.provider_adjustments],
        warnings=list(r.warnings),
        created_at=now,
    )
    pcns = {c.patient_control_number.strip().upper() for c in r.claims}
    by_pcn = dict(Claim.objects.filter(patient_control_number__in=pcns).values_list("patient_control_number", "pk"))
    for seq, clp in enumerate(r.claims, 1):
        _post_claim(remit, seq, clp, by_pcn, counts, now=now)


def _base(remit: Remittance, seq: int, clp: x835.Claim) -> dict[str, Any]:
    name = " ".join(p for p in (clp.patient_first_name, clp.patient_last_name) if p)
    return {
        "remittance": remit,
        "sequence": seq,
        "payer_key": remit.payer_key,
        "trace_number": remit.trace_number,
        "patient_control_number": clp.patient_control_number.strip().upper()[:38],
        "status_code": clp.status_code[:2],
        "payer_claim_number": clp.payer_claim_number.strip()[:50],
        "charge": clp.charge,
        "paid": clp.paid,
        "patient_responsibility": clp.patient_responsibility or ZERO,
        "patient_name": name[:120],
        "member_id": clp.member_id[:80],
        "remarks": list(clp.remarks),
        "warnings": list(clp.warnings),
        "created_at": remit.created_at,
    }


def _key(base: dict[str, Any]) -> Q:
    return Q(
        payer_key=base["payer_key"],
        trace_number=base["trace_number"],
        patient_control_number=base["patient_control_number"],
        status_code=base["status_code"],
        payer_claim_number=base["payer_claim_number"],
    ) & ~Q(outcome=Outcome.DUPLICATE)


def _record(base: dict[str, Any], **fields: Any) -> RemittanceClaim | None:
    """Insert the 835 claim under its once-only key; None when it was recorded before (a repeat)."""
    if RemittanceClaim.objects.filter(_key(base)).exists():
        return None
    try:
        with transaction.atomic():
            return RemittanceClaim.objects.create(**base, **fields)
    except IntegrityError:
        return None  # a concurrent import of the same payment won


def _duplicate(base: dict[str, Any], claim: Claim | None, counts: _Counts) -> None:
    earlier = RemittanceClaim.objects.filter(_key(base)).select_related("remittance__file").first()
    where = (
        f"file {earlier.remittance.file.filename or earlier.remittance.file.content_hash[:12]} "
        f"({timezone.localtime(earlier.remittance.file.received_at):%m/%d/%Y})"
        if earlier
        else "another file"
    )
    RemittanceClaim.objects.create(
        **base,
        claim=claim,
        patient_id=claim.patient_id if claim else None,
        outcome=Outcome.DUPLICATE,
        message=f"This payment of this claim was posted before, from {where}: nothing posted again.",
    )
    counts.duplicate += 1


def _post_claim(
    remit: Remittance, seq: int, clp: x835.Claim, by_pcn: dict[str, int], counts: _Counts, *, now: datetime
) -> None:
    base = _base(remit, seq, clp)
    claim_pk = by_pcn.get(base["patient_control_number"])
    if claim_pk is None:
        message = (
            f"No claim has patient control number {base['patient_control_number']}: find the claim (patient "
            f"{base['patient_name'] or '?'}, member {base['member_id'] or '?'}) and post this payment to it."
        )
        rc = _record(base, outcome=Outcome.UNMATCHED, message=message)
        if rc is None:
            _duplicate(base, None, counts)
            return
        counts.unmatched += 1
        open_work_item(
            kind=UNMATCHED,
            subject=rc,
            title=f"835 claim {rc.patient_control_number} matches no claim ({remit.payer_name})",
            detail=f"{message}\nCharge {rc.charge}, paid {rc.paid}, payer claim number "
            f"{rc.payer_claim_number or '?'}, trace {remit.trace_number}.",
            due_at=now + timedelta(days=2),
        )
        return
    claim = workflow.lock(claim_pk)
    rc = _record(base, claim=claim, patient_id=claim.patient_id, outcome=Outcome.POSTED, posted_at=now)
    if rc is None:
        _duplicate(base, claim, counts)
        return
    apply_to_claim(rc, claim, clp, now=now)
    counts.posted += 1
    counts.patients.add(claim.patient_id)


# ---------------------------------------------------------------------------------------------
# Posting one 835 claim to one claim


def _match_line(svc: x835.ServiceLine, lines: list[ClaimLine], used: set[int]) -> ClaimLine | None:
    """The claim line an SVC answers: same code (or the code billed, SVC06), modifiers and date; first unused."""
    codes = {svc.procedure.upper(), (svc.submitted_procedure or "").upper()} - {""}
    day = svc.service_date or svc.service_start

    def score(line: ClaimLine) -> int:
        return (set(svc.modifiers) == set(line.modifiers)) * 2 + (day is not None and line.service_date == day)

    candidates = [ln for ln in lines if ln.pk not in used and ln.procedure_code in codes]
    if not candidates:
        return None
    best = max(candidates, key=score)
    used.add(best.pk)
    return best


def _fee_schedule(claim: Claim, codes: set[str]) -> dict[str, list[FeeScheduleLine]]:
    day = claim.service_date
    rows = (
        FeeScheduleLine.objects.filter(payer_id=claim.payer_id, procedure__code__in=codes, effective_from__lte=day)
        .filter(Q(effective_to__isnull=True) | Q(effective_to__gte=day))
        .select_related("procedure")
        .order_by("-effective_from")
    )
    found: dict[str, list[FeeScheduleLine]] = defaultdict(list)
    for row in rows:
        found[row.procedure.code].append(row)
    return found


def _expected(
    svc: x835.ServiceLine, line: ClaimLine | None, schedule: dict[str, list[FeeScheduleLine]]
) -> Decimal | None:
    """What the fee schedule says the payer allows for the line: per unit, a modifier's own rate first."""
    rows = schedule.get(svc.procedure.upper()) or schedule.get((svc.submitted_procedure or "").upper()) or []
    exact = [r for r in rows if r.modifier and r.modifier in svc.modifiers]
    generic = [r for r in rows if not r.modifier]
    candidates = exact or generic
    if not candidates:
        return None
    chosen = candidates[0]
    units = svc.units if svc.units else Decimal(line.units if line else 1)
    return (chosen.allowed_amount * units).quantize(Decimal("0.01"))


def _tolerance() -> Decimal:
    return Decimal(str(getattr(settings, "BILLING_UNDERPAYMENT_TOLERANCE", "0.50")))


def apply_to_claim(rc: RemittanceClaim, claim: Claim, clp: x835.Claim, *, now: datetime) -> None:
    """Post one 835 claim: lines and adjustments, totals on the claim, PR to the patient, denials,
    underpayments, and the claim's new status. The claim is locked by the caller."""
    reversal = clp.is_reversal
    lines = list(claim.lines.all())
    schedule = _fee_schedule(
        claim,
        {s.procedure.upper() for s in clp.lines}
        | {s.submitted_procedure.upper() for s in clp.lines if s.submitted_procedure},
    )
    used: set[int] = set()
    postings: list[PaymentPosting] = []
    line_adjustments: list[list[AdjustmentPosting]] = []
    sums: dict[str, Decimal] = defaultdict(Decimal)
    tolerance = _tolerance()
    underpaid = ZERO
    for seq, svc in enumerate(clp.lines, 1):
        line = _match_line(svc, lines, used)
        adjs = [_adjustment(rc, claim, a) for a in svc.adjustments]
        patient = sum((a.amount for a in adjs if a.effect == Effect.PATIENT), ZERO)
        denied = sum((a.amount for a in adjs if a.effect == Effect.DENIAL), ZERO)
        allowed = svc.paid + patient
        expected = None if reversal else _expected(svc, line, schedule)
        short = ZERO
        if expected is not None and allowed > 0 and denied <= 0 and expected - allowed > tolerance:
            short = expected - allowed
            underpaid += short
        postings.append(
            PaymentPosting(
                remittance_claim=rc,
                claim=claim,
                claim_line=line,
                sequence=seq,
                procedure_code=svc.procedure[:48],
                modifiers=list(svc.modifiers),
                charge=svc.charge,
                paid=svc.paid,
                units=svc.units,
                service_date=svc.service_date or svc.service_start,
                remarks=list(svc.remarks),
                allowed=allowed,
                expected_allowed=expected,
                underpaid_amount=short,
                created_at=now,
            )
        )
        line_adjustments.append(adjs)
    postings = PaymentPosting.objects.bulk_create(postings)
    claim_adjs = [_adjustment(rc, claim, a) for a in clp.adjustments]
    rows: list[AdjustmentPosting] = list(claim_adjs)
    for posting, adjs in zip(postings, line_adjustments, strict=True):
        for a in adjs:
            a.posting = posting
        rows += adjs
    AdjustmentPosting.objects.bulk_create(rows)
    for a in rows:
        sums[a.effect] += a.amount

    changes: dict[str, Any] = {
        "paid_amount": (claim.paid_amount or ZERO) + clp.paid,
        "contractual_adjustment": claim.contractual_adjustment + sums[Effect.WRITE_OFF],
        "patient_responsibility": claim.patient_responsibility + sums[Effect.PATIENT],
        "adjudicated_at": now,
        "first_adjudicated_at": claim.first_adjudicated_at or now,
    }
    if clp.payer_claim_number and not reversal:
        changes["payer_claim_number"] = clp.payer_claim_number[:50]
    if sums[Effect.PATIENT]:
        ledger.add_insurance_responsibility(
            claim, remittance_claim=rc, amount=sums[Effect.PATIENT], posted_on=timezone.localdate(now), now=now
        )

    made: list[Denial] = []
    if reversal:
        if claim.denied_at is not None:
            note = "The payer reversed its adjudication; a new one follows."
            denials.resolve_claim_denials(claim, note=note, actor=None, now=now)
    else:
        made = _denials(rc, claim, clp, claim_adjs, list(zip(postings, line_adjustments, strict=True)), now=now)
    if made and claim.denied_at is None:
        changes["denied_at"] = now
    balance = (
        claim.total_charge
        - changes["paid_amount"]
        - changes["contractual_adjustment"]
        - claim.written_off
        - changes["patient_responsibility"]
    )
    target = _target(clp, made, balance)
    if target == S.PAID and claim.denied_at is not None:
        denials.resolve_claim_denials(claim, note="Paid on reprocessing.", actor=None, now=now)
    claim, note = workflow.post_payer_answer(claim, to=target, changes=changes, now=now)
    messages = [note] if note else []
    if underpaid > 0:
        rc.underpaid_amount = underpaid
        open_work_item(
            kind=UNDERPAYMENT,
            subject=rc,
            patient=claim.patient,
            title=f"Underpaid by {underpaid}: claim {claim.patient_control_number} ({claim.payer.name})",
            detail="Allowed less than the fee schedule on: "
            + "; ".join(
                f"{p.procedure_code} allowed {p.allowed}, expected {p.expected_allowed}"
                for p in postings
                if p.underpaid_amount > 0
            )
            + ". Check the contract and the fee schedule; ask the payer to reprocess if it paid the wrong rate.",
            due_at=now + timedelta(days=7),
        )
    if messages:
        rc.message = " ".join(messages)
    if underpaid > 0 or messages:
        rc.save(update_fields=["underpaid_amount", "message"])


def _adjustment(rc: RemittanceClaim, claim: Claim, a: x835.Adjustment) -> AdjustmentPosting:
    return AdjustmentPosting(
        remittance_claim=rc,
        claim=claim,
        group=a.group[:2],
        reason=a.reason[:5],
        amount=a.amount,
        quantity=a.quantity,
        effect=denials.effect_of(a.group, a.reason),
        created_at=rc.created_at,
    )


def _denied(adjs: list[AdjustmentPosting]) -> list[denials.DeniedAmount]:
    return [
        denials.DeniedAmount(a.group, a.reason, a.amount) for a in adjs if a.effect == Effect.DENIAL and a.amount > 0
    ]


def _denials(
    rc: RemittanceClaim,
    claim: Claim,
    clp: x835.Claim,
    claim_adjs: list[AdjustmentPosting],
    lines: list[tuple[PaymentPosting, list[AdjustmentPosting]]],
    *,
    now: datetime,
) -> list[Denial]:
    """One denial for a denied claim; otherwise one per line (and one for claim-level codes) with money denied."""
    every = _denied(claim_adjs) + [d for _, adjs in lines for d in _denied(adjs)]
    remarks_all = list(clp.remarks) + [r for p, _ in lines for r in p.remarks]
    made: list[Denial] = []

    def make(
        level: str,
        codes: list[denials.DeniedAmount],
        remarks: list[str],
        posting: PaymentPosting | None,
        fallback: Decimal,
    ) -> None:
        group, reason, amount, category = denials.draft_denial(
            codes=codes, remarks=remarks, status_code=clp.status_code, fallback_amount=fallback
        )
        denial = Denial.objects.create(
            claim=claim,
            remittance_claim=rc,
            posting=posting,
            level=level,
            procedure_code=posting.procedure_code if posting else "",
            group=group,
            reason=reason,
            codes=[{"group": d.group, "reason": d.reason, "amount": str(d.amount.quantize(CENT))} for d in codes],
            remarks=remarks,
            amount=amount,
            category=category.code,
            next_step=category.next_step,
            created_at=now,
        )
        denials.open_item(denial, claim, now=now)
        made.append(denial)

    whole = clp.status_code in denials.DENIED_STATUSES or (clp.paid <= 0 and bool(every))
    if whole:
        make(Denial.Level.CLAIM, every, remarks_all, None, max(clp.charge - clp.paid, ZERO))
        return made
    if _denied(claim_adjs):
        make(Denial.Level.CLAIM, _denied(claim_adjs), list(clp.remarks), None, ZERO)
    for posting, adjs in lines:
        if _denied(adjs):
            make(Denial.Level.LINE, _denied(adjs), list(posting.remarks), posting, ZERO)
    return made


def _target(clp: x835.Claim, made: list[Denial], balance: Decimal) -> str | None:
    """What the payer's answer makes the claim: None leaves the status (predetermination only)."""
    if clp.is_reversal:
        return S.ACCEPTED
    if clp.status_code == "25":
        return None
    if any(d.level == Denial.Level.CLAIM for d in made) and clp.paid <= 0:
        return S.DENIED
    if made or balance > 0:
        return S.PARTIALLY_PAID
    return S.PAID


# ---------------------------------------------------------------------------------------------
# Working the exceptions


@transaction.atomic
def match_unmatched(
    rc: RemittanceClaim, claim: Claim, *, actor: User | None, now: datetime | None = None
) -> RemittanceClaim:
    """Post an unmatched 835 claim to the claim a biller found for it."""
    now = now or timezone.now()
    if actor is not None and not (
        actor.has_perm(CHANGE) and actor.has_perm(workflow.CHANGE) and claim.patient.care_team_id in panel_ids(actor)
    ):
        raise NotPermitted("You cannot post to this claim.")
    rc = RemittanceClaim.objects.select_for_update(of=("self",)).select_related("remittance__file").get(pk=rc.pk)
    if rc.outcome != Outcome.UNMATCHED:
        raise ActionRefused("This 835 claim is posted already.")
    remittances = x835.parse_835(rc.remittance.file.content)
    clp = _find_clp(remittances, rc)
    claim = workflow.lock(claim)
    rc.claim = claim
    rc.patient_id = claim.patient_id
    rc.outcome = Outcome.MATCHED_LATER
    rc.posted_at = now
    rc.message = f"Matched by hand to claim {claim.patient_control_number}."
    rc.save(update_fields=["claim", "patient", "outcome", "posted_at", "message"])
    apply_to_claim(rc, claim, clp, now=now)
    close_work_item(kind=UNMATCHED, subject=rc, note=rc.message, actor=actor)
    file = RemittanceFile.objects.select_for_update().get(pk=rc.remittance.file_id)
    file.claims_unmatched = RemittanceClaim.objects.filter(remittance__file=file, outcome=Outcome.UNMATCHED).count()
    file.claims_posted += 1
    if not file.claims_unmatched:
        file.status = FileStatus.POSTED
    file.save(update_fields=["claims_unmatched", "claims_posted", "status"])
    return rc


def _find_clp(remittances: list[x835.Remittance], rc: RemittanceClaim) -> x835.Claim:
    """The CLP a stored RemittanceClaim came from (same transaction control number and position)."""
    control = rc.remittance.transaction_control_number
    for r in remittances:
        same = r.transaction_control_number == control and r.payment.trace_number[:50] == rc.trace_number
        if same and 0 < rc.sequence <= len(r.claims):
            return r.claims[rc.sequence - 1]
    raise ActionRefused("The 835 claim could not be found in its file again.")


def fetch_from_clearinghouse(*, now: datetime | None = None, clearinghouse: Any = None) -> list[ImportResult]:
    """Import every 835 the clearinghouse has for us (the periodic fetch). A file seen before posts nothing."""
    from .clearinghouse import get_clearinghouse

    now = now or timezone.now()
    house = clearinghouse or get_clearinghouse()
    documents = house.fetch_835s(now=now, timeout=float(getattr(settings, "BILLING_CLEARINGHOUSE_TIMEOUT", 30)))
    return [
        import_835(doc.content, source=RemittanceFile.Source.CLEARINGHOUSE, filename=doc.name, now=now)
        for doc in documents
    ]
