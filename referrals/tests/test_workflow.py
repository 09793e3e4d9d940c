"""Every (from, to) pair against the table, who may move a referral, what each move records."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from referrals import services, workflow
from referrals.models import Referral, ReferralContact
from tests.factories import PatientFactory, UserFactory
from vma.exceptions import ActionRefused, NotPermitted
from vma.models import WorkItem
from vma.roles import Role

from .factories import advance, document, ready, specialist_with_token

S = Referral.Status
STATES = list(S.values)


def _put_in(referral: Referral, status: str) -> Referral:
    """Set a referral in a state directly, with the columns that state's constraints ask for."""
    now = timezone.now()
    fields: dict = {"status": status}
    if status != S.DRAFT:
        fields["sent_at"] = now - timedelta(days=2)
    if status in (S.REPORT_RECEIVED, S.CLOSED):
        fields["report_received_at"] = now
    if status == S.CLOSED:
        fields["reviewed_at"] = now
    if status in Referral.ENDED:
        fields.update(status_reason="set up", ended_at=now)
    if status == S.SCHEDULED:
        fields["appointment_at"] = now + timedelta(days=3)
    Referral.objects.filter(pk=referral.pk).update(**fields)
    return Referral.objects.get(pk=referral.pk)


def _attempt(referral: Referral, to: str, provider) -> Referral | None:
    now = timezone.now()
    if to == S.SENT:
        return workflow.send_referral(referral, actor=provider, now=now)
    if to == S.ACKNOWLEDGED:
        return workflow.acknowledge_referral(referral, actor=provider, now=now)
    if to == S.SCHEDULED:
        return workflow.schedule_referral(referral, actor=provider, appointment_at=now + timedelta(days=9), now=now)
    if to == S.SEEN:
        return workflow.mark_seen(referral, actor=provider, now=now)
    if to == S.REPORT_RECEIVED:
        return workflow.receive_report(referral, actor=provider, document=document(referral.patient), now=now)
    if to == S.CLOSED:
        return workflow.review_report(referral, actor=provider, now=now)
    if to == S.DECLINED:
        return workflow.decline_referral(referral, actor=provider, reason="Not our field", now=now)
    if to == S.CANCELLED:
        return workflow.cancel_referral(referral, actor=provider, reason="Patient declined", now=now)
    assert to == S.EXPIRED
    Referral.objects.filter(pk=referral.pk).update(authorization_expires_on=timezone.localdate() - timedelta(days=1))
    return workflow.expire_referral(referral, now=now)


def test_nothing_moves_back_to_draft():
    assert all(S.DRAFT not in targets for targets in workflow.TRANSITIONS.values())
    assert set(workflow.TRANSITIONS) == set(STATES)


@pytest.mark.parametrize("to", [s for s in STATES if s != S.DRAFT])
@pytest.mark.parametrize("start", STATES)
def test_every_pair_against_the_table(practice, patient, start, to):
    provider = practice.users[Role.PROVIDER]
    referral = _put_in(ready(patient), start)
    allowed = to in workflow.TRANSITIONS[start]
    before = ReferralContact.objects.filter(referral=referral).count()
    if start == to == S.ACKNOWLEDGED:
        # Not a move: a retry of the same answer is accepted and records nothing.
        assert _attempt(referral, to, provider).status == S.ACKNOWLEDGED
        assert ReferralContact.objects.filter(referral=referral).count() == before
        return
    if allowed:
        moved = _attempt(referral, to, provider)
        assert moved is not None and moved.status == to
        contact = ReferralContact.objects.filter(referral=referral).order_by("-id").first()
        assert contact is not None and (contact.from_status, contact.to_status) == (start, to)
    elif to == S.EXPIRED:
        assert _attempt(referral, to, provider) is None  # the system's rule simply does not apply
        assert Referral.objects.get(pk=referral.pk).status == start
    else:
        with pytest.raises(ActionRefused):
            _attempt(referral, to, provider)
        assert Referral.objects.get(pk=referral.pk).status == start


def test_a_move_records_who_when_how_and_reclocks(practice, patient, vma):
    referral = advance(ready(patient), S.SENT)
    t = timezone.now()
    referral = workflow.acknowledge_referral(referral, actor=vma, note="Office has it", channel="phone", now=t)
    c = referral.contacts.order_by("-id").first()
    assert (c.by, c.channel, c.direction, c.note, c.at) == (vma, "phone", "in", "Office has it", t)
    assert referral.acknowledged_at == t
    assert referral.followup_due_at is not None  # now the appointment clock


@pytest.mark.parametrize("role", [Role.BILLING, Role.MANAGER, Role.ADMIN])
def test_roles_without_referral_work_are_refused(practice, patient, role):
    referral = ready(patient)
    with pytest.raises(NotPermitted):
        workflow.send_referral(referral, actor=practice.users[role])
    with pytest.raises(NotPermitted):
        workflow.cancel_referral(referral, actor=practice.users[role], reason="x")
    assert Referral.objects.get(pk=referral.pk).status == S.DRAFT


def test_another_teams_people_are_refused(practice, other_patient, vma):
    referral = ready(other_patient)
    with pytest.raises(NotPermitted):
        workflow.send_referral(referral, actor=vma)


def test_only_a_provider_reviews(practice, patient, vma):
    referral = advance(ready(patient), S.REPORT_RECEIVED)
    with pytest.raises(NotPermitted):
        workflow.review_report(referral, actor=vma)
    assert Referral.objects.get(pk=referral.pk).status == S.REPORT_RECEIVED


