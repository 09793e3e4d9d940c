"""Referral pages: the list (by state), one referral (packet checklist, contacts, actions over htmx),
a referral by hand, the dashboard with drill-down links, and the specialist directory."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from patients.models import ChartDocument, Coverage
from vma.access import access_patient, accessible_patients
from vma.audit import record_read
from vma.exceptions import ActionRefused, NotPermitted
from vma.http import AuthedHttpRequest

from . import policy, services, workflow
from .dashboard import WINDOWS, build_dashboard
from .models import Referral, ReferralContact, Specialist
from .packet import build_packet
from .selectors import (
    AGE_BUCKETS,
    ListFilters,
    access_referral,
    contacts,
    directory,
    referral_list,
    specialist_choices,
    specialties,
    status_counts,
)

S = Referral.Status
LIST_LIMIT = 200
CLINICAL = "patients.view_chartdocument"
STAFF_CHANNELS = [(v, label) for v, label in ReferralContact.Channel.choices if v not in ("system", "api")]


@login_required
@permission_required(policy.VIEW, raise_exception=True)
@require_GET
def referral_list_view(request: AuthedHttpRequest) -> HttpResponse:
    """Referrals of the user's care teams by state (and the dashboard's drill-down filters)."""
    f = ListFilters.from_query(request.GET)
    rows = list(referral_list(request.user, f)[: LIST_LIMIT + 1])
    more = len(rows) > LIST_LIMIT
    rows = rows[:LIST_LIMIT]
    record_read(request, rows, action="page.referrals_list")
    counts = status_counts(request.user)
    now = timezone.now()
    tabs = [
        ("open", "Open", sum(counts[s] for s in Referral.OPEN_STATES)),
        *[(s, S(s).label, counts[s]) for s in Referral.OPEN_STATES],
        ("ended", "Ended", sum(counts[s] for s in Referral.ENDED)),
        ("all", "All", sum(counts.values())),
    ]
    query = f.as_query()
    return render(
        request,
        "referrals/list.html",
        {
            "rows": [(r, (now - r.created_at).days) for r in rows],
            "more": more,
            "f": f,
            "tabs": [(value, label, n, _list_url({**query, "status": value})) for value, label, n in tabs],
            "ages": [b[0] for b in AGE_BUCKETS],
            "specialists": list(directory(include_inactive=True)),
            "filtered": any(k != "status" for k in query),
        },
    )


def _list_url(query: dict[str, str]) -> str:
    return reverse("referrals_list") + "?" + urlencode(query)


# --- one referral --------------------------------------------------------------------------------


def _context(request: AuthedHttpRequest, referral: Referral, **extra: Any) -> dict[str, Any]:
    user = request.user
    allowed = workflow.TRANSITIONS[referral.status]
    work = user.has_perm(workflow.WORK)
    draft = referral.status == S.DRAFT
    clinical = user.has_perm(CLINICAL)
    packet = build_packet(referral)
    payer_id = packet.coverage.payer_id if packet.coverage is not None else None
    can = {
        "edit_packet": draft and work,
        "edit_auth": referral.is_open and work,
        "send": S.SENT in allowed and work,
        "acknowledge": referral.status == S.SENT and work,
        "schedule": S.SCHEDULED in allowed and work,
        "seen": S.SEEN in allowed and work,
        "decline": S.DECLINED in allowed and work,
        "cancel": S.CANCELLED in allowed and work,
        "report": referral.status in services.REPORT_STATES and work and user.has_perm(services.ADD_DOCUMENT),
        "review": referral.status == S.REPORT_RECEIVED and user.has_perm(workflow.REVIEW),
        "refer_again": referral.status in (S.DECLINED, S.EXPIRED)
        and user.has_perm(workflow.ADD)
        and not referral.replacements.exists(),
        "contact": work,
    }
    return {
        "referral": referral,
        "packet": packet,
        "contacts": contacts(referral),
        "can": can,
        "clinical": clinical,
        "attached": list(referral.documents.order_by("-received_at")) if clinical else [],
        "choices": specialist_choices(referral, payer_id) if can["edit_packet"] else [],
        "coverages": list(Coverage.objects.filter(patient_id=referral.patient_id, active=True).select_related("payer"))
        if can["edit_packet"]
        else [],
        "chart_documents": list(
            ChartDocument.objects.filter(patient_id=referral.patient_id).order_by("-received_at")[:50]
        )
        if can["edit_packet"] and clinical
        else [],
        "replacements": list(referral.replacements.all()),
        "urgencies": Referral.Urgency.choices,
        "channels": STAFF_CHANNELS,
        "directions": ReferralContact.Direction.choices,
        "error": extra.pop("error", ""),
        "notice": extra.pop("notice", ""),
        "form": extra.pop("form", {}),
        "action": extra.pop("action", ""),
        **extra,
    }


def _template(request: AuthedHttpRequest) -> str:
    return "referrals/_detail.html" if request.htmx else "referrals/detail.html"


@login_required
@permission_required(policy.VIEW, raise_exception=True)
@require_GET
def referral_detail(request: AuthedHttpRequest, public_id: str) -> HttpResponse:
    referral = access_referral(request.user, public_id)
    record_read(request, [referral], action="page.referrals_detail")
    return render(request, "referrals/detail.html", _context(request, referral))


def _errors(exc: ValidationError) -> str:
    if hasattr(exc, "error_dict"):
        return " ".join(f"{msg}" for msgs in exc.message_dict.values() for msg in msgs)
    return " ".join(exc.messages)


def _respond(request: AuthedHttpRequest, public_id: str, action: str, run: Any) -> HttpResponse:
    """Run one service or workflow call; re-render the referral (htmx) or redirect, refusals shown
    with what was typed kept."""
    referral = access_referral(request.user, public_id, policy.VIEW)
    try:
        notice, target = run(referral)
    except NotPermitted:
        raise Http404("No such referral.") from None
    except (ActionRefused, ValidationError) as exc:
        message = exc.message if isinstance(exc, ActionRefused) else _errors(exc)
        code = exc.status_code if isinstance(exc, ActionRefused) else 400
        fresh = access_referral(request.user, public_id, policy.VIEW)
        ctx = _context(request, fresh, error=message, form=request.POST, action=action)
        return render(request, _template(request), ctx, status=200 if request.htmx else code)
    if target is not None and target.pk != referral.pk:
        messages.success(request, notice)
        url = reverse("referrals_detail", args=[target.public_id])
        if request.htmx:
            response = HttpResponse(status=204)
            response["HX-Redirect"] = url
            return response
        return redirect(url)
    if request.htmx:
        fresh = access_referral(request.user, public_id, policy.VIEW)
        return render(request, _template(request), _context(request, fresh, notice=notice))
    messages.success(request, notice)
    return redirect("referrals_detail", public_id=public_id)


def _date(raw: str, label: str) -> date | None:
    if not raw:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise ActionRefused(f"Give the {label} as a date (YYYY-MM-DD).", status_code=400) from None


def _datetime(raw: str, label: str) -> datetime:
    try:
        value = datetime.fromisoformat(raw)
    except (TypeError, ValueError):
        raise ActionRefused(f"Give the {label} as a date and time.", status_code=400) from None
    return timezone.make_aware(value) if timezone.is_naive(value) else value


def _packet_fields(request: AuthedHttpRequest, referral: Referral) -> dict[str, Any]:
    post = request.POST
    fields: dict[str, Any] = {
        "reason": post.get("reason", ""),
        "urgency": post.get("urgency", referral.urgency),
        "diagnosis_code": post.get("diagnosis_code", ""),
        "results_not_needed": post.get("results_not_needed") == "on",
        "results_note": post.get("results_note", ""),
    }
    raw = post.get("specialist", "")
    fields["specialist"] = None
    if raw:
        fields["specialist"] = Specialist.objects.filter(public_id=_uuid(raw), active=True).first()
        if fields["specialist"] is None:
            raise ActionRefused("Choose a specialist from the directory.", status_code=400)
    plan = post.get("coverage", "")
    fields["self_pay"] = plan == "self_pay"
    fields["coverage"] = None
    if plan and plan != "self_pay":
        fields["coverage"] = Coverage.objects.filter(public_id=_uuid(plan), patient_id=referral.patient_id).first()
        if fields["coverage"] is None:
            raise ActionRefused("Choose one of the patient's plans.", status_code=400)
    if request.user.has_perm(CLINICAL):  # the clinical part is only edited by those who read it
        fields["clinical_notes"] = post.get("clinical_notes", "")
        wanted = [_uuid(v) for v in post.getlist("documents")]
        fields["documents"] = list(
            ChartDocument.objects.filter(public_id__in=[w for w in wanted if w], patient_id=referral.patient_id)
        )
    return fields


def _uuid(raw: str) -> Any:
    from uuid import UUID

    try:
        return UUID(raw)
    except (TypeError, ValueError):
        return None


def _work(request: AuthedHttpRequest, referral: Referral, action: str) -> tuple[str, Referral | None]:
    post, actor = request.POST, request.user
    channel = post.get("channel") or None
    if action == "packet":
        services.update_packet(referral, actor=actor, **_packet_fields(request, referral))
        return "Packet saved.", None
    if action == "authorization":
        services.update_packet(
            referral,
            actor=actor,
            authorization_number=post.get("authorization_number", ""),
            visits_allowed=post.get("visits_allowed", "") or None,
            visits_used=post.get("visits_used", "") or 0,
            authorization_expires_on=_date(post.get("authorization_expires_on", ""), "expiry date"),
        )
        return "Authorization saved.", None
    if action == "send":
        workflow.send_referral(referral, actor=actor)
        return "Referral sent.", None
    if action == "acknowledge":
        workflow.acknowledge_referral(referral, actor=actor, note=post.get("note", ""), channel=channel)
        return "Acknowledgement recorded.", None
    if action == "schedule":
        when = _datetime(post.get("appointment_at", ""), "appointment")
        workflow.schedule_referral(
            referral, actor=actor, appointment_at=when, note=post.get("note", ""), channel=channel
        )
        return "Appointment recorded.", None
    if action == "seen":
        raw = post.get("seen_at", "")
        workflow.mark_seen(
            referral,
            actor=actor,
            seen_at=_datetime(raw, "visit time") if raw else None,
            note=post.get("note", ""),
            channel=channel,
        )
        return "Visit recorded.", None
    if action == "decline":
        workflow.decline_referral(referral, actor=actor, reason=post.get("reason", ""), channel=channel)
        return "Recorded as declined.", None
    if action == "cancel":
        workflow.cancel_referral(referral, actor=actor, reason=post.get("reason", ""))
        return "Referral cancelled.", None
    if action == "contact":
        services.record_contact(
            referral,
            actor=actor,
            channel=post.get("channel", ""),
            direction=post.get("direction", "out"),
            note=post.get("note", ""),
        )
        return "Contact logged.", None
    raise ActionRefused("Unknown action.", status_code=400)


@login_required
@permission_required(workflow.WORK, raise_exception=True)
@require_POST
def referral_action(request: AuthedHttpRequest, public_id: str, action: str) -> HttpResponse:
    """The referral's forms (packet, authorization, moves, contacts): one service call each."""
    return _respond(request, public_id, action, lambda referral: _work(request, referral, action))


