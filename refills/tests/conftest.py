"""Refills fixtures: the starter protocols re-seeded (browser tests flush the database), the usual people."""

from __future__ import annotations

import pytest
from django.apps import apps

from refills import starter
from vma.roles import Role


@pytest.fixture(autouse=True)
def _starter(db, settings):
    settings.PHARMACY_BACKEND = "orders.pharmacy.ConsoleBackend"
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    starter.load(apps, None)


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
def nurse(practice):
    return practice.users[Role.NURSE]
