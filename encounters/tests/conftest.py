"""Encounter fixtures: a checked-in visit of the practice's provider, its scribe, and notes in each state."""

from __future__ import annotations

import pytest

from vma.roles import Role

from .helpers import checked_in_visit, complete_note


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path


@pytest.fixture
def scribe(practice):
    return practice.users[Role.CLINICAL_SUPPORT]


@pytest.fixture
def provider(practice):
    return practice.users[Role.PROVIDER]


@pytest.fixture
def nurse(practice):
    return practice.users[Role.NURSE]


@pytest.fixture
def visit(patient):
    return checked_in_visit(patient)


@pytest.fixture
def encounter(visit, scribe):
    from encounters import services

    return services.open_encounter(visit, actor=scribe)[0]


@pytest.fixture
def ready_note(encounter, scribe):
    """A complete note the scribe marked ready: it waits in the provider's signing queue."""
    from encounters import workflow

    complete_note(encounter, scribe)
    return workflow.mark_ready(encounter, actor=scribe)


@pytest.fixture
def signed_note(ready_note, provider):
    from encounters import workflow
    from encounters.selectors import note_hash

    return workflow.sign_note(ready_note.public_id, provider=provider, expected_hash=note_hash(ready_note))