@login_required
@permission_required(services.ADD_DOCUMENT, raise_exception=True)
@require_POST
def referral_report(request: AuthedHttpRequest, public_id: str) -> HttpResponse:
    """File a consult report that came by fax or mail (type and size checked like any chart document)."""

    def run(referral: Referral) -> tuple[str, None]:
        upload = request.FILES.get("file")
        if upload is None:
            raise ActionRefused("Choose the report file (PDF, PNG or JPEG).", status_code=400)
        services.attach_report(
            referral,
            actor=request.user,
            upload=upload,
            title=request.POST.get("title", ""),
            channel=request.POST.get("channel") or None,
        )
        return "Report filed to the chart; the provider reviews it next.", None

    return _respond(request, public_id, "report", run)


@login_required
@permission_required(workflow.REVIEW, raise_exception=True)
@require_POST
def referral_review(request: AuthedHttpRequest, public_id: str) -> HttpResponse:
    def run(referral: Referral) -> tuple[str, None]:
        workflow.review_report(referral, actor=request.user, note=request.POST.get("note", ""))
        return "Report reviewed: the loop is closed.", None

    return _respond(request, public_id, "review", run)


@login_required
@permission_required(workflow.ADD, raise_exception=True)
@require_POST
def referral_refer_again(request: AuthedHttpRequest, public_id: str) -> HttpResponse:
    def run(referral: Referral) -> tuple[str, Referral]:
        new = services.refer_again(referral, actor=request.user)
        return "A new draft with the same packet: choose the specialist and send it.", new

    return _respond(request, public_id, "refer_again", run)


