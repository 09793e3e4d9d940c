"""The patient's after visit summary (no login): the signed link, two identifiers, then the summary."""

from __future__ import annotations

from django.core import signing
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.http import require_GET, require_http_methods

from . import avs
from .models import AfterVisitSummary

SESSION_KEY = "avs_verified"


class LinkProblem(Exception):
    def __init__(self, template: str, status: int) -> None:
        self.template, self.status = template, status


def _summary(token: str) -> AfterVisitSummary:
    """The delivered summary the link names; otherwise a clear page (never a 500, never a hint)."""
    try:
        public_id = avs.read_token(token)
        summary = AfterVisitSummary.objects.select_related("patient").get(public_id=public_id)
    except signing.SignatureExpired:
        raise LinkProblem("encounters/patient_expired.html", 400) from None
    except (signing.BadSignature, AfterVisitSummary.DoesNotExist, ValidationError, ValueError):
        raise LinkProblem("encounters/patient_bad_link.html", 400) from None
    if summary.delivered_at is None:
        raise LinkProblem("encounters/patient_bad_link.html", 400)
    if summary.is_locked:
        raise LinkProblem("encounters/patient_locked.html", 403)
    return summary


def _verified(request: HttpRequest, summary: AfterVisitSummary) -> bool:
    return str(summary.public_id) in request.session.get(SESSION_KEY, [])


@never_cache
@csrf_protect
@require_http_methods(["GET", "POST"])
def start(request: HttpRequest, token: str) -> HttpResponse:
    """Ask last name and date of birth before showing anything."""
    try:
        summary = _summary(token)
    except LinkProblem as exc:
        return render(request, exc.template, {}, status=exc.status)
    error = ""
    if request.method == "POST":
        ok = avs.verify_identity(
            summary,
            last_name=request.POST.get("last_name", ""),
            date_of_birth=request.POST.get("date_of_birth", ""),
            remote_addr=request.META.get("REMOTE_ADDR"),
        )
        if ok:
            request.session.cycle_key()
            request.session[SESSION_KEY] = [*request.session.get(SESSION_KEY, []), str(summary.public_id)]
            return redirect("encounters_avs_patient_view", token=token)
        if summary.is_locked:
            return render(request, "encounters/patient_locked.html", {}, status=403)
        error = "That does not match our records. Check the spelling and the date, and try again."
    elif _verified(request, summary):
        return redirect("encounters_avs_patient_view", token=token)
    return render(request, "encounters/patient_identity.html", {"error": error}, status=400 if error else 200)


@never_cache
@require_GET
def view(request: HttpRequest, token: str) -> HttpResponse:
    """The summary as delivered; each view is recorded (the first one closes the not-viewed call)."""
    try:
        summary = _summary(token)
    except LinkProblem as exc:
        return render(request, exc.template, {}, status=exc.status)
    if not _verified(request, summary):
        return redirect("encounters_avs_patient", token=token)
    avs.record_view(summary, remote_addr=request.META.get("REMOTE_ADDR"))
    return render(request, "encounters/patient_summary.html", {"c": summary.content})
