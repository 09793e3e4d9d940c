import pytest
from tests.factories import CoverageFactory, AppointmentFactory
from vma import workflow
from vma.models import WorkItem
from .conftest import log_in
from .test_queue_e2e import callbacks_on_team

def test_shots(page, practice, patient, other_patient):
    vma = practice.users["front_office"]
    items = callbacks_on_team(practice, ("Call back: a very long title about the patient's refill and insurance question that goes on", 1), ("Short", 3))
    CoverageFactory(patient=patient); AppointmentFactory(patient=patient)
    workflow.open_work_item(kind="patients.callback", subject=patient, patient=patient, title="Call Inpanel", priority=2)
    page.goto("/login/"); page.screenshot(path="/tmp/shot-login.png", full_page=True)
    log_in(page, vma, "bad"); page.screenshot(path="/tmp/shot-login-err.png", full_page=True)
    log_in(page, vma)
    page.click("#claim-next"); page.screenshot(path="/tmp/shot-item.png", full_page=True)
    page.goto("/queue/"); page.screenshot(path="/tmp/shot-mine.png", full_page=True)
    page.goto("/patients/"); page.screenshot(path="/tmp/shot-search.png", full_page=True)
    page.goto(f"/patients/?q={patient.last_name}"); page.screenshot(path="/tmp/shot-search-res.png", full_page=True)
    page.goto(f"/patients/{patient.public_id}/"); page.screenshot(path="/tmp/shot-detail.png", full_page=True)
    page.goto(f"/patients/{other_patient.public_id}/"); page.screenshot(path="/tmp/shot-404.png", full_page=True)
    page.set_viewport_size({"width": 420, "height": 800})
    page.goto("/queue/?view=all"); page.screenshot(path="/tmp/shot-mobile.png", full_page=True)
    for i in range(5): log_in(page, practice.users["billing"], "bad")
    page.screenshot(path="/tmp/shot-locked.png", full_page=True)
