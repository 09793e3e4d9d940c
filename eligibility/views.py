"""Eligibility pages: the patient panel with "check now", and tomorrow's schedule. Never call a payer."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_POST

from patients.models import Patient
from vma.access import access_patient
from vma.audit import record_read
from vma.exceptions import ActionRefused, NotPermitted
from vma.http import AuthedHttpRequest

from . import services
from .priorauth_services import authorization_badges
from .selectors import VIEW_COVERAGE, access_appointment, access_coverage, patient_panel, tomorrow_schedule


@login_required
@permission_required(VIEW_COVERAGE, raise_exception=True)
@require_GET
def panel(request: AuthedHttpRequest, public_id: str) -> HttpResponse:
    """The patient page's eligibility panel (loaded and refreshed by htmx)."""
    return _render_panel(request, access_patient(request.user, public_id, VIEW_COVERAGE))


def _render_panel(request: AuthedHttpRequest, patient: Patient, error: str = "") -> HttpResponse:
    data = patient_panel(patient)
    record_read(request, [patient], action="page.eligibility_panel")
    return render(request, "eligibility/_patient_panel.html", {"patient": patient, "panel": data, "error": error})


@login_required
@permission_required(VIEW_COVERAGE, raise_exception=True)
@require_POST
def check_now(request: AuthedHttpRequest, coverage_id: str) -> HttpResponse:
    """Queue a check of one coverage; a worker sends it. The page only shows its status."""
    coverage = access_coverage(request.user, coverage_id)
    visit_id = request.POST.get("appointment", "")
    appointment = access_appointment(request.user, visit_id, patient=coverage.patient) if visit_id else None
    error = ""
    try:
        services.check_now(coverage, actor=request.user, appointment=appointment)
    except NotPermitted:
        raise Http404("No such coverage.") from None
    except ActionRefused as exc:
        error = exc.message
    if request.htmx:
        return _render_panel(request, coverage.patient, error)
    if error:
        messages.error(request, error)
    else:
        messages.success(request, f"Eligibility check with {coverage.payer.name} requested.")
    target = request.POST.get("next", "")
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return redirect(target)
    return redirect("patient_detail", public_id=coverage.patient.public_id)


@login_required
@permission_required(VIEW_COVERAGE, raise_exception=True)
@require_GET
def tomorrow(request: AuthedHttpRequest) -> HttpResponse:
    """Tomorrow's visits with verification status and amount to collect; polls while checks run."""
    schedule = tomorrow_schedule(request.user)
    record_read(request, [row.appointment for row in schedule.rows], action="page.eligibility_tomorrow")
    # One batch query: the prior-auth flag of every row, shown when it needs someone's attention.
    badges = authorization_badges([row.appointment for row in schedule.rows])
    rows = [(row, badges[row.appointment.pk]) for row in schedule.rows]
    template = "eligibility/_tomorrow_list.html" if request.htmx else "eligibility/tomorrow.html"
    return render(request, template, {"schedule": schedule, "rows": rows})
