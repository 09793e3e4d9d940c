"""Patient and coverage API, filtered by the caller's access."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import QuerySet
from django.http import FileResponse, Http404
from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import serializers, status
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from vma.access import access_patient, panel_ids
from vma.api.mixins import PatientDataViewSet
from vma.api.pagination import CreatedCursorPagination, NameCursorPagination
from vma.audit import record_read
from vma.http import user_of
from vma.models import CareTeam

from . import services, workflow
from .caregaps import gap_views, standing_orders
from .models import ChartDocument, Coverage, ExpectedResult, Immunization, Patient, Payer, Procedure, ProcedureCode
from .selectors import (
    accessible_coverages,
    accessible_documents,
    accessible_history,
    accessible_results,
    search_patients,
)

_RESULT_STATUSES = [*ExpectedResult.Status.values, "all"]

P_READ = ("patients.view_patient", "patients:read")
C_READ = ("patients.view_coverage", "coverage:read")


# What the API reads and writes of a patient (the care team by name out, by public id in).
PATIENT_FIELDS = [
    "mrn",
    "first_name",
    "last_name",
    "date_of_birth",
    "sex",
    "phone",
    "email",
    "address_line",
    "city",
    "state",
    "postal_code",
    "preferred_channel",
    "language",
    "care_team",
]


class PatientOut(serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id")
    care_team = serializers.CharField(source="care_team.name")

    class Meta:
        model = Patient
        fields = ["id", *PATIENT_FIELDS, "created_at", "updated_at"]


class PatientIn(serializers.ModelSerializer):
    care_team = serializers.UUIDField(help_text="Public id of one of your care teams.", required=False)

    class Meta:
        model = Patient
        fields = PATIENT_FIELDS

    def validate_care_team(self, value: Any) -> CareTeam:
        team = CareTeam.objects.filter(public_id=value, id__in=panel_ids(self.context["request"].user)).first()
        if team is None:
            raise serializers.ValidationError("Not one of your care teams.")
        return team


class CoverageOut(serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id")
    patient = serializers.UUIDField(source="patient.public_id")
    payer = serializers.CharField(source="payer.name")
    payer_id = serializers.CharField(source="payer.payer_id")

    class Meta:
        model = Coverage
        fields = [
            "id",
            "patient",
            "payer",
            "payer_id",
            "rank",
            "member_id",
            "group_number",
            "plan_name",
            "subscriber_relation",
            "plan_begin",
            "plan_end",
            "active",
            "created_at",
            "updated_at",
        ]


class CoverageIn(serializers.ModelSerializer):
    patient = serializers.UUIDField(required=False)
    payer = serializers.SlugRelatedField(slug_field="payer_id", queryset=Payer.objects.filter(active=True))

    class Meta:
        model = Coverage
        fields = [
            "patient",
            "payer",
            "rank",
            "member_id",
            "group_number",
            "plan_name",
            "subscriber_relation",
            "subscriber_first_name",
            "subscriber_last_name",
            "subscriber_date_of_birth",
            "plan_begin",
            "plan_end",
            "active",
        ]
        validators: list[Any] = []  # the model's constraints are checked by full_clean in services


class GapOut(serializers.Serializer):
    rule = serializers.CharField(source="gap.rule_code")
    title = serializers.CharField(source="gap.title")
    reason = serializers.CharField(source="gap.reason")
    closes_with = serializers.CharField()


class OrderOut(serializers.Serializer):
    protocol = serializers.CharField(source="protocol_code")
    title = serializers.CharField()
    reason = serializers.CharField()


class CareGapsOut(serializers.Serializer):
    patient = serializers.UUIDField()
    as_of = serializers.DateField()
    gaps = GapOut(many=True)
    standing_orders = OrderOut(many=True)


@extend_schema_view(
    list=extend_schema(parameters=[OpenApiParameter("q", str, description="Name, date of birth or MRN")]),
)
class PatientViewSet(PatientDataViewSet):
    queryset = Patient.objects.none()  # for the schema; get_queryset() scopes every request
    pagination_class = NameCursorPagination
    audit_action = "api.patients"
    policy = {
        "read": P_READ,
        "list": P_READ,
        "retrieve": P_READ,
        "create": ("patients.add_patient", "patients:write"),
        "partial_update": ("patients.change_patient", "patients:write"),
        "care_gaps": ("patients.view_procedure", "history:read"),
    }

    def get_queryset(self) -> QuerySet[Patient]:
        return search_patients(user_of(self.request), self.request.query_params.get("q", ""))

    def get_serializer_class(self) -> type[serializers.Serializer]:
        return PatientIn if self.action in {"create", "partial_update"} else PatientOut

    @extend_schema(request=PatientIn, responses={201: PatientOut})
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        s = PatientIn(data=request.data, context={"request": request})
        s.is_valid(raise_exception=True)
        data = dict(s.validated_data)
        team = data.pop("care_team", None)
        if team is None:
            raise serializers.ValidationError({"care_team": ["This field is required."]})
        patient = services.create_patient(actor=user_of(request), care_team=team, **data)
        return Response(PatientOut(patient).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=PatientIn, responses=PatientOut)
    def partial_update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        patient = access_patient(user_of(request), kwargs["id"])
        s = PatientIn(patient, data=request.data, partial=True, context={"request": request})
        s.is_valid(raise_exception=True)
        data = dict(s.validated_data)
        patient = services.update_patient(patient, actor=user_of(request), **data)
        return Response(PatientOut(patient).data)

    @extend_schema(request=None, responses=CareGapsOut)
    @action(detail=True, methods=["get"], url_path="care-gaps", url_name="care-gaps")
    def care_gaps(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Open care gaps (why open, what closes them) and standing orders suggested, today."""
        patient = access_patient(user_of(request), kwargs["id"], "patients.view_procedure")
        today = timezone.localdate()
        record_read(request, [patient], action="api.patients.care_gaps", target=request.path)
        body = {
            "patient": patient.public_id,
            "as_of": today,
            "gaps": gap_views([patient.pk], as_of=today)[patient.pk],
            "standing_orders": standing_orders([patient.pk], as_of=today)[patient.pk],
        }
        return Response(CareGapsOut(body).data)


