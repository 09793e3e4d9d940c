"""Refills in the signing queue (exactly once, the hash, only the request's provider) and telling the
pharmacy and the patient afterwards (the outbox handler, refusals, unreachable patients)."""

from __future__ import annotations

import threading

import pytest
from django.apps import apps
from django.contrib.contenttypes.models import ContentType
from django.core import mail
from django.db import connection
from django.utils import timezone

from refills import notify, starter, workflow
from refills.models import RefillRequest
from refills.signing import RefillSignable
from tests.factories import PatientFactory, UserFactory
from vma import outbox
from vma.access import add_to_care_team
from vma.exceptions import ActionRefused
from vma.models import OutboxMessage, WorkItem
from vma.roles import Role
from vma.signing import signable_kind

from .helpers import fresh, request, statin_chart

S = RefillRequest.Status
P = RefillRequest.PharmacyStatus
KIND = RefillSignable()


def items_of(refill: RefillRequest, **kw) -> list[WorkItem]:
    ct = ContentType.objects.get_for_model(RefillRequest)
    return list(WorkItem.objects.filter(subject_type=ct, subject_id=refill.pk, **kw).order_by("id"))


def deliver_all() -> list[str]:
    """What the worker would do: deliver every due outbox message."""
    return [outbox.deliver(pk) for pk in OutboxMessage.objects.filter(status="pending").values_list("pk", flat=True)]


@pytest.fixture
def pended(practice, vma):
    patient = PatientFactory(care_team=practice.team, email="pat@example.invalid", phone="555-0142")
    statin_chart(patient)
    refill = fresh(request(vma, patient).request)
    assert refill.status == S.PENDED
    return refill


def sign(refill: RefillRequest, provider, digest: str | None = None):
    return KIND.sign(
        [refill.public_id], provider=provider, hashes={refill.public_id: digest or workflow.signing_hash(refill)}
    )


def test_the_kind_is_registered():
    assert isinstance(signable_kind("refill"), RefillSignable)


def test_pended_refills_are_in_their_providers_queue_only(pended, provider, practice, vma):
    [line] = KIND.pending_for(provider)
    assert line.kind == "refill" and line.public_id == pended.public_id and line.patient == pended.patient
    assert line.title == "Atorvastatin 20 mg tablet 20 mg refill"
    assert line.effect.startswith("Sent to Main Street Pharmacy (#90, 90 days, 3 refills)")
    assert line.pended_by == "Protocol check" and line.content_hash == workflow.signing_hash(pended)
    assert not line.requires_second_factor
    assert KIND.pending_for(practice.outsider_provider) == []
    assert KIND.pending_for(vma) == []


