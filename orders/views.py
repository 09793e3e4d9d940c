"""Orders pages: a visit's orders (pend with htmx, cancel), one order (edit and re-pend, FHIR download),
and the provider's signing queue with its batch sign / return."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.exceptions import ValidationError
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from encounters.models import Encounter
from vma.audit import record_read
from vma.exceptions import ActionRefused, NotPermitted
from vma.http import AuthedHttpRequest
from vma.models import AuditEvent

from . import fhir, signing, workflow
from .forms import CancelForm, OrderForm
from .models import Order
from .policy import CANCEL, CHANGE, PEND, SIGN, VIEW
from .selectors import access_encounter, access_order, encounter_diagnosis, encounter_orders

RESULTS_KEY = "orders_sign_results"


# ---------------------------------------------------------------------------------------------
# A visit's orders
# ---------------------------------------------------------------------------------------------


def _encounter_context(
    request: AuthedHttpRequest, encounter: Encounter, form: OrderForm | None = None
) -> dict[str, Any]:
    diagnoses = list(encounter.diagnoses.all())
    can_pend = request.user.has_perm(PEND)
    return {
        "encounter": encounter,
        "patient": encounter.patient,
        "orders": encounter_orders(encounter),
        "diagnoses": diagnoses,
        "form": form or (OrderForm(diagnoses=diagnoses) if can_pend else None),
        "can_pend": can_pend,
        "can_cancel": request.user.has_perm(CANCEL),
    }


@login_required
@permission_required(VIEW, raise_exception=True)
@require_GET
def encounter_page(request: AuthedHttpRequest, public_id: str) -> HttpResponse:
    encounter = access_encounter(request.user, public_id)
    context = _encounter_context(request, encounter)
    record_read(request, [encounter.patient], action="page.orders_encounter")
    return render(request, "orders/encounter.html", context)


def _orders_section(request: AuthedHttpRequest, encounter: Encounter, **extra: Any) -> HttpResponse:
    context = _encounter_context(request, encounter, extra.pop("form", None))
    context.update(extra)
    return render(request, "orders/_orders.html", context)


@login_required
@permission_required(PEND, raise_exception=True)
@require_POST
def pend(request: AuthedHttpRequest, public_id: str) -> HttpResponse:
    encounter = access_encounter(request.user, public_id, PEND)
    diagnoses = list(encounter.diagnoses.all())
    form = OrderForm(request.POST, diagnoses=diagnoses)
    order = None
    if form.is_valid():
        try:
            order = workflow.pend_order(
                encounter,
                actor=request.user,
                kind=form.cleaned_data["kind"],
                diagnosis=encounter_diagnosis(encounter, form.cleaned_data["diagnosis"]),
                **form.values(),
            )
        except ValidationError as exc:
            form.show_errors(exc)
        except NotPermitted:
            return HttpResponse("You cannot pend orders for this patient.", status=403)
    if order is None:
        if request.htmx:
            # htmx swaps only 2xx: the form comes back with what was typed and what is wrong.
            return _orders_section(request, encounter, form=form)
        context = _encounter_context(request, encounter, form)
        return render(request, "orders/encounter.html", context, status=400)
    notice = f"Pended for {encounter.provider}'s signature: {order.get_kind_display()}, {order.title}."
    if request.htmx:
        return _orders_section(request, encounter, notice=notice)
    messages.success(request, notice)
    return redirect("orders_encounter", public_id=encounter.public_id)


@login_required
@permission_required(CANCEL, raise_exception=True)
@require_POST
def cancel(request: AuthedHttpRequest, public_id: str) -> HttpResponse:
    order = access_order(request.user, public_id, CANCEL)
    form = CancelForm(request.POST)
    error = ""
    try:
        workflow.cancel_order(order, actor=request.user, reason=form.cleaned_data["reason"] if form.is_valid() else "")
    except NotPermitted:
        return HttpResponse("You cannot cancel this order.", status=403)
    except ActionRefused as exc:
        error = exc.message
    if request.htmx:
        notice = "" if error else f"Cancelled: {order.title}."
        return _orders_section(request, order.encounter, error=error, notice=notice)
    if error:
        messages.error(request, error)
    else:
        messages.success(request, f"Cancelled: {order.title}.")
    return redirect("orders_encounter", public_id=order.encounter.public_id)


# ---------------------------------------------------------------------------------------------
# One order
# ---------------------------------------------------------------------------------------------


def _detail(request: AuthedHttpRequest, order: Order, form: OrderForm | None = None, status: int = 200) -> HttpResponse:
    can_edit = order.is_editable and request.user.has_perm(CHANGE)
    if form is None and can_edit:
        form = OrderForm.for_order(order, list(order.encounter.diagnoses.all()))
    context = {"order": order, "patient": order.patient, "form": form, "can_edit": can_edit}
    return render(request, "orders/detail.html", context, status=status)


@login_required
@permission_required(VIEW, raise_exception=True)
@require_GET
def detail(request: AuthedHttpRequest, public_id: str) -> HttpResponse:
    order = access_order(request.user, public_id)
    record_read(request, [order], action="page.orders_detail")
    return _detail(request, order)


@login_required
@permission_required(CHANGE, raise_exception=True)
@require_POST
def edit(request: AuthedHttpRequest, public_id: str) -> HttpResponse:
    """Change a pended or returned order and pend it (again) for signature."""
    order = access_order(request.user, public_id, CHANGE)
    diagnoses = list(order.encounter.diagnoses.all())
    form = OrderForm.for_order(order, diagnoses, data=request.POST)
    if form.is_valid():
        try:
            workflow.edit_order(
                order,
                actor=request.user,
                diagnosis=encounter_diagnosis(order.encounter, form.cleaned_data["diagnosis"]),
                **form.values(),
            )
        except ValidationError as exc:
            form.show_errors(exc)
        except NotPermitted:
            return HttpResponse("You cannot change this order.", status=403)
        except ActionRefused as exc:
            messages.error(request, exc.message)
            return redirect("orders_detail", public_id=order.public_id)
        else:
            messages.success(request, f"Pended again for {order.provider}'s signature: {order.title}.")
            return redirect("orders_encounter", public_id=order.encounter.public_id)
    return _detail(request, order, form=form, status=400)


@login_required
@permission_required(VIEW, raise_exception=True)
@require_GET
def fhir_download(request: AuthedHttpRequest, public_id: str) -> HttpResponse:
    order = access_order(request.user, public_id)
    try:
        body = fhir.export_json(order)
    except ActionRefused as exc:
        messages.error(request, exc.message)
        return render(request, "orders/detail.html", {"order": order, "patient": order.patient}, status=409)
    record_read(request, [order], action="export.orders_fhir", kind=AuditEvent.Kind.EXPORT)
    response = HttpResponse(body, content_type="application/fhir+json")
    response["Content-Disposition"] = f'attachment; filename="order-{order.public_id}.json"'
    return response


# ---------------------------------------------------------------------------------------------
# The signing queue
# ---------------------------------------------------------------------------------------------


@login_required
@permission_required(SIGN, raise_exception=True)
@require_GET
def signing_queue(request: AuthedHttpRequest) -> HttpResponse:
    groups = signing.signing_queue(request.user)
    results = request.session.pop(RESULTS_KEY, None)
    record_read(request, [g.patient for g in groups], action="page.orders_signing_queue")
    return render(
        request,
        "orders/signing_queue.html",
        {
            "groups": groups,
            "count": sum(len(g.lines) for g in groups),
            "needs_second_factor": any(line.requires_second_factor for g in groups for line in g.lines),
            "results": results,
        },
    )


@login_required
@permission_required(SIGN, raise_exception=True)
@require_POST
def sign_batch(request: AuthedHttpRequest) -> HttpResponse:
    """The contract other apps rely on: `item` ("<kind>:<public_id>:<content_hash>", repeated),
    `action` ("sign" | "return"), `comment` (to return), `password` and `otp` (second factor)."""
    action = request.POST.get("action", "")
    try:
        items = signing.parse_items(request.POST.getlist("item"))
        if action not in ("sign", "return"):
            raise ActionRefused("Choose to sign or to return the selected items.", status_code=400)
        lines = signing.pending_lines(request.user, {kind for kind, _, _ in items})
        if action == "sign":
            result = signing.sign_batch(
                request.user,
                items,
                password=request.POST.get("password") or None,
                otp=request.POST.get("otp") or None,
                pending=lines,
            )
        else:
            result = signing.return_batch(request.user, items, comment=request.POST.get("comment", ""))
    except ValueError as exc:
        messages.error(request, str(exc))
        return redirect("orders_signing_queue")
    except NotPermitted:
        return HttpResponse("Only a provider signs.", status=403)
    except ActionRefused as exc:
        messages.error(request, exc.message)
        return redirect("orders_signing_queue")
    request.session[RESULTS_KEY] = signing.describe(result, lines)
    done = len(result.signed)
    verb = "signed" if action == "sign" else "returned"
    if result.refused:
        messages.error(request, f"{done} {verb}, {len(result.refused)} not {verb}: see each item's reason below.")
    else:
        messages.success(request, f"{done} item{'s' if done != 1 else ''} {verb}.")
    return redirect("orders_signing_queue")
