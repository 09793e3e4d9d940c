"""Refills end to end: a VMA enters a phone request, the check pends it, the provider signs it on the signing
queue page with the orders of the day, and the request shows the pharmacy and the patient notified, closed."""

from __future__ import annotations

import pytest
from django.apps import apps
from django.utils import timezone
from playwright.sync_api import Browser, expect

from refills import starter
from refills.models import RefillRequest
from refills.tests.helpers import statin_chart
from tests.factories import PatientFactory
from vma import outbox
from vma.models import OutboxMessage
from vma.roles import Role

from .conftest import BrowserProblems, log_in

pytestmark = pytest.mark.e2e


def test_a_vma_works_a_refill_from_phone_request_to_signed_and_notified(
    browser: Browser, live_server, practice, page, problems: BrowserProblems
):
    # given a patient on atorvastatin, seen 3 months ago, with a lipid panel 2 months ago
    starter.load(apps, None)  # re-seeded: browser tests flush the database
    patient = PatientFactory(care_team=practice.team, mrn="E2E0042", last_name="Lindqvist", phone="555-0142")
    statin_chart(patient, now=timezone.now())
    vma = practice.users[Role.CLINICAL_SUPPORT]
    provider = practice.users[Role.PROVIDER]

    # when the VMA takes the call: two identifiers first, then what the patient asks for
    log_in(page, vma)
    page.goto("/refills/new/")
    page.fill("#id_mrn", "e2e0042")
    page.fill("#id_date_of_birth", "1970-05-17")
    page.locator("#id_date_of_birth").dispatch_event("change")
    expect(page.locator("#patient-found")).to_contain_text("Lindqvist")  # htmx lookup
    expect(page.locator("#active-meds")).to_contain_text("Atorvastatin 20 mg")
    page.fill("#id_requester", "Patient (verified name and date of birth)")
    page.fill("#id_medication", "Atorvastatin")
    page.fill("#id_strength", "20 mg")
    page.fill("#id_sig", "1 tablet daily")
    page.fill("#id_quantity", "90")
    page.fill("#id_days_supply", "90")
    page.fill("#id_refills", "3")
    page.fill("#id_pharmacy", "Main Street Pharmacy")
    page.fill("#id_request_text", "Running low, two pills left")
    page.click("#save-request")

    # then the protocol check pends it, every line passed
    expect(page.locator("#refill-status")).to_have_text("Pended for signature")
    expect(page.locator("#check tr.failed")).to_have_count(0)
    expect(page.locator("#check tr[data-line='lab:Lipid panel'] .reason")).to_contain_text("Lipid panel")
    expect(page.locator("#check tr[data-line='visit'] .result")).to_have_text("Passed")
    refill = RefillRequest.objects.get(patient=patient)
    detail_url = page.url

    # when the provider signs it on the signing queue
    provider_context = browser.new_context(base_url=live_server.url)
    provider_context.set_default_timeout(10_000)
    signer = provider_context.new_page()
    problems.watch(signer)
    log_in(signer, provider)
    signer.goto("/orders/signing/")
    row = signer.locator(f"tr[data-item='{refill.public_id}']")
    expect(row).to_contain_text("Atorvastatin")
    expect(row.locator(".effect")).to_contain_text("Sent to Main Street Pharmacy")
    row.locator("input[name=item]").check()
    signer.click("#sign-selected")
    expect(signer.locator(f"#results tr[data-result='{refill.public_id}']")).to_have_attribute("data-ok", "true")
    expect(signer.locator("#queue-empty")).to_be_visible()
    provider_context.close()

    # and the worker delivers the outbox: the pharmacy accepts, the patient gets a text
    pending = list(OutboxMessage.objects.filter(status="pending").values_list("pk", flat=True))
    assert [outbox.deliver(pk) for pk in pending if OutboxMessage.objects.get(pk=pk).handler == "refills.notify"] == [
        "done"
    ]

    # then the VMA sees the request notified and closed, on time
    page.goto(detail_url)
    expect(page.locator("#refill-status")).to_have_text("Closed")
    expect(page.locator("#signed")).to_contain_text(str(provider))
    expect(page.locator("#pharmacy-status")).to_contain_text("Accepted")
    expect(page.locator("#patient-status")).to_contain_text("Told by sms")
    expect(page.locator("#history li[data-action='notified']")).to_have_count(1)
    expect(page.locator("#refill")).to_contain_text("on time")
    # and the list's turnaround line counts it as notified on time
    page.goto("/refills/?status=all")
    today = page.locator(f"#turnaround tr[data-day='{timezone.localdate():%Y-%m-%d}']")
    expect(today.locator(".notified")).to_have_text("1")
    assert problems.js_errors == [] and problems.broken_assets == []
