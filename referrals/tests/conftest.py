"""Referral fixtures: media in a temp dir, the follow-up cadence rows, the practice's people by role."""

from __future__ import annotations

import importlib

import pytest
from django.apps import apps

from vma.roles import Role


@pytest.fixture(autouse=True)
def _media_and_cadence(db, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    # Re-seeded: browser tests flush the database, data migrations' rows included.
    importlib.import_module("referrals.migrations.0002_followup_rules").load(apps, None)


@pytest.fixture
def vma(practice):
    return practice.users[Role.CLINICAL_SUPPORT]


@pytest.fixture
def front(practice):
    return practice.users[Role.FRONT_OFFICE]


@pytest.fixture
def provider(practice):
    return practice.users[Role.PROVIDER]
