"""The simulated payer behind the simulated clearinghouse: adjudicates accepted claims into real 835s.

Only for the demo and tests (settings.BILLING_CLEARINGHOUSE = "simulated"). It reads the claims it
accepted and the practice's fee schedules, as a payer would read its own claim store and contract.
"""

from __future__ import annotations

import hashlib
import re
from collections import defaultdict
from datetime import datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from .clearinghouse import RemittanceDocument
from .models import Claim, FeeScheduleLine
from .x12.x835_build import Cas, ClaimAnswer, LineAnswer, build_835

DENY = re.compile(r"^DEN(\d{0,3})")
UNDER = "UND"
BATCH = 500
CENT = Decimal("0.01")


def _allowed(schedule: dict[str, Decimal], code: str, charge: Decimal, units: int, member: str) -> Decimal:
    rate = schedule.get(code)
    allowed = rate * units if rate is not None else charge * Decimal("0.80")
    if member.startswith(UNDER):
        allowed *= Decimal("0.90")
    return min(allowed.quantize(CENT), charge)


def _answer(claim: Claim, schedule: dict[str, Decimal], number: int) -> ClaimAnswer:
    member = claim.coverage.member_id.strip().upper()
    denied = DENY.match(member)
    lines: list[LineAnswer] = []
    for ln in claim.lines.all():
        if denied:
            reason = denied.group(1) or "16"
            lines.append(
                LineAnswer(
                    ln.procedure_code,
                    ln.charge,
                    Decimal(0),
                    modifiers=ln.modifiers,
                    units=ln.units,
                    service_date=ln.service_date,
                    adjustments=[Cas("CO", reason, ln.charge)],
                )
            )
            continue
        allowed = _allowed(schedule, ln.procedure_code, ln.charge, ln.units, member)
        coinsurance = (allowed * Decimal("0.20")).quantize(CENT)
        adjustments = [Cas("CO", "45", ln.charge - allowed)] if ln.charge > allowed else []
        if coinsurance:
            adjustments.append(Cas("PR", "2", coinsurance))
        lines.append(
            LineAnswer(
                ln.procedure_code,
                ln.charge,
                allowed - coinsurance,
                modifiers=ln.modifiers,
                units=ln.units,
                service_date=ln.service_date,
                adjustments=adjustments,
            )
        )
    paid = sum((ln.paid for ln in lines), Decimal(0))
    patient = sum((a.amount for ln in lines for a in ln.adjustments if a.group == "PR"), Decimal(0))
    return ClaimAnswer(
        patient_control_number=claim.patient_control_number,
        status_code="4" if denied else "1",
        charge=claim.total_charge,
        paid=paid,
        payer_claim_number=f"SIM{number:09d}",
        patient_last_name=claim.patient.last_name,
        patient_first_name=claim.patient.first_name,
        member_id=claim.coverage.member_id,
        service_date=claim.service_date,
        patient_responsibility=patient or None,
        lines=lines,
    )


def remittances_due(*, now: datetime) -> list[RemittanceDocument]:
    """One 835 per payer for the claims accepted long enough ago and still waiting for an answer."""
    days = int(getattr(settings, "BILLING_SIM_ADJUDICATION_DAYS", 3))
    due = (
        Claim.objects.filter(status=Claim.Status.ACCEPTED, accepted_at__lte=now - timedelta(days=days))
        .select_related("payer", "patient", "coverage")
        .prefetch_related("lines")
        .order_by("payer_id", "pk")
    )
    by_payer: dict[int, list[Claim]] = defaultdict(list)
    for claim in due[: BATCH * 4]:
        if len(by_payer[claim.payer_id]) < BATCH:
            by_payer[claim.payer_id].append(claim)
    if not by_payer:
        return []
    day = timezone.localdate(now)
    rates: dict[int, dict[str, Decimal]] = defaultdict(dict)
    for row in (
        FeeScheduleLine.objects.filter(payer_id__in=list(by_payer), modifier="", effective_from__lte=day)
        .filter(Q(effective_to__isnull=True) | Q(effective_to__gte=day))
        .select_related("procedure")
        .order_by("effective_from")
    ):
        rates[row.payer_id][row.procedure.code] = row.allowed_amount  # the latest start wins
    files: list[RemittanceDocument] = []
    for claims in by_payer.values():
        payer = claims[0].payer
        digest = hashlib.sha256("|".join(c.patient_control_number for c in claims).encode()).hexdigest()
        answers = [_answer(c, rates[payer.pk], c.pk) for c in claims]
        trace = f"SIM{day:%Y%m%d}{digest[:8].upper()}"
        text = build_835(
            answers,
            payer_name=payer.name,
            payer_id=payer.payer_id,
            payee_name=claims[0].billing_name or "PRACTICE",
            payee_npi=claims[0].billing_npi or "1234567893",
            trace_number=trace,
            payment_date=day,
            when=datetime.combine(day, datetime.min.time()),
            interchange_control_number=int(digest[:8], 16) % 999_999_999 or 1,
        )
        files.append(RemittanceDocument(f"{trace}.835", text))
    return files
