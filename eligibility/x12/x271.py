"""271 eligibility response (005010X279A1): one EligibilityResponse per subscriber or dependent."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from . import codes
from .envelope import Transaction, iter_transactions, read_interchanges
from .reader import Segment, X12Error
from .x270 import Payer, parse_d8

ACTIVE = "active"
INACTIVE = "inactive"
REJECTED = "rejected"
UNKNOWN = "unknown"

SUBSCRIBER = "subscriber"
DEPENDENT = "dependent"

_NUMBER = re.compile(r"-?(\d+(\.\d*)?|\.\d+)")
_LEVELS = {"20", "21", "22", "23"}
_PARENT_LEVEL = {"20": None, "21": "20", "22": "21", "23": "22"}
_HL_LOOP_NAMES = {"20": "2000A", "21": "2000B", "22": "2000C", "23": "2000D"}
_LOOP_NAMES = {"20": "2100A", "21": "2100B", "22": "2100C", "23": "2100D"}
_BENEFIT_LOOP_NAMES = {"22": "2110C", "23": "2110D"}
_IN_NETWORK = {"Y": True, "N": False}


@dataclass
class Rejection:
    """One AAA segment: why the payer could not answer and what the VMA should do."""

    reason: str  # AAA03
    follow_up: str  # AAA04
    message: str  # plain instruction, from codes.instruction
    loop: str = ""  # where it was found, e.g. "2100A" (information source) or "2100C"
    valid_request: str = ""  # AAA01 Y/N

    @property
    def meaning(self) -> str:
        return codes.reason_meaning(self.reason)


@dataclass
class Benefit:
    """One EB segment with the MSG and DTP segments that follow it."""

    code: str  # EB01
    coverage_level: str = ""  # EB02 IND, FAM, ...
    service_types: list[str] = field(default_factory=list)  # EB03
    insurance_type: str = ""  # EB04
    plan_description: str = ""  # EB05
    time_period: str = ""  # EB06
    amount: Decimal | None = None  # EB07
    percent: Decimal | None = None  # EB08, a fraction: .2 means 20 %
    quantity_qualifier: str = ""  # EB09
    quantity: Decimal | None = None  # EB10
    authorization_required: str = ""  # EB11 Y/N/U
    in_network: bool | None = None  # EB12 Y/N; W (not applicable) and blank → None
    messages: list[str] = field(default_factory=list)  # MSG01 texts
    begin: date | None = None  # 2110 DTP dates for this benefit
    end: date | None = None

    @property
    def name(self) -> str:
        return codes.EB_CODES.get(self.code, self.code)


@dataclass
class BenefitsSummary:
    """The few figures the front desk needs, picked from the EB segments."""

    status: str
    plan_begin: date | None = None
    plan_end: date | None = None
    office_visit_copay: Decimal | None = None
    deductible_individual: Decimal | None = None
    deductible_individual_remaining: Decimal | None = None
    deductible_family: Decimal | None = None
    deductible_family_remaining: Decimal | None = None
    coinsurance_percent: Decimal | None = None  # 20 means 20 %
    out_of_pocket_individual: Decimal | None = None
    out_of_pocket_individual_remaining: Decimal | None = None
    out_of_pocket_family: Decimal | None = None
    out_of_pocket_family_remaining: Decimal | None = None
    in_network: bool | None = None  # whether the figures above are the in-network ones
    messages: list[str] = field(default_factory=list)  # rejection instructions


@dataclass
class EligibilityResponse:
    """What a 271 says about one subscriber or dependent (one 2000C or 2000D loop)."""

    payer: Payer
    member_id: str = ""
    first_name: str = ""
    last_name: str = ""
    birth_date: date | None = None
    gender: str = ""
    role: str = SUBSCRIBER  # "subscriber" (2000C) or "dependent" (2000D)
    status: str = UNKNOWN
    plan_begin: date | None = None
    plan_end: date | None = None
    benefits: list[Benefit] = field(default_factory=list)
    rejections: list[Rejection] = field(default_factory=list)
    trace_number: str = ""
    transaction_control_number: str = ""

    def summary(self) -> BenefitsSummary:
        return summarize(self)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form (dates ISO, amounts as decimal strings), as printed by parse_271."""
        return {
            "payer": {"name": self.payer.name, "id": self.payer.id},
            "member_id": self.member_id,
            "first_name": self.first_name,
            "last_name": self.last_name,
            "birth_date": _iso(self.birth_date),
            "role": self.role,
            "status": self.status,
            "plan_begin": _iso(self.plan_begin),
            "plan_end": _iso(self.plan_end),
            "trace_number": self.trace_number,
            "benefits": [
                {
                    "code": b.code,
                    "coverage_level": b.coverage_level,
                    "service_types": list(b.service_types),
                    "time_period": b.time_period,
                    "amount": _dec(b.amount),
                    "percent": _dec(b.percent),
                    "in_network": b.in_network,
                }
                for b in self.benefits
            ],
            "rejections": [
                {"reason": r.reason, "follow_up": r.follow_up, "message": r.message} for r in self.rejections
            ],
        }


