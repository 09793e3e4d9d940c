"""Code lists for 270/271 (005010X279A1) with plain-language meanings for the VMA."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Reason:
    """An AAA03 reject reason: the standard's wording and a short phrase a VMA can act on."""

    meaning: str
    plain: str


# AAA03 reject reason codes used in the 271 (all loops). `plain` is what the front desk reads.
AAA_REASONS: dict[str, Reason] = {
    "04": Reason("Authorized Quantity Exceeded", "Authorized quantity exceeded"),
    "15": Reason("Required Application Data Missing", "Required information missing"),
    "41": Reason("Authorization/Access Restrictions", "Provider not authorized to check eligibility"),
    "42": Reason("Unable to Respond at Current Time", "Payer system unavailable"),
    "43": Reason("Invalid/Missing Provider Identification", "Provider NPI invalid or missing"),
    "44": Reason("Invalid/Missing Provider Name", "Provider name invalid or missing"),
    "45": Reason("Invalid/Missing Provider Specialty", "Provider specialty invalid or missing"),
    "46": Reason("Invalid/Missing Provider Phone Number", "Provider phone number invalid or missing"),
    "47": Reason("Invalid/Missing Provider State", "Provider state invalid or missing"),
    "48": Reason(
        "Invalid/Missing Referring Provider Identification Number",
        "Referring provider ID invalid or missing",
    ),
    "49": Reason("Provider is Not Primary Care Physician", "Provider is not the patient's PCP"),
    "50": Reason("Provider Ineligible for Inquiries", "Provider not allowed to check eligibility"),
    "51": Reason("Provider Not on File", "Provider not on file with the payer"),
    "52": Reason(
        "Service Dates Not Within Provider Plan Enrollment",
        "Date of service outside the provider's plan enrollment",
    ),
    "53": Reason(
        "Inquired Benefit Inconsistent with Provider Type",
        "Benefit asked about does not fit the provider type",
    ),
    "54": Reason("Inappropriate Product/Service ID Qualifier", "Service code qualifier not accepted"),
    "55": Reason("Inappropriate Product/Service ID", "Service code not accepted"),
    "56": Reason("Inappropriate Date", "Date not accepted"),
    "57": Reason("Invalid/Missing Date(s) of Service", "Date of service invalid or missing"),
    "58": Reason("Invalid/Missing Date-of-Birth", "Date of birth invalid or missing"),
    "60": Reason("Date of Birth Follows Date(s) of Service", "Date of birth is after the date of service"),
    "61": Reason(
        "Date of Death Precedes Date(s) of Service",
        "Payer records a date of death before the date of service",
    ),
    "62": Reason(
        "Date of Service Not Within Allowable Inquiry Period",
        "Date of service outside the payer's inquiry window",
    ),
    "63": Reason("Date of Service in Future", "Date of service too far in the future"),
    "64": Reason("Invalid/Missing Patient ID", "Patient ID invalid or missing"),
    "65": Reason("Invalid/Missing Patient Name", "Patient name invalid or missing"),
    "66": Reason("Invalid/Missing Patient Gender Code", "Patient gender invalid or missing"),
    "67": Reason("Patient Not Found", "Patient not found"),
    "68": Reason("Duplicate Patient ID Number", "Duplicate patient ID at the payer"),
    "69": Reason("Inconsistent with Patient's Age", "Request inconsistent with the patient's age"),
    "70": Reason("Inconsistent with Patient's Gender", "Request inconsistent with the patient's gender"),
    "71": Reason(
        "Patient Birth Date Does Not Match That for the Patient on the Database",
        "Date of birth does not match payer records",
    ),
    "72": Reason("Invalid/Missing Subscriber/Insured ID", "Member ID invalid"),
    "73": Reason("Invalid/Missing Subscriber/Insured Name", "Subscriber name invalid"),
    "74": Reason("Invalid/Missing Subscriber/Insured Gender Code", "Subscriber gender invalid"),
    "75": Reason("Subscriber/Insured Not Found", "Subscriber not found"),
    "76": Reason("Duplicate Subscriber/Insured ID Number", "Duplicate member ID at the payer"),
    "77": Reason("Subscriber Found, Patient Not Found", "Subscriber found but dependent not found"),
    "78": Reason(
        "Subscriber/Insured Not in Group/Plan Identified",
        "Subscriber not in the group or plan",
    ),
    "79": Reason("Invalid Participant Identification", "Invalid participant identification"),
    "80": Reason("No Response received - Transaction Terminated", "No response from the payer"),
    "97": Reason("Invalid or Missing Provider Address", "Provider address invalid or missing"),
    "AA": Reason("Authorization Number Not Found", "Authorization number not found"),
    "AE": Reason("Requires Primary Care Physician Authorization", "PCP authorization required"),
    "AF": Reason("Invalid/Missing Diagnosis Code(s)", "Diagnosis code invalid or missing"),
    "AG": Reason("Invalid/Missing Procedure Code(s)", "Procedure code invalid or missing"),
    "AO": Reason(
        "Additional Patient Condition Information Required",
        "More information on the patient's condition required",
    ),
    "CI": Reason(
        "Certification Information Does Not Match Patient",
        "Certification does not match the patient",
    ),
    "E8": Reason("Requires Medical Review", "Medical review required"),
    "IA": Reason("Invalid Authorization Number Format", "Authorization number format invalid"),
    "MA": Reason("Missing Authorization", "Authorization missing"),
    "T4": Reason("Payer Name or Identifier Missing", "Payer name or ID missing"),
}

