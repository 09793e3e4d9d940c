"""Browser pages of the core: the work queue, queue health, the audit trail, /healthz."""

from __future__ import annotations

import html
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.paginator import Paginator
from django.db import connection
from django.http import HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.safestring import mark_safe
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from . import workflow
from .audit import record_read
from .exceptions import ActionRefused
from .http import AuthedHttpRequest
from .models import AuditEvent, Heartbeat, User, WorkItem
from .roles import Role
from .selectors import QueueFilters, access_work_item, queue_health, queue_items
from .workqueue import all_kinds

PAGE_SIZE = 50


def home(request: AuthedHttpRequest) -> HttpResponse:
    return redirect("queue" if request.user.is_authenticated else "login")


def _filters(request: AuthedHttpRequest) -> QueueFilters:
    g = request.GET
    view = g.get("view", "mine")
    return QueueFilters(
        view=view if view in {"mine", "queue", "all"} else "mine",
        kind=g.get("kind", "")[:80],
        queue=g.get("queue", "") if g.get("queue", "") in Role.values else "",
        due=g.get("due", "") if g.get("due", "") in {"overdue", "today", "week"} else "",
    )


def _queue_context(request: AuthedHttpRequest) -> dict[str, Any]:
    f = _filters(request)
    qs = queue_items(request.user, f)
    # No COUNT(*): one extra row says whether there is a next page, so the page costs the
    # same with 10 or 100,000 items waiting.
    try:
        number = max(1, min(int(request.GET.get("page", "1")), 10_000))
    except ValueError:
        number = 1
    start = (number - 1) * PAGE_SIZE
    rows = list(qs[start : start + PAGE_SIZE + 1])
    items = rows[:PAGE_SIZE]
    record_read(request, items, action="page.queue")
    now = timezone.now()
    params = request.GET.copy()
    params.pop("page", None)
    return {
        "filters": f,
        "page": {"number": number, "has_next": len(rows) > PAGE_SIZE, "has_previous": number > 1},
        "items": items,
        "rows_html": queue_rows_html(items, now=now),
        "now": now,
        "kinds": all_kinds(),
        "queues": workflow.user_queues(request.user),
        "query": params.urlencode(),
    }


_STATUS_LABELS = dict(WorkItem.Status.choices)
_PRIORITY_LABELS = dict(WorkItem.Priority.choices)
_QUEUE_LABELS = dict(Role.choices)


def queue_rows_html(items: list[WorkItem], *, now: datetime) -> str:
    """The queue's table rows, built in Python.

    The queue page is the portal's most-loaded page; the template language (and format_html's
    lazy-aware escaping) costs about 0.3 ms a row for what is a dozen strings, so rows are
    formatted here. Every interpolated value goes through html.escape (`e`), as the template
    would have escaped it; everything else on the page stays a template.
    """
    e = html.escape
    item_url = reverse("work_item", args=[_ZERO_UUID]).replace(_ZERO_UUID, "{}")
    rows = []
    for item in items:
        url = e(item_url.format(item.public_id))
        due = timezone.localtime(item.due_at)
        overdue = '<span class="badge overdue">overdue</span> ' if item.due_at < now else ""
        badge = (
            f' <span class="badge p{int(item.priority)}">{e(_PRIORITY_LABELS[item.priority])}</span>'
            if item.priority <= WorkItem.Priority.HIGH
            else ""
        )
        p = item.patient
        patient = (
            f'{e(p.last_name)}, {e(p.first_name)} <span class="muted">{e(p.mrn)}</span>'
            if p is not None
            else '<span class="muted">—</span>'
        )
        assignee = f' <span class="muted">{e(item.assignee.username)}</span>' if item.assignee else ""
        rows.append(
            f'<tr data-item="{item.public_id}"><td>{overdue}{due:%b} {due.day}, {due:%H:%M}</td>'
            f'<td><a href="{url}" hx-get="{url}" hx-target="#item-panel" hx-swap="outerHTML">{e(item.title)}</a>{badge}</td>'
            f"<td>{patient}</td><td>{e(_QUEUE_LABELS.get(item.queue, item.queue))}</td>"
            f'<td><span class="badge {e(item.status)}">{e(_STATUS_LABELS[item.status])}</span>{assignee}</td></tr>'
        )
    return mark_safe("".join(rows))  # noqa: S308 - every value above went through html.escape


_ZERO_UUID = "00000000-0000-0000-0000-000000000000"


