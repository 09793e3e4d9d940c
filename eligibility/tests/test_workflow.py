"""Eligibility workflow: every simulated payer case, unusable answers, retries, the transition table."""

from __future__ import annotations

import itertools
from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from eligibility import workflow
from eligibility.clearinghouse import PayerError, SimulatedClearinghouse
from eligibility.models import EligibilityCheck
from eligibility.x12.simulator import SimulatedPayer, _amounts
from eligibility.x12.x270 import parse_270
from patients.models import Coverage
from tests.factories import AppointmentFactory, CoverageFactory, UserFactory
from vma.exceptions import ActionRefused, NotPermitted
from vma.models import AuditEvent, WorkItem
from vma.roles import Role

S = EligibilityCheck.Status
_ids = itertools.count(1)


@pytest.fixture
def payer(settings, monkeypatch):
    """The simulated payer is the one thing simulated; its delays and time-outs play out at once."""
    settings.ELIGIBILITY_CLEARINGHOUSE = "simulated"
    monkeypatch.setattr(workflow, "get_clearinghouse", lambda: SimulatedClearinghouse(sleep=lambda _s: None))


def member(ending: str) -> str:
    return f"W{next(_ids):07d}{ending}"


def visit_check(patient, ending="11", *, rank=Coverage.Rank.PRIMARY, hours=30, **coverage):
    coverage_row = CoverageFactory(patient=patient, member_id=member(ending), rank=rank, **coverage)
    visit = AppointmentFactory(patient=patient, start_at=timezone.now() + timedelta(hours=hours))
    check = workflow.request_check(coverage_row, appointment=visit, service_date=timezone.localdate(visit.start_at))
    return check


def problems(**filters):
    return WorkItem.objects.filter(kind=workflow.WORK_KIND, status__in=WorkItem.OPEN_STATES, **filters)


def sent(check: EligibilityCheck, **kwargs) -> EligibilityCheck:
    outcome = workflow.send_check(check.pk, **kwargs)
    check.refresh_from_db()
    assert outcome in (check.status, "skipped")
    return check


# --- each simulated payer case ------------------------------------------------------------------


@pytest.mark.parametrize("ending", ["11", "98"])
def test_active_answer_records_the_benefits_and_the_copay_to_collect(payer, patient, ending):
    check = sent(visit_check(patient, ending))
    a = _amounts(check.coverage.member_id)
    assert check.status == S.ACTIVE and check.attempts == 1
    assert check.plan_begin == date(check.service_date.year, 1, 1) and check.plan_end is None
    assert check.copay_office == a.copay == check.amount_to_collect
    assert (check.deductible_ind_total, check.deductible_ind_remaining) == (
        a.deductible,
        a.deductible - a.deductible_met,
    )
    assert (check.deductible_fam_total, check.deductible_fam_remaining) == (
        a.deductible * 2,
        a.deductible * 2 - a.deductible_met,
    )
    assert check.coinsurance_percent == Decimal(a.coinsurance) * 100
    assert (check.oop_ind_total, check.oop_ind_remaining) == (a.out_of_pocket, a.out_of_pocket - a.out_of_pocket_met)
    assert (check.oop_fam_total, check.oop_fam_remaining) == (
        a.out_of_pocket * 2,
        (a.out_of_pocket * 2 - a.out_of_pocket_met).quantize(Decimal("0.01")),
    )
    assert check.in_network is True
    assert f"Collect the ${a.copay:,.2f} office co-pay at check-in." in check.instruction
    assert check.raw_270.startswith("ISA") and "271" in check.raw_271
    assert check.responded_at is not None and check.completed_at is not None and check.lease_until is None
    assert not problems().exists()


@pytest.mark.parametrize(
    ("ending", "reason", "plain"),
    [
        ("72", "72", "Member ID invalid: correct and resubmit"),
        ("73", "73", "Subscriber name invalid: correct and resubmit"),
        ("75", "75", "Subscriber not found: correct and resubmit"),
        ("58", "58", "Date of birth invalid or missing: correct and resubmit"),
    ],
)
def test_rejection_records_reason_and_opens_a_front_office_item(payer, patient, ending, reason, plain):
    check = sent(visit_check(patient, ending))
    assert check.status == S.REJECTED
    assert (check.rejection_reason, check.rejection_follow_up) == (reason, "C")
    assert plain in check.instruction and check.amount_to_collect is None and check.copay_office is None
    [item] = problems()
    assert item.subject == check.appointment and item.patient == patient and item.queue == Role.FRONT_OFFICE
    assert plain in item.detail and "rejected" in item.title
    assert item.due_at < check.appointment.start_at


