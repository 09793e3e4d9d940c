"""Billing pages: the claims work list, one claim with its scrub result and actions, billing a visit."""

from __future__ import annotations

from datetime import date
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from vma.audit import record_read
from vma.exceptions import ActionRefused, NotPermitted
from vma.http import AuthedHttpRequest

from . import services, workflow
from .models import Claim
from .selectors import VIEW, access_claim, access_visit, status_counts, visits_to_bill
from .selectors import claim_list as list_claims
from .services import LineInput


@login_required
@permission_required(VIEW, raise_exception=True)
@require_GET
def claim_list(request: AuthedHttpRequest) -> HttpResponse:
    """Claims by status with counts, and completed visits not billed yet (a fixed number of queries)."""
    status = request.GET.get("status", "")
    rows = list(list_claims(request.user, status=status)[:200])
    visits = list(visits_to_bill(request.user)[:50])
    record_read(request, rows, action="page.billing_claims")
    if visits:
        record_read(request, visits, action="page.billing_visits_to_bill")
    counts = status_counts(request.user)
    ctx = {
        "rows": rows,
        "status": status,
        "statuses": [(value, label, counts[value]) for value, label in Claim.Status.choices],
        "total": sum(counts.values()),
        "visits": visits,
    }
    return render(request, "billing/claim_list.html", ctx)


@login_required
@permission_required(VIEW, raise_exception=True)
@require_GET
def claim_detail(request: AuthedHttpRequest, public_id: str) -> HttpResponse:
    claim = access_claim(request.user, public_id)
    record_read(request, [claim], action="page.billing_claim_detail")
    return render(request, _template(request), _context(request, claim))


@login_required
@permission_required(workflow.ADD, raise_exception=True)
@require_POST
def bill_visit(request: AuthedHttpRequest, public_id: str) -> HttpResponse:
    """Draft the visit's claim (or open the one it has)."""
    visit = access_visit(request.user, public_id)
    try:
        claim, created = services.draft_claim(visit, actor=request.user)
    except NotPermitted:
        raise Http404("No such visit.") from None
    except ActionRefused as exc:
        messages.error(request, exc.message)
        return redirect("billing_claims")
    messages.success(request, "Claim drafted: enter the diagnoses and charges." if created else "The visit's claim.")
    return redirect("billing_claim_detail", public_id=claim.public_id)


@login_required
@permission_required(workflow.CHANGE, raise_exception=True)
@require_POST
def claim_action(request: AuthedHttpRequest, public_id: str, action: str) -> HttpResponse:
    """One endpoint for the claim's forms; each calls one service or workflow function."""
    claim = access_claim(request.user, public_id)
    try:
        claim, done, extra = _act(request, claim, action)
    except NotPermitted:
        raise Http404("No such claim.") from None
    except ActionRefused as exc:
        # Re-render with what was typed, so nothing is lost; the claim as it now stands.
        claim = access_claim(request.user, public_id)
        ctx = _context(request, claim, error=exc.message, form=request.POST, action=action)
        return render(request, _template(request), ctx, status=200 if request.htmx else exc.status_code)
    if extra is not None:  # void/correct made a new claim: go to it
        messages.success(request, done)
        if request.htmx:
            response = HttpResponse(status=204)
            response["HX-Redirect"] = _url(extra)
            return response
        return redirect("billing_claim_detail", public_id=extra.public_id)
    if request.htmx:
        return render(request, _template(request), _context(request, claim, notice=done))
    messages.success(request, done)
    return redirect("billing_claim_detail", public_id=claim.public_id)


# ---------------------------------------------------------------------------------------------


def _url(claim: Claim) -> str:
    from django.urls import reverse

    return reverse("billing_claim_detail", args=[claim.public_id])


def _line_input(post: Any) -> LineInput:
    raw_date = post.get("service_date", "")
    try:
        day = date.fromisoformat(raw_date) if raw_date else None
    except ValueError:
        raise ActionRefused("Give the line's date as YYYY-MM-DD.", status_code=400) from None
    return LineInput(
        procedure_code=post.get("procedure_code", ""),
        modifiers=services.parse_modifiers(post.get("modifiers", "")),
        units=services.parse_units(post.get("units", "1") or "1"),
        charge=services.parse_charge(post.get("charge", "")),
        diagnosis_pointers=services.parse_pointers(post.get("diagnosis_pointers", "")),
        service_date=day,
    )


