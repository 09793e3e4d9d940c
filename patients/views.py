"""Patient pages: search, the chart summary, documents (served only through access checks)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, time
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.exceptions import ObjectDoesNotExist, ValidationError
from django.core.paginator import Paginator
from django.forms import Form
from django.http import FileResponse, Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods

from eligibility.priorauth_services import authorization_badges
from vma import audit
from vma.access import access_patient, accessible_patients
from vma.audit import record_read
from vma.exceptions import ActionRefused, NotPermitted
from vma.http import AuthedHttpRequest
from vma.models import AuditEvent
from vma.selectors import visible_work_items

from . import services, workflow
from .forms import (
    HISTORY_FORMS,
    DiscardIncomingForm,
    DocumentForm,
    FileIncomingForm,
    ResolveProblemForm,
    StopMedicationForm,
)
from .models import ChartDocument, Patient, UnmatchedDocument
from .selectors import access_unmatched, accessible_unmatched, chart_summary, search_patients


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


RowForms = dict[tuple[str, int], Form]


def _stop_form(med_id: object, data: Any = None) -> StopMedicationForm:
    return StopMedicationForm(data, auto_id=f"id_stop_{med_id}_%s", initial={"stop_date": timezone.localdate()})


def _resolve_form(problem_id: object, data: Any = None) -> ResolveProblemForm:
    return ResolveProblemForm(
        data, auto_id=f"id_resolve_{problem_id}_%s", initial={"resolved_on": timezone.localdate()}
    )


def _row_forms(user: Any, chart: Any, bound: RowForms) -> None:
    """Give each active medication / problem its change form (the refused one stays bound)."""
    if chart.medications is not None and user.has_perm("patients.change_medication"):
        for med in chart.medications:
            if med.stop_date is None or med.stop_date > chart.today:
                med.stop_form = bound.get(("medication", med.pk)) or _stop_form(med.public_id)
    if chart.problems is not None and user.has_perm("patients.change_problem"):
        for problem in chart.problems:
            if problem.status == problem.Status.ACTIVE:
                problem.resolve_form = bound.get(("problem", problem.pk)) or _resolve_form(problem.public_id)


def _detail(
    request: AuthedHttpRequest,
    patient: Patient,
    *,
    forms: dict[str, Form] | None = None,
    row_forms: RowForms | None = None,
    chart_error: str = "",
    status: int = 200,
) -> HttpResponse:
    """The patient page. Refused posts re-render it with their bound form (what was typed kept)."""
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
    chart = chart_summary(user, patient)
    _row_forms(user, chart, row_forms or {})
    bound = forms or {}
    history_forms = {
        kind: bound.get(kind) or form_class()
        for kind, form_class in HISTORY_FORMS.items()
        if user.has_perm(f"patients.add_{kind}")
    }
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
            "upload_form": bound.get("document") or DocumentForm(),
            "can_refile": user.has_perm("patients.change_chartdocument"),
            "can_work_results": user.has_perm("patients.change_expectedresult"),
            "chart": chart,
            "history_forms": history_forms,
            "chart_error": chart_error,
        },
        status=status,
    )


@login_required
@permission_required("patients.view_patient", raise_exception=True)
@require_GET
def patient_detail(request: AuthedHttpRequest, public_id: str) -> HttpResponse:
    return _detail(request, access_patient(request.user, public_id))


@login_required
@permission_required("patients.add_chartdocument", raise_exception=True)
@require_http_methods(["POST"])
def document_upload(request: AuthedHttpRequest, public_id: str) -> HttpResponse:
    patient = access_patient(request.user, public_id, "patients.add_chartdocument")
    form = DocumentForm(request.POST, request.FILES)
    if form.is_valid():
        data = form.cleaned_data
        try:
            services.file_document(
                patient, actor=request.user, upload=data["file"], category=data["category"], title=data["title"]
            )
        except ValidationError as exc:
            form.add_error("file", " ".join(exc.messages))
        except NotPermitted:
            raise Http404 from None
        else:
            messages.success(request, "Document filed to the chart.")
            return redirect("patient_detail", public_id=patient.public_id)
    messages.error(request, "The document was not filed: see the form.")
    return _detail(request, patient, forms={"document": form}, status=400)


def _history_view(kind: str) -> Callable[..., HttpResponse]:
    perm = f"patients.add_{kind}"

    @login_required
    @permission_required(perm, raise_exception=True)
    @require_http_methods(["POST"])
    def view(request: AuthedHttpRequest, public_id: str) -> HttpResponse:
        patient = access_patient(request.user, public_id, perm)
        form = HISTORY_FORMS[kind](request.POST)
        if form.is_valid():
            try:
                RECORDERS[kind](patient, actor=request.user, **form.cleaned_data)
            except ValidationError as exc:
                for field, errors in exc.message_dict.items():
                    form.add_error(field if field in form.fields else None, errors)
            except ActionRefused as exc:
                form.add_error(None, exc.message)
            except NotPermitted:
                raise Http404 from None
            else:
                messages.success(request, f"{kind.capitalize()} recorded.")
                return redirect("patient_detail", public_id=patient.public_id)
        return _detail(request, patient, forms={kind: form}, status=400)

    view.__name__ = f"history_add_{kind}"
    return view


RECORDERS: dict[str, Callable[..., object]] = {
    "problem": services.record_problem,
    "medication": services.record_medication,
    "allergy": services.record_allergy,
    "immunization": services.record_immunization,
    "procedure": services.record_procedure,
}
HISTORY_VIEWS = {kind: _history_view(kind) for kind in HISTORY_FORMS}


def _refused(request: AuthedHttpRequest, patient: Patient, exc: ActionRefused | ValidationError) -> HttpResponse:
    messages.error(request, exc.message if isinstance(exc, ActionRefused) else " ".join(exc.messages))
    return _detail(request, patient, status=exc.status_code if isinstance(exc, ActionRefused) else 400)


@login_required
@permission_required("patients.change_expectedresult", raise_exception=True)
@require_http_methods(["POST"])
def result_action(request: AuthedHttpRequest, public_id: str, result_id: str, action: str) -> HttpResponse:
    """Match an outstanding result to a filed document by hand, or cancel it with a reason."""
    patient = access_patient(request.user, public_id, "patients.change_expectedresult")
    result = _child(patient.expected_results, result_id)
    try:
        if action == "match":
            document = _child(patient.documents, request.POST.get("document", ""))
            workflow.receive_result(result, document=document, actor=request.user)
        elif action == "cancel":
            workflow.cancel_result(result, actor=request.user, reason=request.POST.get("reason", ""))
        else:
            raise Http404("No such action.")
    except ActionRefused as exc:
        return _refused(request, patient, exc)
    messages.success(request, "Result matched." if action == "match" else "Result cancelled.")
    return redirect("patient_detail", public_id=patient.public_id)


@login_required
@permission_required("patients.change_chartdocument", raise_exception=True)
@require_http_methods(["POST"])
def document_refile(request: AuthedHttpRequest, public_id: str, document_id: str) -> HttpResponse:
    """Correct a misfiled document: another chart (by MRN, within access) or category, with a reason."""
    patient = access_patient(request.user, public_id, "patients.change_chartdocument")
    doc = _child(patient.documents, document_id)
    target = None
    mrn = request.POST.get("mrn", "").strip().upper()
    if mrn and mrn != patient.mrn:
        target = accessible_patients(request.user, "patients.add_chartdocument").filter(mrn=mrn).first()
        if target is None:
            return _refused(
                request, patient, ActionRefused("No patient you can file to has that MRN.", status_code=400)
            )
    try:
        services.refile_document(
            doc,
            actor=request.user,
            reason=request.POST.get("reason", ""),
            patient=target,
            category=request.POST.get("category") or None,
        )
    except ActionRefused as exc:
        return _refused(request, patient, exc)
    except NotPermitted:
        raise Http404 from None
    messages.success(request, "Document refiled." + (f" It is now in {target.mrn}'s chart." if target else ""))
    return redirect("patient_detail", public_id=patient.public_id)


def _child(qs: Any, public_id: str) -> Any:
    try:
        return qs.get(public_id=public_id)
    except (ObjectDoesNotExist, ValidationError, ValueError):
        raise Http404("Not found.") from None


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


# ---------------------------------------------------------------------------------------------
# Changing a history row: stop a medication, resolve a problem
# ---------------------------------------------------------------------------------------------


def _row_change(
    request: AuthedHttpRequest, patient: Patient, key: tuple[str, int], form: Form, change: Callable[..., object]
) -> HttpResponse:
    """Run a row change; a refusal re-renders the page with the row's form open, as typed."""
    if form.is_valid():
        try:
            change(actor=request.user, **form.cleaned_data)
        except ValidationError as exc:
            for field, errors in exc.message_dict.items():
                form.add_error(field if field in form.fields else None, errors)
        except ActionRefused as exc:
            # The row changed under the user (stopped, resolved): it has no form any more, so the
            # message is shown at the top of the history section.
            return _detail(request, patient, chart_error=exc.message, status=exc.status_code)
        except NotPermitted:
            raise Http404 from None
        else:
            return redirect("patient_detail", public_id=patient.public_id)
    return _detail(request, patient, row_forms={key: form}, status=400)


