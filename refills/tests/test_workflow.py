"""The refill workflow: the transition table, arrival (red flags, duplicates), work items, turnaround."""

from __future__ import annotations

import threading
from datetime import datetime

import pytest
from django.contrib.contenttypes.models import ContentType
from django.db import connection, transaction
from django.utils import timezone

from refills import workflow
from refills.days import turnaround_due
from refills.models import RefillRequest
from tests.factories import AppointmentFactory, PatientFactory
from vma.exceptions import ActionRefused, NotPermitted
from vma.models import OutboxMessage, WorkItem
from vma.roles import Role

from .helpers import NOW, fresh, lab, medication, request, statin_chart, visit

S = RefillRequest.Status


def items_of(refill: RefillRequest, **kw) -> list[WorkItem]:
    ct = ContentType.objects.get_for_model(RefillRequest)
    return list(WorkItem.objects.filter(subject_type=ct, subject_id=refill.pk, **kw).order_by("id"))


def open_kinds(refill: RefillRequest) -> set[str]:
    return {i.kind for i in items_of(refill, status__in=WorkItem.OPEN_STATES)}


@pytest.fixture
def chart(practice):
    patient = PatientFactory(care_team=practice.team)
    statin_chart(patient)
    return patient


# --- the table ------------------------------------------------------------------------------------------


def _state_fields(status: str, other: RefillRequest) -> dict:
    """What the constraints ask of a row in `status` (a signature, a reason, the request merged into)."""
    return {
        S.SIGNED: {"signed_at": NOW, "signed_hash": "x" * 64},
        S.DENIED: {"denied_at": NOW, "deny_reason": "Needs a visit"},
        S.MERGED: {"merged_into": other},
    }.get(status, {})


def _bare(vma, patient, key: str, status: str, **fields) -> RefillRequest:
    """A row as the table test needs it, without the arrival's check (fast)."""
    return RefillRequest.objects.create(
        patient=patient,
        provider=patient.care_team.provider,
        source="phone",
        medication_text=key,
        medication_key=key,
        pharmacy="Main Street Pharmacy",
        requester="Patient",
        received_by=vma,
        due_at=NOW,
        status=status,
        **fields,
    )


@pytest.mark.parametrize("from_status", S.values)
def test_every_move_follows_the_table(vma, practice, from_status):
    """Each (from, to) pair: allowed moves happen and are recorded, the others are refused and change nothing."""
    patient = PatientFactory(care_team=practice.team)
    other = _bare(vma, patient, "lisinopril", S.CLOSED)
    for to_status in S.values:
        if to_status == from_status:
            continue
        with transaction.atomic():
            refill = fresh(_bare(vma, patient, "atorvastatin", from_status, **_state_fields(from_status, other)))
            if to_status in workflow.TRANSITIONS[from_status]:
                moved = workflow._move(
                    refill, to=to_status, actor=vma, action="test", **_state_fields(to_status, other)
                )
                assert moved.status == to_status, to_status
                assert moved.events.filter(action="test", to_status=to_status).exists(), to_status
            else:
                with pytest.raises(ActionRefused):
                    workflow._move(refill, to=to_status, actor=vma, action="test")
                assert fresh(refill).status == from_status, to_status
            transaction.set_rollback(True)


def test_final_states_allow_nothing():
    for final in (S.CLOSED, S.MERGED, S.CANCELLED):
        assert workflow.TRANSITIONS[final] == frozenset()


# --- arrival: the check, work items and the turnaround --------------------------------------------------


def test_arrival_records_received_then_checked_then_routed(vma, chart):
    refill = fresh(request(vma, chart).request)
    assert list(refill.events.values_list("action", "from_status", "to_status")) == [
        ("receive", "", "received"),
        ("check", "received", "checked"),
        ("route", "checked", "pended"),
    ]
    assert refill.checked_at == NOW and refill.check_outcome == S.PENDED


def test_pended_refill_is_a_provider_item_due_by_the_turnaround(vma, chart):
    refill = fresh(request(vma, chart).request)
    [item] = items_of(refill)
    assert item.kind == workflow.SIGN and item.queue == Role.PROVIDER and item.patient_id == chart.pk
    assert item.due_at == refill.due_at == timezone.make_aware(datetime(2026, 3, 10, 17, 0))


def test_needs_appointment_opens_a_front_office_item_and_a_booked_visit_allows_a_bridge(vma, front, practice):
    patient = PatientFactory(care_team=practice.team)
    medication(patient)
    lab(patient)
    visit(patient, months_ago=14)
    refill = fresh(request(vma, patient).request)
    assert refill.status == S.NEEDS_APPOINTMENT
    [item] = items_of(refill)
    assert item.kind == workflow.APPOINTMENT and item.queue == Role.FRONT_OFFICE
    assert "Last visit" in item.detail
    with pytest.raises(ActionRefused, match="Book a visit"):
        workflow.pend_bridge(refill, actor=front, now=NOW)
    AppointmentFactory(patient=patient, start_at=NOW + timezone.timedelta(days=9))
    bridged = workflow.pend_bridge(refill, actor=front, now=NOW)
    assert bridged.status == S.PENDED and bridged.pended_by == front
    assert bridged.pended_note.startswith("Bridge refill until the visit on 03/19/2026")
    assert open_kinds(bridged) == {workflow.SIGN}
    assert items_of(bridged, kind=workflow.APPOINTMENT)[0].status == WorkItem.Status.DONE


