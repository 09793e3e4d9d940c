"""Billing pages: claims and their drill-downs, 835 remittances, denials and appeals, patient balances and
statements, the AR and denial dashboards."""

from __future__ import annotations

import csv
import uuid
from datetime import date
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from vma.access import access_patient
from vma.audit import record_read
from vma.exceptions import ActionRefused, NotPermitted
from vma.http import AuthedHttpRequest

from . import appeals, denials, ledger, remittance, revenue, services, workflow
from .models import Claim, PatientBalance, PatientPayment, RemittanceFile, StatementRun
from .selectors import (
    VIEW,
    VIEW_BALANCE,
    VIEW_DENIAL,
    VIEW_REMITTANCE,
    VIEW_STATEMENT,
    ClaimFilter,
    access_appeal,
    access_claim,
    access_denial,
    access_remittance_file,
    access_statement,
    access_unmatched,
    access_visit,
    balances,
    claim_by_control_number,
    claim_remittance,
    denial_list,
    filtered_claims,
    patient_account,
    remittance_files,
    status_counts,
    visible_remittance_claims,
    visits_to_bill,
)
from .services import LineInput


@login_required
@permission_required(VIEW, raise_exception=True)
@require_GET
def claim_list(request: AuthedHttpRequest) -> HttpResponse:
    """Claims by status with counts, and completed visits not billed yet (a fixed number of queries).

    The dashboards' cells link here with a drill-down filter (payer, AR bucket, denial reason ...):
    the list then shows exactly the claims the cell counted.
    """
    flt, problems = ClaimFilter.from_query(request.GET)
    for problem in problems:
        messages.error(request, problem)
    rows = [] if problems else list(filtered_claims(request.user, flt)[:200])
    visits = [] if flt.active else list(visits_to_bill(request.user)[:50])
    record_read(request, rows, action="page.billing_claims")
    if visits:
        record_read(request, visits, action="page.billing_visits_to_bill")
    counts = status_counts(request.user)
    ctx = {
        "rows": rows,
        "status": flt.status,
        "filter": flt,
        "drill": _describe_filter(flt),
        "statuses": [(value, label, counts[value]) for value, label in Claim.Status.choices],
        "total": sum(counts.values()),
        "visits": visits,
    }
    return render(request, "billing/claim_list.html", ctx)


def _describe_filter(flt: ClaimFilter) -> str:
    """The drill-down in words, for the list's heading."""
    if not flt.active:
        return ""
    parts = []
    if flt.ar:
        label = next(b[1] for b in revenue.BUCKETS if b[0] == flt.ar)
        parts.append(f"in AR {label} days" + (f" on {flt.as_of:%m/%d/%Y}" if flt.as_of else ""))
    if flt.payer:
        parts.append(f"payer {flt.payer}")
    if flt.provider:
        parts.append("one rendering provider")
    if flt.denial_reason:
        parts.append(f"denied with CARC {flt.denial_reason}")
    if flt.denied:
        parts.append("first adjudicated with a denial")
    if (flt.denial_reason or flt.denied) and flt.since and flt.until:
        parts.append(f"{flt.since:%m/%d/%Y}–{flt.until:%m/%d/%Y}")
    return "Claims " + ", ".join(parts)


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
        **_payer_answers(claim, user),
        "form": extra.pop("form", {}),
        "error": extra.pop("error", ""),
        "notice": extra.pop("notice", ""),
        "action": extra.pop("action", ""),
        **extra,
    }


def _payer_answers(claim: Claim, user: Any) -> dict[str, Any]:
    """The claim page's remittance part: postings, denials with their codes explained, appeals."""
    answers = claim_remittance(claim)
    shown = [
        {
            "denial": d,
            "codes": denials.describe_codes(d, on=d.created_at),
            "remarks": denials.describe_remarks(d.remarks, on=d.created_at),
            "category": denials.CATEGORIES.get(d.category, denials.CATEGORIES["other"]).label,
        }
        for d in answers["denials"]
    ]
    appealable = claim.status in appeals.APPEALABLE
    return {
        **answers,
        "denial_rows": shown,
        "can_appeal": appealable and user.has_perm(appeals.ADD) and user.has_perm(workflow.CHANGE),
        "can_write_off": user.has_perm(denials.CHANGE) and user.has_perm(workflow.CHANGE),
        "templates": [name for name, _ in appeals.template_choices(None)] if appealable else [],
    }


# ---------------------------------------------------------------------------------------------
# Remittances (835)


