"""Refill pages: the list with turnaround by day, a new phone/portal request, one request with its check and actions."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from scheduling.models import Appointment
from vma.access import accessible_patients
from vma.audit import record_read
from vma.exceptions import ActionRefused, NotPermitted
from vma.http import AuthedHttpRequest
from vma.models import WorkItem

from . import notify, services, workflow
from .forms import AmendForm, PatientLookupForm, PhoneRequestForm
from .models import RefillRequest
from .selectors import FILTERS, VIEW_PERM, access_request, history, request_list, turnaround_by_day

S = RefillRequest.Status
PAGE_SIZE = 50


@login_required
@permission_required(VIEW_PERM, raise_exception=True)
@require_GET
def refill_list(request: AuthedHttpRequest) -> HttpResponse:
    key = request.GET.get("status", "open")
    key = key if key in FILTERS else "open"
    page = Paginator(request_list(request.user, filter_key=key), PAGE_SIZE).get_page(request.GET.get("page"))
    rows = list(page.object_list)
    record_read(request, rows, action="page.refills_list")
    return render(
        request,
        "refills/list.html",
        {
            "rows": rows,
            "page": page,
            "filter_key": key,
            "filters": [(k, label) for k, (label, _s) in FILTERS.items()],
            "turnaround": turnaround_by_day(request.user),
            "now": timezone.now(),
            "can_add": request.user.has_perm(services.ADD_PERM),
        },
    )


def _lookup_patient(request: AuthedHttpRequest, form: PatientLookupForm) -> Any:
    return (
        accessible_patients(request.user, services.ADD_PERM)
        .filter(mrn=form.cleaned_data["mrn"], date_of_birth=form.cleaned_data["date_of_birth"])
        .select_related("care_team__provider")
        .first()
    )


def _patient_panel(request: AuthedHttpRequest) -> HttpResponse:
    """htmx: who the two identifiers name, and their active medications to pick from."""
    form = PatientLookupForm(request.GET)
    patient = _lookup_patient(request, form) if form.is_valid() else None
    meds = []
    if patient is not None:
        today = timezone.localdate()
        meds = list(patient.medications.exclude(stop_date__lt=today).order_by("name"))
        record_read(request, [patient], action="page.refills_new.lookup")
    return render(
        request, "refills/_patient_panel.html", {"patient": patient, "meds": meds, "looked_up": form.is_valid()}
    )


@login_required
@permission_required(services.ADD_PERM, raise_exception=True)
@require_http_methods(["GET", "POST"])
def new_request(request: AuthedHttpRequest) -> HttpResponse:
    if request.method == "GET" and request.htmx and request.GET.get("mrn"):
        return _patient_panel(request)
    form = PhoneRequestForm(request.POST or None, initial={"source": "phone", "urgency": "routine"})
    if request.method == "POST" and form.is_valid():
        patient = _lookup_patient(request, form)
        if patient is None:
            form.add_error(None, "No patient in your care teams has this MRN and date of birth.")
        else:
            data = form.cleaned_data
            try:
                received = services.receive_request(
                    actor=request.user,
                    patient=patient,
                    medication=data["medication"],
                    pharmacy=data["pharmacy"],
                    requester=data["requester"],
                    source=data["source"],
                    urgency=data["urgency"],
                    request_text=data["request_text"],
                    strength=data["strength"],
                    sig=data["sig"],
                    quantity=data["quantity"],
                    days_supply=data["days_supply"],
                    refills=data["refills"],
                    controlled_schedule=data["controlled_schedule"] or "",
                    callback_phone=data["callback_phone"],
                )
            except ValidationError as exc:
                for field, errors in exc.message_dict.items():
                    form.add_error(field if field in form.fields else None, errors)
            except ActionRefused as exc:
                form.add_error(None, exc.message)
            else:
                if received.red_flags:
                    messages.warning(
                        request,
                        f"Red flag ({', '.join(received.red_flags)}): escalated to the nurse queue at once.",
                    )
                if received.merged_into is not None:
                    messages.info(request, received.message)
                    return redirect("refills_detail", public_id=received.merged_into.public_id)
                messages.success(request, received.message)
                return redirect("refills_detail", public_id=received.request.public_id)
    return render(request, "refills/new.html", {"form": form})


def _detail_context(request: AuthedHttpRequest, refill: RefillRequest) -> dict[str, Any]:
    user = request.user
    can_work = user.has_perm(workflow.WORK_PERM)
    can_decide = (
        user.has_perm(workflow.SIGN_PERM) and user.is_provider and refill.provider_id == user.pk
    ) and refill.status in workflow.DECIDABLE
    ct = ContentType.objects.get_for_model(RefillRequest)
    items = list(WorkItem.objects.filter(subject_type=ct, subject_id=refill.pk).order_by("-created_at", "-id")[:20])
    upcoming = None
    if refill.status == S.NEEDS_APPOINTMENT:
        upcoming = (
            Appointment.objects.filter(
                patient_id=refill.patient_id,
                provider_id=refill.provider_id,
                start_at__gt=timezone.now(),
                status__in=[Appointment.Status.SCHEDULED, Appointment.Status.CONFIRMED],
            )
            .order_by("start_at")
            .first()
        )
    told = refill.status in (S.SIGNED, S.DENIED)
    return {
        "refill": refill,
        "events": history(refill),
        "items": items,
        "duplicates": list(refill.duplicates.order_by("received_at")),
        "can_work": can_work,
        "can_decide": can_decide,
        "content_hash": workflow.signing_hash(refill) if can_decide else "",
        "upcoming": upcoming,
        "amend": AmendForm(initial={f: getattr(refill, f) for f in services.AMENDABLE}, auto_id="amend_%s"),
        "can_recheck": can_work and refill.status in (S.RECEIVED, *workflow.DECIDABLE),
        "can_resend": can_work and told and refill.pharmacy_status == RefillRequest.PharmacyStatus.REFUSED,
        "can_tell_patient": can_work and told and refill.patient_notified_at is None,
    }


@login_required
@permission_required(VIEW_PERM, raise_exception=True)
@require_GET
def refill_detail(request: AuthedHttpRequest, public_id: str) -> HttpResponse:
    refill = access_request(request.user, public_id)
    record_read(request, [refill], action="page.refills_detail")
    return render(request, "refills/detail.html", _detail_context(request, refill))


def _after(request: AuthedHttpRequest, public_id: Any, *, error: str = "", done: str = "") -> HttpResponse:
    """htmx: the re-rendered request panel (errors shown in it); otherwise back to the page with a message."""
    if request.htmx:
        refill = access_request(request.user, public_id)
        context = _detail_context(request, refill) | {"error": error, "done": done}
        return render(request, "refills/_request.html", context)
    if error:
        messages.error(request, error)
    elif done:
        messages.success(request, done)
    return redirect("refills_detail", public_id=public_id)


def _work(request: AuthedHttpRequest, refill: RefillRequest, action: str) -> str:
    """Run one VMA action; returns what happened, in words."""
    user, post = request.user, request.POST
    if action == "check":
        checked = workflow.check_request(refill, actor=user)
        return f"Checked: {checked.get_status_display().lower()}."
    if action == "amend":
        form = AmendForm(post)
        if not form.is_valid():
            raise ActionRefused(
                "; ".join(f"{f.replace('_', ' ')}: {' '.join(str(m) for m in e)}" for f, e in form.errors.items()),
                status_code=400,
            )
        amended = services.amend_request(refill, actor=user, changes=form.changes(refill))
        return f"Saved and checked again: {amended.get_status_display().lower()}."
    if action == "bridge":
        workflow.pend_bridge(refill, actor=user)
        return "Bridge refill pended for the provider's signature."
    if action == "cancel":
        workflow.cancel_request(refill, actor=user, reason=post.get("reason", ""))
        return "Request cancelled."
    if action == "resend_pharmacy":
        notify.resend_to_pharmacy(refill, actor=user, pharmacy=post.get("pharmacy", ""))
        return "Sent to the pharmacy again."
    if action == "pharmacy_told":
        notify.record_pharmacy_told(refill, actor=user, note=post.get("note", ""))
        return "Recorded: the pharmacy was told."
    if action == "patient_told":
        notify.record_patient_told(refill, actor=user, note=post.get("note", ""))
        return "Recorded: the patient was told."
    raise Http404("No such action.")


@login_required
@permission_required(workflow.WORK_PERM, raise_exception=True)
@require_POST
def work_action(request: AuthedHttpRequest, public_id: str, action: str) -> HttpResponse:
    refill = access_request(request.user, public_id, workflow.WORK_PERM)
    try:
        done = _work(request, refill, action)
    except NotPermitted:
        raise Http404("No such refill request.") from None
    except ValidationError as exc:
        return _after(request, refill.public_id, error=" ".join(exc.messages))
    except ActionRefused as exc:
        return _after(request, refill.public_id, error=exc.message)
    return _after(request, refill.public_id, done=done)


def _decide(request: AuthedHttpRequest, refill: RefillRequest, action: str) -> str:
    user, post = request.user, request.POST
    if action == "sign":
        # The signature ceremony: the provider's password again, and the hash of what the page showed.
        if not user.check_password(post.get("password", "")):
            raise ActionRefused("Password incorrect: the refill was not signed.", status_code=400)
        workflow.sign_refill(refill, provider=user, content_hash=post.get("content_hash", ""), from_queue=False)
        return "Refill signed: the pharmacy and the patient are being told."
    if action == "deny":
        workflow.deny_refill(refill, provider=user, reason=post.get("reason", ""))
        return "Refill denied: the pharmacy and the patient are being told."
    if action == "approve":
        workflow.approve_for_signing(refill, provider=user)
        return "Moved to your signing queue."
    raise Http404("No such action.")


@login_required
@permission_required(workflow.SIGN_PERM, raise_exception=True)
@require_POST
def decide_action(request: AuthedHttpRequest, public_id: str, action: str) -> HttpResponse:
    refill = access_request(request.user, public_id)
    try:
        done = _decide(request, refill, action)
    except NotPermitted:
        # Another provider's refill answers like a missing one.
        raise Http404("No such refill request.") from None
    except ActionRefused as exc:
        return _after(request, refill.public_id, error=exc.message)
    return _after(request, refill.public_id, done=done)
