"""Tests for 835 remittance parsing, its balancing warnings, the CARC/RARC lookups and pyx12 validation."""

from __future__ import annotations

import random
from collections.abc import Sequence
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from billing import carc
from billing.x12.x835 import CLAIM_STATUS, Adjustment, Remittance, parse_835, validate_with_pyx12
from eligibility.x12.reader import X12Error
from eligibility.x12.writer import Components, SegmentSpec, TransactionSet, build_interchange

DATA = Path(__file__).parent / "data"
SAMPLES = sorted(DATA.glob("*.x12"))


def read(name: str) -> str:
    return (DATA / name).read_text()


def only(name: str) -> Remittance:
    [remittance] = parse_835(read(name))
    return remittance


def bpr(amount: str, method: str = "CHK", paid_on: str = "20250322") -> SegmentSpec:
    return ["BPR", "I", amount, "C", method, *([""] * 11), paid_on]


def x835(
    *body: SegmentSpec,
    payment: SegmentSpec | None = None,
    header: Sequence[SegmentSpec] | None = None,
    implementation: str = "005010X221A1",
) -> str:
    """One 835 transaction: BPR, TRN, payer and payee loops, then `body` (LX, CLP, ..., PLB)."""
    if header is None:
        header = [
            payment or bpr("0"),
            ["TRN", "1", "CHK7700", "1512345678"],
            ["N1", "PR", "SUNFIELD HEALTH", "XV", "SFH55"],
            ["N1", "PE", "MAPLE GROVE FAMILY MEDICINE", "XX", "1234567893"],
        ]
    return build_interchange(
        [TransactionSet("835", "0001", implementation, [*header, *body])],
        sender_id="SFH55",
        receiver_id="MAPLEGROVE",
        functional_id="HP",
        interchange_control_number=41,
        group_control_number=41,
        when=datetime(2025, 3, 22, 9, 0),
    )


def clp(pcn: str, status: str, charge: str, paid: str, patient: str = "") -> SegmentSpec:
    return ["CLP", pcn, status, charge, paid, patient, "12", f"PAYER-{pcn}", "11", "1"]


def svc(code: str, charge: str, paid: str) -> SegmentSpec:
    return ["SVC", Components("HC", code), charge, paid, "", "1"]


# ---------------------------------------------------------------------------------------------
# The sample files


def test_full_payment_reads_payer_payee_payment_and_lines():
    r = only("835_full_payment.x12")
    assert (r.payer.name, r.payer.id) == ("BLUE HERON HEALTH", "BHH01")  # id from REF*2U
    assert (r.payee.name, r.payee.npi, r.payee.tax_id) == ("MAPLE GROVE FAMILY MEDICINE", "1234567893", "371234567")
    assert r.payment.amount == Decimal("150.00")
    assert (r.payment.method, r.payment.trace_number, r.payment.date) == ("ACH", "EFT20250321001", date(2025, 3, 21))
    assert r.production_date == date(2025, 3, 20)
    [claim] = r.claims
    assert (claim.patient_control_number, claim.status_code, claim.status) == ("PCN1001", "1", "processed as primary")
    assert (claim.charge, claim.paid, claim.patient_responsibility) == (Decimal("150.00"), Decimal("150.00"), None)
    assert claim.payer_claim_number == "BHH250320001"
    assert (claim.patient_last_name, claim.patient_first_name, claim.member_id) == (
        "LARKSPUR",
        "AVERY",
        "BHX448810217",
    )
    assert (claim.service_start, claim.service_end) == (date(2025, 3, 3), date(2025, 3, 3))
    assert [(line.qualifier, line.procedure, line.paid, line.control_number) for line in claim.lines] == [
        ("HC", "99213", Decimal("100.00"), "1"),
        ("HC", "36415", Decimal("50.00"), "2"),
    ]
    assert claim.lines[0].service_date == date(2025, 3, 3)
    assert claim.adjustments == [] and claim.lines[0].adjustments == []
    assert r.warnings == []


