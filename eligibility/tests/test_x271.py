"""Tests for 271 parsing, the benefits summary and the AAA code instructions."""

from __future__ import annotations

import json
import random
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from eligibility.x12 import codes
from eligibility.x12.reader import X12Error
from eligibility.x12.writer import SegmentSpec, TransactionSet, build_interchange
from eligibility.x12.x271 import parse_271

DATA = Path(__file__).parent / "data"

SOURCE: list[SegmentSpec] = [
    ["BHT", "0022", "11", "REQ1", "20250310", "1422"],
    ["HL", "1", "", "20", "1"],
    ["NM1", "PR", "2", "BLUE HERON HEALTH", "", "", "", "", "PI", "BHH01"],
]
RECEIVER: list[SegmentSpec] = [
    ["HL", "2", "1", "21", "1"],
    ["NM1", "1P", "2", "MAPLE GROVE FAMILY MEDICINE", "", "", "", "", "XX", "1234567893"],
]


def subscriber(
    hl: str, member_id: str, *extra: SegmentSpec, children: str = "0", parent: str = "2"
) -> list[SegmentSpec]:
    return [
        ["HL", hl, parent, "22", children],
        ["TRN", "2", f"TRACE-{hl}", "9VMAPORTAL"],
        ["NM1", "IL", "1", "LARKSPUR", f"PERSON{hl}", "", "", "", "MI", member_id],
        *extra,
    ]


def x271(*bodies: list[SegmentSpec]) -> str:
    """An interchange with one 271 transaction per body."""
    transactions = [TransactionSet("271", f"{i:04d}", "005010X279A1", list(body)) for i, body in enumerate(bodies, 1)]
    return build_interchange(
        transactions,
        sender_id="BHH01",
        receiver_id="VMAPORTAL",
        functional_id="HB",
        interchange_control_number=9,
        group_control_number=9,
        when=datetime(2025, 3, 10, 14, 22),
    )


def eb(
    code: str,
    level: str = "IND",
    service: str = "30",
    period: str = "",
    amount: str = "",
    percent: str = "",
    network: str = "",
) -> SegmentSpec:
    return ["EB", code, level, service, "PR", "", period, amount, percent, "", "", "", network]


# --- the hand-written sample files --------------------------------------------------------------


def test_active_sample_with_family_deductible():
    [r] = parse_271((DATA / "271_active_family.x12").read_bytes())
    assert (r.payer.name, r.payer.id) == ("BLUE HERON HEALTH", "BHH01")
    assert (r.first_name, r.last_name, r.member_id) == ("AVERY", "QUILLFEATHER", "BHX448810217")
    assert r.birth_date == date(1980, 4, 2)
    assert r.status == "active"
    assert (r.plan_begin, r.plan_end) == (date(2025, 1, 1), date(2025, 12, 31))
    assert r.trace_number == "VMA-000123"  # our TRN*2 echo, not the payer's TRN*1
    assert len(r.benefits) == 16
    assert r.benefits[0].service_types == ["30", "1", "33", "35", "47", "86", "88", "98", "AL", "MH", "UC"]
    assert r.benefits[0].insurance_type == "PR"
    assert r.benefits[1].messages == ["PRIMARY CARE OFFICE VISIT"]
    urgent = r.benefits[3]
    assert (urgent.service_types, urgent.amount, urgent.in_network) == (["UC"], Decimal("75"), None)
    assert r.benefits[9].percent == Decimal(".2")
    assert r.rejections == []


def test_active_sample_summary():
    [r] = parse_271((DATA / "271_active_family.x12").read_text())
    s = r.summary()
    assert s.status == "active"
    assert s.office_visit_copay == Decimal("25.00")  # in-network 98, not the 60.00 out-of-network
    assert s.deductible_individual == Decimal("1500.00")  # in-network, not the 3000.00 out-of-network
    assert s.deductible_individual_remaining == Decimal("1125.50")
    assert s.deductible_family == Decimal("3000.00")
    assert s.deductible_family_remaining == Decimal("2210.00")
    assert s.coinsurance_percent == Decimal("20")
    assert s.out_of_pocket_individual == Decimal("6000.00")
    assert s.out_of_pocket_individual_remaining == Decimal("4874.50")
    assert s.out_of_pocket_family == Decimal("12000.00")
    assert s.out_of_pocket_family_remaining == Decimal("10210.00")
    assert s.in_network is True


