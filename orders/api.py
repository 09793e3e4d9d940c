"""Orders and the signing queue: REST endpoints. `register(router)` is called by vma/urls.py.

/api/v1/orders/ (list, detail, pend, PATCH to edit and re-pend, cancel, FHIR R4 export) and
/api/v1/signing/ (queue, batch sign or return: the same rules as the page).
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import QuerySet
from django.http import Http404, HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view, inline_serializer
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied, ValidationError
from rest_framework.pagination import CursorPagination
from rest_framework.request import Request
from rest_framework.response import Response

from encounters.models import Encounter
from vma.api.mixins import AuditedReadMixin
from vma.audit import record_read
from vma.exceptions import ActionRefused, NotPermitted
from vma.http import user_of
from vma.models import AuditEvent
from vma.signing import BatchResult

from . import fhir, services, signing, workflow
from .models import Order
from .policy import CANCEL, CHANGE, PEND, SIGN, VIEW
from .selectors import access_encounter, accessible_orders, encounter_diagnosis

READ = (VIEW, "orders:read")
SIGNING = (SIGN, "orders:sign")
Refusal = inline_serializer("OrderRefusal", {"detail": serializers.CharField()})


class PendedCursorPagination(CursorPagination):
    ordering = ("-pended_at", "-id")
    page_size = 50
    max_page_size = 200
    page_size_query_param = "page_size"


class OrderDiagnosisOut(serializers.Serializer):
    code = serializers.CharField()
    description = serializers.CharField()


class OrderRecordOut(serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id")
    patient = serializers.UUIDField(source="patient.public_id")
    encounter = serializers.UUIDField(source="encounter.public_id")
    provider = serializers.UUIDField(source="provider.public_id")
    diagnosis = OrderDiagnosisOut(allow_null=True)
    pended_by = serializers.CharField(source="pended_by.username")
    signed_by = serializers.CharField(source="signed_by.username", default=None)
    content_hash = serializers.SerializerMethodField()
    effect = serializers.SerializerMethodField()
    prior_authorization = serializers.UUIDField(source="prior_authorization.public_id", default=None)
    expected_result = serializers.UUIDField(source="expected_result.public_id", default=None)

    class Meta:
        model = Order
        fields = [
            "id",
            "kind",
            "status",
            "title",
            "urgency",
            "instructions",
            "patient",
            "encounter",
            "provider",
            "diagnosis",
            "procedure_code",
            "result_expected_days",
            "drug",
            "strength",
            "sig",
            "quantity",
            "days_supply",
            "refills",
            "pharmacy",
            "controlled_schedule",
            "specialty",
            "reason",
            "follow_up_in_days",
            "pended_by",
            "pended_at",
            "returned_comment",
            "returned_at",
            "cancel_reason",
            "cancelled_at",
            "signed_by",
            "signed_at",
            "signed_hash",
            "content_hash",
            "effect",
            "needs_prior_auth",
            "prior_authorization",
            "expected_result",
            "pharmacy_status",
            "pharmacy_confirmation",
            "sent_at",
            "effects_done_at",
        ]

    def get_content_hash(self, order: Order) -> str:
        """The hash a sign request must carry (of the content as it is now)."""
        return services.order_hash(order)

    def get_effect(self, order: Order) -> str:
        return services.effect_text(order)


def _optional_int() -> serializers.IntegerField:
    return serializers.IntegerField(required=False, allow_null=True)


def _optional_text(limit: int) -> serializers.CharField:
    return serializers.CharField(required=False, allow_blank=True, max_length=limit)


class OrderFieldsIn(serializers.Serializer):
    """The kind's fields; which are required depends on the kind (checked by orders.services)."""

    diagnosis = serializers.CharField(
        required=False, help_text="ICD-10-CM code of one of the encounter's diagnoses, or its public id."
    )
    urgency = serializers.ChoiceField(choices=Order.Urgency.choices, required=False)
    instructions = _optional_text(500)
    title = _optional_text(200)
    procedure_code = _optional_text(12)
    result_expected_days = _optional_int()
    drug = _optional_text(200)
    strength = _optional_text(60)
    sig = _optional_text(200)
    quantity = _optional_int()
    days_supply = _optional_int()
    refills = _optional_int()
    pharmacy = _optional_text(200)
    controlled_schedule = serializers.ChoiceField(choices=Order.Schedule.choices, required=False, allow_blank=True)
    specialty = _optional_text(80)
    reason = _optional_text(300)
    follow_up_in_days = _optional_int()


