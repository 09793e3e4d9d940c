"""Staff pages: the list in constant queries, the detail with answers and scores, access, review."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from intake import services, workflow
from intake.models import IntakePacket, ProposedChange
from tests.factories import CoverageFactory, PatientFactory
from vma.models import AuditEvent
from vma.roles import Role

from .conftest import packet_for


def submitted(patient, phq9="1", q9="0"):
    packet = packet_for(patient, codes=["phq9"])
    packet.responses.update(answers={f"q{i}": phq9 for i in range(1, 9)} | {"q9": q9})
    workflow.mark_opened(packet)
    return services.submit_packet(packet)


def _list_queries(client) -> tuple[int, bytes]:
    with CaptureQueriesContext(connection) as ctx:
        r = client.get(reverse("intake_packets"))
    assert r.status_code == 200
    return len(ctx.captured_queries), r.content


@pytest.mark.parametrize("role", [Role.FRONT_OFFICE, Role.NURSE])
def test_the_list_costs_the_same_for_3_and_30_packets(client, practice, starter, role):
    client.force_login(practice.users[role])
    for _ in range(3):
        submitted(PatientFactory(care_team=practice.team))
    few, _ = _list_queries(client)
    for _ in range(27):
        submitted(PatientFactory(care_team=practice.team))
    many, content = _list_queries(client)
    assert few == many
    assert content.count(b"data-packet=") == 30 and b"8 (mild)" in content


def test_the_list_shows_only_own_panels_and_flags_item9(client, practice, starter, patient, other_patient):
    mine = submitted(patient, phq9="0", q9="2")
    theirs = submitted(other_patient)
    client.force_login(practice.users[Role.NURSE])
    r = client.get(reverse("intake_packets"))
    assert str(mine.public_id).encode() in r.content and str(theirs.public_id).encode() not in r.content
    assert b"PHQ-9 item 9 positive" in r.content
    assert AuditEvent.objects.filter(action="page.intake_packets", patient_ids=[patient.pk]).exists()


def test_the_detail_shows_answers_and_scores_and_is_audited(client, practice, starter, patient):
    packet = submitted(patient, phq9="2")
    client.force_login(practice.users[Role.PROVIDER])
    r = client.get(reverse("intake_packet_detail", args=[packet.public_id]))
    assert r.status_code == 200
    assert b"16 (moderately severe)" in r.content and b"More than half the days" in r.content
    assert AuditEvent.objects.filter(action="page.intake_packet", patient_ids=[patient.pk]).exists()


def test_another_teams_packet_is_404(client, practice, starter, other_patient):
    packet = submitted(other_patient)
    client.force_login(practice.users[Role.FRONT_OFFICE])
    assert client.get(reverse("intake_packet_detail", args=[packet.public_id])).status_code == 404
    assert client.post(reverse("intake_packet_review", args=[packet.public_id])).status_code == 404


def test_the_vma_applies_a_change_and_reviews_from_the_page(client, practice, starter, patient):
    CoverageFactory(patient=patient, member_id="OLD12345")
    packet = packet_for(patient, codes=["registration"])
    packet.responses.update(
        answers={"first_name": patient.first_name, "last_name": patient.last_name, "phone": "555-0142"}
    )
    workflow.mark_opened(packet)
    services.submit_packet(packet)
    change = ProposedChange.objects.get()
    client.force_login(practice.users[Role.FRONT_OFFICE])
    detail = client.get(reverse("intake_packet_detail", args=[packet.public_id]))
    assert b"Confirm updates" in detail.content and b"555-0142" in detail.content
    r = client.post(reverse("intake_change_decide", args=[packet.public_id, change.public_id, "apply"]))
    assert r.status_code == 302
    patient.refresh_from_db()
    assert patient.phone == "555-0142"
    client.post(reverse("intake_packet_review", args=[packet.public_id]))
    packet.refresh_from_db()
    assert packet.status == IntakePacket.Status.REVIEWED


def test_a_nurse_cannot_apply_changes(client, practice, starter, patient):
    packet = packet_for(patient, codes=["registration"])
    packet.responses.update(answers={"first_name": "Zed", "last_name": patient.last_name, "phone": "555-0100"})
    workflow.mark_opened(packet)
    services.submit_packet(packet)
    change = ProposedChange.objects.get()
    client.force_login(practice.users[Role.NURSE])
    r = client.post(reverse("intake_change_decide", args=[packet.public_id, change.public_id, "apply"]))
    assert r.status_code == 403
    change.refresh_from_db()
    assert change.status == ProposedChange.Status.PENDING
