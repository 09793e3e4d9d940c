"""Patient pages: search, the chart summary, documents (served only through access checks)."""

from __future__ import annotations

from datetime import datetime, time

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import FileResponse, Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods

from eligibility.priorauth_services import authorization_badges
from vma.access import access_patient
from vma.audit import record_read
from vma.exceptions import NotPermitted
from vma.http import AuthedHttpRequest
from vma.selectors import visible_work_items

from . import services
from .models import ChartDocument
from .selectors import search_patients


@login_required
@permission_required("patients.view_patient", raise_exception=True)
@require_GET
def patient_search(request: AuthedHttpRequest) -> HttpResponse:
    query = request.GET.get("q", "").strip()[:100]
    page = None
    if query:
        page = Paginator(search_patients(request.user, query), 25).get_page(request.GET.get("page"))
        record_read(request, page.object_list, action="page.patient_search")
    template = "patients/_results.html" if request.htmx else "patients/search.html"
    return render(request, template, {"q": query, "page": page})


@login_required
@permission_required("patients.view_patient", raise_exception=True)
@require_GET
def patient_detail(request: AuthedHttpRequest, public_id: str) -> HttpResponse:
    patient = access_patient(request.user, public_id)
    user = request.user
    coverages = (
        list(patient.coverages.select_related("payer").order_by("-active", "rank"))
        if user.has_perm("patients.view_coverage")
        else None
    )
    documents = (
        list(patient.documents.select_related("indexed_by")[:50])
        if user.has_perm("patients.view_chartdocument")
        else None
    )
    items = list(
        visible_work_items(user)
        .filter(patient=patient, status__in=["open", "claimed", "waiting", "escalated"])
        .select_related("assignee")[:50]
    )
    # Upcoming: from the start of today, the next 20, each with its prior-auth badge (one query).
    start_of_today = timezone.make_aware(datetime.combine(timezone.localdate(), time.min))
    upcoming = list(
        patient.appointments.filter(start_at__gte=start_of_today).select_related("provider").order_by("start_at")[:20]
    )
    badges = authorization_badges(upcoming) if user.has_perm("eligibility.view_priorauthorization") else {}
    appointments = [(a, badges.get(a.pk, "")) for a in upcoming]
    record_read(request, [patient], action="page.patient_detail")
    return render(
        request,
        "patients/detail.html",
        {
            "patient": patient,
            "coverages": coverages,
            "documents": documents,
            "items": items,
            "appointments": appointments,
            "categories": ChartDocument.Category.choices,
            "can_upload": user.has_perm("patients.add_chartdocument"),
        },
    )


@login_required
@permission_required("patients.add_chartdocument", raise_exception=True)
@require_http_methods(["POST"])
def document_upload(request: AuthedHttpRequest, public_id: str) -> HttpResponse:
    patient = access_patient(request.user, public_id, "patients.add_chartdocument")
    upload = request.FILES.get("file")
    category = request.POST.get("category", "")
    title = request.POST.get("title", "").strip()[:200]
    if upload is None:
        messages.error(request, "Choose a file to upload.")
    elif category not in ChartDocument.Category.values:
        messages.error(request, "Choose the document's category.")
    else:
        try:
            services.file_document(patient, actor=request.user, upload=upload, category=category, title=title)
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
        except NotPermitted:
            raise Http404 from None
        else:
            messages.success(request, "Document filed to the chart.")
    return redirect("patient_detail", public_id=patient.public_id)


@login_required
@permission_required("patients.view_chartdocument", raise_exception=True)
@require_GET
def document_download(request: AuthedHttpRequest, public_id: str, document_id: str) -> FileResponse:
    patient = access_patient(request.user, public_id, "patients.view_chartdocument")
    try:
        doc = patient.documents.get(public_id=document_id)
    except (ChartDocument.DoesNotExist, ValidationError, ValueError):
        raise Http404("No such document.") from None
    record_read(request, [patient], action="page.document_download", detail={"document": str(doc.public_id)})
    response = FileResponse(doc.file.open("rb"), content_type=doc.content_type)
    response["Content-Disposition"] = f'inline; filename="document-{doc.public_id}"'
    return response