@pytest.mark.parametrize("ending", ["06", "07"])
def test_inactive_coverage_records_the_plan_end_and_opens_an_item(payer, patient, ending):
    check = sent(visit_check(patient, ending))
    service = check.service_date
    expected_end = (
        date(service.year - 1, 12, 31)
        if ending == "06"
        else min(date(service.year, 6, 30), service - timedelta(days=1))
    )
    assert check.status == S.INACTIVE and check.plan_end == expected_end
    assert f"plan ended {expected_end:%m/%d/%Y}" in check.instruction
    assert check.amount_to_collect is None
    [item] = problems()
    assert "inactive" in item.title and "Call the patient" in item.detail


@pytest.mark.parametrize(
    ("ending", "said"), [("42", "Payer system unavailable: try again later"), ("99", "did not answer")]
)
def test_busy_or_silent_payer_is_retried_later_without_an_item_yet(payer, patient, ending, said):
    now = timezone.now()
    check = sent(visit_check(patient, ending), now=now)
    assert check.status == S.ERROR and check.attempts == 1
    assert check.next_attempt_at == now + workflow.backoff(1)
    assert said in check.last_error and "trying again at" in check.instruction
    assert not problems().exists()


def test_dependent_is_asked_about_in_the_dependent_loop(payer, patient):
    child = {
        "subscriber_relation": Coverage.Relation.CHILD,
        "subscriber_first_name": "Robin",
        "subscriber_last_name": "Parent",
    }
    ok = sent(visit_check(patient, "11", **child))
    [request] = parse_270(ok.raw_270)
    assert request.dependent is not None and request.dependent.first_name == patient.first_name.upper()
    assert request.subscriber.last_name == "PARENT" and ok.status == S.ACTIVE
    bad_birth_date = sent(visit_check(patient, "58", rank=Coverage.Rank.SECONDARY, **child))
    assert bad_birth_date.status == S.REJECTED and bad_birth_date.rejection_reason == "58"


# --- unusable answers and refusals ---------------------------------------------------------------


class Garbage:
    def __init__(self, text: str) -> None:
        self.text = text

    def send_270(self, text: str, *, timeout: float) -> str:
        return self.text


def test_malformed_271_is_an_error_with_a_work_item_and_nothing_raised(patient, monkeypatch):
    monkeypatch.setattr(workflow, "get_clearinghouse", lambda: Garbage("<html>502 Bad Gateway</html>"))
    check = sent(visit_check(patient))
    assert check.status == S.ERROR and "could not be read" in check.last_error
    assert check.raw_271 == "<html>502 Bad Gateway</html>" and check.next_attempt_at > timezone.now()
    [item] = problems()
    assert "could not be read" in item.detail


def test_271_answering_another_inquiry_is_not_believed(patient, monkeypatch):
    other = visit_check(patient, "06")
    answer_for_other = SimulatedPayer().respond(workflow.build_check_270(other)).text
    monkeypatch.setattr(workflow, "get_clearinghouse", lambda: Garbage(answer_for_other))
    check = sent(visit_check(patient, "11", rank=Coverage.Rank.SECONDARY))
    assert check.status == S.ERROR and "does not answer this inquiry" in check.last_error
    assert check.plan_end is None


def test_clearinghouse_refusal_fails_at_once_with_a_work_item(patient, monkeypatch):
    class Refusing:
        def send_270(self, text: str, *, timeout: float) -> str:
            raise PayerError("HTTP 400")

    monkeypatch.setattr(workflow, "get_clearinghouse", Refusing)
    check = sent(visit_check(patient))
    assert check.status == S.FAILED and check.attempts == 1 and "refused" in check.last_error
    assert "Verify the coverage by phone" in problems().get().detail


