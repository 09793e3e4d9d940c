"""Refills: REST endpoints. `register(router)` is called by vma/urls.py.

Pharmacies post requests with a `refills:request` token (the patient by our MRN and date of birth, or by
public id) and read back only their own; staff list and read requests of their care teams, run the check
(`refills:write`), and providers deny with a reason.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view, inline_serializer
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from orders.models import Order
from vma.access import accessible_patients
from vma.api.mixins import AuditedReadMixin
from vma.http import user_of

from . import services, workflow
from .models import SCHEDULE_CHOICES, RefillRequest
from .selectors import VIEW_PERM, accessible_requests

READ = (VIEW_PERM, "refills:read")
CREATE = (services.ADD_PERM, "refills:request")
WORK = (workflow.WORK_PERM, "refills:write")
DECIDE = (workflow.SIGN_PERM, "refills:write")
NO_PATIENT = "No such patient."


class RefillCheckLineOut(serializers.Serializer):
    code = serializers.CharField()
    label = serializers.CharField()  # type: ignore[assignment]  # a declared field, popped by the metaclass
    passed = serializers.BooleanField()
    reason = serializers.CharField()


class RefillRequestOut(serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id")
    patient = serializers.UUIDField(source="patient.public_id")
    provider = serializers.UUIDField(source="provider.public_id")
    medication = serializers.CharField(source="medication_text")
    chart_medication = serializers.UUIDField(source="medication.public_id", default=None)
    medication_class = serializers.CharField(source="medication_class.name", default=None)
    merged_into = serializers.UUIDField(source="merged_into.public_id", default=None)
    check = RefillCheckLineOut(source="check_lines", many=True)
    # Plain text here (the input names the choices): one enum component per choice set, no collisions.
    source = serializers.CharField(read_only=True, help_text="pharmacy, portal or phone")  # type: ignore[assignment]
    urgency = serializers.CharField(read_only=True, help_text="routine or urgent")
    message = serializers.SerializerMethodField(help_text="What the requester is told (on create); empty on reads.")

    class Meta:
        model = RefillRequest
        fields = [
            "id",
            "patient",
            "provider",
            "source",
            "status",
            "medication",
            "chart_medication",
            "medication_class",
            "strength",
            "sig",
            "quantity",
            "days_supply",
            "refills",
            "controlled_schedule",
            "pharmacy",
            "requester",
            "urgency",
            "request_text",
            "red_flags",
            "received_at",
            "due_at",
            "check",
            "check_outcome",
            "checked_at",
            "merged_into",
            "signed_at",
            "denied_at",
            "deny_reason",
            "pharmacy_status",
            "notified_at",
            "closed_at",
            "message",
        ]

    def get_message(self, obj: RefillRequest) -> str:
        return str(self.context.get("message", ""))


class RefillRequestIn(serializers.Serializer):
    patient = serializers.UUIDField(required=False, help_text="The patient's public id, if the pharmacy has it.")
    mrn = serializers.CharField(max_length=20, required=False)
    date_of_birth = serializers.DateField(required=False)
    prescription = serializers.UUIDField(
        required=False, help_text="Our reference of the original prescription (an order id), when known."
    )
    source = serializers.ChoiceField(choices=RefillRequest.Source.choices, required=False)  # type: ignore[assignment]
    medication = serializers.CharField(max_length=200)
    strength = serializers.CharField(max_length=60, required=False, allow_blank=True, default="")
    sig = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    quantity = serializers.IntegerField(min_value=1, max_value=10000, required=False, allow_null=True)
    days_supply = serializers.IntegerField(min_value=1, max_value=365, required=False, allow_null=True)
    refills = serializers.IntegerField(min_value=0, max_value=11, required=False, allow_null=True)
    controlled_schedule = serializers.ChoiceField(choices=SCHEDULE_CHOICES, required=False, default="")
    pharmacy = serializers.CharField(max_length=200)
    requester = serializers.CharField(max_length=200)
    callback_phone = serializers.CharField(max_length=20, required=False, allow_blank=True, default="")
    urgency = serializers.ChoiceField(choices=RefillRequest.Urgency.choices, default=RefillRequest.Urgency.ROUTINE)
    request_text = serializers.CharField(max_length=2000, required=False, allow_blank=True, default="")
    received_at = serializers.DateTimeField(required=False)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if not attrs.get("patient") and not (attrs.get("mrn") and attrs.get("date_of_birth")):
            raise ValidationError({"patient": ["Give the patient's id, or the MRN and date of birth."]})
        return attrs


class RefillDenyIn(serializers.Serializer):
    reason = serializers.CharField(max_length=300)


@extend_schema_view(
    list=extend_schema(
        parameters=[
            OpenApiParameter("status", str, enum=RefillRequest.Status.values),
            OpenApiParameter("patient", str, description="Patient public id"),
        ]
    )
)
class RefillRequestViewSet(
    AuditedReadMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin, viewsets.GenericViewSet
):
    """Refill requests: pharmacies create (and read their own); staff read, check; providers deny."""

    queryset = RefillRequest.objects.none()
    serializer_class = RefillRequestOut
    lookup_field = "public_id"
    lookup_url_kwarg = "id"
    audit_action = "api.refills"
    http_method_names = ["get", "post", "head", "options"]
    policy = {"read": READ, "list": READ, "retrieve": READ, "create": CREATE, "check": WORK, "deny": DECIDE}

    def get_queryset(self) -> QuerySet[RefillRequest]:
        user = user_of(self.request)
        perm = {"check": workflow.WORK_PERM, "deny": VIEW_PERM}.get(self.action or "", VIEW_PERM)
        qs = accessible_requests(user, perm).select_related(
            "patient", "provider", "medication", "medication_class", "merged_into"
        )
        if self.action == "list":
            params = self.request.query_params
            if params.get("status"):
                qs = qs.filter(status=params["status"])
            if params.get("patient"):
                try:
                    qs = qs.filter(patient__public_id=params["patient"])
                except DjangoValidationError:
                    return qs.none()
        return qs

    def _patient(self, data: dict[str, Any]) -> Any:
        patients = accessible_patients(user_of(self.request), services.ADD_PERM).select_related("care_team")
        if data.get("patient"):
            patient = patients.filter(public_id=data["patient"]).first()
        else:
            patient = patients.filter(mrn=data["mrn"].strip().upper(), date_of_birth=data["date_of_birth"]).first()
        if patient is None:
            # Missing, another team's, or a wrong date of birth: one answer, nothing learned.
            raise ValidationError({"patient": [NO_PATIENT]})
        return patient

    @extend_schema(request=RefillRequestIn, responses={201: RefillRequestOut})
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Record a request. A duplicate of an open one is recorded merged into it (status `merged`)."""
        body = RefillRequestIn(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        user = user_of(request)
        patient = self._patient(data)
        prescription = None
        if data.get("prescription"):
            prescription = Order.objects.filter(
                public_id=data["prescription"], patient=patient, kind=Order.Kind.PRESCRIPTION
            ).first()
            if prescription is None:
                raise ValidationError({"prescription": ["No such prescription for this patient."]})
        # A pharmacy's account always records pharmacy requests, whatever it says.
        source = RefillRequest.Source.PHARMACY if user.is_service_account else data.get("source", "pharmacy")
        received = services.receive_request(
            actor=user,
            patient=patient,
            medication=data["medication"],
            pharmacy=data["pharmacy"],
            requester=data["requester"],
            source=source,
            urgency=data["urgency"],
            request_text=data["request_text"],
            strength=data["strength"],
            sig=data["sig"],
            quantity=data.get("quantity"),
            days_supply=data.get("days_supply"),
            refills=data.get("refills"),
            controlled_schedule=data["controlled_schedule"],
            callback_phone=data["callback_phone"],
            received_at=data.get("received_at"),
            prescription=prescription,
        )
        fresh = self.get_queryset().get(pk=received.request.pk)
        out = RefillRequestOut(fresh, context={"message": received.message})
        return Response(out.data, status=status.HTTP_201_CREATED)

    @extend_schema(
        request=None,
        responses={200: RefillRequestOut, 409: inline_serializer("RefillRefusal", {"detail": serializers.CharField()})},
    )
    @action(detail=True, methods=["post"])
    def check(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Run the protocol check again (after a lab arrived or a visit was completed) and route the request."""
        refill = workflow.check_request(self.get_object(), actor=user_of(request))
        return Response(RefillRequestOut(self.get_queryset().get(pk=refill.pk)).data)

    @extend_schema(
        request=RefillDenyIn,
        responses={
            200: RefillRequestOut,
            409: inline_serializer("RefillDenyRefusal", {"detail": serializers.CharField()}),
        },
    )
    @action(detail=True, methods=["post"])
    def deny(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """The request's provider denies the refill with a reason; the pharmacy and the patient are told."""
        body = RefillDenyIn(data=request.data)
        body.is_valid(raise_exception=True)
        refill = workflow.deny_refill(
            self.get_object(), provider=user_of(request), reason=body.validated_data["reason"]
        )
        return Response(RefillRequestOut(self.get_queryset().get(pk=refill.pk)).data)


def register(router: Any) -> None:
    """Register this app's viewsets on the v1 router."""
    router.register("refills", RefillRequestViewSet, basename="api-refillrequest")
