"""270 eligibility inquiry (005010X279A1): build one, check its structure, and read one back."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime

from .envelope import Transaction, iter_transactions, read_interchanges
from .reader import Segment, X12Error
from .writer import Repeats, SegmentSpec, TransactionSet, build_interchange

IMPLEMENTATION = "005010X279A1"
FUNCTIONAL_ID = "HS"  # GS01 for a 270
DEFAULT_TRACE_ASSIGNER = "9VMAPORTAL"  # TRN03: "9" + an id we choose, exactly 10 characters


@dataclass(frozen=True)
class Payer:
    """The information source (2100A): payer name and payer id (NM1*PR ... PI)."""

    name: str
    id: str


@dataclass(frozen=True)
class Provider:
    """The information receiver (2100B): the practice, identified by its organization NPI."""

    name: str
    npi: str


@dataclass(frozen=True)
class Subscriber:
    """The insured person (2100C)."""

    first_name: str
    last_name: str
    member_id: str
    birth_date: date | None = None
    gender: str = ""  # "F", "M", "U" or "" (not sent)


@dataclass(frozen=True)
class Dependent:
    """The patient when the patient is not the subscriber (2100D); dependents carry no id."""

    first_name: str
    last_name: str
    birth_date: date | None = None
    gender: str = ""


@dataclass(frozen=True)
class EligibilityRequest:
    """Everything a 270 asks: who asks whom about which patient, for which date and services."""

    payer: Payer
    provider: Provider
    subscriber: Subscriber
    date_of_service: date
    trace_number: str
    service_types: list[str] = field(default_factory=lambda: ["30"])
    dependent: Dependent | None = None
    trace_assigner: str = DEFAULT_TRACE_ASSIGNER


# ---------------------------------------------------------------------------------------------
# Small checks shared with the 271 side


def npi_is_valid(npi: str) -> bool:
    """10 digits whose last is the Luhn check digit over the prefix 80840 + the first nine."""
    if not (len(npi) == 10 and npi.isdigit()):
        return False
    total = 0
    for i, ch in enumerate(reversed("80840" + npi[:9])):
        d = int(ch)
        if i % 2 == 0:  # rightmost payload digit is doubled, the check digit is not present
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return (10 - total % 10) % 10 == int(npi[9])


def parse_d8(value: str) -> date | None:
    """CCYYMMDD → date, or None if it is not a real date."""
    if len(value) != 8 or not value.isdigit():
        return None
    try:
        return datetime.strptime(value, "%Y%m%d").date()  # noqa: DTZ007 - a date, no time zone
    except ValueError:
        return None


def _d8(value: date) -> str:
    return value.strftime("%Y%m%d")


def clean_name(value: str, max_length: int) -> str:
    """Upper-case ASCII name safe for X12.

    Payers match names against their file in upper-case ASCII, and an accented letter or a
    separator character inside a name would be rejected or would break the segment.
    """
    ascii_text = unicodedata.normalize("NFKD", value).encode("ascii", "ignore").decode("ascii")
    kept = re.sub(r"[^A-Za-z0-9 '\-.,&]", " ", ascii_text)
    return " ".join(kept.upper().split())[:max_length]


# ---------------------------------------------------------------------------------------------
# Building


def _person_loop(
    *,
    request: EligibilityRequest,
    entity: str,
    first_name: str,
    last_name: str,
    member_id: str | None,
    birth_date: date | None,
    gender: str,
    is_patient: bool,
) -> list[SegmentSpec]:
    segments: list[SegmentSpec] = []
    if is_patient:
        segments.append(["TRN", "1", request.trace_number, request.trace_assigner])
    name: list[str] = ["NM1", entity, "1", clean_name(last_name, 60), clean_name(first_name, 35)]
    if member_id is not None:
        name += ["", "", "", "MI", member_id.strip()]
    segments.append(name)
    if birth_date is not None:
        segments.append(["DMG", "D8", _d8(birth_date), gender.upper()])
    if is_patient:
        segments.append(["DTP", "291", "D8", _d8(request.date_of_service)])
        segments.append(["EQ", Repeats(*request.service_types)])
    return segments


def build_270_body(request: EligibilityRequest, *, when: datetime) -> list[SegmentSpec]:
    """The 270 segments between ST and SE."""
    has_dependent = request.dependent is not None
    sub = request.subscriber
    body: list[SegmentSpec] = [
        ["BHT", "0022", "13", request.trace_number, _d8(when.date()), when.strftime("%H%M")],
        ["HL", "1", "", "20", "1"],
        ["NM1", "PR", "2", clean_name(request.payer.name, 60), "", "", "", "", "PI", request.payer.id],
        ["HL", "2", "1", "21", "1"],
        ["NM1", "1P", "2", clean_name(request.provider.name, 60), "", "", "", "", "XX", request.provider.npi],
        ["HL", "3", "2", "22", "1" if has_dependent else "0"],
    ]
    body += _person_loop(
        request=request,
        entity="IL",
        first_name=sub.first_name,
        last_name=sub.last_name,
        member_id=sub.member_id,
        birth_date=sub.birth_date,
        gender=sub.gender,
        is_patient=not has_dependent,
    )
    if request.dependent is not None:
        dep = request.dependent
        body.append(["HL", "4", "3", "23", "0"])
        body += _person_loop(
            request=request,
            entity="03",
            first_name=dep.first_name,
            last_name=dep.last_name,
            member_id=None,
            birth_date=dep.birth_date,
            gender=dep.gender,
            is_patient=True,
        )
    return body


def build_270(
    request: EligibilityRequest,
    *,
    sender_id: str,
    receiver_id: str,
    interchange_control_number: int = 1,
    group_control_number: int = 1,
    transaction_control_number: str = "0001",
    when: datetime | None = None,
    usage: str = "P",
    line_breaks: bool = False,
) -> str:
    """The 270 interchange for `request`; raises X12Error if it would not pass validate_270."""
    when = when or datetime.now()  # noqa: DTZ005 - X12 dates are the sender's local wall time
    transaction = TransactionSet(
        set_id="270",
        control_number=transaction_control_number,
        implementation=IMPLEMENTATION,
        body=build_270_body(request, when=when),
    )
    text = build_interchange(
        [transaction],
        sender_id=sender_id,
        receiver_id=receiver_id,
        functional_id=FUNCTIONAL_ID,
        interchange_control_number=interchange_control_number,
        group_control_number=group_control_number,
        when=when,
        usage=usage,
        line_breaks=line_breaks,
    )
    # Check what will actually leave, re-read from the text, so writer bugs are caught too.
    problems: list[str] = []
    for tx in iter_transactions(read_interchanges(text)):
        problems += validate_270(tx.segments)
    if problems:
        raise X12Error("270 not sent: " + "; ".join(problems))
    return text


# ---------------------------------------------------------------------------------------------
# Validation

_SOURCE_ENTITIES = {"2B", "36", "GP", "P5", "PR"}
_SOURCE_ID_QUALIFIERS = {"24", "46", "FI", "NI", "PI", "XV", "XX"}
_RECEIVER_ENTITIES = {"1P", "2B", "36", "80", "FA", "GP", "P5", "PR"}
_RECEIVER_ID_QUALIFIERS = {"24", "34", "46", "FI", "PI", "PP", "SV", "XV", "XX"}
_PARENT_LEVEL = {"20": None, "21": "20", "22": "21", "23": "22"}
_LOOP_NAMES = {"20": "2000A", "21": "2000B", "22": "2000C", "23": "2000D"}
# Order of segments inside 2000C/2000D + 2100C/2100D; EQ starts the 2110 loop.
_PERSON_ORDER = ["TRN", "NM1", "REF", "N3", "N4", "PRV", "DMG", "INS", "HI", "DTP", "EQ"]
_EQ_LOOP = {"EQ", "AMT", "III", "REF", "DTP"}
_SERVICE_TYPE = re.compile(r"[A-Z0-9]{1,2}")


def _check_date(problems: list[str], where: str, fmt: str, value: str) -> None:
    if fmt == "D8":
        if parse_d8(value) is None:
            problems.append(f"{where}: {value!r} is not a CCYYMMDD date")
    elif fmt == "RD8":
        begin, _, end = value.partition("-")
        b, e = parse_d8(begin), parse_d8(end)
        if b is None or e is None or e < b:
            problems.append(f"{where}: {value!r} is not a CCYYMMDD-CCYYMMDD range")
    else:
        problems.append(f"{where}: date format {fmt!r} should be D8 or RD8")


def _check_nm1_id(problems: list[str], where: str, seg: Segment, qualifiers: set[str]) -> None:
    if seg.get(8) not in qualifiers:
        problems.append(f"{where}: NM108 {seg.get(8)!r} is not one of {sorted(qualifiers)}")
    if not seg.get(9):
        problems.append(f"{where}: NM109 identifier is missing")
    elif seg.get(8) == "XX" and not npi_is_valid(seg.get(9)):
        problems.append(f"{where}: NPI {seg.get(9)!r} is not 10 digits with a valid check digit")


def _check_party(
    problems: list[str],
    loop: str,
    segs: list[Segment],
    entities: set[str],
    qualifiers: set[str],
    allowed_after: list[str],
) -> None:
    if not segs or segs[0].id != "NM1":
        problems.append(f"{loop}: NM1 must follow the HL")
        return
    nm1 = segs[0]
    if nm1.get(1) not in entities:
        problems.append(f"{loop}: NM101 {nm1.get(1)!r} is not one of {sorted(entities)}")
    if nm1.get(2) not in ("1", "2"):
        problems.append(f"{loop}: NM102 must be 1 (person) or 2 (organization)")
    if not nm1.get(3):
        problems.append(f"{loop}: NM103 name is missing")
    _check_nm1_id(problems, loop, nm1, qualifiers)
    rank = -1
    for seg in segs[1:]:
        if seg.id not in allowed_after:
            problems.append(f"{loop}: unexpected {seg.id} (segment {seg.position})")
        elif allowed_after.index(seg.id) < rank:
            problems.append(f"{loop}: {seg.id} is out of order (segment {seg.position})")
        else:
            rank = allowed_after.index(seg.id)


def _check_person(problems: list[str], level: str, segs: list[Segment], is_patient: bool) -> None:
    loop = _LOOP_NAMES[level]
    rank = -1
    in_eq = False
    nm1s = [s for s in segs if s.id == "NM1"]
    eqs = [s for s in segs if s.id == "EQ"]
    for seg in segs:
        where = f"{loop} {seg.id} (segment {seg.position})"
        if in_eq:
            if seg.id not in _EQ_LOOP:
                problems.append(f"{where}: not allowed after EQ")
        elif seg.id not in _PERSON_ORDER:
            problems.append(f"{where}: unexpected segment")
            continue
        elif _PERSON_ORDER.index(seg.id) < rank:
            problems.append(f"{where}: out of order")
        else:
            rank = _PERSON_ORDER.index(seg.id)
        if seg.id == "EQ":
            in_eq = True
            types = seg.repeats(1)
            if not types and not seg.get(2):
                problems.append(f"{where}: EQ01 service type or EQ02 procedure is required")
            for code in types:
                if not _SERVICE_TYPE.fullmatch(code):
                    problems.append(f"{where}: {code!r} is not a service type code")
        elif seg.id == "DMG":
            if seg.get(1) != "D8":
                problems.append(f"{where}: DMG01 must be D8")
            _check_date(problems, where, "D8", seg.get(2))
            if seg.get(3) not in ("", "F", "M", "U"):
                problems.append(f"{where}: DMG03 gender must be F, M or U")
        elif seg.id == "DTP":
            if seg.get(1) != "291":
                problems.append(f"{where}: DTP01 must be 291 (plan date) in a 270")
            _check_date(problems, where, seg.get(2), seg.get(3))
        elif seg.id == "TRN":
            if seg.get(1) != "1" or not seg.get(2):
                problems.append(f"{where}: TRN must be TRN*1*<trace number>*<assigner>")
            if len(seg.get(3)) != 10:
                problems.append(f"{where}: TRN03 trace assigner must be 10 characters")

    if len(nm1s) != 1:
        problems.append(f"{loop}: expected exactly one NM1, found {len(nm1s)}")
    else:
        nm1 = nm1s[0]
        expected = "IL" if level == "22" else "03"
        if nm1.get(1) != expected:
            problems.append(f"{loop}: NM101 must be {expected}, got {nm1.get(1)!r}")
        if nm1.get(2) != "1":
            problems.append(f"{loop}: NM102 must be 1 (person)")
        if level == "22":
            if nm1.get(8) not in ("MI", "II") or not nm1.get(9):
                problems.append(f"{loop}: subscriber member id (NM108 MI, NM109) is missing")
        else:
            if nm1.get(9):
                problems.append(f"{loop}: a dependent NM1 carries no id (NM108/NM109)")
            if not nm1.get(3):
                problems.append(f"{loop}: dependent last name (NM103) is missing")
    if is_patient:
        if not eqs:
            problems.append(f"{loop}: the patient's loop needs at least one EQ")
        if not any(s.id == "TRN" for s in segs):
            problems.append(f"{loop}: the patient's loop needs a TRN trace number")
    elif eqs:
        problems.append(f"{loop}: EQ belongs in the dependent loop when the dependent is the patient")


def validate_270(segments: Sequence[Segment]) -> list[str]:
    """Problems with one 270 transaction (ST through SE) against 005010X279A1; [] if none."""
    problems: list[str] = []
    if not segments or segments[0].id != "ST":
        return ["270 must start with ST"]
    st = segments[0]
    if st.get(1) != "270":
        problems.append(f"ST01 must be 270, got {st.get(1)!r}")
    if st.get(3) != IMPLEMENTATION:
        problems.append(f"ST03 must be {IMPLEMENTATION}, got {st.get(3)!r}")
    if segments[-1].id != "SE":
        problems.append("270 must end with SE")
        body = list(segments[1:])
    else:
        body = list(segments[1:-1])
    if not body or body[0].id != "BHT":
        problems.append("BHT must follow ST")
    else:
        bht = body.pop(0)
        if bht.get(1) != "0022":
            problems.append("BHT01 must be 0022")
        if bht.get(2) not in ("01", "13"):
            problems.append("BHT02 must be 13 (request) or 01 (cancellation)")
        _check_date(problems, "BHT04", "D8", bht.get(4))
        if not re.fullmatch(r"\d{4}(\d{2}(\d{1,2})?)?", bht.get(5)):
            problems.append(f"BHT05: {bht.get(5)!r} is not an HHMM time")

    loops: list[tuple[Segment, list[Segment]]] = []
    for seg in body:
        if seg.id == "HL":
            loops.append((seg, []))
        elif not loops:
            problems.append(f"{seg.id} (segment {seg.position}) comes before the first HL")
        else:
            loops[-1][1].append(seg)
    if not loops:
        problems.append("no HL loops: 2000A, 2000B and 2000C are required")
        return problems

    levels: dict[str, str] = {}
    for index, (hl, segs) in enumerate(loops, 1):
        hl_id, parent, level, child = hl.get(1), hl.get(2), hl.get(3), hl.get(4)
        where = f"HL {hl_id or '?'} (segment {hl.position})"
        if hl_id != str(index):
            problems.append(f"{where}: HL01 should be {index} (HL ids count up from 1)")
        if level not in _PARENT_LEVEL:
            problems.append(f"{where}: HL03 level {level!r} is not 20, 21, 22 or 23")
            continue
        expected_parent = _PARENT_LEVEL[level]
        if expected_parent is None:
            if parent:
                problems.append(f"{where}: the information source HL has no parent")
        elif parent not in levels:
            problems.append(f"{where}: HL02 parent {parent!r} is not an earlier HL")
        elif levels[parent] != expected_parent:
            problems.append(f"{where}: level {level} must be under a level {expected_parent}, not {levels[parent]}")
        has_children = any(other.get(2) == hl_id for other, _ in loops)
        if child not in ("0", "1"):
            problems.append(f"{where}: HL04 must be 0 or 1")
        elif (child == "1") != has_children:
            problems.append(f"{where}: HL04 is {child} but the loop has{'' if has_children else ' no'} children")
        levels[hl_id] = level
        if level == "20":
            _check_party(problems, "2100A", segs, _SOURCE_ENTITIES, _SOURCE_ID_QUALIFIERS, [])
        elif level == "21":
            _check_party(
                problems,
                "2100B",
                segs,
                _RECEIVER_ENTITIES,
                _RECEIVER_ID_QUALIFIERS,
                ["REF", "N3", "N4", "PRV"],
            )
        else:
            _check_person(problems, level, segs, is_patient=not has_children)
    for level in ("20", "21", "22"):
        if level not in levels.values():
            problems.append(f"loop {_LOOP_NAMES[level]} (HL level {level}) is missing")
    return problems


# ---------------------------------------------------------------------------------------------
# Reading a 270 back (used by the simulated payer)


def _first(segs: list[Segment], seg_id: str) -> Segment | None:
    return next((s for s in segs if s.id == seg_id), None)


def requests_from_transaction(tx: Transaction) -> list[EligibilityRequest]:
    """One request per patient loop of a valid 270 transaction; raises X12Error if invalid."""
    problems = validate_270(tx.segments)
    if problems:
        raise X12Error(f"270 transaction {tx.control_number} is not valid: " + "; ".join(problems))
    bht_date = parse_d8(tx.body[0].get(4))
    loops: list[tuple[Segment, list[Segment]]] = []
    for seg in tx.body[1:]:
        if seg.id == "HL":
            loops.append((seg, []))
        else:
            loops[-1][1].append(seg)
    by_id = {hl.get(1): (hl, segs) for hl, segs in loops}
    requests: list[EligibilityRequest] = []
    for hl, segs in loops:
        if hl.get(3) not in ("22", "23") or hl.get(4) == "1":
            continue  # not the patient's loop
        if hl.get(3) == "23":
            sub_hl, sub_segs = by_id[hl.get(2)]
        else:
            sub_hl, sub_segs = hl, segs
        recv_hl, recv_segs = by_id[sub_hl.get(2)]
        _, src_segs = by_id[recv_hl.get(2)]
        payer_nm1, recv_nm1 = src_segs[0], recv_segs[0]
        sub_nm1 = _first(sub_segs, "NM1")
        sub_dmg = _first(sub_segs, "DMG")
        trn = _first(segs, "TRN")
        dtp = _first(segs, "DTP")
        eq_types = [code for s in segs if s.id == "EQ" for code in s.repeats(1)]
        if sub_nm1 is None or trn is None:  # validate_270 already refuses this
            raise X12Error(f"270 transaction {tx.control_number}: patient loop is incomplete")
        service_date = (parse_d8(dtp.get(3)[:8]) if dtp else None) or bht_date
        if service_date is None:
            raise X12Error(f"270 transaction {tx.control_number}: no date of service")
        subscriber = Subscriber(
            first_name=sub_nm1.get(4),
            last_name=sub_nm1.get(3),
            member_id=sub_nm1.get(9),
            birth_date=parse_d8(sub_dmg.get(2)) if sub_dmg else None,
            gender=sub_dmg.get(3) if sub_dmg else "",
        )
        dependent = None
        if hl.get(3) == "23":
            dep_nm1 = _first(segs, "NM1")
            dep_dmg = _first(segs, "DMG")
            if dep_nm1 is None:
                raise X12Error(f"270 transaction {tx.control_number}: dependent NM1 missing")
            dependent = Dependent(
                first_name=dep_nm1.get(4),
                last_name=dep_nm1.get(3),
                birth_date=parse_d8(dep_dmg.get(2)) if dep_dmg else None,
                gender=dep_dmg.get(3) if dep_dmg else "",
            )
        requests.append(
            EligibilityRequest(
                payer=Payer(name=payer_nm1.get(3), id=payer_nm1.get(9)),
                provider=Provider(name=recv_nm1.get(3), npi=recv_nm1.get(9)),
                subscriber=subscriber,
                date_of_service=service_date,
                trace_number=trn.get(2),
                service_types=eq_types or ["30"],
                dependent=dependent,
                trace_assigner=trn.get(3),
            )
        )
    return requests


def parse_270(data: str | bytes) -> list[EligibilityRequest]:
    """Every patient inquiry in a 270 file; raises X12Error if unreadable or invalid."""
    requests: list[EligibilityRequest] = []
    transactions = [t for t in iter_transactions(read_interchanges(data)) if t.set_id == "270"]
    if not transactions:
        raise X12Error("no 270 transaction in the input")
    for tx in transactions:
        requests += requests_from_transaction(tx)
    return requests