@login_required
@permission_required("patients.change_medication", raise_exception=True)
@require_http_methods(["POST"])
def medication_stop(request: AuthedHttpRequest, public_id: str, medication_id: str) -> HttpResponse:
    patient = access_patient(request.user, public_id, "patients.change_medication")
    med = _child(patient.medications, medication_id)
    response = _row_change(
        request,
        patient,
        ("medication", med.pk),
        _stop_form(med.public_id, request.POST),
        lambda **kw: services.stop_medication(med, **kw),
    )
    if response.status_code == 302:
        messages.success(request, f"{med.name} stopped.")
    return response


@login_required
@permission_required("patients.change_problem", raise_exception=True)
@require_http_methods(["POST"])
def problem_resolve(request: AuthedHttpRequest, public_id: str, problem_id: str) -> HttpResponse:
    patient = access_patient(request.user, public_id, "patients.change_problem")
    problem = _child(patient.problems, problem_id)
    response = _row_change(
        request,
        patient,
        ("problem", problem.pk),
        _resolve_form(problem.public_id, request.POST),
        lambda **kw: services.resolve_problem(problem, **kw),
    )
    if response.status_code == 302:
        messages.success(request, f"{problem.code} marked resolved.")
    return response


# ---------------------------------------------------------------------------------------------
# Incoming documents: what partners posted that matched no patient, filed or discarded by a person
# ---------------------------------------------------------------------------------------------


