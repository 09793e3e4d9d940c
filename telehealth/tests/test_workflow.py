"""Waiting-room transitions: every (from, to) pair against the table, the refusals, the appointment moves."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from scheduling.models import Appointment
from telehealth import workflow
from telehealth.models import RoomEvent, VisitRoom
from telehealth.policy import HOST, ROOM
from tests.factories import UserFactory
from vma.access import add_to_care_team
from vma.exceptions import ActionRefused, NotPermitted
from vma.models import OutboxMessage
from vma.roles import Role

from .helpers import S, room_at, video_visit


def _attempt(to: str, room: VisitRoom, people: dict[str, Any]) -> None:
    """Ask the workflow function whose job is to reach `to`."""
    if to == S.LINK_SENT:
        workflow.send_link(room, actor=people["front"])
    elif to == S.PATIENT_JOINED:
        workflow.patient_join(room)
    elif to == S.TECH_CHECK_PASSED:
        workflow.pass_tech_check(room, method=VisitRoom.TechCheck.PATIENT)
    elif to == S.ROOMED:
        workflow.complete_rooming(room, actor=people["vma"])
    elif to == S.READY:
        workflow.hand_off(room, note="Ready for you", actor=people["vma"])
    elif to == S.PROVIDER_JOINED:
        workflow.provider_join(room, actor=people["provider"])
    elif to == S.ENDED:
        workflow.end_visit(room, actor=people["provider"], perm=HOST, reason="Patient left")


PAIRS = [(a, b) for a in S.values for b in S.values if a != b and b != S.CREATED]


@pytest.mark.parametrize(("from_status", "to"), PAIRS)
def test_every_move_against_the_table(patient, vma, front, provider, from_status, to):
    # given a room in from_status, its VMA joined and its checklist done
    room = room_at(video_visit(patient), from_status, vma=vma)
    # when the step that leads to `to` is asked
    try:
        _attempt(to, room, {"vma": vma, "front": front, "provider": provider})
    except ActionRefused:
        pass
    room.refresh_from_db()
    # then the room moved exactly when the table allows it, and the move is in the log
    allowed = to in workflow.TRANSITIONS[from_status]
    assert (room.status == to) == allowed, (from_status, to, room.status)
    assert RoomEvent.objects.filter(room=room, kind=to, from_status=from_status).exists() == allowed


def test_the_whole_visit_moves_the_appointment_and_stamps_each_step(patient, vma, front, provider):
    visit = video_visit(patient)
    room = workflow.ensure_room(visit)
    t = visit.start_at
    workflow.send_link(room, actor=front, now=t - timedelta(minutes=15))
    assert OutboxMessage.objects.filter(key=f"telehealth.link:{room.pk}:1").exists()
    workflow.patient_join(room, now=t - timedelta(minutes=3))
    visit.refresh_from_db()
    assert visit.status == Appointment.Status.CHECKED_IN and visit.checked_in_at == t - timedelta(minutes=3)
    workflow.vma_join(room, actor=vma, now=t - timedelta(minutes=2))
    workflow.pass_tech_check(room, method=VisitRoom.TechCheck.DEVICE, now=t - timedelta(minutes=2))
    for code, _ in workflow.ROOMING_CHECKLIST:
        workflow.set_check(room, code=code, done=True, actor=vma, now=t)
    workflow.complete_rooming(room, actor=vma, now=t + timedelta(minutes=3))
    visit.refresh_from_db()
    assert visit.status == Appointment.Status.IN_ROOM
    workflow.hand_off(room, note="  BP 150/90 at home; wants a refill  ", actor=vma, now=t + timedelta(minutes=4))
    workflow.provider_join(room, actor=provider, now=t + timedelta(minutes=7))
    workflow.end_visit(room, actor=provider, perm=HOST, now=t + timedelta(minutes=25))
    room.refresh_from_db()
    visit.refresh_from_db()
    assert visit.status == Appointment.Status.COMPLETED
    assert room.status == S.ENDED and room.ended_by == provider
    assert room.handoff_note == "BP 150/90 at home; wants a refill"
    assert (room.ready_at, room.provider_joined_at) == (t + timedelta(minutes=4), t + timedelta(minutes=7))
    kinds = list(room.events.order_by("id").values_list("kind", flat=True))
    assert kinds == [
        "created",
        "link_sent",
        "patient_joined",
        "vma_joined",
        "tech_check_passed",
        *["checked"] * len(workflow.ROOMING_CHECKLIST),
        "roomed",
        "ready_for_provider",
        "provider_joined",
        "ended",
    ]


def test_ensure_room_is_idempotent_and_only_for_video_visits(patient):
    visit = video_visit(patient)
    assert workflow.ensure_room(visit) == workflow.ensure_room(visit)
    assert VisitRoom.objects.filter(appointment=visit).count() == 1
    in_person = video_visit(patient, start=timezone.now() + timedelta(hours=2))
    Appointment.objects.filter(pk=in_person.pk).update(telehealth=False)
    in_person.refresh_from_db()
    with pytest.raises(ActionRefused):
        workflow.ensure_room(in_person)


# --- refusals -----------------------------------------------------------------------------------


def test_the_vma_joins_first_and_alone(patient, vma, practice):
    room = room_at(video_visit(patient), S.PATIENT_JOINED)
    with pytest.raises(ActionRefused, match="Join the room first"):
        workflow.set_check(room, code="identity", done=True, actor=vma)
    workflow.vma_join(room, actor=vma)
    workflow.vma_join(room, actor=vma)  # a second click changes nothing
    assert room.events.filter(kind="vma_joined").count() == 1
    colleague = UserFactory(role=Role.NURSE)
    add_to_care_team(colleague, practice.team)
    with pytest.raises(ActionRefused, match="already rooming"):
        workflow.vma_join(room, actor=colleague)
    with pytest.raises(ActionRefused, match="is rooming this patient"):
        workflow.set_check(room, code="identity", done=True, actor=colleague)


def test_rooming_needs_the_tech_check_and_every_item(patient, vma):
    room = room_at(video_visit(patient), S.PATIENT_JOINED, vma=vma, checklist={})
    with pytest.raises(ActionRefused, match="tech check"):
        workflow.complete_rooming(room, actor=vma)
    workflow.pass_tech_check(room, method=VisitRoom.TechCheck.VMA, actor=vma)
    workflow.set_check(room, code="identity", done=True, actor=vma)
    with pytest.raises(ActionRefused, match="5 checklist item") as refused:
        workflow.complete_rooming(room, actor=vma)
    assert "Allergies reviewed" in refused.value.message
    workflow.set_check(room, code="identity", done=False, actor=vma)
    room.refresh_from_db()
    assert room.checklist == {} and room.status == S.TECH_CHECK_PASSED


def test_checklist_only_while_the_patient_is_in_and_before_rooming_ends(patient, vma):
    waiting = room_at(video_visit(patient), S.LINK_SENT, vma=vma)
    with pytest.raises(ActionRefused, match="not joined"):
        workflow.set_check(waiting, code="identity", done=True, actor=vma)
    roomed = room_at(video_visit(patient, start=timezone.now() + timedelta(hours=1)), S.ROOMED, vma=vma)
    with pytest.raises(ActionRefused, match="closed"):
        workflow.set_check(roomed, code="identity", done=False, actor=vma)
    with pytest.raises(ActionRefused, match="Unknown checklist item"):
        workflow.set_check(roomed, code="shoe-size", done=True, actor=vma)


def test_handoff_needs_a_note(patient, vma):
    room = room_at(video_visit(patient), S.ROOMED, vma=vma)
    with pytest.raises(ActionRefused, match="handoff note") as refused:
        workflow.hand_off(room, note="   ", actor=vma)
    assert refused.value.status_code == 400
    with pytest.raises(ActionRefused, match="under 500"):
        workflow.hand_off(room, note="x" * 501, actor=vma)
    room.refresh_from_db()
    assert room.status == S.ROOMED


def test_only_the_visits_own_provider_joins_and_ends(patient, practice, provider):
    room = room_at(video_visit(patient), S.READY)
    covering = UserFactory(role=Role.PROVIDER)
    add_to_care_team(covering, practice.team)
    with pytest.raises(NotPermitted, match="Only the visit's provider"):
        workflow.provider_join(room, actor=covering)
    workflow.provider_join(room, actor=provider)
    workflow.provider_join(room, actor=provider)  # a double click
    assert room.events.filter(kind="provider_joined").count() == 1
    with pytest.raises(NotPermitted):
        workflow.end_visit(room, actor=covering, perm=HOST)


def test_a_visit_under_way_is_ended_by_its_provider_only(patient, vma):
    room = room_at(video_visit(patient), S.PROVIDER_JOINED, vma=vma)
    with pytest.raises(NotPermitted, match="only its provider"):
        workflow.end_visit(room, actor=vma, perm=ROOM, reason="Done")


def test_closing_early_needs_a_reason_and_leaves_the_visit_to_the_calendar(patient, vma):
    room = room_at(video_visit(patient), S.PATIENT_JOINED)
    with pytest.raises(ActionRefused, match="Say why") as refused:
        workflow.end_visit(room, actor=vma, perm=ROOM, reason="")
    assert refused.value.status_code == 400
    workflow.end_visit(room, actor=vma, perm=ROOM, reason="Switched to a phone visit")
    room.refresh_from_db()
    assert room.status == S.ENDED and room.end_reason == "Switched to a phone visit"
    assert Appointment.objects.get(pk=room.appointment_id).status == Appointment.Status.CHECKED_IN
    with pytest.raises(ActionRefused, match="already ended"):
        workflow.end_visit(room, actor=vma, perm=ROOM, reason="Again")


def test_no_permission_or_another_team_is_refused(patient, other_patient, practice, front, vma):
    room = room_at(video_visit(patient), S.PATIENT_JOINED)
    with pytest.raises(NotPermitted):
        workflow.vma_join(room, actor=front)  # the front office does not room
    with pytest.raises(NotPermitted):
        workflow.pass_tech_check(room, method=VisitRoom.TechCheck.VMA, actor=practice.users[Role.BILLING])
    theirs = room_at(video_visit(other_patient), S.LINK_SENT)
    with pytest.raises(NotPermitted):
        workflow.vma_join(theirs, actor=vma)
    with pytest.raises(NotPermitted):
        workflow.send_link(theirs, actor=front)
    with pytest.raises(NotPermitted):
        workflow.provider_join(room_at(video_visit(other_patient), S.READY), actor=practice.users[Role.PROVIDER])


def test_a_patient_tech_check_must_say_how(patient):
    room = room_at(video_visit(patient), S.PATIENT_JOINED)
    with pytest.raises(ActionRefused, match="Unknown"):
        workflow.pass_tech_check(room, method="vma")  # the VMA's confirmation needs the VMA
    with pytest.raises(ActionRefused, match="Unknown"):
        workflow.pass_tech_check(room, method="telepathy")
    workflow.pass_tech_check(room, method=VisitRoom.TechCheck.PATIENT)
    workflow.pass_tech_check(room, method=VisitRoom.TechCheck.DEVICE)  # sent twice: nothing changes
    room.refresh_from_db()
    assert room.tech_check_method == "patient"


# --- the link and joining -----------------------------------------------------------------------


def test_send_link_then_resend_after_a_minute(patient, front):
    visit = video_visit(patient)
    room = workflow.ensure_room(visit)
    t = visit.start_at - timedelta(hours=1)
    workflow.send_link(room, actor=front, now=t)
    with pytest.raises(ActionRefused, match="less than a minute"):
        workflow.send_link(room, actor=front, now=t + timedelta(seconds=20))
    workflow.send_link(room, actor=front, now=t + timedelta(minutes=2))
    room.refresh_from_db()
    assert room.status == S.LINK_SENT and room.link_sends == 2
    assert OutboxMessage.objects.filter(key__startswith=f"telehealth.link:{room.pk}:").count() == 2
    assert room.events.filter(kind="link_resent").count() == 1


def test_no_link_without_contact_details_or_for_a_cancelled_visit(patient, front):
    room = workflow.ensure_room(video_visit(patient))
    patient.phone, patient.email = "", ""
    patient.save()
    with pytest.raises(ActionRefused, match="No phone number") as refused:
        workflow.send_link(room, actor=front)
    assert refused.value.status_code == 400
    patient.phone = "555-0101"
    patient.save()
    Appointment.objects.filter(pk=room.appointment_id).update(status="cancelled", cancel_reason="x")
    with pytest.raises(ActionRefused, match="cancelled"):
        workflow.send_link(room, actor=front)
    assert not OutboxMessage.objects.filter(key__startswith="telehealth.link").exists()


def test_joining_counts_only_inside_the_window(patient):
    visit = video_visit(patient)
    room = workflow.ensure_room(visit)
    with pytest.raises(ActionRefused, match="opens 30 minutes"):
        workflow.patient_join(room, now=visit.start_at - timedelta(minutes=45))
    with pytest.raises(ActionRefused, match="over"):
        workflow.patient_join(room, now=visit.end_at + timedelta(hours=3))
    room.refresh_from_db()
    assert room.status == S.CREATED
    workflow.patient_join(room, now=visit.start_at - timedelta(minutes=20))
    workflow.patient_join(room, now=visit.start_at - timedelta(minutes=1))  # a dropped connection: no change
    room.refresh_from_db()
    assert room.patient_joined_at == visit.start_at - timedelta(minutes=20)


def test_a_patient_marked_no_show_cannot_join(patient):
    visit = video_visit(patient)
    room = workflow.ensure_room(visit)
    Appointment.objects.filter(pk=visit.pk).update(status="no_show")
    with pytest.raises(ActionRefused, match="no-show"):
        workflow.patient_join(room)
    room.refresh_from_db()
    assert room.status == S.CREATED


def test_a_visit_checked_in_at_the_desk_is_joined_without_a_second_check_in(patient):
    visit = video_visit(patient)
    Appointment.objects.filter(pk=visit.pk).update(status="checked_in")
    room = workflow.ensure_room(visit)
    workflow.patient_join(room)
    room.refresh_from_db()
    assert room.status == S.PATIENT_JOINED
