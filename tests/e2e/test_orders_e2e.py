"""Orders end to end: a VMA pends three orders during the visit, the provider signs them in one batch."""

from __future__ import annotations

import pytest
from playwright.sync_api import Browser, Page, expect

from orders.models import Order
from orders.tests.factories import encounter
from patients.models import ExpectedResult
from tests.factories import PatientFactory
from vma import outbox
from vma.models import OutboxMessage
from vma.roles import Role

from .conftest import BrowserProblems, log_in

pytestmark = pytest.mark.e2e
FORM = "#pend-form"


DIAGNOSES = {"E78.5": "E78.5 Hyperlipidemia, unspecified", "R07.9": "R07.9 Chest pain, unspecified"}


def pend(page: Page, kind: str, fields: dict[str, str], dx: str = "E78.5") -> None:
    page.select_option(f"{FORM} select[name=kind]", kind)
    page.select_option(f"{FORM} select[name=diagnosis]", label=DIAGNOSES[dx])
    for name, value in fields.items():
        page.fill(f"{FORM} input[name={name}]", value)
    page.click(f"{FORM} button[type=submit]")


def test_a_vma_pends_three_orders_and_the_provider_signs_them_in_one_batch(
    browser: Browser, live_server, practice, page: Page, problems: BrowserProblems
):
    # given a visit with two coded diagnoses
    visit = encounter(PatientFactory(care_team=practice.team, last_name="Okonkwo"))
    vma, provider = practice.users[Role.CLINICAL_SUPPORT], practice.users[Role.PROVIDER]

    # when the VMA pends a lab, a prescription (first with a field missing) and a follow-up
    log_in(page, vma)
    page.goto(f"/orders/encounters/{visit.public_id}/")
    expect(page.locator("h1")).to_contain_text("Okonkwo")
    pend(page, "lab", {"title": "Lipid panel", "procedure_code": "80061"})
    expect(page.locator("#orders-notice")).to_contain_text("Lab test, Lipid panel")
    rx = {"drug": "atorvastatin", "strength": "20 mg", "sig": "take 1 tablet daily", "quantity": "30", "refills": "2"}
    pend(page, "prescription", rx)
    # the form stays, says what is wrong, and keeps what was typed
    expect(page.locator("[data-error-for=pharmacy]")).to_contain_text("pharmacy")
    expect(page.locator(f"{FORM} input[name=drug]")).to_have_value("atorvastatin")
    page.fill(f"{FORM} input[name=pharmacy]", "Main Street Pharmacy")
    page.click(f"{FORM} button[type=submit]")
    expect(page.locator("#orders-notice")).to_contain_text("atorvastatin 20 mg")
    pend(page, "follow_up", {"follow_up_in_days": "28"}, dx="R07.9")
    expect(page.locator("#orders-notice")).to_contain_text("Follow-up visit in 4 weeks")
    expect(page.locator("#order-list tr[data-status=pended]")).to_have_count(3)

    # then the provider, in their own browser, sees all three with what each will do, and signs at once
    context = browser.new_context(base_url=live_server.url, viewport={"width": 1280, "height": 900})
    context.set_default_timeout(10_000)
    doctor = context.new_page()
    problems.watch(doctor)
    log_in(doctor, provider)
    doctor.click("nav a:has-text('Sign')")
    expect(doctor.locator("#queue-count")).to_have_text("3")
    group = doctor.locator(f"fieldset[data-patient='{visit.patient.public_id}']")
    expect(group.locator("tr[data-item]")).to_have_count(3)
    expect(group).to_contain_text("Sent to Main Street Pharmacy: #30, 2 refills")
    expect(group).to_contain_text("Front office books a follow-up visit in 4 weeks")
    doctor.check("#select-all")
    expect(doctor.locator("input[name=item]:checked")).to_have_count(3)
    doctor.click("#sign-selected")
    expect(doctor.locator(".msg.success")).to_have_text("3 items signed.")
    expect(doctor.locator("#results tr[data-ok=true]")).to_have_count(3)
    expect(doctor.locator("#queue-empty")).to_be_visible()
    context.close()

    orders = list(Order.objects.filter(encounter=visit))
    assert len(orders) == 3 and {o.status for o in orders} == {Order.Status.SIGNED}
    assert {o.signed_by_id for o in orders} == {provider.pk} and all(len(o.signed_hash) == 64 for o in orders)
    for message_id in OutboxMessage.objects.filter(handler="orders.apply_effects").values_list("id", flat=True):
        outbox.deliver(message_id)
    assert ExpectedResult.objects.filter(patient=visit.patient, title="Lipid panel").exists()
    # and the VMA's page shows them signed
    page.reload()
    expect(page.locator("#order-list tr[data-status=signed]")).to_have_count(3)
    assert problems.js_errors == [] and problems.broken_assets == []
