"""Intake fixtures: the starter forms (re-seeded: e2e tests flush the database), packets ready to open."""

from __future__ import annotations

import importlib
from datetime import timedelta

import pytest
from django.apps import apps
from django.utils import timezone

from intake import services, workflow
from intake.models import IntakePacket, IntakeRule
from intake.notify import make_token
from tests.factories import AppointmentFactory

_starter = importlib.import_module("intake.migrations.0002_starter_questionnaires")


@pytest.fixture
def starter(db):
    _starter.forwards(apps, None)
    return {r.visit_type: r for r in IntakeRule.objects.all()}


def packet_for(patient, *, codes: list[str], hours_ahead: float = 48, sent: bool = True) -> IntakePacket:
    """A packet with the given forms for a visit `hours_ahead` from now, sent (test set-up)."""
    visit_type = "Test " + "+".join(codes)
    rule, _ = IntakeRule.objects.get_or_create(visit_type=visit_type)
    from intake.models import Questionnaire

    rule.questionnaires.set(Questionnaire.objects.filter(code__in=codes, active=True))
    visit = AppointmentFactory(
        patient=patient, start_at=timezone.now() + timedelta(hours=hours_ahead), visit_type=visit_type
    )
    packet, _ = services.create_packet(visit, rule)
    if sent:
        packet = workflow.mark_sent(packet, channel="sms")
    return packet


@pytest.fixture
def screening_packet(starter, patient):
    """PHQ-9 then GAD-7: two pages."""
    return packet_for(patient, codes=["phq9", "gad7"])


@pytest.fixture
def token(screening_packet):
    return make_token(screening_packet)
