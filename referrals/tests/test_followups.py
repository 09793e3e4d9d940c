"""The follow-up cadence on a clock the test controls: each rule's item, its repeat, its closing;
the HMO authorization's 14-day warning; expiry by rule."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from django.utils import timezone

from referrals import followups, services, workflow
from referrals.models import FollowUpRule, Referral
from tests.factories import CoverageFactory
from vma import workflow as queue
from vma.models import WorkItem

from .factories import at, document, hmo_payer, ready, specialist

S = Referral.Status
FRIDAY = date(2026, 3, 6)  # a Friday; no holiday nearby


def items(referral: Referral, kind: str, status: str | None = "open") -> list[WorkItem]:
    qs = WorkItem.objects.filter(kind=kind, subject_id=referral.pk)
    if status:
        qs = qs.filter(status=status)
    return list(qs.order_by("id"))


@pytest.mark.parametrize(
    ("start", "days", "expected"),
    [
        (at(FRIDAY), 3, at(date(2026, 3, 11))),  # Fri + 3 business days = Wed, same time
        (at(date(2026, 3, 7)), 3, at(date(2026, 3, 11))),  # a Saturday counts from Monday
        (at(date(2026, 3, 9), 16), 10, at(date(2026, 3, 23), 16)),  # Mon + 10 = Mon two weeks on
        (at(FRIDAY), 1, at(date(2026, 3, 9))),
    ],
)
def test_business_days(start, days, expected):
    assert followups.add_business_days(start, days) == expected


def test_no_acknowledgement_in_3_business_days_opens_an_item_with_the_history(practice, patient, vma):
    # given a referral sent Friday 10:00 by fax
    referral = workflow.send_referral(ready(patient), actor=vma, now=at(FRIDAY))
    services.record_contact(
        referral, actor=vma, channel="phone", note="Left a message with the front desk", now=at(FRIDAY, 15)
    )
    # when the sweep runs just before Wednesday 10:00, nothing; at 10:00, the item
    assert followups.sweep(now=at(date(2026, 3, 11), 9, 59)).followups == 0
    assert followups.sweep(now=at(date(2026, 3, 11), 10)).followups == 1
    [item] = items(referral, followups.NO_ACK)
    # then it says what to do and shows the contact history
    assert item.queue == "clinical_support" and item.patient == patient
    assert "no acknowledgement after 3 business days" in item.detail
    assert "Packet sent by fax 555-0100" in item.detail and "Left a message with the front desk" in item.detail
    # and a second sweep the same day opens nothing more
    assert followups.sweep(now=at(date(2026, 3, 11), 10, 30)).followups == 0
    assert len(items(referral, followups.NO_ACK, None)) == 1


def test_the_cadence_repeats_while_nothing_moves(practice, patient, vma):
    referral = workflow.send_referral(ready(patient), actor=vma, now=at(FRIDAY))
    followups.sweep(now=at(date(2026, 3, 11), 10))
    [first] = items(referral, followups.NO_ACK)
    queue.complete_item(queue.claim_item(first, actor=vma), actor=vma, note="Called: they will look for it")
    # 3 more business days from the first item: Monday 10:00
    assert followups.sweep(now=at(date(2026, 3, 16), 9)).followups == 0
    assert followups.sweep(now=at(date(2026, 3, 16), 10)).followups == 1
    assert len(items(referral, followups.NO_ACK, None)) == 2


def test_acknowledge_closes_it_then_no_appointment_in_10_business_days(practice, patient, vma):
    referral = workflow.send_referral(ready(patient), actor=vma, now=at(FRIDAY))
    followups.sweep(now=at(date(2026, 3, 11), 10))
    referral = workflow.acknowledge_referral(referral, actor=vma, channel="phone", now=at(date(2026, 3, 11), 11))
    assert items(referral, followups.NO_ACK) == [] and items(referral, followups.NO_ACK, "done")
    # 10 business days after sending: Friday March 20, 10:00
    assert followups.sweep(now=at(date(2026, 3, 20), 9, 59)).followups == 0
    assert followups.sweep(now=at(date(2026, 3, 20), 10)).followups == 1
    [item] = items(referral, followups.NO_APPOINTMENT)
    assert "no appointment after 10 business days" in item.detail
    # the appointment closes it
    workflow.schedule_referral(
        referral, actor=vma, appointment_at=at(date(2026, 3, 30), 14), now=at(date(2026, 3, 20), 11)
    )
    assert items(referral, followups.NO_APPOINTMENT) == []


def test_no_report_7_days_after_the_visit_then_report_and_review_close_the_loop(practice, patient, vma, provider):
    referral = workflow.send_referral(ready(patient), actor=vma, now=at(FRIDAY))
    visit = at(date(2026, 3, 16), 14)
    referral = workflow.schedule_referral(referral, actor=vma, appointment_at=visit, now=at(FRIDAY, 12))
    assert referral.followup_due_at == visit + timedelta(days=7)
    # nothing before 7 days after the visit
    assert followups.sweep(now=visit + timedelta(days=7, minutes=-1)).followups == 0
    assert followups.sweep(now=visit + timedelta(days=7)).followups == 1
    [item] = items(referral, followups.NO_REPORT)
    assert "no report after 7 days" in item.detail and "03/16" in item.detail
    # the report arrives: the follow-up closes, the provider's review opens; the loop is not closed yet
    referral = workflow.receive_report(referral, actor=vma, document=document(patient), now=visit + timedelta(days=8))
    assert items(referral, followups.NO_REPORT) == [] and referral.status == S.REPORT_RECEIVED
    [review] = items(referral, workflow.REPORT_REVIEW)
    assert review.queue == "provider" and referral.followup_due_at is None
    assert referral.visits_used == 1 and referral.seen_at == visit  # the report proves the visit
    closed = workflow.review_report(referral, actor=provider, note="Agree with plan", now=visit + timedelta(days=9))
    assert closed.status == S.CLOSED and items(referral, workflow.REPORT_REVIEW) == []
    assert "Agree with plan" in closed.status_reason


def test_seen_starts_the_report_clock_at_the_visit(practice, patient, vma):
    referral = workflow.send_referral(ready(patient), actor=vma, now=at(FRIDAY))
    seen = at(date(2026, 3, 10), 9)
    referral = workflow.mark_seen(referral, actor=vma, seen_at=seen, now=at(date(2026, 3, 10), 12))
    assert referral.followup_due_at == seen + timedelta(days=7) and referral.visits_used == 1
    assert items(referral, followups.NO_ACK) == []


def test_urgent_referrals_use_the_shorter_wait(practice, patient, vma):
    referral = workflow.send_referral(ready(patient, urgency="urgent"), actor=vma, now=at(FRIDAY))
    assert referral.followup_due_at == at(date(2026, 3, 9))  # 1 business day
    followups.sweep(now=at(date(2026, 3, 9)))
    [item] = items(referral, followups.NO_ACK)
    assert item.priority == WorkItem.Priority.HIGH and "1 business day" in item.detail


def test_the_rules_are_data(practice, patient, vma):
    FollowUpRule.objects.filter(code="no_ack").update(days=5)
    referral = workflow.send_referral(ready(patient), actor=vma, now=at(FRIDAY))
    assert referral.followup_due_at == at(date(2026, 3, 13))
    FollowUpRule.objects.filter(code="no_ack").update(active=False)
    assert followups.sweep(now=at(date(2026, 3, 20))).followups == 0
    assert items(referral, followups.NO_ACK, None) == []
    assert Referral.objects.get(pk=referral.pk).followup_due_at is None


def test_missing_rule_rows_fall_back_to_the_defaults(practice, patient, vma):
    FollowUpRule.objects.all().delete()
    referral = workflow.send_referral(ready(patient), actor=vma, now=at(FRIDAY))
    assert referral.followup_due_at == at(date(2026, 3, 11))


def test_cancel_closes_every_open_item(practice, patient, vma):
    referral = workflow.send_referral(ready(patient), actor=vma, now=at(FRIDAY))
    followups.sweep(now=at(date(2026, 3, 11), 10))
    workflow.cancel_referral(referral, actor=vma, reason="Patient moved away", now=at(date(2026, 3, 11), 12))
    assert items(referral, followups.NO_ACK) == [] and items(referral, followups.NO_ACK, "cancelled")
    assert not WorkItem.objects.filter(subject_id=referral.pk, kind__startswith="referrals.", status="open").exists()
    assert followups.sweep(now=at(date(2026, 4, 30))).followups == 0


# --- HMO authorizations -------------------------------------------------------------------------


def _hmo_referral(patient, vma, *, expires: date):
    payer = hmo_payer()
    cov = CoverageFactory(patient=patient, payer=payer)
    r = ready(patient, to=specialist(payers=(payer,)), coverage=cov)
    return services.update_packet(
        r, actor=vma, authorization_number="EVG-1", visits_allowed=2, authorization_expires_on=expires
    )


def test_hmo_authorization_expiring_within_14_days_opens_one_item(practice, patient, vma, front):
    today = timezone.localdate()
    referral = _hmo_referral(patient, vma, expires=today + timedelta(days=15))
    referral = workflow.send_referral(referral, actor=vma)
    assert followups.sweep().auth_warnings == 0
    services.update_packet(referral, actor=front, authorization_expires_on=today + timedelta(days=14))
    assert followups.sweep().auth_warnings == 1
    assert followups.sweep().auth_warnings == 0  # once per expiry date
    [item] = items(referral, followups.AUTH_EXPIRING)
    assert item.queue == "front_office" and "EVG-1" in item.detail and "2 of 2 visit(s) left" in item.detail
    # extended: the item closes; a new date close again gets a new warning
    services.update_packet(referral, actor=front, authorization_expires_on=today + timedelta(days=60))
    assert items(referral, followups.AUTH_EXPIRING) == []
    services.update_packet(referral, actor=front, authorization_expires_on=today + timedelta(days=10))
    assert followups.sweep().auth_warnings == 1


def test_no_warning_once_the_visits_are_used_or_the_referral_ended(practice, patient, vma):
    today = timezone.localdate()
    referral = _hmo_referral(patient, vma, expires=today + timedelta(days=5))
    referral = workflow.send_referral(referral, actor=vma)
    services.update_packet(referral, actor=vma, visits_used=2)
    assert followups.sweep().auth_warnings == 0


def test_an_authorization_expiring_unused_expires_the_referral(practice, patient, vma):
    today = timezone.localdate()
    referral = workflow.send_referral(_hmo_referral(patient, vma, expires=today + timedelta(days=3)), actor=vma)
    followups.sweep()
    assert followups.sweep(now=timezone.now() + timedelta(days=3)).expired == 0  # the last valid day
    result = followups.sweep(now=timezone.now() + timedelta(days=4))
    referral.refresh_from_db()
    assert result.expired == 1 and referral.status == S.EXPIRED
    assert "EVG-1 expired on" in referral.status_reason
    [item] = items(referral, workflow.EXPIRED_ITEM)
    assert item.queue == "front_office"
    assert items(referral, followups.AUTH_EXPIRING) == []


def test_a_visit_booked_within_the_authorization_does_not_expire(practice, patient, vma):
    today = timezone.localdate()
    referral = workflow.send_referral(_hmo_referral(patient, vma, expires=today + timedelta(days=3)), actor=vma)
    workflow.schedule_referral(referral, actor=vma, appointment_at=at(today + timedelta(days=2), 9))
    assert followups.sweep(now=timezone.now() + timedelta(days=10)).expired == 0
    assert Referral.objects.get(pk=referral.pk).status == S.SCHEDULED


def test_billing_can_check_an_authorization_number(practice, patient, vma):
    from referrals.selectors import authorization_on_file

    today = timezone.localdate()
    referral = workflow.send_referral(_hmo_referral(patient, vma, expires=today + timedelta(days=30)), actor=vma)
    assert authorization_on_file(patient.pk, "evg-1", today).valid
    late = authorization_on_file(patient.pk, "EVG-1", today + timedelta(days=31))
    assert late.found and not late.valid and "expired" in late.detail
    assert not authorization_on_file(patient.pk, "NOPE", today).found
    assert not authorization_on_file(patient.pk + 1000, "EVG-1", today).found
    assert referral.authorization_number == "EVG-1"