def test_partial_payment_splits_contractual_and_patient_responsibility():
    r = only("835_partial_payment.x12")
    assert (r.payer.name, r.payer.id) == ("SUNFIELD HEALTH", "SFH55")  # id from N104
    assert (r.payment.method, r.payment.trace_number, r.payment.amount) == ("CHK", "CHK100234", Decimal("196.00"))
    first, second = r.claims
    office_visit, ecg = first.lines
    # One CAS segment with two triplets gives two adjustments under the same group.
    assert office_visit.adjustments == [
        Adjustment("CO", "45", Decimal("40.00")),
        Adjustment("PR", "1", Decimal("50.00")),
        Adjustment("PR", "2", Decimal("14.00")),
    ]
    assert ecg.adjustments == [Adjustment("CO", "45", Decimal("15.00"))]
    patient_share = sum(a.amount for a in first.all_adjustments() if a.group == "PR")
    assert patient_share == first.patient_responsibility == Decimal("64.00")
    # The copay sits at claim level, so the line pays more than the claim does.
    assert second.adjustments == [Adjustment("PR", "3", Decimal("25.00"))]
    assert (second.lines[0].paid, second.paid) == (Decimal("90.00"), Decimal("65.00"))
    assert second.lines[0].remarks == ["N130"]
    assert r.warnings == []


def test_denials_carry_their_reason_and_remark_codes():
    r = only("835_denial.x12")
    assert (r.payment.method, r.payment.amount, r.payment.handling) == ("NON", Decimal("0"), "H")
    no_auth, missing_info = r.claims
    assert no_auth.is_denied and no_auth.status == "denied"
    assert no_auth.lines[0].adjustments == [Adjustment("CO", "197", Decimal("180.00"))]
    assert no_auth.lines[0].remarks == ["N130"]
    assert missing_info.lines == []
    assert missing_info.adjustments == [Adjustment("CO", "16", Decimal("95.00"))]
    assert missing_info.remarks == ["MA04"]  # MOA03, a claim-level remark
    assert str(missing_info.adjustments[0].describe(on=r.payment.date)).startswith("Claim/service lacks information")
    assert r.warnings == []


def test_reversal_and_readjudication_of_the_same_claim_net_to_the_difference():
    r = only("835_reversal_plb.x12")
    reversal, corrected, other = r.claims
    assert reversal.patient_control_number == corrected.patient_control_number == "PCN4001"
    assert reversal.is_reversal and reversal.status == "reversal of previous payment"
    assert (reversal.charge, reversal.paid) == (Decimal("-120.00"), Decimal("-80.00"))
    assert reversal.lines[0].adjustments == [Adjustment("CO", "45", Decimal("-40.00"))]
    assert reversal.payer_claim_number != corrected.payer_claim_number
    assert not corrected.is_reversal
    assert reversal.paid + corrected.paid == Decimal("15.00")
    assert (other.lines[0].procedure, other.lines[0].modifiers) == ("97110", ["GP", "59"])
    assert (other.lines[0].service_start, other.lines[0].service_end) == (date(2025, 3, 10), date(2025, 3, 12))
    assert (corrected.lines[0].procedure, corrected.lines[0].modifiers) == ("99213", ["25"])


def test_provider_level_adjustments_are_read_and_balance_the_payment():
    r = only("835_reversal_plb.x12")
    assert [(p.reason, p.reference, p.amount) for p in r.provider_adjustments] == [
        ("WO", "OVP-PCN3999", Decimal("25.00")),
        ("L6", "INT0402", Decimal("-1.50")),
    ]
    assert r.provider_adjustments[0].provider_id == "1234567893"
    assert r.provider_adjustments[0].fiscal_period_end == date(2025, 12, 31)
    # BPR02 39.50 = claims paid (-80 + 95 + 48) - PLB (25.00 - 1.50).
    assert sum(c.paid for c in r.claims) - sum(p.amount for p in r.provider_adjustments) == r.payment.amount
    assert r.warnings == []


