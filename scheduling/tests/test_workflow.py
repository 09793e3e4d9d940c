"""Appointment transitions against the table, late cancels, reschedule links, the waitlist item."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from scheduling import services, workflow
from scheduling.models import Appointment, WaitlistEntry
from tests.factories import PatientFactory
from vma.exceptions import ActionRefused, NotPermitted
from vma.models import WorkItem
from vma.roles import Role

from .factories import AppointmentTypeFactory, at, next_monday

S = Appointment.Status
MOVES = {
    S.CONFIRMED: lambda a, actor: workflow.confirm_appointment(a, actor=actor),
    S.CHECKED_IN: lambda a, actor: workflow.check_in_appointment(a, actor=actor, now=a.start_at),
    S.IN_ROOM: lambda a, actor: workflow.room_appointment(a, actor=actor),
    S.COMPLETED: lambda a, actor: workflow.complete_appointment(a, actor=actor),
    S.CANCELLED: lambda a, actor: workflow.cancel_appointment(a, actor=actor, reason="Patient asked"),
    S.NO_SHOW: lambda a, actor: workflow.mark_no_show(a, actor=actor, now=a.start_at + timedelta(minutes=15)),
    S.RESCHEDULED: lambda a, actor: workflow.reschedule_appointment(
        a, actor=actor, start_at=a.start_at + timedelta(days=1)
    ),
}


def booked(patient, provider, kind, actor, *, day=None, hour=9, minute=0) -> Appointment:
    return services.book_appointment(
        patient=patient,
        provider=provider,
        appointment_type=kind,
        start_at=at(day or next_monday(), hour, minute),
        actor=actor,
    )


@pytest.mark.parametrize("to", list(MOVES))
@pytest.mark.parametrize("start", S.values)
def test_every_transition_pair_follows_the_table(start, to, patient, provider, follow_up, front_office):
    appt = booked(patient, provider, follow_up, front_office)
    Appointment.objects.filter(pk=appt.pk).update(status=start, cancel_reason="x" if start == S.CANCELLED else "")
    appt.refresh_from_db()
    allowed = to in workflow.TRANSITIONS[start] and not (start == S.CONFIRMED and to == S.CONFIRMED)
    if to == S.CONFIRMED and start == S.CONFIRMED:
        # confirming twice (a second click on the link) is a no-op, not an error
        assert MOVES[to](appt, front_office).status == S.CONFIRMED
        return
    if allowed:
        MOVES[to](appt, front_office)
        appt.refresh_from_db()
        assert appt.status == to
    else:
        with pytest.raises(ActionRefused):
            MOVES[to](appt, front_office)
        appt.refresh_from_db()
        assert appt.status == start


def test_a_role_without_change_permission_or_another_team_is_refused(
    patient, provider, follow_up, front_office, practice
):
    appt = booked(patient, provider, follow_up, front_office)
    with pytest.raises(NotPermitted):
        workflow.confirm_appointment(appt, actor=practice.users[Role.NURSE])  # may view, not change
    outsider = PatientFactory(care_team=practice.other_team)
    appt.patient = outsider
    appt.save(update_fields=["patient"])
    with pytest.raises(NotPermitted):
        workflow.cancel_appointment(appt, actor=front_office, reason="x")
    appt.refresh_from_db()
    assert appt.status == S.SCHEDULED


def test_cancel_needs_a_reason_and_is_flagged_late_inside_the_notice_period(
    patient, provider, follow_up, front_office, settings
):
    settings.LATE_CANCEL_HOURS = 24
    appt = booked(patient, provider, follow_up, front_office)
    with pytest.raises(ActionRefused, match="reason"):
        workflow.cancel_appointment(appt, actor=front_office, reason="  ")
    # when: cancelled 23 h before the start
    done = workflow.cancel_appointment(appt, actor=front_office, reason="Sick", now=appt.start_at - timedelta(hours=23))
    assert done.status == S.CANCELLED and done.late_cancel and done.cancel_reason == "Sick"
    # and 25 h before is on time
    other = booked(PatientFactory(care_team=patient.care_team), provider, follow_up, front_office, hour=10)
    on_time = workflow.cancel_appointment(
        other, actor=front_office, reason="Travel", now=other.start_at - timedelta(hours=25)
    )
    assert not on_time.late_cancel


def test_reschedule_books_the_new_visit_and_links_the_old_one(patient, provider, follow_up, front_office):
    appt = booked(patient, provider, follow_up, front_office, hour=9)
    # when: moved by 15 minutes (overlapping its own old time)
    new = workflow.reschedule_appointment(appt, actor=front_office, start_at=appt.start_at + timedelta(minutes=15))
    appt.refresh_from_db()
    assert appt.status == S.RESCHEDULED and appt.rescheduled_to == new
    assert new.status == S.SCHEDULED and new.start_at == at(next_monday(), 9, 15) and new.patient == patient


def test_a_refused_reschedule_leaves_the_old_visit_as_it_was(patient, provider, follow_up, front_office):
    appt = booked(patient, provider, follow_up, front_office, hour=9)
    booked(PatientFactory(care_team=patient.care_team), provider, follow_up, front_office, hour=10)
    with pytest.raises(ActionRefused, match="already booked"):
        workflow.reschedule_appointment(appt, actor=front_office, start_at=at(next_monday(), 10))
    appt.refresh_from_db()
    assert appt.status == S.SCHEDULED and appt.rescheduled_to is None
    assert Appointment.objects.count() == 2


def test_a_cancel_opens_a_slot_item_with_ranked_waitlist_candidates(
    patient, provider, follow_up, front_office, practice, django_capture_on_commit_callbacks
):
    # given: a Monday 9:00 follow-up, and four waiting patients
    appt = booked(patient, provider, follow_up, front_office, hour=9)
    team = practice.team
    other_type = AppointmentTypeFactory(name="Long", duration_minutes=90)

    def wait(last: str, days_ago: int, **kw) -> WaitlistEntry:
        entry = services.add_to_waitlist(PatientFactory(care_team=team, last_name=last), actor=front_office, **kw)
        WaitlistEntry.objects.filter(pk=entry.pk).update(created_at=timezone.now() - timedelta(days=days_ago))
        return entry

    wait("Anyone", 30)  # any provider, any type: oldest
    wait("Typed", 5, appointment_type=follow_up)
    wait("Exact", 1, appointment_type=follow_up, provider=provider, weekdays=[0], part_of_day="morning")
    wait("Afternoons", 2, provider=provider, part_of_day="afternoon")
    wait("TooLong", 40, appointment_type=other_type)  # a 90 min visit does not fit the 30 min slot
    wait("Outsider", 50)
    WaitlistEntry.objects.filter(patient__last_name="Outsider").update(
        patient=PatientFactory(care_team=practice.other_team)
    )

    # when: the visit is cancelled; the item waits for the commit
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        workflow.cancel_appointment(appt, actor=front_office, reason="Feeling better")
    assert not WorkItem.objects.filter(kind="scheduling.slot_open").exists()
    for cb in callbacks:
        cb()

    # then: one front-office item on the freed visit, best match first, only the team's patients
    item = WorkItem.objects.get(kind="scheduling.slot_open")
    assert item.queue == Role.FRONT_OFFICE and item.subject_id == appt.pk
    assert item.patient.last_name == "Exact"
    lines = item.detail.splitlines()[1:]
    assert [line.split(". ", 1)[1].split(" (")[0].split()[-1] for line in lines] == [
        "Exact",
        "Afternoons",
        "Typed",
        "Anyone",
    ]
    assert "TooLong" not in item.detail and "Outsider" not in item.detail


def test_a_no_show_does_not_offer_the_slot(
    patient, provider, follow_up, front_office, django_capture_on_commit_callbacks
):
    appt = booked(patient, provider, follow_up, front_office)
    services.add_to_waitlist(PatientFactory(care_team=patient.care_team), actor=front_office)
    with django_capture_on_commit_callbacks(execute=True):
        workflow.mark_no_show(appt, actor=front_office, now=appt.start_at + timedelta(minutes=15))
    assert not WorkItem.objects.filter(kind="scheduling.slot_open").exists()


def test_booking_a_waiting_patient_closes_their_entry(patient, provider, follow_up, front_office):
    entry = services.add_to_waitlist(patient, actor=front_office, appointment_type=follow_up)
    booked(patient, provider, follow_up, front_office)
    entry.refresh_from_db()
    assert entry.status == WaitlistEntry.Status.BOOKED


def test_no_check_in_before_the_day_and_no_no_show_before_the_start(patient, provider, follow_up, front_office):
    appt = booked(patient, provider, follow_up, front_office)
    the_day_before = appt.start_at - timedelta(days=1)
    with pytest.raises(ActionRefused, match="check the patient in that day"):
        workflow.check_in_appointment(appt, actor=front_office, now=the_day_before)
    with pytest.raises(ActionRefused, match="has not started yet"):
        workflow.mark_no_show(appt, actor=front_office, now=appt.start_at - timedelta(minutes=1))
    appt.refresh_from_db()
    assert appt.status == S.SCHEDULED
    # an early arrival on the day is fine
    assert workflow.check_in_appointment(appt, actor=front_office, now=appt.start_at - timedelta(hours=1)).status == (
        S.CHECKED_IN
    )
