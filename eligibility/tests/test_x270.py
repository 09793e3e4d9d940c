"""Tests for 270 generation and its 005010X279A1 structure check."""

from __future__ import annotations

import dataclasses
from datetime import date, datetime

import pytest

from eligibility.x12.envelope import iter_transactions, read_interchanges
from eligibility.x12.reader import Segment, X12Error
from eligibility.x12.x270 import (
    Dependent,
    EligibilityRequest,
    Payer,
    Provider,
    Subscriber,
    build_270,
    clean_name,
    npi_is_valid,
    parse_270,
    validate_270,
)

WHEN = datetime(2025, 3, 13, 9, 30)


def make_request(**overrides: object) -> EligibilityRequest:
    request = EligibilityRequest(
        payer=Payer(name="Blue Heron Health", id="BHH01"),
        provider=Provider(name="Maple Grove Family Medicine", npi="1234567893"),
        subscriber=Subscriber(
            first_name="Avery",
            last_name="Quillfeather",
            member_id="BHX448810217",
            birth_date=date(1980, 4, 2),
            gender="F",
        ),
        date_of_service=date(2025, 3, 14),
        trace_number="VMA-000123",
    )
    return dataclasses.replace(request, **overrides)


def build(request: EligibilityRequest | None = None, **kwargs: object) -> str:
    return build_270(request or make_request(), sender_id="VMAPORTAL", receiver_id="BHH01", when=WHEN, **kwargs)


def transaction_segments(text: str) -> list[Segment]:
    [tx] = list(iter_transactions(read_interchanges(text)))
    return tx.segments


def test_build_270_writes_the_x279a1_segments_in_order():
    segments = [str(s) for s in transaction_segments(build())]
    assert segments == [
        "ST*270*0001*005010X279A1",
        "BHT*0022*13*VMA-000123*20250313*0930",
        "HL*1**20*1",
        "NM1*PR*2*BLUE HERON HEALTH*****PI*BHH01",
        "HL*2*1*21*1",
        "NM1*1P*2*MAPLE GROVE FAMILY MEDICINE*****XX*1234567893",
        "HL*3*2*22*0",
        "TRN*1*VMA-000123*9VMAPORTAL",
        "NM1*IL*1*QUILLFEATHER*AVERY****MI*BHX448810217",
        "DMG*D8*19800402*F",
        "DTP*291*D8*20250314",
        "EQ*30",
        "SE*13*0001",
    ]


def test_generated_270_rereads_and_validates_clean():
    text = build()
    [interchange] = read_interchanges(text)
    assert interchange.groups[0].functional_id == "HS"
    assert interchange.groups[0].version == "005010X279A1"
    assert validate_270(transaction_segments(text)) == []


def test_270_with_dependent_puts_trace_dates_and_eq_in_2000d():
    request = make_request(
        dependent=Dependent(first_name="Rowan", last_name="Quillfeather", birth_date=date(2012, 6, 1), gender="M"),
        service_types=["30", "98"],
    )
    segments = [str(s) for s in transaction_segments(build(request))]
    assert segments[6:] == [
        "HL*3*2*22*1",
        "NM1*IL*1*QUILLFEATHER*AVERY****MI*BHX448810217",
        "DMG*D8*19800402*F",
        "HL*4*3*23*0",
        "TRN*1*VMA-000123*9VMAPORTAL",
        "NM1*03*1*QUILLFEATHER*ROWAN",
        "DMG*D8*20120601*M",
        "DTP*291*D8*20250314",
        "EQ*30^98",
        "SE*16*0001",
    ]
    assert validate_270(transaction_segments(build(request))) == []


def test_parse_270_reads_back_what_build_270_wrote():
    request = make_request(
        dependent=Dependent(first_name="Rowan", last_name="Quillfeather", birth_date=date(2012, 6, 1))
    )
    [parsed] = parse_270(build(request))
    assert parsed.payer == Payer(name="BLUE HERON HEALTH", id="BHH01")
    assert parsed.provider.npi == "1234567893"
    assert parsed.subscriber.member_id == "BHX448810217"
    assert parsed.subscriber.birth_date == date(1980, 4, 2)
    assert parsed.dependent is not None and parsed.dependent.first_name == "ROWAN"
    assert parsed.date_of_service == date(2025, 3, 14)
    assert parsed.trace_number == "VMA-000123"
    assert parsed.service_types == ["30"]


