"""Intake API: questionnaires read-only for scoped tokens, packets and responses under access, review."""

from __future__ import annotations

from django.urls import reverse

from intake import services, workflow
from intake.models import IntakePacket, Questionnaire
from vma.roles import Role

from .conftest import packet_for


def submitted(patient):
    packet = packet_for(patient, codes=["phq9"])
    packet.responses.update(answers={f"q{i}": "1" for i in range(1, 10)})
    workflow.mark_opened(packet)
    return services.submit_packet(packet)


def test_questionnaires_list_and_detail(client, practice, starter):
    client.force_login(practice.users[Role.NURSE])
    r = client.get(reverse("api-intakequestionnaire-list") + "?active=true")
    assert r.status_code == 200
    codes = {q["code"] for q in r.json()["results"]}
    assert {"phq9", "gad7", "registration"} <= codes
    phq9 = Questionnaire.objects.get(code="phq9", active=True)
    r = client.get(reverse("api-intakequestionnaire-detail", args=[phq9.public_id]))
    assert r.json()["definition"]["scoring"] == "phq9"
    assert client.post(reverse("api-intakequestionnaire-list"), {}, content_type="application/json").status_code in {
        403,
        405,
    }


def test_packets_list_only_own_panels_with_scores(client, practice, starter, patient, other_patient):
    mine, theirs = submitted(patient), submitted(other_patient)
    client.force_login(practice.users[Role.PROVIDER])
    r = client.get(reverse("api-intakepacket-list"))
    ids = [p["id"] for p in r.json()["results"]]
    assert ids == [str(mine.public_id)]
    assert r.json()["results"][0]["phq9_score"] == 9 and r.json()["results"][0]["item9_positive"] is True
    assert client.get(reverse("api-intakepacket-detail", args=[theirs.public_id])).status_code == 404


def test_responses_list_and_detail_under_access(client, practice, starter, patient, other_patient):
    mine, theirs = submitted(patient), submitted(other_patient)
    client.force_login(practice.users[Role.NURSE])
    r = client.get(reverse("api-intakeresponse-list") + f"?packet={mine.public_id}")
    [row] = r.json()["results"]
    assert (row["code"], row["total_score"], row["band"]) == ("phq9", 9, "mild")
    other = theirs.responses.get()
    assert client.get(reverse("api-intakeresponse-detail", args=[other.public_id])).status_code == 404
    assert client.get(reverse("api-intakeresponse-list") + "?packet=junk").json()["results"] == []


def test_review_through_the_api(client, practice, starter, patient):
    packet = submitted(patient)
    client.force_login(practice.users[Role.NURSE])
    assert client.post(reverse("api-intakepacket-review", args=[packet.public_id])).status_code == 403
    client.force_login(practice.users[Role.FRONT_OFFICE])
    r = client.post(reverse("api-intakepacket-review", args=[packet.public_id]))
    assert r.status_code == 200 and r.json()["status"] == "reviewed"
    packet.refresh_from_db()
    assert packet.status == IntakePacket.Status.REVIEWED


def test_a_partner_token_reads_questionnaires_only_with_the_intake_scope(client, practice, starter):
    from datetime import timedelta

    from django.utils import timezone

    from vma.api.auth import create_token

    user = practice.users[Role.NURSE]
    soon = timezone.now() + timedelta(days=1)
    _, with_scope = create_token(name="ok", user=user, scopes=["intake:read"], expires_at=soon, created_by=None)
    _, without = create_token(name="no", user=user, scopes=["patients:read"], expires_at=soon, created_by=None)
    url = reverse("api-intakequestionnaire-list")
    assert client.get(url, HTTP_AUTHORIZATION=f"Bearer {with_scope}").status_code == 200
    assert client.get(url, HTTP_AUTHORIZATION=f"Bearer {without}").status_code == 403
    assert client.get(reverse("api-intakepacket-list"), HTTP_AUTHORIZATION=f"Bearer {without}").status_code == 403