class OrderPendIn(OrderFieldsIn):
    encounter = serializers.UUIDField()
    kind = serializers.ChoiceField(choices=Order.Kind.choices)


class OrderCancelIn(serializers.Serializer):
    reason = serializers.CharField(max_length=300)


def _fields(data: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in data.items() if k in services.EDITABLE_FIELDS}


@extend_schema_view(
    list=extend_schema(
        parameters=[
            OpenApiParameter("encounter", str, description="Encounter public id"),
            OpenApiParameter("patient", str, description="Patient public id"),
            OpenApiParameter("status", str, enum=Order.Status.values),
            OpenApiParameter("kind", str, enum=Order.Kind.values),
        ]
    ),
    create=extend_schema(request=OrderPendIn, responses={201: OrderRecordOut}),
    partial_update=extend_schema(request=OrderFieldsIn, responses={200: OrderRecordOut, 409: Refusal}),
)
class OrderViewSet(
    AuditedReadMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    viewsets.GenericViewSet,
):
    """Orders of the caller's patients. POST pends one, PATCH edits a pended or returned one (re-pending it)."""

    queryset = Order.objects.none()
    serializer_class = OrderRecordOut
    pagination_class = PendedCursorPagination
    lookup_field = "public_id"
    lookup_url_kwarg = "id"
    audit_action = "api.orders"
    http_method_names = ["get", "post", "patch", "head", "options"]
    policy = {
        "list": READ,
        "retrieve": READ,
        "fhir": READ,
        "create": (PEND, "orders:write"),
        "partial_update": (CHANGE, "orders:write"),
        "cancel": (CANCEL, "orders:write"),
    }

    def get_queryset(self) -> QuerySet[Order]:
        perm = {"partial_update": CHANGE, "cancel": CANCEL}.get(self.action or "", VIEW)
        qs = accessible_orders(user_of(self.request), perm).select_related(
            "patient",
            "encounter",
            "provider",
            "diagnosis",
            "pended_by",
            "signed_by",
            "prior_authorization",
            "expected_result",
        )
        if self.action == "list":
            params = self.request.query_params
            for param, field in (("encounter", "encounter__public_id"), ("patient", "patient__public_id")):
                if params.get(param):
                    try:
                        qs = qs.filter(**{field: params[param]})
                    except DjangoValidationError:
                        return qs.none()
            if params.get("status"):
                qs = qs.filter(status=params["status"])
            if params.get("kind"):
                qs = qs.filter(kind=params["kind"])
        return qs

    def _out(self, order: Order, code: int = status.HTTP_200_OK) -> Response:
        return Response(OrderRecordOut(self.get_queryset().get(pk=order.pk)).data, status=code)

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        body = OrderPendIn(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        user = user_of(request)
        try:
            encounter: Encounter = access_encounter(user, data["encounter"], PEND)
        except Http404:  # missing and another team's answer alike
            raise ValidationError({"encounter": ["No such encounter."]}) from None
        order = workflow.pend_order(
            encounter,
            actor=user,
            kind=data["kind"],
            diagnosis=encounter_diagnosis(encounter, data.get("diagnosis")),
            **_fields(data),
        )
        return self._out(order, status.HTTP_201_CREATED)

    def partial_update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        order = self.get_object()
        body = OrderFieldsIn(data=request.data, partial=True)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        # A PATCH changes what it names; the rest stays as it is (the service validates the whole).
        merged = {name: getattr(order, name) for name in services.EDITABLE_FIELDS} | _fields(data)
        ref = data.get("diagnosis") or (order.diagnosis.code if order.diagnosis else "")
        order = workflow.edit_order(
            order, actor=user_of(request), diagnosis=encounter_diagnosis(order.encounter, ref), **merged
        )
        return self._out(order)

    @extend_schema(request=OrderCancelIn, responses={200: OrderRecordOut, 409: Refusal})
    @action(detail=True, methods=["post"])
    def cancel(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Cancel a pended or returned order, with the reason."""
        order = self.get_object()
        body = OrderCancelIn(data=request.data)
        body.is_valid(raise_exception=True)
        order = workflow.cancel_order(order, actor=user_of(request), reason=body.validated_data["reason"])
        return self._out(order)

    @extend_schema(
        responses={(200, "application/fhir+json"): OpenApiTypes.OBJECT, 409: Refusal},
        description="A signed order as a FHIR R4 ServiceRequest or MedicationRequest; 409 if it is not signed.",
    )
    @action(detail=True, methods=["get"])
    def fhir(self, request: Request, *args: Any, **kwargs: Any) -> HttpResponse:
        order = self.get_object()
        try:
            body = fhir.export_json(order)
        except ActionRefused as exc:
            return Response({"detail": exc.message}, status=exc.status_code)
        record_read(request, [order], action="api.orders.fhir", target=request.path, kind=AuditEvent.Kind.EXPORT)
        return HttpResponse(body, content_type="application/fhir+json")


# ---------------------------------------------------------------------------------------------
# The signing queue
# ---------------------------------------------------------------------------------------------


class SigningLineOut(serializers.Serializer):
    kind = serializers.CharField()
    id = serializers.UUIDField(source="public_id")
    title = serializers.CharField()
    effect = serializers.CharField()
    detail = serializers.CharField()
    pended_by = serializers.CharField()
    pended_at = serializers.DateTimeField()
    content_hash = serializers.CharField()
    requires_second_factor = serializers.BooleanField()
    item = serializers.SerializerMethodField(help_text="The value to post back in `items` to sign or return it.")

    def get_item(self, line: Any) -> str:
        return f"{line.kind}:{line.public_id}:{line.content_hash}"


class SigningPatientOut(serializers.Serializer):
    patient = serializers.UUIDField(source="patient.public_id")
    patient_name = serializers.SerializerMethodField()
    date_of_birth = serializers.DateField(source="patient.date_of_birth")
    items = SigningLineOut(many=True, source="lines")

    def get_patient_name(self, group: Any) -> str:
        return f"{group.patient.last_name}, {group.patient.first_name}"


class SigningBatchIn(serializers.Serializer):
    items = serializers.ListField(
        child=serializers.CharField(max_length=200), min_length=1, max_length=500, help_text='"<kind>:<id>:<hash>"'
    )
    action = serializers.ChoiceField(choices=["sign", "return"])
    comment = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")
    password = serializers.CharField(required=False, allow_blank=True, default="", style={"input_type": "password"})
    otp = serializers.CharField(required=False, allow_blank=True, default="", max_length=12)


class SigningOutcomeOut(serializers.Serializer):
    kind = serializers.CharField()
    id = serializers.UUIDField(source="public_id")
    ok = serializers.BooleanField()
    message = serializers.CharField()


class SigningBatchOut(serializers.Serializer):
    results = SigningOutcomeOut(many=True, source="outcomes")
    done = serializers.SerializerMethodField()
    refused = serializers.SerializerMethodField()

    def get_done(self, result: BatchResult) -> int:
        return len(result.signed)

    def get_refused(self, result: BatchResult) -> int:
        return len(result.refused)


class SigningViewSet(viewsets.ViewSet):
    """The provider's signing queue (every kind: orders, notes, refills) and the batch sign / return."""

    policy = {"queue": SIGNING, "batch": SIGNING}

    @extend_schema(responses={200: SigningPatientOut(many=True)})
    @action(detail=False, methods=["get"])
    def queue(self, request: Request) -> Response:
        groups = signing.signing_queue(user_of(request))
        record_read(request, [g.patient for g in groups], action="api.signing.queue", target=request.path)
        return Response(SigningPatientOut(groups, many=True).data)

    @extend_schema(request=SigningBatchIn, responses={200: SigningBatchOut, 400: Refusal})
    @action(detail=False, methods=["post"])
    def batch(self, request: Request) -> Response:
        """Sign or return items; one result per item. The second factor (password + otp) is needed for
        controlled substances: without it those items are refused and the others are signed."""
        body = SigningBatchIn(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        user = user_of(request)
        try:
            items = signing.parse_items(data["items"])
        except ValueError as exc:
            raise ValidationError({"items": [str(exc)]}) from None
        try:
            if data["action"] == "sign":
                result = signing.sign_batch(user, items, password=data["password"] or None, otp=data["otp"] or None)
            else:
                result = signing.return_batch(user, items, comment=data["comment"])
        except NotPermitted as exc:
            raise PermissionDenied(exc.message) from None
        return Response(SigningBatchOut(result).data)


def register(router: Any) -> None:
    """Register this app's viewsets on the v1 router."""
    router.register("orders", OrderViewSet, basename="api-order")
    router.register("signing", SigningViewSet, basename="api-signing")
