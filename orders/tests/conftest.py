"""Orders fixtures: the practice's clinical-support VMA and provider, and a visit with two diagnoses."""

from __future__ import annotations

import pytest

from tests.factories import PatientFactory
from vma.roles import Role

from .factories import encounter


@pytest.fixture
def vma(practice):
    return practice.users[Role.CLINICAL_SUPPORT]


@pytest.fixture
def provider(practice):
    return practice.users[Role.PROVIDER]


@pytest.fixture
def visit(practice, patient):
    return encounter(patient)


@pytest.fixture
def other_visit(practice):
    """A visit of another team's patient and provider."""
    return encounter(PatientFactory(care_team=practice.other_team))
