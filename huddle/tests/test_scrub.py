"""The chart scrub: built for the next working day, green as each piece arrives, marks kept, re-opened."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

import pytest
from django.contrib.contenttypes.models import ContentType
from django.utils import timezone

from eligibility.models import EligibilityCheck
from huddle import services, workflow
from huddle.days import next_working_day, scrub_due_at
from huddle.models import ChartScrub, ScrubItem
from patients import workflow as patients_workflow
from patients.models import Problem, Procedure
from scheduling.models import Appointment
from tests.factories import PatientFactory
from vma.exceptions import ActionRefused, NotPermitted
from vma.models import WorkItem

from .helpers import (
    approve,
    coverage,
    document,
    eligibility,
    intake_packet,
    prior_auth,
    scrub_day,
    submit,
    visit,
)

I = ScrubItem.State  # noqa: E741


def states(scrub: ChartScrub) -> dict[str, str]:
    return dict(scrub.items.values_list("code", "state"))


def scrub_of(appt: Appointment) -> ChartScrub:
    return ChartScrub.objects.get(appointment=appt)


def scrub_item(scrub: ChartScrub) -> WorkItem | None:
    ct = ContentType.objects.get_for_model(ChartScrub)
    return (
        WorkItem.objects.filter(kind=workflow.SCRUB_KIND, subject_type=ct, subject_id=scrub.pk).order_by("-id").first()
    )


@pytest.mark.parametrize(
    ("today", "expected"),
    [
        (date(2026, 11, 23), date(2026, 11, 24)),  # Monday -> Tuesday
        (date(2026, 11, 26), date(2026, 11, 27)),  # Thursday -> Friday
        (date(2026, 11, 27), date(2026, 11, 30)),  # Friday scrubs Monday
        (date(2026, 11, 28), date(2026, 11, 30)),  # Saturday -> Monday
        (date(2026, 11, 29), date(2026, 11, 30)),  # Sunday -> Monday
    ],
)
def test_next_working_day_skips_weekends(today, expected):
    assert next_working_day(today) == expected


def test_due_at_15h_the_working_day_before():
    due = timezone.localtime(scrub_due_at(date(2026, 11, 30)))  # a Monday visit: due Friday 15:00
    assert (due.date(), due.time()) == (date(2026, 11, 27), time(15, 0))


def test_a_scrub_turns_green_as_each_missing_piece_arrives(practice, patient, vma):
    # given a visit on the next working day with nothing in place: coverage unchecked, a prior
    # authorization required, intake sent but not done, a lab outstanding, diabetes with no HbA1c
    appt = visit(patient)
    cov = coverage(patient)
    auth = prior_auth(appt, cov)
    packet = intake_packet(appt)
    expected = patients_workflow.expect_result(
        patient, title="Lipid panel", category="lab_result", expected_by=timezone.localdate(), actor=None
    )
    Problem.objects.create(patient=patient, code="E11.9", description="Type 2 diabetes mellitus without complications")
    result = services.build_scrubs()
    scrub = scrub_of(appt)
    assert result.created == 1 and scrub.status == ChartScrub.Status.OPEN
    s = states(scrub)
    assert s == {
        "eligibility": I.NEEDS_ACTION,
        "prior_auth": I.NEEDS_ACTION,
        "intake": I.NEEDS_ACTION,
        "results": I.NEEDS_ACTION,
        "referrals": I.AUTO_OK,  # no referral awaiting a report (referrals/tests/test_huddle.py has them)
        "gap:diabetes-hba1c": I.NEEDS_ACTION,
        "order:a1c-diabetes-6m": I.NEEDS_ACTION,
    }
    assert scrub.needs_action == 6
    gap = scrub.items.get(code="gap:diabetes-hba1c")
    assert "Diabetes" in gap.detail or "diabet" in gap.detail.lower()
    assert "Lipid panel" in scrub.items.get(code="results").detail
    assert scrub.items.get(code="referrals").detail == "No referral awaiting a report."
    item = scrub_item(scrub)
    assert item is not None and item.queue == "clinical_support" and item.due_at == scrub_due_at(scrub.day)

    def step() -> dict[str, str]:
        services.rescrub_patient(patient.pk)
        return states(scrub)

    # when the payer answers active
    eligibility(appt, cov)
    assert step()["eligibility"] == I.AUTO_OK
    # when the authorization is approved
    approve(auth)
    assert step()["prior_auth"] == I.AUTO_OK
    # when the patient submits the intake
    submit(packet)
    assert step()["intake"] == I.AUTO_OK
    # when the lab result is filed
    patients_workflow.receive_result(expected, document=document(patient, "Lipid panel"), actor=None)
    assert step()["results"] == I.AUTO_OK
    # when an HbA1c is recorded (evidence closing the gap and meeting the standing order)
    Procedure.objects.create(patient=patient, code="hba1c", performed_on=timezone.localdate(), value="7.1")
    final = step()
    # then every line is green and the chart can be marked scrubbed
    assert final["gap:diabetes-hba1c"] == I.AUTO_OK and final["order:a1c-diabetes-6m"] == I.AUTO_OK
    assert I.NEEDS_ACTION not in final.values()
    scrub.refresh_from_db()
    assert scrub.needs_action == 0
    workflow.mark_scrubbed(scrub, actor=vma)
    scrub.refresh_from_db()
    assert scrub.status == ChartScrub.Status.SCRUBBED and scrub.scrubbed_by == vma
    item = scrub_item(scrub)
    assert item is not None and item.status == WorkItem.Status.DONE


def test_build_twice_makes_one_scrub_and_one_work_item_per_visit(practice, patient):
    first, second = visit(patient, hour=9), visit(PatientFactory(care_team=practice.team), hour=10)
    visit(patient, day=scrub_day() + timedelta(days=7))  # another day: not scrubbed now
    services.build_scrubs()
    again = services.build_scrubs()
    assert again.created == 0 and again.evaluated == 2
    assert ChartScrub.objects.count() == 2
    assert set(ChartScrub.objects.values_list("appointment_id", flat=True)) == {first.pk, second.pk}
    assert WorkItem.objects.filter(kind=workflow.SCRUB_KIND).count() == 2
    assert (
        ScrubItem.objects.filter(scrub__appointment=first).count()
        == ScrubItem.objects.filter(scrub__appointment=second).count()
    )


def test_friday_builds_mondays_scrubs(practice, patient):
    today = timezone.localdate()
    friday = today + timedelta(days=(4 - today.weekday()) % 7 or 7)
    monday = friday + timedelta(days=3)
    appt = visit(patient, day=monday)
    visit(patient, day=friday + timedelta(days=1))  # Saturday clinic: not the next working day
    now = timezone.make_aware(datetime.combine(friday, time(9)))
    result = services.build_scrubs(now=now)
    assert result.day == monday.isoformat() and result.created == 1
    assert ChartScrub.objects.get().appointment == appt


def test_rerun_keeps_manual_marks(practice, patient, vma):
    appt = visit(patient)
    services.build_scrubs()
    scrub = scrub_of(appt)
    line = scrub.items.get(code="eligibility")
    workflow.mark_item(line, state=I.NOT_APPLICABLE, note="Self-pay, agreed at booking", actor=vma)
    intake = scrub.items.get(code="intake")
    workflow.mark_item(intake, state=I.DONE, note="Will do on paper at check-in", actor=vma)
    services.build_scrubs()
    services.rescrub_patient(patient.pk)
    line.refresh_from_db()
    intake.refresh_from_db()
    assert (line.state, line.note, line.marked_by) == (I.NOT_APPLICABLE, "Self-pay, agreed at booking", vma)
    assert line.auto_state == I.NEEDS_ACTION  # the chart still says so; the person's mark stands
    assert (intake.state, intake.marked_by) == (I.DONE, vma)


def test_not_applicable_needs_a_note_and_scrubbed_is_refused_while_items_need_action(practice, patient, vma):
    appt = visit(patient)
    services.build_scrubs()
    scrub = scrub_of(appt)
    line = scrub.items.get(code="prior_auth")
    assert line.state == I.AUTO_OK  # no authorization required for this visit
    eligibility_line = scrub.items.get(code="eligibility")
    with pytest.raises(ActionRefused, match="note is required"):
        workflow.mark_item(eligibility_line, state=I.NOT_APPLICABLE, note="  ", actor=vma)
    with pytest.raises(ActionRefused, match=r"2 item\(s\) still need action.*Eligibility verified.*Intake complete"):
        workflow.mark_scrubbed(scrub, actor=vma)
    scrub.refresh_from_db()
    assert scrub.status == ChartScrub.Status.OPEN


def test_a_scrubbed_chart_is_reopened_by_a_new_problem(practice, patient, vma):
    # given a scrubbed chart (every line marked or green)
    appt = visit(patient)
    cov = coverage(patient)
    eligibility(appt, cov)
    submit(intake_packet(appt))
    services.build_scrubs()
    scrub = scrub_of(appt)
    assert scrub.needs_action == 0
    workflow.mark_scrubbed(scrub, actor=vma)
    assert scrub_item(scrub).status == WorkItem.Status.DONE  # type: ignore[union-attr]
    # when diabetes is added to the problem list (HbA1c gap and standing order now due)
    Problem.objects.create(patient=patient, code="E11.9", description="Type 2 diabetes mellitus without complications")
    result = services.rescrub_patient(patient.pk)
    # then the scrub is open again, says why, and has a new open work item
    scrub.refresh_from_db()
    assert result.reopened == 1
    assert scrub.status == ChartScrub.Status.OPEN and "HbA1c" in scrub.reopened_reason
    assert states(scrub)["gap:diabetes-hba1c"] == I.NEEDS_ACTION
    item = scrub_item(scrub)
    assert item is not None and item.status == WorkItem.Status.OPEN


def test_a_newly_failing_line_drops_an_old_mark(practice, patient, vma):
    appt = visit(patient)
    cov = coverage(patient)
    eligibility(appt, cov)
    services.build_scrubs()
    scrub = scrub_of(appt)
    line = scrub.items.get(code="eligibility")
    assert line.state == I.AUTO_OK
    workflow.mark_item(line, state=I.DONE, note="Card seen", actor=vma)
    eligibility(appt, cov, EligibilityCheck.Status.INACTIVE)  # a newer answer: coverage ended
    services.rescrub_patient(patient.pk)
    line.refresh_from_db()
    assert line.state == I.NEEDS_ACTION and line.marked_at is None and "ask for new insurance" in line.detail


def test_gap_closed_by_evidence_stays_listed_green(practice, patient):
    appt = visit(patient)
    Problem.objects.create(patient=patient, code="E11.9", description="Type 2 diabetes mellitus without complications")
    services.build_scrubs()
    scrub = scrub_of(appt)
    assert states(scrub)["gap:diabetes-hba1c"] == I.NEEDS_ACTION
    Procedure.objects.create(patient=patient, code="hba1c", performed_on=timezone.localdate() - timedelta(days=10))
    services.rescrub_patient(patient.pk)
    gap = scrub.items.get(code="gap:diabetes-hba1c")
    assert (gap.state, gap.resolved) == (I.AUTO_OK, True) and "No longer due" in gap.detail


def test_a_cancelled_visit_cancels_its_scrub_and_work_item(practice, patient):
    appt = visit(patient)
    services.build_scrubs()
    scrub = scrub_of(appt)
    Appointment.objects.filter(pk=appt.pk).update(status=Appointment.Status.CANCELLED)
    services.build_scrubs()
    scrub.refresh_from_db()
    assert scrub.status == ChartScrub.Status.CANCELLED
    assert scrub_item(scrub).status == WorkItem.Status.CANCELLED  # type: ignore[union-attr]


def test_only_the_care_team_may_work_a_scrub(practice, other_patient, vma):
    appt = visit(other_patient)
    services.build_scrubs()
    line = scrub_of(appt).items.get(code="intake")
    with pytest.raises(NotPermitted):
        workflow.mark_item(line, state=I.DONE, actor=vma)


def test_new_information_queues_a_rescrub_after_commit(
    practice, patient, monkeypatch, django_capture_on_commit_callbacks
):
    from huddle import signals
    from patients.signals import chart_changed

    sent: list[int] = []
    monkeypatch.setattr(signals, "publish_rescrub", lambda pid: sent.append(pid) or True)
    appt = visit(patient)
    cov = coverage(patient)
    # no scrub yet: nothing queued
    with django_capture_on_commit_callbacks(execute=True):
        eligibility(appt, cov, EligibilityCheck.Status.QUEUED)
    assert sent == []
    services.build_scrubs()
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        eligibility(appt, cov)
    assert sent == [] and callbacks  # waits for the commit
    for cb in callbacks:
        cb()
    assert sent == [patient.pk]
    sent.clear()
    with django_capture_on_commit_callbacks(execute=True):
        chart_changed.send(sender=Problem, patient_id=patient.pk)
    assert sent == [patient.pk]


def test_rescrub_task_by_id_is_idempotent(practice, patient):
    from huddle.tasks import build_scrubs, rescrub_patient

    appt = visit(patient)
    assert build_scrubs(now_iso=timezone.make_aware(datetime.combine(timezone.localdate(), time(3))).isoformat()) == {
        "skipped": "outside the day"
    }
    build_scrubs(now_iso=timezone.make_aware(datetime.combine(timezone.localdate(), time(10))).isoformat())
    before = states(scrub_of(appt))
    assert rescrub_patient(patient.pk)["evaluated"] == 1
    assert rescrub_patient(patient.pk)["evaluated"] == 1
    assert states(scrub_of(appt)) == before and ScrubItem.objects.count() == len(before)
