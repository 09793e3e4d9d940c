"""The referral dashboard: its numbers on a known dataset, constant queries, drill-down to the list."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from html import unescape

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from referrals.dashboard import build_dashboard
from referrals.models import Referral
from tests.factories import PatientFactory
from vma.access import panel_ids
from vma.roles import Role

from .factories import specialist

S = Referral.Status


def make(patient, to, *, created: int, now: datetime, sent: int | None = None, **kw) -> Referral:
    """A referral whose clocks are `n` days before now (set directly: the dashboard only reads them)."""
    days = lambda n: now - timedelta(days=n) if n is not None else None  # noqa: E731
    fields = {k: days(v) if k.endswith("_at") else v for k, v in kw.items()}
    if fields.get("status") in Referral.ENDED:
        fields.setdefault("status_reason", "test")
        fields.setdefault("ended_at", now)
    return Referral.objects.create(
        patient=patient,
        referring_provider=patient.care_team.provider,
        specialist=to,
        specialty=to.specialty,
        created_at=days(created),
        sent_at=days(sent),
        **fields,
    )


def dataset(practice, now: datetime) -> dict[str, Referral]:
    heart = specialist(organisation="Heart Center")
    skin = specialist(organisation="Skin Clinic", specialty="Dermatology")
    p = lambda: PatientFactory(care_team=practice.team)  # noqa: E731
    rows = {
        "draft": make(p(), heart, created=3, now=now),
        "sent": make(p(), heart, created=10, sent=10, now=now, status=S.SENT),
        "stale_ack": make(p(), heart, created=40, sent=40, now=now, status=S.ACKNOWLEDGED, acknowledged_at=35),
        "scheduled": make(p(), heart, created=20, sent=20, now=now, status=S.SCHEDULED, first_scheduled_at=15),
        "closed_10d": make(
            p(),
            heart,
            created=50,
            sent=50,
            now=now,
            status=S.CLOSED,
            first_scheduled_at=48,
            seen_at=42,
            report_received_at=40,
            reviewed_at=39,
        ),
        "closed_4d": make(
            p(),
            skin,
            created=30,
            sent=30,
            now=now,
            status=S.CLOSED,
            first_scheduled_at=29,
            seen_at=27,
            report_received_at=26,
            reviewed_at=25,
        ),
        "report_6d": make(
            p(),
            heart,
            created=20,
            sent=20,
            now=now,
            status=S.REPORT_RECEIVED,
            first_scheduled_at=18,
            seen_at=15,
            report_received_at=14,
        ),
        "declined": make(p(), skin, created=12, sent=12, now=now, status=S.DECLINED),
        "cancelled": make(p(), heart, created=25, sent=25, now=now, status=S.CANCELLED, first_scheduled_at=22),
        "old": make(
            p(),
            heart,
            created=200,
            sent=200,
            now=now,
            status=S.CLOSED,
            first_scheduled_at=195,
            seen_at=185,
            report_received_at=180,
            reviewed_at=179,
        ),
    }
    rows["other_team"] = make(
        PatientFactory(care_team=practice.other_team), skin, created=5, sent=5, now=now, status=S.SENT
    )
    return rows


NOW = timezone.make_aware(datetime(2026, 6, 15, 12, 0))


def test_the_numbers_on_a_known_dataset(practice):
    dataset(practice, NOW)
    dash = build_dashboard(practice.users[Role.CLINICAL_SUPPORT], window_days=90, now=NOW)
    assert not dash.practice_wide
    open_by_state = {r.status: (r.total, dict(r.buckets)) for r in dash.open_rows}
    assert open_by_state[S.DRAFT] == (1, {"0-7": 1, "8-14": 0, "15-30": 0, "31-60": 0, "61+": 0})
    assert open_by_state[S.SENT][1]["8-14"] == 1
    assert open_by_state[S.ACKNOWLEDGED][1]["31-60"] == 1
    assert open_by_state[S.SCHEDULED][1]["15-30"] == 1
    assert open_by_state[S.SEEN][0] == 0
    assert open_by_state[S.REPORT_RECEIVED][1]["15-30"] == 1
    assert dash.open_total == 5
    assert (dash.sent, dash.reports, dash.closed, dash.leaked, dash.ended_unseen) == (8, 3, 2, 2, 2)
    assert dash.closure_rate == 25.0 and dash.leakage_rate == 25.0
    assert dash.median_days_to_report == 6.0  # 10, 4 and 6 days; the 20-day one is outside the window
    per = {row.name.split(" — ")[0]: row for row in dash.specialists}
    heart, skin = per["Heart Center"], per["Skin Clinic"]
    assert (heart.sent, heart.open, heart.reports, heart.closed, heart.leaked, heart.median_days) == (
        6,
        4,
        2,
        1,
        1,
        8.0,
    )
    assert (skin.sent, skin.open, skin.reports, skin.closed, skin.leaked, skin.median_days) == (2, 0, 1, 1, 1, 4.0)
    assert heart.closure_rate == 16.7 and skin.leakage_rate == 50.0


def test_the_manager_reads_the_whole_practice(practice):
    dataset(practice, NOW)
    dash = build_dashboard(practice.users[Role.MANAGER], window_days=90, now=NOW)
    assert dash.practice_wide and dash.sent == 9  # the other team's referral counts too
    assert {r.status: r.total for r in dash.open_rows}[S.SENT] == 2


def test_the_window_changes_what_counts(practice):
    dataset(practice, NOW)
    dash = build_dashboard(practice.users[Role.CLINICAL_SUPPORT], window_days=365, now=NOW)
    assert dash.sent == 9 and dash.closed == 3 and dash.median_days_to_report == 8.0  # 4, 6, 10, 20


def test_roles_without_the_dashboard_get_nothing(practice):
    dataset(practice, NOW)
    dash = build_dashboard(practice.users[Role.BILLING], now=NOW)
    assert dash.sent == 0 and dash.open_total == 0


def _grow(practice, n: int, now: datetime) -> None:
    for i in range(n):
        s = specialist(organisation=f"Clinic {i}")
        make(PatientFactory(care_team=practice.team), s, created=i, sent=i, now=now, status=S.SENT)


def test_constant_queries_as_data_grows(client, practice):
    client.force_login(practice.users[Role.CLINICAL_SUPPORT])
    now = timezone.now()
    dataset(practice, now)
    client.get(reverse("referrals_dashboard"))
    with CaptureQueriesContext(connection) as small:
        assert client.get(reverse("referrals_dashboard")).status_code == 200
    _grow(practice, 25, now)
    with CaptureQueriesContext(connection) as large:
        body = client.get(reverse("referrals_dashboard")).content.decode()
    assert body.count("data-specialist=") == 27
    assert len(small.captured_queries) == len(large.captured_queries)
    user = practice.users[Role.CLINICAL_SUPPORT]
    user.get_all_permissions()  # the request already has these: count the dashboard's own
    panel_ids(user)
    with CaptureQueriesContext(connection) as direct:
        build_dashboard(user)
    assert len(direct.captured_queries) == 4  # open by state, the window totals, per specialist, their names


def _href(body: str, pattern: str) -> str:
    found = re.search(pattern, body, re.S)
    assert found, pattern
    return unescape(found.group(1))


@pytest.mark.parametrize("role", [Role.CLINICAL_SUPPORT, Role.MANAGER])
def test_drill_down_to_the_filtered_list(client, practice, role):
    user = practice.users[role]
    if role == Role.MANAGER:
        from vma.access import add_to_care_team

        add_to_care_team(user, practice.team)  # lists show the manager's care teams only
    rows = dataset(practice, timezone.now())
    client.force_login(user)
    body = client.get(reverse("referrals_dashboard")).content.decode()
    cell = _href(body, r'data-state="acknowledged".*?data-age="31-60"><a href="([^"]+)"')
    listed = client.get(cell).content.decode()
    assert re.findall(r'data-referral="([^"]+)"', listed) == [str(rows["stale_ack"].public_id)]
    leak = _href(body, r'data-stat="leakage"><b><a href="([^"]+)"')
    listed = client.get(leak).content.decode()
    assert set(re.findall(r'data-referral="([^"]+)"', listed)) == {
        str(rows["stale_ack"].public_id),
        str(rows["declined"].public_id),
    }
    skin = rows["declined"].specialist
    link = _href(body, rf'data-specialist="{skin.public_id}">\s*<td><a href="([^"]+)"')
    listed = client.get(link).content.decode()
    assert set(re.findall(r'data-referral="([^"]+)"', listed)) == {
        str(rows["closed_4d"].public_id),
        str(rows["declined"].public_id),
    }
