"""Billing end to end: a billing VMA posts an 835 and appeals a denial; the manager drills into AR."""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from billing.models import Appeal, Claim
from billing.services import LineInput
from billing.tests.factories import answer, at_payer, file_835, paid_in_full
from billing.x12.x835_build import Cas, LineAnswer
from tests.factories import PayerFactory
from vma.access import add_to_care_team
from vma.roles import Role

from .conftest import BrowserProblems, log_in

pytestmark = pytest.mark.e2e


def _healthy(problems: BrowserProblems) -> None:
    assert problems.js_errors == [] and problems.broken_assets == []


def test_a_billing_vma_posts_an_835_and_appeals_the_denial(page: Page, practice, problems, tmp_path: Path) -> None:
    # given two accepted claims of one payer, and the payer's 835: one paid, one denied for no authorization
    payer = PayerFactory(name="Aster Health", payer_id="AST01")
    paid = at_payer(practice, payer=payer, lines=[LineInput("99213", diagnosis_pointers=[1])])
    denied = at_payer(practice, payer=payer, lines=[LineInput("93000", diagnosis_pointers=[1])])
    refusal = [
        LineAnswer("93000", denied.total_charge, Decimal(0), adjustments=[Cas("CO", "197", denied.total_charge)])
    ]
    era = tmp_path / "aster-era.835"
    era.write_text(file_835([paid_in_full(paid), answer(denied, lines=refusal, status_code="4")], payer=payer))

    # when the billing VMA uploads it
    log_in(page, practice.users[Role.BILLING])
    page.goto("/billing/remittances/")
    page.set_input_files("input[name=file]", str(era))
    page.click("button:has-text('Import and post')")

    # then the file's page shows one claim paid and one denied
    expect(page).to_have_url(re.compile(r"/billing/remittances/[0-9a-f-]{36}/$"))
    expect(page.locator("#file-status")).to_have_text("Posted")
    expect(page.locator(f"tr[data-pcn='{paid.patient_control_number}']")).to_contain_text("Paid")
    expect(page.locator(f"tr[data-pcn='{denied.patient_control_number}']")).to_contain_text("Denied")

    # and the denial waits in the billing queue: the VMA opens it and goes to the claim
    page.goto("/queue/?view=queue")
    page.locator("a", has_text=f"Authorization absent (CO-197) on claim {denied.patient_control_number}").click()
    page.click("#item-subject")
    expect(page).to_have_url(re.compile(rf"/billing/claims/{denied.public_id}/#denials$"))
    denial = page.locator("article.denial")
    expect(denial).to_contain_text("Precertification/authorization/notification absent")
    expect(denial.locator(".next-step")).to_contain_text("retro-authorization")

    # when the VMA drafts the appeal, adds a sentence and sends it
    denial.locator("button:has-text('Draft appeal')").click()
    expect(page).to_have_url(re.compile(r"/billing/appeals/[0-9a-f-]{36}/$"))
    letter = page.locator("textarea#letter")
    expect(letter).to_contain_text(denied.patient.last_name)
    expect(letter).to_contain_text("CO-197")
    letter.fill(letter.input_value() + "\nThe chest pain made the ECG urgent; the ER note is enclosed.\n")
    page.click("button:has-text('Send appeal')")

    # then the letter is kept as sent and the claim is appealed
    expect(page.locator("#appeal-status")).to_have_text("Sent")
    expect(page.locator("pre#letter")).to_contain_text("the ER note is enclosed")
    denied.refresh_from_db()
    assert denied.status == Claim.Status.APPEALED
    assert "ER note is enclosed" in Appeal.objects.get(claim=denied).letter
    _healthy(problems)


def test_the_manager_opens_the_ar_dashboard_and_drills_into_a_payers_old_claims(page: Page, practice, problems) -> None:
    # given claims in AR of two payers, two of Aster Health's 91-120 days old
    aster = PayerFactory(name="Aster Health", payer_id="AST01")
    birch = PayerFactory(name="Birch Mutual", payer_id="BIR02")
    old = [at_payer(practice, payer=aster, days_ago=d) for d in (95, 110)]
    at_payer(practice, payer=aster, days_ago=5)
    at_payer(practice, payer=birch, days_ago=100)
    manager = practice.users[Role.MANAGER]
    add_to_care_team(manager, practice.team)

    # when the manager opens the AR dashboard
    log_in(page, manager)
    page.goto("/billing/dashboard/")
    expect(page.locator("h1")).to_have_text("Accounts receivable")
    cell = page.locator("tr[data-payer='AST01'] td[data-bucket='91_120']")
    expect(cell).to_contain_text("(2)")
    expect(page.locator("#aging-chart")).to_contain_text("91–120")

    # and drills into Aster Health's 91-120 cell
    cell.locator("a").click()

    # then the list shows exactly those two claims
    expect(page).to_have_url(re.compile(r"/billing/claims/\?ar=91_120&payer=AST01"))
    expect(page.locator("h1")).to_contain_text("in AR 91–120 days")
    rows = page.locator("tr[data-claim]")
    expect(rows).to_have_count(2)
    shown = {rows.nth(i).get_attribute("data-claim") for i in range(2)}
    assert shown == {c.patient_control_number for c in old}
    _healthy(problems)
