"""The demo seed: dr.rivera's pended orders and authenticator, made once."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from orders import demo
from orders.models import Order, SecondFactorDevice
from orders.second_factor import verify
from tests.factories import PASSWORD, AppointmentFactory, CareTeamFactory, PatientFactory, UserFactory
from vma.access import add_to_care_team, sync_role_groups
from vma.roles import Role

from .factories import code_at

pytestmark = pytest.mark.django_db


def test_seed_pends_orders_for_dr_rivera_and_enrolls_her_authenticator_once():
    sync_role_groups()
    rivera = UserFactory(username="dr.rivera", role=Role.PROVIDER)
    eve = UserFactory(username="cs.eve", role=Role.CLINICAL_SUPPORT)
    team = CareTeamFactory(provider=rivera)
    add_to_care_team(eve, team)
    for hours in (2, 3):
        AppointmentFactory(patient=PatientFactory(care_team=team), start_at=timezone.now() + timedelta(hours=hours))
    demo.seed()
    demo.seed()
    orders = Order.objects.filter(provider=rivera, status=Order.Status.PENDED)
    assert orders.count() == 6 and orders.filter(controlled_schedule="CII").count() == 1
    assert set(orders.values_list("kind", flat=True)) == set(Order.Kind.values)
    assert SecondFactorDevice.objects.get(user=rivera).secret == demo.DEMO_OTP_SECRET
    assert verify(rivera, password=PASSWORD, otp=code_at(secret=demo.DEMO_OTP_SECRET)) == (True, "")


def test_seed_does_nothing_outside_the_demo_clinic():
    demo.seed()
    assert not Order.objects.exists()
