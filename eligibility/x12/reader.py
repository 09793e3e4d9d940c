"""Tolerant X12 reader: splits an interchange into segments using the separators its ISA declares."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

# The ISA has exactly 16 elements; ISA16 (one character) is followed by the segment terminator.
ISA_ELEMENT_COUNT = 16
ISA_LENGTH = 106  # fixed width, including the segment terminator

_SEGMENT_ID = re.compile(r"[A-Z][A-Z0-9]{1,2}")
_LINE_BREAKS = "\r\n"


class X12Error(ValueError):
    """The input is not a readable or well-formed X12 interchange; the message says why."""


@dataclass(frozen=True)
class Delimiters:
    """The four separators of an interchange."""

    element: str = "*"
    repetition: str | None = "^"  # None for 4010-style ISA11 (a standards id, not a separator)
    component: str = ":"
    segment: str = "~"

    def characters(self) -> str:
        """All separator characters, which must never appear inside data."""
        return self.element + (self.repetition or "") + self.component + self.segment


DEFAULT_DELIMITERS = Delimiters()


@dataclass(frozen=True)
class Segment:
    """One segment: its id and its elements (element 1 is `elements[0]`, as in X12 numbering)."""

    id: str
    elements: tuple[str, ...]
    delimiters: Delimiters = field(default=DEFAULT_DELIMITERS, compare=False)
    position: int = field(default=0, compare=False)  # 1-based place in the file, for messages

    def get(self, n: int) -> str:
        """Element n (1-based, as in EB01) or '' when the segment is shorter."""
        if 1 <= n <= len(self.elements):
            return self.elements[n - 1]
        return ""

    def components(self, n: int) -> list[str]:
        """Element n split on the component separator ([] when empty)."""
        value = self.get(n)
        return value.split(self.delimiters.component) if value else []

    def repeats(self, n: int) -> list[str]:
        """Element n split on the repetition separator ([] when empty)."""
        value = self.get(n)
        if not value:
            return []
        if self.delimiters.repetition is None:
            return [value]
        return value.split(self.delimiters.repetition)

    def __str__(self) -> str:
        return self.delimiters.element.join((self.id, *self.elements))


def _as_text(data: str | bytes) -> str:
    if isinstance(data, bytes):
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            # X12 is ASCII in practice; latin-1 never fails, so garbage reaches the ISA check
            # below and gets a readable message instead of a decode error.
            text = data.decode("latin-1")
    elif isinstance(data, str):
        text = data
    else:
        raise X12Error(f"expected X12 text or bytes, got {type(data).__name__}")
    return text.lstrip("\ufeff").lstrip()


def detect_delimiters(text: str) -> Delimiters:
    """Read the separators from the ISA at the start of `text`."""
    if not text.strip():
        raise X12Error("input is empty")
    if not text.startswith("ISA"):
        preview = (text[:20].splitlines() or [""])[0]
        raise X12Error(f"input does not start with an ISA segment (starts with {preview!r})")
    if len(text) < 4:
        raise X12Error("ISA segment is truncated: no element separator")
    element = text[3]
    if element.isalnum() or element.isspace():
        raise X12Error(f"ISA element separator {element!r} is not a valid separator")

    # Walk the separators instead of trusting fixed offsets: some senders pad ISA06/ISA08
    # wrongly, and the separator positions are what actually define the elements.
    starts: list[int] = []  # where ISA01..ISA16 begin
    pos = 3
    for found in range(ISA_ELEMENT_COUNT):
        if found:
            pos = text.find(element, pos + 1)
        if pos < 0:
            raise X12Error(f"ISA segment is truncated: found {found} of {ISA_ELEMENT_COUNT} elements")
        starts.append(pos + 1)
    isa16_at = starts[-1]
    if len(text) < isa16_at + 2:
        raise X12Error("ISA segment is truncated: ISA16 or the segment terminator is missing")
    component = text[isa16_at]
    segment = text[isa16_at + 1]
    if segment.isalnum() or segment == " ":
        raise X12Error(
            f"ISA16 must be one character followed by the segment terminator, found {text[isa16_at : isa16_at + 2]!r}"
        )
    isa11 = text[starts[10] : starts[11] - 1]
    repetition: str | None = None
    if len(isa11) == 1 and not isa11.isalnum() and not isa11.isspace():
        repetition = isa11

    chars = [element, component, segment] + ([repetition] if repetition else [])
    if len(set(chars)) != len(chars):
        raise X12Error(
            "ISA separators must all differ: "
            f"element {element!r}, repetition {repetition!r}, component {component!r}, "
            f"segment terminator {segment!r}"
        )
    if component.isalnum() or component.isspace():
        raise X12Error(f"ISA16 component separator {component!r} is not a valid separator")
    return Delimiters(element=element, repetition=repetition, component=component, segment=segment)


def _clean_piece(piece: str, delimiters: Delimiters) -> str:
    if delimiters.segment in _LINE_BREAKS:
        return piece.strip(_LINE_BREAKS).lstrip(" \t")
    # Line breaks are never data when the terminator is a printable character, so they can be
    # dropped wherever they are (this also repairs files wrapped at a fixed line width).
    return piece.replace("\r", "").replace("\n", "").lstrip(" \t")


def _parse_segment(piece: str, delimiters: Delimiters, position: int) -> Segment:
    parts = piece.split(delimiters.element)
    seg_id = parts[0]
    if not _SEGMENT_ID.fullmatch(seg_id):
        raise X12Error(f"segment {position}: {seg_id[:20]!r} is not a valid segment id")
    return Segment(id=seg_id, elements=tuple(parts[1:]), delimiters=delimiters, position=position)


def read_segments(data: str | bytes) -> list[Segment]:
    """Split X12 text (one or more interchanges) into segments; raises X12Error if unreadable."""
    text = _as_text(data)
    if not text:
        raise X12Error("input is empty")
    segments: list[Segment] = []
    rest = text
    while rest:
        delimiters = detect_delimiters(rest)
        pos = 0
        while pos < len(rest):
            end = rest.find(delimiters.segment, pos)
            if end < 0:
                end = len(rest)  # tolerate a last segment without terminator
            piece = _clean_piece(rest[pos:end], delimiters)
            pos = end + 1
            if not piece.strip():
                continue
            segment = _parse_segment(piece, delimiters, len(segments) + 1)
            segments.append(segment)
            if segment.id == "IEA":
                break
        rest = rest[pos:].lstrip()
        # Another interchange may follow, possibly with different separators.
        if rest and not rest.startswith("ISA"):
            raise X12Error(
                f"segment {len(segments) + 1}: data after IEA is not another interchange (starts with {rest[:20]!r})"
            )
    return segments
