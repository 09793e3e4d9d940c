"""Huddle end to end: a patient completes the intake on a phone, then the VMA sees the intake line green on the scrub."""

from __future__ import annotations

import importlib
from datetime import datetime, time

import pytest
from django.apps import apps
from django.utils import timezone
from playwright.sync_api import Browser, expect

from huddle import services as huddle_services
from huddle.days import next_working_day
from huddle.models import ChartScrub
from intake import services, workflow
from intake.models import IntakeRule, Questionnaire
from intake.notify import make_token
from patients.models import CareGapRule, StandingOrderProtocol
from tests.factories import AppointmentFactory, PatientFactory
from vma.roles import Role

from .conftest import BrowserProblems, log_in

pytestmark = pytest.mark.e2e
PHONE = {"width": 390, "height": 844}


def test_a_patient_completes_intake_on_a_phone_and_the_vma_sees_it_on_the_scrub(
    browser: Browser, live_server, practice, page, problems: BrowserProblems
):
    # given a visit on the next working day with a sent GAD-7, and its chart scrub built
    importlib.import_module("intake.migrations.0002_starter_questionnaires").forwards(apps, None)
    # No care-gap rules or standing-order protocols in this practice: whether the starter set is
    # present depends on which browser test flushed the database before this one, and its gaps
    # (colorectal, flu…) would keep the chart from being marked scrubbed.
    CareGapRule.objects.all().delete()
    StandingOrderProtocol.objects.all().delete()
    patient = PatientFactory(care_team=practice.team, last_name="Okafor")
    rule, _ = IntakeRule.objects.get_or_create(visit_type="Anxiety follow-up")
    rule.questionnaires.set(Questionnaire.objects.filter(code__in=["gad7"], active=True))
    day = next_working_day(timezone.localdate())
    visit = AppointmentFactory(
        patient=patient, visit_type="Anxiety follow-up", start_at=timezone.make_aware(datetime.combine(day, time(9)))
    )
    packet, _ = services.create_packet(visit, rule)
    workflow.mark_sent(packet, channel="sms")
    huddle_services.build_scrubs()
    scrub = ChartScrub.objects.get(appointment=visit)
    assert scrub.items.get(code="intake").state == "needs_action"

    # and the VMA sees the intake line needing action
    log_in(page, practice.users[Role.CLINICAL_SUPPORT])
    page.goto("/huddle/scrubs/")
    page.locator(f"tr[data-scrub='{scrub.public_id}'] a").click()
    intake_line = page.locator("tr[data-item='intake']")
    expect(intake_line.locator(".state")).to_have_text("Needs action")

    # when the patient completes the intake on a phone-sized screen
    phone = browser.new_context(base_url=live_server.url, viewport=PHONE, is_mobile=True, has_touch=True)
    phone.set_default_timeout(10_000)
    mobile = phone.new_page()
    problems.watch(mobile)
    mobile.goto(f"/intake/f/{make_token(packet)}/")
    mobile.fill("#last_name", "okafor")
    mobile.fill("#date_of_birth", "1970-05-17")
    mobile.click("button:has-text('Continue')")
    expect(mobile.locator("h1")).to_have_text("GAD-7")
    assert mobile.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    for i in range(1, 8):
        mobile.check(f"input[name=q{i}][value='1']")
    mobile.click("button:has-text('Save and review')")
    mobile.click("button:has-text('Submit my forms')")
    expect(mobile.locator("h1")).to_have_text("Thank you")
    phone.close()

    # then the VMA, reloading the scrub, sees the intake line green with the submission time
    page.reload()
    expect(intake_line.locator(".state")).to_have_text("OK")
    expect(intake_line.locator(".detail")).to_contain_text("Submitted")
    # and marks the remaining lines, then the chart scrubbed (htmx swaps the checklist)
    # (no coverage on file: eligibility needs action until someone says why it does not apply)
    row = page.locator("tr[data-item='eligibility']")
    row.locator("input[name=note]").fill("Self-pay agreed at booking")
    row.locator("button:has-text('Not applicable')").click()
    expect(row.locator(".state")).to_have_text("Not applicable")
    expect(row.locator(".marked")).to_contain_text("Self-pay agreed at booking")
    page.click("#mark-scrubbed")
    expect(page.locator("#scrub-status")).to_have_text("Scrubbed")
    expect(page.locator("#checklist [role=alert]")).to_have_count(0)
    assert problems.js_errors == [] and problems.broken_assets == []
