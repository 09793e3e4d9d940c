"""Order content: kind-specific validation, the signed content and its hash, what signing will do."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from django.core.exceptions import ValidationError
from django.utils import timezone

from eligibility.priorauth_services import authorization_required, primary_coverage
from vma.signing import content_hash

from .models import Order

if TYPE_CHECKING:
    from datetime import date

    from encounters.models import EncounterDiagnosis
    from patients.models import Patient

K = Order.Kind

# Every field a person fills in, by kind; the others are blanked so the hash covers only what applies.
COMMON_FIELDS = ("title", "urgency", "instructions")
KIND_FIELDS: dict[str, tuple[str, ...]] = {
    K.LAB: ("procedure_code", "result_expected_days"),
    K.IMAGING: ("procedure_code", "result_expected_days"),
    K.PRESCRIPTION: (
        "drug",
        "strength",
        "sig",
        "quantity",
        "days_supply",
        "refills",
        "pharmacy",
        "controlled_schedule",
    ),
    K.REFERRAL: ("specialty", "reason"),
    K.FOLLOW_UP: ("follow_up_in_days",),
}
EDITABLE_FIELDS = tuple(sorted({*COMMON_FIELDS, *(f for fs in KIND_FIELDS.values() for f in fs)}))
_BLANK: dict[str, Any] = {
    "procedure_code": "",
    "result_expected_days": 7,
    "drug": "",
    "strength": "",
    "sig": "",
    "quantity": None,
    "days_supply": None,
    "refills": None,
    "pharmacy": "",
    "controlled_schedule": "",
    "specialty": "",
    "reason": "",
    "follow_up_in_days": None,
}
# CPT (5 characters: 99213, 0001F), HCPCS Level II (A0428), LOINC (2093-3).
_CODE = re.compile(r"^(\d{4}[0-9A-Z]|[A-Z]\d{4}|\d{1,7}-\d)$")
_LOINC = re.compile(r"^\d{1,7}-\d$")
MAX_QUANTITY = 10000
MAX_REFILLS = 11  # a non-controlled prescription is good for a year: 11 refills of a 30-day supply
MAX_CONTROLLED_REFILLS = 5  # schedules III-V: 5 refills within 6 months (21 CFR 1306.22)
# The category a prior-authorization rule (eligibility.PriorAuthRule) names for each kind that may need one.
PRIOR_AUTH_CATEGORY: dict[str, str] = {K.LAB: "lab", K.IMAGING: "imaging", K.PRESCRIPTION: "prescription"}


def is_loinc(code: str) -> bool:
    return bool(_LOINC.match(code))


def weeks_or_days(days: int) -> str:
    """'4 weeks' for 28, '10 days' for 10: how a person would say it."""
    if days % 7 == 0 and days >= 14:
        return f"{days // 7} weeks"
    if days == 7:
        return "1 week"
    return "1 day" if days == 1 else f"{days} days"


def _text(data: dict[str, Any], name: str, errors: dict[str, str], message: str, *, limit: int) -> str:
    value = str(data.get(name) or "").strip()
    if not value:
        errors[name] = message
    elif len(value) > limit:
        errors[name] = f"At most {limit} characters."
    return value


def _number(
    data: dict[str, Any], name: str, errors: dict[str, str], *, low: int, high: int, required: str | None
) -> int | None:
    raw = data.get(name)
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        if required:
            errors[name] = required
        return None
    try:
        value = int(raw)
    except (TypeError, ValueError):
        errors[name] = "Enter a whole number."
        return None
    if not low <= value <= high:
        errors[name] = f"Enter a number from {low} to {high}."
    return value


def clean_fields(kind: str, data: dict[str, Any]) -> dict[str, Any]:
    """The order's fields for `kind`, validated; others blanked. Raises ValidationError({field: message})."""
    if kind not in K.values:
        raise ValidationError({"kind": "Choose what to order: lab test, imaging, prescription, referral or follow-up."})
    errors: dict[str, str] = {}
    out: dict[str, Any] = dict(_BLANK)
    urgency = str(data.get("urgency") or Order.Urgency.ROUTINE)
    if urgency not in Order.Urgency.values:
        errors["urgency"] = "Choose routine, urgent or STAT."
    out["urgency"] = urgency
    out["instructions"] = str(data.get("instructions") or "").strip()
    if len(out["instructions"]) > 500:
        errors["instructions"] = "At most 500 characters."
    if kind in (K.LAB, K.IMAGING):
        what = "test" if kind == K.LAB else "study"
        out["title"] = _text(data, "title", errors, f"Name the {what} (e.g. Lipid panel).", limit=200)
        code = re.sub(r"\s", "", str(data.get("procedure_code") or "")).upper()
        if code and not _CODE.match(code):
            errors["procedure_code"] = f"“{code}” is not a CPT/HCPCS code (80061) or a LOINC code (2093-3)."
        out["procedure_code"] = code
        days = _number(data, "result_expected_days", errors, low=1, high=90, required=None)
        out["result_expected_days"] = 7 if days is None else days
    elif kind == K.PRESCRIPTION:
        out["drug"] = _text(data, "drug", errors, "Name the drug.", limit=200)
        out["strength"] = _text(data, "strength", errors, "Give the strength (e.g. 20 mg).", limit=60)
        out["sig"] = _text(data, "sig", errors, "Give the directions (e.g. take 1 tablet daily).", limit=200)
        out["pharmacy"] = _text(data, "pharmacy", errors, "Choose the patient's pharmacy.", limit=200)
        out["quantity"] = _number(
            data, "quantity", errors, low=1, high=MAX_QUANTITY, required="Give the quantity to dispense."
        )
        out["days_supply"] = _number(data, "days_supply", errors, low=1, high=365, required=None)
        schedule = str(data.get("controlled_schedule") or "")
        if schedule not in Order.Schedule.values:
            errors["controlled_schedule"] = "Choose a DEA schedule (II-V) or not controlled."
        out["controlled_schedule"] = schedule
        refills = _number(
            data, "refills", errors, low=0, high=MAX_REFILLS, required="Give the number of refills (0 for none)."
        )
        if refills is not None and "refills" not in errors:
            if schedule == Order.Schedule.CII and refills:
                errors["refills"] = "A Schedule II prescription cannot have refills."
            elif schedule and refills > MAX_CONTROLLED_REFILLS:
                errors["refills"] = f"A Schedule III-V prescription allows at most {MAX_CONTROLLED_REFILLS} refills."
        out["refills"] = refills
        out["title"] = f"{out['drug']} {out['strength']}".strip()[:200]
    elif kind == K.REFERRAL:
        out["specialty"] = _text(data, "specialty", errors, "Name the specialty (e.g. Cardiology).", limit=80)
        out["reason"] = _text(data, "reason", errors, "Say why the patient is referred.", limit=300)
        out["title"] = f"Referral to {out['specialty']}"[:200]
    else:
        days = _number(
            data, "follow_up_in_days", errors, low=1, high=365, required="Say in how many days to follow up."
        )
        out["follow_up_in_days"] = days
        out["title"] = f"Follow-up visit in {weeks_or_days(days)}" if days and "follow_up_in_days" not in errors else ""
    if errors:
        raise ValidationError(errors)
    return out


