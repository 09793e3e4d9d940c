"""The eligibility sweep: one check per visit and coverage, re-checks, retries, lost messages."""

from __future__ import annotations

import itertools
from datetime import timedelta

import pytest
import redis
from django.conf import settings as django_settings
from django.db import connections
from django.utils import timezone

from eligibility import services, tasks, workflow
from eligibility.clearinghouse import SimulatedClearinghouse
from eligibility.models import EligibilityCheck
from patients.models import Coverage
from scheduling.models import Appointment
from tests.factories import AppointmentFactory, CoverageFactory, PatientFactory
from vma.models import Heartbeat, WorkItem
from vma.schedule import PERIODIC_TASKS

S = EligibilityCheck.Status
_ids = itertools.count(1)


@pytest.fixture
def payer(settings, monkeypatch):
    """The simulated payer is the one thing simulated; its delays and time-outs play out at once."""
    settings.ELIGIBILITY_CLEARINGHOUSE = "simulated"
    monkeypatch.setattr(workflow, "get_clearinghouse", lambda: SimulatedClearinghouse(sleep=lambda _s: None))


def member(ending: str = "11") -> str:
    return f"S{next(_ids):07d}{ending}"


def coverage(patient, ending="11", **kw) -> Coverage:
    return CoverageFactory(patient=patient, member_id=member(ending), **kw)


def visit(patient, hours: float, **kw) -> Appointment:
    return AppointmentFactory(patient=patient, start_at=timezone.now() + timedelta(hours=hours), **kw)


@pytest.fixture
def clinic(practice, patient):
    """Three checks due (a primary and secondary, a confirmed visit) and visits that need none."""
    team = practice.team
    coverage(patient, rank=Coverage.Rank.PRIMARY)
    coverage(patient, rank=Coverage.Rank.SECONDARY)
    coverage(patient, rank=Coverage.Rank.TERTIARY)  # the practice checks primary and secondary only
    visit(patient, 30)
    confirmed = PatientFactory(care_team=team)
    coverage(confirmed)
    coverage(confirmed, rank=Coverage.Rank.SECONDARY, active=False)
    visit(confirmed, 60, status=Appointment.Status.CONFIRMED)
    far = PatientFactory(care_team=team)
    coverage(far)
    visit(far, 80)  # beyond the 72 h look-ahead: next time
    cancelled = PatientFactory(care_team=team)
    coverage(cancelled)
    visit(cancelled, 20, status=Appointment.Status.CANCELLED)
    visit(cancelled, -2)  # already past
    visit(PatientFactory(care_team=team), 10)  # self-pay: nothing to ask
    return practice


def pairs() -> list[tuple[int, int]]:
    return sorted(EligibilityCheck.objects.values_list("appointment_id", "coverage_id"))


def test_sweep_run_twice_asks_once_per_visit_and_active_coverage(clinic):
    first = services.sweep()
    after_first = pairs()
    second = services.sweep()
    assert first.requested == 3 and second.requested == 0 and second.rechecked == 0
    assert pairs() == after_first and len(after_first) == 3 == len(set(after_first))
    ranks = sorted(EligibilityCheck.objects.values_list("coverage__rank", flat=True))
    assert ranks == [Coverage.Rank.PRIMARY, Coverage.Rank.PRIMARY, Coverage.Rank.SECONDARY]
    assert set(EligibilityCheck.objects.values_list("status", flat=True)) == {S.QUEUED}
    assert all(c.service_date == timezone.localdate(c.appointment.start_at) for c in EligibilityCheck.objects.all())


def _broker():
    return redis.Redis.from_url(django_settings.CELERY_BROKER_URL)


def test_sweep_with_no_worker_then_the_sends_run_checks_each_visit_once(
    clinic, payer, django_capture_on_commit_callbacks
):
    _broker().delete("celery")
    with django_capture_on_commit_callbacks(execute=True):
        services.sweep()
    ids = list(EligibilityCheck.objects.values_list("id", flat=True))
    # Published to the real broker, and nobody consumes: the checks wait, queued.
    assert _broker().llen("celery") == len(ids) == 3
    assert set(EligibilityCheck.objects.values_list("status", flat=True)) == {S.QUEUED}
    _broker().delete("celery")
    # The worker comes back: every delivery sends its check; a redelivery finds nothing to do.
    assert sorted(tasks.send_eligibility_check(i) for i in ids) == [S.ACTIVE] * 3
    assert [tasks.send_eligibility_check(i) for i in ids] == ["skipped"] * 3
    assert list(EligibilityCheck.objects.values_list("attempts", flat=True)) == [1, 1, 1]
    assert services.sweep().requested == 0 and len(pairs()) == 3


