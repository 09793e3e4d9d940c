"""Billing API: claims (draft, charges, scrub, submit), 835 remittances, denials and appeals, patient
balances and payments, statements, and the dashboards' figures."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from django.db.models import Prefetch, QuerySet
from django.http import Http404
from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field, extend_schema_view
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response

from vma.access import access_patient
from vma.api.mixins import AuditedReadMixin
from vma.api.pagination import CreatedCursorPagination
from vma.audit import record_read
from vma.exceptions import ActionRefused, NotPermitted
from vma.http import user_of

from . import appeals, denials, ledger, remittance, revenue, selectors, services, workflow
from .models import (
    Appeal,
    Claim,
    ClaimDiagnosis,
    ClaimLine,
    Denial,
    PatientBalance,
    PatientLedgerEntry,
    PatientPayment,
    Remittance,
    RemittanceClaim,
    RemittanceFile,
    Statement,
)
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


# ---------------------------------------------------------------------------------------------
# Remittances (835), denials, appeals, patient balances, statements, dashboards


class ReceivedCursorPagination(CreatedCursorPagination):
    ordering = ("-received_at", "-id")


class BalanceCursorPagination(CreatedCursorPagination):
    ordering = ("oldest_open_on", "id")


class StatementCursorPagination(CreatedCursorPagination):
    ordering = ("-statement_date", "-id")


REMIT_READ = (selectors.VIEW_REMITTANCE, "remittances:read")
REMIT_IMPORT = (remittance.IMPORT, "remittances:write")
REMIT_CHANGE = (remittance.CHANGE, "remittances:write")
DENIAL_READ = (selectors.VIEW_DENIAL, "denials:read")
DENIAL_CHANGE = (denials.CHANGE, "denials:write")
APPEAL_READ = (appeals.VIEW, "denials:read")
APPEAL_ADD = (appeals.ADD, "denials:write")
APPEAL_CHANGE = (appeals.CHANGE, "denials:write")
BALANCE_READ = (selectors.VIEW_BALANCE, "balances:read")
PAYMENT_ADD = (ledger.PAYMENT_PERM, "balances:write")
STATEMENT_READ = (selectors.VIEW_STATEMENT, "balances:read")
REVENUE_READ = (revenue.DASHBOARD, "revenue:read")


class RemittanceSummaryOut(serializers.ModelSerializer):
    class Meta:
        model = Remittance
        fields = [
            "payer_name",
            "payer_key",
            "payee_name",
            "payee_npi",
            "amount",
            "method",
            "trace_number",
            "payment_date",
            "provider_adjustments",
            "warnings",
        ]


def _choices(values: list[str]) -> serializers.CharField:
    """A choice as plain text in the schema: enum names by field name collide across apps (status, kind ...)."""
    return serializers.CharField(help_text=f"One of: {', '.join(values)}.")


class RemittanceFileOut(serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id")
    source = _choices(RemittanceFile.Source.values)  # type: ignore[assignment]  # a field, popped by the metaclass
    status = _choices(RemittanceFile.Status.values)
    remittances = RemittanceSummaryOut(many=True, read_only=True)

    class Meta:
        model = RemittanceFile
        fields = [
            "id",
            "source",
            "filename",
            "content_hash",
            "size_bytes",
            "status",
            "error",
            "validation_errors",
            "warnings",
            "claims_posted",
            "claims_unmatched",
            "claims_duplicate",
            "received_at",
            "posted_at",
            "remittances",
        ]


class RemittanceClaimOut(serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id")
    outcome = _choices(RemittanceClaim.Outcome.values)
    claim = serializers.UUIDField(source="claim.public_id", allow_null=True, default=None)
    claim_status = serializers.CharField(source="claim.status", allow_null=True, default=None)
    trace_number = serializers.CharField()

    class Meta:
        model = RemittanceClaim
        fields = [
            "id",
            "claim",
            "claim_status",
            "trace_number",
            "sequence",
            "patient_control_number",
            "status_code",
            "payer_claim_number",
            "charge",
            "paid",
            "patient_responsibility",
            "patient_name",
            "member_id",
            "remarks",
            "warnings",
            "outcome",
            "message",
            "underpaid_amount",
            "posted_at",
        ]


class RemittanceFileDetailOut(RemittanceFileOut):
    claims = serializers.SerializerMethodField()

    class Meta(RemittanceFileOut.Meta):
        fields = [*RemittanceFileOut.Meta.fields, "claims"]

    @extend_schema_field(RemittanceClaimOut(many=True))
    def get_claims(self, file: RemittanceFile) -> list[dict[str, Any]]:
        return RemittanceClaimOut(self.context["claims"], many=True).data  # type: ignore[return-value]


class ImportIn(serializers.Serializer):
    content = serializers.CharField(required=False, trim_whitespace=False, help_text="The 835 as text.")
    file = serializers.FileField(required=False, help_text="Or the 835 as a file (multipart).")
    filename = serializers.CharField(required=False, allow_blank=True, max_length=200, default="")

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if not attrs.get("content") and not attrs.get("file"):
            raise serializers.ValidationError({"content": ["Send the 835 as `content` (text) or `file`."]})
        return attrs


class MatchIn(serializers.Serializer):
    row = serializers.UUIDField(help_text="The unmatched 835 claim's id.")
    claim = serializers.UUIDField(help_text="Public id of the claim to post it to.")


@extend_schema_view(list=extend_schema(responses=RemittanceFileOut(many=True)))
class RemittanceFileViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    """Imported 835 files: import (upload or text), list, read one with the claims you may see, work exceptions."""

    queryset = RemittanceFile.objects.none()
    serializer_class = RemittanceFileOut
    lookup_field = "public_id"
    lookup_url_kwarg = "id"
    pagination_class = ReceivedCursorPagination
    parser_classes = [JSONParser, MultiPartParser, FormParser]
    http_method_names = ["get", "post", "head", "options"]
    policy = {
        "list": REMIT_READ,
        "retrieve": REMIT_READ,
        "create": REMIT_IMPORT,
        "post": REMIT_CHANGE,
        "match": REMIT_CHANGE,
    }

    def get_queryset(self) -> QuerySet[RemittanceFile]:
        return selectors.remittance_files(user_of(self.request)).prefetch_related("remittances")

    def _detail(self, file: RemittanceFile, code: int = status.HTTP_200_OK) -> Response:
        user = user_of(self.request)
        file = self.get_queryset().get(pk=file.pk)
        claims = list(selectors.visible_remittance_claims(user, file))
        record_read(self.request, claims, action="api.remittances.detail", target=self.request.path)
        return Response(RemittanceFileDetailOut(file, context={"claims": claims}).data, status=code)

    @extend_schema(responses=RemittanceFileDetailOut)
    def retrieve(self, request: Request, id: str) -> Response:
        return self._detail(selectors.access_remittance_file(user_of(request), id))

    @extend_schema(request=ImportIn, responses={201: RemittanceFileDetailOut, 200: RemittanceFileDetailOut})
    def create(self, request: Request) -> Response:
        """Import an 835: 201 with how it was posted (a large file: `received`, posted in the background),
        or 200 with the earlier import of the same bytes."""
        body = ImportIn(data=request.data)
        body.is_valid(raise_exception=True)
        upload = body.validated_data.get("file")
        data = upload.read() if upload is not None else body.validated_data["content"]
        name = body.validated_data["filename"] or (upload.name if upload is not None else "")
        result = remittance.import_835(
            data, source=RemittanceFile.Source.API, filename=name or "", actor=user_of(request), defer_large=True
        )
        return self._detail(result.file, status.HTTP_201_CREATED if result.created else status.HTTP_200_OK)

    @extend_schema(request=None, responses=RemittanceFileDetailOut)
    @action(detail=True, methods=["post"])
    def post(self, request: Request, id: str) -> Response:
        """Post a file that failed pyx12 validation anyway (a person decided the findings do not matter)."""
        file = selectors.access_remittance_file(user_of(request), id)
        if file.status != RemittanceFile.Status.INVALID:
            raise ActionRefused("Only a file that failed validation is posted anyway.")
        remittance.post_file(file, actor=user_of(request), override=True)
        return self._detail(file)

    @extend_schema(request=MatchIn, responses=RemittanceFileDetailOut)
    @action(detail=True, methods=["post"])
    def match(self, request: Request, id: str) -> Response:
        """Post an unmatched 835 claim of this file to the claim a biller found for it."""
        user = user_of(request)
        file = selectors.access_remittance_file(user, id)
        body = MatchIn(data=request.data)
        body.is_valid(raise_exception=True)
        try:
            row = selectors.access_unmatched(user, file, body.validated_data["row"])
        except Http404:
            raise serializers.ValidationError({"row": ["No such unmatched claim."]}) from None
        try:
            claim = access_claim(user, body.validated_data["claim"])
        except Http404:
            raise serializers.ValidationError({"claim": ["No such claim."]}) from None
        remittance.match_unmatched(row, claim, actor=user)
        return self._detail(file)


class CodeOut(serializers.Serializer):
    group = serializers.CharField()
    group_meaning = serializers.CharField()
    reason = serializers.CharField()
    description = serializers.CharField()
    amount = serializers.CharField()


class RemarkOut(serializers.Serializer):
    code = serializers.CharField()
    description = serializers.CharField()


class DenialOut(serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id")
    claim = serializers.UUIDField(source="claim.public_id")
    patient = serializers.UUIDField(source="claim.patient.public_id")
    payer = serializers.CharField(source="claim.payer.name")
    level = _choices(Denial.Level.values)
    status = _choices(Denial.Status.values)
    category_label = serializers.SerializerMethodField()
    codes = serializers.SerializerMethodField()
    remarks = serializers.SerializerMethodField()

    class Meta:
        model = Denial
        fields = [
            "id",
            "claim",
            "patient",
            "payer",
            "level",
            "procedure_code",
            "group",
            "reason",
            "codes",
            "remarks",
            "amount",
            "category",
            "category_label",
            "next_step",
            "status",
            "resolution",
            "created_at",
            "resolved_at",
        ]

    def get_category_label(self, d: Denial) -> str:
        return denials.CATEGORIES.get(d.category, denials.CATEGORIES["other"]).label

    @extend_schema_field(CodeOut(many=True))
    def get_codes(self, d: Denial) -> list[dict[str, str]]:
        return denials.describe_codes(d, on=d.created_at)

    @extend_schema_field(RemarkOut(many=True))
    def get_remarks(self, d: Denial) -> list[dict[str, str]]:
        return denials.describe_remarks(d.remarks, on=d.created_at)


class WriteOffIn(serializers.Serializer):
    reason = serializers.CharField(max_length=500)


@extend_schema_view(
    list=extend_schema(
        parameters=[
            OpenApiParameter("status", str, enum=[*Denial.Status.values, "all"], description="Default: open"),
            OpenApiParameter("category", str, enum=list(denials.CATEGORIES)),
        ]
    )
)
class DenialViewSet(AuditedReadMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Denials of your patients' claims, with their codes explained and the next step; write one off."""

    queryset = Denial.objects.none()
    serializer_class = DenialOut
    lookup_field = "public_id"
    lookup_url_kwarg = "id"
    audit_action = "api.denials"
    http_method_names = ["get", "post", "head", "options"]
    policy = {"list": DENIAL_READ, "retrieve": DENIAL_READ, "write_off": DENIAL_CHANGE}

    def get_queryset(self) -> QuerySet[Denial]:
        params = self.request.query_params
        status_ = params.get("status", "open") if self.action == "list" else "all"
        return selectors.denial_list(user_of(self.request), status=status_, category=params.get("category", ""))

    @extend_schema(request=WriteOffIn, responses=DenialOut)
    @action(detail=True, methods=["post"], url_path="write-off")
    def write_off(self, request: Request, id: str) -> Response:
        """Write the denied amount off (it leaves AR and is never billed to the patient); the denial closes."""
        denial = selectors.access_denial(user_of(request), id)
        body = WriteOffIn(data=request.data)
        body.is_valid(raise_exception=True)
        denials.write_off(denial, actor=user_of(request), reason=body.validated_data["reason"])
        return Response(DenialOut(selectors.access_denial(user_of(request), id)).data)


