"""Front office books a visit on the calendar, then checks the patient's eligibility, in a real browser."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from eligibility import workflow as eligibility_workflow
from eligibility.models import EligibilityCheck
from scheduling.models import Appointment
from scheduling.tests.factories import AppointmentTypeFactory, at, next_monday, weekly_template
from tests.factories import CoverageFactory, PatientFactory
from vma.models import User

from .conftest import BrowserProblems, log_in

pytestmark = pytest.mark.e2e


def test_front_office_books_on_the_calendar_then_sees_the_copay(
    page: Page, practice, problems: BrowserProblems
) -> None:
    # given: the team's provider (with an NPI) keeps office hours; a patient with an active plan
    vma: User = practice.users["front_office"]
    provider: User = practice.team.provider
    assert provider.npi
    weekly_template(provider)
    AppointmentTypeFactory(name="Follow-up", duration_minutes=30)
    patient = PatientFactory(care_team=practice.team, last_name="Calloway", first_name="Rita")
    CoverageFactory(patient=patient, member_id="E2E0000011")  # the simulated payer answers ...11 active
    monday = next_monday()
    start = at(monday, 9)

    # when: the VMA opens the provider's week and clicks the empty 9:00 Monday slot
    log_in(page, vma)
    page.goto(f"/scheduling/calendar/?provider={provider.public_id}&week={monday:%Y-%m-%d}&view=week")
    expect(page.locator("h1")).to_have_text("Calendar")
    page.click(f'button.free[data-start="{start.isoformat()}"]')
    expect(page.locator("#book-form")).to_be_visible()

    # and: finds the patient, keeps the visit type, and books (once htmx has wired the swapped-in
    # form: typing before that sends no search, as a person typing that fast would also see)
    page.wait_for_function("document.querySelector('#book-form input[name=q]')['htmx-internal-data'] !== undefined")
    page.locator("#book-form input[name=q]").press_sequentially("Callo", delay=30)
    expect(page.locator("#patient-matches")).to_contain_text("Calloway, Rita")
    page.click("#book-submit")

    # then: the calendar reloads with the visit on the grid, and it is in the database
    block = page.locator(".blk.appointment", has_text="Calloway")
    expect(block).to_be_visible()
    expect(block).to_contain_text("09:00")
    appt = Appointment.objects.get(patient=patient)
    assert appt.start_at == start and appt.provider == provider and appt.booked_by == vma

    # when: they open the patient's page and press "Check now"
    page.goto(f"/patients/{patient.public_id}/")
    panel = page.locator("#eligibility-panel")
    expect(panel.locator("button", has_text="Check now")).to_be_visible()
    panel.locator("button", has_text="Check now").click()
    expect(panel.locator("button", has_text="Check now")).to_be_disabled()

    # and: the check is sent (no worker runs in e2e: the test thread sends it)
    check = EligibilityCheck.objects.get(patient=patient)
    assert eligibility_workflow.send_check(check.pk) == "active"
    check.refresh_from_db()
    assert check.copay_office is not None

    # then: the panel, polling, shows the co-pay
    expect(panel).to_contain_text(re.compile(rf"\${check.copay_office}"), timeout=15_000)
    assert problems.js_errors == [] and problems.broken_assets == []
