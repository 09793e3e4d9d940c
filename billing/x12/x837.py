"""837P professional claim (005010X222A1): built with the project's X12 writer, checked with pyx12."""

from __future__ import annotations

import io
import logging
from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING

from django.conf import settings

from eligibility.x12.reader import X12Error
from eligibility.x12.writer import Components, SegmentSpec, TransactionSet, build_interchange
from eligibility.x12.x270 import clean_name

from .x835 import _PYX12_LOCK, _Collect

if TYPE_CHECKING:
    from billing.models import Claim

IMPLEMENTATION = "005010X222A1"
FUNCTIONAL_ID = "HC"  # GS01 for an 837


def _d8(value: date) -> str:
    return value.strftime("%Y%m%d")


def amount(value: Decimal) -> str:
    """X12 R type: no needless zeros ("125", "80.5")."""
    text = f"{value.quantize(Decimal('0.01')):f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def _setting(name: str, default: str) -> str:
    return str(getattr(settings, name, "") or default)


def _zip(raw: str) -> str:
    return "".join(ch for ch in raw if ch.isdigit())


def interchange_control_number(claim: Claim) -> int:
    """Unique per claim and submission: the claim's id and a submission digit (ISA13, 9 digits)."""
    previous = claim.interchange_control_number or 0
    attempt = (previous % 10 + 1) % 10 if previous else 1
    return ((claim.pk % 99_999_999) * 10 + attempt) or 1


def build_837_body(claim: Claim, *, when: datetime) -> list[SegmentSpec]:
    """The 837P segments between ST and SE for one claim (one billing provider, one subscriber)."""
    patient = claim.patient
    coverage = claim.coverage
    payer = claim.payer
    provider = claim.rendering_provider
    from billing.scrubber import profile_for

    profile = profile_for(payer)
    is_subscriber = coverage.subscriber_relation == "18"
    submitter_id = _setting("BILLING_SUBMITTER_ID", claim.billing_npi or "VMAPORTAL")
    body: list[SegmentSpec] = [
        ["BHT", "0019", "00", claim.patient_control_number, _d8(when.date()), when.strftime("%H%M"), "CH"],
        # 1000A submitter, 1000B receiver
        ["NM1", "41", "2", clean_name(claim.billing_name, 60), "", "", "", "", "46", submitter_id],
        [
            "PER",
            "IC",
            clean_name(_setting("BILLING_CONTACT_NAME", "BILLING OFFICE"), 60),
            "TE",
            _zip(_setting("PRACTICE_PHONE", "5555550100")),
        ],
        [
            "NM1",
            "40",
            "2",
            clean_name(_setting("BILLING_RECEIVER_NAME", "CLEARINGHOUSE"), 60),
            "",
            "",
            "",
            "",
            "46",
            _setting("BILLING_RECEIVER_ID", "CLEARINGHOUSE"),
        ],
        # 2000A billing provider
        ["HL", "1", "", "20", "1"],
        ["NM1", "85", "2", clean_name(claim.billing_name, 60), "", "", "", "", "XX", claim.billing_npi],
        ["N3", clean_name(_setting("PRACTICE_ADDRESS_LINE", "100 MAIN STREET"), 55)],
        [
            "N4",
            clean_name(_setting("PRACTICE_CITY", "SPRINGFIELD"), 30),
            _setting("PRACTICE_STATE", "IL").upper(),
            _zip(_setting("PRACTICE_POSTAL_CODE", "627010001")),
        ],
        ["REF", "EI", claim.billing_tax_id],
        # 2000B subscriber
        ["HL", "2", "1", "22", "0" if is_subscriber else "1"],
        [
            "SBR",
            "P",
            "18" if is_subscriber else "",
            coverage.group_number.strip()[:50],
            "",
            "",
            "",
            "",
            "",
            profile.claim_filing_indicator or "CI",
        ],
    ]
    sub_last = coverage.subscriber_last_name or patient.last_name
    sub_first = coverage.subscriber_first_name or patient.first_name
    body.append(
        [
            "NM1",
            "IL",
            "1",
            clean_name(sub_last, 60),
            clean_name(sub_first, 35),
            "",
            "",
            "",
            "MI",
            coverage.member_id.strip(),
        ]
    )
    address = [
        ["N3", clean_name(patient.address_line, 55)],
        ["N4", clean_name(patient.city, 30), patient.state.upper(), _zip(patient.postal_code)],
    ]
    if is_subscriber:
        body += address
        body.append(["DMG", "D8", _d8(patient.date_of_birth), patient.sex or "U"])
    body.append(["NM1", "PR", "2", clean_name(payer.name, 60), "", "", "", "", "PI", payer.payer_id])
    if not is_subscriber:
        body += [
            ["HL", "3", "2", "23", "0"],
            ["PAT", coverage.subscriber_relation],
            ["NM1", "QC", "1", clean_name(patient.last_name, 60), clean_name(patient.first_name, 35)],
            *address,
            ["DMG", "D8", _d8(patient.date_of_birth), patient.sex or "U"],
        ]
    # 2300 claim
    lines = list(claim.lines.order_by("line_number"))
    diagnoses = list(claim.diagnoses.order_by("position"))
    body.append(
        [
            "CLM",
            claim.patient_control_number,
            amount(sum((ln.charge for ln in lines), Decimal(0))),
            "",
            "",
            Components(claim.place_of_service, "B", claim.frequency_code),
            "Y",
            "A",
            "Y",
            "Y",
        ]
    )
    if claim.referral_number:
        body.append(["REF", "9F", claim.referral_number.strip()])
    if claim.prior_authorization_number:
        body.append(["REF", "G1", claim.prior_authorization_number.strip()])
    if claim.frequency_code != "1" and claim.original_payer_claim_number:
        body.append(["REF", "F8", claim.original_payer_claim_number.strip()])
    if diagnoses:
        body.append(
            ["HI"] + [Components("ABK" if i == 0 else "ABF", d.code.replace(".", "")) for i, d in enumerate(diagnoses)]
        )
    # 2310B rendering provider: a person, not the practice
    body.append(
        [
            "NM1",
            "82",
            "1",
            clean_name(provider.last_name, 60),
            clean_name(provider.first_name, 35),
            "",
            "",
            "",
            "XX",
            provider.npi,
        ]
    )
    # 2400 service lines
    for ln in lines:
        body += [
            ["LX", str(ln.line_number)],
            [
                "SV1",
                Components("HC", ln.procedure_code, *ln.modifiers),
                amount(ln.charge),
                "UN",
                str(ln.units),
                "",
                "",
                Components(*[str(p) for p in ln.diagnosis_pointers]),
            ],
            ["DTP", "472", "D8", _d8(ln.service_date)],
        ]
    return body


