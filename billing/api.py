"""Claims API: list and read one's patients' claims, draft one from a visit, edit its charges, scrub, submit."""

from __future__ import annotations

from typing import Any

from django.db.models import Prefetch, QuerySet
from django.http import Http404
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from vma.api.mixins import AuditedReadMixin
from vma.api.pagination import CreatedCursorPagination
from vma.exceptions import NotPermitted
from vma.http import user_of

from . import services, workflow
from .models import Claim, ClaimDiagnosis, ClaimLine
from .selectors import access_claim, access_visit, accessible_claims

READ = ("billing.view_claim", "claims:read")
CREATE = (workflow.ADD, "claims:write")
CHANGE = (workflow.CHANGE, "claims:write")
SCRUB = (workflow.SCRUB, "claims:write")
SUBMIT = (workflow.SUBMIT, "claims:write")
VOID = (workflow.VOID, "claims:write")


class LineOut(serializers.ModelSerializer):
    class Meta:
        model = ClaimLine
        fields = ["line_number", "procedure_code", "modifiers", "units", "charge", "diagnosis_pointers", "service_date"]


class DiagnosisOut(serializers.ModelSerializer):
    class Meta:
        model = ClaimDiagnosis
        fields = ["position", "code", "description"]


class ProblemOut(serializers.Serializer):
    check = serializers.CharField()
    message = serializers.CharField()
    line = serializers.IntegerField(allow_null=True)
    blocking = serializers.BooleanField()