def test_other_separators_and_several_transactions_read_like_the_usual_ones():
    text = read("835_pipe_separators.x12")
    usual = text.replace("|", "*").replace(">", ":").replace("\n", "~\n")
    assert "|" in text and "~" not in text
    piped, star = parse_835(text), parse_835(usual)
    assert [r.as_dict() for r in piped] == [r.as_dict() for r in star]
    first, second = piped
    assert (first.payment.method, first.transaction_control_number) == ("FWT", "0501")
    [forwarded] = first.claims
    assert forwarded.status == "processed as primary, forwarded to additional payer(s)"
    assert (forwarded.lines[0].procedure, forwarded.lines[0].submitted_procedure) == ("99213", "99214")
    assert second.claims[0].status == "processed as secondary"
    assert second.claims[0].adjustments == [
        Adjustment("OA", "23", Decimal("70.00")),
        Adjustment("PR", "2", Decimal("10.00")),
    ]
    assert first.warnings == second.warnings == []


def test_byte_order_mark_crlf_and_bytes_input_are_tolerated():
    text = read("835_full_payment.x12")
    messy = ("\ufeff" + text.replace("~\n", "~\r\n")).encode()
    assert [r.as_dict() for r in parse_835(messy)] == [r.as_dict() for r in parse_835(text)]


@pytest.mark.parametrize(
    ("code", "meaning"),
    [
        ("1", "processed as primary"),
        ("2", "processed as secondary"),
        ("3", "processed as tertiary"),
        ("4", "denied"),
        ("19", "processed as primary, forwarded to additional payer(s)"),
        ("20", "processed as secondary, forwarded to additional payer(s)"),
        ("21", "processed as tertiary, forwarded to additional payer(s)"),
        ("22", "reversal of previous payment"),
        ("23", "not our claim, forwarded to additional payer(s)"),
    ],
)
def test_claim_status_meanings(code, meaning):
    [r] = parse_835(x835(["LX", "1"], clp("PCN1", code, "10", "0"), ["CAS", "OA", "23", "10"]))
    assert r.claims[0].status == meaning
    assert CLAIM_STATUS[code] == meaning


# ---------------------------------------------------------------------------------------------
# Balancing: reported as warnings, never fatal


def test_claim_that_does_not_balance_is_reported_and_the_rest_still_reads():
    text = x835(
        ["LX", "1"],
        clp("PCN-OFF", "1", "100.00", "70.00"),
        svc("99213", "100.00", "70.00"),
        ["CAS", "CO", "45", "25.00"],
        clp("PCN-OK", "1", "50.00", "50.00"),
        payment=bpr("120.00"),
    )
    [r] = parse_835(text)
    off, ok = r.claims
    assert off.warnings == [
        "claim PCN-OFF (payer claim PAYER-PCN-OFF), line 1 (99213): "
        "charge 100.00 - paid 70.00 - adjustments 25.00 = 5.00, should be 0",
        "claim PCN-OFF (payer claim PAYER-PCN-OFF): charge 100.00 - paid 70.00 - adjustments 25.00 = 5.00, should be 0",
    ]
    assert ok.warnings == []
    assert r.warnings == off.warnings
    assert ok.paid == Decimal("50.00")


def test_claim_level_and_line_level_adjustments_both_count_toward_the_claim():
    text = x835(
        ["LX", "1"],
        clp("PCN1", "1", "100.00", "60.00", "20.00"),
        ["CAS", "PR", "3", "20.00"],
        svc("99213", "100.00", "80.00"),
        ["CAS", "CO", "45", "20.00"],
        payment=bpr("60.00"),
    )
    [r] = parse_835(text)
    assert r.warnings == []
    unbalanced = text.replace("CAS*PR*3*20.00", "CAS*PR*3*15.00")
    [r] = parse_835(unbalanced)
    assert r.warnings == [
        "claim PCN1 (payer claim PAYER-PCN1): charge 100.00 - paid 60.00 - adjustments 35.00 = 5.00, should be 0"
    ]