def test_signing_stores_who_when_and_the_hash_and_effects_wait_for_commit(
    pended, provider, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks() as callbacks:
        [outcome] = sign(pended, provider)
        assert OutboxMessage.objects.filter(handler=workflow.NOTIFY_HANDLER).count() == 1
        assert fresh(pended).pharmacy_status == ""  # nothing sent inside the transaction
    assert outcome.ok and outcome.message.startswith("Signed at")
    signed = fresh(pended)
    assert signed.status == S.SIGNED and signed.signed_by == provider and signed.signed_at is not None
    assert signed.signed_hash == workflow.signing_hash(signed)
    assert len(callbacks) >= 1  # the outbox doorbell rings after commit
    assert items_of(signed, kind=workflow.SIGN)[0].status == WorkItem.Status.DONE


def test_a_stale_hash_is_refused(pended, provider, vma):
    from refills import services

    shown = workflow.signing_hash(pended)
    services.amend_request(pended, actor=vma, changes={"quantity": 30})
    [outcome] = sign(pended, provider, shown)
    assert not outcome.ok and outcome.message == "Changed since you reviewed it: open it again before signing."
    assert fresh(pended).status == S.PENDED


def test_another_provider_cannot_sign_and_learns_nothing(pended, practice):
    [outcome] = sign(pended, practice.outsider_provider)
    assert not outcome.ok and outcome.message == "Not found."
    # A provider on the same care team is not the request's provider either.
    colleague = UserFactory(role=Role.PROVIDER)
    add_to_care_team(colleague, practice.team)
    [outcome] = sign(pended, colleague)
    assert not outcome.ok and outcome.message == "Not found."
    with pytest.raises(ActionRefused, match="Not found"):
        workflow.deny_refill(pended, provider=colleague, reason="No")
    assert fresh(pended).status == S.PENDED


def test_a_second_signature_says_already_signed(pended, provider):
    assert sign(pended, provider)[0].ok
    [again] = sign(pended, provider)
    assert not again.ok and again.message.startswith(f"Already signed by {provider}")


def test_only_pended_requests_sign_from_the_queue(pended, provider):
    workflow.deny_refill(pended, provider=provider, reason="Needs a visit first")
    [outcome] = sign(pended, provider)
    assert not outcome.ok and "No longer awaiting signature" in outcome.message


@pytest.mark.django_db(transaction=True)
def test_exactly_once_under_concurrent_signing(practice):
    starter.load(apps, None)
    vma, provider = practice.users[Role.CLINICAL_SUPPORT], practice.users[Role.PROVIDER]
    patient = PatientFactory(care_team=practice.team)
    statin_chart(patient)
    refill = fresh(request(vma, patient, now=timezone.now()).request)
    digest = workflow.signing_hash(refill)
    barrier = threading.Barrier(6)
    outcomes, errors = [], []

    def click() -> None:
        try:
            barrier.wait()
            outcomes.extend(KIND.sign([refill.public_id], provider=provider, hashes={refill.public_id: digest}))
        except Exception as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=click) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert sum(o.ok for o in outcomes) == 1
    assert all(o.message.startswith("Already signed") for o in outcomes if not o.ok)
    assert refill.events.filter(action="sign").count() == 1
    assert OutboxMessage.objects.filter(handler=workflow.NOTIFY_HANDLER).count() == 1


def test_send_back_returns_it_to_the_vmas_with_the_comment(pended, provider):
    [outcome] = KIND.send_back([pended.public_id], provider=provider, comment="Get a lipid panel first")
    assert outcome.ok
    back = fresh(pended)
    assert back.status == S.NEEDS_REVIEW and back.returned_comment == "Get a lipid panel first"
    [item] = items_of(back, kind=workflow.RETURNED)
    assert item.queue == Role.CLINICAL_SUPPORT and "Get a lipid panel first" in item.detail
    assert items_of(back, kind=workflow.SIGN)[0].status == WorkItem.Status.DONE
    assert KIND.pending_for(provider) == []
    assert not KIND.send_back([pended.public_id], provider=provider, comment="again")[0].ok


def test_a_controlled_refill_in_the_queue_requires_the_second_factor(practice, vma, provider):
    from .helpers import medication, visit

    patient = PatientFactory(care_team=practice.team)
    medication(patient, name="Zolpidem", dose="5 mg")
    visit(patient)
    refill = request(vma, patient, medication="zolpidem 5 mg", strength="5 mg").request
    workflow.approve_for_signing(refill, provider=provider)
    [line] = KIND.pending_for(provider)
    assert line.requires_second_factor


# --- telling the pharmacy and the patient -------------------------------------------------------------


def test_after_signing_the_pharmacy_then_the_patient_are_told_and_the_request_closes(pended, provider, settings):
    settings.SMS_BACKEND = "scheduling.notify.ConsoleSms"
    sign(pended, provider)
    assert deliver_all() == ["done"]
    done = fresh(pended)
    assert done.status == S.CLOSED and done.pharmacy_status == P.ACCEPTED
    assert done.pharmacy_reference.startswith("CONSOLE-") and done.patient_channel == "sms"
    assert done.notified_at is not None and done.closed_at is not None
    assert list(done.events.values_list("action", flat=True))[-4:] == ["pharmacy", "patient", "notified", "close"]
    assert deliver_all() == []  # nothing left; a re-run of the handler does nothing
    notify.notify({"request_id": done.pk})
    assert fresh(done).events.count() == done.events.count()