def test_related_entity_nm1_in_ls_le_is_not_taken_for_the_patient():
    [r] = parse_271((DATA / "271_active_family.x12").read_text())
    assert r.first_name == "AVERY"
    assert r.benefits[-1].code == "L"
    assert r.benefits[-1].name == "Primary Care Provider"


def test_rejected_sample_with_pipe_separators():
    [r] = parse_271((DATA / "271_rejected_member_id.x12").read_text())
    assert r.status == "rejected"
    assert r.payer.name == "CYPRESS MUTUAL INSURANCE"
    assert r.member_id == "CM0000072"
    assert [(x.reason, x.follow_up, x.message, x.loop) for x in r.rejections] == [
        ("72", "C", "Member ID invalid: correct and resubmit", "2100C")
    ]
    assert r.summary().messages == ["Member ID invalid: correct and resubmit"]


def test_dependent_sample_gives_one_response_per_hl_loop():
    sub, dep = parse_271((DATA / "271_dependent.x12").read_text())
    assert (sub.role, sub.first_name, sub.status) == ("subscriber", "DELPHINE", "unknown")
    assert (dep.role, dep.first_name, dep.last_name) == ("dependent", "PIP", "MARCHETTI-VOSS")
    assert dep.member_id == "SFH55120933"  # dependents have no id of their own in 5010
    assert dep.birth_date == date(2016, 8, 30)
    assert dep.status == "active"
    assert (dep.plan_begin, dep.plan_end) == (date(2025, 1, 1), date(2025, 12, 31))  # DTP*291 RD8
    assert dep.trace_number == "VMA-000125"
    summary = dep.summary()
    assert summary.office_visit_copay == Decimal("20.00")
    assert summary.deductible_individual is None
    assert summary.deductible_family_remaining == Decimal("3650.00")
    assert summary.coinsurance_percent == Decimal("10")


def test_source_sample_without_subscriber_loop_gives_one_rejected_response():
    [r] = parse_271((DATA / "271_source_unavailable.x12").read_text())
    assert r.status == "rejected"
    assert r.payer.id == "BHH01"
    assert r.member_id == ""
    assert [(x.reason, x.follow_up, x.loop) for x in r.rejections] == [("42", "R", "2100A")]
    assert r.rejections[0].message == "Payer system unavailable: try again later"


# --- built scenarios ----------------------------------------------------------------------------


def test_aaa_at_information_source_applies_to_every_subscriber():
    body = [
        *SOURCE,
        ["AAA", "Y", "", "42", "R"],
        *RECEIVER,
        *subscriber("3", "M0001"),
        *subscriber("4", "M0002"),
    ]
    responses = parse_271(x271(body))
    assert [r.member_id for r in responses] == ["M0001", "M0002"]
    for r in responses:
        assert r.status == "rejected"
        assert [x.reason for x in r.rejections] == ["42"]


def test_aaa_at_receiver_applies_to_its_subscribers_and_keeps_loop_order():
    body = [
        *SOURCE,
        *RECEIVER,
        ["AAA", "N", "", "43", "C"],
        *subscriber("3", "M0001", ["AAA", "N", "", "58", "C"]),
    ]
    [r] = parse_271(x271(body))
    assert [(x.reason, x.loop) for x in r.rejections] == [("43", "2100B"), ("58", "2100C")]
    assert [x.message for x in r.rejections] == [
        "Provider NPI invalid or missing: correct and resubmit",
        "Date of birth invalid or missing: correct and resubmit",
    ]


