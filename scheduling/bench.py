"""Scheduling benchmark: the calendar page, a provider's week, for 30 booked-up providers."""

from __future__ import annotations

import statistics
import time
from datetime import date
from typing import TYPE_CHECKING, Any

from bench.dataset import BENCH_VMA, PASSWORD
from bench.harness import Case, benchmark, dataset_part, percentile

if TYPE_CHECKING:
    from bench.dataset import Dataset

PROVIDERS = 30
PREFIX = "bench.calendar.provider."
# A fixed, past week: its visits never enter the eligibility sweep's 72 h look-ahead however long
# the dataset is reused, and every run reads the same rows.
WEEK = date(2026, 11, 2)  # a Monday
VISITS_PER_DAY = 14  # 08:00-11:30 and 13:00-15:30, 30 minutes each; 15:30-17:00 stays free
DAY_VIEW_REPEATS = 30


@dataset_part("calendar_week", version=1)
def build_calendar(ds: Dataset) -> None:
    """30 providers (weekday template 08-17, lunch block) and a full week of visits on them."""
    from django.conf import settings
    from django.contrib.auth.hashers import make_password
    from django.contrib.auth.models import Group
    from django.db import connection, transaction

    from vma.access import panel_ids
    from vma.models import User
    from vma.roles import Role
    from vma.validators import npi_check_digit

    from .models import AppointmentType, BlockKind, Location, ScheduleTemplate, TemplateBlock

    vma = ds.user(BENCH_VMA)
    teams = panel_ids(vma)  # the visits are the benchmark user's patients: every block has a name
    with transaction.atomic():
        User.objects.filter(username__startswith=PREFIX).delete()
        password = make_password(PASSWORD)
        credentials = ["MD", "DO", "NP", "PA"]
        users = User.objects.bulk_create(
            [
                User(
                    username=f"{PREFIX}{k:02d}",
                    first_name=f"Cal{k:02d}",
                    last_name=f"Provider{k:02d}",
                    npi=str(191000000 + k) + str(npi_check_digit(str(191000000 + k))),
                    credentials=credentials[k % 4],
                    email=f"{PREFIX}{k:02d}@example.invalid",
                    password=password,
                )
                for k in range(1, PROVIDERS + 1)
            ]
        )
        users = list(User.objects.filter(username__startswith=PREFIX).order_by("username"))
        group = Group.objects.get(name=Role.PROVIDER)
        Membership = User.groups.through
        Membership.objects.bulk_create([Membership(user_id=u.pk, group_id=group.pk) for u in users])
        location, _ = Location.objects.get_or_create(name="Bench clinic", defaults={"address": "1 Main St"})
        kinds = [
            AppointmentType.objects.get_or_create(name=name, defaults={"duration_minutes": 30, "colour": colour})[0]
            for name, colour in (("Bench follow-up", "#4a90d9"), ("Bench annual visit", "#2e9e6a"))
        ]
        templates = ScheduleTemplate.objects.bulk_create(
            [
                ScheduleTemplate(provider=u, weekday=wd, location=location, start_time="08:00", end_time="17:00")
                for u in users
                for wd in range(5)
            ]
        )
        TemplateBlock.objects.bulk_create(
            [TemplateBlock(template=t, kind=BlockKind.LUNCH, start_time="12:00", end_time="13:00") for t in templates]
        )
        with connection.cursor() as cur:
            cur.execute(
                """
                WITH pts AS (
                    SELECT id, row_number() OVER (ORDER BY id) - 1 AS n, count(*) OVER () AS total
                    FROM patients_patient WHERE care_team_id = ANY(%(teams)s)
                ),
                slots AS (
                    SELECT pr.k, pr.id AS provider_id, d, s,
                           ((%(week)s::date + d) + CASE WHEN s < 8 THEN time '08:00' + s * interval '30 minutes'
                                                        ELSE time '13:00' + (s - 8) * interval '30 minutes' END)
                               AT TIME ZONE %(tz)s AS start_at
                    FROM (SELECT id, row_number() OVER (ORDER BY username) AS k FROM vma_user
                          WHERE username LIKE %(prefix)s) pr,
                         generate_series(0, 4) d, generate_series(0, %(per_day)s - 1) s
                )
                INSERT INTO scheduling_appointment (
                    public_id, patient_id, provider_id, appointment_type_id, location_id, start_at,
                    duration_minutes, end_at, visit_type, telehealth, telehealth_room, reason, status,
                    rescheduled_to_id, cancel_reason, late_cancel, cancelled_at, confirmed_at,
                    checked_in_at, booked_by_id, created_at, updated_at)
                SELECT gen_random_uuid(), p.id, sl.provider_id, t.id, %(location)s, sl.start_at, 30,
                       sl.start_at + interval '30 minutes', t.name, false, '', 'Routine visit',
                       CASE WHEN sl.s %% 3 = 0 THEN 'confirmed' ELSE 'scheduled' END,
                       NULL, '', false, NULL, CASE WHEN sl.s %% 3 = 0 THEN sl.start_at - interval '2 days' END,
                       NULL, NULL, sl.start_at - interval '3 weeks', now()
                FROM slots sl
                JOIN pts p ON p.n = (sl.k * 997 + sl.d * %(per_day)s + sl.s) %% p.total
                JOIN scheduling_appointmenttype t ON t.id = (%(kinds)s::bigint[])[1 + (sl.k + sl.s) %% 2]
                """,
                {
                    "teams": teams,
                    "week": WEEK,
                    "tz": settings.TIME_ZONE,
                    "prefix": PREFIX + "%",
                    "per_day": VISITS_PER_DAY,
                    "location": location.pk,
                    "kinds": [k.pk for k in kinds],
                },
            )
            expected = PROVIDERS * 5 * VISITS_PER_DAY
            if cur.rowcount != expected:
                raise RuntimeError(f"{cur.rowcount} calendar visits written; {expected} expected")


