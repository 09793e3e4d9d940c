"""The waiting room's sweep (every minute): join links shortly before each visit, and the no-join alert.

Each visit is handled in its own transaction under its room's row lock (SKIP LOCKED: a second
sweeper running at the same moment passes it by); what was done is recorded on the room
(`link_sends`, `no_join_notified_at`) and in outbox keys, so a sweep that runs twice sends nothing
twice, and a missed tick is caught up by the next one while the visit is still in its window.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from scheduling.models import Appointment
from vma.exceptions import ActionRefused

from . import notify, workflow
from .models import VisitRoom

log = logging.getLogger(__name__)

LINK_LEAD = timedelta(minutes=15)  # the join link goes out this long before the start
NO_JOIN_AFTER = timedelta(minutes=5)  # not in the waiting room this long after the start: backup plan
NO_JOIN_WINDOW = timedelta(minutes=60)  # older visits are past helping (a sweep outage): no late texts
NOT_CHECKED_IN = (Appointment.Status.SCHEDULED, Appointment.Status.CONFIRMED)


@dataclass
class SweepResult:
    links_sent: int = 0
    alerts: int = 0

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


def _locked_room(visit: Appointment) -> VisitRoom | None:
    room = workflow.ensure_room(visit)
    return (
        VisitRoom.objects.select_for_update(skip_locked=True, of=("self",))
        .select_related("appointment__provider", "patient")
        .filter(pk=room.pk)
        .first()
    )


def links_due(now: datetime) -> list[Appointment]:
    return list(
        Appointment.objects.filter(
            telehealth=True, status__in=NOT_CHECKED_IN, start_at__gt=now, start_at__lte=now + LINK_LEAD
        )
        .filter(Q(visit_room__isnull=True) | Q(visit_room__status=VisitRoom.Status.CREATED, visit_room__link_sends=0))
        .select_related("patient")
        .order_by("start_at", "id")
    )


def no_joins_due(now: datetime) -> list[Appointment]:
    return list(
        Appointment.objects.filter(
            telehealth=True,
            status__in=NOT_CHECKED_IN,
            start_at__lte=now - NO_JOIN_AFTER,
            start_at__gt=now - NO_JOIN_WINDOW,
        )
        .filter(
            Q(visit_room__isnull=True)
            | Q(visit_room__status__in=VisitRoom.NOT_JOINED, visit_room__no_join_notified_at__isnull=True)
        )
        .order_by("start_at", "id")
    )


def sweep_waiting_rooms(*, now: datetime | None = None) -> SweepResult:
    now = now or timezone.now()
    result = SweepResult()
    for visit in links_due(now):
        if not notify.can_reach(visit.patient):
            continue  # nothing to send it to; the no-join alert opens a call item at +5 min
        with transaction.atomic():
            room = _locked_room(visit)
            if room is None or room.link_sends:
                continue
            try:
                workflow.send_link(room, actor=None, now=now)
            except ActionRefused as exc:
                log.info("telehealth: no link for visit %s: %s", visit.pk, exc.message)
                continue
            result.links_sent += 1
    for visit in no_joins_due(now):
        with transaction.atomic():
            room = _locked_room(visit)
            if room is not None and workflow.alert_no_join(room, now=now):
                result.alerts += 1
    return result
