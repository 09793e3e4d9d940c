"""The patient's intake pages (no login): the signed link, two identifiers, one section per page, submit."""

from __future__ import annotations

from django.core import signing
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.http import require_http_methods

from vma.exceptions import ActionRefused

from . import services
from .models import IntakePacket
from .notify import read_token

S = IntakePacket.Status
SESSION_KEY = "intake_verified"


class LinkProblem(Exception):
    def __init__(self, template: str, status: int) -> None:
        self.template, self.status = template, status


def _packet(token: str) -> IntakePacket:
    """The packet the link names, still open to the patient; otherwise a clear page (never a 500)."""
    try:
        public_id = read_token(token)
        packet = IntakePacket.objects.select_related("patient", "appointment").get(public_id=public_id)
    except signing.SignatureExpired:
        raise LinkProblem("intake/patient_expired.html", 400) from None
    except (signing.BadSignature, IntakePacket.DoesNotExist, ValidationError, ValueError):
        raise LinkProblem("intake/patient_bad_link.html", 400) from None
    if packet.status in (S.SUBMITTED, S.REVIEWED):
        raise LinkProblem("intake/patient_done.html", 200)
    if packet.status in (S.EXPIRED, S.CREATED) or packet.expires_at <= timezone.now():
        raise LinkProblem("intake/patient_expired.html", 400)
    if packet.is_locked:
        raise LinkProblem("intake/patient_locked.html", 403)
    return packet


def _verified(request: HttpRequest, packet: IntakePacket) -> bool:
    return str(packet.public_id) in request.session.get(SESSION_KEY, [])


def _problem(request: HttpRequest, exc: LinkProblem) -> HttpResponse:
    return render(request, exc.template, {}, status=exc.status)


def _resume_url(token: str, packet: IntakePacket, pages: list[services.Page]) -> str:
    from django.urls import reverse

    if packet.furthest_step >= len(pages):
        return reverse("intake_submit", args=[token])
    return reverse("intake_page", args=[token, packet.furthest_step + 1])


@never_cache
@csrf_protect
@require_http_methods(["GET", "POST"])
def start(request: HttpRequest, token: str) -> HttpResponse:
    """Ask last name and date of birth before showing anything; resume where the patient stopped."""
    try:
        packet = _packet(token)
    except LinkProblem as exc:
        return _problem(request, exc)
    error = ""
    if request.method == "POST":
        ok = services.verify_identity(
            packet,
            last_name=request.POST.get("last_name", ""),
            date_of_birth=request.POST.get("date_of_birth", ""),
            remote_addr=request.META.get("REMOTE_ADDR"),
        )
        if ok:
            request.session.cycle_key()
            request.session[SESSION_KEY] = [*request.session.get(SESSION_KEY, []), str(packet.public_id)]
            return redirect(_resume_url(token, packet, services.pages_of(packet)))
        if packet.is_locked:
            return render(request, "intake/patient_locked.html", {}, status=403)
        error = "That does not match our records. Check the spelling and the date, and try again."
    elif _verified(request, packet):
        return redirect(_resume_url(token, packet, services.pages_of(packet)))
    return render(request, "intake/patient_identity.html", {"error": error, "token": token})


@never_cache
@csrf_protect
@require_http_methods(["GET", "POST"])
def page(request: HttpRequest, token: str, number: int) -> HttpResponse:
    """One section; each POST saves its answers (the valid ones even when others are refused)."""
    try:
        packet = _packet(token)
    except LinkProblem as exc:
        return _problem(request, exc)
    if not _verified(request, packet):
        return redirect("intake_start", token=token)
    pages = services.pages_of(packet)
    if not 1 <= number <= len(pages):
        return redirect("intake_start", token=token)
    current = pages[number - 1]
    errors: dict[str, str] = {}
    if request.method == "POST":
        try:
            result = services.save_page(packet, current, request.POST, request.FILES)
        except ActionRefused:
            return render(request, "intake/patient_expired.html", {}, status=400)
        if result.ok:
            if number < len(pages):
                return redirect("intake_page", token=token, number=number + 1)
            return redirect("intake_submit", token=token)
        errors = result.errors
        current.response.refresh_from_db(fields=["answers"])
    return render(
        request,
        "intake/patient_page.html",
        {
            "token": token,
            "page": current,
            "total": len(pages),
            "percent": int(100 * (number - 1) / len(pages)),
            "questions": _questions(current, errors),
            "has_errors": bool(errors),
        },
        status=400 if errors else 200,
    )


def _questions(current: services.Page, errors: dict[str, str]) -> list[dict[str, object]]:
    answers = current.response.answers
    out = []
    for q in current.section.get("questions", []):
        value = answers.get(q["id"], [] if q.get("type") == "multi" else "")
        multiline = bool(q.get("multiline")) or q.get("maps_to") in ("medication", "allergy")
        out.append({**q, "value": value, "error": errors.get(q["id"], ""), "multiline": multiline})
    return out


@never_cache
@csrf_protect
@require_http_methods(["GET", "POST"])
def submit(request: HttpRequest, token: str) -> HttpResponse:
    try:
        packet = _packet(token)
    except LinkProblem as exc:
        return _problem(request, exc)
    if not _verified(request, packet):
        return redirect("intake_start", token=token)
    error = ""
    if request.method == "POST":
        try:
            services.submit_packet(packet)
        except ActionRefused as exc:
            error = exc.message
        else:
            return render(request, "intake/patient_done.html", {})
    gap = services.missing_answers(packet)
    return render(
        request,
        "intake/patient_submit.html",
        {"token": token, "error": error, "gap": gap, "total": len(services.pages_of(packet))},
        status=400 if error else 200,
    )
