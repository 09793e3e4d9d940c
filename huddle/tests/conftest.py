"""Huddle fixtures: the care-gap starter set (limited to the diabetes rule), media in a temp dir."""

from __future__ import annotations

import importlib

import pytest
from django.apps import apps

from vma.roles import Role

from .helpers import only_rules


@pytest.fixture(autouse=True)
def _rules(db, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    # Re-seeded: browser tests flush the database, data migrations' rows included.
    importlib.import_module("patients.migrations.0004_caregap_starter_set").load(apps, None)
    only_rules("diabetes-hba1c")


@pytest.fixture
def vma(practice):
    return practice.users[Role.CLINICAL_SUPPORT]
