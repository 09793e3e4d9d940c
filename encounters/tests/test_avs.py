"""The after visit summary: content from the signed note, delivery, the patient's two-identifier link, the sweep."""

from __future__ import annotations

import re
import time
from datetime import timedelta

import pytest
from django.core import mail, signing
from django.urls import reverse
from django.utils import timezone

from encounters import avs, services
from encounters.models import AfterVisitSummary, AvsDelivery
from patients.models import Medication
from vma import outbox
from vma.exceptions import ActionRefused, NotPermitted
from vma.models import AuditEvent, OutboxMessage, WorkItem
from vma.roles import Role

from .helpers import material, signed_order

HOURS = 48


@pytest.fixture
def orders(signed_note, scribe, provider):
    """The visit's orders as the orders app leaves them: signed ones go on the summary, a pended one does not."""
    from orders.models import Order

    signed_order(
        signed_note, scribe, provider, kind="prescription", title="Lisinopril 10 mg", drug="Lisinopril",
        strength="10 mg", sig="1 tablet by mouth daily", quantity=30, refills=2, pharmacy="Main St Pharmacy",
    )  # fmt: skip
    signed_order(
        signed_note, scribe, provider, kind="lab", title="Basic metabolic panel", instructions="Fasting not needed."
    )
    signed_order(signed_note, scribe, provider, kind="follow_up", title="Follow-up", follow_up_in_days=28)
    Order.objects.create(
        encounter=signed_note, patient=signed_note.patient, provider=provider, pended_by=scribe, kind="imaging",
        title="Chest X-ray", status=Order.Status.PENDED,
    )  # fmt: skip


def _deliver_and_send(enc, actor, **kw):
    summary, delivery = avs.deliver(enc, actor=actor, **kw)
    message = OutboxMessage.objects.get(key=f"encounters.avs:{delivery.public_id}")
    assert outbox.deliver(message.pk) == "done"
    delivery.refresh_from_db()
    return summary, delivery


# --- content -------------------------------------------------------------------------------------


def test_content_comes_from_the_signed_note_in_plain_words(signed_note, orders, provider):
    handout = material("Lowering your blood pressure", provider)
    summary = avs.prepare(signed_note, education=[handout.public_id], follow_up="Call if headaches.", actor=provider)
    c = avs.build_content(signed_note, summary)
    assert c["diagnoses"] == [{"code": "I10", "description": "Essential (primary) hypertension"}]
    assert c["plan"].startswith("Start lisinopril 10 mg daily")
    [rx] = c["medications"]
    assert rx["title"] == "Lisinopril 10 mg" and "1 tablet by mouth daily" in rx["instructions"]
    assert [o["title"] for o in c["orders"]] == ["Basic metabolic panel"]
    assert "Fasting not needed." in c["orders"][0]["instructions"]
    assert "Chest X-ray" not in str(c)  # pended, not signed: not promised to the patient
    assert "4 weeks" in c["follow_up"][0]["instructions"] and c["follow_up_words"] == "Call if headaches."
    assert c["education"] == [{"title": handout.title, "body": handout.body}]
    assert c["signed_by"] == str(provider)


def test_chart_medication_changes_of_the_visit_day_are_listed(signed_note):
    day = signed_note.date_of_service
    Medication.objects.create(patient=signed_note.patient, name="Amlodipine", dose="5 mg", stop_date=day)
    Medication.objects.create(
        patient=signed_note.patient, name="Metformin", dose="500 mg", sig="twice daily", start_date=day
    )
    Medication.objects.create(
        patient=signed_note.patient, name="Aspirin", dose="81 mg", start_date=day - timedelta(days=90)
    )
    c = avs.build_content(signed_note, avs.summary_for(signed_note))
    lines = {m["title"]: m["instructions"] for m in c["medications"]}
    assert lines == {
        "Amlodipine 5 mg": "Stop taking Amlodipine 5 mg.",
        "Metformin 500 mg": "Take Metformin 500 mg: twice daily.",
    }


def test_no_summary_before_the_note_is_signed(ready_note, scribe):
    with pytest.raises(ActionRefused, match="not signed yet"):
        avs.summary_for(ready_note)
    with pytest.raises(ActionRefused, match="not signed yet"):
        avs.deliver(ready_note, actor=scribe)
    assert not AfterVisitSummary.objects.exists()