def test_claim_without_lines_is_balanced_on_its_own_adjustments():
    [r] = parse_835(x835(["LX", "1"], clp("PCN9", "4", "80.00", "0"), ["CAS", "CO", "29", "70.00"]))
    assert r.warnings == [
        "claim PCN9 (payer claim PAYER-PCN9): charge 80.00 - paid 0 - adjustments 70.00 = 10.00, should be 0"
    ]


def test_payment_that_does_not_match_claims_and_provider_adjustments_is_reported():
    text = x835(
        ["LX", "1"],
        clp("PCN1", "1", "100.00", "100.00"),
        ["PLB", "1234567893", "20251231", Components("WO", "OLD-CLAIM"), "30.00"],
        payment=bpr("100.00"),
    )
    [r] = parse_835(text)
    assert r.warnings == ["BPR02 payment 100.00 does not equal claims paid 100.00 - provider adjustments 30.00 = 70.00"]
    [r] = parse_835(text.replace("BPR*I*100.00", "BPR*I*70.00"))
    assert r.warnings == []


def test_unknown_payment_method_status_and_group_are_warnings_not_errors():
    text = x835(
        ["LX", "1"],
        clp("PCN1", "99", "10.00", "0"),
        ["CAS", "ZZ", "45", "10.00"],
        payment=bpr("0", method="XYZ"),
    )
    [r] = parse_835(text)
    assert r.payment.method == "XYZ"
    assert r.claims[0].status == "unknown status 99"
    assert len(r.warnings) == 3
    assert "BPR04 payment method 'XYZ'" in r.warnings[0]
    assert "CLP02 status code '99'" in r.warnings[1]
    assert "CAS group code 'ZZ'" in r.warnings[2]


def test_a_cas_segment_holds_up_to_six_triplets():
    triplets = [value for n in range(1, 7) for value in (str(n), f"{n}.00", "")]
    [r] = parse_835(x835(["LX", "1"], clp("PCN1", "1", "21.00", "0"), ["CAS", "PR", *triplets]))
    assert [(a.reason, a.amount) for a in r.claims[0].adjustments] == [
        (str(n), Decimal(f"{n}.00")) for n in range(1, 7)
    ]
    assert r.warnings == []
    with pytest.raises(X12Error, match="at most 19"):
        parse_835(x835(["LX", "1"], clp("PCN1", "1", "28.00", "0"), ["CAS", "PR", *triplets, "7", "7.00"]))


def test_adjustment_quantity_is_kept():
    [r] = parse_835(x835(["LX", "1"], clp("PCN1", "1", "10.00", "0"), ["CAS", "CO", "151", "10.00", "2"]))
    assert r.claims[0].adjustments == [Adjustment("CO", "151", Decimal("10.00"), Decimal("2"))]


# ---------------------------------------------------------------------------------------------
# Malformed input: always X12Error with a message that says where


