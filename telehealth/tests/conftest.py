"""Telehealth fixtures: the practice's VMAs and provider, a video visit starting in ten minutes."""

from __future__ import annotations

import pytest

from vma.roles import Role

from .helpers import video_visit


@pytest.fixture
def vma(practice):
    return practice.users[Role.CLINICAL_SUPPORT]


@pytest.fixture
def front(practice):
    return practice.users[Role.FRONT_OFFICE]


@pytest.fixture
def provider(practice):
    return practice.users[Role.PROVIDER]


@pytest.fixture
def visit(patient):
    return video_visit(patient)
