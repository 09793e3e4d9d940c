"""Simulated payer: answers a 270 with a real 271 chosen by the member id, for tests and demos.

The answer depends only on the 270, so reruns are identical. The last two characters of the
subscriber's member id choose the case:

    ...72  AAA*N**72*C at the subscriber (2100C): member id invalid, correct and resubmit
    ...73  AAA*N**73*C at 2100C: subscriber name invalid
    ...75  AAA*N**75*C at 2100C: subscriber not found
    ...58  AAA*N**58*C at the patient's loop (2100C, or 2100D for a dependent): birth date invalid
    ...42  AAA*Y**42*R at the information source (2100A): payer cannot respond now, try later
    ...06  inactive: EB*6, plan 346/347 covering the whole year before the service year
    ...07  terminated mid-year: EB*6, plan began Jan 1 and ended June 30 of the service year
           (or the day before the service date, if that is earlier)
    ...98  slow payer: delay_seconds=3.0, otherwise the full active answer
    ...99  payer time-out: timeout=True, no text
    other  active: EB*1 (30), office-visit co-pay (B, 98) in and out of network, deductible
           (C) IND/FAM calendar-year total (23) and remaining (29), co-insurance (A) in and out
           of network, out-of-pocket (G) IND/FAM 23 and 29, plan begin DTP*346 Jan 1 of the
           service year. Amounts come from small tables indexed by a hash of the member id.

Rejections at 2100C drop the dependent loop (the payer never got that far); the 42 answer
still echoes every loop, without benefits, so the trace number comes back.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

from .envelope import Interchange, read_interchanges
from .reader import X12Error
from .writer import SegmentSpec, TransactionSet, build_interchange
from .x270 import IMPLEMENTATION, EligibilityRequest, requests_from_transaction

FUNCTIONAL_ID_271 = "HB"
SLOW_DELAY_SECONDS = 3.0
# A payer that never answers: longer than any request timeout we would configure.
NO_ANSWER_DELAY_SECONDS = 60.0

_SUBSCRIBER_REJECTIONS = {"72", "73", "75"}

_COPAYS = ["15.00", "20.00", "25.00", "30.00", "35.00", "40.00", "50.00"]
_DEDUCTIBLES = [500, 1000, 1500, 2000, 2500, 3000]
_MET_PERCENT = [0, 10, 25, 50, 75, 100]
_COINSURANCE = [".1", ".2", ".2", ".3"]
_OUT_OF_POCKET = [3000, 4000, 5000, 6000, 7500, 8150]
_EXTRA_OOP_PERCENT = [0, 5, 10, 20]


@dataclass(frozen=True)
class SimulatedAnswer:
    """What the simulated payer sends back, and how it behaves while doing so."""

    text: str
    delay_seconds: float = 0.0
    timeout: bool = False


@dataclass(frozen=True)
class _Amounts:
    copay: Decimal
    deductible: Decimal
    deductible_met: Decimal
    coinsurance: str
    out_of_pocket: Decimal
    out_of_pocket_met: Decimal


def case_for(member_id: str) -> str:
    """The two-character case key of a member id (see the module docstring)."""
    return member_id.strip()[-2:]


def _amounts(member_id: str) -> _Amounts:
    # sha256, not hash(): Python's str hash changes between processes, reruns must not.
    digest = hashlib.sha256(member_id.encode("utf-8")).digest()
    deductible = Decimal(_DEDUCTIBLES[digest[1] % len(_DEDUCTIBLES)])
    met = deductible * _MET_PERCENT[digest[2] % len(_MET_PERCENT)] / 100
    out_of_pocket = Decimal(_OUT_OF_POCKET[digest[4] % len(_OUT_OF_POCKET)])
    return _Amounts(
        copay=Decimal(_COPAYS[digest[0] % len(_COPAYS)]),
        deductible=deductible,
        deductible_met=met,
        coinsurance=_COINSURANCE[digest[3] % len(_COINSURANCE)],
        out_of_pocket=out_of_pocket,
        # Deductible spending counts toward the out-of-pocket maximum, plus some co-pays.
        out_of_pocket_met=min(out_of_pocket, met + out_of_pocket * _EXTRA_OOP_PERCENT[digest[5] % 4] / 100),
    )


def _money(value: Decimal) -> str:
    return f"{value.quantize(Decimal('0.01'))}"


def _d8(value: date) -> str:
    return value.strftime("%Y%m%d")


def _eb(
    code: str,
    level: str,
    service: str,
    *,
    period: str = "",
    amount: str = "",
    percent: str = "",
    network: str = "",
    plan: str = "",
) -> SegmentSpec:
    return ["EB", code, level, service, "PR", plan, period, amount, percent, "", "", "", network]


def _active_benefits(member_id: str, service_date: date) -> list[SegmentSpec]:
    a = _amounts(member_id)
    fam_deductible = a.deductible * 2
    fam_oop = a.out_of_pocket * 2
    out_of_network_coinsurance = str(Decimal(a.coinsurance) * 2).removeprefix("0")
    return [
        ["DTP", "346", "D8", _d8(date(service_date.year, 1, 1))],
        _eb("1", "IND", "30", plan="SIMULATED PPO GOLD"),
        _eb("B", "IND", "98", period="27", amount=_money(a.copay), network="Y"),
        ["MSG", "CO-PAYMENT APPLIES PER OFFICE VISIT"],
        _eb("B", "IND", "98", period="27", amount=_money(a.copay * 2), network="N"),
        _eb("C", "IND", "30", period="23", amount=_money(a.deductible), network="Y"),
        _eb("C", "IND", "30", period="29", amount=_money(a.deductible - a.deductible_met), network="Y"),
        _eb("C", "FAM", "30", period="23", amount=_money(fam_deductible), network="Y"),
        _eb("C", "FAM", "30", period="29", amount=_money(fam_deductible - a.deductible_met), network="Y"),
        _eb("A", "IND", "30", percent=a.coinsurance, network="Y"),
        _eb("A", "IND", "30", percent=out_of_network_coinsurance, network="N"),
        _eb("G", "IND", "30", period="23", amount=_money(a.out_of_pocket), network="Y"),
        _eb("G", "IND", "30", period="29", amount=_money(a.out_of_pocket - a.out_of_pocket_met), network="Y"),
        _eb("G", "FAM", "30", period="23", amount=_money(fam_oop), network="Y"),
        _eb("G", "FAM", "30", period="29", amount=_money(fam_oop - a.out_of_pocket_met), network="Y"),
    ]


def _inactive_benefits(service_date: date, *, mid_year: bool) -> list[SegmentSpec]:
    if mid_year:
        end = min(date(service_date.year, 6, 30), service_date - timedelta(days=1))
    else:
        end = date(service_date.year - 1, 12, 31)
    return [
        ["DTP", "346", "D8", _d8(date(end.year, 1, 1))],
        ["DTP", "347", "D8", _d8(end)],
        _eb("6", "IND", "30", plan="SIMULATED PPO GOLD"),
        ["MSG", "COVERAGE TERMINATED"],
    ]


def _benefits_for(case: str, request: EligibilityRequest) -> list[SegmentSpec]:
    if case == "06":
        return _inactive_benefits(request.date_of_service, mid_year=False)
    if case == "07":
        return _inactive_benefits(request.date_of_service, mid_year=True)
    return _active_benefits(request.subscriber.member_id, request.date_of_service)


def _dmg(birth_date: date | None, gender: str) -> list[SegmentSpec]:
    return [["DMG", "D8", _d8(birth_date), gender]] if birth_date else []


def _body_271(request: EligibilityRequest, *, reference: str, when: datetime) -> list[SegmentSpec]:
    case = case_for(request.subscriber.member_id)
    sub = request.subscriber
    dep = request.dependent if case not in _SUBSCRIBER_REJECTIONS else None
    answers = case not in _SUBSCRIBER_REJECTIONS | {"58", "42"}
    trace: SegmentSpec = ["TRN", "2", request.trace_number, request.trace_assigner]

    body: list[SegmentSpec] = [
        ["BHT", "0022", "11", reference, _d8(when.date()), when.strftime("%H%M")],
        ["HL", "1", "", "20", "1"],
        ["NM1", "PR", "2", request.payer.name, "", "", "", "", "PI", request.payer.id],
    ]
    if case == "42":
        body.append(["AAA", "Y", "", "42", "R"])
    body += [
        ["HL", "2", "1", "21", "1"],
        ["NM1", "1P", "2", request.provider.name, "", "", "", "", "XX", request.provider.npi],
        ["HL", "3", "2", "22", "1" if dep else "0"],
    ]
    if dep is None:
        body.append(trace)
    body.append(["NM1", "IL", "1", sub.last_name, sub.first_name, "", "", "", "MI", sub.member_id])
    if case in _SUBSCRIBER_REJECTIONS or (case == "58" and dep is None):
        body.append(["AAA", "N", "", case, "C"])
    body += _dmg(sub.birth_date, sub.gender)
    if dep is None:
        if answers:
            body += _benefits_for(case, request)
        return body
    body += [
        ["HL", "4", "3", "23", "0"],
        trace,
        ["NM1", "03", "1", dep.last_name, dep.first_name],
    ]
    if case == "58":
        body.append(["AAA", "N", "", "58", "C"])
    body += _dmg(dep.birth_date, dep.gender)
    if answers:
        body += _benefits_for(case, request)
    return body


def _request_time(interchange: Interchange) -> datetime:
    # Answer with the request's own date and time so the same 270 always gets the same 271.
    group = interchange.groups[0]
    try:
        return datetime.strptime(group.date + group.time[:4], "%Y%m%d%H%M")  # noqa: DTZ007
    except ValueError:
        raise X12Error(f"GS04/GS05 {group.date!r} {group.time!r} is not a date and time") from None


class SimulatedPayer:
    """A payer that answers every 270 from the rules in the module docstring."""

    def respond(self, x270_text: str | bytes) -> SimulatedAnswer:
        """The 271 answer to a 270; raises X12Error if the 270 is unreadable or invalid."""
        interchanges = read_interchanges(x270_text)
        texts: list[str] = []
        delay = 0.0
        for interchange in interchanges:
            transactions = [t for g in interchange.groups for t in g.transactions if t.set_id == "270"]
            if not transactions:
                continue
            when = _request_time(interchange)
            answers: list[TransactionSet] = []
            for tx in transactions:
                for request in requests_from_transaction(tx):
                    case = case_for(request.subscriber.member_id)
                    if case == "99":
                        return SimulatedAnswer(text="", delay_seconds=NO_ANSWER_DELAY_SECONDS, timeout=True)
                    if case == "98":
                        delay = max(delay, SLOW_DELAY_SECONDS)
                    answers.append(
                        TransactionSet(
                            set_id="271",
                            control_number=f"{len(answers) + 1:04d}",
                            implementation=IMPLEMENTATION,
                            body=_body_271(request, reference=tx.body[0].get(3), when=when),
                        )
                    )
            texts.append(
                build_interchange(
                    answers,
                    sender_id=interchange.receiver_id,
                    receiver_id=interchange.sender_id,
                    sender_qualifier=interchange.receiver_qualifier,
                    receiver_qualifier=interchange.sender_qualifier,
                    functional_id=FUNCTIONAL_ID_271,
                    interchange_control_number=int(interchange.control_number),
                    group_control_number=int(interchange.groups[0].control_number),
                    when=when,
                    usage=interchange.usage if interchange.usage in ("P", "T") else "P",
                    line_breaks=True,
                )
            )
        if not texts:
            raise X12Error("no 270 transaction in the input")
        return SimulatedAnswer(text="".join(texts), delay_seconds=delay, timeout=False)
