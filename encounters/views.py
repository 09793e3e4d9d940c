"""Encounter pages: the day's visits, the live note (htmx autosave per field, presence), signing, addenda,
the after visit summary (prepare, deliver) and the education library."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from vma.audit import record_read
from vma.exceptions import ActionRefused, NotPermitted
from vma.http import AuthedHttpRequest
from vma.models import User

from . import avs, presence, services, workflow
from .models import AvsDelivery, EducationMaterial, Encounter
from .policy import (
    ADDENDUM,
    APPROVE_MATERIAL,
    DELIVER_AVS,
    DRAFT,
    OPEN,
    PREPARE_AVS,
    PROPOSE_MATERIAL,
    SIGN,
    VIEW,
    VIEW_AVS,
    VIEW_LIBRARY,
)
from .selectors import (
    OPENABLE_STATUSES,
    access_diagnosis,
    access_encounter,
    access_visit,
    library,
    note_hash,
    note_page,
    selectable_materials,
    visits_of_day,
)
from .services import FIELD_LABELS, StaleEdit


def _day(value: str | None) -> date:
    try:
        return date.fromisoformat(value) if value else timezone.localdate()
    except ValueError:
        return timezone.localdate()


def _int(value: str | None) -> int:
    try:
        return int(value or 0)
    except ValueError:
        return 0


# ---------------------------------------------------------------------------------------------
# The day's visits and opening a note
# ---------------------------------------------------------------------------------------------


@login_required
@permission_required(VIEW, raise_exception=True)
@require_GET
def visit_list(request: AuthedHttpRequest) -> HttpResponse:
    day = _day(request.GET.get("day"))
    mine = request.GET.get("mine") == "1" and request.user.is_provider
    visits = list(visits_of_day(request.user, day=day, provider=request.user if mine else None))
    record_read(request, visits, action="page.encounters_list")
    return render(
        request,
        "encounters/list.html",
        {
            "visits": visits,
            "day": day,
            "mine": mine,
            "openable": OPENABLE_STATUSES,
            "can_open": request.user.has_perm(OPEN),
        },
    )


@login_required
@permission_required(OPEN, raise_exception=True)
@require_POST
def open_visit(request: AuthedHttpRequest, public_id: str) -> HttpResponse:
    visit = access_visit(request.user, public_id)
    try:
        encounter, _created = services.open_encounter(visit, actor=request.user)
    except NotPermitted:
        raise Http404("No such appointment.") from None
    except ActionRefused as exc:
        messages.error(request, exc.message)
        return redirect(f"{reverse('encounters_list')}?day={timezone.localdate(visit.start_at).isoformat()}")
    return redirect("encounters_note", public_id=encounter.public_id)


# ---------------------------------------------------------------------------------------------
# The note page
# ---------------------------------------------------------------------------------------------


def _fields(enc: Encounter) -> list[dict[str, Any]]:
    out = []
    for name in Encounter.NOTE_FIELDS:
        change = enc.field_changes.get(name)
        out.append(
            {
                "name": name,
                "label": FIELD_LABELS[name],
                "value": getattr(enc, name),
                "single_line": name == "chief_complaint",
                "rows": 3 if name in ("ros", "assessment") else 5,
                "change": _change(change),
            }
        )
    return out


def _change(change: dict[str, Any] | None) -> dict[str, Any] | None:
    if not change:
        return None
    return {"by_name": change["by_name"], "at": timezone.localtime(datetime.fromisoformat(change["at"]))}


def _roles(user: User, enc: Encounter) -> dict[str, bool]:
    own_provider = enc.provider_id == user.pk and user.has_perm(SIGN)
    return {
        "can_edit": user.has_perm(DRAFT) and not enc.is_signed,
        "can_ready": user.has_perm(DRAFT) and enc.status == Encounter.Status.DRAFT,
        "can_sign": own_provider and not enc.is_signed,
        "can_return": own_provider and enc.status == Encounter.Status.PENDED,
        "can_addendum": user.has_perm(ADDENDUM) and enc.is_signed,
        "can_avs": user.has_perm(VIEW_AVS) and enc.is_signed,
    }


@login_required
@permission_required(VIEW, raise_exception=True)
@require_GET
def note(request: AuthedHttpRequest, public_id: str) -> HttpResponse:
    enc = access_encounter(request.user, public_id)
    page = note_page(enc)
    others = presence.beat(enc, request.user) if not enc.is_signed else []
    record_read(request, [enc], action="page.encounters_note")
    return render(
        request,
        "encounters/note.html",
        {
            "enc": enc,
            "page": page,
            "fields": _fields(enc),
            "others": others,
            "modalities": Encounter.Modality.choices,
            "heartbeat_seconds": presence.HEARTBEAT_SECONDS,
            **_roles(request.user, enc),
        },
    )


def _hash_oob(request: AuthedHttpRequest, enc: Encounter, version_before: int) -> dict[str, Any]:
    """The sign form's hash follows the signer's own edits only when their page knew everything before them."""
    if enc.provider_id != request.user.pk or _int(request.POST.get("hash_version")) != version_before:
        return {}
    return {"new_hash": note_hash(enc), "hash_version": enc.version}


@login_required
@permission_required(DRAFT, raise_exception=True)
@require_POST
def save_field(request: AuthedHttpRequest, public_id: str) -> HttpResponse:
    """One field, saved as the editor types (htmx, debounced). 409 with the other editor's text when stale."""
    enc = access_encounter(request.user, public_id, DRAFT)
    field = request.POST.get("field", "")
    context: dict[str, Any] = {"field": field, "enc": enc}
    status = 200
    try:
        saved = services.save_field(
            enc,
            field=field,
            value=request.POST.get("value", ""),
            base_version=_int(request.POST.get(f"base_{field}")),
            actor=request.user,
        )
    except NotPermitted:
        raise Http404("No such encounter.") from None
    except StaleEdit as exc:
        context["stale"], status = exc, exc.status_code
        record_read(request, [enc], action="page.encounters_note_conflict")
    except ActionRefused as exc:
        context["error"], status = exc.message, exc.status_code
    else:
        context.update(
            enc=saved.encounter,
            saved_at=timezone.localtime(),
            **_hash_oob(request, saved.encounter, saved.version_before),
        )
    if not request.htmx:
        message = getattr(context.get("stale"), "message", None) or context.get("error")
        if message:
            messages.error(request, message)
        return redirect("encounters_note", public_id=enc.public_id)
    return render(request, "encounters/_field_status.html", context, status=status)


