"""FHIR R4 export of signed orders, validated by fhir.resources' R4B models."""

from __future__ import annotations

import json

import pytest
from django.urls import reverse
from fhir.resources.R4B.medicationrequest import MedicationRequest
from fhir.resources.R4B.servicerequest import ServiceRequest

from orders import fhir
from vma.exceptions import ActionRefused

from .factories import CONTROLLED, enroll, fresh, pend, sign

pytestmark = pytest.mark.django_db


def _signed(visit, vma, provider, kind, **fields):
    order = pend(visit, vma, kind, **fields)
    assert sign(provider, order).signed
    return fresh(order)


@pytest.mark.parametrize(
    ("kind", "category"),
    [("lab", "108252007"), ("imaging", "363679005"), ("referral", "3457005"), ("follow_up", "390906007")],
)
def test_service_requests_validate_as_r4(visit, vma, provider, kind, category):
    order = _signed(visit, vma, provider, kind)
    data = json.loads(fhir.export_json(order))
    resource = ServiceRequest.model_validate(data)  # round-trips through the R4B model
    assert data["resourceType"] == "ServiceRequest" and data["status"] == "active" and data["intent"] == "order"
    assert data["subject"]["reference"] == f"Patient/{visit.patient.public_id}"
    assert data["encounter"]["reference"] == f"Encounter/{visit.public_id}"
    assert data["requester"]["identifier"] == {"system": fhir.NPI, "value": provider.npi}
    assert data["reasonCode"][0]["coding"][0] == {
        "system": fhir.ICD10CM,
        "code": "E78.5",
        "display": "Hyperlipidemia, unspecified",
    }
    assert resource.category[0].coding[0].code == category
    assert data["identifier"][0]["value"] == str(order.public_id)


def test_a_lab_carries_its_cpt_or_loinc_code(visit, vma, provider):
    cpt = json.loads(fhir.export_json(_signed(visit, vma, provider, "lab")))
    assert cpt["code"]["coding"] == [{"system": fhir.CPT, "code": "80061"}] and cpt["code"]["text"] == "Lipid panel"
    loinc = json.loads(fhir.export_json(_signed(visit, vma, provider, "lab", title="HbA1c", procedure_code="4548-4")))
    assert loinc["code"]["coding"][0]["system"] == fhir.LOINC


def test_a_prescription_is_a_medication_request(visit, vma, provider):
    data = json.loads(fhir.export_json(_signed(visit, vma, provider, "prescription")))
    MedicationRequest.model_validate(data)
    assert data["resourceType"] == "MedicationRequest"
    assert data["medicationCodeableConcept"]["text"] == "atorvastatin 20 mg"
    assert data["dosageInstruction"][0]["text"] == "take 1 tablet daily"
    dispense = data["dispenseRequest"]
    assert dispense["numberOfRepeatsAllowed"] == 3 and dispense["quantity"]["value"] == 90
    assert dispense["expectedSupplyDuration"]["code"] == "d"


def test_a_controlled_prescription_says_so(visit, vma, provider):
    from tests.factories import PASSWORD

    from .factories import code_at

    enroll(provider)
    order = pend(visit, vma, "prescription", **CONTROLLED)
    assert sign(provider, order, password=PASSWORD, otp=code_at()).signed
    data = json.loads(fhir.export_json(fresh(order)))
    assert "Schedule II" in data["note"][-1]["text"]


def test_an_unsigned_order_is_refused(visit, vma):
    order = pend(visit, vma)
    with pytest.raises(ActionRefused) as caught:
        fhir.export(order)
    assert caught.value.status_code == 409 and "Only a signed order" in caught.value.message


def test_the_page_download_and_its_refusal(client, visit, vma, provider):
    order = pend(visit, vma)
    client.force_login(vma)
    refused = client.get(reverse("orders_fhir", args=[order.public_id]))
    assert refused.status_code == 409 and b"Only a signed order" in refused.content
    sign(provider, order)
    response = client.get(reverse("orders_fhir", args=[order.public_id]))
    assert response.status_code == 200 and response["Content-Type"] == "application/fhir+json"
    assert "attachment" in response["Content-Disposition"]
    ServiceRequest.model_validate(json.loads(response.content))