@pytest.mark.parametrize(
    ("name", "change", "message"),
    [
        ("wrong SE count", ("SE*25*0001", "SE*24*0001"), "SE01 says 24 segments but ST..SE has 25"),
        ("missing BPR", ("BPR*I*150.00", "REF*EV"), "has no BPR (financial information) segment"),
        ("non-numeric BPR amount", ("BPR*I*150.00", "BPR*I*15O.00"), "BPR02 '15O.00' is not a number"),
        ("non-numeric CLP amount", ("*150.00*150.00**12*", "*150.00*ONE FIFTY**12*"), "CLP04 'ONE FIFTY'"),
        ("exponent amount", ("SVC*HC:99213*100.00", "SVC*HC:99213*1E2"), "SVC02 '1E2' is not a number"),
        ("NaN amount", ("SVC*HC:36415*50.00*50.00", "SVC*HC:36415*50.00*NaN"), "SVC03 'NaN' is not a number"),
        ("missing CLP amount", ("*150.00*150.00**12*", "*150.00***12*"), "CLP04 amount is missing"),
        ("impossible date", ("*DA*9876543210*20250321", "*DA*9876543210*20250231"), "BPR16 '20250231'"),
        ("missing TRN", ("TRN*1*EFT20250321001*1512345678", "DTM*405*20250320"), "has no TRN"),
        ("missing payer", ("N1*PR*BLUE HERON HEALTH", "N1*ZZ*BLUE HERON HEALTH"), "no N1*PR payer"),
        ("missing payee", ("N1*PE*MAPLE GROVE", "N1*ZZ*MAPLE GROVE"), "no N1*PE payee"),
        ("SVC without code", ("SVC*HC:99213*", "SVC*HC*"), "SVC01 'HC' should be qualifier:procedure code"),
        ("CAS without amount", ("REF*6R*1~", "CAS*CO*45~"), "CAS03 amount is missing"),
        ("not an 835", ("ST*835*0001", "ST*271*0001"), "is a 271 (ST01), not an 835"),
        ("ISA13 mangled", ("*000000835*0*T*", "*00000083X*0*T*"), "ISA13"),
    ],
)
def test_malformed_file_raises_x12error(name, change, message):
    old, new = change
    text = read("835_full_payment.x12")
    assert old in text, name
    with pytest.raises(X12Error) as caught:
        parse_835(text.replace(old, new, 1))
    assert message in str(caught.value)


def test_truncated_isa_raises_x12error():
    with pytest.raises(X12Error, match="ISA segment is truncated"):
        parse_835(read("835_full_payment.x12")[:60])


def test_bpr_must_open_the_transaction():
    text = read("835_full_payment.x12")
    bpr_line = next(line for line in text.splitlines() if line.startswith("BPR"))
    moved = text.replace(bpr_line + "\n", "").replace("DTM*405*20250320~", f"DTM*405*20250320~\n{bpr_line}")
    with pytest.raises(X12Error, match="BPR must be the first segment after ST"):
        parse_835(moved)


def test_segments_out_of_place_raise_x12error():
    with pytest.raises(X12Error, match="CAS outside a claim"):
        parse_835(x835(["LX", "1"], ["CAS", "CO", "45", "1.00"]))
    with pytest.raises(X12Error, match="LQ outside a service line"):
        parse_835(x835(["LX", "1"], clp("PCN1", "1", "1", "1"), ["LQ", "HE", "N130"]))
    with pytest.raises(X12Error, match="CLP after PLB"):
        parse_835(x835(["PLB", "1234567893", "20251231", "WO", "1.00"], clp("PCN1", "1", "1", "1")))


def test_every_truncation_and_random_damage_gives_x12error_or_a_result():
    # The promise to callers: whatever the bytes, either Remittances or X12Error — never an
    # IndexError, KeyError or decimal.InvalidOperation escaping from the reader.
    text = read("835_reversal_plb.x12")
    rng = random.Random(835)
    damaged = [text[:cut] for cut in range(0, len(text), 11)]
    for _ in range(150):
        chars = list(text)
        for _ in range(3):
            chars[rng.randrange(len(chars))] = rng.choice("*~:^0123456789.-ABC \n")
        damaged.append("".join(chars))
    outcomes = {"parsed": 0, "rejected": 0}
    for variant in damaged:
        try:
            parse_835(variant)
            outcomes["parsed"] += 1
        except X12Error:
            outcomes["rejected"] += 1
    assert outcomes["rejected"] > 0 and outcomes["parsed"] > 0


def test_a_4010_remittance_reads_with_a_warning():
    [r] = parse_835(
        x835(["LX", "1"], clp("PCN1", "1", "10.00", "10.00"), payment=bpr("10.00"), implementation="004010X091A1")
    )
    assert r.claims[0].paid == Decimal("10.00")
    assert r.warnings == [
        "implementation guide '004010X091A1' (ST03/GS08) is not 005010X221A1; read with the 5010 rules"
    ]


