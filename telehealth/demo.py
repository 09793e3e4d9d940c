"""Demo data: today's video visits in the demo clinic, their rooms in a few states (idempotent).

The demo's own schedule starts tomorrow, so this books a handful of video visits around the time the
seed runs and walks each room through the real workflow (with past timestamps) to: ended (twice,
for the figures), provider joined, ready for provider, not joined five minutes in (backup plan
sent, call item open), tech check passed, patient joined, link sent, and not started.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from patients.models import Patient
from scheduling.models import Appointment, AppointmentType, new_room
from vma.access import care_team_members
from vma.exceptions import ActionRefused
from vma.models import CareTeam, User

from . import workflow
from .models import VisitRoom
from .policy import HOST, INVITE, ROOM
from .selectors import day_bounds

log = logging.getLogger(__name__)
MARK = "Video visit (demo waiting room)"
# (team index, minutes from now to the start, state)
PLAN: list[tuple[int, int, str]] = [
    (0, -60, "ended"),
    (1, -40, "ended"),
    (0, -20, "provider_joined"),
    (1, -8, "ready_for_provider"),
    (2, -6, "no_join"),
    (2, 15, "tech_check_passed"),
    (0, 10, "patient_joined"),
    (1, 30, "link_sent"),
    (0, 50, "created"),
]
FULL = ["link_sent", "patient_joined", "tech_check_passed", "roomed", "ready_for_provider", "provider_joined", "ended"]


def _staff(team: CareTeam, perm: str) -> User | None:
    return next((u for u in care_team_members(team).order_by("username") if u.has_perm(perm)), None)


@transaction.atomic
def seed(now: datetime | None = None) -> int:
    """Book and walk the demo's video visits of today; returns how many rooms were made (0 if done)."""
    now = (now or timezone.now()).replace(second=0, microsecond=0)
    start, end = day_bounds(timezone.localdate(now))
    if Appointment.objects.filter(reason=MARK, start_at__gte=start, start_at__lt=end).exists():
        return 0
    teams = list(CareTeam.objects.order_by("pk"))
    if not teams:
        return 0
    # The visits stay inside today even when seeded around midnight (steps then stop where the
    # clock does not allow them yet).
    anchor = min(max(now, start + timedelta(minutes=70)), end - timedelta(minutes=70))
    kind = AppointmentType.objects.filter(telehealth=True, active=True).order_by("pk").first()
    used: set[int] = set()
    made = 0
    for team_index, offset, state in PLAN:
        team = teams[team_index % len(teams)]
        patient = Patient.objects.filter(care_team=team).exclude(phone="").exclude(pk__in=used).order_by("pk").first()
        if patient is None:
            continue
        used.add(patient.pk)
        visit = Appointment.objects.create(
            patient=patient,
            provider=team.provider,
            appointment_type=kind,
            start_at=anchor + timedelta(minutes=offset),
            duration_minutes=20,
            visit_type=kind.name if kind else "Telehealth follow-up",
            telehealth=True,
            telehealth_room=new_room(),
            reason=MARK,
        )
        try:
            _walk(workflow.ensure_room(visit), state, team=team, now=now)
        except ActionRefused as exc:  # each step is its own savepoint: the room stays where it got to
            log.info("telehealth demo: visit %s stopped short of %s: %s", visit.pk, state, exc.message)
        made += 1
    return made


def _walk(room: VisitRoom, state: str, *, team: CareTeam, now: datetime) -> None:
    """Move the room to `state` through the workflow, each step at its time (never in the future)."""
    start = room.appointment.start_at
    vma, front, provider = _staff(team, ROOM), _staff(team, INVITE), team.provider

    def at(minutes: float) -> datetime:
        return min(start + timedelta(minutes=minutes), now - timedelta(seconds=30))

    if state == "created":
        return
    workflow.send_link(room, actor=front, now=at(-15))
    if state == "no_join":
        locked = (
            VisitRoom.objects.select_for_update().select_related("appointment__provider", "patient").get(pk=room.pk)
        )
        workflow.alert_no_join(locked, now=at(5))
        return
    target = FULL.index(state) if state in FULL else 0
    steps = FULL[1 : target + 1]
    joined_late = 9 if start < now - timedelta(minutes=30) and team.pk % 2 == 0 else 4
    for step in steps:
        if step == "patient_joined":
            workflow.patient_join(room, now=at(-4))
        elif step == "tech_check_passed":
            if vma is None:
                return
            workflow.vma_join(room, actor=vma, now=at(-3))
            workflow.pass_tech_check(room, method=VisitRoom.TechCheck.DEVICE, now=at(-3))
        elif step == "roomed" and vma is not None:
            for code, _ in workflow.ROOMING_CHECKLIST:
                workflow.set_check(room, code=code, done=True, actor=vma, now=at(-1))
            workflow.complete_rooming(room, actor=vma, now=at(2))
        elif step == "ready_for_provider" and vma is not None:
            workflow.hand_off(
                room, note="Home BP readings higher this week; asks about a refill.", actor=vma, now=at(3)
            )
        elif step == "provider_joined":
            workflow.provider_join(room, actor=provider, now=at(joined_late))
        elif step == "ended":
            workflow.end_visit(room, actor=provider, perm=HOST, now=at(22))
