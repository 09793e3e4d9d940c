"""Referral pages: the list by state (constant queries), the detail's checklist and htmx actions,
refusals shown with what was typed kept, referral by hand, the directory, access rules."""

from __future__ import annotations

import re

from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from patients.models import ChartDocument
from referrals.models import Referral
from tests.factories import PatientFactory
from vma.models import AuditEvent
from vma.roles import Role

from .factories import PDF, advance, pdf, ready, specialist

S = Referral.Status
HX = {"HTTP_HX_REQUEST": "true"}


def listed(body: str) -> list[str]:
    return re.findall(r'data-referral="([^"]+)"', body)


def test_the_list_filters_by_state(client, practice, patient, vma):
    draft = ready(patient)
    sent = advance(ready(patient), S.SENT)
    closed = advance(ready(patient), S.CLOSED)
    client.force_login(vma)
    assert set(listed(client.get(reverse("referrals_list")).content.decode())) == {
        str(draft.public_id),
        str(sent.public_id),
    }
    assert listed(client.get(reverse("referrals_list") + "?status=sent").content.decode()) == [str(sent.public_id)]
    assert listed(client.get(reverse("referrals_list") + "?status=ended").content.decode()) == [str(closed.public_id)]
    body = client.get(reverse("referrals_list") + "?status=bogus").content.decode()
    assert 'data-tab="open" aria-current="page"' in body  # an unknown filter falls back to open
    assert AuditEvent.objects.filter(action="page.referrals_list", actor=vma).exists()


def test_the_list_query_count_is_constant(client, practice, vma):
    client.force_login(vma)
    for _ in range(3):
        ready(PatientFactory(care_team=practice.team))
    client.get(reverse("referrals_list"))
    with CaptureQueriesContext(connection) as small:
        client.get(reverse("referrals_list"))
    for _ in range(20):
        advance(ready(PatientFactory(care_team=practice.team)), S.SENT)
    with CaptureQueriesContext(connection) as large:
        body = client.get(reverse("referrals_list")).content.decode()
    assert len(listed(body)) == 23
    assert len(small.captured_queries) == len(large.captured_queries)


def test_another_teams_referral_is_404_and_absent(client, practice, other_patient, vma):
    theirs = ready(other_patient)
    client.force_login(vma)
    assert client.get(reverse("referrals_detail", args=[theirs.public_id])).status_code == 404
    assert client.post(reverse("referrals_action", args=[theirs.public_id, "send"])).status_code == 404
    assert listed(client.get(reverse("referrals_list") + "?status=all").content.decode()) == []


def test_a_manager_on_no_team_sees_no_referral(client, practice, patient):
    referral = ready(patient)
    client.force_login(practice.users[Role.MANAGER])
    assert listed(client.get(reverse("referrals_list") + "?status=all").content.decode()) == []
    assert client.get(reverse("referrals_detail", args=[referral.public_id])).status_code == 404
    assert client.get(reverse("referrals_dashboard")).status_code == 200


def test_detail_shows_the_checklist_and_an_htmx_send_refusal_lists_what_is_missing(client, practice, patient, vma):
    referral = ready(patient, reason="", results_not_needed=False, results_note="")
    client.force_login(vma)
    page = client.get(reverse("referrals_detail", args=[referral.public_id])).content.decode()
    assert 'data-line="reason" class="missing"' in page and 'data-line="specialist" class="ok"' in page
    r = client.post(reverse("referrals_action", args=[referral.public_id, "send"]), **HX)
    body = r.content.decode()
    assert r.status_code == 200 and 'role="alert"' in body
    assert "The packet is not complete" in body and "Reason for referral" in body and "Results" in body
    assert 'id="referral" data-status="draft"' in body
    # without htmx: the page with the refusal, and the 409 status
    r = client.post(reverse("referrals_action", args=[referral.public_id, "send"]))
    assert r.status_code == 409 and "The packet is not complete" in r.content.decode()


