"""Start delay and waiting times per provider and day, on known timestamps (median and max in the database)."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from telehealth import selectors
from telehealth.models import VisitRoom
from tests.factories import PatientFactory
from vma.roles import Role

from .helpers import S, room_at, video_visit

DAY = date(2030, 3, 5)


def at(hour: int, minute: int = 0, day: date = DAY) -> datetime:
    return timezone.make_aware(datetime.combine(day, datetime.min.time())) + timedelta(hours=hour, minutes=minute)


def _visit(team, start: datetime, *, joined: int, ready: int, provider: int) -> VisitRoom:
    """A visit at `start` where the patient joined, was handed off and was joined by the provider
    at the given minutes after the start (negative: before)."""
    room = room_at(video_visit(PatientFactory(care_team=team), start=start), S.ENDED)
    VisitRoom.objects.filter(pk=room.pk).update(
        patient_joined_at=start + timedelta(minutes=joined),
        ready_at=start + timedelta(minutes=ready),
        provider_joined_at=start + timedelta(minutes=provider),
    )
    return room


def test_medians_and_maxima_per_provider_and_day(practice):
    team, other = practice.team, practice.other_team
    # provider A on DAY: three visits; provider joins 4, 10 and 1 minute(s) early (-1 counts as 0)
    _visit(team, at(9), joined=-3, ready=2, provider=4)  # start 4, ready→joined 2, joined→joined 7
    _visit(team, at(10), joined=-1, ready=5, provider=10)  # start 10, 5, 11
    _visit(team, at(11), joined=-6, ready=-2, provider=-1)  # start 0 (early), 1, 5
    # a visit the provider never joined does not count
    room_at(video_visit(PatientFactory(care_team=team), start=at(12)), S.READY)
    # provider B on DAY, and provider A the next day
    _visit(other, at(9), joined=0, ready=3, provider=6)
    _visit(team, at(9, day=DAY + timedelta(days=1)), joined=0, ready=1, provider=2)

    with CaptureQueriesContext(connection) as ctx:
        rows = selectors.wait_metrics(practice.users[Role.MANAGER], start=DAY, end=DAY + timedelta(days=1))
    assert len(ctx.captured_queries) <= 3  # grouped and aggregated in the database, then the names

    by = {(r.provider.pk, r.day): r for r in rows}
    a = by[(team.provider_id, DAY)]
    assert a.visits == 3
    assert (a.start_delay.median, a.start_delay.max) == (4.0, 10.0)
    assert (a.wait_ready.median, a.wait_ready.max) == (2.0, 5.0)
    assert (a.wait_joined.median, a.wait_joined.max) == (7.0, 11.0)
    b = by[(other.provider_id, DAY)]
    assert (b.visits, b.start_delay.median, b.wait_ready.max, b.wait_joined.median) == (1, 6.0, 3.0, 6.0)
    nxt = by[(team.provider_id, DAY + timedelta(days=1))]
    assert (nxt.visits, nxt.start_delay.median) == (1, 2.0)
    assert [r.day for r in rows] == sorted((r.day for r in rows), reverse=True)


def test_even_count_median_is_the_mean_of_the_middle_two(practice):
    _visit(practice.team, at(9), joined=0, ready=1, provider=3)
    _visit(practice.team, at(10), joined=0, ready=1, provider=6)
    [row] = selectors.wait_metrics(practice.users[Role.MANAGER], start=DAY, end=DAY)
    assert row.start_delay.median == 4.5 and row.start_delay.max == 6.0


def test_a_provider_sees_only_their_own_figures_and_others_none(practice):
    _visit(practice.team, at(9), joined=0, ready=1, provider=3)
    _visit(practice.other_team, at(9), joined=0, ready=1, provider=8)
    mine = selectors.wait_metrics(practice.users[Role.PROVIDER], start=DAY, end=DAY)
    assert [r.provider for r in mine] == [practice.users[Role.PROVIDER]]
    assert selectors.wait_metrics(practice.users[Role.FRONT_OFFICE], start=DAY, end=DAY) == []


def test_metrics_page(client, practice):
    _visit(practice.team, at(9), joined=-2, ready=1, provider=3)
    client.force_login(practice.users[Role.MANAGER])
    body = client.get(reverse("telehealth_metrics") + "?from=2030-03-01&to=2030-03-07").content.decode()
    assert f'data-provider="{practice.team.provider.public_id}"' in body
    assert '<td class="start-median">3.0</td>' in body and '<td class="joined-max">5.0</td>' in body
    # nonsense dates fall back to the last week, reversed ones are put in order
    assert client.get(reverse("telehealth_metrics") + "?from=banana").status_code == 200
    flipped = client.get(reverse("telehealth_metrics") + "?from=2030-03-07&to=2030-03-01").content.decode()
    assert 'data-day="2030-03-05"' in flipped
