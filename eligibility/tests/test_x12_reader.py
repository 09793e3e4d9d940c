"""Tests for the generic X12 layer: tolerant reader, strict envelopes and the writer."""

from __future__ import annotations

from datetime import datetime

import pytest

from eligibility.x12.envelope import iter_transactions, parse_envelopes, read_interchanges
from eligibility.x12.reader import Delimiters, Segment, X12Error, detect_delimiters, read_segments
from eligibility.x12.writer import Components, Repeats, TransactionSet, build_interchange, format_segment

WHEN = datetime(2025, 3, 10, 14, 22)


def isa(element: str = "*", repetition: str = "^", component: str = ":", terminator: str = "~") -> str:
    """A fixed-width ISA with the given separators (106 characters including the terminator)."""
    fields = [
        "ISA",
        "00",
        " " * 10,
        "00",
        " " * 10,
        "ZZ",
        "BHH01".ljust(15),
        "ZZ",
        "VMAPORTAL".ljust(15),
        "250310",
        "1422",
        repetition,
        "00501",
        "000000001",
        "0",
        "P",
        component,
    ]
    return element.join(fields) + terminator


def small_interchange(element: str = "*", repetition: str = "^", component: str = ":", terminator: str = "~") -> str:
    """A tiny 271-shaped interchange written with the given separators, segments joined by terminator."""
    e, r, c = element, repetition, component
    body = [
        f"GS{e}HB{e}BHH01{e}VMAPORTAL{e}20250310{e}1422{e}1{e}X{e}005010X279A1",
        f"ST{e}271{e}0001{e}005010X279A1",
        f"BHT{e}0022{e}11{e}REF1{e}20250310{e}1422",
        f"EB{e}1{e}IND{e}30{r}98{r}UC{e}PR",
        f"III{e}ZZ{e}11{c}B{c}1",
        f"SE{e}5{e}0001",
        f"GE{e}1{e}1",
        f"IEA{e}1{e}000000001",
    ]
    return isa(e, r, c, terminator) + terminator.join(body) + terminator


def sample_interchange(**overrides: object) -> str:
    """A valid two-transaction interchange written by our writer, to be broken by tests."""
    tx = [
        TransactionSet(
            "271", "0001", "005010X279A1", [["BHT", "0022", "11", "R1", "20250310", "1422"], ["HL", "1", "", "20", "0"]]
        ),
        TransactionSet("271", "0002", "005010X279A1", [["BHT", "0022", "11", "R2", "20250310", "1422"]]),
    ]
    kwargs: dict = {
        "sender_id": "BHH01",
        "receiver_id": "VMAPORTAL",
        "functional_id": "HB",
        "interchange_control_number": 4711,
        "group_control_number": 17,
        "when": WHEN,
        "line_breaks": True,
    }
    kwargs.update(overrides)
    return build_interchange(tx, **kwargs)


# --- reader tolerance ---------------------------------------------------------------------------


def test_reader_strips_utf8_bom_and_leading_whitespace_from_bytes():
    data = ("\ufeff \r\n\t" + small_interchange()).encode("utf-8")
    segments = read_segments(data)
    assert [s.id for s in segments] == ["ISA", "GS", "ST", "BHT", "EB", "III", "SE", "GE", "IEA"]


def test_reader_tolerates_crlf_between_segments():
    text = small_interchange().replace("~", "~\r\n")
    segments = read_segments(text)
    assert [s.id for s in segments][-3:] == ["SE", "GE", "IEA"]
    assert segments[4].get(3) == "30^98^UC"  # no stray CR/LF left inside elements


def test_reader_repairs_a_file_wrapped_at_fixed_width():
    text = small_interchange()
    wrapped = "\n".join(text[i : i + 80] for i in range(0, len(text), 80))
    assert [str(s) for s in read_segments(wrapped)] == [str(s) for s in read_segments(text)]


