"""Completion and abandonment, computed in the database; questionnaire definitions and versions."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from intake import services, workflow
from intake.models import IntakePacket, Questionnaire, validate_definition
from intake.selectors import completion_report
from tests.factories import PatientFactory

from .conftest import packet_for


def test_completion_rates_and_where_abandoned_packets_stopped(practice, starter):
    team = practice.team
    done = packet_for(PatientFactory(care_team=team), codes=["medications_allergies"], hours_ahead=30)
    done.responses.update(answers={"medications": "none", "allergies": "none"})
    workflow.mark_opened(done)
    services.submit_packet(done)
    stopped = packet_for(PatientFactory(care_team=team), codes=["medications_allergies"], hours_ahead=30)
    workflow.mark_opened(stopped)
    IntakePacket.objects.filter(pk=stopped.pk).update(furthest_section="medications_allergies:Medications")
    workflow.mark_in_progress(stopped)
    packet_for(PatientFactory(care_team=team), codes=["medications_allergies"], hours_ahead=30)  # never opened
    services.flag_incomplete(now=timezone.now() + timedelta(hours=8))
    now = timezone.now()
    report = completion_report(now - timedelta(days=1), now + timedelta(days=1))
    [row] = report.by_visit_type
    assert (row.sent, row.opened, row.submitted, row.completion_rate) == (3, 2, 1, 0.333)
    [form] = report.by_questionnaire
    assert (form.key, form.sent, form.opened, form.submitted) == ("medications_allergies", 3, 2, 1)
    assert report.abandoned_at == [
        {"visit_type": row.key, "section": "medications_allergies:Medications", "packets": 1}
    ]


@pytest.mark.parametrize(
    ("definition", "message"),
    [
        ([], "JSON object"),
        ({"sections": []}, "non-empty"),
        ({"sections": [{"title": "A", "questions": [{"id": "Bad Id", "text": "x", "type": "text"}]}]}, "lowercase"),
        ({"sections": [{"title": "A", "questions": [{"id": "a", "text": "x", "type": "slider"}]}]}, '"type" must be'),
        (
            {"sections": [{"title": "A", "questions": [{"id": "a", "text": "x", "type": "choice"}]}]},
            'needs \\"options\\"',
        ),
        (
            {
                "sections": [
                    {"title": "A", "questions": [{"id": "a", "text": "x", "type": "text", "maps_to": "patient.ssn"}]}
                ]
            },
            "not known",
        ),
        (
            {"scoring": "phq9", "sections": [{"title": "A", "questions": [{"id": "q1", "text": "x", "type": "text"}]}]},
            "q1 … q9",
        ),
    ],
)
def test_a_malformed_definition_is_refused_with_a_clear_message(definition, message):
    with pytest.raises(ValidationError) as exc:
        validate_definition(definition)
    assert message.replace('\\"', '"') in " ".join(exc.value.messages)


def test_editing_a_used_form_in_admin_saves_a_new_version(admin_client, starter, patient):
    packet_for(patient, codes=["gad7"])
    gad7 = Questionnaire.objects.get(code="gad7", active=True)
    definition = gad7.definition | {"sections": [{**gad7.definition["sections"][0], "title": "Past 2 weeks"}]}
    import json

    r = admin_client.post(
        f"/admin/intake/questionnaire/{gad7.pk}/change/",
        {"code": "gad7", "title": "GAD-7", "active": "on", "position": 60, "definition": json.dumps(definition)},
    )
    assert r.status_code == 302, r.content[:500]
    versions = dict(Questionnaire.objects.filter(code="gad7").values_list("version", "active"))
    assert versions == {1: False, 2: True}
    assert Questionnaire.objects.get(code="gad7", version=1).definition == gad7.definition


def test_admin_refuses_a_malformed_definition(admin_client, starter):
    r = admin_client.post(
        "/admin/intake/questionnaire/add/",
        {"code": "x", "title": "X", "active": "on", "position": 1, "definition": '{"sections": []}'},
    )
    assert r.status_code == 200 and b"non-empty" in r.content
    assert not Questionnaire.objects.filter(code="x").exists()