def build_837(
    claim: Claim,
    *,
    interchange_control_number: int,
    when: datetime,
    usage: str | None = None,
    line_breaks: bool = False,
) -> str:
    """The 837P interchange for one claim. Raises X12Error when a value cannot be written."""
    body = build_837_body(claim, when=when)
    sender = _setting("BILLING_SUBMITTER_ID", claim.billing_npi or "VMAPORTAL")[:15]
    receiver = _setting("BILLING_RECEIVER_ID", "CLEARINGHOUSE")[:15]
    transaction = TransactionSet(set_id="837", control_number="0001", implementation=IMPLEMENTATION, body=body)
    return build_interchange(
        [transaction],
        sender_id=sender,
        receiver_id=receiver,
        functional_id=FUNCTIONAL_ID,
        interchange_control_number=interchange_control_number,
        group_control_number=interchange_control_number,
        when=when,
        usage=usage or _setting("BILLING_X12_USAGE", "T" if getattr(settings, "DEBUG", False) else "P"),
        line_breaks=line_breaks,
    )


def validate_with_pyx12(text: str) -> list[str]:
    """Check an 837P against pyx12's 005010X222A1 map; its error messages, [] when valid."""
    import pyx12.errors
    import pyx12.params
    import pyx12.x12n_document

    if not text:
        return ["The 837 is empty."]
    logger = logging.getLogger("pyx12")
    handler = _Collect()
    with _PYX12_LOCK:
        propagate, level = logger.propagate, logger.level
        logger.addHandler(handler)
        logger.propagate = False
        logger.setLevel(logging.ERROR)
        try:
            valid = pyx12.x12n_document.x12n_document(pyx12.params.ParamsBase(), io.StringIO(text), None, None)
        except pyx12.errors.EngineError as exc:
            handler.messages.append(f"pyx12 cannot validate this file: {exc}")
            valid = False
        finally:
            logger.removeHandler(handler)
            logger.propagate = propagate
            logger.setLevel(level)
    if not valid and not handler.messages:
        handler.messages.append("pyx12 rejected the file without saying why")
    return handler.messages


__all__ = ["IMPLEMENTATION", "X12Error", "build_837", "interchange_control_number", "validate_with_pyx12"]
