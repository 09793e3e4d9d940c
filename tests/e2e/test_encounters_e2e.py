"""Encounters end to end: a scribe's typing is saved without a button; a second editor is warned, never overwritten."""

from __future__ import annotations

import pytest
from playwright.sync_api import Browser, expect

from encounters import services
from encounters.models import Encounter
from encounters.tests.helpers import checked_in_visit
from tests.factories import PatientFactory
from vma.roles import Role

from .conftest import BrowserProblems, log_in

pytestmark = pytest.mark.e2e


def _note(practice) -> Encounter:
    patient = PatientFactory(care_team=practice.team, last_name="Okafor")
    return services.open_encounter(checked_in_visit(patient), actor=practice.users[Role.CLINICAL_SUPPORT])[0]


def test_a_scribe_types_into_the_note_and_it_is_saved_without_a_button(
    live_server, practice, page, problems: BrowserProblems
):
    enc = _note(practice)
    log_in(page, practice.users[Role.CLINICAL_SUPPORT])
    page.goto(f"/encounters/{enc.public_id}/")
    expect(page.locator("h1")).to_contain_text("Okafor")
    page.locator("#id_hpi").press_sequentially("Dry cough for a week, worse at night.", delay=15)
    page.locator("#id_exam").press_sequentially("Lungs clear.", delay=15)
    expect(page.locator("#status-hpi")).to_contain_text("Saved", timeout=8000)
    expect(page.locator("#status-exam")).to_contain_text("Saved", timeout=8000)
    enc.refresh_from_db()
    assert enc.hpi == "Dry cough for a week, worse at night." and enc.exam == "Lungs clear."
    # Typing on after a save keeps saving (the new version travels with the next save).
    page.locator("#id_hpi").press_sequentially(" No fever.", delay=15)
    expect(page.locator("#status-hpi")).to_contain_text("Saved", timeout=8000)
    page.wait_for_function("document.querySelector('#id_hpi').dataset.saved.endsWith('No fever.')")
    enc.refresh_from_db()
    assert enc.hpi == "Dry cough for a week, worse at night. No fever."
    page.reload()
    expect(page.locator("#id_hpi")).to_have_value("Dry cough for a week, worse at night. No fever.")
    assert not page.locator(".conflict").count()
    assert problems.js_errors == [] and problems.broken_assets == []


def test_a_second_editor_is_warned_and_nothing_is_overwritten(
    browser: Browser, live_server, practice, page, problems: BrowserProblems
):
    enc = _note(practice)
    scribe, provider = practice.users[Role.CLINICAL_SUPPORT], practice.users[Role.PROVIDER]
    log_in(page, scribe)
    page.goto(f"/encounters/{enc.public_id}/")
    expect(page.locator("#presence-line")).to_contain_text("Nobody else")
    page.locator("#id_plan").click()  # the scribe is in the plan field

    other = browser.new_context(base_url=live_server.url, viewport={"width": 1280, "height": 900})
    other.set_default_timeout(10_000)
    second = other.new_page()
    problems.watch(second)
    log_in(second, provider)
    second.goto(f"/encounters/{enc.public_id}/")
    # The second editor is told at once who else is on the note …
    expect(second.locator("#presence-line")).to_contain_text(f"{scribe} is also editing this note")
    # … and the first within a heartbeat.
    expect(page.locator("#presence-line")).to_contain_text(f"{provider} is also editing this note", timeout=15_000)

    second.locator("#id_plan").press_sequentially("Provider's plan: chest X-ray.", delay=10)
    expect(second.locator("#status-plan")).to_contain_text("Saved", timeout=8000)

    page.locator("#id_plan").press_sequentially("Scribe's plan: rest.", delay=10)
    conflict = page.locator("#status-plan.conflict")
    expect(conflict).to_contain_text(f"{provider} changed Plan", timeout=8000)
    expect(conflict.locator("textarea.theirs")).to_have_value("Provider's plan: chest X-ray.")
    expect(page.locator("#id_plan")).to_have_value("Scribe's plan: rest.")  # the scribe's text is not lost
    enc.refresh_from_db()
    assert enc.plan == "Provider's plan: chest X-ray."  # and the provider's was not overwritten

    conflict.locator("button.use-theirs").click()
    expect(page.locator("#id_plan")).to_have_value("Provider's plan: chest X-ray.")
    page.locator("#id_plan").press_sequentially(" Rest.", delay=10)
    expect(page.locator("#status-plan")).to_contain_text("Saved", timeout=8000)
    page.wait_for_function("document.querySelector('#id_plan').dataset.saved.endsWith('Rest.')")
    enc.refresh_from_db()
    assert enc.plan == "Provider's plan: chest X-ray. Rest."
    other.close()
    assert problems.js_errors == [] and problems.broken_assets == []
