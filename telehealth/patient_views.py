"""The patient's waiting-room page (no login): the signed link is the only key.

It shows the first name and the visit time, nothing else. Opening the link records "patient joined"
through a POST the page's script sends at once (with a button when scripts are off): a link preview
fetched by a messaging app (a GET) joins nobody, so it cannot hide a patient who never came from the
no-join alert.
"""

from __future__ import annotations

from django.core import signing
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.http import require_http_methods

from scheduling.models import FREEING_STATUSES
from vma.exceptions import ActionRefused

from . import workflow
from .models import VisitRoom
from .notify import link_window, read_token

S = VisitRoom.Status


class LinkProblem(Exception):
    def __init__(self, template: str, status: int) -> None:
        self.template, self.status = template, status


def _room(token: str) -> VisitRoom:
    """The room the link names while it can still be joined; otherwise a clear page (never a 500)."""
    try:
        public_id = read_token(token)
        room = VisitRoom.objects.select_related("appointment", "patient").get(public_id=public_id)
    except signing.SignatureExpired:
        raise LinkProblem("telehealth/patient_expired.html", 400) from None
    except (signing.BadSignature, VisitRoom.DoesNotExist, ValidationError, ValueError):
        raise LinkProblem("telehealth/patient_bad_link.html", 400) from None
    if room.appointment.status in FREEING_STATUSES:
        raise LinkProblem("telehealth/patient_not_scheduled.html", 410)
    if room.status == S.ENDED:
        raise LinkProblem("telehealth/patient_ended.html", 200)
    if timezone.now() > link_window(room)[1]:
        raise LinkProblem("telehealth/patient_expired.html", 400)
    return room


def _post(room: VisitRoom, request: HttpRequest) -> str:
    """Run the page's step; returns an error for the patient ("" when done)."""
    action = request.POST.get("action", "")
    try:
        if action == "join":
            workflow.patient_join(room)
        elif action == "tech":
            if request.POST.get("method") == VisitRoom.TechCheck.DEVICE:
                workflow.pass_tech_check(room, method=VisitRoom.TechCheck.DEVICE)
            elif request.POST.get("can_see_and_hear") == "yes":
                workflow.pass_tech_check(room, method=VisitRoom.TechCheck.PATIENT)
            else:
                return "Tick the box if you can see and hear, or test your camera and microphone."
        else:
            return "Something went wrong with that button. Please try again."
    except ActionRefused as exc:
        return exc.message
    return ""


@never_cache
@csrf_protect
@require_http_methods(["GET", "POST"])
def patient_room(request: HttpRequest, token: str) -> HttpResponse:
    try:
        room = _room(token)
    except LinkProblem as exc:
        return render(request, exc.template, {}, status=exc.status)
    opens, _ = link_window(room)
    early = timezone.now() < opens
    error = ""
    if request.method == "POST" and not early:
        error = _post(room, request)
        if not error:
            return redirect("telehealth_patient", token=token)
        room.refresh_from_db()
    return render(
        request,
        "telehealth/patient_room.html",
        {
            "token": token,
            "room": room,
            "first_name": room.patient.first_name,
            "start": room.appointment.start_at,
            "opens": opens,
            "early": early,
            "error": error,
            "S": S,
            "joined": room.status not in VisitRoom.NOT_JOINED,
            # While the patient only waits, the page re-reads itself to show who is coming.
            "refresh": room.status in (S.TECH_CHECK_PASSED, S.ROOMED, S.READY, S.PROVIDER_JOINED),
        },
        status=400 if error else 200,
    )