def test_incomplete_coverage_fails_before_calling_the_payer(payer, patient):
    check = sent(visit_check(patient, subscriber_relation=Coverage.Relation.SPOUSE))
    assert check.status == S.FAILED and check.raw_270 == "" and check.raw_271 == ""
    assert "subscriber's name is missing" in check.instruction and "Correct it and check again" in check.instruction
    assert problems().count() == 1


# --- retries --------------------------------------------------------------------------------------


@pytest.mark.parametrize("ending", ["42", "99"])
def test_transient_failures_back_off_then_end_in_a_work_item(payer, patient, ending, settings):
    settings.ELIGIBILITY_MAX_ATTEMPTS = 5
    check = visit_check(patient, ending)
    t = timezone.now()
    waits = []
    for attempt in range(1, 6):
        outcome = workflow.send_check(check.pk, now=t)
        check.refresh_from_db()
        assert check.attempts == attempt
        if attempt == 5:
            break
        assert outcome == S.ERROR and not problems().exists()
        waits.append((check.next_attempt_at - t).total_seconds())
        # Not due yet: a doorbell that rings early finds nothing to do.
        assert workflow.send_check(check.pk, now=check.next_attempt_at - timedelta(seconds=1)) == "skipped"
        t = check.next_attempt_at
    assert waits == [300, 600, 1200, 2400]
    assert check.status == S.FAILED and "no answer after 5 attempts" in check.last_error
    [item] = problems()
    assert "Verify the coverage by phone" in item.detail and item.subject == check.appointment


def test_check_now_while_a_retry_waits_retries_at_once(payer, patient, practice):
    check = sent(visit_check(patient, "42"))
    assert check.status == S.ERROR
    again = workflow.request_check(
        check.coverage,
        appointment=check.appointment,
        actor=practice.users[Role.FRONT_OFFICE],
        service_date=check.service_date,
    )
    assert again.pk == check.pk and again.status == S.QUEUED and again.next_attempt_at <= timezone.now()


def test_fixed_coverage_closes_the_visits_item(payer, patient, practice):
    check = sent(visit_check(patient, "72"))
    assert problems().count() == 1
    coverage = check.coverage
    coverage.member_id = member("11")
    coverage.save()
    user = practice.users[Role.FRONT_OFFICE]
    fixed = sent(
        workflow.request_check(coverage, appointment=check.appointment, actor=user, service_date=check.service_date)
    )
    assert fixed.pk != check.pk and fixed.status == S.ACTIVE and fixed.requested_by == user
    assert not problems().exists()
    assert WorkItem.objects.get(kind=workflow.WORK_KIND).status == WorkItem.Status.DONE


def test_visit_item_stays_open_while_another_coverage_has_a_problem(payer, patient):
    primary = sent(visit_check(patient, "06"))
    visit = primary.appointment
    secondary_coverage = CoverageFactory(patient=patient, member_id=member("11"), rank=Coverage.Rank.SECONDARY)
    secondary = sent(workflow.request_check(secondary_coverage, appointment=visit, service_date=primary.service_date))
    assert secondary.status == S.ACTIVE and secondary.copay_office is not None
    assert secondary.amount_to_collect is None and "Secondary coverage" in secondary.instruction
    assert problems().count() == 1 and not workflow.visit_verified(visit)


# --- requesting, claiming ---------------------------------------------------------------------------


def test_request_is_idempotent_while_in_flight_and_waits_for_commit(patient, django_capture_on_commit_callbacks):
    coverage = CoverageFactory(patient=patient)
    visit = AppointmentFactory(patient=patient)
    with django_capture_on_commit_callbacks() as callbacks:
        first = workflow.request_check(coverage, appointment=visit, service_date=timezone.localdate(visit.start_at))
        second = workflow.request_check(coverage, appointment=visit, service_date=timezone.localdate(visit.start_at))
    assert first.pk == second.pk and first.status == S.QUEUED and first.raw_270 == ""
    assert len(callbacks) == 1  # one send task, published only after commit
    no_visit = workflow.request_check(coverage, service_date=timezone.localdate())
    assert no_visit.pk != first.pk
    assert workflow.request_check(coverage, service_date=timezone.localdate()).pk == no_visit.pk