class CoverageViewSet(PatientDataViewSet):
    queryset = Coverage.objects.none()  # for the schema; get_queryset() scopes every request
    pagination_class = CreatedCursorPagination
    audit_action = "api.coverage"
    policy = {
        "read": C_READ,
        "list": C_READ,
        "retrieve": C_READ,
        "create": ("patients.add_coverage", "coverage:write"),
        "partial_update": ("patients.change_coverage", "coverage:write"),
    }

    def get_queryset(self) -> QuerySet[Coverage]:
        qs = accessible_coverages(user_of(self.request)).select_related("patient", "payer")
        patient = self.request.query_params.get("patient")
        if patient:
            try:
                qs = qs.filter(patient__public_id=patient)
            except DjangoValidationError:
                return qs.none()  # a malformed id finds nothing, like an unknown one
        return qs

    def get_serializer_class(self) -> type[serializers.Serializer]:
        return CoverageIn if self.action in {"create", "partial_update"} else CoverageOut

    @extend_schema(request=CoverageIn, responses={201: CoverageOut})
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        s = CoverageIn(data=request.data)
        s.is_valid(raise_exception=True)
        data = dict(s.validated_data)
        patient_id = data.pop("patient", None)
        if patient_id is None:
            raise serializers.ValidationError({"patient": ["This field is required."]})
        try:
            patient = access_patient(user_of(request), patient_id, "patients.add_coverage")
        except Http404:
            raise serializers.ValidationError({"patient": ["No such patient."]}) from None
        coverage = services.add_coverage(patient, actor=user_of(request), **data)
        return Response(CoverageOut(coverage).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=CoverageIn, responses=CoverageOut)
    def partial_update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        coverage = self.get_object()
        s = CoverageIn(coverage, data=request.data, partial=True)
        s.is_valid(raise_exception=True)
        data = dict(s.validated_data)
        data.pop("patient", None)
        coverage = services.update_coverage(coverage, actor=user_of(request), **data)
        return Response(CoverageOut(coverage).data)


# ---------------------------------------------------------------------------------------------
# Chart documents, partner posting, care gaps and their evidence
# ---------------------------------------------------------------------------------------------

D_READ = ("patients.view_chartdocument", "documents:read")
D_WRITE = ("patients.add_chartdocument", "documents:write")


def _by_patient(qs: QuerySet[Any], request: Request) -> QuerySet[Any]:
    patient = request.query_params.get("patient")
    if patient:
        try:
            return qs.filter(patient__public_id=patient)
        except DjangoValidationError:
            return qs.none()
    return qs


def _patient_in_body(request: Request, perm: str) -> Patient:
    try:
        body = request.data
        return access_patient(user_of(request), body.get("patient") if isinstance(body, dict) else None, perm)
    except Http404:
        raise serializers.ValidationError({"patient": ["No such patient."]}) from None