def test_names_are_cleaned_to_upper_case_ascii_without_separators():
    request = make_request(
        subscriber=Subscriber(first_name="Zoë*", last_name="O'Brien~Núñez", member_id="M1", birth_date=date(1990, 1, 1))
    )
    segments = [str(s) for s in transaction_segments(build(request))]
    assert "NM1*IL*1*O'BRIEN NUNEZ*ZOE****MI*M1" in segments
    assert clean_name("  ada   lovelace ", 60) == "ADA LOVELACE"


def test_member_id_with_a_separator_is_refused_not_silently_mangled():
    request = make_request(subscriber=Subscriber(first_name="A", last_name="B", member_id="AB*12", birth_date=None))
    with pytest.raises(X12Error, match="separator"):
        build(request)


def test_build_270_refuses_a_bad_npi():
    request = make_request(provider=Provider(name="Maple Grove", npi="1234567890"))
    with pytest.raises(X12Error, match="NPI '1234567890' is not 10 digits with a valid check digit"):
        build(request)


@pytest.mark.parametrize(
    ("npi", "valid"),
    [("1234567893", True), ("1245319599", True), ("1234567890", False), ("123456789", False), ("12345678AB", False)],
)
def test_npi_check_digit(npi, valid):
    assert npi_is_valid(npi) is valid


def test_validate_270_catches_a_missing_subscriber_nm1():
    segments = [s for s in transaction_segments(build()) if not (s.id == "NM1" and s.get(1) == "IL")]
    problems = validate_270(segments)
    assert any("2000C: expected exactly one NM1, found 0" in p for p in problems), problems


def test_validate_270_catches_a_bad_npi_in_the_receiver_loop():
    segments = transaction_segments(build())
    bad = [
        Segment(s.id, (*s.elements[:8], "12345"), s.delimiters, s.position) if s.get(1) == "1P" else s for s in segments
    ]
    problems = validate_270(bad)
    assert problems == ["2100B: NPI '12345' is not 10 digits with a valid check digit"]


def test_validate_270_catches_bad_dates_and_order_and_hl_links():
    segments = transaction_segments(build())

    def replace(seg_id: str, *elements: str) -> list[Segment]:
        return [Segment(s.id, elements, s.delimiters, s.position) if s.id == seg_id else s for s in segments]

    assert any("'20250231' is not a CCYYMMDD date" in p for p in validate_270(replace("DTP", "291", "D8", "20250231")))
    assert any("DMG01 must be D8" in p for p in validate_270(replace("DMG", "D6", "800402", "F")))
    broken_hl = [Segment("HL", ("3", "9", "22", "0")) if s.id == "HL" and s.get(1) == "3" else s for s in segments]
    assert any("HL02 parent '9' is not an earlier HL" in p for p in validate_270(broken_hl))
    dmg_index = next(i for i, s in enumerate(segments) if s.id == "DMG")
    swapped = [*segments]
    swapped[dmg_index], swapped[dmg_index + 1] = swapped[dmg_index + 1], swapped[dmg_index]  # DTP before DMG
    assert any("DMG (segment" in p and "out of order" in p for p in validate_270(swapped))


def test_validate_270_requires_eq_and_trace_in_the_patient_loop():
    segments = [s for s in transaction_segments(build()) if s.id not in ("EQ", "TRN")]
    problems = validate_270(segments)
    assert "2000C: the patient's loop needs at least one EQ" in problems
    assert "2000C: the patient's loop needs a TRN trace number" in problems


def test_validate_270_refuses_a_271_and_missing_loops():
    segments = transaction_segments(build())
    only_header = [segments[0], segments[1], segments[-1]]
    problems = validate_270(only_header)
    assert "no HL loops: 2000A, 2000B and 2000C are required" in problems
    st271 = [Segment("ST", ("271", "0001", "005010X279A1")), *segments[1:]]
    assert "ST01 must be 270, got '271'" in validate_270(st271)
    assert validate_270([]) == ["270 must start with ST"]


def test_parse_270_refuses_an_invalid_270():
    text = build().replace("NM1*IL*1*QUILLFEATHER*AVERY****MI*BHX448810217", "NM1*IL*1*QUILLFEATHER*AVERY")
    with pytest.raises(X12Error, match=r"270 transaction 0001 is not valid: .*member id"):
        parse_270(text)
