"""Scheduling pages: the provider calendar (book, move, cancel) and the patient's signed reminder links."""

from __future__ import annotations

from datetime import date, datetime

from django.contrib.auth.decorators import login_required, permission_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from vma.access import access_patient
from vma.audit import record_read
from vma.exceptions import ActionRefused, NotPermitted
from vma.http import AuthedHttpRequest

from . import reminders, services, workflow
from .models import Appointment, AppointmentType
from .selectors import (
    VIEW,
    access_appointment,
    appointment_types,
    calendar,
    patient_choices,
    provider_by_public_id,
    provider_label,
    providers,
)

BOOK = "scheduling.add_appointment"
CHANGE = "scheduling.change_appointment"


def _day(raw: str | None) -> date:
    return (parse_date(raw or "") if raw else None) or timezone.localdate()


def _when(raw: str | None) -> datetime:
    value = parse_datetime(raw or "")
    if value is None:
        raise ActionRefused("Give the date and time.", status_code=400)
    return value if timezone.is_aware(value) else timezone.make_aware(value)


@login_required
@permission_required(VIEW, raise_exception=True)
@require_GET
def calendar_page(request: AuthedHttpRequest) -> HttpResponse:
    """A provider's week, or every provider's day, as a grid of 15-minute rows."""
    view = "day" if request.GET.get("view") == "day" else "week"
    provider = provider_by_public_id(request.GET["provider"]) if request.GET.get("provider") else None
    everyone = list(providers())
    if provider is None and view == "week" and everyone:
        provider = everyone[0]
    cal = calendar(
        request.user, view=view, day=_day(request.GET.get("week") or request.GET.get("day")), provider=provider
    )
    record_read(request, cal.visible_appointments, action="page.scheduling_calendar")
    return render(
        request,
        "scheduling/calendar.html",
        {"cal": cal, "providers": everyone, "can_book": request.user.has_perm(BOOK)},
    )


@login_required
@permission_required(BOOK, raise_exception=True)
@require_GET
def book_form(request: AuthedHttpRequest) -> HttpResponse:
    """The booking form for an empty slot (htmx); `q` searches the user's patients."""
    provider = provider_by_public_id(request.GET.get("provider"))
    start = _when(request.GET.get("start"))
    matches = patient_choices(request.user, request.GET.get("q", ""))
    record_read(request, matches, action="page.scheduling_patient_search")
    template = "scheduling/_patient_matches.html" if request.GET.get("matches") else "scheduling/_book_form.html"
    return render(
        request,
        template,
        {"provider": provider, "start": start, "types": appointment_types(), "matches": matches},
    )


@login_required
@permission_required(BOOK, raise_exception=True)
@require_POST
def book(request: AuthedHttpRequest) -> HttpResponse:
    patient = access_patient(request.user, request.POST.get("patient"), BOOK)
    provider = provider_by_public_id(request.POST.get("provider"))
    type_id = _uuid(request.POST.get("type"))
    kind = AppointmentType.objects.filter(active=True, public_id=type_id).first() if type_id else None
    ctx = {"provider": provider, "types": appointment_types(), "matches": [patient], "chosen": patient}
    try:
        if kind is None:
            raise ActionRefused("Choose the visit type.", status_code=400)
        start = _when(request.POST.get("start"))
        ctx["start"] = start
        appointment = services.book_appointment(
            patient=patient,
            provider=provider,
            appointment_type=kind,
            start_at=start,
            actor=request.user,
            reason=request.POST.get("reason", ""),
        )
    except NotPermitted:
        raise Http404("No such patient.") from None
    except ActionRefused as exc:
        return render(request, "scheduling/_book_form.html", {**ctx, "error": exc.message}, status=exc.status_code)
    return _refresh(request, f"Booked {appointment.visit_type} for {patient.first_name} {patient.last_name}.")


def _uuid(raw: str | None) -> str | None:
    import uuid

    try:
        return str(uuid.UUID(str(raw)))
    except (ValueError, TypeError):
        return None


def _refresh(request: AuthedHttpRequest, message: str) -> HttpResponse:
    # htmx reloads the calendar so every block is redrawn from the database.
    response = render(request, "scheduling/_done.html", {"message": message})
    response["HX-Refresh"] = "true"
    return response


@login_required
@permission_required(VIEW, raise_exception=True)
@require_GET
def appointment_panel(request: AuthedHttpRequest, public_id: str) -> HttpResponse:
    """One visit, with the move and cancel forms (htmx partial)."""
    appointment = access_appointment(request.user, public_id)
    record_read(request, [appointment], action="page.scheduling_appointment")
    return render(
        request,
        "scheduling/_appointment.html",
        {"a": appointment, "can_change": request.user.has_perm(CHANGE), "types": appointment_types()},
    )


@login_required
@permission_required(CHANGE, raise_exception=True)
@require_POST
def reschedule(request: AuthedHttpRequest, public_id: str) -> HttpResponse:
    appointment = access_appointment(request.user, public_id, CHANGE)
    try:
        new = workflow.reschedule_appointment(
            appointment, actor=request.user, start_at=_when(request.POST.get("start"))
        )
    except NotPermitted:
        raise Http404("No such appointment.") from None
    except ActionRefused as exc:
        return _panel_error(request, appointment, exc)
    return _refresh(request, f"Moved to {timezone.localtime(new.start_at):%a %m/%d %H:%M}.")


@login_required
@permission_required(CHANGE, raise_exception=True)
@require_POST
def cancel(request: AuthedHttpRequest, public_id: str) -> HttpResponse:
    appointment = access_appointment(request.user, public_id, CHANGE)
    try:
        workflow.cancel_appointment(appointment, actor=request.user, reason=request.POST.get("reason", ""))
    except NotPermitted:
        raise Http404("No such appointment.") from None
    except ActionRefused as exc:
        return _panel_error(request, appointment, exc)
    return _refresh(request, "Cancelled.")


def _panel_error(request: AuthedHttpRequest, appointment: Appointment, exc: ActionRefused) -> HttpResponse:
    ctx = {"a": appointment, "can_change": True, "types": appointment_types(), "error": exc.message}
    return render(request, "scheduling/_appointment.html", ctx, status=exc.status_code)


@require_http_methods(["GET", "POST"])
def reminder_link(request: HttpRequest, token: str) -> HttpResponse:
    """A reminder's confirm or cancel link: no sign-in, the signature is the credential.

    GET only shows what the link will do (mail scanners follow links); POST does it. The page
    names the patient's first name, the time and the provider, nothing more.
    """
    try:
        appointment, action = reminders.read_link(token)
    except reminders.LinkError as exc:
        return render(request, "scheduling/link.html", {"error": exc.message}, status=400)
    ctx = {"a": appointment, "action": action, "provider": provider_label(appointment.provider)}
    if request.method == "GET":
        return render(request, "scheduling/link.html", ctx)
    try:
        if action == "confirm":
            workflow.confirm_appointment(appointment, actor=None)
        else:
            workflow.cancel_appointment(appointment, actor=None, reason="Cancelled by the patient (reminder link)")
    except ActionRefused as exc:
        return render(request, "scheduling/link.html", {**ctx, "error": exc.message}, status=409)
    return render(request, "scheduling/link.html", {**ctx, "done": True})