def test_packet_form_then_send_then_the_moves(client, practice, patient, vma):
    referral = ready(patient, reason="")
    client.force_login(vma)
    url = lambda a: reverse("referrals_action", args=[referral.public_id, a])  # noqa: E731
    form = {
        "specialist": str(referral.specialist.public_id),
        "reason": "Murmur",
        "urgency": "routine",
        "diagnosis_code": "R01.1",
        "clinical_notes": "Grade 2 systolic murmur",
        "results_not_needed": "on",
        "results_note": "None yet",
        "coverage": "self_pay",
    }
    r = client.post(url("packet"), form, **HX)
    assert r.status_code == 200 and "Packet saved." in r.content.decode()
    assert Referral.objects.get(pk=referral.pk).reason == "Murmur"
    assert "Referral sent." in client.post(url("send"), **HX).content.decode()
    client.post(url("acknowledge"), {"channel": "phone", "note": "Office confirmed"}, **HX)
    r = client.post(url("schedule"), {"appointment_at": "2020-01-01T10:00", "channel": "phone"}, **HX)
    assert "cannot be before the referral was sent" in r.content.decode()
    r = client.post(url("schedule"), {"appointment_at": "2099-01-01T10:00"}, **HX)
    assert "more than two years ahead" in r.content.decode()
    client.post(url("contact"), {"channel": "fax", "direction": "out", "note": "Faxed the insurance card"}, **HX)
    fresh = Referral.objects.get(pk=referral.pk)
    assert fresh.status == S.ACKNOWLEDGED
    notes = list(fresh.contacts.values_list("note", flat=True))
    assert "Office confirmed" in notes and "Faxed the insurance card" in notes
    r = client.post(url("cancel"), {"reason": ""}, **HX)
    assert "a reason is required" in r.content.decode()
    r = client.post(url("cancel"), {"reason": "Patient chose another clinic"})
    assert r.status_code == 302 and Referral.objects.get(pk=referral.pk).status == S.CANCELLED


def test_a_bad_report_file_is_refused_with_the_form_kept(client, practice, patient, vma, provider):
    referral = advance(ready(patient), S.SCHEDULED)
    client.force_login(vma)
    url = reverse("referrals_report", args=[referral.public_id])
    r = client.post(url, {"file": pdf("x.txt", b"plain"), "title": "Echo consult"}, **HX)
    body = r.content.decode()
    assert "Only PDF, PNG and JPEG" in body and 'value="Echo consult"' in body
    assert not ChartDocument.objects.filter(patient=patient).exists()
    r = client.post(url, {"file": pdf(body=PDF), "title": "Echo consult", "channel": "fax"}, **HX)
    assert "the provider reviews it next" in r.content.decode()
    assert Referral.objects.get(pk=referral.pk).status == S.REPORT_RECEIVED
    # the provider closes the loop from the page
    client.force_login(provider)
    page = client.get(reverse("referrals_detail", args=[referral.public_id])).content.decode()
    assert 'id="review"' in page and "Echo consult" in page
    r = client.post(reverse("referrals_review", args=[referral.public_id]), {"note": "Seen"}, **HX)
    assert "the loop is closed" in r.content.decode()
    assert Referral.objects.get(pk=referral.pk).status == S.CLOSED


def test_refer_again_redirects_to_the_new_draft(client, practice, patient, vma):
    referral = advance(ready(patient), S.DECLINED)
    client.force_login(vma)
    r = client.post(reverse("referrals_refer_again", args=[referral.public_id]), **HX)
    new = Referral.objects.get(replaces=referral)
    assert r.status_code == 204 and r["HX-Redirect"] == reverse("referrals_detail", args=[new.public_id])


def test_front_office_sees_the_plan_side_not_the_clinical_notes(client, practice, patient):
    referral = ready(patient, clinical_notes="Secret clinical history")
    client.force_login(practice.users[Role.FRONT_OFFICE])
    page = client.get(reverse("referrals_detail", args=[referral.public_id])).content.decode()
    assert "Secret clinical history" not in page and 'id="auth-form"' in page and 'name="clinical_notes"' not in page
    client.force_login(practice.users[Role.NURSE])
    assert (
        "Secret clinical history" in client.get(reverse("referrals_detail", args=[referral.public_id])).content.decode()
    )


def test_refer_by_hand(client, practice, patient, vma):
    client.force_login(vma)
    page = client.get(reverse("referrals_new") + f"?patient={patient.public_id}").content.decode()
    assert patient.last_name in page
    r = client.post(
        reverse("referrals_new"),
        {"patient": str(patient.public_id), "specialty": "Dermatology", "diagnosis_code": "nope", "reason": "Rash"},
    )
    assert r.status_code == 400 and "ICD-10-CM" in r.content.decode() and 'value="Rash"' in r.content.decode()
    r = client.post(
        reverse("referrals_new"),
        {"patient": str(patient.public_id), "specialty": "Dermatology", "diagnosis_code": "L30.9", "reason": "Rash"},
    )
    referral = Referral.objects.get(patient=patient)
    assert r.status_code == 302 and r["Location"] == reverse("referrals_detail", args=[referral.public_id])


def test_the_directory(client, practice):
    specialist(organisation="Heart Center")
    specialist(organisation="Closed Clinic", active=False)
    client.force_login(practice.users[Role.NURSE])
    body = client.get(reverse("referrals_specialists")).content.decode()
    assert "Heart Center" in body and "Closed Clinic" not in body
    assert "Closed Clinic" in client.get(reverse("referrals_specialists") + "?inactive=1").content.decode()
    client.force_login(practice.users[Role.BILLING])
    assert client.get(reverse("referrals_specialists")).status_code == 403