class AppealOut(serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id")
    claim = serializers.UUIDField(source="claim.public_id")
    denial = serializers.UUIDField(source="denial.public_id", allow_null=True, default=None)
    claim_status = serializers.CharField(source="claim.status")
    status = _choices(Appeal.Status.values)

    class Meta:
        model = Appeal
        fields = [
            "id",
            "claim",
            "claim_status",
            "denial",
            "template_name",
            "letter",
            "status",
            "sent_at",
            "created_at",
            "updated_at",
        ]


class AppealIn(serializers.Serializer):
    denial = serializers.UUIDField(help_text="The denial to appeal (its claim is appealed).")
    template = serializers.CharField(required=False, allow_blank=True, default="", max_length=80)


class LetterIn(serializers.Serializer):
    letter = serializers.CharField(max_length=20000, trim_whitespace=False)


class SendIn(serializers.Serializer):
    letter = serializers.CharField(required=False, max_length=20000, trim_whitespace=False)


class AppealViewSet(AuditedReadMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Appeal letters: draft from a denial (rendered from a template), edit the letter, send (claim appealed)."""

    queryset = Appeal.objects.none()
    serializer_class = AppealOut
    lookup_field = "public_id"
    lookup_url_kwarg = "id"
    audit_action = "api.appeals"
    http_method_names = ["get", "post", "patch", "head", "options"]
    policy = {
        "list": APPEAL_READ,
        "retrieve": APPEAL_READ,
        "create": APPEAL_ADD,
        "partial_update": APPEAL_CHANGE,
        "send": APPEAL_CHANGE,
    }

    def get_queryset(self) -> QuerySet[Appeal]:
        return selectors.accessible_appeals(user_of(self.request)).select_related("claim", "denial")

    @extend_schema(request=AppealIn, responses={201: AppealOut, 200: AppealOut})
    def create(self, request: Request) -> Response:
        """Draft the claim's appeal (201), or return the draft being written (200)."""
        user = user_of(request)
        body = AppealIn(data=request.data)
        body.is_valid(raise_exception=True)
        try:
            denial = selectors.access_denial(user, body.validated_data["denial"])
        except Http404:
            raise serializers.ValidationError({"denial": ["No such denial."]}) from None
        claim = access_claim(user, denial.claim.public_id)
        appeal, created = appeals.draft_appeal(
            claim, actor=user, denial=denial, template=body.validated_data["template"]
        )
        return Response(AppealOut(appeal).data, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)

    @extend_schema(request=LetterIn, responses=AppealOut)
    def partial_update(self, request: Request, id: str) -> Response:
        """Replace the draft's letter."""
        user = user_of(request)
        appeal = selectors.access_appeal(user, id)
        body = LetterIn(data=request.data)
        body.is_valid(raise_exception=True)
        appeals.save_letter(appeal, body.validated_data["letter"], actor=user)
        return Response(AppealOut(selectors.access_appeal(user, id)).data)

    @extend_schema(request=SendIn, responses=AppealOut)
    @action(detail=True, methods=["post"])
    def send(self, request: Request, id: str) -> Response:
        """Send: the letter is kept as sent and the claim becomes appealed (its open denials resolved)."""
        user = user_of(request)
        appeal = selectors.access_appeal(user, id)
        body = SendIn(data=request.data)
        body.is_valid(raise_exception=True)
        appeals.send_appeal(appeal, actor=user, letter=body.validated_data.get("letter"))
        return Response(AppealOut(selectors.access_appeal(user, id)).data)


class BalanceOut(serializers.ModelSerializer):
    patient = serializers.UUIDField(source="patient.public_id")
    patient_name = serializers.SerializerMethodField()
    stage = _choices(PatientBalance.Stage.values)

    class Meta:
        model = PatientBalance
        fields = [
            "patient",
            "patient_name",
            "balance",
            "oldest_open_on",
            "stage",
            "last_statement_on",
            "last_payment_on",
        ]

    def get_patient_name(self, b: PatientBalance) -> str:
        return f"{b.patient.last_name}, {b.patient.first_name}"


class LedgerOut(serializers.ModelSerializer):
    claim = serializers.UUIDField(source="claim.public_id", allow_null=True, default=None)
    kind = _choices(PatientLedgerEntry.Kind.values)

    class Meta:
        model = PatientLedgerEntry
        fields = ["posted_on", "kind", "description", "amount", "claim"]


class PaymentOut(serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id")
    method = _choices(PatientPayment.Method.values)

    class Meta:
        model = PatientPayment
        fields = ["id", "amount", "method", "reference", "received_on", "note", "created_at"]


class StatementSummaryOut(serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id")
    stage = _choices(PatientBalance.Stage.values)

    class Meta:
        model = Statement
        fields = ["id", "statement_date", "due_date", "balance", "stage"]


class AccountOut(serializers.Serializer):
    patient = serializers.UUIDField()
    balance = serializers.DecimalField(max_digits=11, decimal_places=2)
    stage = serializers.CharField()
    oldest_open_on = serializers.DateField(allow_null=True)
    entries = LedgerOut(many=True)
    payments = PaymentOut(many=True)
    statements = StatementSummaryOut(many=True)


class PaymentIn(serializers.Serializer):
    amount = serializers.DecimalField(max_digits=9, decimal_places=2)
    method = serializers.CharField(max_length=6, help_text=f"One of: {', '.join(PatientPayment.Method.values)}.")
    received_on = serializers.DateField(required=False, allow_null=True, default=None)
    reference = serializers.CharField(required=False, allow_blank=True, default="", max_length=60)
    note = serializers.CharField(required=False, allow_blank=True, default="", max_length=300)
    idempotency_key = serializers.CharField(required=False, allow_blank=True, default="", max_length=64)


@extend_schema_view(list=extend_schema(parameters=[OpenApiParameter("stage", str, enum=PatientBalance.Stage.values)]))
class PatientBalanceViewSet(AuditedReadMixin, mixins.ListModelMixin, viewsets.GenericViewSet):
    """Patients who owe, oldest first; one patient's account (by patient id); record a payment."""

    queryset = PatientBalance.objects.none()
    serializer_class = BalanceOut
    pagination_class = BalanceCursorPagination
    audit_action = "api.balances"
    lookup_url_kwarg = "id"
    http_method_names = ["get", "post", "head", "options"]
    policy = {"list": BALANCE_READ, "retrieve": BALANCE_READ, "payments": PAYMENT_ADD}

    def get_queryset(self) -> QuerySet[PatientBalance]:
        return selectors.balances(user_of(self.request), stage=self.request.query_params.get("stage", ""))

    def _account(self, patient: Any) -> Response:
        account = selectors.patient_account(patient)
        balance = account["balance"]
        data = {
            "patient": patient.public_id,
            "balance": balance.balance if balance else Decimal("0.00"),
            "stage": balance.stage if balance else PatientBalance.Stage.NONE,
            "oldest_open_on": balance.oldest_open_on if balance else None,
            "entries": account["entries"],
            "payments": account["payments"],
            "statements": account["statements"],
        }
        return Response(AccountOut(data).data)

    @extend_schema(responses=AccountOut)
    def retrieve(self, request: Request, id: str) -> Response:
        """One patient's account: balance, stage, ledger, payments, statements."""
        patient = access_patient(user_of(request), id, selectors.VIEW_BALANCE)
        record_read(request, [patient], action="api.balances.detail", target=request.path)
        return self._account(patient)

    @extend_schema(request=PaymentIn, responses={201: PaymentOut, 200: PaymentOut})
    @action(detail=True, methods=["post"])
    def payments(self, request: Request, id: str) -> Response:
        """Record a patient payment (oldest visits first); the same idempotency key twice records one (200)."""
        user = user_of(request)
        patient = access_patient(user, id, ledger.PAYMENT_PERM)
        body = PaymentIn(data=request.data)
        body.is_valid(raise_exception=True)
        d = body.validated_data
        payment, created = ledger.record_payment(
            patient,
            ledger.PaymentInput(
                amount=d["amount"],
                method=d["method"],
                received_on=d["received_on"],
                reference=d["reference"],
                note=d["note"],
                idempotency_key=d["idempotency_key"],
            ),
            actor=user,
        )
        return Response(PaymentOut(payment).data, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)


class StatementOut(StatementSummaryOut):
    patient = serializers.UUIDField(source="patient.public_id")

    class Meta(StatementSummaryOut.Meta):
        fields = [*StatementSummaryOut.Meta.fields, "patient", "lines", "payments"]


class StatementViewSet(AuditedReadMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Statements of your patients, newest first."""

    queryset = Statement.objects.none()
    serializer_class = StatementOut
    lookup_field = "public_id"
    lookup_url_kwarg = "id"
    pagination_class = StatementCursorPagination
    audit_action = "api.statements"
    policy = {"list": STATEMENT_READ, "retrieve": STATEMENT_READ}

    def get_queryset(self) -> QuerySet[Statement]:
        return selectors.accessible_statements(user_of(self.request)).select_related("patient")


class AgingRowOut(serializers.Serializer):
    payer_id = serializers.CharField()
    payer_name = serializers.CharField()
    buckets = serializers.DictField(child=serializers.DecimalField(max_digits=14, decimal_places=2))
    claims = serializers.DictField(child=serializers.IntegerField())
    total = serializers.DecimalField(max_digits=14, decimal_places=2)
    count = serializers.IntegerField()


class SummaryOut(serializers.Serializer):
    ar_total = serializers.DecimalField(max_digits=14, decimal_places=2)
    ar_claims = serializers.IntegerField()
    days_in_ar = serializers.DecimalField(max_digits=10, decimal_places=1, allow_null=True)
    denial_rate = serializers.DecimalField(max_digits=5, decimal_places=1, allow_null=True)
    clean_claim_rate = serializers.DecimalField(max_digits=5, decimal_places=1, allow_null=True)
    net_collection_rate = serializers.DecimalField(max_digits=7, decimal_places=1, allow_null=True)
    adjudicated = serializers.IntegerField()
    denied = serializers.IntegerField()
    submitted = serializers.IntegerField()
    clean = serializers.IntegerField()
    collected = serializers.DecimalField(max_digits=14, decimal_places=2)
    collectible = serializers.DecimalField(max_digits=14, decimal_places=2)


class ArOut(serializers.Serializer):
    as_of = serializers.DateField()
    days = serializers.IntegerField()
    payers = AgingRowOut(many=True)
    totals = AgingRowOut()
    summary = SummaryOut()


class ReasonOut(serializers.Serializer):
    reason = serializers.CharField()
    description = serializers.CharField()
    denials = serializers.IntegerField()
    claims = serializers.IntegerField()
    amount = serializers.DecimalField(max_digits=14, decimal_places=2)


class RateOut(serializers.Serializer):
    key = serializers.CharField()
    name = serializers.CharField()
    adjudicated = serializers.IntegerField()
    denied = serializers.IntegerField()
    rate = serializers.DecimalField(max_digits=5, decimal_places=1, allow_null=True)


class DenialFiguresOut(serializers.Serializer):
    as_of = serializers.DateField()
    days = serializers.IntegerField()
    reasons = ReasonOut(many=True)
    by_payer = RateOut(many=True)
    by_provider = RateOut(many=True)


_FIGURE_PARAMS = [
    OpenApiParameter("as_of", str, description="YYYY-MM-DD (default today)"),
    OpenApiParameter("days", int, enum=list(revenue.PERIODS), description="Period for rates (default 90)"),
]


def _figure_params(request: Request) -> tuple[date, int]:
    try:
        as_of = date.fromisoformat(request.query_params["as_of"]) if request.query_params.get("as_of") else None
    except ValueError:
        raise serializers.ValidationError({"as_of": ["Use YYYY-MM-DD."]}) from None
    try:
        days = int(request.query_params.get("days", "90"))
    except ValueError:
        days = 0
    if days not in revenue.PERIODS:
        raise serializers.ValidationError({"days": [f"One of {', '.join(map(str, revenue.PERIODS))}."]})
    return as_of or timezone.localdate(), days


def _aging(row: revenue.AgingRow) -> dict[str, Any]:
    return {
        "payer_id": row.payer_id,
        "payer_name": row.payer_name,
        "buckets": {slug: cell[0] for slug, cell in zip(revenue.BUCKET_SLUGS, row.cells, strict=True)},
        "claims": {slug: cell[1] for slug, cell in zip(revenue.BUCKET_SLUGS, row.cells, strict=True)},
        "total": row.total,
        "count": row.count,
    }


class RevenueViewSet(viewsets.ViewSet):
    """The dashboards' figures (no patient data): AR aging and rates, denial reasons and rates."""

    policy = {"ar": REVENUE_READ, "denials": REVENUE_READ}

    @extend_schema(parameters=_FIGURE_PARAMS, responses=ArOut)
    @action(detail=False, methods=["get"])
    def ar(self, request: Request) -> Response:
        as_of, days = _figure_params(request)
        user = user_of(request)
        rows, totals = revenue.ar_aging(user, as_of)
        s = revenue.summary(user, as_of, days, totals)
        data = {
            "as_of": as_of,
            "days": days,
            "payers": [_aging(r) for r in rows],
            "totals": _aging(totals),
            "summary": s.__dict__,
        }
        return Response(ArOut(data).data)

    @extend_schema(parameters=_FIGURE_PARAMS, responses=DenialFiguresOut)
    @action(detail=False, methods=["get"])
    def denials(self, request: Request) -> Response:
        as_of, days = _figure_params(request)
        user = user_of(request)
        data = {
            "as_of": as_of,
            "days": days,
            "reasons": [r.__dict__ for r in revenue.denial_reasons(user, as_of, days)],
            "by_payer": [r.__dict__ for r in revenue.denial_rates(user, as_of, days, by="payer")],
            "by_provider": [r.__dict__ for r in revenue.denial_rates(user, as_of, days, by="provider")],
        }
        return Response(DenialFiguresOut(data).data)


def register(router: Any) -> None:
    """Billing's part-two endpoints (the claims viewset is registered by vma/urls.py)."""
    router.register("remittances", RemittanceFileViewSet, basename="api-remittance")
    router.register("denials", DenialViewSet, basename="api-denial")
    router.register("appeals", AppealViewSet, basename="api-appeal")
    router.register("patient-balances", PatientBalanceViewSet, basename="api-patientbalance")
    router.register("statements", StatementViewSet, basename="api-statement")
    router.register("revenue", RevenueViewSet, basename="api-revenue")