def _audit_incoming(request: AuthedHttpRequest, docs: list[UnmatchedDocument], action: str) -> None:
    """These documents belong to no patient yet, so record_read (which indexes by patient) would
    write nothing: the read is appended to the trail with the documents' public ids instead."""
    if not docs:
        return
    ids = [str(d.public_id) for d in docs]
    audit.append(
        kind=AuditEvent.Kind.READ,
        action=action,
        actor=request.user,
        target=request.path,
        detail={"document": ids[0]} if len(ids) == 1 else {"documents": ids},
        remote_addr=request.META.get("REMOTE_ADDR") or None,
    )


@login_required
@permission_required("patients.view_unmatcheddocument", raise_exception=True)
@require_GET
def incoming_documents(request: AuthedHttpRequest) -> HttpResponse:
    pending = (
        accessible_unmatched(request.user)
        .filter(status=UnmatchedDocument.Status.PENDING)
        .select_related("posted_by")
        .order_by("received_at", "id")  # oldest first: the queue's order
    )
    page = Paginator(pending, 50).get_page(request.GET.get("page"))
    docs = list(page.object_list)
    _audit_incoming(request, docs, "page.incoming_documents")
    return render(request, "patients/incoming_list.html", {"page": page, "docs": docs})


def _incoming_page(
    request: AuthedHttpRequest,
    doc: UnmatchedDocument,
    *,
    query: str = "",
    file_form: FileIncomingForm | None = None,
    discard_form: DiscardIncomingForm | None = None,
    error: str = "",
    status: int = 200,
) -> HttpResponse:
    """One incoming document, the patient search (the user's patients only) and the two actions."""
    user = request.user
    query = query.strip()[:100]
    results: list[Patient] | None = None
    if query and doc.status == UnmatchedDocument.Status.PENDING:
        results = list(search_patients(user, query)[:20])
        record_read(request, results, action="page.incoming_document_search", detail={"document": str(doc.public_id)})
    filed_patient = None
    if doc.filed_document_id is not None:
        filed_patient = accessible_patients(user).filter(documents=doc.filed_document_id).first()
    _audit_incoming(request, [doc], "page.incoming_document")
    form = file_form or FileIncomingForm(initial={"category": doc.category})
    chosen = str(form["patient"].value() or "")
    return render(
        request,
        "patients/incoming_detail.html",
        {
            "doc": doc,
            "q": query,
            "results": results,
            "chosen": chosen,
            "file_form": form,
            "discard_form": discard_form or DiscardIncomingForm(),
            "filed_patient": filed_patient,
            "error": error,
            "can_act": user.has_perm("patients.change_unmatcheddocument")
            and doc.status == UnmatchedDocument.Status.PENDING,
        },
        status=status,
    )