def _iso(value: date | None) -> str | None:
    return value.isoformat() if value else None


def _dec(value: Decimal | None) -> str | None:
    return str(value) if value is not None else None


# ---------------------------------------------------------------------------------------------
# Element parsing


def _where(tx: Transaction, seg: Segment) -> str:
    return f"271 transaction {tx.control_number}, segment {seg.position} ({seg.id})"


def _decimal(tx: Transaction, seg: Segment, n: int) -> Decimal | None:
    value = seg.get(n).strip()
    if not value:
        return None
    if not _NUMBER.fullmatch(value):
        raise X12Error(f"{_where(tx, seg)}: {seg.id}{n:02d} {value!r} is not a number")
    return Decimal(value)


def _date_range(tx: Transaction, seg: Segment) -> tuple[date, date | None]:
    """DTP02/DTP03 → (date, None) for D8 or (begin, end) for RD8."""
    fmt, value = seg.get(2), seg.get(3)
    if fmt == "D8":
        single = parse_d8(value)
        if single is None:
            raise X12Error(f"{_where(tx, seg)}: {value!r} is not a CCYYMMDD date")
        return single, None
    if fmt == "RD8":
        first, _, last = value.partition("-")
        begin, end = parse_d8(first), parse_d8(last)
        if begin is None or end is None:
            raise X12Error(f"{_where(tx, seg)}: {value!r} is not a CCYYMMDD-CCYYMMDD range")
        return begin, end
    raise X12Error(f"{_where(tx, seg)}: date format {fmt!r} should be D8 or RD8")


def _plan_dates(tx: Transaction, dtps: Iterable[Segment]) -> tuple[date | None, date | None]:
    """Plan begin and end from DTP segments.

    346/347 (plan begin/end) say it directly; 356/357 (eligibility begin/end) come next; a 291
    (plan) or 307 (eligibility) date range gives both ends, and a single 291/307 date is a begin.
    """
    begins: dict[str, date] = {}
    ends: dict[str, date] = {}
    for seg in dtps:
        qualifier = seg.get(1)
        if qualifier not in ("346", "347", "356", "357", "291", "307"):
            continue
        first, last = _date_range(tx, seg)
        if qualifier in ("347", "357"):
            ends.setdefault(qualifier, last or first)
        else:
            begins.setdefault(qualifier, first)
            if last and qualifier in ("291", "307"):
                ends.setdefault(qualifier, last)
    begin = next((begins[q] for q in ("346", "356", "291", "307") if q in begins), None)
    end = next((ends[q] for q in ("347", "357", "291", "307") if q in ends), None)
    return begin, end


def _benefit(tx: Transaction, seg: Segment) -> Benefit:
    if not seg.get(1):
        raise X12Error(f"{_where(tx, seg)}: EB01 benefit code is missing")
    return Benefit(
        code=seg.get(1),
        coverage_level=seg.get(2),
        service_types=[s for s in seg.repeats(3) if s],
        insurance_type=seg.get(4),
        plan_description=seg.get(5),
        time_period=seg.get(6),
        amount=_decimal(tx, seg, 7),
        percent=_decimal(tx, seg, 8),
        quantity_qualifier=seg.get(9),
        quantity=_decimal(tx, seg, 10),
        authorization_required=seg.get(11),
        in_network=_IN_NETWORK.get(seg.get(12)),
    )


def _rejection(seg: Segment, loop: str) -> Rejection:
    reason, follow_up = seg.get(3), seg.get(4)
    return Rejection(
        reason=reason,
        follow_up=follow_up,
        message=codes.instruction(reason, follow_up),
        loop=loop,
        valid_request=seg.get(1),
    )


# ---------------------------------------------------------------------------------------------
# Loops


@dataclass
class _Loop:
    hl: Segment
    id: str
    parent: str
    level: str
    segments: list[Segment] = field(default_factory=list)