# --- a referral by hand --------------------------------------------------------------------------


@login_required
@permission_required(workflow.ADD, raise_exception=True)
@require_http_methods(["GET", "POST"])
def referral_new(request: AuthedHttpRequest) -> HttpResponse:
    """Refer a patient by hand (most referrals start from a signed order)."""
    source = request.POST if request.method == "POST" else request.GET
    patient = access_patient(request.user, source.get("patient"), workflow.ADD) if source.get("patient") else None
    error = ""
    if request.method == "POST" and patient is not None:
        try:
            referral = services.create_referral(
                patient,
                actor=request.user,
                specialty=request.POST.get("specialty", ""),
                reason=request.POST.get("reason", ""),
                urgency=request.POST.get("urgency", Referral.Urgency.ROUTINE),
                diagnosis_code=request.POST.get("diagnosis_code", ""),
            )
        except (ActionRefused, ValidationError) as exc:
            error = exc.message if isinstance(exc, ActionRefused) else _errors(exc)
        else:
            messages.success(request, "Referral created: complete the packet and send it.")
            return redirect("referrals_detail", public_id=referral.public_id)
    elif request.method == "POST":
        error = "Choose the patient."
    patients = (
        []
        if patient is not None
        else list(accessible_patients(request.user, workflow.ADD).order_by("last_name", "first_name", "id")[:200])
    )
    record_read(request, [patient] if patient is not None else patients, action="page.referrals_new")
    return render(
        request,
        "referrals/new.html",
        {
            "patient": patient,
            "patients": patients,
            "specialties": specialties(),
            "urgencies": Referral.Urgency.choices,
            "form": request.POST,
            "error": error,
        },
        status=400 if error else 200,
    )