@login_required
@permission_required("patients.view_unmatcheddocument", raise_exception=True)
@require_GET
def incoming_document(request: AuthedHttpRequest, document_id: str) -> HttpResponse:
    doc = access_unmatched(request.user, document_id)
    return _incoming_page(request, doc, query=request.GET.get("q", ""))


@login_required
@permission_required("patients.view_unmatcheddocument", raise_exception=True)
@require_GET
def incoming_document_download(request: AuthedHttpRequest, document_id: str) -> FileResponse:
    doc = access_unmatched(request.user, document_id)
    _audit_incoming(request, [doc], "page.incoming_document_download")
    response = FileResponse(doc.file.open("rb"), content_type=doc.content_type)
    response["Content-Disposition"] = f'inline; filename="incoming-{doc.public_id}"'
    return response


@login_required
@permission_required("patients.change_unmatcheddocument", raise_exception=True)
@require_http_methods(["POST"])
def incoming_document_action(request: AuthedHttpRequest, document_id: str, action: str) -> HttpResponse:
    """File the document to a chart the user found, or discard it with a reason.

    Pressing "File" twice is safe: the service locks the row and refuses a document that is no
    longer pending, and the second press sees that message.
    """
    doc = access_unmatched(request.user, document_id)
    query = request.POST.get("q", "")
    if action == "file":
        form = FileIncomingForm(request.POST)
        if form.is_valid():
            data = form.cleaned_data
            patient = (
                accessible_patients(request.user, "patients.add_chartdocument")
                .filter(public_id=data["patient"])
                .first()
            )
            if patient is None:
                form.add_error("patient", "No patient you can file to is this one: search again.")
            else:
                try:
                    services.file_unmatched(doc, actor=request.user, patient=patient, category=data["category"])
                except ActionRefused as exc:
                    doc.refresh_from_db()
                    return _incoming_page(request, doc, file_form=form, error=exc.message, status=exc.status_code)
                except ValidationError as exc:
                    form.add_error(None, " ".join(exc.messages))
                except NotPermitted:
                    raise Http404 from None
                else:
                    messages.success(
                        request, f"“{doc.title}” filed to {patient.last_name}, {patient.first_name}'s chart."
                    )
                    return redirect("patient_detail", public_id=patient.public_id)
        return _incoming_page(request, doc, query=query, file_form=form, status=400)
    if action == "discard":
        discard = DiscardIncomingForm(request.POST)
        if discard.is_valid():
            try:
                services.discard_unmatched(doc, actor=request.user, reason=discard.cleaned_data["reason"])
            except ActionRefused as exc:
                doc.refresh_from_db()
                return _incoming_page(request, doc, discard_form=discard, error=exc.message, status=exc.status_code)
            except NotPermitted:
                raise Http404 from None
            messages.success(request, f"“{doc.title}” discarded.")
            return redirect("incoming_documents")
        return _incoming_page(request, doc, query=query, discard_form=discard, status=400)
    raise Http404("No such action.")
