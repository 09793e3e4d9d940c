"""CARC and RARC code lists with their start and end dates, and lookups that keep retired codes readable."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

# A subset of the X12 Claim Adjustment Reason Code list and the Remittance Advice Remark Code
# list (both maintained by X12, published at x12.org/codes). Descriptions are shortened; the
# dates are the lists' "Start" and "Stop" dates. Per the lists' own rule a code with a Stop date
# may no longer be used in an original adjudication *after* that date, but it stays valid in
# derivative messages (reversals, CLP02 = 22, and secondary claims reporting the first payer's
# adjustments), which is why real 835s keep carrying retired codes and why we never drop them.


@dataclass(frozen=True)
class Code:
    """One code list entry."""

    code: str
    description: str
    start: date
    end: date | None = None  # X12 "Stop": last day an original adjudication may use it; None if current
    note: str = ""  # e.g. the code that replaces a retired one

    def retired_on(self, on: date) -> bool:
        return self.end is not None and on > self.end


@dataclass(frozen=True)
class Description:
    """What a code means on a given date, as a lookup answers it."""

    code: str
    text: str
    known: bool  # False when the code is not in our list
    retired: bool  # True when the code had already been retired on the date asked about
    start: date | None = None
    end: date | None = None
    note: str = ""

    def __str__(self) -> str:
        if not self.known:
            return self.text
        if self.retired and self.end:
            return f"{self.text} (retired {self.end.isoformat()}{'; ' + self.note if self.note else ''})"
        return self.text


def _d(text: str) -> date:
    month, day, year = (int(part) for part in text.split("/"))
    return date(year, month, day)


def _table(*rows: tuple[str, str, str] | tuple[str, str, str, str] | tuple[str, str, str, str, str]) -> dict[str, Code]:
    codes: dict[str, Code] = {}
    for row in rows:
        code, description, start = row[0], row[1], row[2]
        end = row[3] if len(row) > 3 else ""
        note = row[4] if len(row) > 4 else ""
        codes[code] = Code(code, description, _d(start), _d(end) if end else None, note)
    return codes


CARCS: dict[str, Code] = _table(
    ("1", "Deductible amount", "01/01/1995"),
    ("2", "Coinsurance amount", "01/01/1995"),
    ("3", "Co-payment amount", "01/01/1995"),
    ("4", "The procedure code is inconsistent with the modifier used", "01/01/1995"),
    ("16", "Claim/service lacks information or has submission/billing error(s)", "01/01/1995"),
    (
        "17",
        "Requested information was not provided or was insufficient/incomplete",
        "01/01/1995",
        "07/01/2009",
    ),
    ("18", "Exact duplicate claim/service", "01/01/1995"),
    ("22", "This care may be covered by another payer per coordination of benefits", "01/01/1995"),
    ("23", "The impact of prior payer(s) adjudication including payments and/or adjustments", "01/01/1995"),
    ("25", "Payment denied: stop-loss deductible has not been met", "01/01/1995", "04/01/2008"),
    ("26", "Expenses incurred prior to coverage", "01/01/1995"),
    ("27", "Expenses incurred after coverage terminated", "01/01/1995"),
    (
        "28",
        "Coverage not in effect at the time the service was provided",
        "01/01/1995",
        "10/16/2003",
        "use 26 or 27",
    ),
    ("29", "The time limit for filing has expired", "01/01/1995"),
    (
        "38",
        "Services not provided or authorized by designated (network/primary care) providers",
        "01/01/1995",
        "01/01/2013",
        "replaced by 242 and 243",
    ),
    (
        "42",
        "Charges exceed our fee schedule or maximum allowable amount",
        "01/01/1995",
        "06/01/2007",
        "use 45",
    ),
    ("45", "Charge exceeds fee schedule/maximum allowable or contracted/legislated fee arrangement", "01/01/1995"),
    ("46", "This (these) service(s) is (are) not covered", "01/01/1995", "10/16/2003", "use 96"),
    ("48", "This (these) procedure(s) is (are) not covered", "01/01/1995", "10/16/2003", "use 96"),
    ("50", "Non-covered: not deemed a 'medical necessity' by the payer", "01/01/1995"),
    ("96", "Non-covered charge(s)", "01/01/1995"),
    ("97", "The benefit for this service is included in the payment/allowance for another service", "01/01/1995"),
    ("109", "Claim/service not covered by this payer/contractor: send it to the correct payer", "01/01/1995"),
    ("197", "Precertification/authorization/notification absent", "10/31/2006"),
    ("198", "Precertification/authorization exceeded", "10/31/2006"),
    ("242", "Services not provided by network/primary care providers", "06/03/2012"),
    ("253", "Sequestration - reduction in federal payment", "06/02/2013"),
)

RARCS: dict[str, Code] = _table(
    ("M15", "Separately billed services/tests have been bundled as components of the same procedure", "01/01/1997"),
    ("MA04", "Secondary payment cannot be considered without the primary payer's identity or payment", "01/01/1997"),
    ("N130", "Consult plan benefit documents/guidelines for information about restrictions", "10/31/2002"),
    (
        "N145",
        "Missing/incomplete/invalid provider identifier for this place of service",
        "10/31/2002",
        "06/02/2005",
    ),
    ("N362", "The number of days or units of service exceeds our acceptable maximum", "11/18/2005"),
    (
        "N365",
        "This procedure code is not payable; it is for reporting/information purposes only",
        "04/01/2006",
        "07/01/2014",
        "use CARC 246 or N620",
    ),
)

# CAS01 claim adjustment group codes. CR (corrections and reversals) was dropped by 5010, where a
# reversal is CLP02 = 22 with the original groups and negated amounts; older files still send it.
GROUPS: dict[str, str] = {
    "CO": "Contractual obligation",
    "OA": "Other adjustment",
    "PI": "Payer initiated reduction",
    "PR": "Patient responsibility",
    "CR": "Correction and reversal (4010 only)",
}


def _describe(table: dict[str, Code], kind: str, code: str, on: date | None) -> Description:
    key = code.strip().upper()
    entry = table.get(key)
    if entry is None:
        return Description(code=key, text=f"unknown {kind} {key}", known=False, retired=False)
    retired = entry.retired_on(on) if on else entry.end is not None
    return Description(
        code=key,
        text=entry.description,
        known=True,
        retired=retired,
        start=entry.start,
        end=entry.end,
        note=entry.note,
    )


def describe_carc(code: str, on: date | None = None) -> Description:
    """What a CARC means; a retired code is still described, with `retired` set.

    `on` is the date of the adjudication (e.g. the 835's payment date); without it a code counts
    as retired as soon as it has a Stop date.
    """
    return _describe(CARCS, "CARC", code, on)


def describe_rarc(code: str, on: date | None = None) -> Description:
    """What a RARC means; same rules as describe_carc."""
    return _describe(RARCS, "RARC", code, on)


def group_meaning(group: str) -> str:
    """CAS01 group code meaning, e.g. CO → "Contractual obligation"."""
    return GROUPS.get(group.strip().upper(), f"unknown group {group}")
