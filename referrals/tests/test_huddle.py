"""The chart scrub's "open referrals awaiting a report" line and the huddle sheet's missing-reports flag."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from huddle import services as huddle_services
from huddle.models import ChartScrub, ScrubItem
from huddle.selectors import huddle_sheet
from huddle.tests.helpers import coverage, eligibility, intake_packet, only_rules, submit, visit
from referrals import workflow
from referrals.models import Referral
from vma.roles import Role

from .factories import advance, document, ready

S = Referral.Status
I = ScrubItem.State  # noqa: E741


def line(appt) -> ScrubItem:
    huddle_services.rescrub_patient(appt.patient_id)
    return ChartScrub.objects.get(appointment=appt).items.get(code="referrals")


def test_the_scrub_line_follows_the_referral(practice, patient, vma):
    appt = visit(patient)
    huddle_services.build_scrubs()
    assert line(appt).state == I.AUTO_OK and line(appt).detail == "No referral awaiting a report."
    # sent, the visit at the specialist still ahead: listed, nothing to do yet
    referral = advance(ready(patient), S.SENT)
    item = line(appt)
    assert item.state == I.AUTO_OK and "1 awaiting a report: Cardiology (Heart Center) — sent" in item.detail
    # seen by the specialist, no report: the VMA must get it before the visit
    referral = workflow.mark_seen(referral, actor=vma, seen_at=timezone.now() - timedelta(days=9))
    item = line(appt)
    assert item.state == I.NEEDS_ACTION and "1 seen without one" in item.detail and "report overdue" in item.detail
    assert ChartScrub.objects.get(appointment=appt).needs_action >= 1
    # the report arrives: nothing awaits any more
    workflow.receive_report(referral, actor=vma, document=document(patient))
    assert line(appt).state == I.AUTO_OK and line(appt).detail == "No referral awaiting a report."


def test_an_appointment_in_the_past_means_the_report_is_due(practice, patient, vma):
    appt = visit(patient)
    huddle_services.build_scrubs()
    referral = advance(ready(patient), S.SENT, now=timezone.now() - timedelta(days=10))
    workflow.schedule_referral(referral, actor=vma, appointment_at=timezone.now() - timedelta(days=2))
    item = line(appt)
    assert item.state == I.NEEDS_ACTION and "appointment was" in item.detail and "report due" in item.detail


def test_the_huddle_sheet_counts_missing_referral_reports(practice, patient, vma):
    only_rules("diabetes-hba1c")  # no age-based care gap to flag this patient
    today = timezone.localdate()
    appt = visit(patient, day=today, hour=23, minute=30)
    eligibility(appt, coverage(patient))
    submit(intake_packet(appt))
    doc = practice.users[Role.PROVIDER]
    before = huddle_sheet(doc, provider=doc, day=today)
    assert before.rows[0].flag_codes == []
    referral = advance(ready(patient), S.SENT)
    workflow.mark_seen(referral, actor=vma)
    sheet = huddle_sheet(doc, provider=doc, day=today)
    flags = {f.code: f.reason for f in sheet.rows[0].flags}
    assert flags == {"reports": "1 referral report(s) missing"} and sheet.totals["reports"] == 1
