"""Scheduling pages: the provider calendar (book, move, cancel) and the patient's signed reminder links."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from eligibility.priorauth_services import authorization_badges
from vma.access import access_patient
from vma.audit import record_read
from vma.exceptions import ActionRefused, NotPermitted
from vma.http import AuthedHttpRequest

from . import reminders, services, workflow
from .models import Appointment, AppointmentType, WaitlistEntry
from .selectors import (
    VIEW,
    access_appointment,
    access_waitlist_entry,
    appointment_types,
    calendar,
    no_show_rates,
    patient_choices,
    provider_by_public_id,
    provider_label,
    providers,
    waitlist_entries,
)

BOOK = "scheduling.add_appointment"
CHANGE = "scheduling.change_appointment"
S = Appointment.Status
# The status moves offered on the appointment panel: url slug -> (target status, button, workflow step).
ACTIONS: dict[str, tuple[str, str, Callable[..., Appointment]]] = {
    "confirm": (S.CONFIRMED, "Confirm", workflow.confirm_appointment),
    "check-in": (S.CHECKED_IN, "Check in", workflow.check_in_appointment),
    "in-room": (S.IN_ROOM, "In room", workflow.room_appointment),
    "complete": (S.COMPLETED, "Complete", workflow.complete_appointment),
    "no-show": (S.NO_SHOW, "No-show", workflow.mark_no_show),
}


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
    # One batch query each, whatever the number of visits shown.
    badges = authorization_badges(cal.visible_appointments)
    for block in cal.blocks:
        if block.appointment is not None:
            block.badge = badges.get(block.appointment.pk, "")
    provider_rate = _rate("provider", cal.provider.pk) if cal.provider is not None else None
    return render(
        request,
        "scheduling/calendar.html",
        {"cal": cal, "providers": everyone, "can_book": request.user.has_perm(BOOK), "provider_rate": provider_rate},
    )


def _rate(by: str, pk: int) -> dict[str, Any] | None:
    """{visits, no_shows, rate} over the past year, or None before any visit had a verdict."""
    row = no_show_rates(by, ids=[pk], since=timezone.localdate() - timedelta(days=365)).first()
    return dict(row) if row else None


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
    return _panel(request, appointment)


def _panel(request: AuthedHttpRequest, appointment: Appointment, error: str = "", status: int = 200) -> HttpResponse:
    can_change = request.user.has_perm(CHANGE)
    allowed = workflow.TRANSITIONS[appointment.status]
    ctx = {
        "a": appointment,
        "can_change": can_change,
        "types": appointment_types(),
        "actions": [
            (slug, label)
            for slug, (to, label, _fn) in ACTIONS.items()
            if to in allowed and not workflow.too_early(appointment, to)
        ]
        if can_change
        else [],
        "patient_rate": _rate("patient", appointment.patient_id),
        "pa_badge": authorization_badges([appointment])[appointment.pk],
        "error": error,
    }
    return render(request, "scheduling/_appointment.html", ctx, status=status)


@login_required
@permission_required(CHANGE, raise_exception=True)
@require_POST
def appointment_action(request: AuthedHttpRequest, public_id: str, action: str) -> HttpResponse:
    """Confirm, check in, room, complete or mark a no-show (htmx); a refused move explains itself."""
    if action not in ACTIONS:
        raise Http404("No such action.")
    appointment = access_appointment(request.user, public_id, CHANGE)
    _to, _label, step = ACTIONS[action]
    try:
        done = step(appointment, actor=request.user)
    except NotPermitted:
        raise Http404("No such appointment.") from None
    except ActionRefused as exc:
        appointment.refresh_from_db(fields=["status"])
        return _panel(request, appointment, exc.message, exc.status_code)
    return _refresh(request, f"{done.patient.first_name} {done.patient.last_name}: {done.get_status_display()}.")


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
    return _panel(request, appointment, exc.message, exc.status_code)


# --- the waitlist ---------------------------------------------------------------------------------

WEEKDAYS = [(str(i), name) for i, name in enumerate(["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"])]


class WaitlistForm(forms.Form):
    patient = forms.UUIDField(error_messages={"required": "Choose the patient."})
    type = forms.UUIDField(required=False)
    provider = forms.UUIDField(required=False)
    weekdays = forms.MultipleChoiceField(choices=WEEKDAYS, required=False)
    part_of_day = forms.ChoiceField(choices=WaitlistEntry.PartOfDay.choices, initial="any")
    earliest_date = forms.DateField(required=False)
    latest_date = forms.DateField(required=False)
    note = forms.CharField(required=False, max_length=200)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("earliest_date") and data.get("latest_date") and data["latest_date"] < data["earliest_date"]:
            raise forms.ValidationError("The latest date is before the earliest date.")
        return data


def _waitlist_page(
    request: AuthedHttpRequest, form: WaitlistForm | None = None, message: str = "", status: int = 200
) -> HttpResponse:
    entries = list(waitlist_entries(request.user))
    # A refused form comes back as typed, the chosen patient still chosen (when within access).
    chosen = None
    if form is not None and form.is_bound:
        try:
            chosen = access_patient(request.user, form.data.get("patient", ""), BOOK)
        except Http404:
            chosen = None
    record_read(request, [*entries, *([chosen] if chosen else [])], action="page.scheduling_waitlist")
    ctx = {
        "entries": entries,
        "form": form or WaitlistForm(),
        "typed": form.data if form is not None and form.is_bound else {},
        "typed_days": request.POST.getlist("weekdays") if form is not None and form.is_bound else [],
        "types": appointment_types(),
        "providers": providers(),
        "weekdays": WEEKDAYS,
        "can_book": request.user.has_perm(BOOK),
        "matches": [chosen] if chosen else [],
        "chosen": chosen,
        "message": message,
    }
    return render(request, "scheduling/waitlist.html", ctx, status=status)


@login_required
@permission_required(VIEW, raise_exception=True)
@require_GET
def waitlist_page(request: AuthedHttpRequest) -> HttpResponse:
    """Patients of the user's panels waiting for a visit, and the form to add one.

    With `matches=1` only the patient search results (htmx), found within the user's access.
    """
    if request.GET.get("matches"):
        if not request.user.has_perm(BOOK):
            raise PermissionDenied
        matches = patient_choices(request.user, request.GET.get("q", ""))
        record_read(request, matches, action="page.scheduling_patient_search")
        return render(request, "scheduling/_patient_matches.html", {"matches": matches})
    return _waitlist_page(request)


@login_required
@permission_required(BOOK, raise_exception=True)
@require_POST
def waitlist_add(request: AuthedHttpRequest) -> HttpResponse:
    form = WaitlistForm(request.POST)
    if not form.is_valid():
        return _waitlist_page(request, form, status=400)
    data = form.cleaned_data
    patient = access_patient(request.user, data["patient"], BOOK)
    kind = AppointmentType.objects.filter(active=True, public_id=data["type"]).first() if data["type"] else None
    if data["type"] and kind is None:
        form.add_error("type", "No such visit type.")
        return _waitlist_page(request, form, status=400)
    try:
        who = provider_by_public_id(data["provider"]) if data["provider"] else None
    except Http404:
        form.add_error("provider", "No such provider.")
        return _waitlist_page(request, form, status=400)
    try:
        services.add_to_waitlist(
            patient,
            actor=request.user,
            appointment_type=kind,
            provider=who,
            weekdays=[int(d) for d in data["weekdays"]],
            part_of_day=data["part_of_day"],
            earliest_date=data["earliest_date"],
            latest_date=data["latest_date"],
            note=data["note"],
        )
    except NotPermitted:
        raise Http404("No such patient.") from None
    except ActionRefused as exc:
        form.add_error(None, exc.message)
        return _waitlist_page(request, form, status=exc.status_code)
    messages.success(request, f"{patient.first_name} {patient.last_name} is on the waitlist.")
    return redirect("scheduling_waitlist")


@login_required
@permission_required(BOOK, raise_exception=True)
@require_POST
def waitlist_remove(request: AuthedHttpRequest, public_id: str) -> HttpResponse:
    entry = access_waitlist_entry(request.user, public_id, BOOK)
    try:
        services.remove_from_waitlist(entry, actor=request.user)
    except NotPermitted:
        raise Http404("No such waitlist entry.") from None
    except ActionRefused as exc:
        messages.error(request, exc.message)
        return redirect("scheduling_waitlist")
    messages.success(request, f"{entry.patient.first_name} {entry.patient.last_name} is off the waitlist.")
    return redirect("scheduling_waitlist")


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