@pytest.mark.parametrize(
    ("codes_sent", "aaa", "status"),
    [
        (["1"], False, "active"),
        (["6"], False, "inactive"),
        (["6", "1"], False, "active"),
        (["B"], False, "unknown"),
        ([], False, "unknown"),
        ([], True, "rejected"),
        (["1"], True, "active"),
    ],
)
def test_status_rules(codes_sent, aaa, status):
    extra: list[SegmentSpec] = [["AAA", "N", "", "75", "C"]] if aaa else []
    extra += [eb(code) for code in codes_sent]
    [r] = parse_271(x271([*SOURCE, *RECEIVER, *subscriber("3", "M1", *extra)]))
    assert r.status == status


def test_plan_dates_from_eligibility_dates_and_eb_level_dates():
    dtps: list[SegmentSpec] = [["DTP", "356", "D8", "20250201"], ["DTP", "357", "D8", "20250831"]]
    [r] = parse_271(x271([*SOURCE, *RECEIVER, *subscriber("3", "M1", *dtps, eb("1"))]))
    assert (r.plan_begin, r.plan_end) == (date(2025, 2, 1), date(2025, 8, 31))
    at_eb: list[SegmentSpec] = [eb("6"), ["DTP", "307", "RD8", "20240101-20240630"]]
    [r] = parse_271(x271([*SOURCE, *RECEIVER, *subscriber("3", "M1", *at_eb)]))
    assert (r.plan_begin, r.plan_end) == (date(2024, 1, 1), date(2024, 6, 30))
    assert r.benefits[0].end == date(2024, 6, 30)


def test_copay_falls_back_to_service_type_30_and_network_preference():
    benefits = [
        eb("B", service="30", period="27", amount="40", network="N"),
        eb("B", service="30", period="27", amount="30", network="Y"),
    ]
    [r] = parse_271(x271([*SOURCE, *RECEIVER, *subscriber("3", "M1", eb("1"), *benefits)]))
    assert r.summary().office_visit_copay == Decimal("30")
    assert r.summary().in_network is True


def test_percent_sent_as_whole_number_is_read_as_percent():
    [r] = parse_271(x271([*SOURCE, *RECEIVER, *subscriber("3", "M1", eb("1"), eb("A", percent="20"))]))
    assert r.summary().coinsurance_percent == Decimal("20")
    assert r.benefits[1].percent == Decimal("20")


def test_responses_across_transactions_and_interchanges():
    one = x271(
        [*SOURCE, *RECEIVER, *subscriber("3", "M1", eb("1"))], [*SOURCE, *RECEIVER, *subscriber("3", "M2", eb("6"))]
    )
    two = (DATA / "271_rejected_member_id.x12").read_text()
    responses = parse_271(one + two)
    assert [(r.member_id, r.status, r.transaction_control_number) for r in responses] == [
        ("M1", "active", "0001"),
        ("M2", "inactive", "0002"),
        ("CM0000072", "rejected", "0001"),
    ]


def test_as_dict_is_json_ready():
    [r] = parse_271((DATA / "271_active_family.x12").read_text())
    data = json.loads(json.dumps(r.as_dict()))
    assert data["birth_date"] == "1980-04-02"
    assert data["benefits"][1]["amount"] == "25.00"
    assert data["benefits"][9]["percent"] == "0.2"


# --- malformed input ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ([*SOURCE, *RECEIVER, *subscriber("3", "M1", eb("B", amount="12.x"))], "EB07 '12.x' is not a number"),
        ([*SOURCE, *RECEIVER, *subscriber("3", "M1", ["DMG", "D8", "19801340"])], "birth date '19801340'"),
        ([*SOURCE, *RECEIVER, *subscriber("3", "M1", ["DTP", "346", "D8", "2025"])], "'2025' is not a CCYYMMDD date"),
        ([*SOURCE, *RECEIVER, *subscriber("3", "M1", parent="7")], "HL02 parent '7' is not an earlier HL"),
        ([*SOURCE, *RECEIVER, ["HL", "3", "2", "99", "0"]], "HL03 level '99'"),
        ([*SOURCE, *RECEIVER], "no subscriber loop and no AAA rejection"),
        ([*SOURCE, *RECEIVER, *subscriber("3", "M1", eb("L"), ["LS", "2120"])], "LS without a closing LE"),
        ([*SOURCE, *RECEIVER, ["HL", "3", "2", "22", "0"], eb("1")], "subscriber loop has no NM1 name"),
        ([["BHT", "0022", "11"]], "has no HL segments"),
    ],
)
def test_malformed_271_raises_clear_x12error(body, message):
    with pytest.raises(X12Error, match=message):
        parse_271(x271(body))


