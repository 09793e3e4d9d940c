"""The staff API: scoped by care team, create, PATCH the packet, send (409 with the missing list),
the moves and the contact log; the front office does not see the clinical part."""

from __future__ import annotations

from datetime import timedelta

from django.urls import reverse
from django.utils import timezone

from referrals.models import Referral
from tests.factories import CoverageFactory
from vma.models import AuditEvent
from vma.roles import Role

from .factories import advance, document, ready, specialist

S = Referral.Status


def post(client, name, referral, data=None):
    return client.post(reverse(name, args=[referral.public_id]), data or {}, content_type="application/json")


def test_list_and_detail_are_scoped_by_care_team(client, practice, patient, other_patient, vma):
    mine, theirs = ready(patient), ready(other_patient)
    client.force_login(vma)
    body = client.get(reverse("api-referral-list") + "?status=all").json()
    assert [r["id"] for r in body["results"]] == [str(mine.public_id)]
    assert client.get(reverse("api-referral-detail", args=[theirs.public_id])).status_code == 404
    assert post(client, "api-referral-send", theirs).status_code == 404
    detail = client.get(reverse("api-referral-detail", args=[mine.public_id])).json()
    assert detail["packet"]["complete"] is True and detail["contacts"] == []
    assert AuditEvent.objects.filter(action="api.referrals.detail", patient_ids=[patient.pk]).exists()


def test_create_then_patch_then_send(client, practice, patient, other_patient, vma):
    client.force_login(vma)
    r = client.post(
        reverse("api-referral-list"),
        {"patient": str(other_patient.public_id), "specialty": "Cardiology"},
        content_type="application/json",
    )
    assert r.status_code == 400 and r.json() == {"patient": ["No such patient."]}
    r = client.post(
        reverse("api-referral-list"),
        {"patient": str(patient.public_id), "specialty": "Cardiology", "diagnosis_code": "r079"},
        content_type="application/json",
    )
    assert r.status_code == 201, r.content
    created = r.json()
    assert created["status"] == S.DRAFT and created["diagnosis_code"] == "R07.9"
    referral = Referral.objects.get(public_id=created["id"])
    # sending now: 409 with the checklist's missing lines
    r = post(client, "api-referral-send", referral)
    assert r.status_code == 409
    assert [m["code"] for m in r.json()["missing"]] == ["specialist", "reason", "notes", "results", "insurance"]
    cov = CoverageFactory(patient=patient)
    heart = specialist(payers=(cov.payer,))
    doc = document(patient, "ECG", "lab_result")
    r = client.patch(
        reverse("api-referral-detail", args=[referral.public_id]),
        {
            "specialist": str(heart.public_id),
            "reason": "Palpitations",
            "clinical_notes": "Holter normal",
            "documents": [str(doc.public_id)],
            "coverage": str(cov.public_id),
        },
        content_type="application/json",
    )
    assert r.status_code == 200, r.content
    assert r.json()["packet"]["complete"] is True and r.json()["documents"] == [str(doc.public_id)]
    r = post(client, "api-referral-send", referral)
    assert r.status_code == 200 and r.json()["status"] == S.SENT
    assert r.json()["contacts"][-1]["channel"] == "fax"
    # the packet is frozen now
    r = client.patch(
        reverse("api-referral-detail", args=[referral.public_id]), {"reason": "x"}, content_type="application/json"
    )
    assert r.status_code == 409


def test_the_moves_and_the_contact_log(client, practice, patient, vma):
    referral = advance(ready(patient), S.SENT)
    client.force_login(vma)
    r = post(client, "api-referral-contacts", referral, {"channel": "phone", "note": "Called the office"})
    assert r.status_code == 201 and r.json()["by"] == str(vma)
    assert post(client, "api-referral-contacts", referral, {"channel": "system", "note": "x"}).status_code == 400
    assert post(client, "api-referral-acknowledge", referral, {"channel": "phone"}).json()["status"] == S.ACKNOWLEDGED
    when = (timezone.now() + timedelta(days=3)).isoformat()
    assert post(client, "api-referral-schedule", referral, {"appointment_at": when}).json()["status"] == S.SCHEDULED
    assert post(client, "api-referral-seen", referral).json()["status"] == S.SEEN
    assert post(client, "api-referral-review", referral).status_code == 403  # a VMA does not review
    r = post(client, "api-referral-cancel", referral, {"reason": "Report will not come: office closed"})
    assert r.status_code == 200 and r.json()["status"] == S.CANCELLED
    assert post(client, "api-referral-acknowledge", referral).status_code == 409


def test_list_filters(client, practice, patient, vma):
    draft = ready(patient)
    sent = advance(ready(patient), S.SENT)
    client.force_login(vma)
    ids = lambda q: [r["id"] for r in client.get(reverse("api-referral-list") + q).json()["results"]]  # noqa: E731
    assert set(ids("")) == {str(draft.public_id), str(sent.public_id)}
    assert ids("?status=sent") == [str(sent.public_id)]
    assert ids(f"?specialist={sent.specialist.public_id}&status=all") == [str(sent.public_id)]
    assert ids("?status=closed") == []


def test_front_office_does_not_see_clinical_notes(client, practice, patient):
    referral = ready(patient)
    client.force_login(practice.users[Role.FRONT_OFFICE])
    body = client.get(reverse("api-referral-detail", args=[referral.public_id])).json()
    assert "clinical_notes" not in body and "documents" not in body and body["reason"]
    client.force_login(practice.users[Role.NURSE])
    assert client.get(reverse("api-referral-detail", args=[referral.public_id])).json()["clinical_notes"]


def test_refer_again_through_the_api(client, practice, patient, vma):
    referral = advance(ready(patient), S.DECLINED)
    client.force_login(vma)
    r = post(client, "api-referral-refer-again", referral)
    assert r.status_code == 201 and r.json()["replaces"] == str(referral.public_id) and r.json()["status"] == S.DRAFT