@pytest.mark.parametrize(
    ("element", "repetition", "component", "terminator"),
    [("*", "^", ":", "~"), ("|", "{", "^", "~"), ("*", "^", ":", "\n"), ("!", "}", ">", "'")],
)
def test_reader_takes_separators_from_the_isa(element, repetition, component, terminator):
    segments = read_segments(small_interchange(element, repetition, component, terminator))
    eb = next(s for s in segments if s.id == "EB")
    iii = next(s for s in segments if s.id == "III")
    assert eb.elements == ("1", "IND", f"30{repetition}98{repetition}UC", "PR")
    assert eb.repeats(3) == ["30", "98", "UC"]
    assert iii.components(2) == ["11", "B", "1"]
    assert segments[0].delimiters == Delimiters(element, repetition, component, terminator)


def test_reader_handles_newline_terminator_with_crlf_line_ends():
    text = small_interchange(terminator="\n").replace("\n", "\r\n")
    segments = read_segments(text)
    assert [s.id for s in segments] == ["ISA", "GS", "ST", "BHT", "EB", "III", "SE", "GE", "IEA"]
    assert segments[-1].get(2) == "000000001"


def test_segment_get_defaults_to_empty_and_components_of_missing_element_is_empty():
    seg = next(s for s in read_segments(small_interchange()) if s.id == "EB")
    assert seg.get(1) == "1"
    assert seg.get(12) == ""
    assert seg.get(0) == ""
    assert seg.components(9) == []
    assert seg.repeats(9) == []


def test_reader_reads_concatenated_interchanges_with_different_separators():
    text = small_interchange() + "\n" + small_interchange("|", "{", "^", "~")
    segments = read_segments(text)
    assert [s.id for s in segments].count("ISA") == 2
    assert segments[-1].delimiters.element == "|"
    assert len(read_interchanges(text)) == 2


def test_4010_style_isa11_gives_no_repetition_separator():
    text = isa(repetition="U")
    assert detect_delimiters(text).repetition is None


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ("", "input is empty"),
        ("   \r\n ", "input is empty"),
        (b"", "input is empty"),
        ("GS*HB*X~", "does not start with an ISA"),
        (b"\xff\xfe\x00garbage", "does not start with an ISA"),
        ("ISA*00*          *00*   ", "ISA segment is truncated"),
        ("ISA", "truncated"),
        (isa()[:-2], "truncated"),
        (isa().replace("*", "A", 1), "not a valid separator"),
        (isa(component="*"), "separators must all differ"),
        (isa() + "GS*HB~st*271~", "'st' is not a valid segment id"),
    ],
)
def test_reader_errors_are_clear_x12errors(data, message):
    with pytest.raises(X12Error, match=message):
        read_segments(data)


def test_x12error_is_a_value_error():
    assert issubclass(X12Error, ValueError)


def test_reader_rejects_garbage_after_the_interchange():
    with pytest.raises(X12Error, match="data after IEA is not another interchange"):
        read_segments(small_interchange() + "hello there")


# --- envelopes ----------------------------------------------------------------------------------


