"""835 health care claim payment/advice (005010X221A1): one Remittance per ST/SE transaction set."""

from __future__ import annotations

import io
import json
import logging
import re
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from billing import carc
from eligibility.x12.envelope import Transaction, read_interchanges
from eligibility.x12.reader import Segment, X12Error
from eligibility.x12.x270 import parse_d8

IMPLEMENTATION = "005010X221A1"
_SAME_RULES = {IMPLEMENTATION, "005010X221"}  # the guide before its errata reads the same way
PAYMENT_METHODS: dict[str, str] = {
    "ACH": "automated clearing house (EFT)",
    "BOP": "financial institution option",
    "CHK": "check",
    "FWT": "federal reserve funds/wire transfer",
    "NON": "non-payment data",
}
CLAIM_STATUS: dict[str, str] = {
    "1": "processed as primary",
    "2": "processed as secondary",
    "3": "processed as tertiary",
    "4": "denied",
    "19": "processed as primary, forwarded to additional payer(s)",
    "20": "processed as secondary, forwarded to additional payer(s)",
    "21": "processed as tertiary, forwarded to additional payer(s)",
    "22": "reversal of previous payment",
    "23": "not our claim, forwarded to additional payer(s)",
    "25": "predetermination pricing only - no payment",
}
REVERSAL = "22"
DENIED = "4"

_NUMBER = re.compile(r"-?(\d+(\.\d*)?|\.\d+)")  # X12 "R" (decimal) type: no exponent, no sign but '-'
_CAS_TRIPLETS = 6  # CAS02-04, 05-07, ... 17-19
_PLB_PAIRS = 6  # PLB03-04, 05-06, ... 13-14
_ZERO = Decimal(0)


# ---------------------------------------------------------------------------------------------
# Result objects


@dataclass(frozen=True)
class Adjustment:
    """One CAS reason/amount/quantity triplet under its group code."""

    group: str  # CAS01: CO, PR, OA, PI (CR in 4010-era files)
    reason: str  # CARC
    amount: Decimal  # positive reduces payment; negative (reversals) increases it
    quantity: Decimal | None = None

    @property
    def group_meaning(self) -> str:
        return carc.group_meaning(self.group)

    def describe(self, on: date | None = None) -> carc.Description:
        """The CARC's meaning on `on` (normally the remittance's payment date)."""
        return carc.describe_carc(self.reason, on=on)

    def as_dict(self) -> dict[str, Any]:
        return {"group": self.group, "reason": self.reason, "amount": str(self.amount)}


@dataclass
class Payer:
    """Loop 1000A."""

    name: str = ""
    id: str = ""  # N104 (N103 = XV) or else REF*2U


@dataclass
class Payee:
    """Loop 1000B."""

    name: str = ""
    npi: str = ""  # N104 when N103 = XX
    tax_id: str = ""  # N104 when N103 = FI, or else REF*TJ


@dataclass
class Payment:
    """BPR and TRN: the money movement this remittance explains."""

    amount: Decimal  # BPR02
    method: str  # BPR04
    trace_number: str  # TRN02: check or EFT trace number, to match the bank deposit
    date: date | None  # BPR16: check issue or EFT effective date
    handling: str = ""  # BPR01: I payment + advice, H advice only, ...
    credit_debit: str = ""  # BPR03: C credit, D debit
    originator: str = ""  # TRN03: payer's "1" + TIN

    @property
    def method_meaning(self) -> str:
        return PAYMENT_METHODS.get(self.method, f"unknown method {self.method}")


@dataclass
class ServiceLine:
    """Loop 2110: one SVC and what follows it."""

    procedure: str  # SVC01-2, e.g. "99213"
    qualifier: str  # SVC01-1, e.g. "HC" (HCPCS/CPT)
    modifiers: list[str]  # SVC01-3..6
    charge: Decimal  # SVC02
    paid: Decimal  # SVC03
    units: Decimal | None = None  # SVC05, units paid
    submitted_procedure: str = ""  # SVC06-2 when the payer adjudicated a different code
    adjustments: list[Adjustment] = field(default_factory=list)
    remarks: list[str] = field(default_factory=list)  # LQ*HE RARCs
    service_date: date | None = None  # DTM*472
    service_start: date | None = None  # DTM*150
    service_end: date | None = None  # DTM*151
    control_number: str = ""  # REF*6R: our line item control number, echoed back

    def as_dict(self) -> dict[str, Any]:
        return {
            "procedure": self.procedure,
            "qualifier": self.qualifier,
            "modifiers": list(self.modifiers),
            "charge": str(self.charge),
            "paid": str(self.paid),
            "adjustments": [a.as_dict() for a in self.adjustments],
            "remarks": list(self.remarks),
            "service_date": _iso(self.service_date),
        }