# AAA04 follow-up action codes.
FOLLOW_UPS: dict[str, str] = {
    "C": "Please Correct and Resubmit",
    "N": "Resubmission Not Allowed",
    "P": "Please Resubmit Original Transaction",
    "R": "Resubmission Allowed",
    "S": "Do Not Resubmit; Inquiry Initiated to a Third Party",
    "W": "Please Wait 30 Days and Resubmit",
    "X": "Please Wait 10 Days and Resubmit",
    "Y": "Do Not Resubmit; We Will Hand Deliver or Mail Results",
}

# What the VMA should do next for each follow-up code.
_ACTIONS: dict[str, str] = {
    "C": "correct and resubmit",
    "N": "do not resubmit; call the payer",
    "P": "resubmit the original request",
    "R": "resubmit",
    "S": "do not resubmit; the payer is asking a third party",
    "W": "wait 30 days, then resubmit",
    "X": "wait 10 days, then resubmit",
    "Y": "do not resubmit; the payer will send the result by mail",
}

# Reasons that describe the payer's state, not the request: "resubmit" means "later".
_TRANSIENT_REASONS = frozenset({"42", "80"})

# EB01 eligibility or benefit information codes.
EB_CODES: dict[str, str] = {
    "1": "Active Coverage",
    "2": "Active - Full Risk Capitation",
    "3": "Active - Services Capitated",
    "4": "Active - Services Capitated to Primary Care Physician",
    "5": "Active - Pending Investigation",
    "6": "Inactive",
    "7": "Inactive - Pending Eligibility Update",
    "8": "Inactive - Pending Investigation",
    "A": "Co-Insurance",
    "B": "Co-Payment",
    "C": "Deductible",
    "CB": "Coverage Basis",
    "D": "Benefit Description",
    "E": "Exclusions",
    "F": "Limitations",
    "G": "Out of Pocket (Stop Loss)",
    "H": "Unlimited",
    "I": "Non-Covered",
    "J": "Cost Containment",
    "K": "Reserve",
    "L": "Primary Care Provider",
    "M": "Pre-existing Condition",
    "MC": "Managed Care Coordinator",
    "N": "Services Restricted to Following Provider",
    "O": "Not Deemed a Medical Necessity",
    "P": "Benefit Disclaimer",
    "Q": "Second Surgical Opinion Required",
    "R": "Other or Additional Payor",
    "S": "Prior Year(s) History",
    "T": "Card(s) Reported Lost/Stolen",
    "U": "Contact Following Entity for Eligibility or Benefit Information",
    "V": "Cannot Process",
    "W": "Other Source of Data",
    "X": "Health Care Facility",
    "Y": "Spend Down",
}