@login_required
@permission_required(VIEW, raise_exception=True)
@require_POST
def heartbeat(request: AuthedHttpRequest, public_id: str) -> HttpResponse:
    """Presence every ~10 s; also hands back fields others changed since this page's versions."""
    enc = access_encounter(request.user, public_id)
    if request.POST.get("leave"):
        presence.leave(enc, request.user)
        return HttpResponse(status=204)
    others = presence.beat(enc, request.user)
    remote: dict[str, dict[str, Any]] = {}
    diagnoses_changed = False
    for key, change in enc.field_changes.items():
        if change.get("by") == request.user.pk or change["v"] <= _int(request.POST.get(f"base_{key}")):
            continue
        if key == "diagnoses":
            diagnoses_changed = True
        elif key in Encounter.NOTE_FIELDS:
            remote[key] = {"value": getattr(enc, key), "version": enc.version, "by": change["by_name"]}
    if remote or diagnoses_changed:
        record_read(request, [enc], action="page.encounters_note_refresh")
    context = {
        "enc": enc,
        "others": others,
        "remote": remote,
        "status_changed": request.POST.get("status", enc.status) != enc.status,
        "diagnoses_oob": diagnoses_changed,
        **_roles(request.user, enc),
    }
    if diagnoses_changed:
        context["page"] = note_page(enc)
    return render(request, "encounters/_presence.html", context)


def _diagnoses_response(
    request: AuthedHttpRequest,
    enc: Encounter,
    *,
    version_before: int,
    error: str = "",
    typed: str = "",
    status: int = 200,
) -> HttpResponse:
    enc.refresh_from_db()
    context: dict[str, Any] = {
        "enc": enc,
        "page": note_page(enc),
        "error": error,
        "typed": typed,
        **_roles(request.user, enc),
    }
    if not error:
        context.update(_hash_oob(request, enc, version_before))
    record_read(request, [enc], action="page.encounters_diagnoses")
    return render(request, "encounters/_diagnoses.html", context, status=status)