class DocumentOut(serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id")
    patient = serializers.UUIDField(source="patient.public_id")

    class Meta:
        model = ChartDocument
        fields = ["id", "patient", "category", "title", "content_type", "size_bytes", "received_at", "indexed_at"]


class DocumentIn(serializers.Serializer):
    patient = serializers.UUIDField()
    category = serializers.ChoiceField(choices=ChartDocument.Category.choices)
    title = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    file = serializers.FileField()


class PartnerDocumentIn(serializers.Serializer):
    mrn = serializers.CharField(max_length=40)
    date_of_birth = serializers.DateField()
    category = serializers.ChoiceField(choices=ChartDocument.Category.choices)
    title = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    file = serializers.FileField()


class RefileIn(serializers.Serializer):
    patient = serializers.UUIDField(required=False, help_text="Another chart within your access.")
    category = serializers.ChoiceField(choices=ChartDocument.Category.choices, required=False)
    reason = serializers.CharField(max_length=300)


def _upload_errors(exc: DjangoValidationError) -> serializers.ValidationError:
    return serializers.ValidationError(exc.message_dict if hasattr(exc, "error_dict") else {"file": exc.messages})


class DocumentViewSet(PatientDataViewSet):
    """Chart documents of your patients: list (?patient=), detail, download, upload, refile;
    and partner posting by MRN + date of birth."""

    queryset = ChartDocument.objects.none()
    pagination_class = CreatedCursorPagination
    audit_action = "api.documents"
    http_method_names = ["get", "post", "head", "options"]
    policy = {
        "list": D_READ,
        "retrieve": D_READ,
        "download": D_READ,
        "create": D_WRITE,
        "partner": D_WRITE,
        "refile": ("patients.change_chartdocument", "documents:write"),
    }

    def get_queryset(self) -> QuerySet[ChartDocument]:
        qs = accessible_documents(user_of(self.request)).select_related("patient")
        return _by_patient(qs, self.request)

    def get_serializer_class(self) -> type[serializers.Serializer]:
        return DocumentOut

    @extend_schema(request={"multipart/form-data": DocumentIn}, responses={201: DocumentOut})
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        s = DocumentIn(data=request.data)
        s.is_valid(raise_exception=True)
        patient = _patient_in_body(request, "patients.add_chartdocument")
        data = s.validated_data
        try:
            doc = services.file_document(
                patient, actor=user_of(request), upload=data["file"], category=data["category"], title=data["title"]
            )
        except DjangoValidationError as exc:
            raise _upload_errors(exc) from None
        return Response(DocumentOut(doc).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=None, responses={(200, "application/octet-stream"): bytes})
    @action(detail=True, methods=["get"])
    def download(self, request: Request, *args: Any, **kwargs: Any) -> FileResponse:
        doc = self.get_object()
        record_read(request, [doc], action="api.documents.download", target=request.path)
        response = FileResponse(doc.file.open("rb"), content_type=doc.content_type)
        response["Content-Disposition"] = f'attachment; filename="document-{doc.public_id}"'
        return response

    @extend_schema(request=RefileIn, responses=DocumentOut)
    @action(detail=True, methods=["post"])
    def refile(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        doc = self.get_object()
        s = RefileIn(data=request.data)
        s.is_valid(raise_exception=True)
        data = s.validated_data
        target = None
        if data.get("patient"):
            try:
                target = access_patient(user_of(request), data["patient"], "patients.add_chartdocument")
            except Http404:
                raise serializers.ValidationError({"patient": ["No such patient."]}) from None
        doc = services.refile_document(
            doc, actor=user_of(request), reason=data["reason"], patient=target, category=data.get("category")
        )
        return Response(DocumentOut(doc).data)

    @extend_schema(
        request={"multipart/form-data": PartnerDocumentIn},
        responses={201: DocumentOut, 400: OpenApiResponse(description="No match (document kept) or a bad file")},
        description="For partners (labs, imaging): the patient is named by MRN and date of birth. When they "
        "do not match a patient the document is kept for the practice to file and the answer is 400 with "
        "a reference; the answer never says whether the MRN exists.",
    )
    @action(detail=False, methods=["post"])
    def partner(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        s = PartnerDocumentIn(data=request.data)
        s.is_valid(raise_exception=True)
        data = s.validated_data
        try:
            doc, kept = services.post_partner_document(
                actor=user_of(request),
                mrn=data["mrn"],
                date_of_birth=data["date_of_birth"],
                upload=data["file"],
                category=data["category"],
                title=data["title"],
            )
        except DjangoValidationError as exc:
            raise _upload_errors(exc) from None
        if doc is None:
            assert kept is not None
            return Response(
                {"detail": services.MISMATCH.format(ref=kept.public_id), "reference": str(kept.public_id)},
                status=status.HTTP_400_BAD_REQUEST,
            )
        return Response(DocumentOut(doc).data, status=status.HTTP_201_CREATED)


H_READ = ("patients.view_procedure", "history:read")


class ProcedureOut(serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id")
    patient = serializers.UUIDField(source="patient.public_id")
    document = serializers.UUIDField(source="document.public_id", allow_null=True, default=None)

    class Meta:
        model = Procedure
        fields = ["id", "patient", "code", "performed_on", "value", "document", "created_at"]


class ProcedureIn(serializers.Serializer):
    patient = serializers.UUIDField()
    code = serializers.ChoiceField(choices=ProcedureCode.choices)
    performed_on = serializers.DateField()
    value = serializers.CharField(max_length=40, required=False, allow_blank=True, default="")
    document = serializers.UUIDField(required=False, help_text="The document that is the evidence (same chart).")


class ImmunizationOut(serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id")
    patient = serializers.UUIDField(source="patient.public_id")
    document = serializers.UUIDField(source="document.public_id", allow_null=True, default=None)

    class Meta:
        model = Immunization
        fields = ["id", "patient", "vaccine", "cvx_code", "given_on", "document", "created_at"]


class ImmunizationIn(serializers.Serializer):
    patient = serializers.UUIDField()
    vaccine = serializers.CharField(max_length=200)
    cvx_code = serializers.CharField(max_length=3)
    given_on = serializers.DateField()
    document = serializers.UUIDField(required=False)


def _evidence_document(patient: Patient, public_id: Any) -> ChartDocument | None:
    if not public_id:
        return None
    doc = patient.documents.filter(public_id=public_id).first()
    if doc is None:
        raise serializers.ValidationError({"document": ["No such document in this chart."]})
    return doc


def _evidence_errors(exc: DjangoValidationError) -> serializers.ValidationError:
    return serializers.ValidationError(exc.message_dict if hasattr(exc, "error_dict") else exc.messages)


class _EvidenceViewSet(PatientDataViewSet):
    """Care-gap evidence of one kind: list (?patient=), detail, record (the subclass names the kind)."""

    pagination_class = CreatedCursorPagination
    http_method_names = ["get", "post", "head", "options"]
    evidence_model: type[Procedure] | type[Immunization]
    out: type[serializers.ModelSerializer]
    body: type[serializers.Serializer]
    add_perm: str
    recorder: str  # the services function that records this kind of evidence

    def get_queryset(self) -> QuerySet[Any]:
        qs = accessible_history(user_of(self.request), self.evidence_model).select_related("patient", "document")
        return _by_patient(qs, self.request)

    def get_serializer_class(self) -> type[serializers.Serializer]:
        return self.out

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        s = self.body(data=request.data)
        s.is_valid(raise_exception=True)
        data = dict(s.validated_data)
        patient = _patient_in_body(request, self.add_perm)
        data.pop("patient")
        document = _evidence_document(patient, data.pop("document", None))
        try:
            row = getattr(services, self.recorder)(patient, actor=user_of(request), document=document, **data)
        except DjangoValidationError as exc:
            raise _evidence_errors(exc) from None
        return Response(self.out(row).data, status=status.HTTP_201_CREATED)


@extend_schema_view(create=extend_schema(request=ProcedureIn, responses={201: ProcedureOut}))
class ProcedureViewSet(_EvidenceViewSet):
    """Procedures and measurements (care-gap evidence): list (?patient=), detail, record."""

    queryset = Procedure.objects.none()
    audit_action = "api.procedures"
    policy = {"list": H_READ, "retrieve": H_READ, "create": ("patients.add_procedure", "history:write")}
    evidence_model, out, body, add_perm = Procedure, ProcedureOut, ProcedureIn, "patients.add_procedure"
    recorder = "record_procedure"


@extend_schema_view(create=extend_schema(request=ImmunizationIn, responses={201: ImmunizationOut}))
class ImmunizationViewSet(_EvidenceViewSet):
    """Immunizations (care-gap evidence): list (?patient=), detail, record."""

    queryset = Immunization.objects.none()
    audit_action = "api.immunizations"
    policy = {
        "list": ("patients.view_immunization", "history:read"),
        "retrieve": ("patients.view_immunization", "history:read"),
        "create": ("patients.add_immunization", "history:write"),
    }
    evidence_model, out, body, add_perm = Immunization, ImmunizationOut, ImmunizationIn, "patients.add_immunization"
    recorder = "record_immunization"


# ---------------------------------------------------------------------------------------------
# Outstanding results: the orders and referrals awaiting their document
# ---------------------------------------------------------------------------------------------

# history:read, not documents:read: what a result list reveals is which tests and referrals were
# ordered, which is clinical history (the same role permission, patients.view_expectedresult, sits
# with problems and medications). documents:* is what partner accounts (labs, imaging) carry to
# post and fetch files; they must not learn every order of the team's patients through it.
R_READ = ("patients.view_expectedresult", "history:read")
R_WRITE = ("patients.change_expectedresult", "history:write")


class ExpectedResultOut(serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id")
    patient = serializers.UUIDField(source="patient.public_id")
    document = serializers.UUIDField(source="document.public_id", allow_null=True, default=None)
    overdue = serializers.SerializerMethodField()

    class Meta:
        model = ExpectedResult
        fields = [
            "id",
            "patient",
            "title",
            "category",
            "source",
            "ordered_at",
            "expected_by",
            "overdue",
            "status",
            "document",
            "received_at",
            "cancel_reason",
            "created_at",
        ]

    def get_overdue(self, obj: ExpectedResult) -> bool:
        return obj.status == ExpectedResult.Status.OUTSTANDING and obj.expected_by < timezone.localdate()


class DueByCursorPagination(CreatedCursorPagination):
    ordering = ("expected_by", "id")


class ResultMatchIn(serializers.Serializer):
    document = serializers.UUIDField(help_text="A document filed in the same patient's chart.")


class ResultCancelIn(serializers.Serializer):
    reason = serializers.CharField(max_length=300)


@extend_schema_view(
    list=extend_schema(
        parameters=[
            OpenApiParameter("patient", str, required=True, description="The patient's public id (404 if not yours)"),
            OpenApiParameter(
                "status", str, description="outstanding (default), received, cancelled or all", enum=_RESULT_STATUSES
            ),
        ]
    ),
)
class ExpectedResultViewSet(PatientDataViewSet):
    """A patient's expected results (outstanding by default); match one to a filed document by
    hand, or cancel it with a reason."""

    queryset = ExpectedResult.objects.none()
    pagination_class = DueByCursorPagination
    audit_action = "api.expected_results"
    http_method_names = ["get", "post", "head", "options"]
    policy = {
        "list": R_READ,
        "retrieve": R_READ,
        "match": R_WRITE,
        "cancel": R_WRITE,
    }

    def get_queryset(self) -> QuerySet[ExpectedResult]:
        user = user_of(self.request)
        if self.action == "list":
            # Per patient: a patient of another team answers 404, like a missing one.
            raw = self.request.query_params.get("patient")
            if not raw:
                raise serializers.ValidationError({"patient": ["This parameter is required."]})
            patient = access_patient(user, raw, "patients.view_expectedresult")
            qs = ExpectedResult.objects.filter(patient=patient)
            wanted = self.request.query_params.get("status", ExpectedResult.Status.OUTSTANDING)
            if wanted not in _RESULT_STATUSES:
                raise serializers.ValidationError({"status": [f"One of: {', '.join(_RESULT_STATUSES)}."]})
            if wanted != "all":
                qs = qs.filter(status=wanted)
        else:
            qs = accessible_results(user)
        return qs.select_related("patient", "document")

    def get_serializer_class(self) -> type[serializers.Serializer]:
        return ExpectedResultOut

    @extend_schema(request=ResultMatchIn, responses=ExpectedResultOut)
    @action(detail=True, methods=["post"])
    def match(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Link a document already filed in the patient's chart as this result (by hand)."""
        result = self.get_object()
        s = ResultMatchIn(data=request.data)
        s.is_valid(raise_exception=True)
        document = result.patient.documents.filter(public_id=s.validated_data["document"]).first()
        if document is None:
            raise serializers.ValidationError({"document": ["No such document in this chart."]})
        result = workflow.receive_result(result, document=document, actor=user_of(request))
        return Response(ExpectedResultOut(result).data)

    @extend_schema(request=ResultCancelIn, responses=ExpectedResultOut)
    @action(detail=True, methods=["post"])
    def cancel(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """The result is no longer awaited (the reason is kept)."""
        result = self.get_object()
        s = ResultCancelIn(data=request.data)
        s.is_valid(raise_exception=True)
        result = workflow.cancel_result(result, actor=user_of(request), reason=s.validated_data["reason"])
        return Response(ExpectedResultOut(result).data)


__all__ = [
    "CoverageViewSet",
    "DocumentViewSet",
    "ExpectedResultViewSet",
    "ImmunizationViewSet",
    "PatientViewSet",
    "ProcedureViewSet",
]