@login_required
@permission_required(VIEW_REMITTANCE, raise_exception=True)
@require_GET
def remittance_list(request: AuthedHttpRequest) -> HttpResponse:
    """Imported 835 files, newest first, and the upload form. Files carry no patient on this page."""
    files = list(remittance_files(request.user).select_related("received_by")[:100])
    return render(request, "billing/remittance_list.html", {"files": files})


@login_required
@permission_required(remittance.IMPORT, raise_exception=True)
@require_POST
def remittance_upload(request: AuthedHttpRequest) -> HttpResponse:
    upload = request.FILES.get("file")
    if upload is None:
        messages.error(request, "Choose an 835 file to upload.")
        return redirect("billing_remittances")
    try:
        result = remittance.import_835(
            upload.read(),
            source=RemittanceFile.Source.UPLOAD,
            filename=upload.name or "",
            actor=request.user,
            defer_large=True,
        )
    except ActionRefused as exc:
        messages.error(request, exc.message)
        return redirect("billing_remittances")
    messages.add_message(request, *_import_message(result))
    return redirect("billing_remittance_detail", public_id=result.file.public_id)


def _import_message(result: remittance.ImportResult) -> tuple[int, str]:
    f = result.file
    if not result.created:
        return messages.WARNING, (
            f"This file was imported on {timezone.localtime(f.received_at):%m/%d/%Y %H:%M}: nothing was posted again."
        )
    if f.status == RemittanceFile.Status.RECEIVED:
        return messages.INFO, "A large file: it is being posted in the background. Reload this page in a minute."
    if f.status == RemittanceFile.Status.POSTED:
        return messages.SUCCESS, f"Posted {f.claims_posted} claim(s)." + (
            f" {f.claims_duplicate} had been posted before." if f.claims_duplicate else ""
        )
    if f.status == RemittanceFile.Status.EXCEPTIONS:
        return messages.WARNING, (
            f"Posted {f.claims_posted} claim(s); {f.claims_unmatched} matched no claim and wait in the billing queue."
        )
    return messages.ERROR, f"Not posted: {f.error} The file is kept and a work item was opened."


@login_required
@permission_required(VIEW_REMITTANCE, raise_exception=True)
@require_GET
def remittance_detail(request: AuthedHttpRequest, public_id: str) -> HttpResponse:
    file = access_remittance_file(request.user, public_id)
    rows = list(visible_remittance_claims(request.user, file))
    record_read(request, rows, action="page.billing_remittance_detail")
    ctx = {
        "file": file,
        "remittances": list(file.remittances.order_by("id")),
        "rows": rows,
        "can_change": request.user.has_perm(remittance.CHANGE),
    }
    return render(request, "billing/remittance_detail.html", ctx)


@login_required
@permission_required(remittance.CHANGE, raise_exception=True)
@require_POST
def remittance_action(request: AuthedHttpRequest, public_id: str, action: str) -> HttpResponse:
    """Post a file pyx12 refused anyway (a person decided), or post an unmatched 835 claim to a claim."""
    file = access_remittance_file(request.user, public_id)
    try:
        if action == "post_anyway":
            if file.status != RemittanceFile.Status.INVALID:
                raise ActionRefused("Only a file that failed validation is posted anyway.")
            file = remittance.post_file(file, actor=request.user, override=True)
            messages.add_message(request, *_import_message(remittance.ImportResult(file, created=True)))
        elif action == "match":
            rc = access_unmatched(request.user, file, request.POST.get("row", ""))
            claim = claim_by_control_number(request.user, request.POST.get("control_number", ""))
            remittance.match_unmatched(rc, claim, actor=request.user)
            messages.success(request, f"Posted to claim {claim.patient_control_number}.")
        else:
            raise ActionRefused("Unknown action.", status_code=400)
    except Http404 as exc:
        messages.error(request, f"{exc} Check the control number (it is on the claim's page).")
    except NotPermitted:
        messages.error(request, "You cannot post to that claim.")
    except ActionRefused as exc:
        messages.error(request, exc.message)
    return redirect("billing_remittance_detail", public_id=file.public_id)


# ---------------------------------------------------------------------------------------------
# Denials and appeals