@login_required
@permission_required(DRAFT, raise_exception=True)
@require_POST
def add_diagnosis(request: AuthedHttpRequest, public_id: str) -> HttpResponse:
    enc = access_encounter(request.user, public_id, DRAFT)
    before, code = enc.version, request.POST.get("code", "")
    error, status = "", 200
    try:
        services.add_diagnosis(enc, code=code, actor=request.user)
    except NotPermitted:
        raise Http404("No such encounter.") from None
    except ActionRefused as exc:
        error, status = exc.message, exc.status_code
    if request.htmx:
        return _diagnoses_response(
            request, enc, version_before=before, error=error, typed=code if error else "", status=status
        )
    if error:
        messages.error(request, error)
    return redirect("encounters_note", public_id=enc.public_id)


@login_required
@permission_required(DRAFT, raise_exception=True)
@require_POST
def diagnosis_action(request: AuthedHttpRequest, public_id: str, dx_id: str) -> HttpResponse:
    """Remove a diagnosis, or move it up / make it primary."""
    enc = access_encounter(request.user, public_id, DRAFT)
    dx = access_diagnosis(enc, dx_id)
    before, action = enc.version, request.POST.get("action", "")
    error, status = "", 200
    try:
        if action == "remove":
            services.remove_diagnosis(enc, dx, actor=request.user)
        elif action == "up":
            services.move_diagnosis(enc, dx, to_rank=dx.rank - 1, actor=request.user)
        elif action == "primary":
            services.move_diagnosis(enc, dx, to_rank=1, actor=request.user)
        else:
            raise ActionRefused("Remove a diagnosis, or move it up.", status_code=400)
    except NotPermitted:
        raise Http404("No such encounter.") from None
    except ActionRefused as exc:
        error, status = exc.message, exc.status_code
    if request.htmx:
        return _diagnoses_response(request, enc, version_before=before, error=error, status=status)
    if error:
        messages.error(request, error)
    return redirect("encounters_note", public_id=enc.public_id)


# ---------------------------------------------------------------------------------------------
# Ready, sign, return, addenda
# ---------------------------------------------------------------------------------------------


def _act(request: AuthedHttpRequest, enc: Encounter, fn: Any, done: str) -> HttpResponse:
    try:
        fn()
    except NotPermitted:
        raise Http404("No such encounter.") from None
    except ActionRefused as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, done)
    return redirect("encounters_note", public_id=enc.public_id)


@login_required
@permission_required(DRAFT, raise_exception=True)
@require_POST
def mark_ready(request: AuthedHttpRequest, public_id: str) -> HttpResponse:
    enc = access_encounter(request.user, public_id, DRAFT)
    return _act(
        request,
        enc,
        lambda: workflow.mark_ready(enc, actor=request.user),
        f"Marked ready: the note is in {enc.provider}'s signing queue.",
    )


@login_required
@permission_required(SIGN, raise_exception=True)
@require_POST
def sign(request: AuthedHttpRequest, public_id: str) -> HttpResponse:
    enc = access_encounter(request.user, public_id, SIGN)
    return _act(
        request,
        enc,
        lambda: workflow.sign_note(enc.public_id, provider=request.user, expected_hash=request.POST.get("hash", "")),
        "Signed. The note is locked; later changes are addenda.",
    )


@login_required
@permission_required(SIGN, raise_exception=True)
@require_POST
def send_back(request: AuthedHttpRequest, public_id: str) -> HttpResponse:
    enc = access_encounter(request.user, public_id, SIGN)
    return _act(
        request,
        enc,
        lambda: workflow.send_back_note(enc.public_id, provider=request.user, comment=request.POST.get("comment", "")),
        "Returned to the scribe with your comment.",
    )


@login_required
@permission_required(ADDENDUM, raise_exception=True)
@require_POST
def add_addendum(request: AuthedHttpRequest, public_id: str) -> HttpResponse:
    enc = access_encounter(request.user, public_id, ADDENDUM)
    return _act(
        request,
        enc,
        lambda: services.add_addendum(enc, text=request.POST.get("text", ""), actor=request.user),
        "Addendum added.",
    )