@login_required
@permission_required("vma.view_workitem", raise_exception=True)
@require_GET
def queue(request: AuthedHttpRequest) -> HttpResponse:
    """My queue: claim next, filters, the list; the list refreshes through htmx."""
    ctx = _queue_context(request)
    template = "vma/_queue_list.html" if request.htmx and request.htmx.target == "queue-list" else "vma/queue.html"
    return render(request, template, ctx)


@login_required
@permission_required("vma.work_workitem", raise_exception=True)
@require_POST
def claim_next_view(request: AuthedHttpRequest) -> HttpResponse:
    queue_name = request.POST.get("queue", "")
    item = workflow.claim_next(actor=request.user, queue=queue_name if queue_name in Role.values else None)
    if item is None:
        messages.info(request, "Nothing to claim in your queues right now.")
        return redirect("queue")
    return redirect("work_item", public_id=item.public_id)


@login_required
@permission_required("vma.view_workitem", raise_exception=True)
@require_GET
def work_item(request: AuthedHttpRequest, public_id: str) -> HttpResponse:
    item = access_work_item(request.user, public_id)
    record_read(request, [item], action="page.work_item")
    return render(request, _item_template(request), _item_context(request, item))


def _item_template(request: AuthedHttpRequest) -> str:
    return "vma/_item_panel.html" if request.htmx else "vma/work_item.html"


def _item_context(request: AuthedHttpRequest, item: WorkItem, error: str = "") -> dict[str, Any]:
    user = request.user
    return {
        "item": item,
        "events": item.events.select_related("actor").all(),
        "queues": [r for r in Role if r != Role.ADMIN],
        "error": error,
        "can_reassign": user.has_perm("vma.reassign_workitem") or item.assignee_id == user.pk,
        "reassign_candidates": _reassign_candidates(item)
        if (user.has_perm("vma.reassign_workitem") or item.assignee_id == user.pk)
        else [],
        "snooze_default": (timezone.localtime() + timedelta(days=1)).replace(hour=9, minute=0, second=0, microsecond=0),
    }


def _reassign_candidates(item: WorkItem) -> list[User]:
    qs = User.objects.filter(is_active=True, groups__name=item.queue).distinct().order_by("last_name", "first_name")
    if item.assignee_id is not None:
        qs = qs.exclude(pk=item.assignee_id)
    if item.patient is not None:
        qs = qs.filter(
            careteamuserobjectpermission__content_object_id=item.patient.care_team_id,
            careteamuserobjectpermission__permission__codename="access_panel",
        )
    return list(qs[:100])


@login_required
@require_POST
def work_item_action(request: AuthedHttpRequest, public_id: str, action: str) -> HttpResponse:
    """One endpoint for the item's buttons; each calls one workflow function."""
    item = access_work_item(request.user, public_id)
    post = request.POST
    try:
        if action == "claim":
            item = workflow.claim_item(item, actor=request.user)
        elif action == "release":
            item = workflow.release_item(item, actor=request.user, note=post.get("note", ""))
        elif action == "complete":
            item = workflow.complete_item(item, actor=request.user, note=post.get("note", ""))
        elif action == "escalate":
            item = workflow.escalate_item(
                item, actor=request.user, to_queue=post.get("queue", ""), reason=post.get("reason", "")
            )
        elif action == "snooze":
            until = _parse_local(post.get("until", ""))
            if until is None:
                raise ActionRefused("Give a date and time to snooze until.", status_code=400)
            item = workflow.snooze_item(item, actor=request.user, until=until, note=post.get("note", ""))
        elif action == "reassign":
            raw_user = post.get("user", "")
            to_user = User.objects.filter(public_id=raw_user, is_active=True).first() if _is_uuid(raw_user) else None
            if to_user is None:
                raise ActionRefused("Choose a person to reassign to.", status_code=400)
            item = workflow.reassign_item(item, actor=request.user, to_user=to_user, note=post.get("note", ""))
        else:
            raise ActionRefused("Unknown action.", status_code=400)
    except ActionRefused as exc:
        item = access_work_item(request.user, public_id) if _still_visible(request.user, public_id) else item
        ctx = _item_context(request, item, error=exc.message)
        return render(request, _item_template(request), ctx, status=200 if request.htmx else exc.status_code)
    if not _still_visible(request.user, public_id):
        # Escalated away from the user's queues: back to the list.
        messages.success(request, "Escalated.")
        if request.htmx:
            response = HttpResponse(status=204)
            response["HX-Redirect"] = "/queue/"
            return response
        return redirect("queue")
    item = access_work_item(request.user, public_id)
    if request.htmx:
        record_read(request, [item], action="page.work_item")
        response = render(request, "vma/_item_panel.html", _item_context(request, item))
        response["HX-Trigger"] = "queue-changed"
        return response
    return redirect("work_item", public_id=item.public_id)


