"""The huddle sheet: each flag, constant queries from 5 to 40 patients, the morning snapshot and its diff."""

from __future__ import annotations

from datetime import datetime, time, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from eligibility.models import EligibilityCheck, PriorAuthorization
from huddle.models import HuddleSnapshot
from huddle.selectors import huddle_sheet, snapshot_due, store_snapshots
from huddle.tasks import snapshot_huddles
from intake.models import IntakePacket
from patients import workflow as patients_workflow
from patients.models import Problem
from scheduling.models import Appointment
from tests.factories import PatientFactory
from vma import workflow as vma_workflow
from vma.roles import Role

from .helpers import approve, at, coverage, eligibility, intake_packet, prior_auth, submit, visit

TODAY = timezone.localdate


def clean_visit(team, *, hour: int, minute: int = 0, day=None):
    """A visit with nothing to flag: verified coverage, no authorization needed, intake submitted."""
    patient = PatientFactory(care_team=team)
    appt = visit(patient, day=day or TODAY(), hour=hour, minute=minute)
    eligibility(appt, coverage(patient))
    submit(intake_packet(appt))
    return appt


def flags_of(sheet, appt) -> dict[str, str]:
    row = next(r for r in sheet.rows if r.appointment.pk == appt.pk)
    return {f.code: f.reason for f in row.flags}


def test_each_flag_type_with_its_reason(practice):
    team, doc = practice.team, practice.users[Role.PROVIDER]
    clean = clean_visit(team, hour=8)
    # coverage problem: the payer says inactive
    cov_appt = clean_visit(team, hour=9)
    eligibility(cov_appt, cov_appt.patient.coverages.get(), EligibilityCheck.Status.INACTIVE)
    # authorization missing
    pa_appt = clean_visit(team, hour=10)
    prior_auth(pa_appt, pa_appt.patient.coverages.get())
    # intake incomplete
    intake_patient = PatientFactory(care_team=team)
    intake_appt = visit(intake_patient, day=TODAY(), hour=11)
    eligibility(intake_appt, coverage(intake_patient))
    intake_packet(intake_appt)
    # missing reports: an outstanding lab
    rep_appt = clean_visit(team, hour=13)
    patients_workflow.expect_result(
        rep_appt.patient,
        title="CBC",
        category="lab_result",
        ordered_at=TODAY() - timedelta(days=10),
        expected_by=TODAY() - timedelta(days=2),
        actor=None,
    )
    # care gaps: diabetes without an HbA1c
    gap_appt = clean_visit(team, hour=14)
    Problem.objects.create(patient=gap_appt.patient, code="E11.9", description="Type 2 diabetes")
    # high risk: PHQ-9 item 9 positive in the last 30 days; complex: 3 active problems
    risk_appt = clean_visit(team, hour=15)
    IntakePacket.objects.filter(appointment=risk_appt).update(item9_positive=True, phq9_score=12, phq9_band="moderate")
    complex_appt = clean_visit(team, hour=15, minute=30)
    for code in ("I10", "E78.5", "J45.909"):
        Problem.objects.create(patient=complex_appt.patient, code=code, description=code)
    # urgent messages: an escalated work item for the patient
    urgent_appt = clean_visit(team, hour=16)
    item, _ = vma_workflow.open_work_item(
        kind="patients.callback", subject=urgent_appt.patient, patient=urgent_appt.patient, title="Chest pain call"
    )
    vma_workflow.escalate_item(item, actor=None, to_queue=Role.NURSE, reason="Red flag")
    # no-show risk: 1 no-show in 4 past visits (25 %)
    ns_appt = clean_visit(team, hour=16, minute=30)
    for weeks, status in ((2, "no_show"), (4, "completed"), (6, "completed"), (8, "completed")):
        Appointment.objects.create(
            patient=ns_appt.patient,
            provider=doc,
            start_at=at(TODAY() - timedelta(weeks=weeks), 9),
            visit_type="Follow-up",
            status=status,
        )

    sheet = huddle_sheet(practice.users[Role.NURSE], provider=doc, day=TODAY())

    assert flags_of(sheet, clean) == {}
    assert set(flags_of(sheet, cov_appt)) == {"coverage"} and "inactive" in flags_of(sheet, cov_appt)["coverage"]
    assert flags_of(sheet, pa_appt) == {"auth": "PA missing"}
    assert flags_of(sheet, intake_appt) == {"intake": "Intake sent"}
    assert flags_of(sheet, rep_appt) == {"reports": "1 result(s) outstanding, 1 overdue"}
    assert set(flags_of(sheet, gap_appt)) == {"gaps"} and "HbA1c" in flags_of(sheet, gap_appt)["gaps"]
    assert flags_of(sheet, risk_appt) == {"risk": "PHQ-9 item 9 positive"}
    assert flags_of(sheet, complex_appt) == {"risk": "3 active problems"}
    assert (
        set(flags_of(sheet, urgent_appt)) == {"urgent"} and "Chest pain call" in flags_of(sheet, urgent_appt)["urgent"]
    )
    assert flags_of(sheet, ns_appt) == {"no_show": "No-shows 1/4 visits"}
    totals = sheet.totals
    assert totals == {
        "coverage": 1,
        "auth": 1,
        "intake": 1,
        "reports": 1,
        "gaps": 1,
        "risk": 2,
        "urgent": 1,
        "no_show": 1,
    }
    assert len(sheet.rows) == 10 and sheet.flagged == 9 and sheet.clear == 1