def test_the_patient_hears_on_their_preferred_channel_without_the_drug_name(pended, provider):
    pended.patient.preferred_channel = "email"
    pended.patient.save()
    sign(pended, provider)
    deliver_all()
    [message] = mail.outbox
    assert message.to == ["pat@example.invalid"]
    assert "approved and sent to Main Street Pharmacy" in message.body
    assert "torvastatin" not in message.body


def test_a_refused_transmission_opens_a_work_item_with_the_reason(pended, provider, vma):
    RefillRequest.objects.filter(pk=pended.pk).update(pharmacy="REJECT Pharmacy")
    refill = fresh(pended)
    sign(refill, provider)
    assert deliver_all() == ["done"]
    refused = fresh(refill)
    assert refused.status == S.SIGNED and refused.pharmacy_status == P.REFUSED
    assert refused.patient_notified_at is None  # not told "sent" when the pharmacy does not have it
    [item] = items_of(refused, kind=workflow.PHARMACY_REFUSED)
    assert item.is_open and item.queue == Role.CLINICAL_SUPPORT
    assert "not a participating pharmacy" in item.detail
    # The VMA resends to the pharmacy the patient now chooses: accepted, told, closed.
    notify.resend_to_pharmacy(refused, actor=vma, pharmacy="Oak Avenue Pharmacy")
    assert deliver_all() == ["done"]
    closed = fresh(refused)
    assert closed.status == S.CLOSED and closed.pharmacy == "Oak Avenue Pharmacy"
    assert items_of(closed, kind=workflow.PHARMACY_REFUSED)[0].status == WorkItem.Status.DONE


def test_a_pharmacy_told_by_phone_resolves_a_refusal(pended, provider, vma):
    RefillRequest.objects.filter(pk=pended.pk).update(pharmacy="REJECT Pharmacy")
    refill = fresh(pended)
    sign(refill, provider)
    deliver_all()
    with pytest.raises(ActionRefused, match="whom"):
        notify.record_pharmacy_told(refill, actor=vma, note="")
    done = notify.record_pharmacy_told(refill, actor=vma, note="Called J. Park at the pharmacy, 10:40")
    assert done.status == S.CLOSED and done.pharmacy_status == P.BY_PHONE and done.patient_notified_at


def test_an_unreachable_patient_becomes_a_call_for_the_front_office(pended, provider, front):
    pended.patient.phone, pended.patient.email = "", ""
    pended.patient.save()
    sign(pended, provider)
    deliver_all()
    waiting = fresh(pended)
    assert waiting.status == S.SIGNED and waiting.pharmacy_status == P.ACCEPTED
    [item] = items_of(waiting, kind=workflow.NOTIFY_PATIENT)
    assert item.queue == Role.FRONT_OFFICE and "no phone number or email" in item.detail
    done = notify.record_patient_told(waiting, actor=front, note="Called her, she will pick it up")
    assert done.status == S.CLOSED and done.patient_channel == "phone"


def test_a_denial_tells_the_pharmacy_and_the_patient(pended, provider, caplog):
    with pytest.raises(ActionRefused, match="reason"):
        workflow.deny_refill(pended, provider=provider, reason="  ")
    workflow.deny_refill(pended, provider=provider, reason="Needs a visit first")
    with caplog.at_level("INFO", logger="vma.pharmacy"):
        deliver_all()
    done = fresh(pended)
    assert done.status == S.CLOSED and done.denied_by == provider and done.deny_reason == "Needs a visit first"
    assert any("refill_denied" in r.getMessage() for r in caplog.records)
    assert done.patient_notified_at is not None


def test_an_unreachable_pharmacy_is_retried_by_the_outbox(pended, provider, settings):
    settings.PHARMACY_BACKEND = "refills.tests.test_signing.DownBackend"
    sign(pended, provider)
    assert deliver_all() == ["retry"]
    msg = OutboxMessage.objects.get(handler=workflow.NOTIFY_HANDLER)
    assert msg.status == "pending" and "ConnectionError" in msg.last_error
    assert fresh(pended).status == S.SIGNED and fresh(pended).pharmacy_status == ""


class DownBackend:
    def send(self, message):
        raise ConnectionError("pharmacy network unreachable")
