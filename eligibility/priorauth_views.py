"""Prior-authorization pages: the work list, one request with its actions, the patient-page panel."""

from __future__ import annotations

import uuid
from datetime import date, timedelta
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from patients.models import ChartDocument
from vma.access import access_patient
from vma.audit import record_read
from vma.exceptions import ActionRefused, NotPermitted
from vma.http import AuthedHttpRequest

from . import priorauth
from .models import PriorAuthorization
from .priorauth_selectors import (
    CHANGE,
    FILTERS,
    VIEW,
    access_prior_auth,
    patient_prior_auths,
    prior_auth_list,
)


@login_required
@permission_required(VIEW, raise_exception=True)
@require_GET
def priorauth_list(request: AuthedHttpRequest) -> HttpResponse:
    """Open requests of the user's panels, decision deadlines first (three queries whatever the size)."""
    status = request.GET.get("status", "")
    due = request.GET.get("due", "")
    rows = list(prior_auth_list(request.user, status=status, due=due)[:200])
    record_read(request, rows, action="page.priorauth_list")
    now = timezone.now()
    ctx = {
        "rows": rows,
        "status": status,
        "due": due,
        "statuses": PriorAuthorization.Status.choices,
        "filters": FILTERS,
        "now": now,
        "soon": now + timedelta(hours=24),
    }
    return render(request, "eligibility/priorauth_list.html", ctx)


@login_required
@permission_required(VIEW, raise_exception=True)
@require_GET
def priorauth_detail(request: AuthedHttpRequest, public_id: str) -> HttpResponse:
    auth = access_prior_auth(request.user, public_id)
    record_read(request, [auth], action="page.priorauth_detail")
    return render(request, _template(request), _context(request, auth))


@login_required
@permission_required(CHANGE, raise_exception=True)
@require_POST
def priorauth_action(request: AuthedHttpRequest, public_id: str, action: str) -> HttpResponse:
    """One endpoint for the request's forms; each calls one workflow function."""
    auth = access_prior_auth(request.user, public_id)
    try:
        auth, done = _act(request, auth, action)
    except NotPermitted:
        raise Http404("No such prior authorization.") from None
    except ActionRefused as exc:
        # Re-render with what was typed, so nothing is lost.
        auth = access_prior_auth(request.user, public_id)
        ctx = _context(request, auth, error=exc.message, form=request.POST, action=action)
        return render(request, _template(request), ctx, status=200 if request.htmx else exc.status_code)
    if request.htmx:
        return render(request, _template(request), _context(request, auth, notice=done))
    messages.success(request, done)
    return redirect("priorauth_detail", public_id=auth.public_id)


@login_required
@permission_required(VIEW, raise_exception=True)
@require_GET
def priorauth_panel(request: AuthedHttpRequest, public_id: str) -> HttpResponse:
    """The patient page's prior-authorization panel (loaded by htmx)."""
    patient = access_patient(request.user, public_id)
    rows = patient_prior_auths(patient)
    record_read(request, [patient], action="page.priorauth_panel")
    return render(request, "eligibility/_priorauth_panel.html", {"patient": patient, "rows": rows, "loaded": True})


# ---------------------------------------------------------------------------------------------


def _act(request: AuthedHttpRequest, auth: PriorAuthorization, action: str) -> tuple[PriorAuthorization, str]:
    post, actor = request.POST, request.user
    if action == "submit":
        ids = post.getlist("documents")
        docs = list(ChartDocument.objects.filter(patient_id=auth.patient_id, public_id__in=_uuids(ids)))
        if len(docs) != len(set(ids)):
            raise ActionRefused("Choose documents from this patient's chart.", status_code=400)
        auth = priorauth.submit(
            auth,
            actor=actor,
            urgency=post.get("urgency", ""),
            payer_reference=post.get("payer_reference", ""),
            documents=docs,
        )
        return auth, f"Submitted; the payer's decision is due {timezone.localtime(auth.decision_due_at):%b %d %H:%M}."  # type: ignore[arg-type]
    if action == "mark_pending":
        return priorauth.mark_pending(auth, actor=actor, payer_reference=post.get("payer_reference", "")), "Pending."
    if action == "contact":
        return priorauth.record_contact(auth, actor=actor, note=post.get("note", "")), "Call recorded."
    if action == "approve":
        auth = priorauth.approve(
            auth,
            actor=actor,
            authorization_number=post.get("authorization_number", ""),
            approved_units=_int(post.get("approved_units", ""), "approved units"),
            valid_from=_date(post.get("valid_from", ""), "valid from"),
            valid_to=_date(post.get("valid_to", ""), "valid to"),
        )
        return auth, f"{auth.get_status_display()}."
    if action == "deny":
        peer = post.get("peer_to_peer") in {"1", "on", "true"}
        return priorauth.deny(auth, actor=actor, reason=post.get("reason", ""), peer_to_peer=peer), "Denied."
    if action == "withdraw":
        return priorauth.withdraw(auth, actor=actor, reason=post.get("reason", "")), "Withdrawn."
    if action == "record_use":
        on = post.get("on", "")
        auth = priorauth.record_use(
            auth,
            actor=actor,
            units=_int(post.get("units", "1") or "1", "units"),
            on=_date(on, "date of service") if on else None,
        )
        return auth, f"Recorded; {auth.units_left} unit(s) left."
    if action == "expire":
        return priorauth.expire(auth, actor=actor), "Expired."
    raise ActionRefused("Unknown action.", status_code=400)


def _int(raw: str, label: str) -> int:
    try:
        return int(raw)
    except (TypeError, ValueError):
        raise ActionRefused(f"Give the {label} as a whole number.", status_code=400) from None


def _date(raw: str, label: str) -> date:
    try:
        return date.fromisoformat(raw)
    except (TypeError, ValueError):
        raise ActionRefused(f"Give the {label} date as YYYY-MM-DD.", status_code=400) from None


def _uuids(raw: list[str]) -> list[str]:
    out = []
    for value in raw:
        try:
            out.append(str(uuid.UUID(value)))
        except ValueError:
            continue
    return out


def _template(request: AuthedHttpRequest) -> str:
    return "eligibility/_priorauth_detail.html" if request.htmx else "eligibility/priorauth_detail.html"


def _context(request: AuthedHttpRequest, auth: PriorAuthorization, **extra: Any) -> dict[str, Any]:
    allowed = priorauth.TRANSITIONS[auth.status]
    S = PriorAuthorization.Status
    can_change = request.user.has_perm(CHANGE)
    return {
        "auth": auth,
        "can_change": can_change,
        "can": {
            "submit": S.SUBMITTED in allowed,
            "mark_pending": S.PENDING in allowed,
            "contact": auth.awaiting_payer,
            "decide": S.APPROVED in allowed,
            "withdraw": S.WITHDRAWN in allowed,
            "record_use": auth.status in PriorAuthorization.USABLE,
            "expire": S.EXPIRED in allowed,
        },
        "documents": list(auth.supporting_documents.all()),
        "chart_documents": list(ChartDocument.objects.filter(patient_id=auth.patient_id).order_by("-received_at")[:30])
        if can_change and S.SUBMITTED in allowed
        else [],
        "urgencies": PriorAuthorization.Urgency.choices,
        "form": extra.pop("form", {}),
        "error": extra.pop("error", ""),
        "notice": extra.pop("notice", ""),
        "action": extra.pop("action", ""),
        "today": timezone.localdate(),
        **extra,
    }