@dataclass
class Claim:
    """Loop 2100: one CLP with its adjustments and service lines."""

    patient_control_number: str  # CLP01: our claim id as we sent it in CLM01
    status_code: str  # CLP02
    charge: Decimal  # CLP03
    paid: Decimal  # CLP04
    patient_responsibility: Decimal | None  # CLP05
    payer_claim_number: str  # CLP07
    filing_indicator: str = ""  # CLP06, e.g. MB Medicare B, 12 PPO
    frequency: str = ""  # CLP09: 1 original, 7 replacement, 8 void
    patient_last_name: str = ""  # NM1*QC
    patient_first_name: str = ""
    member_id: str = ""
    adjustments: list[Adjustment] = field(default_factory=list)  # claim-level CAS
    remarks: list[str] = field(default_factory=list)  # claim-level RARCs from MOA/MIA
    service_start: date | None = None  # DTM*232
    service_end: date | None = None  # DTM*233
    lines: list[ServiceLine] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def status(self) -> str:
        return CLAIM_STATUS.get(self.status_code, f"unknown status {self.status_code}")

    @property
    def is_reversal(self) -> bool:
        return self.status_code == REVERSAL

    @property
    def is_denied(self) -> bool:
        return self.status_code == DENIED

    def all_adjustments(self) -> list[Adjustment]:
        """Claim-level then line-level adjustments."""
        return [*self.adjustments, *(a for line in self.lines for a in line.adjustments)]

    def as_dict(self) -> dict[str, Any]:
        return {
            "patient_control_number": self.patient_control_number,
            "status_code": self.status_code,
            "status": self.status,
            "charge": str(self.charge),
            "paid": str(self.paid),
            "patient_responsibility": _dec(self.patient_responsibility),
            "payer_claim_number": self.payer_claim_number,
            "service_start": _iso(self.service_start),
            "service_end": _iso(self.service_end),
            "adjustments": [a.as_dict() for a in self.adjustments],
            "remarks": list(self.remarks),
            "lines": [line.as_dict() for line in self.lines],
            "warnings": list(self.warnings),
        }


@dataclass(frozen=True)
class ProviderAdjustment:
    """One PLB reason/amount pair: money moved outside any claim (recoupments, interest, ...)."""

    provider_id: str  # PLB01
    fiscal_period_end: date | None  # PLB02
    reason: str  # PLB03-1, e.g. WO overpayment recovery, L6 interest, FB forwarding balance
    reference: str  # PLB03-2, e.g. the claim the recoupment is for
    amount: Decimal  # positive reduces the payment, negative increases it

    def as_dict(self) -> dict[str, Any]:
        return {"reason": self.reason, "reference": self.reference, "amount": str(self.amount)}


