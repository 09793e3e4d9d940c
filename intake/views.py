"""Intake staff pages: the packet list, a packet's answers and scores, and the confirm-updates review."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from vma.audit import record_read
from vma.exceptions import ActionRefused, NotPermitted
from vma.http import AuthedHttpRequest

from . import services, workflow
from .models import IntakePacket
from .selectors import VIEW_PACKET, access_change, access_packet, packet_answers, packet_list


@login_required
@permission_required(VIEW_PACKET, raise_exception=True)
@require_GET
def packet_list_view(request: AuthedHttpRequest) -> HttpResponse:
    status = request.GET.get("status", "")
    packets = list(packet_list(request.user, status=status if status in IntakePacket.Status.values else "")[:200])
    record_read(request, packets, action="page.intake_packets")
    return render(
        request,
        "intake/packet_list.html",
        {"packets": packets, "status": status, "statuses": IntakePacket.Status.choices},
    )


@login_required
@permission_required(VIEW_PACKET, raise_exception=True)
@require_GET
def packet_detail(request: AuthedHttpRequest, public_id: str) -> HttpResponse:
    packet = access_packet(request.user, public_id)
    record_read(request, [packet], action="page.intake_packet")
    return render(
        request,
        "intake/packet_detail.html",
        {
            "packet": packet,
            "responses": packet_answers(packet),
            "changes": list(packet.proposed_changes.select_related("decided_by")),
            "can_review": request.user.has_perm(workflow.REVIEW_PERM),
        },
    )


@login_required
@permission_required(workflow.REVIEW_PERM, raise_exception=True)
@require_POST
def decide_change(request: AuthedHttpRequest, public_id: str, change_id: str, decision: str) -> HttpResponse:
    packet = access_packet(request.user, public_id)
    change = access_change(request.user, packet, change_id)
    if decision not in ("apply", "reject"):
        raise Http404("No such decision.")
    try:
        services.decide_change(change, actor=request.user, apply=decision == "apply", note=request.POST.get("note", ""))
        messages.success(request, f"{change.label}: {'applied to the chart' if decision == 'apply' else 'rejected'}.")
    except NotPermitted:
        return HttpResponse("You cannot review intake updates.", status=403)
    except ActionRefused as exc:
        messages.error(request, exc.message)
    return redirect("intake_packet_detail", public_id=packet.public_id)


@login_required
@permission_required(workflow.REVIEW_PERM, raise_exception=True)
@require_POST
def review(request: AuthedHttpRequest, public_id: str) -> HttpResponse:
    packet = access_packet(request.user, public_id)
    try:
        workflow.review_packet(packet, actor=request.user)
        messages.success(request, "Intake marked reviewed.")
    except NotPermitted:
        return HttpResponse("You cannot review intake packets.", status=403)
    except ActionRefused as exc:
        messages.error(request, exc.message)
    return redirect("intake_packet_detail", public_id=packet.public_id)