def test_needs_review_opens_a_provider_review_item_listing_the_failed_lines(vma, chart):
    refill = fresh(request(vma, chart, days_supply=180).request)
    assert refill.status == S.NEEDS_REVIEW
    [item] = items_of(refill)
    assert item.kind == workflow.REVIEW and item.queue == Role.PROVIDER
    assert "180 days requested; at most 90 by protocol" in item.detail


def test_urgent_requests_get_a_high_priority_item(vma, chart):
    refill = request(vma, chart, urgency="urgent").request
    assert items_of(refill)[0].priority == WorkItem.Priority.HIGH


def test_recheck_after_the_lab_arrives_pends_it_and_moves_the_item(vma, practice):
    patient = PatientFactory(care_team=practice.team)
    medication(patient)
    visit(patient)
    refill = fresh(request(vma, patient).request)
    assert refill.status == S.NEEDS_REVIEW and open_kinds(refill) == {workflow.REVIEW}
    lab(patient)
    rechecked = workflow.check_request(refill, actor=vma, now=NOW)
    assert rechecked.status == S.PENDED and rechecked.checked_by == vma
    assert open_kinds(rechecked) == {workflow.SIGN}


def test_someone_without_the_work_permission_or_panel_cannot_check(practice, vma, chart):
    refill = request(vma, chart).request
    with pytest.raises(NotPermitted):
        workflow.check_request(refill, actor=practice.users[Role.BILLING])
    outsider = PatientFactory(care_team=practice.other_team)
    statin_chart(outsider)
    with pytest.raises(NotPermitted):
        request(vma, outsider)


@pytest.mark.parametrize(
    ("received", "due"),
    [
        (datetime(2026, 3, 10, 9, 30), datetime(2026, 3, 10, 17, 0)),  # Tuesday morning: same day
        (datetime(2026, 3, 10, 12, 0), datetime(2026, 3, 10, 17, 0)),  # exactly noon still counts
        (datetime(2026, 3, 10, 12, 1), datetime(2026, 3, 11, 17, 0)),  # after noon: next business day
        (datetime(2026, 3, 13, 15, 0), datetime(2026, 3, 16, 17, 0)),  # Friday afternoon: Monday
        (datetime(2026, 3, 14, 9, 0), datetime(2026, 3, 16, 17, 0)),  # Saturday morning: Monday
        (datetime(2026, 3, 15, 23, 0), datetime(2026, 3, 16, 17, 0)),  # Sunday night: Monday
        (datetime(2026, 3, 16, 1, 0), datetime(2026, 3, 16, 17, 0)),  # Monday 1 am: that day
    ],
)
def test_turnaround_due_time(received, due):
    assert turnaround_due(timezone.make_aware(received)) == timezone.make_aware(due)


def test_a_request_received_friday_afternoon_is_due_monday(vma, chart):
    friday = timezone.make_aware(datetime(2026, 3, 13, 14, 0))
    refill = request(vma, chart, now=friday).request
    assert refill.due_at == timezone.make_aware(datetime(2026, 3, 16, 17, 0))


# --- red flags ------------------------------------------------------------------------------------------