# --- the dashboard and the directory -------------------------------------------------------------


@login_required
@permission_required(policy.DASHBOARD, raise_exception=True)
@require_GET
def dashboard(request: AuthedHttpRequest) -> HttpResponse:
    """Counts only (no patient named): not a read of patient data to audit."""
    try:
        window = int(request.GET.get("window", "90"))
    except ValueError:
        window = 90
    dash = build_dashboard(request.user, window_days=window)
    w = str(dash.window_days)
    state_rows = [
        (
            row,
            _list_url({"status": row.status}),
            [(label, n, _list_url({"status": row.status, "age": label})) for label, n in row.buckets],
        )
        for row in dash.open_rows
    ]
    links = {
        "open": _list_url({"status": "open"}),
        "sent": _list_url({"status": "all", "sent_within": w}),
        "closed": _list_url({"status": S.CLOSED, "sent_within": w}),
        "leaked": _list_url({"status": "all", "sent_within": w, "leaked": "1"}),
        "reports": _list_url({"status": "all", "sent_within": w}),
    }
    specialist_rows = [
        (
            row,
            _list_url({"status": "all", "sent_within": w, "specialist": str(row.public_id)}),
            _list_url({"status": "all", "sent_within": w, "specialist": str(row.public_id), "leaked": "1"}),
        )
        for row in dash.specialists
    ]
    return render(
        request,
        "referrals/dashboard.html",
        {
            "dash": dash,
            "state_rows": state_rows,
            "bucket_totals": [
                (label, n, _list_url({"status": "open", "age": label})) for label, n in dash.bucket_totals
            ],
            "links": links,
            "specialist_rows": specialist_rows,
            "windows": WINDOWS,
            "ages": [b[0] for b in AGE_BUCKETS],
        },
    )


@login_required
@permission_required(policy.VIEW_SPECIALIST, raise_exception=True)
@require_GET
def specialist_list(request: AuthedHttpRequest) -> HttpResponse:
    """The specialist directory (kept by the manager in admin)."""
    specialty = request.GET.get("specialty", "")
    show_inactive = request.GET.get("inactive") == "1"
    return render(
        request,
        "referrals/specialists.html",
        {
            "specialists": list(directory(specialty=specialty, include_inactive=show_inactive)),
            "specialties": specialties(),
            "specialty": specialty,
            "show_inactive": show_inactive,
        },
    )
