"""Work-item workflow: the transition table, idempotent open, claim-next under concurrency."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.db import connection, connections
from django.utils import timezone

from tests.factories import PatientFactory, UserFactory
from vma import workflow
from vma.access import add_to_care_team
from vma.exceptions import ActionRefused, NotPermitted
from vma.models import OutboxMessage, WorkItem, WorkItemEvent
from vma.roles import Role

S = WorkItem.Status


def open_item(patient, *, title="Call back", queue=None, **kw):
    item, _ = workflow.open_work_item(
        kind="patients.callback", subject=patient, patient=patient, title=title, queue=queue, **kw
    )
    return item


def force_status(item, status, user):
    """Put an item in a state directly (test set-up only), respecting the model's constraints."""
    fields = {"status": status, "assignee": user if status in {S.CLAIMED, S.WAITING} else None}
    fields["snoozed_until"] = timezone.now() + timedelta(hours=1) if status == S.WAITING else None
    fields["closed_at"] = timezone.now() if status in WorkItem.CLOSED_STATES else None
    WorkItem.objects.filter(pk=item.pk).update(**fields)
    item.refresh_from_db()
    return item


ACTIONS = {
    S.CLAIMED: lambda item, user: workflow.claim_item(item, actor=user),
    S.OPEN: lambda item, user: workflow.release_item(item, actor=user),
    S.DONE: lambda item, user: workflow.complete_item(item, actor=user, note="Done"),
    S.ESCALATED: lambda item, user: workflow.escalate_item(
        item, actor=user, to_queue=Role.FRONT_OFFICE, reason="Needs review"
    ),
    S.WAITING: lambda item, user: workflow.snooze_item(item, actor=user, until=timezone.now() + timedelta(hours=2)),
    S.CANCELLED: lambda item, user: workflow.cancel_item(item, actor=user, reason="Duplicate"),
}


@pytest.mark.parametrize("source", list(S))
@pytest.mark.parametrize("target", list(S))
def test_every_pair_follows_the_table(practice, patient, source, target):
    user = practice.users[Role.FRONT_OFFICE]
    item = force_status(open_item(patient, queue=Role.FRONT_OFFICE), source, user)
    allowed = target in workflow.TRANSITIONS[source]
    action = ACTIONS[target]
    if source == S.CLAIMED and target == S.CLAIMED:
        # claimed -> claimed is a hand-over to someone else (claiming again is a no-op).
        mate = UserFactory(role=Role.FRONT_OFFICE)
        add_to_care_team(mate, practice.team)
        action = lambda item, user: workflow.reassign_item(item, actor=user, to_user=mate)  # noqa: E731
    if allowed:
        moved = action(item, user)
        assert moved.status == target
        assert WorkItemEvent.objects.filter(item=item, to_status=target).exists()
    else:
        before = item.status
        with pytest.raises(ActionRefused):
            action(item, user)
        item.refresh_from_db()
        assert item.status == before


def test_open_is_idempotent_per_kind_and_subject(practice, patient):
    first, created = workflow.open_work_item(kind="patients.callback", subject=patient, patient=patient, title="A")
    second, created_again = workflow.open_work_item(
        kind="patients.callback", subject=patient, patient=patient, title="B"
    )
    assert created and not created_again
    assert first.pk == second.pk
    assert WorkItem.objects.filter(kind="patients.callback").count() == 1
    # Once closed, a new one may open for the same subject.
    workflow.complete_item(first, actor=practice.users[Role.FRONT_OFFICE], note="Called")
    third, created_third = workflow.open_work_item(
        kind="patients.callback", subject=patient, patient=patient, title="C"
    )
    assert created_third and third.pk != first.pk


def test_unknown_kind_is_refused(practice, patient):
    with pytest.raises(LookupError):
        workflow.open_work_item(kind="nope.unknown", subject=patient, patient=patient, title="x")


def test_claim_next_takes_most_urgent_first(practice):
    user = practice.users[Role.FRONT_OFFICE]
    now = timezone.now()
    low = open_item(PatientFactory(care_team=practice.team), priority=4, due_at=now - timedelta(days=1))
    urgent_late = open_item(PatientFactory(care_team=practice.team), priority=1, due_at=now + timedelta(hours=5))
    urgent_soon = open_item(PatientFactory(care_team=practice.team), priority=1, due_at=now + timedelta(hours=1))
    outsider = open_item(PatientFactory(care_team=practice.other_team), priority=1, due_at=now - timedelta(days=2))
    claimed = [workflow.claim_next(actor=user) for _ in range(4)]
    assert [c.pk if c else None for c in claimed] == [urgent_soon.pk, urgent_late.pk, low.pk, None]
    outsider.refresh_from_db()
    assert outsider.status == S.OPEN  # another team's patient is never handed out


def test_claim_next_respects_queue(practice, patient):
    billing_item = open_item(patient, queue=Role.BILLING)
    assert workflow.claim_next(actor=practice.users[Role.FRONT_OFFICE]) is None
    assert workflow.claim_next(actor=practice.users[Role.BILLING]).pk == billing_item.pk
    # The claim is audited (written by claim_next itself, outside auditlog's signals).
    from vma.models import AuditEvent

    event = AuditEvent.objects.get(action="vma.workitem.claim")
    assert event.actor == practice.users[Role.BILLING] and event.patient_ids == [patient.pk]


def test_double_click_claim_is_harmless_and_others_are_refused(practice, patient):
    vma, other = practice.users[Role.FRONT_OFFICE], UserFactory(role=Role.FRONT_OFFICE)
    add_to_care_team(other, practice.team)
    item = open_item(patient)
    workflow.claim_item(item, actor=vma)
    assert workflow.claim_item(item, actor=vma).assignee == vma
    with pytest.raises(ActionRefused, match="Already claimed"):
        workflow.claim_item(item, actor=other)
    assert WorkItemEvent.objects.filter(item=item, action="claim").count() == 1


