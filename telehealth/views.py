"""Waiting-room pages: the VMA's board and one visit's room (htmx polling), the provider's board, the figures."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.db import transaction
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_POST

from scheduling.selectors import provider_by_public_id
from vma.audit import record_read
from vma.exceptions import ActionRefused, NotPermitted
from vma.http import AuthedHttpRequest
from vma.models import User

from . import selectors, workflow
from .models import VisitRoom
from .policy import HOST, INVITE, METRICS, ROOM, VIEW

POLL_SECONDS = 5


def _day(value: str | None, default: date) -> date:
    try:
        return date.fromisoformat(value) if value else default
    except ValueError:
        return default


def _provider(value: str) -> User | None:
    """The provider filter; an unknown or malformed id shows everyone's visits."""
    if not value:
        return None
    try:
        return provider_by_public_id(value)
    except Http404:
        return None


def _audit(request: AuthedHttpRequest, objects: list[Any], action: str) -> None:
    """Record the read. A poll that shows the same patients as the last one recorded in this session
    is not recorded again (every 5 s all day would bury the trail); a page load always is."""
    ids = sorted({pid for o in objects if (pid := o.audit_patient_id()) is not None})
    key = f"telehealth.seen.{action}"
    digest = hashlib.sha256(",".join(map(str, ids)).encode()).hexdigest()[:16]
    if request.htmx and request.session.get(key) == digest:
        return
    request.session[key] = digest
    record_read(request, objects, action=action)


def _back(request: AuthedHttpRequest, default: str) -> HttpResponse:
    target = request.POST.get("next", "")
    if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        return redirect(target)
    return redirect(default)


# ---------------------------------------------------------------------------------------------
# The VMA's board
# ---------------------------------------------------------------------------------------------


@login_required
@permission_required(VIEW, raise_exception=True)
@require_GET
def waiting_room_view(request: AuthedHttpRequest) -> HttpResponse:
    today = timezone.localdate()
    day = _day(request.GET.get("day"), today)
    provider = _provider(request.GET.get("provider", ""))
    rows = selectors.waiting_room(request.user, day=day, provider=provider)
    _audit(request, rows, "page.telehealth_waiting_room")
    context = {
        "rows": rows,
        "day": day,
        "today": day == today,
        "provider": provider,
        "poll": POLL_SECONDS,
        "now": timezone.now(),
        "can_invite": request.user.has_perm(INVITE),
        "can_room": request.user.has_perm(ROOM),
        "S": VisitRoom.Status,
    }
    if request.htmx and request.GET.get("part") == "list":
        return render(request, "telehealth/_waiting_list.html", context)
    return render(request, "telehealth/waiting_room.html", context)


# ---------------------------------------------------------------------------------------------
# One visit's room
# ---------------------------------------------------------------------------------------------


def _room_context(request: AuthedHttpRequest, room: VisitRoom, *, error: str = "") -> dict[str, Any]:
    user = request.user
    room = selectors.fresh_room(room)
    return {
        "room": room,
        "visit": room.appointment,
        "patient": room.patient,
        "events": selectors.room_events(room),
        "checklist": selectors.checklist_rows(room),
        "error": error,
        "poll": POLL_SECONDS,
        "now": timezone.now(),
        "S": VisitRoom.Status,
        "can_invite": user.has_perm(INVITE),
        "can_room": user.has_perm(ROOM),
        "is_rooming_vma": room.vma_id == user.pk,
        "is_provider": user.has_perm(HOST) and room.appointment.provider_id == user.pk,
        "checklist_open": room.status in (VisitRoom.Status.PATIENT_JOINED, VisitRoom.Status.TECH_CHECK_PASSED),
    }


@login_required
@permission_required(VIEW, raise_exception=True)
@require_GET
def visit_view(request: AuthedHttpRequest, public_id: str) -> HttpResponse:
    visit = selectors.access_visit(request.user, public_id)
    with transaction.atomic():
        room = workflow.ensure_room(visit)  # created on first use
    context = _room_context(request, room)
    _audit(request, [room], "page.telehealth_visit")
    part = request.GET.get("part") if request.htmx else None
    if part == "live":
        response = render(request, "telehealth/_room_live.html", context)
        if request.GET.get("seen") != room.status:
            response["HX-Trigger"] = "room-changed"  # the work panel re-reads itself
        return response
    if part == "work":
        return render(request, "telehealth/_room_work.html", context)
    return render(request, "telehealth/visit.html", context)


@login_required
@permission_required(INVITE, raise_exception=True)
@require_POST
def send_link_view(request: AuthedHttpRequest, public_id: str) -> HttpResponse:
    visit = selectors.access_visit(request.user, public_id, INVITE)
    try:
        with transaction.atomic():
            room = workflow.ensure_room(visit)
            workflow.send_link(room, actor=request.user)
    except NotPermitted as exc:
        return HttpResponse(exc.message, status=403)
    except ActionRefused as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"Join link sent to {visit.patient.first_name} {visit.patient.last_name}.")
    return _back(request, reverse("telehealth_visit", args=[visit.public_id]))