def _still_visible(user: User, public_id: str) -> bool:
    from .selectors import visible_work_items

    return visible_work_items(user).filter(public_id=public_id).exists()


def _is_uuid(value: str) -> bool:
    import uuid

    try:
        uuid.UUID(value)
    except (ValueError, TypeError):
        return False
    return True


def _parse_local(value: str) -> datetime | None:
    parsed = parse_datetime(value) if value else None
    if parsed is None:
        return None
    if timezone.is_naive(parsed):
        parsed = timezone.make_aware(parsed)
    return parsed


@login_required
@permission_required("vma.view_queue_health", raise_exception=True)
@require_GET
def queue_health_view(request: AuthedHttpRequest) -> HttpResponse:
    rows = queue_health()
    totals = {
        "open": sum(r.open for r in rows),
        "overdue": sum(r.overdue for r in rows),
        "claimed": sum(r.claimed for r in rows),
    }
    return render(request, "vma/queue_health.html", {"rows": rows, "totals": totals})


@login_required
@permission_required("vma.view_auditevent", raise_exception=True)
@require_GET
def audit_trail(request: AuthedHttpRequest) -> HttpResponse:
    """The practice manager's audit trail, filtered by user, patient (MRN) and date."""
    from patients.models import Patient

    qs = AuditEvent.objects.select_related("actor").order_by("-seq")
    g = request.GET
    errors: list[str] = []
    if g.get("user"):
        qs = qs.filter(actor_label__iexact=g["user"].strip())
    if g.get("mrn"):
        patient = Patient.objects.filter(mrn__iexact=g["mrn"].strip()).only("id").first()
        if patient is None:
            errors.append("No patient has that MRN.")
            qs = qs.none()
        else:
            qs = qs.filter(patient_links__patient_id=patient.pk)
    for name, op in (("since", "gte"), ("until", "lt")):
        if g.get(name):
            try:
                day = datetime.strptime(g[name], "%Y-%m-%d")  # noqa: DTZ007 - made aware below
            except ValueError:
                errors.append(f"'{g[name]}' is not a date (YYYY-MM-DD).")
                continue
            if name == "until":
                day += timedelta(days=1)
            qs = qs.filter(**{f"at__{op}": timezone.make_aware(day)})
    page = Paginator(qs, 100).get_page(g.get("page"))
    return render(request, "vma/audit_trail.html", {"page": page, "errors": errors, "query": g.urlencode()})


@never_cache
@require_GET
def healthz(request: AuthedHttpRequest) -> JsonResponse:
    """Database, broker, last beat tick and canary age; 503 when one is down or stale."""
    stale = timedelta(seconds=settings.HEALTH_STALE_SECONDS)
    now = timezone.now()
    checks: dict[str, dict[str, Any]] = {}
    try:
        with connection.cursor() as cur:
            cur.execute("SELECT 1")
        checks["database"] = {"ok": True}
    except Exception as exc:  # noqa: BLE001 - reported, not raised
        checks["database"] = {"ok": False, "error": type(exc).__name__}
    checks["broker"] = _broker_check()
    if checks["database"]["ok"]:
        beats = dict(Heartbeat.objects.filter(name__in=["beat", "canary"]).values_list("name", "seen_at"))
        last_tick, canary = beats.get("beat"), beats.get("canary")
        for name, seen in (("beat", last_tick), ("canary", canary)):
            age = (now - seen).total_seconds() if seen else None
            checks[name] = {
                "ok": age is not None and age <= stale.total_seconds(),
                "age_seconds": round(age, 1) if age is not None else None,
            }
    ok = all(c["ok"] for c in checks.values())
    return JsonResponse({"status": "ok" if ok else "degraded", "checks": checks}, status=200 if ok else 503)


def _broker_check() -> dict[str, Any]:
    from .celery import app

    try:
        with app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
        return {"ok": True}
    except Exception as exc:  # noqa: BLE001 - reported, not raised
        return {"ok": False, "error": type(exc).__name__}