def test_only_approved_active_materials_can_be_chosen_and_only_by_a_provider(signed_note, provider, scribe):
    draft = material("Unreviewed handout", None)
    retired = material("Old handout", provider, active=False)
    good = material("Salt and your heart", provider)
    for bad in (draft, retired):
        with pytest.raises(ActionRefused, match="approved"):
            avs.prepare(signed_note, education=[good.public_id, bad.public_id], follow_up="", actor=provider)
    with pytest.raises(ActionRefused, match="from the library"):
        avs.prepare(signed_note, education=["not-a-uuid"], follow_up="", actor=provider)
    with pytest.raises(NotPermitted):
        avs.prepare(signed_note, education=[good.public_id], follow_up="", actor=scribe)
    summary = avs.prepare(signed_note, education=[good.public_id], follow_up="", actor=provider)
    assert list(summary.education.all()) == [good]
    # Retired after being chosen: no longer on what the patient gets.
    services.review_material(good, action="retire", actor=provider)
    assert avs.build_content(signed_note, summary)["education"] == []


def test_the_library_approves_a_providers_handout_and_waits_for_others(provider, scribe):
    mine = services.propose_material(title="Walking plan", body="Walk 20 minutes a day.", actor=provider)
    theirs = services.propose_material(title="Sleep tips", body="Same time every night.", actor=scribe)
    assert mine.approved_by == provider and mine.selectable
    assert theirs.approved_at is None and not theirs.selectable
    with pytest.raises(NotPermitted):
        services.review_material(theirs, action="approve", actor=scribe)
    assert services.review_material(theirs, action="approve", actor=provider).selectable
    with pytest.raises(ActionRefused, match="already has"):
        services.propose_material(title="walking plan", body="Again.", actor=provider)


# --- delivery ------------------------------------------------------------------------------------