def test_thresholds_are_not_met_just_below(practice):
    doc = practice.users[Role.PROVIDER]
    appt = clean_visit(practice.team, hour=9)
    for code in ("I10", "E78.5"):  # two active problems, one resolved: not complex
        Problem.objects.create(patient=appt.patient, code=code, description=code)
    Problem.objects.create(patient=appt.patient, code="J45.909", description="Asthma", status="resolved")
    for weeks, status in ((2, "no_show"), (4, "completed")):  # 50 % but only 2 visits
        Appointment.objects.create(
            patient=appt.patient, provider=doc, start_at=at(TODAY() - timedelta(weeks=weeks), 9), status=status
        )
    IntakePacket.objects.filter(appointment=appt).update(phq9_score=14, phq9_band="moderate")
    assert flags_of(huddle_sheet(doc, provider=doc, day=TODAY()), appt) == {}


def test_pa_approved_and_severe_phq9(practice):
    doc = practice.users[Role.PROVIDER]
    appt = clean_visit(practice.team, hour=9)
    approve(prior_auth(appt, appt.patient.coverages.get()))
    IntakePacket.objects.filter(appointment=appt).update(phq9_score=21, phq9_band="severe")
    assert flags_of(huddle_sheet(doc, provider=doc, day=TODAY()), appt) == {"risk": "PHQ-9 21 (severe)"}


def _fill(team, n: int, start: int) -> None:
    for i in range(start, start + n):
        appt = clean_visit(team, hour=7 + (i % 11), minute=i % 60)
        if i % 3 == 0:
            prior_auth(appt, appt.patient.coverages.get(), PriorAuthorization.Status.PENDING)
        if i % 4 == 0:
            Problem.objects.create(patient=appt.patient, code="E11.9", description="Type 2 diabetes")


def test_sheet_page_query_count_is_constant_from_5_to_40_patients(client, practice):
    doc = practice.users[Role.PROVIDER]
    client.force_login(practice.users[Role.FRONT_OFFICE])
    url = reverse("huddle_sheet") + f"?provider={doc.public_id}&day={TODAY():%Y-%m-%d}"
    _fill(practice.team, 5, 0)
    store_snapshots([doc.pk], TODAY(), now=timezone.now())
    client.get(url)  # warm caches (content types, permissions)
    with CaptureQueriesContext(connection) as small:
        body = client.get(url).content.decode()
    assert body.count("data-appointment=") == 5
    _fill(practice.team, 35, 5)
    with CaptureQueriesContext(connection) as large:
        body = client.get(url).content.decode()
    assert body.count("data-appointment=") == 40
    assert body.count('data-change="added"') == 35
    assert len(small.captured_queries) == len(large.captured_queries), (
        len(small.captured_queries),
        len(large.captured_queries),
    )


def test_the_page_shows_what_changed_since_the_morning_snapshot(client, practice):
    doc = practice.users[Role.PROVIDER]
    kept = clean_visit(practice.team, hour=9)
    dropped = clean_visit(practice.team, hour=10)
    assert snapshot_due(TODAY()) == [doc.pk]
    store_snapshots([doc.pk], TODAY(), now=timezone.now())
    assert snapshot_due(TODAY()) == []
    # after the snapshot: one visit cancelled, one added, a flag appears on the kept visit
    Appointment.objects.filter(pk=dropped.pk).update(status=Appointment.Status.CANCELLED)
    added = visit(PatientFactory(care_team=practice.team, last_name="Newcomer"), day=TODAY(), hour=11)
    prior_auth(kept, kept.patient.coverages.get())
    client.force_login(doc)
    body = client.get(reverse("huddle_sheet") + f"?provider={doc.public_id}").content.decode()
    assert 'data-change="removed"' in body and 'data-change="added"' in body
    assert "Newcomer" in body and "new: Auth" in body
    sheet = huddle_sheet(doc, provider=doc, day=TODAY())
    kinds = sorted(c.kind for c in sheet.changes)
    assert kinds == ["added", "flags", "removed"]
    assert added.pk in [r.appointment.pk for r in sheet.rows]
    assert "window.print()" in body and "@media print" in body


def test_snapshot_job_once_a_day_after_0630(practice):
    doc = practice.users[Role.PROVIDER]
    clean_visit(practice.team, hour=9)
    early = timezone.make_aware(datetime.combine(TODAY(), time(6, 0)))
    assert snapshot_huddles(now_iso=early.isoformat()) == {"skipped": 1, "stored": 0}
    later = timezone.make_aware(datetime.combine(TODAY(), time(6, 45)))
    assert snapshot_huddles(now_iso=later.isoformat()) == {"skipped": 0, "stored": 1}
    assert snapshot_huddles(now_iso=later.isoformat()) == {"skipped": 0, "stored": 0}
    snap = HuddleSnapshot.objects.get(provider=doc, day=TODAY())
    assert len(snap.rows) == 1 and snap.rows[0]["flags"] == []


def test_other_teams_visits_are_not_shown(client, practice, other_patient):
    doc = practice.outsider_provider
    visit(other_patient, day=TODAY(), hour=9)
    client.force_login(practice.users[Role.NURSE])
    body = client.get(reverse("huddle_sheet") + f"?provider={doc.public_id}").content.decode()
    assert "Outsider" not in body and "1 visit of other care teams not shown" in body


@pytest.mark.parametrize("role", [Role.BILLING, Role.ADMIN])
def test_roles_without_the_sheet_are_refused(client, practice, role):
    client.force_login(practice.users[role])
    assert client.get(reverse("huddle_sheet")).status_code == 403
