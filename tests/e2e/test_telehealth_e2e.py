"""Telehealth end to end: the patient opens the join link on a phone, the VMA sees them arrive without
reloading, rooms them and hands off, and the provider sees the patient ready with a running wait."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone
from playwright.sync_api import Browser, expect

from telehealth import notify, workflow
from tests.factories import AppointmentFactory, PatientFactory
from vma.roles import Role

from .conftest import BrowserProblems, log_in

pytestmark = pytest.mark.e2e
PHONE = {"width": 390, "height": 844}


def test_patient_joins_on_a_phone_vma_rooms_and_hands_off_provider_sees_the_wait(
    browser: Browser, live_server, practice, page, problems: BrowserProblems
):
    # given a video visit in ten minutes whose join link went out
    patient = PatientFactory(care_team=practice.team, first_name="Amara", last_name="Quist")
    visit = AppointmentFactory(
        patient=patient,
        start_at=timezone.now() + timedelta(minutes=10),
        telehealth=True,
        telehealth_room="e2e-room",
        visit_type="Telehealth follow-up",
    )
    room = workflow.ensure_room(visit)
    workflow.send_link(room, actor=practice.users[Role.FRONT_OFFICE])

    # and the VMA watching the waiting room
    log_in(page, practice.users[Role.CLINICAL_SUPPORT])
    page.goto("/telehealth/")
    row = page.locator(f"tr[data-visit='{visit.public_id}']")
    expect(row.locator(".status")).to_have_text("Link sent")
    # markers: the page is never reloaded, and the polls do not count as activity for idle log-off
    page.evaluate(
        "window.__stayed = true; window.__activity = 0;"
        "document.addEventListener('htmx:afterRequest', function () { window.__activity += 1; });"
    )

    # when the patient opens the link on a phone-sized screen (the page joins at once) and ticks
    # that they can see and hear
    phone = browser.new_context(base_url=live_server.url, viewport=PHONE, is_mobile=True, has_touch=True)
    phone.set_default_timeout(10_000)
    mobile = phone.new_page()
    problems.watch(mobile)
    mobile.goto(reverse("telehealth_patient", args=[notify.make_token(room)]))
    expect(mobile.locator("#patient-status")).to_have_text("You are in the waiting room.")
    expect(mobile.locator("h1")).to_have_text("Hello Amara")
    assert "Quist" not in mobile.content()
    assert mobile.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    mobile.check("input[name=can_see_and_hear]")
    mobile.click("button:has-text('Continue')")
    expect(mobile.locator("#patient-status")).to_contain_text("A medical assistant will be with you shortly")

    # then the VMA's board shows it by itself within a poll or two
    expect(row.locator(".status")).to_have_text("Tech check passed", timeout=20_000)
    assert page.evaluate("window.__stayed") is True
    assert page.evaluate("window.__activity") == 0
    expect(row.locator(".timer")).to_have_text(re.compile(r"^\d+:\d\d$"))

    # when the VMA joins, works the checklist and hands off
    row.locator("button:has-text('Join')").click()
    expect(page.locator("#room-status")).to_have_text("Tech check passed")
    for item in ("identity", "location", "consent", "reason", "medications", "allergies"):
        page.locator(f".checklist-item[data-item='{item}'] button:has-text('Done')").click()
        expect(page.locator(f".checklist-item[data-item='{item}']")).to_have_class(re.compile(r"\bdone\b"))
    page.click("#rooming-complete")
    page.fill("#handoff-note", "BP 150/90 at home this week; asks about a refill of lisinopril.")
    page.click("#hand-off")
    expect(page.locator("#room-work")).to_contain_text("the provider sees the patient ready")
    expect(page.locator("#room-status")).to_have_text("Ready for provider", timeout=20_000)

    # then the provider sees the patient ready, with the note and a running wait
    doctor = browser.new_context(base_url=live_server.url, viewport={"width": 1280, "height": 900})
    doctor.set_default_timeout(10_000)
    desk = doctor.new_page()
    problems.watch(desk)
    log_in(desk, practice.users[Role.PROVIDER])
    desk.goto("/telehealth/provider/")
    card = desk.locator(f"#ready-list [data-visit='{visit.public_id}']")
    expect(card).to_contain_text("Quist, Amara")
    expect(card.locator(".handoff")).to_contain_text("refill of lisinopril")
    wait = card.locator(".wait-ready")
    expect(wait).to_have_text(re.compile(r"^\d+:\d\d$"))
    first = wait.inner_text()
    expect(wait).not_to_have_text(first, timeout=5_000)  # the timer runs in the page
    card.locator("button:has-text('Join')").click()
    expect(desk.locator("#room-status")).to_have_text("Provider joined")
    expect(desk.locator("#provider-end")).to_be_visible()

    # and the patient's page follows (it re-reads itself while waiting)
    expect(mobile.locator("#patient-status")).to_contain_text("Your provider has joined", timeout=30_000)
    phone.close()
    doctor.close()
    assert problems.js_errors == [] and problems.broken_assets == []
