"""The patient's link: two identifiers, lockout, pages saved and resumed, upload checks, bad links."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from django.core import signing
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from intake.models import IntakePacket
from intake.notify import SALT, make_token
from patients.models import ChartDocument
from vma.models import AuditEvent

from .conftest import packet_for

S = IntakePacket.Status
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
PHQ9_ALL_ZERO = {f"q{i}": "0" for i in range(1, 10)}


def identify(client, token, last_name="Inpanel", dob="1970-05-17"):
    return client.post(reverse("intake_start", args=[token]), {"last_name": last_name, "date_of_birth": dob})


# --- identity --------------------------------------------------------------------------------


def test_the_link_asks_identity_before_showing_anything(client, token, screening_packet):
    r = client.get(reverse("intake_start", args=[token]))
    assert r.status_code == 200
    assert b"Date of birth" in r.content and b"PHQ-9" not in r.content and b"Inpanel" not in r.content
    # a page URL without the identity check goes back to the check
    r = client.get(reverse("intake_page", args=[token, 1]))
    assert r.status_code == 302 and r["Location"] == reverse("intake_start", args=[token])


@pytest.mark.parametrize(
    ("last_name", "dob"),
    [("Inpanel", "1970-05-17"), ("INPANEL", "1970-05-17"), ("  in panel ", "05/17/1970"), ("inPanel", "05-17-1970")],
)
def test_right_identifiers_in_any_case_or_spacing_open_the_packet(client, token, screening_packet, last_name, dob):
    r = identify(client, token, last_name, dob)
    assert r.status_code == 302 and r["Location"] == reverse("intake_page", args=[token, 1])
    screening_packet.refresh_from_db()
    assert screening_packet.status == S.OPENED and screening_packet.opened_at is not None
    assert screening_packet.failed_identity_checks == 0


@pytest.mark.parametrize(("last_name", "dob"), [("Outsider", "1970-05-17"), ("Inpanel", "1970-05-18"), ("", "")])
def test_wrong_identifiers_show_nothing_and_are_logged_without_phi(client, token, screening_packet, last_name, dob):
    r = identify(client, token, last_name, dob)
    assert r.status_code == 200 and b"does not match our records" in r.content
    screening_packet.refresh_from_db()
    assert screening_packet.status == S.SENT and screening_packet.failed_identity_checks == 1
    event = AuditEvent.objects.get(kind=AuditEvent.Kind.AUTH, action="intake.identity_failed")
    assert event.patient_ids == [screening_packet.patient_id]
    # what was typed, and the patient's name, stay out of the trail
    assert "Outsider" not in str(event.detail) and "Inpanel" not in str(event.detail)


def test_five_wrong_answers_lock_the_packet_even_for_the_right_answer(client, token, screening_packet):
    for attempt in range(1, 6):
        r = identify(client, token, "Wrong", "1970-05-17")
        assert r.status_code == (403 if attempt == 5 else 200)
    assert b"call the office" in r.content
    r = identify(client, token)
    assert r.status_code == 403 and b"Forms locked" in r.content
    screening_packet.refresh_from_db()
    assert screening_packet.locked_at is not None and screening_packet.failed_identity_checks == 5
    assert AuditEvent.objects.filter(kind=AuditEvent.Kind.AUTH, action="intake.identity_failed").count() == 5


# --- bad links ------------------------------------------------------------------------------------


def test_a_tampered_token_is_a_400_page(client, token):
    r = client.get(reverse("intake_start", args=[token[:-2] + ("AA" if not token.endswith("AA") else "BB")]))
    assert r.status_code == 400 and b"This link does not work" in r.content


def test_a_token_for_no_packet_is_a_400_page(client, db):
    r = client.get(reverse("intake_start", args=[signing.TimestampSigner(salt=SALT).sign("not-a-uuid")]))
    assert r.status_code == 400


def test_a_link_after_the_visit_started_is_a_400_expired_page(client, starter, patient):
    packet = packet_for(patient, codes=["phq9"], hours_ahead=48)
    IntakePacket.objects.filter(pk=packet.pk).update(expires_at=timezone.now() - timedelta(minutes=1))
    r = client.get(reverse("intake_start", args=[make_token(packet)]))
    assert r.status_code == 400 and b"expired" in r.content


def test_a_link_older_than_the_ceiling_is_a_400_expired_page(client, token, settings):
    settings.INTAKE_LINK_MAX_AGE_HOURS = 0
    r = client.get(reverse("intake_start", args=[token]))
    assert r.status_code == 400 and b"expired" in r.content


def test_csrf_is_enforced_on_the_identity_form(token, screening_packet):
    from django.test import Client

    r = Client(enforce_csrf_checks=True).post(
        reverse("intake_start", args=[token]), {"last_name": "Inpanel", "date_of_birth": "1970-05-17"}
    )
    assert r.status_code == 403
    screening_packet.refresh_from_db()
    assert screening_packet.status == S.SENT


# --- pages ------------------------------------------------------------------------------------------


def test_progress_is_saved_per_page_and_resumed_later(client, token, screening_packet):
    identify(client, token)
    r = client.post(reverse("intake_page", args=[token, 1]), PHQ9_ALL_ZERO | {"q1": "2"})
    assert r.status_code == 302 and r["Location"] == reverse("intake_page", args=[token, 2])
    screening_packet.refresh_from_db()
    assert screening_packet.status == S.IN_PROGRESS and screening_packet.furthest_step == 1
    # given the patient comes back later in a new browser session
    client.logout()
    r = identify(client, token)
    # then they resume on page 2 and page 1 shows their saved answer
    assert r["Location"] == reverse("intake_page", args=[token, 2])
    page1 = client.get(reverse("intake_page", args=[token, 1]))
    assert b'name="q1" value="2" checked' in page1.content


def test_a_required_question_left_empty_keeps_the_other_answers(client, token, screening_packet):
    identify(client, token)
    partial = {k: v for k, v in PHQ9_ALL_ZERO.items() if k != "q5"} | {"q1": "3"}
    r = client.post(reverse("intake_page", args=[token, 1]), partial)
    assert r.status_code == 400 and b"This question needs an answer" in r.content
    response = screening_packet.responses.get(questionnaire__code="phq9")
    assert response.answers["q1"] == "3" and response.answers["q5"] == ""


def _registration(client, starter, patient, upload):
    packet = packet_for(patient, codes=["registration"])
    token = make_token(packet)
    identify(client, token)
    data = {"member_id": "NEW123", "group_number": "G-9", "card_front": upload}
    return packet, client.post(reverse("intake_page", args=[token, 3]), data)


@pytest.mark.parametrize(
    ("upload", "message"),
    [
        (SimpleUploadedFile("card.gif", b"GIF89a" + b"\x00" * 40, content_type="image/gif"), b"Only PDF, PNG and JPEG"),
        (SimpleUploadedFile("card.png", PNG + b"\x00" * 2048, content_type="image/png"), b"the limit is"),
    ],
)
def test_a_bad_card_photo_is_refused_and_the_other_answers_kept(
    client, starter, patient, settings, tmp_path, upload, message
):
    settings.MEDIA_ROOT = tmp_path
    settings.DOCUMENT_MAX_BYTES = 1024
    packet, r = _registration(client, starter, patient, upload)
    assert r.status_code == 400 and message in r.content
    assert b'value="NEW123"' in r.content  # still on the form
    answers = packet.responses.get().answers
    assert answers["member_id"] == "NEW123" and answers["group_number"] == "G-9" and "card_front" not in answers
    assert not ChartDocument.objects.exists()


def test_a_good_card_photo_is_filed_to_the_chart(client, starter, patient, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    packet, r = _registration(client, starter, patient, SimpleUploadedFile("card.png", PNG, content_type="image/png"))
    assert r.status_code == 302
    doc = ChartDocument.objects.get()
    assert (doc.patient, doc.category, doc.content_type) == (patient, "insurance_card", "image/png")
    assert packet.responses.get().answers["card_front"] == str(doc.public_id)


# --- submission ----------------------------------------------------------------------------------------


def test_submit_is_refused_while_a_page_is_unanswered(client, token, screening_packet):
    identify(client, token)
    client.post(reverse("intake_page", args=[token, 1]), PHQ9_ALL_ZERO)
    r = client.post(reverse("intake_submit", args=[token]))
    assert r.status_code == 400 and b"Page 2" in r.content
    screening_packet.refresh_from_db()
    assert screening_packet.status == S.IN_PROGRESS


def test_the_patient_completes_and_submits_and_the_link_then_says_done(client, token, screening_packet):
    identify(client, token)
    client.post(reverse("intake_page", args=[token, 1]), PHQ9_ALL_ZERO | {"q1": "2", "q2": "3"})
    r = client.post(reverse("intake_page", args=[token, 2]), {f"q{i}": "1" for i in range(1, 8)})
    assert r["Location"] == reverse("intake_submit", args=[token])
    r = client.post(reverse("intake_submit", args=[token]))
    assert r.status_code == 200 and b"Thank you" in r.content
    screening_packet.refresh_from_db()
    assert (screening_packet.status, screening_packet.phq9_score, screening_packet.phq9_band) == (
        S.SUBMITTED,
        5,
        "mild",
    )
    assert (screening_packet.gad7_score, screening_packet.gad7_band, screening_packet.item9_positive) == (
        7,
        "mild",
        False,
    )
    assert client.get(reverse("intake_start", args=[token])).content.count(b"Thank you") == 1


def test_patient_pages_are_not_cached(client, token):
    r = client.get(reverse("intake_start", args=[token]))
    assert "no-store" in r["Cache-Control"]


def test_dob_parser_accepts_the_common_forms():
    from intake.services import parse_date

    assert parse_date("1970-05-17") == parse_date("05/17/1970") == date(1970, 5, 17)
    assert parse_date("17.05.1970") is None
