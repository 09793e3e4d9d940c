"""Patients fixtures: the starter care-gap rules and protocols (re-seeded: e2e tests flush the database)."""

from __future__ import annotations

import importlib

import pytest
from django.apps import apps

_starter = importlib.import_module("patients.migrations.0004_caregap_starter_set")


@pytest.fixture
def rules(db):
    _starter.load(apps, None)
    from patients.models import CareGapRule

    return {r.code: r for r in CareGapRule.objects.all()}