def test_a_270_is_not_a_271():
    text = x271([*SOURCE]).replace("ST*271", "ST*270")
    with pytest.raises(X12Error, match=r"no 271 transaction in the input \(found: 270\)"):
        parse_271(text)


def test_damaged_files_only_ever_raise_x12error():
    # Random damage to real samples: every failure must be an X12Error, never IndexError & co.
    rng = random.Random(271)
    samples = [p.read_text() for p in sorted(DATA.glob("*.x12"))]
    failures = 0
    for _ in range(400):
        text = rng.choice(samples)
        cut = rng.randrange(len(text))
        damage = rng.choice(["truncate", "delete", "insert", "swap"])
        if damage == "truncate":
            text = text[:cut]
        elif damage == "delete":
            text = text[:cut] + text[cut + rng.randrange(1, 30) :]
        elif damage == "insert":
            text = text[:cut] + rng.choice(["*", "~", "^", ":", "|", "\n", "X", "HL*9*8*23*0~"]) + text[cut:]
        else:
            text = text[:cut] + text[cut + 1 : cut + 2] + text[cut : cut + 1] + text[cut + 2 :]
        try:
            parse_271(text)
        except X12Error as exc:
            assert str(exc)
            failures += 1
    assert failures > 100  # the damage really did break most files


# --- codes --------------------------------------------------------------------------------------

REQUIRED_REASONS = [
    "04",
    "15",
    "41",
    "42",
    "43",
    "44",
    "45",
    "47",
    "48",
    "49",
    "51",
    "52",
    "56",
    "57",
    "58",
    "60",
    "61",
    "62",
    "63",
    "64",
    "65",
    "66",
    "67",
    "68",
    "69",
    "70",
    "71",
    "72",
    "73",
    "74",
    "75",
    "76",
    "77",
    "78",
    "79",
    "80",
    "97",
    "AA",
    "AE",
    "AF",
    "AG",
    "AO",
    "CI",
    "E8",
    "IA",
    "MA",
    "T4",
]


@pytest.mark.parametrize("reason", REQUIRED_REASONS)
def test_every_required_reason_has_a_plain_instruction(reason):
    text = codes.instruction(reason, "C")
    assert text.endswith(": correct and resubmit")
    assert "reason code" not in text  # i.e. not the unknown-code fallback


@pytest.mark.parametrize("follow_up", ["C", "N", "R", "S", "W", "X", "Y"])
def test_every_follow_up_code_has_a_meaning_and_action(follow_up):
    assert follow_up in codes.FOLLOW_UPS
    assert not codes.instruction("72", follow_up).endswith("check with the payer")


def test_instruction_examples_and_fallbacks():
    assert codes.instruction("72", "C") == "Member ID invalid: correct and resubmit"
    assert codes.instruction("42", "R") == "Payer system unavailable: try again later"
    assert codes.instruction("75", "N") == "Subscriber not found: do not resubmit; call the payer"
    assert codes.instruction("ZZ", "") == "Payer rejected the request (reason code ZZ): check with the payer"


def test_code_tables_cover_the_brief():
    for code in ("1", "30", "33", "35", "47", "48", "50", "86", "88", "98", "A7", "AL", "BZ", "MH", "UC"):
        assert code in codes.SERVICE_TYPES
    for period in ("6", "7", "13", "21", "22", "23", "24", "25", "26", "27", "28", "29", "32", "33", "34", "35", "36"):
        assert period in codes.TIME_PERIODS
    assert codes.EB_CODES["G"] == "Out of Pocket (Stop Loss)"
