"""factory_boy factories shared by every app's tests. Synthetic data only."""

from __future__ import annotations

import itertools
from datetime import date, timedelta

import factory
from django.contrib.auth.models import Group
from django.utils import timezone

from patients.models import Coverage, Patient, Payer
from scheduling.models import Appointment
from vma.access import add_to_care_team
from vma.models import CareTeam, User
from vma.roles import Role
from vma.validators import npi_check_digit

PASSWORD = "Test-Password-2026"
_npi_counter = itertools.count(100000000)


def next_npi() -> str:
    first_nine = str(next(_npi_counter))
    return first_nine + str(npi_check_digit(first_nine))


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.invalid")
    password = factory.PostGenerationMethodCall("set_password", PASSWORD)

    @factory.post_generation
    def role(self, create: bool, extracted: str | None, **kwargs: object) -> None:
        if extracted:
            group, _ = Group.objects.get_or_create(name=extracted)
            self.groups.add(group)
            if extracted == Role.PROVIDER and not self.npi:
                self.npi = next_npi()
        if create:
            self.save()


class CareTeamFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = CareTeam
        skip_postgeneration_save = True

    name = factory.Sequence(lambda n: f"Team {n}")
    provider = factory.SubFactory(UserFactory, role=Role.PROVIDER)

    @factory.post_generation
    def members(self, create: bool, extracted: list[User] | None, **kwargs: object) -> None:
        add_to_care_team(self.provider, self)
        for user in extracted or []:
            add_to_care_team(user, self)


class PatientFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Patient

    mrn = factory.Sequence(lambda n: f"T{n:06d}")
    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    date_of_birth = factory.LazyFunction(lambda: date(1970, 5, 17))
    sex = "F"
    phone = "555-0100"
    care_team = factory.SubFactory(CareTeamFactory)


class PayerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Payer
        django_get_or_create = ("payer_id",)

    name = factory.Sequence(lambda n: f"Test Payer {n}")
    payer_id = factory.Sequence(lambda n: f"TP{n:03d}")


class CoverageFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Coverage

    patient = factory.SubFactory(PatientFactory)
    payer = factory.SubFactory(PayerFactory)
    member_id = factory.Sequence(lambda n: f"M{n:08d}11")
    plan_begin = factory.LazyFunction(lambda: date(timezone.localdate().year, 1, 1))


class AppointmentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Appointment

    patient = factory.SubFactory(PatientFactory)
    provider = factory.LazyAttribute(lambda a: a.patient.care_team.provider)
    start_at = factory.LazyFunction(lambda: timezone.now() + timedelta(days=1))
    visit_type = "Follow-up"
