"""Scheduling fixtures: the practice's provider with office hours, and two appointment types."""

from __future__ import annotations

import pytest

from vma.roles import Role

from .factories import AppointmentTypeFactory, weekly_template


@pytest.fixture
def provider(practice):
    doc = practice.users[Role.PROVIDER]
    doc.credentials, doc.last_name = "MD", "Hart"
    doc.save(update_fields=["credentials", "last_name"])
    weekly_template(doc)
    return doc


@pytest.fixture
def follow_up(db):
    return AppointmentTypeFactory(name="Follow-up", duration_minutes=30)


@pytest.fixture
def video(db):
    return AppointmentTypeFactory(name="Video follow-up", duration_minutes=20, telehealth=True)


@pytest.fixture
def front_office(practice):
    return practice.users[Role.FRONT_OFFICE]