class ClaimOut(serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id")
    patient = serializers.UUIDField(source="patient.public_id")
    coverage = serializers.UUIDField(source="coverage.public_id")
    appointment = serializers.UUIDField(source="appointment.public_id", allow_null=True, default=None)
    payer = serializers.CharField(source="payer.name")
    rendering_provider_npi = serializers.CharField(source="rendering_provider.npi")
    original_claim = serializers.UUIDField(source="original_claim.public_id", allow_null=True, default=None)
    lines = LineOut(many=True, read_only=True)
    diagnoses = DiagnosisOut(many=True, read_only=True)
    scrub_problems = ProblemOut(many=True, read_only=True)

    class Meta:
        model = Claim
        fields = [
            "id",
            "patient",
            "coverage",
            "appointment",
            "payer",
            "service_date",
            "rendering_provider_npi",
            "billing_npi",
            "place_of_service",
            "frequency_code",
            "original_claim",
            "original_payer_claim_number",
            "prior_authorization_number",
            "referral_number",
            "patient_control_number",
            "total_charge",
            "status",
            "scrubbed_at",
            "scrub_problems",
            "validation_errors",
            "submitted_at",
            "clearinghouse_reference",
            "rejection_reasons",
            "payer_claim_number",
            "paid_amount",
            "diagnoses",
            "lines",
            "created_at",
            "updated_at",
        ]


class LineIn(serializers.Serializer):
    procedure_code = serializers.CharField(max_length=10)
    modifiers = serializers.ListField(child=serializers.CharField(max_length=4), required=False, default=list)
    units = serializers.IntegerField(min_value=1, max_value=999, default=1)
    charge = serializers.DecimalField(max_digits=9, decimal_places=2, required=False, allow_null=True, default=None)
    diagnosis_pointers = serializers.ListField(child=serializers.IntegerField(), required=False, default=list)
    service_date = serializers.DateField(required=False, allow_null=True, default=None)

    def to_line(self) -> services.LineInput:
        d = self.validated_data
        return services.LineInput(
            procedure_code=d["procedure_code"],
            modifiers=d["modifiers"],
            units=d["units"],
            charge=d["charge"],
            diagnosis_pointers=d["diagnosis_pointers"],
            service_date=d["service_date"],
        )


class CreateIn(serializers.Serializer):
    appointment = serializers.UUIDField(help_text="Public id of a completed visit of one of your patients.")
    diagnoses = serializers.ListField(child=serializers.CharField(max_length=10), required=False, default=list)
    lines = LineIn(many=True, required=False, default=list)


class DiagnosisIn(serializers.Serializer):
    code = serializers.CharField(max_length=10)


class ClaimReasonIn(serializers.Serializer):
    reason = serializers.CharField(max_length=4000)


class ClaimScrubOut(serializers.Serializer):
    clean = serializers.BooleanField()
    problems = ProblemOut(many=True)
    claim = ClaimOut()


@extend_schema_view(
    list=extend_schema(
        parameters=[
            OpenApiParameter("status", str, description="One status", enum=Claim.Status.values),
            OpenApiParameter("patient", str, description="Patient public id"),
        ]
    ),
)
class ClaimViewSet(AuditedReadMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    queryset = Claim.objects.none()  # for the schema; get_queryset() scopes every request
    serializer_class = ClaimOut
    lookup_field = "public_id"
    lookup_url_kwarg = "id"
    pagination_class = CreatedCursorPagination
    audit_action = "api.claims"
    http_method_names = ["get", "post", "head", "options"]
    policy = {
        "read": READ,
        "list": READ,
        "retrieve": READ,
        "create": CREATE,
        "lines": CHANGE,
        "diagnoses": CHANGE,
        "reopen": CHANGE,
        "scrub": SCRUB,
        "submit": SUBMIT,
        "void": VOID,
        "correct": VOID,
    }

    def get_queryset(self) -> QuerySet[Claim]:
        qs = (
            accessible_claims(user_of(self.request))
            .select_related("patient", "coverage", "payer", "appointment", "rendering_provider", "original_claim")
            .prefetch_related(
                Prefetch("lines", queryset=ClaimLine.objects.order_by("line_number")),
                Prefetch("diagnoses", queryset=ClaimDiagnosis.objects.order_by("position")),
            )
        )
        params = self.request.query_params
        if params.get("status"):
            qs = qs.filter(status=params["status"])
        if params.get("patient"):
            try:
                qs = qs.filter(patient__public_id=params["patient"])
            except Exception:  # noqa: BLE001 - a malformed id finds nothing, like an unknown one
                return qs.none()
        return qs

    def _claim(self) -> Claim:
        return access_claim(user_of(self.request), self.kwargs["id"])

    def _done(self, claim: Claim, code: int = status.HTTP_200_OK) -> Response:
        fresh = self.get_queryset().get(pk=claim.pk)
        return Response(ClaimOut(fresh).data, status=code)

    @extend_schema(request=CreateIn, responses={201: ClaimOut, 200: ClaimOut})
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Draft the claim of a completed visit (201), or return the one it has (200)."""
        s = CreateIn(data=request.data)
        s.is_valid(raise_exception=True)
        user = user_of(request)
        try:
            visit = access_visit(user, s.validated_data["appointment"])
        except Http404:
            raise serializers.ValidationError({"appointment": ["No such appointment."]}) from None
        lines = []
        for raw in s.validated_data["lines"]:
            line_in = LineIn(data=raw)
            line_in.is_valid(raise_exception=True)
            lines.append(line_in.to_line())
        try:
            claim, created = services.draft_claim(
                visit, actor=user, diagnoses=s.validated_data["diagnoses"], lines=lines
            )
        except NotPermitted:
            raise serializers.ValidationError({"appointment": ["No such appointment."]}) from None
        return self._done(claim, status.HTTP_201_CREATED if created else status.HTTP_200_OK)

    @extend_schema(request=LineIn, responses=ClaimOut)
    @action(detail=True, methods=["post"])
    def lines(self, request: Request, id: str) -> Response:
        """Add a service line to a draft claim."""
        s = LineIn(data=request.data)
        s.is_valid(raise_exception=True)
        claim = self._claim()
        services.add_line(claim, s.to_line(), actor=user_of(request))
        return self._done(claim, status.HTTP_201_CREATED)

    @extend_schema(request=DiagnosisIn, responses=ClaimOut)
    @action(detail=True, methods=["post"])
    def diagnoses(self, request: Request, id: str) -> Response:
        """Add an ICD-10-CM diagnosis to a draft claim (refused with the reason when not billable)."""
        s = DiagnosisIn(data=request.data)
        s.is_valid(raise_exception=True)
        claim = self._claim()
        services.add_diagnosis(claim, s.validated_data["code"], actor=user_of(request))
        return self._done(claim, status.HTTP_201_CREATED)

    @extend_schema(request=None, responses=ClaimScrubOut)
    @action(detail=True, methods=["post"])
    def scrub(self, request: Request, id: str) -> Response:
        """Run every check; a clean draft becomes scrubbed. Every problem is listed at once."""
        result = workflow.scrub(self._claim(), actor=user_of(request))
        fresh = self.get_queryset().get(pk=result.claim.pk)
        return Response(
            {"clean": result.clean, "problems": [p.as_dict() for p in result.problems], "claim": ClaimOut(fresh).data}
        )

    @extend_schema(request=None, responses=ClaimOut)
    @action(detail=True, methods=["post"])
    def submit(self, request: Request, id: str) -> Response:
        """Build, validate (pyx12) and send the 837P of a scrubbed claim; 409 with the reasons otherwise."""
        return self._done(workflow.submit(self._claim(), actor=user_of(request)))

    @extend_schema(request=None, responses=ClaimOut)
    @action(detail=True, methods=["post"])
    def reopen(self, request: Request, id: str) -> Response:
        return self._done(workflow.reopen(self._claim(), actor=user_of(request)))

    @extend_schema(request=ClaimReasonIn, responses=ClaimOut)
    @action(detail=True, methods=["post"])
    def void(self, request: Request, id: str) -> Response:
        """Void; a claim the payer has gets a frequency 8 claim (returned) to submit."""
        s = ClaimReasonIn(data=request.data)
        s.is_valid(raise_exception=True)
        claim, new = workflow.void(self._claim(), actor=user_of(request), reason=s.validated_data["reason"])
        return self._done(new or claim)

    @extend_schema(request=ClaimReasonIn, responses=ClaimOut)
    @action(detail=True, methods=["post"])
    def correct(self, request: Request, id: str) -> Response:
        """Replace with a frequency 7 claim (returned, a draft) carrying the same charges."""
        s = ClaimReasonIn(data=request.data)
        s.is_valid(raise_exception=True)
        _claim, new = workflow.correct(self._claim(), actor=user_of(request), reason=s.validated_data["reason"])
        return self._done(new, status.HTTP_201_CREATED)
