"""Intake end to end: a patient on a phone completes PHQ-9 and GAD-7, then a VMA sees the scores."""

from __future__ import annotations

import importlib
from datetime import timedelta

import pytest
from django.apps import apps
from django.utils import timezone
from playwright.sync_api import Browser, expect

from intake import services, workflow
from intake.models import IntakePacket, IntakeRule, Questionnaire
from intake.notify import make_token
from tests.factories import AppointmentFactory, PatientFactory
from vma.roles import Role

from .conftest import BrowserProblems, log_in

pytestmark = pytest.mark.e2e
PHONE = {"width": 390, "height": 844}


def test_a_patient_completes_intake_on_a_phone_and_the_vma_sees_the_scores(
    browser: Browser, live_server, practice, page, problems: BrowserProblems
):
    # given a sent packet of PHQ-9 and GAD-7 for a visit in two days
    importlib.import_module("intake.migrations.0002_starter_questionnaires").forwards(apps, None)
    patient = PatientFactory(care_team=practice.team, last_name="Van Der Berg")
    rule, _ = IntakeRule.objects.get_or_create(visit_type="Screening visit")
    rule.questionnaires.set(Questionnaire.objects.filter(code__in=["phq9", "gad7"], active=True))
    visit = AppointmentFactory(
        patient=patient, visit_type="Screening visit", start_at=timezone.now() + timedelta(days=2)
    )
    packet, _ = services.create_packet(visit, rule)
    workflow.mark_sent(packet, channel="sms")
    link = f"/intake/f/{make_token(packet)}/"

    # when the patient opens the link on a phone-sized screen
    phone = browser.new_context(base_url=live_server.url, viewport=PHONE, is_mobile=True, has_touch=True)
    phone.set_default_timeout(10_000)
    mobile = phone.new_page()
    problems.watch(mobile)
    mobile.goto(link)
    expect(mobile.locator("h1")).to_have_text("Forms for your visit")
    assert mobile.locator("text=PHQ-9").count() == 0  # nothing shown before the identity check
    # and confirms two identifiers, typed loosely
    mobile.fill("#last_name", "  van der berg ")
    mobile.fill("#date_of_birth", "1970-05-17")
    mobile.click("button:has-text('Continue')")
    expect(mobile.locator("h1")).to_have_text("PHQ-9")
    # the page fits the phone: no horizontal scrolling, tap targets at least 44 px tall
    assert mobile.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    assert mobile.locator("label.option").first.bounding_box()["height"] >= 44
    # and answers PHQ-9 ("Several days" to each item: 9, mild) and GAD-7 ("More than half the days": 14)
    for i in range(1, 10):
        mobile.check(f"input[name=q{i}][value='1']")
    mobile.click("button:has-text('Save and continue')")
    expect(mobile.locator("h1")).to_have_text("GAD-7")
    for i in range(1, 8):
        mobile.check(f"input[name=q{i}][value='2']")
    mobile.click("button:has-text('Save and review')")
    mobile.click("button:has-text('Submit my forms')")
    expect(mobile.locator("h1")).to_have_text("Thank you")
    phone.close()

    # then the packet is submitted with its scores, and item 9 escalated to the nurse queue
    packet.refresh_from_db()
    assert (packet.status, packet.phq9_score, packet.gad7_score) == (IntakePacket.Status.SUBMITTED, 9, 14)
    assert packet.item9_positive is True

    # and a VMA signs in and sees it on the list and the detail page
    log_in(page, practice.users[Role.FRONT_OFFICE])
    page.goto("/intake/")
    row = page.locator(f"tr[data-packet='{packet.public_id}']")
    expect(row.locator(".status")).to_have_text("Submitted")
    expect(row).to_contain_text("9 (mild)")
    expect(row).to_contain_text("14 (moderate)")
    expect(row).to_contain_text("PHQ-9 item 9 positive")
    row.locator("a").click()
    expect(page.locator("#phq9")).to_have_text("9 (mild)")
    expect(page.locator("#gad7")).to_have_text("14 (moderate)")
    assert problems.js_errors == [] and problems.broken_assets == []