@login_required
@permission_required(VIEW_DENIAL, raise_exception=True)
@require_GET
def denial_list_view(request: AuthedHttpRequest) -> HttpResponse:
    status = request.GET.get("status", "open")
    category = request.GET.get("category", "")
    rows = list(denial_list(request.user, status=status, category=category)[:200])
    record_read(request, rows, action="page.billing_denials")
    ctx = {
        "rows": rows,
        "status": status,
        "category": category,
        "categories": [(c.code, c.label) for c in denials.CATEGORIES.values()],
        "labels": {c.code: c.label for c in denials.CATEGORIES.values()},
    }
    return render(request, "billing/denial_list.html", ctx)


@login_required
@permission_required(denials.CHANGE, raise_exception=True)
@require_POST
def denial_action(request: AuthedHttpRequest, public_id: str, action: str) -> HttpResponse:
    """Draft an appeal for a denial (to the letter's page), or write the denied amount off."""
    denial = access_denial(request.user, public_id)
    back = reverse("billing_claim_detail", args=[denial.claim.public_id]) + "#denials"
    try:
        if action == "appeal":
            claim = access_claim(request.user, denial.claim.public_id)
            appeal, created = appeals.draft_appeal(
                claim, actor=request.user, denial=denial, template=request.POST.get("template", "")
            )
            messages.success(
                request,
                "Appeal drafted: read and edit the letter, then send it."
                if created
                else ("The claim's appeal draft: finish it."),
            )
            return redirect("billing_appeal", public_id=appeal.public_id)
        if action == "write_off":
            denials.write_off(denial, actor=request.user, reason=request.POST.get("reason", ""))
            messages.success(request, "Written off; the denial is closed.")
            return redirect(back)
        raise ActionRefused("Unknown action.", status_code=400)
    except NotPermitted:
        raise Http404("No such denial.") from None
    except ActionRefused as exc:
        messages.error(request, exc.message)
        return redirect(back)


@login_required
@permission_required(appeals.VIEW, raise_exception=True)
@require_GET
def appeal_view(request: AuthedHttpRequest, public_id: str) -> HttpResponse:
    """The letter: editable while a draft, as sent afterwards; ?print=1 is the printable letter alone."""
    appeal = access_appeal(request.user, public_id)
    record_read(request, [appeal], action="page.billing_appeal")
    if request.GET.get("print"):
        return render(request, "billing/appeal_print.html", {"appeal": appeal})
    ctx = {"appeal": appeal, "claim": appeal.claim, "can_change": request.user.has_perm(appeals.CHANGE)}
    return render(request, "billing/appeal.html", ctx)


@login_required
@permission_required(appeals.CHANGE, raise_exception=True)
@require_POST
def appeal_action(request: AuthedHttpRequest, public_id: str, action: str) -> HttpResponse:
    appeal = access_appeal(request.user, public_id)
    letter = request.POST.get("letter", "")
    try:
        if action == "save":
            appeals.save_letter(appeal, letter, actor=request.user)
            messages.success(request, "Letter saved.")
        elif action == "send":
            appeals.send_appeal(appeal, actor=request.user, letter=letter or None)
            messages.success(request, "Appeal sent: the claim is appealed and the letter kept as sent.")
        else:
            raise ActionRefused("Unknown action.", status_code=400)
    except NotPermitted:
        raise Http404("No such appeal.") from None
    except ActionRefused as exc:
        # Keep what was typed: re-render the page with it.
        appeal.letter = letter or appeal.letter
        ctx = {"appeal": appeal, "claim": appeal.claim, "can_change": True, "error": exc.message}
        return render(request, "billing/appeal.html", ctx, status=exc.status_code)
    return redirect("billing_appeal", public_id=appeal.public_id)


# ---------------------------------------------------------------------------------------------
# Patients' balances and statements


@login_required
@permission_required(VIEW_BALANCE, raise_exception=True)
@require_GET
def balance_list(request: AuthedHttpRequest) -> HttpResponse:
    stage = request.GET.get("stage", "")
    rows = list(balances(request.user, stage=stage)[:300])
    record_read(request, rows, action="page.billing_balances")
    today = timezone.localdate()
    ctx = {
        "rows": [(b, (today - b.oldest_open_on).days if b.oldest_open_on else 0) for b in rows],
        "stage": stage,
        "stages": [s for s in PatientBalance.Stage.choices if s[0] != PatientBalance.Stage.NONE],
        "agency_days": ledger.AGENCY_DAYS,
    }
    return render(request, "billing/balance_list.html", ctx)


