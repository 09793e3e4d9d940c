"""Strict X12 envelopes: ISA/IEA, GS/GE and ST/SE with their counts and control numbers checked."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

from .reader import Delimiters, Segment, X12Error, read_segments


@dataclass
class Transaction:
    """One transaction set, ST through SE inclusive."""

    set_id: str  # ST01, e.g. "271"
    control_number: str  # ST02
    implementation: str  # ST03, e.g. "005010X279A1"
    segments: list[Segment]

    @property
    def body(self) -> list[Segment]:
        """The segments between ST and SE."""
        return self.segments[1:-1]


@dataclass
class FunctionalGroup:
    """One GS/GE group and its transaction sets."""

    functional_id: str  # GS01, e.g. "HB" for 271
    sender: str  # GS02
    receiver: str  # GS03
    date: str  # GS04 CCYYMMDD
    time: str  # GS05
    control_number: str  # GS06
    version: str  # GS08
    transactions: list[Transaction] = field(default_factory=list)


@dataclass
class Interchange:
    """One ISA/IEA interchange and its functional groups."""

    sender_qualifier: str
    sender_id: str
    receiver_qualifier: str
    receiver_id: str
    date: str  # ISA09 YYMMDD
    time: str  # ISA10 HHMM
    control_number: str  # ISA13
    usage: str  # ISA15: P production, T test
    delimiters: Delimiters
    groups: list[FunctionalGroup] = field(default_factory=list)

    def transactions(self) -> Iterator[Transaction]:
        """Every transaction set of every group, in order."""
        for group in self.groups:
            yield from group.transactions


def _count(segment: Segment, n: int, what: str) -> int:
    value = segment.get(n).strip()
    if not value.isdigit():
        raise X12Error(f"segment {segment.position}: {segment.id}{n:02d} ({what}) must be a number, got {value!r}")
    return int(value)


def _same_control(a: str, b: str) -> bool:
    # Control numbers are numeric; some senders zero-pad one side only.
    a, b = a.strip(), b.strip()
    if a.isdigit() and b.isdigit():
        return int(a) == int(b)
    return a == b


class _Cursor:
    """Walks the segment list; says clearly what was expected when the input ends early."""

    def __init__(self, segments: Sequence[Segment]) -> None:
        self.segments = segments
        self.index = 0

    def peek(self) -> Segment | None:
        return self.segments[self.index] if self.index < len(self.segments) else None

    def take(self) -> Segment:
        segment = self.segments[self.index]
        self.index += 1
        return segment


def _read_transaction(cursor: _Cursor) -> Transaction:
    st = cursor.take()
    control = st.get(2)
    if not control:
        raise X12Error(f"segment {st.position}: ST02 control number is missing")
    segments = [st]
    while True:
        seg = cursor.peek()
        if seg is None:
            raise X12Error(f"transaction set {control}: input ends before its SE segment")
        if seg.id in ("ST", "GE", "GS", "IEA", "ISA"):
            raise X12Error(
                f"transaction set {control}: {seg.id} at segment {seg.position} before the SE "
                "that closes the transaction"
            )
        segments.append(cursor.take())
        if seg.id == "SE":
            break
    se = segments[-1]
    declared = _count(se, 1, "segment count")
    if declared != len(segments):
        raise X12Error(f"transaction set {control}: SE01 says {declared} segments but ST..SE has {len(segments)}")
    if se.get(2) != control:
        raise X12Error(f"transaction set {control}: SE02 control number {se.get(2)!r} does not match ST02 {control!r}")
    return Transaction(set_id=st.get(1), control_number=control, implementation=st.get(3), segments=segments)


def _read_group(cursor: _Cursor) -> FunctionalGroup:
    gs = cursor.take()
    control = gs.get(6)
    if not (control.isdigit() and len(control) <= 9):
        raise X12Error(f"segment {gs.position}: GS06 group control number must be 1-9 digits, got {control!r}")
    group = FunctionalGroup(
        functional_id=gs.get(1),
        sender=gs.get(2),
        receiver=gs.get(3),
        date=gs.get(4),
        time=gs.get(5),
        control_number=control,
        version=gs.get(8),
    )
    while True:
        seg = cursor.peek()
        if seg is None:
            raise X12Error(f"functional group {control}: input ends before its GE segment")
        if seg.id == "ST":
            group.transactions.append(_read_transaction(cursor))
        elif seg.id == "GE":
            cursor.take()
            break
        else:
            raise X12Error(
                f"functional group {control}: unexpected {seg.id} at segment {seg.position} (expected ST or GE)"
            )
    declared = _count(seg, 1, "number of transaction sets")
    if declared != len(group.transactions):
        raise X12Error(
            f"functional group {control}: GE01 says {declared} transaction sets but the group "
            f"has {len(group.transactions)}"
        )
    if not _same_control(seg.get(2), control):
        raise X12Error(
            f"functional group {control}: GE02 control number {seg.get(2)!r} does not match GS06 {control!r}"
        )
    return group


def _read_interchange(cursor: _Cursor) -> Interchange:
    isa = cursor.take()
    if len(isa.elements) != 16:
        raise X12Error(f"segment {isa.position}: ISA has {len(isa.elements)} elements, expected 16")
    control = isa.get(13)
    if not (control.isdigit() and len(control) == 9):
        raise X12Error(f"ISA13 interchange control number must be 9 digits, got {control!r}")
    interchange = Interchange(
        sender_qualifier=isa.get(5).strip(),
        sender_id=isa.get(6).strip(),
        receiver_qualifier=isa.get(7).strip(),
        receiver_id=isa.get(8).strip(),
        date=isa.get(9),
        time=isa.get(10),
        control_number=control,
        usage=isa.get(15),
        delimiters=isa.delimiters,
    )
    while True:
        seg = cursor.peek()
        if seg is None:
            raise X12Error(f"interchange {control}: input ends before its IEA segment")
        if seg.id == "GS":
            interchange.groups.append(_read_group(cursor))
        elif seg.id == "TA1":
            cursor.take()  # interchange acknowledgment: allowed here, nothing to read for us
        elif seg.id == "IEA":
            cursor.take()
            break
        else:
            raise X12Error(f"interchange {control}: unexpected {seg.id} at segment {seg.position} (expected GS or IEA)")
    declared = _count(seg, 1, "number of functional groups")
    if declared != len(interchange.groups):
        raise X12Error(
            f"interchange {control}: IEA01 says {declared} functional groups but the interchange "
            f"has {len(interchange.groups)}"
        )
    if seg.get(2) != control:
        raise X12Error(f"interchange {control}: IEA02 control number {seg.get(2)!r} does not match ISA13 {control!r}")
    return interchange


def parse_envelopes(segments: Sequence[Segment]) -> list[Interchange]:
    """Group segments into interchanges → groups → transactions, checking every envelope."""
    if not segments:
        raise X12Error("input has no segments")
    cursor = _Cursor(segments)
    interchanges: list[Interchange] = []
    while (seg := cursor.peek()) is not None:
        if seg.id != "ISA":
            raise X12Error(f"segment {seg.position}: {seg.id} outside an ISA/IEA interchange")
        interchanges.append(_read_interchange(cursor))
    return interchanges


def read_interchanges(data: str | bytes) -> list[Interchange]:
    """Read X12 text and return its checked envelopes; raises X12Error on any problem."""
    return parse_envelopes(read_segments(data))


def iter_transactions(interchanges: Sequence[Interchange]) -> Iterator[Transaction]:
    """Every transaction set across all interchanges and groups, in file order."""
    for interchange in interchanges:
        for group in interchange.groups:
            yield from group.transactions
