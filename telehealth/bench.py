"""Telehealth benchmark: the VMA's waiting-room board for a 40-visit day (every room state present)."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from datetime import time as dtime
from typing import TYPE_CHECKING

from bench.dataset import BENCH_VMA
from bench.harness import Case, benchmark, dataset_part

if TYPE_CHECKING:
    from bench.dataset import Dataset

DAY = date(2026, 11, 17)  # a fixed past Tuesday: outside every sweep's window however long it is reused
VISITS = 40
MARK = "bench.telehealth"  # Appointment.reason of the part's visits


@dataset_part("telehealth_day", version=1)
def build_telehealth_day(ds: Dataset) -> None:
    """40 video visits of the bench VMA's teams on DAY, their rooms spread over every status."""
    from django.db import transaction
    from django.utils import timezone

    from scheduling.models import Appointment
    from vma.access import panel_ids
    from vma.models import CareTeam

    from .models import RoomEvent, VisitRoom

    teams = panel_ids(ds.user(BENCH_VMA))
    with transaction.atomic():
        old = Appointment.objects.filter(reason=MARK)
        RoomEvent.objects.filter(room__appointment__in=old).delete()
        VisitRoom.objects.filter(appointment__in=old).delete()
        old.delete()
        providers = dict(CareTeam.objects.filter(pk__in=teams).values_list("pk", "provider_id"))
        from patients.models import Patient

        patients = list(Patient.objects.filter(care_team_id__in=teams).order_by("pk")[:VISITS])
        visits = Appointment.objects.bulk_create(
            [
                Appointment(
                    patient=p,
                    provider_id=providers[p.care_team_id],
                    start_at=timezone.make_aware(datetime.combine(DAY, dtime(8))) + timedelta(minutes=10 * i),
                    duration_minutes=20,
                    visit_type="Telehealth follow-up",
                    telehealth=True,
                    telehealth_room=f"bench-{i}",
                    reason=MARK,
                    status="checked_in",
                )
                for i, p in enumerate(patients)
            ]
        )
        statuses = VisitRoom.Status.values
        rooms = []
        for i, v in enumerate(visits):
            status = statuses[i % len(statuses)]
            if status == VisitRoom.Status.CREATED and i % 2:
                continue  # some visits have no room yet
            t = v.start_at
            rooms.append(
                VisitRoom(
                    appointment=v,
                    patient_id=v.patient_id,
                    status=status,
                    link_sent_at=t - timedelta(minutes=15),
                    link_sends=1,
                    patient_joined_at=t - timedelta(minutes=2),
                    tech_check_at=t - timedelta(minutes=1),
                    roomed_at=t + timedelta(minutes=2),
                    ready_at=t + timedelta(minutes=3),
                    handoff_note="Bench handoff",
                    provider_joined_at=t + timedelta(minutes=5),
                    ended_at=t + timedelta(minutes=20),
                    no_join_notified_at=t + timedelta(minutes=5) if i % 7 == 0 else None,
                )
            )
        VisitRoom.objects.bulk_create(rooms)


@benchmark("telehealth_waiting_room", target_p95_ms=300, max_queries=12)
def telehealth_waiting_room(ds: Dataset) -> Case:
    """GET the VMA's waiting-room board of a 40-visit video day (front office, every room state)."""
    client = ds.client_for(ds.user(BENCH_VMA))
    url = f"/telehealth/?day={DAY:%Y-%m-%d}"
    shown = ds.get_ok(client, url).content.count(b"data-visit=")
    if shown != VISITS:
        raise RuntimeError(f"The board shows {shown} visits; {VISITS} expected")
    return Case(run=lambda: ds.get_ok(client, url))
