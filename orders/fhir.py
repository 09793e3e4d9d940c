"""FHIR R4 export of a signed order: ServiceRequest (lab, imaging, referral, follow-up) or
MedicationRequest (prescription), validated by fhir.resources' R4B models (its default is R5).

fhir.resources checks structure, not code values, so the codes we rely on are chosen here from
fixed systems: ICD-10-CM for the reason, CPT/HCPCS or LOINC for the procedure, SNOMED CT for the
category. Resources reference the patient, encounter and practitioner by our public ids.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.utils import timezone
from fhir.resources.R4B.medicationrequest import MedicationRequest
from fhir.resources.R4B.servicerequest import ServiceRequest

from vma.exceptions import ActionRefused

from . import services
from .models import Order

K = Order.Kind
ICD10CM = "http://hl7.org/fhir/sid/icd-10-cm"
CPT = "http://www.ama-assn.org/go/cpt"
HCPCS = "https://www.cms.gov/Medicare/Coding/HCPCSReleaseCodeSets"
LOINC = "http://loinc.org"
SNOMED = "http://snomed.info/sct"
NPI = "http://hl7.org/fhir/sid/us-npi"
ORDER_ID_SYSTEM = "urn:vma-portal:order"
# SNOMED CT categories of a ServiceRequest (the ones the FHIR example value set uses).
CATEGORY = {
    K.LAB: ("108252007", "Laboratory procedure"),
    K.IMAGING: ("363679005", "Imaging"),
    K.REFERRAL: ("3457005", "Patient referral"),
    K.FOLLOW_UP: ("390906007", "Follow-up encounter"),
}
NOT_SIGNED = "Only a signed order can be exported; this one is {status}."

Resource = ServiceRequest | MedicationRequest


def _code_system(code: str) -> str:
    if services.is_loinc(code):
        return LOINC
    return HCPCS if code[:1].isalpha() else CPT


def _common(order: Order) -> dict[str, Any]:
    signer = order.signed_by
    assert signer is not None and order.signed_at is not None
    requester: dict[str, Any] = {"reference": f"Practitioner/{signer.public_id}", "display": str(signer)}
    if signer.npi:
        requester["identifier"] = {"system": NPI, "value": signer.npi}
    patient = order.patient
    out: dict[str, Any] = {
        "id": str(order.public_id),
        "identifier": [{"system": ORDER_ID_SYSTEM, "value": str(order.public_id)}],
        "status": "active",
        "intent": "order",
        "priority": order.urgency,  # routine | urgent | stat: FHIR's request-priority codes
        "subject": {
            "reference": f"Patient/{patient.public_id}",
            "display": f"{patient.last_name}, {patient.first_name}",
        },
        "encounter": {"reference": f"Encounter/{order.encounter.public_id}"},
        "authoredOn": order.signed_at.isoformat(),
        "requester": requester,
    }
    if order.diagnosis is not None:
        out["reasonCode"] = [
            {
                "coding": [{"system": ICD10CM, "code": order.diagnosis.code, "display": order.diagnosis.description}],
                "text": order.diagnosis.description,
            }
        ]
    return out


def _service_request(order: Order) -> ServiceRequest:
    data = _common(order)
    code, label = CATEGORY[K(order.kind)]
    data["category"] = [
        {"coding": [{"system": SNOMED, "code": code, "display": label}], "text": order.get_kind_display()}
    ]
    concept: dict[str, Any] = {"text": order.title}
    if order.procedure_code:
        concept["coding"] = [{"system": _code_system(order.procedure_code), "code": order.procedure_code}]
    data["code"] = concept
    if order.kind == K.REFERRAL:
        data["performerType"] = {"text": order.specialty}
        data["note"] = [{"text": order.reason}]
    if order.kind == K.FOLLOW_UP and order.follow_up_in_days:
        assert order.signed_at is not None
        due = timezone.localdate(order.signed_at) + timedelta(days=order.follow_up_in_days)
        data["occurrenceDateTime"] = due.isoformat()
    if order.instructions:
        data["patientInstruction"] = order.instructions
    return ServiceRequest.model_validate(data)


def _medication_request(order: Order) -> MedicationRequest:
    data = _common(order)
    data["medicationCodeableConcept"] = {"text": f"{order.drug} {order.strength}".strip()}
    data["dosageInstruction"] = [{"text": order.sig}]
    dispense: dict[str, Any] = {
        "numberOfRepeatsAllowed": order.refills or 0,
        "quantity": {"value": order.quantity},
        "performer": {"display": order.pharmacy},
    }
    if order.days_supply:
        dispense["expectedSupplyDuration"] = {
            "value": order.days_supply,
            "unit": "days",
            "system": "http://unitsofmeasure.org",
            "code": "d",
        }
    data["dispenseRequest"] = dispense
    notes = [order.instructions] if order.instructions else []
    if order.is_controlled:
        notes.append(f"Controlled substance, {order.get_controlled_schedule_display()}; signed with two factors.")
    if notes:
        data["note"] = [{"text": n} for n in notes]
    return MedicationRequest.model_validate(data)


def export(order: Order) -> Resource:
    """The order as a validated R4 resource. ActionRefused (409) unless it is signed."""
    if order.status != Order.Status.SIGNED:
        raise ActionRefused(NOT_SIGNED.format(status=order.get_status_display().lower()))
    return _medication_request(order) if order.kind == K.PRESCRIPTION else _service_request(order)


def export_json(order: Order) -> str:
    return export(order).model_dump_json(exclude_none=True, indent=2 if settings.DEBUG else None)