def _room_step(request: AuthedHttpRequest, room: VisitRoom, action: str) -> str:
    """Run one VMA step; returns the success message."""
    user, post = request.user, request.POST
    if action == "join":
        workflow.vma_join(room, actor=user)
        return "You joined the room: run the rooming checklist."
    if action == "tech-check":
        workflow.pass_tech_check(room, method=VisitRoom.TechCheck.VMA, actor=user)
        return "Tech check confirmed."
    if action == "check":
        code = post.get("item", "")
        workflow.set_check(room, code=code, done=post.get("done") != "0", actor=user)
        return "Checklist updated."
    if action == "roomed":
        workflow.complete_rooming(room, actor=user)
        return "Rooming complete. Hand off to the provider with a note."
    if action == "hand-off":
        workflow.hand_off(room, note=post.get("note", ""), actor=user)
        return "Handed off: the provider sees the patient ready."
    if action == "close":
        workflow.end_visit(room, actor=user, perm=ROOM, reason=post.get("reason", ""))
        return "Room closed."
    raise Http404("No such action.")


ROOM_ACTIONS = {"join", "tech-check", "check", "roomed", "hand-off", "close"}
PROVIDER_ACTIONS = {"join", "end"}


def _act(
    request: AuthedHttpRequest, public_id: str, action: str, perm: str, step: Callable[[VisitRoom], str]
) -> HttpResponse:
    visit = selectors.access_visit(request.user, public_id, perm)
    with transaction.atomic():
        room = workflow.ensure_room(visit)
    error, message = "", ""
    try:
        message = step(room)
    except NotPermitted as exc:
        return HttpResponse(exc.message, status=403)
    except ActionRefused as exc:
        error = exc.message
    if request.htmx:
        # htmx swaps only 2xx by default: a refusal is shown inside the swapped panel (role=alert).
        return render(request, "telehealth/_room_work.html", _room_context(request, room, error=error))
    if error:
        messages.error(request, error)
    else:
        messages.success(request, message)
    return _back(request, reverse("telehealth_visit", args=[visit.public_id]))


@login_required
@permission_required(ROOM, raise_exception=True)
@require_POST
def room_action_view(request: AuthedHttpRequest, public_id: str, action: str) -> HttpResponse:
    if action not in ROOM_ACTIONS:
        raise Http404("No such action.")
    return _act(request, public_id, action, ROOM, lambda room: _room_step(request, room, action))


# ---------------------------------------------------------------------------------------------
# The provider
# ---------------------------------------------------------------------------------------------


@login_required
@permission_required(HOST, raise_exception=True)
@require_GET
def provider_view(request: AuthedHttpRequest) -> HttpResponse:
    today = timezone.localdate()
    day = _day(request.GET.get("day"), today)
    rows = selectors.provider_board(request.user, day=day)
    _audit(request, rows, "page.telehealth_provider")
    context = {
        "rows": rows,
        "ready": [r for r in rows if r.status == VisitRoom.Status.READY],
        "day": day,
        "today": day == today,
        "poll": POLL_SECONDS,
        "now": timezone.now(),
        "S": VisitRoom.Status,
    }
    if request.htmx and request.GET.get("part") == "list":
        return render(request, "telehealth/_provider_list.html", context)
    return render(request, "telehealth/provider.html", context)


def _provider_step(request: AuthedHttpRequest, room: VisitRoom, action: str) -> str:
    if action == "join":
        workflow.provider_join(room, actor=request.user)
        return "You joined the visit."
    workflow.end_visit(room, actor=request.user, perm=HOST, reason=request.POST.get("reason", ""))
    return "Visit ended."


@login_required
@permission_required(HOST, raise_exception=True)
@require_POST
def provider_action_view(request: AuthedHttpRequest, public_id: str, action: str) -> HttpResponse:
    if action not in PROVIDER_ACTIONS:
        raise Http404("No such action.")
    return _act(request, public_id, action, HOST, lambda room: _provider_step(request, room, action))


# ---------------------------------------------------------------------------------------------
# Figures
# ---------------------------------------------------------------------------------------------


@login_required
@permission_required(METRICS, raise_exception=True)
@require_GET
def metrics_view(request: AuthedHttpRequest) -> HttpResponse:
    today = timezone.localdate()
    end = _day(request.GET.get("to"), today)
    start = _day(request.GET.get("from"), end - timedelta(days=6))
    if start > end:
        start, end = end, start
    start = max(start, end - timedelta(days=92))  # a quarter at most: one page
    rows = selectors.wait_metrics(request.user, start=start, end=end)
    return render(
        request,
        "telehealth/metrics.html",
        {"rows": rows, "start": start, "end": end, "own_only": request.user.is_provider},
    )
