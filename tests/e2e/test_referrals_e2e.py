"""Referrals end to end: a VMA drills down from the dashboard to a stale referral, logs a call, records
the appointment (htmx), and the list and dashboard follow."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from referrals.models import Referral
from referrals.tests.factories import advance, ready
from tests.factories import PatientFactory
from vma.roles import Role

from .conftest import BrowserProblems, log_in

pytestmark = pytest.mark.e2e


def test_dashboard_drill_down_to_a_referral_and_work_it(live_server, practice, page, problems: BrowserProblems):
    # given a referral sent 40 days ago, acknowledged and never scheduled, and a fresh draft
    patient = PatientFactory(care_team=practice.team, last_name="Okonkwo")
    stale = advance(ready(patient), Referral.Status.ACKNOWLEDGED, now=timezone.now() - timedelta(days=40))
    Referral.objects.filter(pk=stale.pk).update(created_at=timezone.now() - timedelta(days=41))
    ready(PatientFactory(care_team=practice.team, last_name="Fresh"))

    # when the VMA opens the dashboard and clicks the acknowledged / 31-60 days cell
    log_in(page, practice.users[Role.CLINICAL_SUPPORT])
    page.goto("/referrals/dashboard/")
    expect(page.locator("[data-stat=leakage] b")).to_have_text("100.0 %")
    page.locator("tr[data-state=acknowledged] td[data-age='31-60'] a").click()

    # then the list shows that referral only
    rows = page.locator("#referrals tbody tr[data-referral]")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("Okonkwo")
    rows.first.locator("a").click()
    expect(page.locator("#referral-status")).to_have_text("Acknowledged")

    # and working it: a call logged, then the appointment recorded, both swapped in by htmx
    form = page.locator("#contact-form")
    form.locator("select[name=channel]").select_option("phone")
    form.locator("input[name=note]").fill("Office will call the patient today")
    form.locator("button:has-text('Log contact')").click()
    expect(page.locator("#contacts")).to_contain_text("Office will call the patient today")
    when = (timezone.localtime() + timedelta(days=7)).strftime("%Y-%m-%dT10:30")
    page.locator("input[name=appointment_at]").fill(when)
    page.locator("button:has-text('Record appointment')").click()
    expect(page.locator("#referral-status")).to_have_text("Scheduled")
    expect(page.locator("#appointment")).to_contain_text("10:30")

    # and back on the dashboard nothing is acknowledged-and-stale any more
    page.goto("/referrals/dashboard/")
    expect(page.locator("tr[data-state=acknowledged] td.total")).to_have_text("0")
    expect(page.locator("tr[data-state=scheduled] td.total")).to_have_text("1")
    assert problems.js_errors == [] and problems.broken_assets == []
