"""Writing an 835 (005010X221A1): what the simulated clearinghouse answers with, and test and demo files.

Built with the project's X12 writer; the result reads back with parse_835 and passes pyx12's map.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal

from eligibility.x12.writer import Components, SegmentSpec, TransactionSet, build_interchange
from eligibility.x12.x270 import clean_name

from .x835 import IMPLEMENTATION
from .x837 import amount

FUNCTIONAL_ID = "HP"  # GS01 for an 835


@dataclass(frozen=True)
class Cas:
    group: str
    reason: str
    amount: Decimal


@dataclass
class LineAnswer:
    """One SVC: the procedure as billed and what the payer did with it."""

    procedure: str
    charge: Decimal
    paid: Decimal
    modifiers: Sequence[str] = ()
    units: int = 1
    service_date: date | None = None
    adjustments: list[Cas] = field(default_factory=list)
    remarks: list[str] = field(default_factory=list)


@dataclass
class ClaimAnswer:
    """One CLP: status 1 processed as primary, 4 denied, 22 reversal ..."""

    patient_control_number: str
    status_code: str
    charge: Decimal
    paid: Decimal
    payer_claim_number: str
    patient_last_name: str
    patient_first_name: str
    member_id: str
    service_date: date
    patient_responsibility: Decimal | None = None
    adjustments: list[Cas] = field(default_factory=list)  # claim level
    remarks: list[str] = field(default_factory=list)  # MOA
    lines: list[LineAnswer] = field(default_factory=list)


def _d8(value: date) -> str:
    return value.strftime("%Y%m%d")


def _cas(adjustments: Sequence[Cas]) -> list[SegmentSpec]:
    """CAS segments, one per group, up to six reason/amount pairs each."""
    by_group: dict[str, list[Cas]] = {}
    for adj in adjustments:
        by_group.setdefault(adj.group, []).append(adj)
    segments: list[SegmentSpec] = []
    for group, items in by_group.items():
        for start in range(0, len(items), 6):
            seg: list[str] = ["CAS", group]
            for adj in items[start : start + 6]:
                seg += [adj.reason, amount(adj.amount), ""]
            segments.append(seg[:-1])
    return segments


def _claim_segments(claim: ClaimAnswer) -> list[SegmentSpec]:
    pr = claim.patient_responsibility
    body: list[SegmentSpec] = [
        [
            "CLP",
            claim.patient_control_number,
            claim.status_code,
            amount(claim.charge),
            amount(claim.paid),
            amount(pr) if pr else "",
            "12",
            claim.payer_claim_number,
            "11",
            "1",
        ],
        *_cas(claim.adjustments),
        [
            "NM1",
            "QC",
            "1",
            clean_name(claim.patient_last_name, 60),
            clean_name(claim.patient_first_name, 35),
            "",
            "",
            "",
            "MI",
            claim.member_id,
        ],
    ]
    if claim.remarks:
        body.append(["MOA", "", "", *claim.remarks[:5]])
    body.append(["DTM", "232", _d8(claim.service_date)])
    body.append(["DTM", "233", _d8(claim.service_date)])
    for line in claim.lines:
        body.append(
            [
                "SVC",
                Components("HC", line.procedure, *line.modifiers),
                amount(line.charge),
                amount(line.paid),
                "",
                str(line.units),
            ]
        )
        body.append(["DTM", "472", _d8(line.service_date or claim.service_date)])
        body += _cas(line.adjustments)
        body += [["LQ", "HE", code] for code in line.remarks]
    return body


def build_835(
    claims: Sequence[ClaimAnswer],
    *,
    payer_name: str,
    payer_id: str,
    payee_name: str,
    payee_npi: str,
    trace_number: str,
    payment_date: date,
    when: datetime,
    interchange_control_number: int,
    sender_id: str = "CLEARINGHOUSE",
    receiver_id: str = "VMAPORTAL",
    usage: str = "T",
) -> str:
    """One interchange holding one 835: one payment (ACH, or NON when nothing is paid) for the claims."""
    total = sum((c.paid for c in claims), Decimal(0))
    if total > 0:
        bpr: SegmentSpec = [
            "BPR",
            "I",
            amount(total),
            "C",
            "ACH",
            "CCP",
            "01",
            "999999992",
            "DA",
            "0001234567",
            "1512345678",
            "",
            "01",
            "999888777",
            "DA",
            "9876543210",
            _d8(payment_date),
        ]
    else:
        bpr = ["BPR", "H", "0", "C", "NON", "", "", "", "", "", "", "", "", "", "", "", _d8(payment_date)]
    body: list[SegmentSpec] = [
        bpr,
        ["TRN", "1", trace_number, "1512345678"],
        ["DTM", "405", _d8(payment_date)],
        ["N1", "PR", clean_name(payer_name, 60)],
        ["N3", "PO BOX 1000"],
        ["N4", "SPRINGFIELD", "IL", "62701"],
        ["REF", "2U", payer_id],
        ["PER", "BL", "PROVIDER SERVICES", "TE", "8005550100"],
        ["N1", "PE", clean_name(payee_name, 60), "XX", payee_npi],
        ["LX", "1"],
    ]
    for claim in claims:
        body += _claim_segments(claim)
    transaction = TransactionSet(set_id="835", control_number="0001", implementation=IMPLEMENTATION, body=body)
    text = build_interchange(
        [transaction],
        sender_id=sender_id[:15],
        receiver_id=receiver_id[:15],
        functional_id=FUNCTIONAL_ID,
        interchange_control_number=interchange_control_number,
        group_control_number=interchange_control_number,
        when=when,
        usage=usage,
    )
    # The writer puts the guide in ST03 as the 837/270 want; the 835 guide marks ST03 "not used".
    return text.replace(f"ST*835*0001*{IMPLEMENTATION}~", "ST*835*0001~", 1)
