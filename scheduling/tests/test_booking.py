"""Booking respects templates and blocks and never double-books; find-next-available."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.db import IntegrityError, connection, transaction
from django.test.utils import CaptureQueriesContext

from scheduling import selectors, services
from scheduling.models import Appointment, ScheduleBlock
from tests.factories import PatientFactory, UserFactory
from vma.exceptions import ActionRefused, NotPermitted
from vma.roles import Role

from .factories import AppointmentTypeFactory, at, next_monday, weekly_template


def book(patient, provider, kind, start, actor):
    return services.book_appointment(
        patient=patient, provider=provider, appointment_type=kind, start_at=start, actor=actor
    )


def test_booking_in_hours_sets_end_location_and_telehealth_link(patient, provider, video, front_office, settings):
    settings.TELEHEALTH_BASE_URL = "https://video.example.invalid/r"
    monday = next_monday()
    # when
    appt = book(patient, provider, video, at(monday, 9), front_office)
    # then
    assert appt.end_at == at(monday, 9, 20)
    assert appt.location is not None and appt.location.name == "Main office"
    assert appt.telehealth and appt.join_url.startswith("https://video.example.invalid/r/")
    assert appt.visit_type == video.name and appt.booked_by == front_office


@pytest.mark.parametrize(
    ("hour", "minute", "message"),
    [
        (7, 0, "outside Dr Hart's hours"),
        (16, 45, "outside Dr Hart's hours"),  # 30 min would end after 17:00
        (11, 45, "blocked for Dr Hart (Lunch)"),
        (12, 15, "blocked for Dr Hart (Lunch)"),
    ],
)
def test_booking_outside_template_or_in_a_template_block_is_refused(
    patient, provider, follow_up, front_office, hour, minute, message
):
    with pytest.raises(ActionRefused) as exc:
        book(patient, provider, follow_up, at(next_monday(), hour, minute), front_office)
    assert message in exc.value.message
    assert not Appointment.objects.exists()


def test_booking_on_a_weekend_or_in_a_one_off_block_is_refused(patient, provider, follow_up, front_office):
    monday = next_monday()
    ScheduleBlock.objects.create(provider=provider, kind="vacation", start_at=at(monday, 8), end_at=at(monday, 17))
    with pytest.raises(ActionRefused, match="blocked for Dr Hart \\(Vacation\\)"):
        book(patient, provider, follow_up, at(monday, 10), front_office)
    with pytest.raises(ActionRefused, match="outside"):
        book(patient, provider, follow_up, at(monday + timedelta(days=5), 10), front_office)


def test_overlapping_booking_gets_the_clear_conflict(patient, provider, follow_up, front_office):
    monday = next_monday()
    book(patient, provider, follow_up, at(monday, 9), front_office)
    with pytest.raises(ActionRefused) as exc:
        book(PatientFactory(care_team=patient.care_team), provider, follow_up, at(monday, 9, 15), front_office)
    assert exc.value.message == "That time is already booked for Dr Hart." and exc.value.status_code == 409
    # back to back is fine
    assert book(PatientFactory(care_team=patient.care_team), provider, follow_up, at(monday, 9, 30), front_office)


def test_booking_another_teams_patient_is_not_permitted(other_patient, provider, follow_up, front_office):
    with pytest.raises(NotPermitted):
        book(other_patient, provider, follow_up, at(next_monday(), 9), front_office)


def test_the_database_refuses_a_double_booking_the_service_did_not_see(patient, provider, follow_up):
    # given: a typed visit 9:00-9:30
    monday = next_monday()
    first = Appointment.objects.create(
        patient=patient, provider=provider, appointment_type=follow_up, start_at=at(monday, 9), duration_minutes=30
    )
    # when: a row written past the service overlaps it, then the same after the first is cancelled
    with pytest.raises(IntegrityError), transaction.atomic():
        Appointment.objects.create(
            patient=patient, provider=provider, appointment_type=follow_up, start_at=at(monday, 9, 10)
        )
    Appointment.objects.filter(pk=first.pk).update(status="cancelled", cancel_reason="x")
    # then: a cancelled visit no longer holds the time
    assert Appointment.objects.create(
        patient=patient, provider=provider, appointment_type=follow_up, start_at=at(monday, 9, 10)
    )


@pytest.mark.django_db(transaction=True)
def test_two_vmas_booking_one_slot_at_once_one_wins_one_gets_the_conflict(practice, provider, follow_up):
    # given: two front-office users and two patients of the team
    monday = next_monday()
    vmas = [practice.users[Role.FRONT_OFFICE], UserFactory(role=Role.FRONT_OFFICE)]
    from vma.access import add_to_care_team

    add_to_care_team(vmas[1], practice.team)
    patients = [PatientFactory(care_team=practice.team) for _ in range(2)]
    barrier = threading.Barrier(2)
    results: list[object] = []

    def attempt(i: int) -> None:
        try:
            barrier.wait(timeout=10)
            results.append(book(patients[i], provider, follow_up, at(monday, 10), vmas[i]))
        except ActionRefused as exc:
            results.append(exc)
        finally:
            connection.close()

    # when: both book 10:00 at the same moment
    threads = [threading.Thread(target=attempt, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)

    # then: one visit, one clear refusal
    booked = [r for r in results if isinstance(r, Appointment)]
    refused = [r for r in results if isinstance(r, ActionRefused)]
    assert len(booked) == 1 and len(refused) == 1, results
    assert refused[0].message == "That time is already booked for Dr Hart."
    assert Appointment.objects.filter(provider=provider).count() == 1


# --- find next available ----------------------------------------------------------------------


def test_find_slots_honours_templates_blocks_bookings_and_preferences(patient, provider, follow_up, front_office):
    monday = next_monday()
    # given: Monday 8-9 booked by two visits, a meeting 9-10, and the afternoon wanted on Tue/Thu only
    book(patient, provider, follow_up, at(monday, 8), front_office)
    book(PatientFactory(care_team=patient.care_team), provider, follow_up, at(monday, 8, 30), front_office)
    ScheduleBlock.objects.create(provider=provider, kind="meeting", start_at=at(monday, 9), end_at=at(monday, 10))

    # when / then: the first free Monday slot is 10:00, lunch is skipped
    slots = selectors.find_slots(follow_up, provider=provider, date_from=monday, date_to=monday, limit=100)
    starts = [s.start for s in slots]
    assert starts[0] == at(monday, 10)
    assert at(monday, 11, 30) in starts and at(monday, 11, 45) not in starts and at(monday, 12) not in starts
    assert at(monday, 13) in starts and starts[-1] == at(monday, 16, 30)
    assert all(s.location is not None for s in slots)

    afternoon = selectors.find_slots(
        follow_up, date_from=monday, date_to=monday + timedelta(days=6), weekdays=[1, 3], part_of_day="afternoon"
    )
    assert afternoon and afternoon[0].start == at(monday + timedelta(days=1), 13)
    assert {s.start.weekday() for s in afternoon} <= {1, 3}
    assert all(s.provider == provider for s in afternoon)


def test_find_slots_for_any_provider_costs_the_same_queries_for_one_or_many_days(provider, follow_up):
    other = UserFactory(role=Role.PROVIDER, last_name="Ames")
    weekly_template(other, start=7)
    monday = next_monday()
    with CaptureQueriesContext(connection) as one_day:
        slots = selectors.find_slots(follow_up, date_from=monday, date_to=monday, limit=5)
    with CaptureQueriesContext(connection) as two_weeks:
        selectors.find_slots(follow_up, date_from=monday, date_to=monday + timedelta(days=13), limit=500)
    assert slots[0].provider == other and slots[0].start == at(monday, 7)  # earliest first, any provider
    assert len(one_day.captured_queries) == len(two_weeks.captured_queries) <= 6


def test_no_show_rates_are_computed_per_patient_and_provider(patient, provider):
    kind = AppointmentTypeFactory(name="Rates")
    monday = next_monday()
    for i, status in enumerate(["completed", "no_show", "completed", "no_show", "cancelled"]):
        Appointment.objects.create(
            patient=patient,
            provider=provider,
            appointment_type=kind,
            start_at=at(monday, 8 + i),
            status=status,
            cancel_reason="x" if status == "cancelled" else "",
        )
    by_patient = {r["patient_id"]: r for r in selectors.no_show_rates("patient")}
    by_provider = {r["provider_id"]: r for r in selectors.no_show_rates("provider")}
    assert by_patient[patient.pk]["visits"] == 4 and by_patient[patient.pk]["rate"] == pytest.approx(0.5)
    assert by_provider[provider.pk]["no_shows"] == 2


def test_booking_a_type_that_needs_authorization_opens_it(patient, provider, front_office):
    """A visit type flagged for prior auth, with a payer rule requiring it, opens the authorization."""
    from eligibility.models import PriorAuthorization, PriorAuthRule
    from tests.factories import CoverageFactory

    mri = AppointmentTypeFactory(name="MRI review", duration_minutes=30, needs_prior_auth_check=True)
    coverage = CoverageFactory(patient=patient)
    PriorAuthRule.objects.create(payer=coverage.payer, category="MRI review", required=True)
    appointment = book(patient, provider, mri, at(next_monday(), 9), front_office)
    auth = PriorAuthorization.objects.get(appointment=appointment)
    assert auth.status == "required" and auth.coverage == coverage
    # A type without the flag opens nothing.
    plain = book(patient, provider, AppointmentTypeFactory(name="MRI review 2"), at(next_monday(), 10), front_office)
    assert not PriorAuthorization.objects.filter(appointment=plain).exists()