# ---------------------------------------------------------------------------------------------
# The after visit summary (staff side)
# ---------------------------------------------------------------------------------------------


@login_required
@permission_required(VIEW_AVS, raise_exception=True)
@require_GET
def summary(request: AuthedHttpRequest, public_id: str) -> HttpResponse:
    enc = access_encounter(request.user, public_id, VIEW_AVS)
    context: dict[str, Any] = {"enc": enc}
    if enc.is_signed:
        the_summary = avs.summary_for(enc)
        context.update(
            summary=the_summary,
            preview=avs.build_content(enc, the_summary),
            chosen={m.public_id for m in the_summary.education.all()},
            materials=list(selectable_materials()),
            deliveries=list(the_summary.deliveries.select_related("requested_by").order_by("-requested_at")),
            channel=avs.channel_for(enc.patient),
            channels=AvsDelivery.Channel.choices,
            can_prepare=request.user.has_perm(PREPARE_AVS),
            can_deliver=request.user.has_perm(DELIVER_AVS),
        )
    record_read(request, [enc], action="page.encounters_avs")
    return render(request, "encounters/summary.html", context)


def _summary_act(request: AuthedHttpRequest, enc: Encounter, fn: Any, done: str) -> HttpResponse:
    try:
        fn()
    except NotPermitted:
        raise Http404("No such encounter.") from None
    except ActionRefused as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, done)
    return redirect("encounters_avs", public_id=enc.public_id)


@login_required
@permission_required(PREPARE_AVS, raise_exception=True)
@require_POST
def summary_prepare(request: AuthedHttpRequest, public_id: str) -> HttpResponse:
    enc = access_encounter(request.user, public_id, PREPARE_AVS)
    return _summary_act(
        request,
        enc,
        lambda: avs.prepare(
            enc,
            education=request.POST.getlist("education"),
            follow_up=request.POST.get("follow_up", ""),
            actor=request.user,
        ),
        "Summary updated.",
    )


@login_required
@permission_required(DELIVER_AVS, raise_exception=True)
@require_POST
def summary_deliver(request: AuthedHttpRequest, public_id: str) -> HttpResponse:
    enc = access_encounter(request.user, public_id, DELIVER_AVS)
    channel = request.POST.get("channel", "")
    return _summary_act(
        request,
        enc,
        lambda: avs.deliver(enc, actor=request.user, channel=channel),
        "Sent: the patient gets a secure link (they confirm last name and date of birth to open it).",
    )


# ---------------------------------------------------------------------------------------------
# The education library
# ---------------------------------------------------------------------------------------------


@login_required
@permission_required(VIEW_LIBRARY, raise_exception=True)
@require_GET
def education(request: AuthedHttpRequest) -> HttpResponse:
    return render(
        request,
        "encounters/education.html",
        {
            "materials": list(library()),
            "can_propose": request.user.has_perm(PROPOSE_MATERIAL),
            "can_approve": request.user.has_perm(APPROVE_MATERIAL),
        },
    )


@login_required
@permission_required(PROPOSE_MATERIAL, raise_exception=True)
@require_POST
def education_add(request: AuthedHttpRequest) -> HttpResponse:
    try:
        material = services.propose_material(
            title=request.POST.get("title", ""), body=request.POST.get("body", ""), actor=request.user
        )
    except ActionRefused as exc:
        messages.error(request, exc.message)
    else:
        state = "approved" if material.approved_at else "waiting for a provider's approval"
        messages.success(request, f"“{material.title}” added to the library ({state}).")
    return redirect("encounters_education")


@login_required
@permission_required(APPROVE_MATERIAL, raise_exception=True)
@require_POST
def education_action(request: AuthedHttpRequest, public_id: str, action: str) -> HttpResponse:
    try:
        material = EducationMaterial.objects.get(public_id=public_id)
    except EducationMaterial.DoesNotExist:
        raise Http404("No such material.") from None
    try:
        services.review_material(material, action=action, actor=request.user)
    except ActionRefused as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"“{material.title}”: {'approved' if action == 'approve' else 'retired'}.")
    return redirect("encounters_education")