def test_complete_needs_a_note(practice, patient):
    item = open_item(patient)
    with pytest.raises(ActionRefused, match="Say what was done"):
        workflow.complete_item(item, actor=practice.users[Role.FRONT_OFFICE], note="   ")
    item.refresh_from_db()
    assert item.status == S.OPEN


def test_no_permission_is_refused(practice, patient, other_patient):
    item = open_item(other_patient)
    with pytest.raises(NotPermitted):
        workflow.claim_item(item, actor=practice.users[Role.FRONT_OFFICE])  # not their care team
    with pytest.raises(NotPermitted):
        workflow.claim_item(open_item(patient), actor=practice.users[Role.MANAGER])  # role cannot work items


def test_escalation_notifies_after_commit(practice, patient, django_capture_on_commit_callbacks):
    item = open_item(patient)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        moved = workflow.escalate_item(
            item, actor=practice.users[Role.FRONT_OFFICE], to_queue=Role.NURSE, reason="Chest pain"
        )
    assert moved.queue == Role.NURSE and moved.status == S.ESCALATED
    assert OutboxMessage.objects.filter(handler="vma.notify_escalation", status="pending").count() == 1
    assert len(callbacks) == 1  # the doorbell rings only after commit
    # The nurse on the team can now see and claim it; the VMA no longer sees it.
    assert workflow.claim_next(actor=practice.users[Role.FRONT_OFFICE]) is None
    assert workflow.claim_next(actor=practice.users[Role.NURSE]).pk == item.pk


def test_escalation_needs_reason_and_real_queue(practice, patient):
    item = open_item(patient)
    with pytest.raises(ActionRefused):
        workflow.escalate_item(item, actor=practice.users[Role.FRONT_OFFICE], to_queue=Role.NURSE, reason="")
    with pytest.raises(ActionRefused):
        workflow.escalate_item(item, actor=practice.users[Role.FRONT_OFFICE], to_queue="janitor", reason="x")


def test_reassign_only_to_someone_who_may_see_it(practice, patient):
    vma = practice.users[Role.FRONT_OFFICE]
    item = workflow.claim_item(open_item(patient), actor=vma)
    outsider = UserFactory(role=Role.FRONT_OFFICE)  # on no care team
    with pytest.raises(ActionRefused, match="cannot work this item"):
        workflow.reassign_item(item, actor=vma, to_user=outsider)
    mate = UserFactory(role=Role.FRONT_OFFICE)
    add_to_care_team(mate, practice.team)
    assert workflow.reassign_item(item, actor=vma, to_user=mate).assignee == mate
    # The manager may reassign too, without working the item.
    assert workflow.reassign_item(item, actor=practice.users[Role.MANAGER], to_user=vma).assignee == vma


def test_snooze_bounds_and_wake(practice, patient):
    vma = practice.users[Role.FRONT_OFFICE]
    item = open_item(patient)
    with pytest.raises(ActionRefused):
        workflow.snooze_item(item, actor=vma, until=timezone.now() - timedelta(minutes=1))
    snoozed = workflow.snooze_item(item, actor=vma, until=timezone.now() + timedelta(minutes=30))
    assert snoozed.status == S.WAITING
    assert workflow.wake_snoozed(now=timezone.now()) == 0
    assert workflow.wake_snoozed(now=timezone.now() + timedelta(hours=1)) == 1
    item.refresh_from_db()
    assert item.status == S.CLAIMED and item.assignee == vma and item.snoozed_until is None


def test_overdue_escalates_once(practice, patient):
    item = open_item(patient, due_at=timezone.now() - timedelta(hours=1))
    assert workflow.escalate_overdue() == 1
    assert workflow.escalate_overdue() == 0  # a second beat tick changes nothing
    item.refresh_from_db()
    assert item.status == S.ESCALATED and item.priority == WorkItem.Priority.URGENT
    assert "Overdue" in item.escalation_reason


# --- PostgreSQL concurrency ------------------------------------------------------------------


def _run_threads(n, target):
    barrier = threading.Barrier(n)
    results, errors = [], []

    def run(i):
        try:
            barrier.wait(timeout=20)
            results.append(target(i))
        except Exception as exc:  # collected and asserted below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    return results, errors


@pytest.mark.django_db(transaction=True)
def test_fifty_concurrent_claimers_get_fifty_distinct_items(practice):
    assert connection.vendor == "postgresql"
    vmas = [UserFactory(role=Role.FRONT_OFFICE) for _ in range(50)]
    for v in vmas:
        add_to_care_team(v, practice.team)
    items = [open_item(PatientFactory(care_team=practice.team)) for _ in range(60)]
    results, errors = _run_threads(50, lambda i: workflow.claim_next(actor=vmas[i]).pk)
    assert not errors, errors
    assert len(results) == 50
    assert len(set(results)) == 50  # nobody got the same item
    assert WorkItem.objects.filter(status=S.CLAIMED).count() == 50
    assert set(results) <= {i.pk for i in items}


@pytest.mark.django_db(transaction=True)
def test_concurrent_opens_yield_one_item(practice):
    patient = PatientFactory(care_team=practice.team)
    results, errors = _run_threads(
        10,
        lambda i: (
            workflow.open_work_item(kind="patients.callback", subject=patient, patient=patient, title=f"t{i}")[0].pk
        ),
    )
    assert not errors, errors
    assert len(set(results)) == 1
    assert WorkItem.objects.filter(kind="patients.callback", subject_id=patient.pk).count() == 1