def check_diagnosis(diagnosis: EncounterDiagnosis | None, encounter_id: int) -> EncounterDiagnosis:
    if diagnosis is None or diagnosis.encounter_id != encounter_id:
        raise ValidationError({"diagnosis": "Choose one of this visit's diagnoses (add it to the assessment first)."})
    return diagnosis


def needs_prior_auth(patient: Patient, kind: str, fields: dict[str, Any], *, on: date | None = None) -> bool:
    """Whether the payer rules (eligibility's, not ours) want authorization for this order."""
    category = PRIOR_AUTH_CATEGORY.get(kind)
    if category is None:
        return False
    day = on or timezone.localdate()
    coverage = primary_coverage(patient, day)
    if coverage is None:
        return False
    code = fields.get("drug") if kind == K.PRESCRIPTION else fields.get("procedure_code")
    return authorization_required(coverage.payer, code=str(code or ""), category=category, on=day) is not None


def prior_auth_request(order: Order) -> dict[str, Any]:
    """The service eligibility's open_for_order is asked about."""
    code = order.drug if order.kind == K.PRESCRIPTION else order.procedure_code
    return {
        "service_code": code[:40],
        "category": PRIOR_AUTH_CATEGORY.get(order.kind, ""),
        "description": order.title,
        "requested_units": order.quantity if order.kind == K.PRESCRIPTION else None,
    }


def content_payload(order: Order) -> dict[str, Any]:
    """Exactly the clinical content a signature covers: what, for whom, why, and the kind's fields.

    Needs order.patient, order.encounter and order.diagnosis loaded (the queue selects them).
    """
    payload: dict[str, Any] = {
        "kind": order.kind,
        "patient": str(order.patient.public_id),
        "encounter": str(order.encounter.public_id),
        "diagnosis": order.diagnosis.code if order.diagnosis else "",
        "diagnosis_text": order.diagnosis.description if order.diagnosis else "",
        **{name: getattr(order, name) for name in COMMON_FIELDS},
    }
    for name in KIND_FIELDS[order.kind]:
        payload[name] = getattr(order, name)
    return payload


def order_hash(order: Order) -> str:
    return content_hash(content_payload(order))


def effect_text(order: Order) -> str:
    """What signing will do, in one line (the signing queue shows it)."""
    urgent = "" if order.urgency == Order.Urgency.ROUTINE else f" ({order.get_urgency_display()})"
    if order.kind == K.LAB:
        text = f"Sent to the lab{urgent}; result expected within {weeks_or_days(order.result_expected_days)}"
    elif order.kind == K.IMAGING:
        text = f"Imaging ordered{urgent}; report expected within {weeks_or_days(order.result_expected_days)}"
    elif order.kind == K.PRESCRIPTION:
        refills = "no refills" if not order.refills else f"{order.refills} refill{'s' if order.refills > 1 else ''}"
        text = f"Sent to {order.pharmacy}: #{order.quantity}, {refills}; added to the medication list"
        if order.is_controlled:
            text += f" · {order.get_controlled_schedule_display()}: needs your password and one-time code"
    elif order.kind == K.REFERRAL:
        text = f"Starts a referral to {order.specialty}{urgent}, tracked until the consult report is filed"
    else:
        text = f"Front office books a follow-up visit in {weeks_or_days(order.follow_up_in_days or 0)}"
    if order.needs_prior_auth:
        text += " · the payer requires prior authorization: a request will be opened"
    return text


def detail_text(order: Order) -> str:
    """The queue's second line: the directions or reason, the diagnosis, a returned order's history."""
    parts = []
    if order.kind == K.PRESCRIPTION:
        parts.append(f"Sig: {order.sig}")
    elif order.kind == K.REFERRAL:
        parts.append(order.reason)
    elif order.procedure_code:
        parts.append(order.procedure_code)
    if order.diagnosis is not None:
        parts.append(f"for {order.diagnosis.code} {order.diagnosis.description}")
    if order.returned_comment:
        parts.append(f"re-pended after your comment: “{order.returned_comment}”")
    return " · ".join(p for p in parts if p)