def _hl_loops(tx: Transaction) -> list[_Loop]:
    loops: list[_Loop] = []
    seen: dict[str, _Loop] = {}
    for seg in tx.body:
        if seg.id != "HL":
            if loops:
                loops[-1].segments.append(seg)
            continue
        loop = _Loop(hl=seg, id=seg.get(1), parent=seg.get(2), level=seg.get(3))
        where = _where(tx, seg)
        if not loop.id:
            raise X12Error(f"{where}: HL01 id is missing")
        if loop.id in seen:
            raise X12Error(f"{where}: HL id {loop.id} is used twice")
        if loop.level not in _LEVELS:
            raise X12Error(f"{where}: HL03 level {loop.level!r} is not 20, 21, 22 or 23")
        expected = _PARENT_LEVEL[loop.level]
        if expected is not None:
            parent = seen.get(loop.parent)
            if parent is None:
                raise X12Error(f"{where}: HL02 parent {loop.parent!r} is not an earlier HL")
            if parent.level != expected:
                raise X12Error(
                    f"{where}: level {loop.level} HL must be under a level {expected} HL, not {parent.level}"
                )
        seen[loop.id] = loop
        loops.append(loop)
    if not loops:
        raise X12Error(f"271 transaction {tx.control_number} has no HL segments")
    return loops


@dataclass
class _Party:
    """The information source or receiver: name, id and its rejections."""

    name: str = ""
    id: str = ""
    rejections: list[Rejection] = field(default_factory=list)


def _party(loop: _Loop) -> _Party:
    party = _Party()
    seen_name = False
    for seg in loop.segments:
        if seg.id == "NM1" and not seen_name:
            party.name, party.id, seen_name = seg.get(3), seg.get(9), True
        elif seg.id == "AAA":
            # Before the NM1 the AAA belongs to the 2000 loop, after it to the 2100 loop.
            where = _LOOP_NAMES[loop.level] if seen_name else _HL_LOOP_NAMES[loop.level]
            party.rejections.append(_rejection(seg, where))
    return party


@dataclass
class _Person:
    """The subscriber or dependent part of a 2000C/2000D loop, read in one pass."""

    name: Segment | None = None
    birth_date: date | None = None
    gender: str = ""
    traces: list[Segment] = field(default_factory=list)
    dates: list[Segment] = field(default_factory=list)
    rejections: list[Rejection] = field(default_factory=list)  # 2000/2100 level
    benefit_rejections: list[Rejection] = field(default_factory=list)  # 2110 level
    benefits: list[Benefit] = field(default_factory=list)
    benefit_dates: list[list[Segment]] = field(default_factory=list)


def _person(tx: Transaction, loop: _Loop) -> _Person:
    person = _Person()
    in_related_entity = False  # inside LS/LE (loop 2120): its NM1 is a provider, not the patient
    current: Benefit | None = None
    for seg in loop.segments:
        if in_related_entity:
            if seg.id == "LE":
                in_related_entity = False
            continue
        if seg.id == "LS":
            in_related_entity = True
        elif seg.id == "EB":
            current = _benefit(tx, seg)
            person.benefits.append(current)
            person.benefit_dates.append([])
        elif current is None:
            if seg.id == "TRN":
                person.traces.append(seg)
            elif seg.id == "NM1" and person.name is None:
                person.name = seg
            elif seg.id == "DMG" and seg.get(2):
                if seg.get(1) != "D8" or (born := parse_d8(seg.get(2))) is None:
                    raise X12Error(f"{_where(tx, seg)}: birth date {seg.get(2)!r} is not D8 CCYYMMDD")
                person.birth_date, person.gender = born, seg.get(3)
            elif seg.id == "DTP":
                person.dates.append(seg)
            elif seg.id == "AAA":
                person.rejections.append(_rejection(seg, _LOOP_NAMES[loop.level]))
        elif seg.id == "MSG":
            current.messages.append(seg.get(1))
        elif seg.id == "DTP":
            person.benefit_dates[-1].append(seg)
        elif seg.id == "AAA":
            person.benefit_rejections.append(_rejection(seg, _BENEFIT_LOOP_NAMES[loop.level]))
    if in_related_entity:
        raise X12Error(f"271 transaction {tx.control_number}, HL {loop.id}: LS without a closing LE")
    for benefit, dates in zip(person.benefits, person.benefit_dates, strict=True):
        benefit.begin, benefit.end = _plan_dates(tx, dates)
    if person.name is None:
        raise X12Error(
            f"271 transaction {tx.control_number}, HL {loop.id}: the "
            f"{'subscriber' if loop.level == '22' else 'dependent'} loop has no NM1 name"
        )
    return person


