"""The day's visits and the note page (constant queries, audited reads), and the encounters API's scope."""

from __future__ import annotations

from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from encounters import services
from tests.factories import PatientFactory
from vma.models import AuditEvent

from .helpers import checked_in_visit, complete_note


def test_the_days_visits_offer_to_open_a_note(client, patient, other_patient, scribe):
    here = checked_in_visit(patient)
    later = checked_in_visit(PatientFactory(care_team=patient.care_team), hour=15, status="scheduled")
    checked_in_visit(other_patient, hour=10)
    client.force_login(scribe)
    body = client.get(reverse("encounters_list")).content.decode()
    assert f'data-visit="{here.public_id}"' in body and f'data-visit="{later.public_id}"' in body
    assert body.count("data-visit=") == 2  # the other team's visit is not listed
    assert reverse("encounters_open", args=[here.public_id]) in body
    assert reverse("encounters_open", args=[later.public_id]) not in body and "Opens at check-in" in body
    enc = services.open_encounter(here, actor=scribe)[0]
    assert reverse("encounters_note", args=[enc.public_id]) in client.get(reverse("encounters_list")).content.decode()


def test_the_note_page_is_audited_as_a_read(client, encounter, scribe):
    client.force_login(scribe)
    client.get(reverse("encounters_note", args=[encounter.public_id]))
    event = AuditEvent.objects.filter(action="page.encounters_note").latest("seq")
    assert event.actor == scribe and event.patient_ids == [encounter.patient_id]


def test_the_note_page_query_count_is_constant(client, encounter, scribe, provider):
    complete_note(encounter, scribe)
    client.force_login(provider)
    url = reverse("encounters_note", args=[encounter.public_id])
    client.get(url)
    with CaptureQueriesContext(connection) as small:
        assert client.get(url).status_code == 200
    for code in ("E11.9", "E78.5", "J06.9", "R05.9", "M54.50", "K21.9"):
        services.add_diagnosis(encounter, code=code, actor=scribe)
    for field in ("hpi", "ros", "exam", "assessment"):
        services.save_field(encounter, field=field, value="x" * 2000, base_version=99, actor=provider)
    with CaptureQueriesContext(connection) as large:
        body = client.get(url).content.decode()
    assert body.count("data-code=") == 7
    assert len(small.captured_queries) == len(large.captured_queries)


def test_the_signed_note_page_query_count_is_constant_with_addenda(client, signed_note, provider):
    client.force_login(provider)
    url = reverse("encounters_note", args=[signed_note.public_id])
    services.add_addendum(signed_note, text="First.", actor=provider)
    client.get(url)
    with CaptureQueriesContext(connection) as small:
        client.get(url)
    for i in range(8):
        services.add_addendum(signed_note, text=f"Later {i}.", actor=provider)
    with CaptureQueriesContext(connection) as large:
        body = client.get(url).content.decode()
    assert body.count("data-addendum=") == 9
    assert len(small.captured_queries) == len(large.captured_queries)


def test_the_visit_list_query_count_is_constant(client, practice, scribe):
    client.force_login(scribe)
    for i in range(2):
        checked_in_visit(PatientFactory(care_team=practice.team), hour=8 + i)
    client.get(reverse("encounters_list"))
    with CaptureQueriesContext(connection) as small:
        client.get(reverse("encounters_list"))
    for i in range(8):
        visit = checked_in_visit(PatientFactory(care_team=practice.team), hour=10 + i % 7)
        services.open_encounter(visit, actor=scribe)
    with CaptureQueriesContext(connection) as large:
        body = client.get(reverse("encounters_list")).content.decode()
    assert body.count("data-visit=") == 10
    assert len(small.captured_queries) == len(large.captured_queries)


def test_the_api_lists_only_the_callers_panel(client, encounter, other_patient, practice, scribe):
    other = services.open_encounter(checked_in_visit(other_patient), actor=practice.outsider_provider)[0]
    client.force_login(scribe)
    rows = client.get(reverse("api-encounter-list")).json()["results"]
    assert [r["id"] for r in rows] == [str(encounter.public_id)]
    assert client.get(reverse("api-encounter-detail", args=[other.public_id])).status_code == 404
    detail = client.get(reverse("api-encounter-detail", args=[encounter.public_id])).json()
    assert detail["status"] == "draft" and detail["version"] == 1 and len(detail["content_hash"]) == 64
    filtered = client.get(reverse("api-encounter-list") + "?status=signed").json()["results"]
    assert filtered == []
    assert client.get(reverse("api-encounter-list") + "?date=nope").status_code == 400
    assert AuditEvent.objects.filter(action="api.encounters.detail", patient_ids=[encounter.patient_id]).exists()


def test_the_api_marks_ready(client, encounter, scribe):
    client.force_login(scribe)
    url = reverse("api-encounter-ready", args=[encounter.public_id])
    refused = client.post(url, {}, content_type="application/json")
    assert refused.status_code == 409 and "diagnosis" in refused.json()["detail"]
    complete_note(encounter, scribe)
    assert client.post(url, {}, content_type="application/json").json()["status"] == "pended"


def test_the_schema_builds_with_the_encounters_endpoints(client, scribe):
    client.force_login(scribe)
    response = client.get(reverse("api_schema"), HTTP_ACCEPT="application/json")
    assert response.status_code == 200
    text = response.content.decode()
    assert "/api/v1/encounters/{id}/sign/" in text and "EncounterConflictOut" in text
