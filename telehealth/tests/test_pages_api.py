"""Waiting-room pages (htmx polling and partials) and the API, under the access rules; reads audited."""

from __future__ import annotations

from datetime import timedelta

from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from telehealth import workflow
from telehealth.models import VisitRoom
from tests.factories import PatientFactory
from vma.models import AuditEvent
from vma.roles import Role

from .helpers import S, room_at, video_visit


def _today_visits(team, n: int) -> None:
    start = timezone.localtime(timezone.now()).replace(hour=7, minute=0, second=0, microsecond=0)
    for i in range(n):
        visit = video_visit(PatientFactory(care_team=team), start=start + timedelta(minutes=20 * i))
        if i % 3 == 0:
            room_at(visit, [S.LINK_SENT, S.PATIENT_JOINED, S.READY][i % 9 // 3])


# --- the VMA's board ------------------------------------------------------------------------------


def test_board_lists_todays_video_visits_of_my_teams_with_status(client, practice, vma, patient, other_patient):
    mine = video_visit(patient)
    room_at(mine, S.PATIENT_JOINED)
    theirs = video_visit(other_patient)
    tomorrow = video_visit(patient, start=timezone.now() + timedelta(days=1))
    client.force_login(vma)
    body = client.get(reverse("telehealth_waiting_room")).content.decode()
    assert f'data-visit="{mine.public_id}" data-status="patient_joined"' in body
    assert str(theirs.public_id) not in body and str(tomorrow.public_id) not in body
    assert 'hx-trigger="every 5s"' in body and "data-quiet-poll" in body
    assert "Inpanel" in body and 'class="timer"' in body
    # the htmx poll answers the inner list only
    part = client.get(reverse("telehealth_waiting_room") + "?part=list", HTTP_HX_REQUEST="true")
    assert part.status_code == 200 and b"<html" not in part.content and b'id="waiting-table"' in part.content


def test_board_query_count_is_constant_from_5_to_30_visits(client, practice, vma):
    _today_visits(practice.team, 5)
    client.force_login(vma)
    client.get(reverse("telehealth_waiting_room"))  # session and permission caches warm
    counts = []
    for total in (5, 30):
        if total == 30:
            _today_visits(practice.team, 25)
        with CaptureQueriesContext(connection) as page:
            body = client.get(reverse("telehealth_waiting_room")).content.decode()
        with CaptureQueriesContext(connection) as poll:
            client.get(reverse("telehealth_waiting_room") + "?part=list", HTTP_HX_REQUEST="true")
        assert body.count("data-visit=") == total
        counts.append((len(page.captured_queries), len(poll.captured_queries)))
    assert counts[0] == counts[1], counts
    assert counts[0][0] <= 12


def test_board_reads_are_audited_and_polls_only_when_the_patients_change(client, practice, vma, patient):
    video_visit(patient)
    client.force_login(vma)
    poll = reverse("telehealth_waiting_room") + "?part=list"
    reads = AuditEvent.objects.filter(action="page.telehealth_waiting_room")
    client.get(reverse("telehealth_waiting_room"))
    client.get(poll, HTTP_HX_REQUEST="true")
    client.get(poll, HTTP_HX_REQUEST="true")
    assert reads.count() == 1 and reads.get().patient_ids == [patient.pk]
    video_visit(PatientFactory(care_team=practice.team))
    client.get(poll, HTTP_HX_REQUEST="true")
    assert reads.count() == 2


def test_pages_refuse_roles_without_the_permission(client, practice):
    client.force_login(practice.users[Role.BILLING])
    assert client.get(reverse("telehealth_waiting_room")).status_code == 403
    client.force_login(practice.users[Role.MANAGER])
    assert client.get(reverse("telehealth_waiting_room")).status_code == 403
    assert client.get(reverse("telehealth_metrics")).status_code == 200


# --- one visit's room ----------------------------------------------------------------------------


def test_another_teams_room_is_404_on_pages_and_api(client, practice, vma, other_patient):
    theirs = video_visit(other_patient)
    room_at(theirs, S.PATIENT_JOINED)
    client.force_login(vma)
    assert client.get(reverse("telehealth_visit", args=[theirs.public_id])).status_code == 404
    assert client.post(reverse("telehealth_room_action", args=[theirs.public_id, "join"])).status_code == 404
    assert client.get(reverse("api-televisit-detail", args=[theirs.public_id])).status_code == 404
    assert client.post(reverse("api-televisit-join", args=[theirs.public_id])).status_code == 404
    room = VisitRoom.objects.get(appointment=theirs)
    assert room.vma is None
    # an in-person visit answers like a missing one too
    in_person = video_visit(PatientFactory(care_team=practice.team))
    type(in_person).objects.filter(pk=in_person.pk).update(telehealth=False)
    assert client.get(reverse("telehealth_visit", args=[in_person.public_id])).status_code == 404


def test_vma_rooms_through_the_page_with_htmx_and_sees_refusals(client, vma, visit):
    room = room_at(visit, S.PATIENT_JOINED)
    client.force_login(vma)
    page = client.get(reverse("telehealth_visit", args=[visit.public_id])).content.decode()
    assert 'id="vma-join"' in page and "not part of this portal" in page
    assert AuditEvent.objects.filter(action="page.telehealth_visit").count() == 1
    client.post(reverse("telehealth_room_action", args=[visit.public_id, "join"]))
    htmx = {"HTTP_HX_REQUEST": "true"}
    refused = client.post(reverse("telehealth_room_action", args=[visit.public_id, "roomed"]), **htmx)
    assert refused.status_code == 200 and 'role="alert"' in refused.content.decode()
    assert "tech check has not passed" in refused.content.decode()
    client.post(reverse("telehealth_room_action", args=[visit.public_id, "tech-check"]), **htmx)
    for code, _ in workflow.ROOMING_CHECKLIST:
        done = client.post(
            reverse("telehealth_room_action", args=[visit.public_id, "check"]), {"item": code, "done": "1"}, **htmx
        )
    assert done.content.decode().count('class="checklist-item done"') == len(workflow.ROOMING_CHECKLIST)
    client.post(reverse("telehealth_room_action", args=[visit.public_id, "roomed"]), **htmx)
    empty = client.post(reverse("telehealth_room_action", args=[visit.public_id, "hand-off"]), {"note": " "}, **htmx)
    assert "Write the handoff note" in empty.content.decode()
    handed = client.post(
        reverse("telehealth_room_action", args=[visit.public_id, "hand-off"]), {"note": "Needs refill talk"}
    )
    assert handed.status_code == 302
    room.refresh_from_db()
    assert room.status == S.READY and room.handoff_note == "Needs refill talk"
    assert client.post(reverse("telehealth_room_action", args=[visit.public_id, "dance"])).status_code == 404


def test_live_part_signals_a_status_change_to_the_work_panel(client, vma, visit):
    room = room_at(visit, S.LINK_SENT)
    client.force_login(vma)
    live = reverse("telehealth_visit", args=[visit.public_id]) + "?part=live"
    same = client.get(live + "&seen=link_sent", HTTP_HX_REQUEST="true")
    assert "HX-Trigger" not in same and b'data-status="link_sent"' in same.content
    workflow.patient_join(room)
    changed = client.get(live + "&seen=link_sent", HTTP_HX_REQUEST="true")
    assert changed["HX-Trigger"] == "room-changed" and b'data-status="patient_joined"' in changed.content
    work = client.get(reverse("telehealth_visit", args=[visit.public_id]) + "?part=work", HTTP_HX_REQUEST="true")
    assert b'id="room-work"' in work.content and b"<html" not in work.content


def test_front_office_sends_the_link_but_does_not_room(client, front, visit):
    client.force_login(front)
    sent = client.post(reverse("telehealth_send_link", args=[visit.public_id]), {"next": "/telehealth/"})
    assert sent.status_code == 302 and sent["Location"] == "/telehealth/"
    assert VisitRoom.objects.get(appointment=visit).status == S.LINK_SENT
    again = client.post(reverse("telehealth_send_link", args=[visit.public_id]), follow=True)
    assert "less than a minute ago" in again.content.decode()
    evil = client.post(reverse("telehealth_send_link", args=[visit.public_id]), {"next": "https://evil.example/"})
    assert evil["Location"].startswith("/telehealth/visits/")
    assert client.post(reverse("telehealth_room_action", args=[visit.public_id, "join"])).status_code == 403


# --- the provider ---------------------------------------------------------------------------------


def test_provider_sees_ready_patients_first_with_their_wait_then_joins_and_ends(client, provider, patient):
    later = video_visit(patient, start=timezone.now() + timedelta(minutes=40))
    ready = video_visit(PatientFactory(care_team=patient.care_team, last_name="Readyone"))
    room = room_at(ready, S.READY)
    VisitRoom.objects.filter(pk=room.pk).update(ready_at=timezone.now() - timedelta(minutes=3))
    client.force_login(provider)
    body = client.get(reverse("telehealth_provider")).content.decode()
    ready_block = body.split('id="ready-list"')[1].split("All my video visits")[0]
    assert "Readyone" in ready_block and "Ready: BP check" in ready_block and 'class="timer wait-ready"' in ready_block
    assert "3\xa0minutes" in ready_block and str(later.public_id) in body
    joined = client.post(reverse("telehealth_provider_action", args=[ready.public_id, "join"]))
    assert joined.status_code == 302 and joined["Location"] == reverse("telehealth_visit", args=[ready.public_id])
    ended = client.post(reverse("telehealth_provider_action", args=[ready.public_id, "end"]))
    assert ended.status_code == 302
    room.refresh_from_db()
    assert room.status == S.ENDED
    ready.refresh_from_db()
    assert ready.status == "completed"


# --- API -------------------------------------------------------------------------------------------


def test_api_list_for_a_day_scoped_with_status(client, vma, patient, other_patient):
    joined = video_visit(patient)
    room_at(joined, S.PATIENT_JOINED)
    fresh = video_visit(patient, start=timezone.now() + timedelta(minutes=50))
    video_visit(other_patient)
    client.force_login(vma)
    data = client.get(reverse("api-televisit-list")).json()
    got = {r["id"]: r for r in data["results"]}
    assert set(got) == {str(joined.public_id), str(fresh.public_id)}
    assert got[str(joined.public_id)]["status"] == "patient_joined"
    assert got[str(fresh.public_id)]["status"] == "created" and got[str(fresh.public_id)]["since"] is None
    only = client.get(reverse("api-televisit-list") + "?status=created").json()["results"]
    assert [r["id"] for r in only] == [str(fresh.public_id)]
    assert client.get(reverse("api-televisit-list") + "?date=2030-13-01").status_code == 400
    assert client.get(reverse("api-televisit-list") + "?status=nap").status_code == 400
    assert client.get(reverse("api-televisit-list") + "?date=2030-03-05").json()["results"] == []
    assert AuditEvent.objects.filter(action="api.telehealth_visits.list").exists()


def test_api_rooms_a_patient_with_the_same_rules(client, vma, provider, visit):
    room_at(visit, S.PATIENT_JOINED)
    client.force_login(vma)
    detail = reverse("api-televisit-detail", args=[visit.public_id])

    def post(name: str, body: dict | None = None):
        return client.post(
            reverse(f"api-televisit-{name}", args=[visit.public_id]), body or {}, content_type="application/json"
        )

    assert post("checklist", {"item": "identity"}).json() == {
        "detail": "Join the room first: the VMA who joined runs the rooming checklist."
    }
    assert post("join").json()["vma"] == vma.username
    assert post("checklist", {"item": "nope"}).status_code == 400
    assert post("roomed").status_code == 409
    post("tech-check")
    for code, _ in workflow.ROOMING_CHECKLIST:
        post("checklist", {"item": code, "done": True})
    assert post("roomed").json()["status"] == "roomed"
    assert post("hand-off", {"note": ""}).status_code == 400
    out = post("hand-off", {"note": "Ready: wants to discuss sleep"}).json()
    assert out["status"] == "ready_for_provider" and [c["done"] for c in out["checklist"]] == [True] * 6
    assert post("provider-join").status_code == 403  # a VMA is not the provider
    kinds = [e["kind"] for e in client.get(detail).json()["events"]]
    assert kinds[-2:] == ["roomed", "ready_for_provider"]
    client.force_login(provider)
    assert post("provider-join").json()["status"] == "provider_joined"
    assert post("end").json()["status"] == "ended"
    assert post("end").status_code == 409


def test_api_schema_builds_with_the_telehealth_endpoints(client, practice):
    client.force_login(practice.users[Role.ADMIN])
    schema = client.get(reverse("api_schema"), HTTP_ACCEPT="application/vnd.oai.openapi+json").content.decode()
    assert "/api/v1/telehealth/visits/{id}/hand-off/" in schema and "TelehealthRoomOut" in schema