def test_a_person_outside_the_panel_cannot_request(patient, other_patient, practice):
    coverage = CoverageFactory(patient=other_patient)
    with pytest.raises(NotPermitted):
        workflow.request_check(coverage, actor=practice.users[Role.FRONT_OFFICE], service_date=timezone.localdate())
    manager = practice.users[Role.MANAGER]  # no coverage permission at all
    with pytest.raises(NotPermitted):
        workflow.request_check(CoverageFactory(patient=patient), actor=manager, service_date=timezone.localdate())
    assert not EligibilityCheck.objects.exists()


def test_second_delivery_finds_nothing_to_do_and_the_claim_is_audited(payer, patient):
    check = visit_check(patient)
    assert workflow.send_check(check.pk) == S.ACTIVE
    assert workflow.send_check(check.pk) == "skipped"
    check.refresh_from_db()
    assert check.attempts == 1
    claim = AuditEvent.objects.get(action="eligibility.eligibilitycheck.claim")
    assert claim.patient_ids == [patient.pk] and claim.detail["attempt"] == 1
    assert claim.detail["payer"] == check.coverage.payer.payer_id


def test_late_answer_after_a_takeover_is_ignored(payer, patient):
    check = visit_check(patient)
    t = timezone.now()
    first = workflow.claim_check(check.pk, now=t)
    assert workflow.claim_check(check.pk, now=t) is None  # the lease is live
    later = t + workflow.lease() + timedelta(seconds=1)
    second = workflow.claim_check(check.pk, now=later)
    assert (first.attempts, second.attempts) == (1, 2)
    text_270 = workflow.build_check_270(first)
    answer = SimulatedPayer().respond(text_270).text
    with pytest.raises(ActionRefused):
        workflow.record_answer(check.pk, attempt=1, raw_270=text_270, raw_271=answer)
    assert workflow.record_answer(check.pk, attempt=2, raw_270=text_270, raw_271=answer).status == S.ACTIVE


# --- the transition table -----------------------------------------------------------------------


ENDING_FOR = {S.ACTIVE: "11", S.INACTIVE: "06", S.REJECTED: "72"}


def make_check(patient, status, *, ending="11", lease_expired=False) -> EligibilityCheck:
    """A check put straight into a state (test set-up only), respecting the model's constraints."""
    now = timezone.now()
    return EligibilityCheck.objects.create(
        patient=patient,
        coverage=CoverageFactory(patient=patient, member_id=member(ending)),
        service_date=timezone.localdate(),
        status=status,
        attempts=0 if status == S.QUEUED else 1,
        lease_until=(now - timedelta(seconds=1) if lease_expired else now + timedelta(minutes=5))
        if status == S.SENT
        else None,
        completed_at=now if status in EligibilityCheck.FINISHED else None,
    )


def move_to(check: EligibilityCheck, target: str) -> EligibilityCheck:
    if target == S.QUEUED:
        return workflow.retry_check(check)
    if target == S.SENT:
        claimed = workflow.claim_check(check.pk)
        if claimed is None:
            raise ActionRefused("not claimable")
        return claimed
    if target == S.ERROR:
        return workflow.record_failure(check.pk, attempt=check.attempts, reason="payer did not answer")
    if target == S.FAILED:
        return workflow.give_up(check.pk, attempt=check.attempts, reason="refused")
    text_270 = workflow.build_check_270(check)
    answer = SimulatedPayer().respond(text_270).text
    return workflow.record_answer(check.pk, attempt=check.attempts, raw_270=text_270, raw_271=answer)


@pytest.mark.parametrize("source", list(S))
@pytest.mark.parametrize("target", list(S))
def test_every_pair_follows_the_table(patient, source, target):
    check = make_check(patient, source, ending=ENDING_FOR.get(target, "11"), lease_expired=target == S.SENT)
    allowed = target in workflow.TRANSITIONS[source]
    if allowed:
        moved = move_to(check, target)
        assert moved.status == target
        check.refresh_from_db()
        assert check.status == target
    else:
        with pytest.raises(ActionRefused):
            move_to(check, target)
        check.refresh_from_db()
        assert check.status == source


def test_retry_by_someone_else_s_user_is_refused(patient, other_patient):
    check = make_check(other_patient, S.ERROR)
    outsider = UserFactory(role=Role.FRONT_OFFICE)
    with pytest.raises(NotPermitted):
        workflow.retry_check(check, actor=outsider)
    check.refresh_from_db()
    assert check.status == S.ERROR