def test_envelopes_give_interchange_groups_and_transactions():
    [interchange] = read_interchanges(sample_interchange())
    assert interchange.control_number == "000004711"
    assert interchange.sender_id == "BHH01"
    assert interchange.receiver_id == "VMAPORTAL"
    assert [g.control_number for g in interchange.groups] == ["17"]
    txs = list(iter_transactions([interchange]))
    assert [(t.set_id, t.control_number, t.implementation) for t in txs] == [
        ("271", "0001", "005010X279A1"),
        ("271", "0002", "005010X279A1"),
    ]
    assert [s.id for s in txs[0].segments] == ["ST", "BHT", "HL", "SE"]
    assert [s.id for s in txs[0].body] == ["BHT", "HL"]


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("SE*4*0001", "SE*5*0001", "transaction set 0001: SE01 says 5 segments but ST..SE has 4"),
        ("SE*4*0001", "SE*4*0009", "transaction set 0001: SE02 control number '0009' does not match ST02 '0001'"),
        ("SE*4*0001", "SE*four*0001", "SE01 .*must be a number"),
        ("GE*2*17", "GE*1*17", "functional group 17: GE01 says 1 transaction sets but the group has 2"),
        ("GE*2*17", "GE*2*18", "functional group 17: GE02 control number '18' does not match GS06 '17'"),
        (
            "IEA*1*000004711",
            "IEA*2*000004711",
            "interchange 000004711: IEA01 says 2 functional groups but the interchange has 1",
        ),
        (
            "IEA*1*000004711",
            "IEA*1*000004712",
            "interchange 000004711: IEA02 control number '000004712' does not match ISA13",
        ),
        ("*000004711*0*P", "*4711*0*P", "ISA13 interchange control number must be 9 digits"),
        ("SE*3*0002~\n", "", "transaction set 0002: GE at segment .* before the SE"),
        ("GE*2*17~\n", "", "functional group 17: unexpected IEA .*expected ST or GE"),
        ("IEA*1*000004711~\n", "", "interchange 000004711: input ends before its IEA segment"),
        ("ST*271*0002*005010X279A1~\n", "ST*271*0002*005010X279A1~\nISA*00~\n", "transaction set 0002: ISA at segment"),
    ],
)
def test_envelope_mismatches_name_the_control_number(old, new, message):
    good = sample_interchange()
    assert old in good
    with pytest.raises(X12Error, match=message):
        read_interchanges(good.replace(old, new))


def test_segment_outside_an_interchange_is_refused():
    segments = read_segments(sample_interchange())
    stray = Segment("GS", ("HB",), position=len(segments) + 1)
    with pytest.raises(X12Error, match=f"segment {len(segments) + 1}: GS outside an ISA/IEA interchange"):
        parse_envelopes([*segments, stray])


def test_envelope_refuses_no_segments():
    with pytest.raises(X12Error, match="no segments"):
        parse_envelopes([])


# --- writer -------------------------------------------------------------------------------------


def test_writer_pads_isa_to_fixed_width_and_counts_everything():
    text = sample_interchange(line_breaks=False)
    lines = text.split("~")
    assert len(lines[0]) + 1 == 106
    assert lines[0].startswith(
        "ISA*00*          *00*          *ZZ*BHH01          *ZZ*VMAPORTAL      *250310*1422*^*00501*000004711*0*P*:"
    )
    assert lines[1] == "GS*HB*BHH01*VMAPORTAL*20250310*1422*17*X*005010X279A1"
    assert "SE*4*0001" in lines
    assert "SE*3*0002" in lines
    assert lines[-3:] == ["GE*2*17", "IEA*1*000004711", ""]
    read_interchanges(text)  # and our own strict reader accepts it


def test_writer_is_deterministic_given_the_time():
    assert sample_interchange() == sample_interchange()
    assert sample_interchange() != sample_interchange(when=datetime(2025, 3, 11, 8, 0))


def test_writer_uses_custom_delimiters():
    text = sample_interchange(delimiters=Delimiters("|", "{", "^", "~"))
    [interchange] = read_interchanges(text)
    assert interchange.delimiters.element == "|"
    assert "GE|2|17~" in text


def test_format_segment_drops_trailing_empty_elements_and_renders_composites():
    assert format_segment(["NM1", "1P", "2", "CLINIC", "", "", "", "", "XX", "1234567893", "", ""]) == (
        "NM1*1P*2*CLINIC*****XX*1234567893"
    )
    assert format_segment(["EQ", Repeats("30", "98")]) == "EQ*30^98"
    assert format_segment(["SV1", Components("HC", "99213", "", ""), "100"]) == "SV1*HC:99213*100"


@pytest.mark.parametrize("bad", ["O*BRIEN", "A~B", "X:Y", "R^S", "line\nbreak"])
def test_writer_refuses_a_separator_inside_data(bad):
    with pytest.raises(X12Error, match="contains separator"):
        format_segment(["NM1", "IL", "1", bad])


def test_writer_refuses_too_long_isa_ids_and_bad_control_numbers():
    with pytest.raises(X12Error, match="longer than 15"):
        sample_interchange(sender_id="X" * 16)
    with pytest.raises(X12Error, match=r"1\.\.999999999"):
        sample_interchange(interchange_control_number=0)