def test_delivery_by_email_sends_only_the_link_and_records_it(signed_note, orders, scribe, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    patient = signed_note.patient
    patient.email, patient.preferred_channel = "pat@example.invalid", "email"
    patient.save()
    summary, delivery = _deliver_and_send(signed_note, scribe)
    assert delivery.channel == AvsDelivery.Channel.EMAIL and delivery.recipient == "pat@example.invalid"
    assert delivery.sent_at is not None and delivery.requested_by == scribe
    assert summary.delivered_at is not None and summary.content["plan"].startswith("Start lisinopril")
    assert delivery.content_hash == summary.content_hash
    [email] = mail.outbox
    assert email.to == ["pat@example.invalid"]
    token = re.search(r"/encounters/summary/([^/\s]+)/", email.body).group(1)
    assert avs.read_token(token) == str(summary.public_id)  # a signed link to this summary
    assert "hypertension" not in email.body.lower() and "lisinopril" not in email.body.lower()
    # The handler runs again harmlessly.
    avs.send_avs_link({"delivery_id": delivery.pk})
    assert len(mail.outbox) == 1
    assert WorkItem.objects.get(kind="encounters.avs_deliver", subject_id=signed_note.pk).status == "done"


def test_delivery_by_text_uses_the_phone_and_refuses_without_contact(signed_note, scribe, caplog):
    patient = signed_note.patient
    patient.preferred_channel = "portal"
    patient.save()
    with caplog.at_level("INFO"):
        _summary, delivery = _deliver_and_send(signed_note, scribe)
    assert delivery.channel == AvsDelivery.Channel.SMS and delivery.recipient == patient.phone
    assert "/encounters/summary/" in caplog.text
    patient.phone, patient.email = "", ""
    patient.save()
    with pytest.raises(ActionRefused, match="No phone or e-mail on file"):
        avs.deliver(signed_note, actor=scribe)
    with pytest.raises(ActionRefused, match="No e-mail address"):
        avs.deliver(signed_note, actor=scribe, channel="email")
    assert AvsDelivery.objects.count() == 1


def test_each_delivery_freezes_what_the_patient_sees(signed_note, scribe, provider):
    summary, _ = avs.deliver(signed_note, actor=scribe)
    first_hash = summary.content_hash
    handout = material("Home blood pressure checks", provider)
    avs.prepare(signed_note, education=[handout.public_id], follow_up="", actor=provider)
    summary.refresh_from_db()
    assert summary.content["education"] == [] and summary.content_hash == first_hash  # not sent yet
    summary, _ = avs.deliver(signed_note, actor=scribe)
    assert summary.content["education"][0]["title"] == handout.title and summary.content_hash != first_hash
    assert summary.deliveries.count() == 2


def test_the_staff_page_previews_prepares_and_delivers(client, signed_note, orders, provider, scribe):
    handout = material("Salt and your heart", provider)
    client.force_login(provider)
    page = client.get(reverse("encounters_avs", args=[signed_note.public_id])).content.decode()
    assert "Essential (primary) hypertension" in page and "Basic metabolic panel" in page and handout.title in page
    client.post(
        reverse("encounters_avs_prepare", args=[signed_note.public_id]),
        {"education": [str(handout.public_id)], "follow_up": "Come back in 4 weeks."},
    )
    client.force_login(scribe)
    response = client.post(
        reverse("encounters_avs_deliver", args=[signed_note.public_id]), {"channel": "sms"}, follow=True
    )
    assert "Sent" in response.content.decode()
    summary = AfterVisitSummary.objects.get(encounter=signed_note)
    assert summary.content["follow_up_words"] == "Come back in 4 weeks." and summary.delivered_at is not None


def test_the_api_reads_prepares_and_delivers(client, signed_note, provider, scribe):
    handout = material("Salt and your heart", provider)
    url = reverse("api-encounter-summary", args=[signed_note.public_id])
    client.force_login(provider)
    prepared = client.patch(url, {"education": [str(handout.public_id)]}, content_type="application/json")
    assert prepared.status_code == 200 and prepared.json()["education"] == [str(handout.public_id)]
    client.force_login(scribe)
    assert client.patch(url, {"education": []}, content_type="application/json").status_code == 403
    got = client.get(url).json()
    assert got["delivered_at"] is None and got["current_content"]["education"][0]["title"] == handout.title
    sent = client.post(
        reverse("api-encounter-deliver", args=[signed_note.public_id]), {}, content_type="application/json"
    )
    assert sent.status_code == 200 and sent.json()["deliveries"][0]["channel"] == "sms"
    assert sent.json()["delivered_content"]["diagnoses"][0]["code"] == "I10"


# --- the patient's link --------------------------------------------------------------------------


def _link(summary):
    return reverse("encounters_avs_patient", args=[avs.make_token(summary)])


def test_the_patient_confirms_two_identifiers_before_seeing_anything(client, signed_note, scribe):
    summary, _ = avs.deliver(signed_note, actor=scribe)
    link = _link(summary)
    first = client.get(link).content.decode()
    assert "Last name" in first and "hypertension" not in first.lower()
    view = reverse("encounters_avs_patient_view", args=[avs.make_token(summary)])
    assert client.get(view)["Location"] == link  # not verified: back to the questions
    wrong = client.post(link, {"last_name": "Nobody", "date_of_birth": "1970-05-17"})
    assert wrong.status_code == 400 and "does not match" in wrong.content.decode()
    ok = client.post(link, {"last_name": " inpanel ", "date_of_birth": "05/17/1970"})
    assert ok.status_code == 302 and ok["Location"] == view
    shown = client.get(view).content.decode()
    assert "Essential (primary) hypertension" in shown and "Start lisinopril" in shown
    summary.refresh_from_db()
    assert summary.first_viewed_at is not None and summary.view_count == 1


def test_wrong_answers_are_limited_logged_and_lock_the_link(client, signed_note, scribe, settings):
    settings.AVS_IDENTITY_ATTEMPTS = 3
    summary, _ = avs.deliver(signed_note, actor=scribe)
    link = _link(summary)
    for _ in range(2):
        assert client.post(link, {"last_name": "Wrong", "date_of_birth": "1970-05-17"}).status_code == 400
    locked = client.post(link, {"last_name": "Wrong", "date_of_birth": "1970-05-17"})
    assert locked.status_code == 403 and "locked" in locked.content.decode()
    # Even the right answers no longer open it.
    assert client.post(link, {"last_name": "Inpanel", "date_of_birth": "1970-05-17"}).status_code == 403
    summary.refresh_from_db()
    assert summary.is_locked and summary.failed_identity_checks == 3 and summary.first_viewed_at is None
    events = AuditEvent.objects.filter(action="encounters.avs_identity_failed").order_by("seq")
    assert [e.detail["attempt"] for e in events] == [1, 2, 3] and events.last().detail["locked"] is True
    assert "Wrong" not in str([e.detail for e in events])
    # Staff re-send after a phone call: the link works again.
    avs.deliver(signed_note, actor=scribe)
    assert client.post(link, {"last_name": "Inpanel", "date_of_birth": "1970-05-17"}).status_code == 302


def test_bad_expired_and_undelivered_links_say_so(client, signed_note, scribe, settings):
    summary = avs.summary_for(signed_note)
    assert client.get(_link(summary)).status_code == 400  # not delivered yet
    avs.deliver(signed_note, actor=scribe)
    assert client.get(reverse("encounters_avs_patient", args=["garbage"])).status_code == 400
    tampered = avs.make_token(summary)[:-2] + "xx"
    assert client.get(reverse("encounters_avs_patient", args=[tampered])).status_code == 400

    class MonthOld(signing.TimestampSigner):
        def timestamp(self) -> str:
            return signing.b62_encode(int(time.time()) - (settings.AVS_LINK_MAX_AGE_DAYS + 1) * 86400)

    token = MonthOld(salt=avs.SALT).sign(str(summary.public_id))
    expired = client.get(reverse("encounters_avs_patient", args=[token]))
    assert expired.status_code == 400 and "expired" in expired.content.decode()


def test_first_view_is_recorded_once_and_audited(signed_note, scribe):
    summary, _ = avs.deliver(signed_note, actor=scribe)
    assert avs.record_view(summary, remote_addr="203.0.113.9") is True
    first = AfterVisitSummary.objects.get(pk=summary.pk).first_viewed_at
    assert avs.record_view(summary, remote_addr="203.0.113.9") is False
    summary.refresh_from_db()
    assert summary.first_viewed_at == first and summary.view_count == 2
    views = AuditEvent.objects.filter(action="patient.avs_view")
    assert [v.patient_ids for v in views] == [[signed_note.patient_id]] * 2


# --- the 48 h sweep ------------------------------------------------------------------------------


def test_not_viewed_in_48_hours_opens_one_call_item(signed_note, scribe):
    summary, _ = avs.deliver(signed_note, actor=scribe)
    sent = summary.delivered_at
    assert avs.sweep_not_viewed(now=sent + timedelta(hours=HOURS - 1)) == 0
    assert avs.sweep_not_viewed(now=sent + timedelta(hours=HOURS, minutes=1)) == 1
    item = WorkItem.objects.get(kind=avs.AVS_NOT_VIEWED)
    assert item.queue == Role.CLINICAL_SUPPORT and item.patient == signed_note.patient and item.subject == summary
    assert avs.sweep_not_viewed(now=sent + timedelta(hours=HOURS + 5)) == 0  # once only
    # The patient opens it later: the call is no longer needed.
    avs.record_view(summary, remote_addr=None)
    item.refresh_from_db()
    assert item.status == "done"
    # Completed items are not reopened by later sweeps.
    assert avs.sweep_not_viewed(now=sent + timedelta(days=10)) == 0
    assert WorkItem.objects.filter(kind=avs.AVS_NOT_VIEWED).count() == 1


def test_a_viewed_summary_opens_no_item(signed_note, scribe):
    summary, _ = avs.deliver(signed_note, actor=scribe)
    avs.record_view(summary, remote_addr=None)
    assert avs.sweep_not_viewed(now=summary.delivered_at + timedelta(hours=HOURS + 1)) == 0
    assert not WorkItem.objects.filter(kind=avs.AVS_NOT_VIEWED).exists()


def test_the_practice_can_turn_the_follow_up_off(signed_note, scribe, settings):
    settings.AVS_NOT_VIEWED_FOLLOW_UP = False
    summary, _ = avs.deliver(signed_note, actor=scribe)
    assert avs.sweep_not_viewed(now=summary.delivered_at + timedelta(days=3)) == 0
    assert not WorkItem.objects.filter(kind=avs.AVS_NOT_VIEWED).exists()


def test_the_sweep_task_runs_with_a_clock(signed_note, scribe):
    from encounters.tasks import sweep_avs_not_viewed

    summary, _ = avs.deliver(signed_note, actor=scribe)
    later = (summary.delivered_at + timedelta(hours=HOURS + 1)).isoformat()
    assert sweep_avs_not_viewed(later) == 1
    assert sweep_avs_not_viewed(timezone.now().isoformat()) == 0