# EB01 codes that mean the member is covered / not covered on the date asked about.
ACTIVE_CODES = frozenset({"1", "2", "3", "4", "5"})
INACTIVE_CODES = frozenset({"6", "7", "8"})

# EB02 coverage level codes.
COVERAGE_LEVELS: dict[str, str] = {
    "CHD": "Children Only",
    "DEP": "Dependents Only",
    "ECH": "Employee and Children",
    "EMP": "Employee Only",
    "ESP": "Employee and Spouse",
    "FAM": "Family",
    "IND": "Individual",
    "SPC": "Spouse and Children",
    "SPO": "Spouse Only",
}

# EQ01 / EB03 service type codes the practice uses most.
SERVICE_TYPES: dict[str, str] = {
    "1": "Medical Care",
    "2": "Surgical",
    "4": "Diagnostic X-Ray",
    "5": "Diagnostic Lab",
    "30": "Health Benefit Plan Coverage",
    "33": "Chiropractic",
    "35": "Dental Care",
    "42": "Home Health Care",
    "45": "Hospice",
    "47": "Hospital",
    "48": "Hospital - Inpatient",
    "50": "Hospital - Outpatient",
    "86": "Emergency Services",
    "88": "Pharmacy",
    "98": "Professional (Physician) Visit - Office",
    "A7": "Psychiatric - Inpatient",
    "AL": "Vision (Optometry)",
    "BY": "Physician Visit - Office: Sick",
    "BZ": "Physician Visit - Office: Well",
    "MH": "Mental Health",
    "PT": "Physical Therapy",
    "UC": "Urgent Care",
}

# EB06 time period qualifiers.
TIME_PERIODS: dict[str, str] = {
    "6": "Hour",
    "7": "Day",
    "13": "24 Hours",
    "21": "Years",
    "22": "Service Year",
    "23": "Calendar Year",
    "24": "Year to Date",
    "25": "Contract",
    "26": "Episode",
    "27": "Visit",
    "28": "Outlier",
    "29": "Remaining",
    "30": "Exceeded",
    "31": "Not Exceeded",
    "32": "Lifetime",
    "33": "Lifetime Remaining",
    "34": "Month",
    "35": "Week",
    "36": "Admission",
}

# EB04 insurance type codes seen most often.
INSURANCE_TYPES: dict[str, str] = {
    "C1": "Commercial",
    "EP": "Exclusive Provider Organization (EPO)",
    "HM": "Health Maintenance Organization (HMO)",
    "HN": "HMO - Medicare Risk",
    "MA": "Medicare Part A",
    "MB": "Medicare Part B",
    "MC": "Medicaid",
    "PR": "Preferred Provider Organization (PPO)",
    "PS": "Point of Service (POS)",
    "QM": "Qualified Medicare Beneficiary",
}


def reason_meaning(reason: str) -> str:
    """The standard's wording for an AAA03 code, or a neutral text for an unknown code."""
    known = AAA_REASONS.get(reason)
    return known.meaning if known else f"Unknown reject reason {reason or '(none)'}"


def instruction(reason: str, follow_up: str) -> str:
    """One plain sentence telling a VMA what went wrong and what to do next."""
    known = AAA_REASONS.get(reason)
    what = known.plain if known else f"Payer rejected the request (reason code {reason or 'missing'})"
    if follow_up == "R" and reason in _TRANSIENT_REASONS:
        action = "try again later"
    else:
        action = _ACTIONS.get(follow_up, "check with the payer")
    return f"{what}: {action}"
