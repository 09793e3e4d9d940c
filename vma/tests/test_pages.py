"""Pages: constant queries as data grows, htmx partials, clear errors, sessions, settings."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from tests.factories import PatientFactory
from vma import workflow
from vma.models import Heartbeat, WorkItem
from vma.roles import Role

ROOT = Path(__file__).resolve().parents[2]


def make_items(team, n):
    for _ in range(n):
        p = PatientFactory(care_team=team)
        workflow.open_work_item(kind="patients.callback", subject=p, patient=p, title="Call back")


def count_queries(client, url):
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    assert response.status_code == 200
    return len(ctx.captured_queries), response


@pytest.mark.parametrize("url", ["/queue/?view=queue", "/queue/?view=all", "/api/v1/work-items/"])
def test_queue_queries_do_not_grow_with_items(client, practice, url):
    client.force_login(practice.users[Role.FRONT_OFFICE])
    make_items(practice.team, 10)
    count_queries(client, url)  # warm the content-type cache, as any running server has
    small, r_small = count_queries(client, url)
    make_items(practice.team, 490)
    large, r_large = count_queries(client, url)
    assert small == large, (small, large)
    assert small <= 12
    # And the larger page really lists more rows (so the comparison means something).
    assert r_large.content.count(b"Call back") > r_small.content.count(b"Call back")


def test_patient_search_queries_constant(client, practice):
    client.force_login(practice.users[Role.FRONT_OFFICE])
    for _ in range(3):
        PatientFactory(care_team=practice.team, last_name="Alvarez")
    small, _ = count_queries(client, "/patients/?q=Alv")
    for _ in range(30):
        PatientFactory(care_team=practice.team, last_name="Alvarez")
    large, _ = count_queries(client, "/patients/?q=Alv")
    assert small == large


def test_htmx_list_request_returns_only_the_partial(client, practice):
    make_items(practice.team, 2)
    client.force_login(practice.users[Role.FRONT_OFFICE])
    r = client.get("/queue/?view=queue", HTTP_HX_REQUEST="true", HTTP_HX_TARGET="queue-list")
    body = r.content.decode()
    assert 'id="queue-list"' in body and "<html" not in body


def test_item_action_bad_input_shows_message_and_keeps_item(client, practice, patient):
    item, _ = workflow.open_work_item(kind="patients.callback", subject=patient, patient=patient, title="Call back")
    client.force_login(practice.users[Role.FRONT_OFFICE])
    url = reverse("work_item_action", args=[item.public_id, "snooze"])
    r = client.post(url, {"until": "not a date"}, HTTP_HX_REQUEST="true")
    assert r.status_code == 200 and "Give a date and time to snooze until." in r.content.decode()
    r = client.post(reverse("work_item_action", args=[item.public_id, "escalate"]), {"queue": "nurse", "reason": ""})
    assert r.status_code == 400 and "Give the reason for escalating." in r.content.decode()
    r = client.post(reverse("work_item_action", args=[item.public_id, "dance"]))
    assert r.status_code == 400
    item.refresh_from_db()
    assert item.status == WorkItem.Status.OPEN


def test_claim_next_with_empty_queue_says_so(client, practice):
    client.force_login(practice.users[Role.FRONT_OFFICE])
    r = client.post(reverse("claim_next"), follow=True)
    assert "Nothing to claim in your queues right now." in r.content.decode()


def test_escalating_away_returns_to_the_list(client, practice, patient):
    item, _ = workflow.open_work_item(kind="patients.callback", subject=patient, patient=patient, title="Call back")
    client.force_login(practice.users[Role.FRONT_OFFICE])
    r = client.post(
        reverse("work_item_action", args=[item.public_id, "escalate"]),
        {"queue": "nurse", "reason": "Chest pain"},
        HTTP_HX_REQUEST="true",
    )
    assert r.status_code == 204 and r["HX-Redirect"] == "/queue/"


def test_idle_logoff_after_fifteen_minutes():
    assert django_settings.SESSION_COOKIE_AGE == 15 * 60
    assert django_settings.SESSION_SAVE_EVERY_REQUEST  # the 15 minutes count from the last request


def test_lockout_after_repeated_failures(client, practice):
    user = practice.users[Role.FRONT_OFFICE]
    for _ in range(5):
        client.post(reverse("login"), {"username": user.username, "password": "wrong-password"})
    r = client.post(reverse("login"), {"username": user.username, "password": "Test-Password-2026"})
    assert r.status_code == 429 and "Account locked" in r.content.decode()
    assert "_auth_user_id" not in client.session


def test_patient_pages_are_never_cached(client, practice, patient):
    client.force_login(practice.users[Role.FRONT_OFFICE])
    r = client.get(reverse("patient_detail", args=[patient.public_id]))
    assert "no-store" in r["Cache-Control"]


def test_healthz_reports_stale_canary_as_503(client, db):
    Heartbeat.objects.create(name="canary", seen_at=timezone.now() - timedelta(minutes=10))
    r = client.get("/healthz")
    assert r.status_code == 503
    body = r.json()
    assert body["checks"]["database"]["ok"] is True
    assert body["checks"]["canary"]["ok"] is False and body["checks"]["canary"]["age_seconds"] >= 600


def _manage(*args, env):
    base = {
        k: v
        for k, v in os.environ.items()
        if k not in {"PYTEST_VERSION", "VMA_TESTING", "DEBUG", "SECRET_KEY", "PYTEST_CURRENT_TEST"}
    }
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env={**base, **env}, capture_output=True, text=True, timeout=120
    )


def test_production_settings_pass_check_deploy():
    result = _manage(
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        env={
            "SECRET_KEY": "x" * 20 + "production-secret-key-for-the-check-0123456789",
            "ALLOWED_HOSTS": "portal.example.org",
            "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/vma",
            "REDIS_URL": "redis://127.0.0.1:6379/9",
        },
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"DEBUG": "maybe"}, "DEBUG must be a boolean"),
        ({"DEBUG": "false"}, "SECRET_KEY must be set"),
        ({"DEBUG": "true", "DATABASE_URL": "nonsense://x"}, "DATABASE_URL"),
    ],
)
def test_malformed_settings_are_refused(env, message):
    result = _manage("check", env=env)
    assert result.returncode != 0
    assert message in result.stderr


def test_item_page_links_patient_and_subject(client, practice, patient):
    item, _ = workflow.open_work_item(kind="patients.callback", subject=patient, patient=patient, title="Call back")
    client.force_login(practice.users[Role.FRONT_OFFICE])
    body = client.get(reverse("work_item", args=[item.public_id])).content.decode()
    assert f'href="/patients/{patient.public_id}/"' in body
    assert 'id="item-subject"' in body


def test_queue_health_counts(client, practice):
    make_items(practice.team, 3)
    late = WorkItem.objects.first()
    WorkItem.objects.filter(pk=late.pk).update(due_at=timezone.now() - timedelta(hours=2))
    done = WorkItem.objects.exclude(pk=late.pk).first()
    WorkItem.objects.filter(pk=done.pk).update(created_at=timezone.now() - timedelta(minutes=90))
    workflow.complete_item(done, actor=practice.users[Role.FRONT_OFFICE], note="Called")
    client.force_login(practice.users[Role.MANAGER])
    response = client.get(reverse("queue_health"))
    rows = {(r.kind, r.queue): r for r in response.context["rows"]}
    row = rows[("patients.callback", "front_office")]
    assert (row.open, row.overdue) == (2, 1)
    assert row.median_close_minutes is not None and 85 <= row.median_close_minutes <= 95
    assert response.context["totals"]["overdue"] == 1


def test_queue_rows_escape_what_they_show(client, practice):
    patient = PatientFactory(care_team=practice.team, last_name="<b>O'Hara</b>")
    workflow.open_work_item(
        kind="patients.callback", subject=patient, patient=patient, title='<script>alert("x")</script>'
    )
    client.force_login(practice.users[Role.FRONT_OFFICE])
    body = client.get("/queue/?view=queue").content.decode()
    assert "<script>alert" not in body and "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in body
    assert "<b>O'Hara</b>" not in body and "&lt;b&gt;O&#x27;Hara&lt;/b&gt;" in body