def _account_context(request: AuthedHttpRequest, patient: Any, **extra: Any) -> dict[str, Any]:
    account = patient_account(patient)
    balance = account["balance"]
    today = timezone.localdate()
    return {
        "patient": patient,
        **account,
        "age": (today - balance.oldest_open_on).days if balance and balance.oldest_open_on else 0,
        "notice": ledger.notice_for(balance.stage) if balance else "",
        "agency_days": ledger.AGENCY_DAYS,
        "methods": PatientPayment.Method.choices,
        "can_pay": request.user.has_perm(ledger.PAYMENT_PERM),
        "token": uuid.uuid4().hex,
        "today": today,
        "form": extra.pop("form", {}),
        **extra,
    }


@login_required
@permission_required(VIEW_BALANCE, raise_exception=True)
@require_GET
def patient_account_view(request: AuthedHttpRequest, public_id: str) -> HttpResponse:
    patient = access_patient(request.user, public_id, VIEW_BALANCE)
    record_read(request, [patient], action="page.billing_patient_account")
    return render(request, "billing/patient_account.html", _account_context(request, patient))


@login_required
@permission_required(ledger.PAYMENT_PERM, raise_exception=True)
@require_POST
def patient_payment(request: AuthedHttpRequest, public_id: str) -> HttpResponse:
    patient = access_patient(request.user, public_id, ledger.PAYMENT_PERM)
    post = request.POST
    try:
        received = date.fromisoformat(post["received_on"]) if post.get("received_on") else None
    except ValueError:
        received = None
        error = "Give the date received as YYYY-MM-DD."
    else:
        error = ""
    try:
        if error:
            raise ActionRefused(error, status_code=400)
        payment, created = ledger.record_payment(
            patient,
            ledger.PaymentInput(
                amount=post.get("amount", ""),
                method=post.get("method", ""),
                received_on=received,
                reference=post.get("reference", ""),
                note=post.get("note", ""),
                idempotency_key=post.get("token", ""),
            ),
            actor=request.user,
        )
    except NotPermitted:
        raise Http404("No such patient.") from None
    except ActionRefused as exc:
        record_read(request, [patient], action="page.billing_patient_account")
        ctx = _account_context(request, patient, form=post, error=exc.message)
        return render(request, "billing/patient_account.html", ctx, status=exc.status_code)
    messages.success(
        request, f"Payment of {payment.amount} recorded." if created else "That payment was recorded already."
    )
    return redirect("billing_patient_account", public_id=patient.public_id)


@login_required
@permission_required(VIEW_STATEMENT, raise_exception=True)
@require_GET
def statement_view(request: AuthedHttpRequest, public_id: str) -> HttpResponse:
    """A printable statement: the practice, the patient's open items, recent payments, the stage's notice."""
    statement = access_statement(request.user, public_id)
    record_read(request, [statement], action="page.billing_statement")
    ctx = {
        "statement": statement,
        "notice": ledger.notice_for(statement.stage),
        "practice": appeals.practice_facts(),
    }
    return render(request, "billing/statement.html", ctx)


@login_required
@permission_required(VIEW_STATEMENT, raise_exception=True)
@require_GET
def statement_runs(request: AuthedHttpRequest) -> HttpResponse:
    runs = list(StatementRun.objects.select_related("created_by")[:36])
    return render(
        request,
        "billing/statement_runs.html",
        {"runs": runs, "can_run": request.user.has_perm(ledger.RUN_PERM), "month": timezone.localdate().replace(day=1)},
    )


@login_required
@permission_required(ledger.RUN_PERM, raise_exception=True)
@require_POST
def statement_run_now(request: AuthedHttpRequest) -> HttpResponse:
    run, created = ledger.run_statements(actor=request.user)
    if created:
        messages.success(request, f"{run.statements} statement(s) made for {run.period:%B %Y}.")
    else:
        messages.warning(request, f"This month's statements were made on {run.run_on:%m/%d/%Y}: one run a month.")
    return redirect("billing_statement_runs")


# ---------------------------------------------------------------------------------------------
# Dashboards


def _dashboard_params(request: AuthedHttpRequest) -> tuple[date, int]:
    today = timezone.localdate()
    try:
        as_of = date.fromisoformat(request.GET.get("as_of", "")) if request.GET.get("as_of") else today
    except ValueError:
        as_of = today
    try:
        days = int(request.GET.get("days", "90"))
    except ValueError:
        days = 90
    return as_of, days if days in revenue.PERIODS else 90