def _status(benefits: Sequence[Benefit], rejections: Sequence[Rejection]) -> str:
    # EB01 2-5 are active variants (capitated, pending investigation) and 7-8 inactive ones.
    found = {b.code for b in benefits}
    if found & codes.ACTIVE_CODES:
        return ACTIVE
    if found & codes.INACTIVE_CODES:
        return INACTIVE
    if rejections and not benefits:
        return REJECTED
    return UNKNOWN


def _trace(traces: Sequence[Segment]) -> str:
    # TRN01=2 is our own trace number echoed back; TRN01=1 is the payer's.
    echoed = [t.get(2) for t in traces if t.get(1) == "2"]
    return echoed[0] if echoed else (traces[0].get(2) if traces else "")


def _responses_for(tx: Transaction) -> list[EligibilityResponse]:
    loops = _hl_loops(tx)
    by_id = {loop.id: loop for loop in loops}
    parties = {loop.id: _party(loop) for loop in loops if loop.level in ("20", "21")}
    people = {loop.id: _person(tx, loop) for loop in loops if loop.level in ("22", "23")}

    def ancestors(loop: _Loop) -> list[_Loop]:
        chain = []
        while loop.parent in by_id and loop.level != "20":
            loop = by_id[loop.parent]
            chain.append(loop)
        return chain

    responses: list[EligibilityResponse] = []
    for loop in loops:
        if loop.level not in ("22", "23"):
            continue
        person = people[loop.id]
        chain = ancestors(loop)
        inherited: list[Rejection] = []
        source = _Party()
        subscriber: _Person | None = None
        for up in reversed(chain):  # outermost first, so source rejections come first
            if up.id in parties:
                inherited += parties[up.id].rejections
                if up.level == "20":
                    source = parties[up.id]
            elif up.level == "22":
                subscriber = people[up.id]
                inherited += subscriber.rejections
        rejections = inherited + person.rejections + person.benefit_rejections
        name = person.name
        if name is None:  # _person already refuses this; kept for the type checker
            raise X12Error(f"271 transaction {tx.control_number}, HL {loop.id}: no NM1 name")
        member_id = name.get(9) or (subscriber.name.get(9) if subscriber and subscriber.name else "")
        begin, end = _plan_dates(tx, person.dates)
        if begin is None and end is None:
            # No plan dates at 2100 level: use those attached to the coverage EB segments.
            coverage_dates = [
                d
                for b, dates in zip(person.benefits, person.benefit_dates, strict=True)
                if b.code in codes.ACTIVE_CODES | codes.INACTIVE_CODES
                for d in dates
            ]
            begin, end = _plan_dates(tx, coverage_dates)
        traces = person.traces or (subscriber.traces if subscriber else [])
        responses.append(
            EligibilityResponse(
                payer=Payer(name=source.name, id=source.id),
                member_id=member_id,
                first_name=name.get(4),
                last_name=name.get(3),
                birth_date=person.birth_date,
                gender=person.gender,
                role=SUBSCRIBER if loop.level == "22" else DEPENDENT,
                status=_status(person.benefits, rejections),
                plan_begin=begin,
                plan_end=end,
                benefits=person.benefits,
                rejections=rejections,
                trace_number=_trace(traces),
                transaction_control_number=tx.control_number,
            )
        )
    if responses:
        return responses

    # No subscriber loop: the payer refused the whole inquiry (e.g. AAA 42 at 2100A).
    rejections = [r for loop in loops if loop.id in parties for r in parties[loop.id].rejections]
    if not rejections:
        raise X12Error(f"271 transaction {tx.control_number} has no subscriber loop and no AAA rejection")
    source = next((parties[lp.id] for lp in loops if lp.level == "20"), _Party())
    return [
        EligibilityResponse(
            payer=Payer(name=source.name, id=source.id),
            status=REJECTED,
            rejections=rejections,
            transaction_control_number=tx.control_number,
        )
    ]


def responses_from_transaction(tx: Transaction) -> list[EligibilityResponse]:
    """The responses of one 271 transaction set."""
    if tx.set_id != "271":
        raise X12Error(f"transaction {tx.control_number} is a {tx.set_id or '(blank)'}, not a 271")
    return _responses_for(tx)