def test_lost_messages_are_re_sent_by_a_later_sweep_and_still_checked_once(clinic, payer):
    now = timezone.now()
    assert services.sweep(now=now).requested == 3  # their doorbells are lost (broker outage)
    assert services.sweep(now=now + timedelta(minutes=1)).dispatched == 3
    # Just re-sent: a sweep soon after leaves messages in transit alone.
    assert services.sweep(now=now + timedelta(minutes=2)).dispatched == 0
    assert services.sweep(now=now + timedelta(minutes=1) + workflow.lease() + timedelta(seconds=1)).dispatched == 3
    for check_id in EligibilityCheck.objects.values_list("id", flat=True):
        workflow.send_check(check_id)
    assert list(EligibilityCheck.objects.values_list("status", "attempts")) == [(S.ACTIVE, 1)] * 3
    assert len(pairs()) == 3


def test_visits_24_to_48_hours_ahead_are_re_checked_when_the_answer_is_a_day_old(payer, patient):
    coverage(patient)
    soon = visit(patient, 40)
    later = visit(patient, 60)
    now = timezone.now()
    earlier = now - timedelta(hours=30)
    assert services.sweep(now=earlier).requested == 1  # only `soon` was within 72 h then
    [old] = EligibilityCheck.objects.all()
    workflow.send_check(old.pk, now=earlier)
    result = services.sweep(now=now)
    assert (result.requested, result.rechecked) == (1, 1)  # `later` for the first time, `soon` again
    assert services.sweep(now=now).rechecked == 0
    fresh = EligibilityCheck.objects.filter(appointment=soon).exclude(pk=old.pk).get()
    workflow.send_check(fresh.pk, now=now)
    workflow.send_check(EligibilityCheck.objects.get(appointment=later).pk, now=now)
    assert services.sweep(now=now + timedelta(hours=1)).rechecked == 0
    assert EligibilityCheck.objects.filter(appointment=soon).count() == 2


def test_sweep_re_queues_a_retry_whose_back_off_is_over(payer, patient, django_capture_on_commit_callbacks):
    coverage(patient, "42")
    visit(patient, 30)
    services.sweep()
    [check] = EligibilityCheck.objects.all()
    workflow.send_check(check.pk)
    check.refresh_from_db()
    assert check.status == S.ERROR
    assert services.sweep(now=check.next_attempt_at - timedelta(seconds=1)).retried == 0
    with django_capture_on_commit_callbacks() as callbacks:
        assert services.sweep(now=check.next_attempt_at).retried == 1
    check.refresh_from_db()
    assert check.status == S.QUEUED and len(callbacks) == 1


def test_a_check_stuck_in_sent_is_sent_again_after_its_lease(payer, patient, django_capture_on_commit_callbacks):
    coverage(patient)
    visit(patient, 30)
    services.sweep()
    [check] = EligibilityCheck.objects.all()
    t = timezone.now()
    workflow.claim_check(check.pk, now=t)  # the worker dies during the payer call
    assert services.sweep(now=t + timedelta(minutes=1)).dispatched == 0
    later = t + workflow.lease() + timedelta(seconds=1)
    with django_capture_on_commit_callbacks() as callbacks:
        assert services.sweep(now=later).dispatched == 1
    assert len(callbacks) == 1
    assert workflow.send_check(check.pk, now=later) == S.ACTIVE
    check.refresh_from_db()
    assert check.attempts == 2


def test_a_check_stuck_on_its_last_attempt_fails_with_a_work_item(payer, patient, settings):
    settings.ELIGIBILITY_MAX_ATTEMPTS = 1
    coverage(patient)
    visit(patient, 30)
    services.sweep()
    [check] = EligibilityCheck.objects.all()
    t = timezone.now()
    workflow.claim_check(check.pk, now=t)
    result = services.sweep(now=t + workflow.lease() + timedelta(seconds=1))
    check.refresh_from_db()
    assert (result.abandoned, result.dispatched, check.status) == (1, 0, S.FAILED)
    assert WorkItem.objects.filter(kind=workflow.WORK_KIND, status=WorkItem.Status.OPEN).count() == 1


def test_only_one_sweep_runs_at_a_time(clinic):
    other = connections.create_connection("default")
    try:
        with other.cursor() as cur:
            cur.execute("SELECT pg_advisory_lock(%s)", [services._SWEEP_LOCK])
        result = services.sweep()
        assert result.skipped == 1 and not EligibilityCheck.objects.exists()
        with other.cursor() as cur:
            cur.execute("SELECT pg_advisory_unlock(%s)", [services._SWEEP_LOCK])
        assert services.sweep().requested == 3
    finally:
        other.close()


def test_sweep_is_scheduled_every_30_minutes_and_leaves_a_heartbeat(clinic):
    assert PERIODIC_TASKS["eligibility sweep"] == ("eligibility.tasks.sweep_eligibility", 1800)
    result = tasks.sweep_eligibility()
    assert result["requested"] == 3
    assert Heartbeat.objects.get(name="sweep_eligibility").seen_at > timezone.now() - timedelta(minutes=1)
