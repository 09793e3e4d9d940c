"""X12 writer: wraps transaction bodies in ST/SE, GS/GE and a fixed-width ISA/IEA."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from .reader import DEFAULT_DELIMITERS, ISA_LENGTH, Delimiters, X12Error


@dataclass(frozen=True, init=False)
class Components:
    """A composite element, e.g. Components("HC", "99213") → HC:99213."""

    parts: tuple[str, ...]

    def __init__(self, *parts: str) -> None:
        object.__setattr__(self, "parts", tuple(parts))


@dataclass(frozen=True, init=False)
class Repeats:
    """A repeated element, e.g. Repeats("30", "98") → 30^98 (5010 repetition separator)."""

    values: tuple[str, ...]

    def __init__(self, *values: str) -> None:
        object.__setattr__(self, "values", tuple(values))


Element = str | Components | Repeats
SegmentSpec = Sequence[Element]  # first item is the segment id


@dataclass
class TransactionSet:
    """A transaction to write: ST01, ST02, ST03 and the body segments (without ST and SE)."""

    set_id: str
    control_number: str
    implementation: str
    body: list[SegmentSpec] = field(default_factory=list)


def _check(value: str, delimiters: Delimiters, where: str) -> str:
    bad = sorted({ch for ch in value if ch in delimiters.characters() or ch in "\r\n"})
    if bad:
        # A separator inside data would silently shift every later element for the receiver.
        raise X12Error(f"{where}: value {value!r} contains separator character(s) {bad}")
    return value


def _render_element(element: Element, delimiters: Delimiters, where: str) -> str:
    if isinstance(element, Components):
        parts = [_check(p, delimiters, where) for p in element.parts]
        while parts and not parts[-1]:
            parts.pop()
        return delimiters.component.join(parts)
    if isinstance(element, Repeats):
        if delimiters.repetition is None:
            raise X12Error(f"{where}: repeated element needs a repetition separator")
        return delimiters.repetition.join(_check(v, delimiters, where) for v in element.values)
    return _check(element, delimiters, where)


def format_segment(spec: SegmentSpec, delimiters: Delimiters = DEFAULT_DELIMITERS) -> str:
    """One segment as text, without terminator; trailing empty elements are dropped (X12 rule)."""
    if not spec:
        raise X12Error("cannot write an empty segment")
    seg_id = spec[0]
    if not isinstance(seg_id, str) or not seg_id:
        raise X12Error(f"segment id must be a non-empty string, got {seg_id!r}")
    values = [_render_element(e, delimiters, f"{seg_id}{i:02d}") for i, e in enumerate(spec[1:], 1)]
    while values and not values[-1]:
        values.pop()
    return delimiters.element.join([seg_id, *values])


def _fixed(value: str, width: int, name: str) -> str:
    if len(value) > width:
        raise X12Error(f"{name} {value!r} is longer than {width} characters")
    return value.ljust(width)


def _isa(
    *,
    sender_qualifier: str,
    sender_id: str,
    receiver_qualifier: str,
    receiver_id: str,
    when: datetime,
    control_number: int,
    ack_requested: bool,
    usage: str,
    delimiters: Delimiters,
) -> str:
    if not 0 < control_number <= 999_999_999:
        raise X12Error(f"interchange control number {control_number} must be 1..999999999")
    if usage not in ("P", "T"):
        raise X12Error(f"ISA15 usage indicator must be P or T, got {usage!r}")
    if delimiters.repetition is None:
        raise X12Error("5010 interchanges need a repetition separator (ISA11)")
    elements = [
        "ISA",
        "00",
        " " * 10,
        "00",
        " " * 10,
        _fixed(sender_qualifier, 2, "ISA05"),
        _fixed(sender_id, 15, "ISA06"),
        _fixed(receiver_qualifier, 2, "ISA07"),
        _fixed(receiver_id, 15, "ISA08"),
        when.strftime("%y%m%d"),
        when.strftime("%H%M"),
        delimiters.repetition,
        "00501",
        f"{control_number:09d}",
        "1" if ack_requested else "0",
        usage,
        delimiters.component,
    ]
    for value in elements[5:9]:
        _check(value, delimiters, "ISA")
    text = delimiters.element.join(elements) + delimiters.segment
    if len(text) != ISA_LENGTH:  # defensive: every field above is fixed width
        raise X12Error(f"internal error: ISA is {len(text)} characters, expected {ISA_LENGTH}")
    return text


def build_interchange(
    transactions: Sequence[TransactionSet],
    *,
    sender_id: str,
    receiver_id: str,
    functional_id: str,
    interchange_control_number: int,
    group_control_number: int,
    when: datetime | None = None,
    sender_qualifier: str = "ZZ",
    receiver_qualifier: str = "ZZ",
    application_sender: str | None = None,
    application_receiver: str | None = None,
    usage: str = "P",
    ack_requested: bool = False,
    delimiters: Delimiters = DEFAULT_DELIMITERS,
    line_breaks: bool = False,
) -> str:
    """Write one interchange holding one functional group with the given transaction sets.

    `when` stamps ISA09/10 and GS04/05; pass it in so output is reproducible (tests, audits).
    """
    if not transactions:
        raise X12Error("an interchange needs at least one transaction set")
    if not 0 < group_control_number <= 999_999_999:
        raise X12Error(f"group control number {group_control_number} must be 1..999999999")
    when = when or datetime.now()  # noqa: DTZ005 - X12 dates are the sender's local wall time
    versions = {t.implementation for t in transactions}
    if len(versions) != 1:
        raise X12Error(f"one group cannot mix implementation guides: {sorted(versions)}")
    terminator = delimiters.segment + ("\n" if line_breaks else "")
    lines = [
        _isa(
            sender_qualifier=sender_qualifier,
            sender_id=sender_id,
            receiver_qualifier=receiver_qualifier,
            receiver_id=receiver_id,
            when=when,
            control_number=interchange_control_number,
            ack_requested=ack_requested,
            usage=usage,
            delimiters=delimiters,
        ).removesuffix(delimiters.segment)
    ]
    lines.append(
        format_segment(
            [
                "GS",
                functional_id,
                application_sender or sender_id,
                application_receiver or receiver_id,
                when.strftime("%Y%m%d"),
                when.strftime("%H%M"),
                str(group_control_number),
                "X",
                versions.pop(),
            ],
            delimiters,
        )
    )
    seen: set[str] = set()
    for transaction in transactions:
        control = transaction.control_number
        if control in seen:
            raise X12Error(f"transaction control number {control} is used twice in one group")
        seen.add(control)
        lines.append(format_segment(["ST", transaction.set_id, control, transaction.implementation], delimiters))
        lines.extend(format_segment(spec, delimiters) for spec in transaction.body)
        lines.append(format_segment(["SE", str(len(transaction.body) + 2), control], delimiters))
    lines.append(format_segment(["GE", str(len(transactions)), str(group_control_number)], delimiters))
    lines.append(format_segment(["IEA", "1", f"{interchange_control_number:09d}"], delimiters))
    return terminator.join(lines) + terminator
