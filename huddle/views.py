"""Huddle pages: the scrub list and one scrub (htmx item marks), and the daily huddle sheet (screen and print)."""

from __future__ import annotations

from datetime import date

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from vma.audit import record_read
from vma.exceptions import ActionRefused, NotPermitted
from vma.http import AuthedHttpRequest

from . import services, workflow
from .days import next_working_day
from .models import ScrubItem
from .selectors import (
    FLAG_LABELS,
    NO_SHOW_MIN_VISITS,
    NO_SHOW_RATE,
    RISK_ACTIVE_PROBLEMS,
    RISK_WINDOW_DAYS,
    VIEW_SCRUB,
    VIEW_SHEET,
    access_item,
    access_scrub,
    huddle_sheet,
    provider_by_public_id,
    scrub_items,
    scrub_list,
    sheet_providers,
)


def _day(value: str | None, default: date) -> date:
    try:
        return date.fromisoformat(value) if value else default
    except ValueError:
        return default


@login_required
@permission_required(VIEW_SCRUB, raise_exception=True)
@require_GET
def scrub_list_view(request: AuthedHttpRequest) -> HttpResponse:
    day = _day(request.GET.get("day"), next_working_day(timezone.localdate()))
    provider = provider_by_public_id(request.GET.get("provider"))
    scrubs = list(scrub_list(request.user, day=day, provider=provider))
    record_read(request, scrubs, action="page.huddle_scrubs")
    return render(
        request,
        "huddle/scrub_list.html",
        {"scrubs": scrubs, "day": day, "provider": provider, "providers": list(sheet_providers())},
    )


def _scrub_context(request: AuthedHttpRequest, public_id: str) -> dict[str, object]:
    scrub = access_scrub(request.user, public_id)
    return {
        "scrub": scrub,
        "items": scrub_items(scrub),
        "can_work": request.user.has_perm(workflow.WORK_PERM),
    }


@login_required
@permission_required(VIEW_SCRUB, raise_exception=True)
@require_GET
def scrub_detail(request: AuthedHttpRequest, public_id: str) -> HttpResponse:
    scrub = access_scrub(request.user, public_id)
    # Opening the page re-reads the chart: the checklist is current even if a re-scrub message was lost.
    services.evaluate([scrub.pk])
    context = _scrub_context(request, public_id)
    record_read(request, [context["scrub"]], action="page.huddle_scrub")
    return render(request, "huddle/scrub_detail.html", context)


def _checklist(request: AuthedHttpRequest, public_id: str, *, error: str = "", status: int = 200) -> HttpResponse:
    context = _scrub_context(request, public_id)
    context["error"] = error
    return render(request, "huddle/_checklist.html", context, status=status)


@login_required
@permission_required(workflow.WORK_PERM, raise_exception=True)
@require_POST
def mark_item(request: AuthedHttpRequest, public_id: str, item_id: str) -> HttpResponse:
    scrub = access_scrub(request.user, public_id, workflow.WORK_PERM)
    item = access_item(scrub, item_id)
    state = request.POST.get("state", "")
    error = ""
    status = 200
    try:
        if state == "undo":
            workflow.unmark_item(item, actor=request.user)
        else:
            workflow.mark_item(item, state=state, note=request.POST.get("note", ""), actor=request.user)
    except NotPermitted:
        return HttpResponse("You cannot work this chart scrub.", status=403)
    except ActionRefused as exc:
        error, status = f"{item.label}: {exc.message}", exc.status_code
    if request.htmx:
        # htmx swaps only 2xx by default; the refusal is shown in the swapped checklist with role=alert.
        return _checklist(request, public_id, error=error, status=200 if error else status)
    if error:
        messages.error(request, error)
    return redirect("huddle_scrub", public_id=scrub.public_id)


@login_required
@permission_required(workflow.WORK_PERM, raise_exception=True)
@require_POST
def mark_scrubbed(request: AuthedHttpRequest, public_id: str) -> HttpResponse:
    scrub = access_scrub(request.user, public_id, workflow.WORK_PERM)
    error = ""
    try:
        workflow.mark_scrubbed(scrub, actor=request.user)
    except NotPermitted:
        return HttpResponse("You cannot work this chart scrub.", status=403)
    except ActionRefused as exc:
        error = exc.message
    if request.htmx:
        return _checklist(request, public_id, error=error)
    if error:
        messages.error(request, error)
    else:
        messages.success(request, "Chart marked scrubbed.")
    return redirect("huddle_scrub", public_id=scrub.public_id)


@login_required
@permission_required(VIEW_SHEET, raise_exception=True)
@require_GET
def sheet(request: AuthedHttpRequest) -> HttpResponse:
    day = _day(request.GET.get("day"), timezone.localdate())
    providers = list(sheet_providers())
    provider = provider_by_public_id(request.GET.get("provider"))
    if provider is None:
        led = [p for p in providers if p.pk == request.user.pk]
        provider = led[0] if led else (providers[0] if providers else None)
    the_sheet = huddle_sheet(request.user, provider=provider, day=day) if provider is not None else None
    if the_sheet is not None:
        record_read(request, [r.appointment for r in the_sheet.rows], action="page.huddle_sheet")
    return render(
        request,
        "huddle/sheet.html",
        {
            "sheet": the_sheet,
            "day": day,
            "provider": provider,
            "providers": providers,
            "flag_labels": FLAG_LABELS,
            "risk_days": RISK_WINDOW_DAYS,
            "risk_problems": RISK_ACTIVE_PROBLEMS,
            "no_show_pct": round(NO_SHOW_RATE * 100),
            "no_show_visits": NO_SHOW_MIN_VISITS,
            "states": ScrubItem.State,
        },
    )