def test_a_specialist_answers_only_its_own(practice, patient):
    mine, account, _ = specialist_with_token()
    _other, other_account, _ = specialist_with_token(organisation="Other Heart")
    referral = advance(ready(patient, to=mine), S.SENT)
    with pytest.raises(NotPermitted):
        workflow.acknowledge_referral(referral, actor=other_account)
    moved = workflow.acknowledge_referral(referral, actor=account)
    assert moved.status == S.ACKNOWLEDGED and moved.contacts.order_by("-id").first().channel == "api"
    # The specialist cannot do the practice's moves.
    with pytest.raises(NotPermitted):
        workflow.cancel_referral(moved, actor=account, reason="no")
    # An inactive specialist's account no longer answers.
    mine.active = False
    mine.save(update_fields=["active"])
    with pytest.raises(NotPermitted):
        workflow.schedule_referral(moved, actor=account, appointment_at=timezone.now() + timedelta(days=3))


@pytest.mark.parametrize("fn", ["cancel", "decline"])
def test_ending_needs_a_reason(practice, patient, vma, fn):
    referral = advance(ready(patient), S.SENT)
    call = workflow.cancel_referral if fn == "cancel" else workflow.decline_referral
    with pytest.raises(ActionRefused) as exc:
        call(referral, actor=vma, reason="  ")
    assert exc.value.status_code == 400 and "reason" in exc.value.message
    assert Referral.objects.get(pk=referral.pk).status == S.SENT


def test_the_database_refuses_an_end_without_a_reason(patient):
    referral = ready(patient)
    with pytest.raises(IntegrityError), transaction.atomic():
        Referral.objects.filter(pk=referral.pk).update(status=S.CANCELLED, ended_at=timezone.now())


def test_every_end_state_carries_its_reason(patient):
    for to in (S.CLOSED, S.DECLINED, S.CANCELLED, S.EXPIRED):
        r = advance(ready(PatientFactory(care_team=patient.care_team)), to)
        assert r.status == to and r.status_reason and r.ended_at is not None


def test_schedule_refuses_impossible_dates_and_accepts_a_retry(practice, patient, vma):
    referral = advance(ready(patient), S.SENT)
    with pytest.raises(ActionRefused):
        workflow.schedule_referral(referral, actor=vma, appointment_at=timezone.now() + timedelta(days=800))
    with pytest.raises(ActionRefused):
        workflow.schedule_referral(referral, actor=vma, appointment_at=referral.sent_at - timedelta(days=5))
    when = timezone.now() + timedelta(days=4)
    workflow.schedule_referral(referral, actor=vma, appointment_at=when)
    n = ReferralContact.objects.filter(referral=referral).count()
    again = workflow.schedule_referral(referral, actor=vma, appointment_at=when)
    assert again.status == S.SCHEDULED and ReferralContact.objects.filter(referral=referral).count() == n
    later = workflow.schedule_referral(referral, actor=vma, appointment_at=when + timedelta(days=2))
    assert later.appointment_at == when + timedelta(days=2)
    assert later.first_scheduled_at is not None and "Rescheduled" in later.contacts.order_by("-id").first().note


def test_a_further_report_reopens_the_review(practice, patient, provider):
    referral = advance(ready(patient), S.CLOSED)
    addendum = document(patient, "Addendum")
    again = workflow.receive_report(referral, actor=None, document=addendum)
    assert again.status == S.REPORT_RECEIVED and again.ended_at is None and again.status_reason == ""
    assert WorkItem.objects.filter(kind=workflow.REPORT_REVIEW, subject_id=referral.pk, status="open").count() == 1
    assert workflow.review_report(again, actor=provider).status == S.CLOSED


def test_refer_again_after_a_decline_copies_the_packet(practice, patient, vma):
    referral = advance(ready(patient), S.DECLINED)
    item = WorkItem.objects.get(kind=workflow.DECLINED_ITEM, subject_id=referral.pk)
    assert item.status == "open" and "Not our field" in item.detail
    new = services.refer_again(referral, actor=vma)
    assert new.status == S.DRAFT and new.replaces == referral and new.specialist is None
    assert (new.reason, new.clinical_notes, new.self_pay) == (referral.reason, referral.clinical_notes, True)
    item.refresh_from_db()
    assert item.status == "done"
    assert WorkItem.objects.filter(kind=workflow.PREPARE, subject_id=new.pk, status="open").exists()
    with pytest.raises(ActionRefused):
        services.refer_again(referral, actor=vma)


def test_front_office_cannot_create(practice, patient):
    front = practice.users[Role.FRONT_OFFICE]
    with pytest.raises(NotPermitted):
        services.create_referral(patient, actor=front, specialty="Cardiology")


def test_create_by_hand_opens_the_prepare_item(practice, patient, vma):
    referral = services.create_referral(patient, actor=vma, specialty="Dermatology", diagnosis_code="l70.0")
    assert referral.referring_provider == patient.care_team.provider and referral.diagnosis_code == "L70.0"
    item = WorkItem.objects.get(kind=workflow.PREPARE, subject_id=referral.pk)
    assert item.queue == "clinical_support" and "Specialist" in item.detail and "Reason" in item.detail


def test_a_service_account_without_a_specialist_is_nobody(practice, patient):
    robot = UserFactory(is_service_account=True)
    referral = advance(ready(patient), S.SENT)
    with pytest.raises(NotPermitted):
        workflow.acknowledge_referral(referral, actor=robot)
