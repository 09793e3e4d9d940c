"""The work queue, patient scope and sign-in, driven through a real browser against a live server."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from patients.models import Patient
from tests.factories import PASSWORD, PatientFactory
from vma import workflow
from vma.models import User, WorkItem

from .conftest import BrowserProblems, log_in

pytestmark = pytest.mark.e2e

# A stable place for a person to look at the queue page after a run.
QUEUE_SCREENSHOT = Path("/tmp/e2e-queue.png")
P = WorkItem.Priority


def open_callback(patient: Patient, title: str, priority: int) -> WorkItem:
    item, created = workflow.open_work_item(
        kind="patients.callback", subject=patient, patient=patient, title=title, priority=priority
    )
    assert created
    return item


def callbacks_on_team(practice, *specs: tuple[str, int]) -> list[WorkItem]:
    """One callback item per (title, priority), each about its own patient on the team."""
    return [open_callback(PatientFactory(care_team=practice.team), title, prio) for title, prio in specs]


def assert_page_healthy(problems: BrowserProblems) -> None:
    assert problems.js_errors == []
    assert problems.broken_assets == []


def test_vma_claims_the_most_urgent_item_and_completes_it(page: Page, practice, problems) -> None:
    # given: three callbacks in the front-office queue, the urgent one neither first nor last made
    vma: User = practice.users["front_office"]
    normal, urgent, low = callbacks_on_team(
        practice,
        ("Call back about refill", P.NORMAL),
        ("Call back: chest pain follow-up", P.URGENT),
        ("Call back re billing", P.LOW),
    )

    # when: the VMA signs in and presses "Claim next"
    log_in(page, vma)
    expect(page).to_have_url(re.compile(r"/queue/$"))
    expect(page.locator("h1")).to_have_text("My queue")
    page.click("#claim-next")

    # then: the urgent item's page, claimed
    expect(page).to_have_url(re.compile(rf"/queue/items/{urgent.public_id}/$"))
    expect(page.locator("#item-panel h2")).to_have_text(urgent.title)
    expect(page.locator("#item-status")).to_have_text("Claimed")

    # when: they say what was done and complete it
    note = "Called patient; symptoms resolved, no visit needed."
    page.fill("textarea[name=note]", note)
    page.click("button[name=complete]")

    # then: the page says Done, and so does the database, with the note and who closed it
    expect(page.locator("#item-status")).to_have_text("Done")
    expect(page.locator("#item-panel")).to_contain_text(note)
    urgent.refresh_from_db()
    assert urgent.status == WorkItem.Status.DONE
    assert urgent.resolution_note == note
    assert urgent.closed_by == vma
    # and the less urgent items were left waiting in the queue
    assert WorkItem.objects.filter(pk__in=[normal.pk, low.pk], status=WorkItem.Status.OPEN).count() == 2
    assert_page_healthy(problems)


def test_item_panel_loads_and_claims_in_place(page: Page, practice, problems, tmp_path: Path) -> None:
    # given: two callbacks waiting in the front-office queue, and the VMA on the queue view
    vma: User = practice.users["front_office"]
    first, second = callbacks_on_team(
        practice, ("Call back: lab results question", P.HIGH), ("Call back: reschedule", P.NORMAL)
    )
    log_in(page, vma)
    page.goto("/queue/?view=queue")
    queue_url = page.url
    queue_list = page.locator("#queue-list")
    expect(queue_list).to_contain_text(first.title)
    expect(queue_list).to_contain_text(second.title)
    # A full navigation would drop this marker; an htmx swap keeps it.
    page.evaluate("window.__sameDocument = true")

    # when: they click the item's title in the list
    queue_list.get_by_role("link", name=first.title).click()

    # then: the panel shows the item without leaving the page
    panel = page.locator("#item-panel")
    expect(panel.locator("h2")).to_have_text(first.title)
    expect(panel.locator("#item-status")).to_have_text("Open")
    assert page.url == queue_url
    assert page.evaluate("window.__sameDocument") is True
    page.screenshot(path=tmp_path / "queue.png", full_page=True)
    panel.screenshot(path=tmp_path / "item-panel.png")
    shutil.copyfile(tmp_path / "queue.png", QUEUE_SCREENSHOT)

    # when: they claim it from the panel
    panel.get_by_role("button", name="Claim", exact=True).click()

    # then: the panel says Claimed, and the list refreshed without it
    expect(panel.locator("#item-status")).to_have_text("Claimed")
    expect(queue_list).not_to_contain_text(first.title)
    expect(queue_list).to_contain_text(second.title)
    assert page.url == queue_url
    assert page.evaluate("window.__sameDocument") is True
    first.refresh_from_db()
    assert (first.status, first.assignee) == (WorkItem.Status.CLAIMED, vma)
    assert_page_healthy(problems)


def test_provider_cannot_see_a_patient_outside_their_panel(page: Page, practice, patient, other_patient) -> None:
    # given: a provider whose panel holds `patient` but not `other_patient`
    provider: User = practice.users["provider"]
    log_in(page, provider)

    # when: they open the other patient's chart by its address
    response = page.goto(f"/patients/{other_patient.public_id}/")

    # then: not found, and nothing of the other patient on the page
    assert response is not None
    assert response.status == 404
    content = page.content()
    assert other_patient.last_name not in content
    assert other_patient.first_name not in content
    assert other_patient.mrn not in content

    # when: they search for the other patient by last name
    page.goto("/patients/")
    page.fill("#q", other_patient.last_name)
    page.get_by_role("button", name="Search").click()

    # then: no result
    results = page.locator("#results")
    expect(results).to_contain_text(f"No patient of your care teams matches “{other_patient.last_name}”")
    expect(results).not_to_contain_text(other_patient.first_name)

    # when: they search for their own patient
    page.fill("#q", patient.last_name)
    page.get_by_role("button", name="Search").click()

    # then: found, and the link opens the chart
    own = results.get_by_role("link", name=f"{patient.last_name}, {patient.first_name}")
    expect(own).to_be_visible()
    own.click()
    expect(page.locator("h1")).to_have_text(f"{patient.last_name}, {patient.first_name}")


def test_account_locks_after_five_failed_sign_ins(page: Page, practice) -> None:
    # given: a VMA whose password someone keeps guessing wrong
    vma: User = practice.users["front_office"]
    for attempt in range(1, 5):
        log_in(page, vma, password=f"wrong-guess-{attempt}")
        expect(page.locator(".error")).to_contain_text("didn't match")
    # The failure that reaches the limit is itself answered with the lockout.
    log_in(page, vma, password="wrong-guess-5")
    expect(page.locator("h1")).to_have_text("Account locked")

    # when: the sixth attempt uses the right password
    response = log_in(page, vma, password=PASSWORD)

    # then: the account is locked, and the right password did not sign them in
    assert response is not None
    assert response.status == 429
    expect(page.locator("h1")).to_have_text("Account locked")
    page.goto("/queue/")
    expect(page).to_have_url(re.compile(r"/login/\?next=/queue/$"))


def test_completing_without_a_note_is_refused_with_a_clear_message(page: Page, practice, problems) -> None:
    # given: an item the VMA has claimed, open in the browser
    vma: User = practice.users["front_office"]
    (item,) = callbacks_on_team(practice, ("Call back: insurance card", P.NORMAL))
    assert workflow.claim_next(actor=vma) == item
    log_in(page, vma)
    page.goto(f"/queue/items/{item.public_id}/")
    expect(page.locator("#item-status")).to_have_text("Claimed")

    for blank in ("", "   \n  "):
        # when: a client without validation submits a blank note
        page.eval_on_selector("textarea[name=note]", "el => el.removeAttribute('required')")
        page.fill("textarea[name=note]", blank)
        with page.expect_response(re.compile(r"/complete/$")) as answer:
            page.click("button[name=complete]")
        assert answer.value.ok  # htmx swaps only 2xx: the refusal comes back as a panel to show

        # then: the reason is shown and the item stays claimed
        expect(page.get_by_role("alert")).to_have_text("Say what was done before completing the item.")
        expect(page.locator("#item-status")).to_have_text("Claimed")

    item.refresh_from_db()
    assert item.status == WorkItem.Status.CLAIMED
    assert item.resolution_note == ""
    assert not item.events.filter(action="complete").exists()
    assert_page_healthy(problems)
