"""Claim workflow: the transition table, submission through the simulated clearinghouse, follow-ups."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from unittest import mock

import pytest
from django.utils import timezone

from billing import services, workflow
from billing.models import Claim
from billing.x12 import x837
from vma.exceptions import ActionRefused, NotPermitted
from vma.models import WorkItem
from vma.roles import Role

from .factories import draft

pytestmark = pytest.mark.django_db
S = Claim.Status


@pytest.mark.parametrize("src", S.values)
@pytest.mark.parametrize("dst", S.values)
def test_every_pair_follows_the_table(practice, src, dst):
    claim = draft(practice)
    Claim.objects.filter(pk=claim.pk).update(status=src, submitted_at=timezone.now())
    allowed = dst in workflow.TRANSITIONS[src]
    if allowed:
        moved = workflow._move(claim, to=dst, actor=None)
        assert moved.status == dst
    else:
        with pytest.raises(ActionRefused):
            workflow._move(claim, to=dst, actor=None)
        assert Claim.objects.get(pk=claim.pk).status == src


def _submit(claim, user, django_capture_on_commit_callbacks):
    claim = workflow.scrub(claim, actor=user).claim
    assert claim.status == S.SCRUBBED, claim.scrub_problems
    with (
        mock.patch("billing.tasks.send_claim.delay") as delay,
        django_capture_on_commit_callbacks(execute=True) as callbacks,
    ):
        claim = workflow.submit(claim, actor=user)
        delay.assert_not_called()  # only once the submission is committed
    assert len(callbacks) == 1
    delay.assert_called_once_with(claim.pk)
    services.transmit(claim.pk)  # what the send task does
    return Claim.objects.get(pk=claim.pk)


def test_accepted_acknowledgement(practice, django_capture_on_commit_callbacks):
    user = practice.users[Role.BILLING]
    claim = _submit(draft(practice, actor=user), user, django_capture_on_commit_callbacks)
    assert claim.status == S.ACCEPTED
    assert claim.raw_837.startswith("ISA") and x837.validate_with_pyx12(claim.raw_837) == []
    assert claim.clearinghouse_reference == f"SIM-{claim.patient_control_number}"
    assert claim.submitted_by == user and claim.transmitted_at is not None


def test_rejected_acknowledgement_opens_a_work_item_with_the_reasons(practice, django_capture_on_commit_callbacks):
    user = practice.users[Role.BILLING]
    claim = _submit(draft(practice, actor=user, member_id="REJ0001"), user, django_capture_on_commit_callbacks)
    assert claim.status == S.REJECTED
    assert "not found" in claim.rejection_reasons[0]
    item = WorkItem.objects.get(kind=workflow.REJECTED, subject_id=claim.pk)
    assert item.queue == Role.BILLING and "REJ0001" in item.detail
    claim = workflow.reopen(claim, actor=user)
    assert claim.status == S.DRAFT
    item.refresh_from_db()
    assert item.status == WorkItem.Status.DONE


def test_clearinghouse_down_keeps_the_claim_submitted_for_a_retry(practice, django_capture_on_commit_callbacks):
    from billing.clearinghouse import ClearinghouseUnavailable

    user = practice.users[Role.BILLING]
    claim = workflow.scrub(draft(practice, actor=user, member_id="DOWN01"), actor=user).claim
    with django_capture_on_commit_callbacks(execute=False):
        claim = workflow.submit(claim, actor=user)
    with pytest.raises(ClearinghouseUnavailable):
        services.transmit(claim.pk)
    claim.refresh_from_db()
    assert claim.status == S.SUBMITTED and claim.transmitted_at is None and claim.transmit_attempts == 1


def test_double_submit_sends_once(practice, django_capture_on_commit_callbacks):
    user = practice.users[Role.BILLING]
    claim = workflow.scrub(draft(practice, actor=user), actor=user).claim
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        workflow.submit(claim, actor=user)
        with pytest.raises(ActionRefused, match="submitted"):
            workflow.submit(claim, actor=user)
    assert len(callbacks) == 1
    services.transmit(claim.pk)
    assert services.transmit(claim.pk) is None  # the task running twice sends nothing twice
    assert Claim.objects.get(pk=claim.pk).transmit_attempts == 1


def test_an_837_pyx12_refuses_never_leaves(practice, django_capture_on_commit_callbacks):
    user = practice.users[Role.BILLING]
    claim = workflow.scrub(draft(practice, actor=user), actor=user).claim
    real = x837.build_837

    def broken(*args, **kwargs):
        return real(*args, **kwargs).replace("*UN*", "*XX*")

    with (
        mock.patch.object(x837, "build_837", broken),
        django_capture_on_commit_callbacks(execute=True) as cbs,
        pytest.raises(ActionRefused, match="did not pass validation"),
    ):
        workflow.submit(claim, actor=user)
    assert cbs == []
    claim.refresh_from_db()
    assert claim.status == S.SCRUBBED and claim.raw_837 == "" and claim.validation_errors


def test_submit_re_scrubs_and_sends_a_spoiled_claim_back_to_draft(practice):
    user = practice.users[Role.BILLING]
    claim = workflow.scrub(draft(practice, actor=user), actor=user).claim
    claim.lines.update(diagnosis_pointers=[])
    with pytest.raises(ActionRefused, match="no longer scrubs clean"):
        workflow.submit(claim, actor=user)
    claim.refresh_from_db()
    assert claim.status == S.DRAFT and any(p["check"] == "pointer_missing" for p in claim.scrub_problems)


def test_front_office_and_other_team_cannot_act(practice):
    claim = draft(practice)
    with pytest.raises(NotPermitted):
        workflow.scrub(claim, actor=practice.users[Role.FRONT_OFFICE])
    other = draft(practice, own=False)
    with pytest.raises(NotPermitted):
        workflow.scrub(other, actor=practice.users[Role.BILLING])


def test_void_and_correct_make_frequency_8_and_7_claims(practice):
    user = practice.users[Role.BILLING]
    claim = draft(practice, actor=user)
    Claim.objects.filter(pk=claim.pk).update(status=S.PAID, submitted_at=timezone.now(), payer_claim_number="ICN9")
    claim, replacement = workflow.correct(claim, actor=user, reason="Wrong units")
    assert claim.status == S.CORRECTED
    assert replacement.frequency_code == "7" and replacement.original_claim == claim
    assert replacement.original_payer_claim_number == "ICN9" and replacement.status == S.DRAFT
    assert [ln.procedure_code for ln in replacement.lines.all()] == ["99213"]
    Claim.objects.filter(pk=replacement.pk).update(
        status=S.ACCEPTED, submitted_at=timezone.now(), payer_claim_number="ICN10"
    )
    voided, void_claim = workflow.void(replacement, actor=user, reason="Billed in error")
    assert voided.status == S.VOIDED and void_claim is not None and void_claim.frequency_code == "8"
    # a draft never reached the payer: voiding it needs no frequency 8 claim
    fresh, none = workflow.void(draft(practice, actor=user), actor=user, reason="Duplicate")
    assert fresh.status == S.VOIDED and none is None


def test_a_replacement_claim_validates_with_its_ref_f8(practice, django_capture_on_commit_callbacks):
    user = practice.users[Role.BILLING]
    claim = draft(practice, actor=user)
    Claim.objects.filter(pk=claim.pk).update(status=S.DENIED, submitted_at=timezone.now(), payer_claim_number="ICN5")
    _, replacement = workflow.correct(claim, actor=user, reason="Fix")
    replacement = _submit(replacement, user, django_capture_on_commit_callbacks)
    assert "REF*F8*ICN5~" in replacement.raw_837 and "*11:B:7*" in replacement.raw_837


def test_adjudication_closes_follow_ups(practice, django_capture_on_commit_callbacks):
    user = practice.users[Role.BILLING]
    claim = _submit(draft(practice, actor=user), user, django_capture_on_commit_callbacks)
    now = timezone.now() + timedelta(days=31)
    result = services.sweep(now=now)
    assert (result.follow_ups, result.unpaid) == (1, 1)
    assert services.sweep(now=now + timedelta(hours=1)).as_dict() == {
        "resent": 0,
        "follow_ups": 0,
        "unpaid": 0,
        "deadlines": 0,
    }
    workflow.record_adjudication(claim, to=S.PARTIALLY_PAID, paid_amount=Decimal("80.00"), payer_claim_number="P1")
    open_kinds = set(
        WorkItem.objects.filter(subject_id=claim.pk, status__in=WorkItem.OPEN_STATES).values_list("kind", flat=True)
    )
    assert open_kinds == set()


def test_sweep_timings(practice, django_capture_on_commit_callbacks):
    user = practice.users[Role.BILLING]
    claim = _submit(draft(practice, actor=user), user, django_capture_on_commit_callbacks)
    assert services.sweep(now=claim.submitted_at + timedelta(days=6)).follow_ups == 0
    assert services.sweep(now=claim.submitted_at + timedelta(days=7, minutes=1)).follow_ups == 1
    assert services.sweep(now=claim.submitted_at + timedelta(days=29)).unpaid == 0
    assert services.sweep(now=claim.submitted_at + timedelta(days=30, minutes=1)).unpaid == 1
    item = WorkItem.objects.get(kind=workflow.FOLLOW_UP, subject_id=claim.pk)
    assert item.queue == Role.BILLING


def test_filing_deadline_item_for_an_unsent_claim(practice, settings):
    settings.BILLING_FILING_WARNING_DAYS = 10
    claim = draft(practice, days_ago=75, profile={"timely_filing_days": 90})  # deadline in 15 days
    assert services.sweep().deadlines == 0
    assert services.sweep(now=timezone.now() + timedelta(days=6)).deadlines == 1
    assert services.sweep(now=timezone.now() + timedelta(days=7)).deadlines == 0
    item = WorkItem.objects.get(kind=workflow.FILING_DEADLINE, subject_id=claim.pk)
    assert "must be accepted by" in item.detail