def _number(raw: str, label: str) -> int:
    try:
        return int(raw)
    except (TypeError, ValueError):
        raise ActionRefused(f"Choose the {label}.", status_code=400) from None


def _act(request: AuthedHttpRequest, claim: Claim, action: str) -> tuple[Claim, str, Claim | None]:
    post, actor = request.POST, request.user
    if action == "scrub":
        result = workflow.scrub(claim, actor=actor)
        n = len([p for p in result.problems if p.blocking])
        return result.claim, ("Scrubbed clean: ready to submit." if result.clean else f"{n} problem(s) to fix."), None
    if action == "submit":
        return workflow.submit(claim, actor=actor), "Submitted; the clearinghouse's answer follows.", None
    if action == "reopen":
        return workflow.reopen(claim, actor=actor), "Back to draft.", None
    if action == "void":
        claim, new = workflow.void(claim, actor=actor, reason=post.get("reason", ""))
        return claim, "Voided." + (" A void (frequency 8) claim was drafted to submit." if new else ""), new
    if action == "correct":
        claim, new = workflow.correct(claim, actor=actor, reason=post.get("reason", ""))
        return claim, "A corrected (frequency 7) claim was drafted: fix it and submit it.", new
    if action == "add_line":
        services.add_line(claim, _line_input(post), actor=actor)
        return claim, "Line added.", None
    if action == "update_line":
        services.update_line(claim, _number(post.get("line", ""), "line"), _line_input(post), actor=actor)
        return claim, "Line saved.", None
    if action == "remove_line":
        services.remove_line(claim, _number(post.get("line", ""), "line"), actor=actor)
        return claim, "Line removed.", None
    if action == "add_diagnosis":
        dx = services.add_diagnosis(claim, post.get("code", ""), actor=actor)
        return claim, f"{dx.code} added as diagnosis {dx.position}.", None
    if action == "remove_diagnosis":
        services.remove_diagnosis(claim, _number(post.get("position", ""), "diagnosis"), actor=actor)
        return claim, "Diagnosis removed; the lines' pointers follow.", None
    if action == "referral":
        return services.set_referral_number(claim, post.get("referral_number", ""), actor=actor), "Saved.", None
    raise ActionRefused("Unknown action.", status_code=400)


def _template(request: AuthedHttpRequest) -> str:
    return "billing/_claim_detail.html" if request.htmx else "billing/claim_detail.html"


def _context(request: AuthedHttpRequest, claim: Claim, **extra: Any) -> dict[str, Any]:
    allowed = workflow.TRANSITIONS[claim.status]
    S = Claim.Status
    user = request.user
    problems = claim.scrub_problems or []
    return {
        "claim": claim,
        "lines": list(claim.lines.order_by("line_number")),
        "diagnoses": list(claim.diagnoses.order_by("position")),
        "blocking": [p for p in problems if p.get("blocking", True)],
        "warnings": [p for p in problems if not p.get("blocking", True)],
        "can": {
            "edit": claim.status == S.DRAFT and user.has_perm(workflow.CHANGE),
            "scrub": claim.status in (S.DRAFT, S.SCRUBBED) and user.has_perm(workflow.SCRUB),
            "submit": claim.status == S.SCRUBBED and user.has_perm(workflow.SUBMIT),
            "reopen": S.DRAFT in allowed and claim.status != S.DRAFT and user.has_perm(workflow.CHANGE),
            "void": S.VOIDED in allowed and user.has_perm(workflow.VOID),
            "correct": S.CORRECTED in allowed and user.has_perm(workflow.VOID),
        },
        "replacements": list(claim.replacements.all()),
        "form": extra.pop("form", {}),
        "error": extra.pop("error", ""),
        "notice": extra.pop("notice", ""),
        "action": extra.pop("action", ""),
        **extra,
    }