def test_a_red_flag_escalates_at_once_to_the_nurse_queue_documented(vma, chart, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks():
        received = request(vma, chart, request_text="He says he has Chest Pain and feels suicidal at times.")
    refill = fresh(received.request)
    assert received.red_flags == refill.red_flags == ["chest pain", "suicidal"]
    [flag] = items_of(refill, kind=workflow.RED_FLAG)
    assert flag.queue == Role.NURSE and flag.priority == WorkItem.Priority.URGENT and flag.is_open
    assert flag.due_at <= timezone.now()
    assert "“chest pain”, “suicidal”" in flag.detail and "Chest Pain and feels suicidal" in flag.detail
    note = refill.events.get(action="red_flag").note
    assert "chest pain" in note and "escalated to the nurse queue" in note
    assert OutboxMessage.objects.filter(handler="vma.notify_escalation", payload__item_id=flag.pk).exists()
    # The refill itself waits for a provider: never pended by protocol with a red flag.
    assert refill.status == S.NEEDS_REVIEW


def test_a_red_flag_term_is_practice_data(vma, chart):
    from refills.models import RedFlagTerm

    RedFlagTerm.objects.create(term="Black Stool", queue=Role.PROVIDER)
    refill = request(vma, chart, request_text="mentions black stool twice").request
    [flag] = items_of(refill, kind=workflow.RED_FLAG)
    assert refill.red_flags == ["black stool"] and flag.queue == Role.PROVIDER


# --- duplicates -----------------------------------------------------------------------------------------


def test_a_duplicate_of_an_open_request_is_merged_and_the_requester_told(vma, front, chart):
    first = request(vma, chart).request
    dup = request(
        front,
        chart,
        medication="ATORVASTATIN calcium 40mg",
        source="pharmacy",
        requester="Main Street Pharmacy",
        urgency="urgent",
        request_text="Patient out of pills",
        now=NOW + timezone.timedelta(hours=2),
    )
    assert dup.merged_into == first
    merged = fresh(dup.request)
    assert merged.status == S.MERGED and merged.merged_into_id == first.pk
    assert "already has an open refill request" in dup.message and "merged" in dup.message
    assert items_of(merged) == []  # never double-worked: no second item
    assert len(items_of(first)) == 1
    first = fresh(first)
    assert first.urgency == "urgent"
    note = first.events.get(action="duplicate").note
    assert "Main Street Pharmacy" in note and "raised to urgent" in note and "out of pills" in note
    assert RefillRequest.objects.filter(patient=chart).exclude(status=S.MERGED).count() == 1


def test_a_closed_request_does_not_absorb_a_new_one(vma, chart):
    first = request(vma, chart).request
    RefillRequest.objects.filter(pk=first.pk).update(status=S.CLOSED)
    second = request(vma, chart)
    assert second.merged_into is None and second.request.status == S.PENDED


def test_a_duplicates_red_flag_still_escalates(vma, chart):
    request(vma, chart)
    dup = request(vma, chart, request_text="short of breath since yesterday")
    assert dup.merged_into is not None
    [flag] = items_of(dup.request, kind=workflow.RED_FLAG)
    assert flag.queue == Role.NURSE and "short of breath" in flag.title


@pytest.mark.django_db(transaction=True)
def test_concurrent_duplicates_give_one_open_request(practice):
    from django.apps import apps

    from refills import starter

    starter.load(apps, None)
    vma = practice.users[Role.CLINICAL_SUPPORT]
    patient = PatientFactory(care_team=practice.team)
    statin_chart(patient)
    barrier = threading.Barrier(4)
    results, errors = [], []

    def worker() -> None:
        try:
            barrier.wait()
            results.append(request(vma, patient, now=timezone.now()))
        except Exception as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert RefillRequest.objects.filter(patient=patient).exclude(status=S.MERGED).count() == 1
    assert RefillRequest.objects.filter(patient=patient, status=S.MERGED).count() == 3
    assert sum(1 for r in results if r.merged_into is None) == 1


# --- people moving requests -----------------------------------------------------------------------------


def test_cancel_needs_a_reason_and_closes_the_items(vma, chart):
    refill = request(vma, chart).request
    with pytest.raises(ActionRefused, match="reason"):
        workflow.cancel_request(refill, actor=vma, reason=" ")
    cancelled = workflow.cancel_request(refill, actor=vma, reason="Patient stopped it")
    assert cancelled.status == S.CANCELLED and cancelled.cancel_reason == "Patient stopped it"
    assert items_of(cancelled)[0].status == WorkItem.Status.CANCELLED
    with pytest.raises(ActionRefused):
        workflow.cancel_request(cancelled, actor=vma, reason="again")


def test_amending_rechecks_and_changes_what_would_be_signed(vma, chart):
    from refills import services

    refill = fresh(request(vma, chart, days_supply=180).request)
    assert refill.status == S.NEEDS_REVIEW
    before = workflow.signing_hash(refill)
    amended = services.amend_request(refill, actor=vma, changes={"days_supply": 90})
    assert amended.status == S.PENDED and amended.days_supply == 90
    assert workflow.signing_hash(fresh(amended)) != before
    assert "days supply: 180 → 90" in amended.events.get(action="amend").note


def test_the_provider_may_approve_a_controlled_refill_to_the_signing_queue(vma, provider, practice):
    patient = PatientFactory(care_team=practice.team)
    medication(patient, name="Alprazolam", dose="0.5 mg")
    visit(patient)
    refill = fresh(request(vma, patient, medication="alprazolam 0.5 mg", strength="0.5 mg").request)
    assert refill.status == S.NEEDS_REVIEW and refill.controlled_schedule == "CIV"
    with pytest.raises(ActionRefused, match="second factor"):
        workflow.sign_refill(refill, provider=provider, content_hash=workflow.signing_hash(refill), from_queue=False)
    approved = workflow.approve_for_signing(refill, provider=provider)
    assert approved.status == S.PENDED and approved.pended_by == provider
    assert open_kinds(approved) == {workflow.SIGN}