def parse_271(data: str | bytes) -> list[EligibilityResponse]:
    """One EligibilityResponse per subscriber or dependent in every 271 of the input.

    Raises X12Error with a readable message if the input is not a well-formed 271.
    """
    transactions = list(iter_transactions(read_interchanges(data)))
    found = [t for t in transactions if t.set_id == "271"]
    if not found:
        kinds = sorted({t.set_id for t in transactions}) or ["none"]
        raise X12Error(f"no 271 transaction in the input (found: {', '.join(kinds)})")
    responses: list[EligibilityResponse] = []
    for tx in found:
        responses += _responses_for(tx)
    return responses


# ---------------------------------------------------------------------------------------------
# Summary

_INDIVIDUAL = ("IND", "EMP")
_FAMILY = ("FAM",)
_TOTAL_PERIODS = ("23", "22", "25")  # calendar year, service year, contract
_REMAINING_PERIODS = ("29",)


def _network_rank(benefit: Benefit) -> int:
    return {True: 0, None: 1, False: 2}[benefit.in_network]


def _plan_service_rank(benefit: Benefit) -> int:
    # Plan-wide figures are sent with service type 30 or with no service type at all.
    return 0 if not benefit.service_types or "30" in benefit.service_types else 1


def _pick_amount(
    benefits: Sequence[Benefit], code: str, levels: Sequence[str], periods: Sequence[str]
) -> Benefit | None:
    candidates = [
        b
        for b in benefits
        if b.code == code and b.coverage_level in levels and b.time_period in periods and b.amount is not None
    ]
    candidates.sort(key=lambda b: (_network_rank(b), _plan_service_rank(b)))
    return candidates[0] if candidates else None


def _office_visit_copay(benefits: Sequence[Benefit]) -> Benefit | None:
    def service_rank(b: Benefit) -> int:
        if "98" in b.service_types:
            return 0
        return 1 if not b.service_types or "30" in b.service_types else 2

    candidates = [b for b in benefits if b.code == "B" and b.amount is not None and service_rank(b) < 2]
    candidates.sort(key=lambda b: (service_rank(b), _network_rank(b)))
    return candidates[0] if candidates else None


def _coinsurance(benefits: Sequence[Benefit]) -> Benefit | None:
    candidates = [b for b in benefits if b.code == "A" and b.percent is not None]
    candidates.sort(key=lambda b: (_plan_service_rank(b), "98" not in b.service_types, _network_rank(b)))
    return candidates[0] if candidates else None


def _as_percent(fraction: Decimal) -> Decimal:
    # X12 sends .2 for 20 %; some payers send 20 anyway, which can only mean a percentage.
    value = fraction * 100 if fraction <= 1 else fraction
    return value.quantize(Decimal(1)) if value == value.to_integral_value() else value.normalize()


def _amount(benefit: Benefit | None) -> Decimal | None:
    return benefit.amount if benefit else None


def summarize(response: EligibilityResponse) -> BenefitsSummary:
    """The front-desk figures of one response; every field is None when the 271 omits it."""
    benefits = response.benefits
    copay = _office_visit_copay(benefits)
    coinsurance = _coinsurance(benefits)
    ded_ind = _pick_amount(benefits, "C", _INDIVIDUAL, _TOTAL_PERIODS)
    network_source = next((b for b in (copay, coinsurance, ded_ind) if b is not None), None)
    return BenefitsSummary(
        status=response.status,
        plan_begin=response.plan_begin,
        plan_end=response.plan_end,
        office_visit_copay=_amount(copay),
        deductible_individual=_amount(ded_ind),
        deductible_individual_remaining=_amount(_pick_amount(benefits, "C", _INDIVIDUAL, _REMAINING_PERIODS)),
        deductible_family=_amount(_pick_amount(benefits, "C", _FAMILY, _TOTAL_PERIODS)),
        deductible_family_remaining=_amount(_pick_amount(benefits, "C", _FAMILY, _REMAINING_PERIODS)),
        coinsurance_percent=_as_percent(coinsurance.percent)
        if coinsurance and coinsurance.percent is not None
        else None,
        out_of_pocket_individual=_amount(_pick_amount(benefits, "G", _INDIVIDUAL, _TOTAL_PERIODS)),
        out_of_pocket_individual_remaining=_amount(_pick_amount(benefits, "G", _INDIVIDUAL, _REMAINING_PERIODS)),
        out_of_pocket_family=_amount(_pick_amount(benefits, "G", _FAMILY, _TOTAL_PERIODS)),
        out_of_pocket_family_remaining=_amount(_pick_amount(benefits, "G", _FAMILY, _REMAINING_PERIODS)),
        in_network=network_source.in_network if network_source else None,
        messages=[r.message for r in response.rejections],
    )