@dataclass
class Remittance:
    """One 835 transaction set."""

    payer: Payer
    payee: Payee
    payment: Payment
    claims: list[Claim] = field(default_factory=list)
    provider_adjustments: list[ProviderAdjustment] = field(default_factory=list)
    production_date: date | None = None  # DTM*405
    transaction_control_number: str = ""
    warnings: list[str] = field(default_factory=list)  # imbalances and oddities, never fatal

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form (dates ISO, amounts as the file's decimal strings), as parse_835 prints."""
        return {
            "payer": {"name": self.payer.name, "id": self.payer.id},
            "payee": {"name": self.payee.name, "npi": self.payee.npi},
            "payment": {
                "amount": str(self.payment.amount),
                "method": self.payment.method,
                "trace_number": self.payment.trace_number,
                "date": _iso(self.payment.date),
            },
            "claims": [claim.as_dict() for claim in self.claims],
            "provider_adjustments": [p.as_dict() for p in self.provider_adjustments],
            "warnings": list(self.warnings),
        }


def _iso(value: date | None) -> str | None:
    return value.isoformat() if value else None


def _dec(value: Decimal | None) -> str | None:
    return str(value) if value is not None else None


# ---------------------------------------------------------------------------------------------
# Element parsing


class _Reader:
    """Element helpers that name the transaction and segment in every error."""

    def __init__(self, tx: Transaction) -> None:
        self.tx = tx

    def where(self, seg: Segment) -> str:
        return f"835 transaction {self.tx.control_number}, segment {seg.position} ({seg.id})"

    def amount(self, seg: Segment, n: int) -> Decimal | None:
        """An optional amount: None when the element is empty."""
        return self.required_amount(seg, n) if seg.get(n).strip() else None

    def required_amount(self, seg: Segment, n: int) -> Decimal:
        value = seg.get(n).strip()
        if not value:
            raise X12Error(f"{self.where(seg)}: {seg.id}{n:02d} amount is missing")
        # The regex keeps out what Decimal would accept but X12 forbids (NaN, 1E3, +5, spaces).
        if not _NUMBER.fullmatch(value):
            raise X12Error(f"{self.where(seg)}: {seg.id}{n:02d} {value!r} is not a number")
        return Decimal(value)

    def required(self, seg: Segment, n: int, what: str) -> str:
        value = seg.get(n).strip()
        if not value:
            raise X12Error(f"{self.where(seg)}: {seg.id}{n:02d} ({what}) is missing")
        return value

    def d8(self, seg: Segment, n: int) -> date | None:
        value = seg.get(n).strip()
        if not value:
            return None
        parsed = parse_d8(value)
        if parsed is None:
            raise X12Error(f"{self.where(seg)}: {seg.id}{n:02d} {value!r} is not a CCYYMMDD date")
        return parsed

    def adjustments(self, seg: Segment) -> list[Adjustment]:
        group = self.required(seg, 1, "claim adjustment group code")
        found: list[Adjustment] = []
        for i in range(_CAS_TRIPLETS):
            reason_at = 2 + 3 * i
            reason, amount = seg.get(reason_at).strip(), seg.get(reason_at + 1).strip()
            if not reason and not amount:
                continue
            if not reason:
                raise X12Error(f"{self.where(seg)}: CAS{reason_at:02d} reason code is missing for amount {amount!r}")
            found.append(
                Adjustment(
                    group=group,
                    reason=reason,
                    amount=self.required_amount(seg, reason_at + 1),
                    quantity=self.amount(seg, reason_at + 2),
                )
            )
        if not found:
            raise X12Error(f"{self.where(seg)}: CAS has no reason code and amount")
        if len(seg.elements) > 1 + 3 * _CAS_TRIPLETS:
            raise X12Error(f"{self.where(seg)}: CAS has {len(seg.elements)} elements, at most 19 are allowed")
        return found

    def provider_adjustments(self, seg: Segment) -> list[ProviderAdjustment]:
        provider = self.required(seg, 1, "provider identifier")
        period_end = self.d8(seg, 2)
        found: list[ProviderAdjustment] = []
        for i in range(_PLB_PAIRS):
            code_at = 3 + 2 * i
            composite, amount = seg.components(code_at), seg.get(code_at + 1).strip()
            if not composite and not amount:
                continue
            if not composite or not composite[0]:
                raise X12Error(f"{self.where(seg)}: PLB{code_at:02d} adjustment reason is missing for {amount!r}")
            found.append(
                ProviderAdjustment(
                    provider_id=provider,
                    fiscal_period_end=period_end,
                    reason=composite[0],
                    reference=composite[1] if len(composite) > 1 else "",
                    amount=self.required_amount(seg, code_at + 1),
                )
            )
        if not found:
            raise X12Error(f"{self.where(seg)}: PLB has no adjustment reason and amount")
        return found


def _service_line(r: _Reader, seg: Segment) -> ServiceLine:
    composite = seg.components(1)
    if len(composite) < 2 or not composite[0] or not composite[1]:
        raise X12Error(
            f"{r.where(seg)}: SVC01 {seg.get(1)!r} should be qualifier{seg.delimiters.component}procedure code"
        )
    original = seg.components(6)
    return ServiceLine(
        procedure=composite[1],
        qualifier=composite[0],
        modifiers=[m for m in composite[2:6] if m],
        charge=r.required_amount(seg, 2),
        paid=r.required_amount(seg, 3),
        units=r.amount(seg, 5),
        submitted_procedure=original[1] if len(original) > 1 else "",
    )


def _claim(r: _Reader, seg: Segment) -> Claim:
    return Claim(
        patient_control_number=r.required(seg, 1, "patient control number"),
        status_code=r.required(seg, 2, "claim status code"),
        charge=r.required_amount(seg, 3),
        paid=r.required_amount(seg, 4),
        patient_responsibility=r.amount(seg, 5),
        filing_indicator=seg.get(6),
        payer_claim_number=seg.get(7),
        frequency=seg.get(9),
    )


def _payment(r: _Reader, bpr: Segment) -> Payment:
    return Payment(
        handling=bpr.get(1),
        amount=r.required_amount(bpr, 2),
        credit_debit=bpr.get(3),
        method=r.required(bpr, 4, "payment method"),
        trace_number="",
        date=r.d8(bpr, 16),
    )


# Remark codes sit in fixed places: MOA03-07 (outpatient) and MIA05, MIA20-23 (inpatient).
_MOA_REMARKS = (3, 4, 5, 6, 7)
_MIA_REMARKS = (5, 20, 21, 22, 23)


def _remittance(tx: Transaction) -> Remittance:
    r = _Reader(tx)
    body = tx.body
    if not body or body[0].id != "BPR":
        found = next((seg for seg in body if seg.id == "BPR"), None)
        if found is None:
            raise X12Error(f"835 transaction {tx.control_number} has no BPR (financial information) segment")
        raise X12Error(f"{r.where(found)}: BPR must be the first segment after ST")
    payment = _payment(r, body[0])
    remittance = Remittance(payer=Payer(), payee=Payee(), payment=payment, transaction_control_number=tx.control_number)
    warnings = remittance.warnings
    if payment.method not in PAYMENT_METHODS:
        warnings.append(f"BPR04 payment method {payment.method!r} is not one of {', '.join(PAYMENT_METHODS)}")

    party = ""  # "PR", "PE" or another N101 while in a 1000 loop; "" once the claims begin
    seen_trn = seen_payer = seen_payee = False
    claim: Claim | None = None
    line: ServiceLine | None = None
    in_summary = False  # after PLB only more PLBs may follow

    for seg in body[1:]:
        sid = seg.id
        if in_summary and sid != "PLB":
            raise X12Error(f"{r.where(seg)}: {sid} after PLB (only PLB may end the transaction)")
        if sid == "BPR":
            raise X12Error(f"{r.where(seg)}: a second BPR in one transaction")
        if sid == "TRN" and not seen_trn and claim is None:
            payment.trace_number = r.required(seg, 2, "check or EFT trace number")
            payment.originator = seg.get(3)
            seen_trn = True
        elif sid == "DTM" and claim is None and party == "" and seg.get(1) == "405":
            remittance.production_date = r.d8(seg, 2)
        elif sid == "N1" and claim is None:
            party = r.required(seg, 1, "entity identifier code")
            if party == "PR":
                seen_payer = True
                remittance.payer.name = seg.get(2)
                if seg.get(4):
                    remittance.payer.id = seg.get(4)
            elif party == "PE":
                seen_payee = True
                remittance.payee.name = seg.get(2)
                if seg.get(3) == "XX":
                    remittance.payee.npi = seg.get(4)
                elif seg.get(3) == "FI":
                    remittance.payee.tax_id = seg.get(4)
        elif sid == "REF" and claim is None and party:
            if party == "PR" and seg.get(1) == "2U" and not remittance.payer.id:
                remittance.payer.id = seg.get(2)
            elif party == "PE" and seg.get(1) == "TJ" and not remittance.payee.tax_id:
                remittance.payee.tax_id = seg.get(2)
        elif sid == "LX":
            party, claim, line = "", None, None
        elif sid == "CLP":
            party, line = "", None
            claim = _claim(r, seg)
            remittance.claims.append(claim)
        elif sid == "CAS":
            if claim is None:
                raise X12Error(f"{r.where(seg)}: CAS outside a claim (CLP) loop")
            (line.adjustments if line else claim.adjustments).extend(r.adjustments(seg))
        elif sid == "SVC":
            if claim is None:
                raise X12Error(f"{r.where(seg)}: SVC outside a claim (CLP) loop")
            line = _service_line(r, seg)
            claim.lines.append(line)
        elif sid == "LQ":
            if line is None:
                raise X12Error(f"{r.where(seg)}: LQ outside a service line (SVC) loop")
            if seg.get(1) == "HE":
                line.remarks.append(r.required(seg, 2, "remark code"))
        elif sid in ("MOA", "MIA") and claim is not None and line is None:
            places = _MOA_REMARKS if sid == "MOA" else _MIA_REMARKS
            claim.remarks.extend(seg.get(n) for n in places if seg.get(n))
        elif sid == "NM1" and claim is not None and line is None and seg.get(1) == "QC":
            claim.patient_last_name, claim.patient_first_name, claim.member_id = seg.get(3), seg.get(4), seg.get(9)
        elif sid == "DTM" and claim is not None:
            _claim_or_line_date(r, seg, claim, line)
        elif sid == "REF" and line is not None and seg.get(1) == "6R":
            line.control_number = seg.get(2)
        elif sid == "PLB":
            in_summary, party, claim, line = True, "", None, None
            remittance.provider_adjustments.extend(r.provider_adjustments(seg))
        # Everything else (N3, N4, PER, RDM, TS3, TS2, AMT, QTY, other REF/DTM/NM1, ...) carries
        # nothing we post, and unknown segments are tolerated so a payer's extras never block a file.

    if not seen_trn:
        raise X12Error(f"835 transaction {tx.control_number} has no TRN (reassociation trace number) segment")
    if not seen_payer:
        raise X12Error(f"835 transaction {tx.control_number} has no N1*PR payer identification loop")
    if not seen_payee:
        raise X12Error(f"835 transaction {tx.control_number} has no N1*PE payee identification loop")
    _check_balances(remittance)
    return remittance


def _claim_or_line_date(r: _Reader, seg: Segment, claim: Claim, line: ServiceLine | None) -> None:
    qualifier = seg.get(1)
    if line is not None:
        if qualifier == "472":
            line.service_date = r.d8(seg, 2)
        elif qualifier == "150":
            line.service_start = r.d8(seg, 2)
        elif qualifier == "151":
            line.service_end = r.d8(seg, 2)
    elif qualifier == "232":
        claim.service_start = r.d8(seg, 2)
    elif qualifier == "233":
        claim.service_end = r.d8(seg, 2)


# ---------------------------------------------------------------------------------------------
# Balancing (835 TR3 section 1.10.2.1): reported, never fatal, so a payer's arithmetic slip
# still lets the rest of the file post and a person looks at the one claim that is off.


def _total(amounts: Iterable[Decimal]) -> Decimal:
    return sum(amounts, _ZERO)


def _check_balances(remittance: Remittance) -> None:
    for claim in remittance.claims:
        label = f"claim {claim.patient_control_number}" + (
            f" (payer claim {claim.payer_claim_number})" if claim.payer_claim_number else ""
        )
        if claim.status_code not in CLAIM_STATUS:
            claim.warnings.append(f"{label}: CLP02 status code {claim.status_code!r} is not a known claim status")
        for adjustment in claim.all_adjustments():
            if adjustment.group not in carc.GROUPS:
                claim.warnings.append(f"{label}: CAS group code {adjustment.group!r} is not CO, OA, PI or PR")
        for n, line in enumerate(claim.lines, 1):
            line_gap = line.charge - line.paid - _total(a.amount for a in line.adjustments)
            if line_gap:
                claim.warnings.append(
                    f"{label}, line {n} ({line.procedure}): charge {line.charge} - paid {line.paid} - "
                    f"adjustments {_total(a.amount for a in line.adjustments)} = {line_gap}, should be 0"
                )
        adjusted = _total(a.amount for a in claim.all_adjustments())
        gap = claim.charge - claim.paid - adjusted
        if gap:
            claim.warnings.append(
                f"{label}: charge {claim.charge} - paid {claim.paid} - adjustments {adjusted} = {gap}, should be 0"
            )
        remittance.warnings.extend(claim.warnings)

    paid = _total(c.paid for c in remittance.claims)
    provider = _total(p.amount for p in remittance.provider_adjustments)
    if remittance.payment.amount != paid - provider:
        remittance.warnings.append(
            f"BPR02 payment {remittance.payment.amount} does not equal claims paid {paid} - "
            f"provider adjustments {provider} = {paid - provider}"
        )


# ---------------------------------------------------------------------------------------------
# Entry points


def _checked_remittance(tx: Transaction) -> Remittance:
    if tx.set_id != "835":
        raise X12Error(f"transaction set {tx.control_number} is a {tx.set_id or 'blank'} (ST01), not an 835")
    try:
        return _remittance(tx)
    except X12Error:
        raise
    except (ArithmeticError, ValueError, IndexError, KeyError) as exc:
        # Defensive: a gap in the checks above must still surface as "this file is bad"
        # with its place, never as a traceback in the command or a 500 in an upload.
        raise X12Error(f"835 transaction {tx.control_number}: unreadable ({exc})") from exc


def parse_835(data: str | bytes) -> list[Remittance]:
    """Read an 835 file (one or more interchanges) into Remittances; raises X12Error if malformed."""
    remittances: list[Remittance] = []
    for interchange in read_interchanges(data):
        for group in interchange.groups:
            for tx in group.transactions:
                remittance = _checked_remittance(tx)
                version = tx.implementation or group.version
                if version not in _SAME_RULES:
                    # 4010 835s (004010X091A1) share the segments we read; say so rather than refuse.
                    remittance.warnings.insert(
                        0,
                        f"implementation guide {version!r} (ST03/GS08) is not {IMPLEMENTATION}; read with the 5010 rules",
                    )
                remittances.append(remittance)
    if not remittances:
        raise X12Error("input holds no 835 transaction set")
    return remittances


_PYX12_LOCK = threading.Lock()  # pyx12 reports through a process-wide logger; one run at a time


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.ERROR)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def validate_with_pyx12(text: str | bytes) -> list[str]:
    """Check an 835 against pyx12's 005010X221A1 map; returns its error messages ([] when valid).

    pyx12 is optional (requirements: pyx12); it checks what our reader deliberately tolerates:
    element usage, code values, lengths and loop order. It reports every error to the "pyx12"
    logger (its JSON report leaves out some, e.g. errors in ST), so that is where we collect them.
    """
    # Imported here: pyx12 is an optional dependency that only this check needs.
    import pyx12.errors
    import pyx12.params
    import pyx12.x12n_document

    if isinstance(text, bytes):
        text = text.decode("latin-1")
    text = text.lstrip("\ufeff")
    logger = logging.getLogger("pyx12")
    handler = _Collect()
    with _PYX12_LOCK:
        propagate, level = logger.propagate, logger.level
        logger.addHandler(handler)
        logger.propagate = False  # keep pyx12's chatter out of our logs; we return it instead
        logger.setLevel(logging.ERROR)  # whatever LOGGING says, its errors are our result
        try:
            valid = pyx12.x12n_document.x12n_document(pyx12.params.ParamsBase(), io.StringIO(text), None, None)
        except pyx12.errors.EngineError as exc:
            handler.messages.append(f"pyx12 cannot validate this file: {exc}")
            valid = False
        finally:
            logger.removeHandler(handler)
            logger.propagate = propagate
            logger.setLevel(level)
    if not valid and not handler.messages:
        handler.messages.append("pyx12 rejected the file without saying why")
    return handler.messages


def as_json(remittances: Iterable[Remittance]) -> str:
    """The parse_835 output: a JSON list of remittances, indented by 2."""
    return json.dumps([r.as_dict() for r in remittances], indent=2)