def test_input_without_any_835_is_rejected():
    with pytest.raises(X12Error, match="input is empty"):
        parse_835(b"")
    isa = read("835_full_payment.x12").splitlines()[0]
    with pytest.raises(X12Error, match="input holds no 835 transaction set"):
        parse_835(f"{isa}\nIEA*0*000000835~")
    with pytest.raises(X12Error, match="does not start with an ISA"):
        parse_835("Dear payer, please call us.")


# ---------------------------------------------------------------------------------------------
# CARC and RARC lookups


@pytest.mark.parametrize("code", ["1", "2", "3", "4", "16", "18", "22", "23", "27", "29", "45", "50", "96", "97"])
def test_common_carcs_are_described(code):
    described = carc.describe_carc(code, on=date(2025, 3, 1))
    assert described.known and not described.retired
    assert described.start == date(1995, 1, 1)
    assert str(described) == carc.CARCS[code].description


def test_newer_carcs_have_their_own_start_dates():
    assert carc.describe_carc("109").start == date(1995, 1, 1)
    assert carc.describe_carc("197").start == date(2006, 10, 31)
    assert carc.describe_carc("253").text == "Sequestration - reduction in federal payment"
    assert carc.describe_carc("253").start == date(2013, 6, 2)


def test_a_retired_carc_is_still_described_but_flagged():
    before, on_stop_date, after = (
        carc.describe_carc("42", on=date(2006, 5, 1)),
        carc.describe_carc("42", on=date(2007, 6, 1)),
        carc.describe_carc("42", on=date(2025, 3, 1)),
    )
    assert not before.retired and not on_stop_date.retired  # usable through its stop date
    assert after.retired and after.known
    assert after.end == date(2007, 6, 1)
    assert str(after) == "Charges exceed our fee schedule or maximum allowable amount (retired 2007-06-01; use 45)"
    assert carc.describe_carc("38").retired  # no date given: a code with an end date counts as retired


def test_unknown_codes_say_so():
    described = carc.describe_carc("9999")
    assert (described.known, described.retired, str(described)) == (False, False, "unknown CARC 9999")
    assert str(carc.describe_rarc("ZZ1")) == "unknown RARC ZZ1"


@pytest.mark.parametrize(
    ("code", "start"),
    [("M15", date(1997, 1, 1)), ("MA04", date(1997, 1, 1)), ("N130", date(2002, 10, 31)), ("N362", date(2005, 11, 18))],
)
def test_rarcs_are_described(code, start):
    described = carc.describe_rarc(code.lower(), on=date(2025, 3, 1))
    assert described.known and not described.retired
    assert (described.code, described.start) == (code, start)


def test_a_retired_rarc_is_flagged_after_its_end_date():
    assert carc.describe_rarc("N365", on=date(2014, 7, 2)).retired
    assert not carc.describe_rarc("N365", on=date(2014, 6, 30)).retired


def test_adjustment_describes_its_group_and_reason():
    adjustment = Adjustment("PR", "1", Decimal("50.00"))
    assert adjustment.group_meaning == "Patient responsibility"
    assert adjustment.describe(on=date(2025, 3, 22)).text == "Deductible amount"


# ---------------------------------------------------------------------------------------------
# pyx12 validation (005010X221A1 map)


@pytest.mark.parametrize("path", SAMPLES, ids=lambda p: p.name)
def test_sample_files_pass_pyx12(path):
    assert validate_with_pyx12(path.read_bytes()) == []


def test_pyx12_reports_what_our_tolerant_reader_lets_through():
    text = read("835_full_payment.x12").replace("*ACH*CCP*", "*XYZ*CCP*").replace("ST*835*0001", "ST*835*0001*X")
    [r] = parse_835(text)  # we read it, with warnings
    assert [w.split(" is not ")[0] for w in r.warnings] == [
        "implementation guide 'X' (ST03/GS08)",
        "BPR04 payment method 'XYZ'",
    ]
    errors = validate_with_pyx12(text)
    assert any("Payment Method Code (BPR04)" in e for e in errors)
    assert any("(ST03) is marked as Not Used" in e for e in errors)