def _week_url(public_id: Any) -> str:
    return f"/scheduling/calendar/?provider={public_id}&week={WEEK:%Y-%m-%d}&view=week"


DAY_URL = f"/scheduling/calendar/?day={WEEK:%Y-%m-%d}&view=day"


@benchmark("calendar_week", target_p95_ms=300, max_queries=20)
def calendar_week(ds: Dataset) -> Case:
    """GET one provider's week (70 visits) as front office; each iteration the next of 30 providers."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from vma.models import User

    # The page shows one provider per week; several providers only as one day (view=day, all of them).
    client = ds.client_for(ds.user(BENCH_VMA))
    urls = [
        _week_url(pid)
        for pid in User.objects.filter(username__startswith=PREFIX)
        .order_by("username")
        .values_list("public_id", flat=True)
    ]
    if len(urls) != PROVIDERS:
        raise RuntimeError(f"{len(urls)} calendar providers in the dataset; {PROVIDERS} expected")
    for url in urls:
        shown = ds.get_ok(client, url).content.count(b"data-appointment=")
        if shown != 5 * VISITS_PER_DAY:
            raise RuntimeError(f"{url} shows {shown} named visits; {5 * VISITS_PER_DAY} expected")
    turn = [0]

    def run() -> None:
        ds.get_ok(client, urls[turn[0] % PROVIDERS])
        turn[0] += 1

    def extra() -> dict[str, Any]:
        failures = []
        # Constant queries: the same count for every provider's week.
        counts = set()
        for url in urls:
            with CaptureQueriesContext(connection) as ctx:
                ds.get_ok(client, url)
            counts.add(len(ctx.captured_queries))
        if len(counts) != 1:
            failures.append(f"queries differ between providers' weeks: {sorted(counts)}")
        # The multi-provider view the page does have: one day, a column per provider.
        day_ms: list[float] = []
        day_queries = set()
        for _ in range(DAY_VIEW_REPEATS):
            with CaptureQueriesContext(connection) as ctx:
                t0 = time.perf_counter()
                response = ds.get_ok(client, DAY_URL)
                day_ms.append((time.perf_counter() - t0) * 1000)
            day_queries.add(len(ctx.captured_queries))
        day_shown = response.content.count(b"data-appointment=")
        if day_shown != PROVIDERS * VISITS_PER_DAY:
            failures.append(f"the day view shows {day_shown} named visits; {PROVIDERS * VISITS_PER_DAY} expected")
        return {
            "week_queries_per_provider": sorted(counts),
            "day_view_30_providers_median_ms": round(statistics.median(day_ms), 2),
            "day_view_30_providers_p95_ms": round(percentile(day_ms, 95), 2),
            "day_view_queries": sorted(day_queries),
            "failures": failures,
        }

    return Case(run=run, extra=extra)