@login_required
@permission_required(revenue.DASHBOARD, raise_exception=True)
@require_GET
def ar_dashboard(request: AuthedHttpRequest) -> HttpResponse:
    """AR by payer and age, days in AR, denial, clean-claim and net collection rates (constant queries)."""
    as_of, days = _dashboard_params(request)
    rows, totals = revenue.ar_aging(request.user, as_of)
    top = max((cell[0] for row in rows for cell in row.cells), default=0) or 1
    ctx = {
        "as_of": as_of,
        "days": days,
        "periods": revenue.PERIODS,
        "buckets": revenue.BUCKETS,
        "table": [
            (
                row,
                [(slug, amount, count) for (slug, *_), (amount, count) in zip(revenue.BUCKETS, row.cells, strict=True)],
            )
            for row in [*rows, totals]
        ],
        "totals": totals,
        "summary": revenue.summary(request.user, as_of, days, totals),
        "chart": [
            (label, slug, amount, count, int(amount * 100 / top) if amount > 0 else 0)
            for (slug, label, *_), (amount, count) in zip(revenue.BUCKETS, totals.cells, strict=True)
        ],
        "since": revenue.period(as_of, days)[0],
    }
    return render(request, "billing/ar_dashboard.html", ctx)


@login_required
@permission_required(revenue.DASHBOARD, raise_exception=True)
@require_GET
def denial_dashboard(request: AuthedHttpRequest) -> HttpResponse:
    as_of, days = _dashboard_params(request)
    ctx = {
        "as_of": as_of,
        "days": days,
        "periods": revenue.PERIODS,
        "since": revenue.period(as_of, days)[0],
        "reasons": revenue.denial_reasons(request.user, as_of, days),
        "categories": revenue.denial_categories(request.user, as_of, days),
        "payers": revenue.denial_rates(request.user, as_of, days, by="payer"),
        "providers": revenue.denial_rates(request.user, as_of, days, by="provider"),
    }
    return render(request, "billing/denial_dashboard.html", ctx)


CSV_TABLES = ("ar_aging", "summary", "denial_reasons", "denial_categories", "denials_by_payer", "denials_by_provider")


@login_required
@permission_required(revenue.DASHBOARD, raise_exception=True)
@require_GET
def dashboard_csv(request: AuthedHttpRequest, table: str) -> HttpResponse:
    """One dashboard table as CSV (figures only, no patient)."""
    if table not in CSV_TABLES:
        raise Http404("No such table.")
    as_of, days = _dashboard_params(request)
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{table}_{as_of:%Y%m%d}.csv"'
    out = csv.writer(response)
    user = request.user
    if table in ("ar_aging", "summary"):
        rows, totals = revenue.ar_aging(user, as_of)
        if table == "ar_aging":
            out.writerow(
                [
                    "payer_id",
                    "payer",
                    *[f"{label} balance" for _, label, *_ in revenue.BUCKETS],
                    *[f"{label} claims" for _, label, *_ in revenue.BUCKETS],
                    "total",
                    "claims",
                ]
            )
            for row in [*rows, totals]:
                out.writerow(
                    [
                        row.payer_id,
                        row.payer_name,
                        *[c[0] for c in row.cells],
                        *[c[1] for c in row.cells],
                        row.total,
                        row.count,
                    ]
                )
        else:
            s = revenue.summary(user, as_of, days, totals)
            out.writerow(["figure", "value"])
            for name in (
                "ar_total",
                "ar_claims",
                "charges_90",
                "days_in_ar",
                "adjudicated",
                "denied",
                "denial_rate",
                "submitted",
                "clean",
                "clean_claim_rate",
                "collected",
                "collectible",
                "net_collection_rate",
            ):
                value = getattr(s, name)
                out.writerow([name, "" if value is None else value])
    elif table == "denial_reasons":
        out.writerow(["carc", "description", "denials", "claims", "amount"])
        for r in revenue.denial_reasons(user, as_of, days, limit=1000):
            out.writerow([r.reason, r.description, r.denials, r.claims, r.amount])
    elif table == "denial_categories":
        out.writerow(["category", "label", "denials", "open", "amount"])
        for c in revenue.denial_categories(user, as_of, days):
            out.writerow([c.category, c.label, c.denials, c.open, c.amount])
    else:
        by = "payer" if table == "denials_by_payer" else "provider"
        out.writerow([by, "name", "adjudicated", "denied", "denial_rate"])
        for rr in revenue.denial_rates(user, as_of, days, by=by):
            out.writerow([rr.key, rr.name, rr.adjudicated, rr.denied, "" if rr.rate is None else rr.rate])
    return response
