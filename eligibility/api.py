"""Eligibility-check API: list and read checks of one's patients, and request one for a coverage."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.http import Http404
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.request import Request
from rest_framework.response import Response

from vma.api.mixins import AuditedReadMixin
from vma.api.pagination import CreatedCursorPagination
from vma.http import user_of

from . import services
from .models import EligibilityCheck
from .selectors import access_appointment, access_coverage, accessible_checks

READ = ("patients.view_coverage", "coverage:read")
WRITE = ("patients.view_coverage", "coverage:write")


class RequestedCursorPagination(CreatedCursorPagination):
    ordering = ("-requested_at", "-id")


class EligibilityCheckOut(serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id")
    patient = serializers.UUIDField(source="patient.public_id")
    coverage = serializers.UUIDField(source="coverage.public_id")
    appointment = serializers.UUIDField(source="appointment.public_id", allow_null=True, default=None)
    payer = serializers.CharField(source="coverage.payer.name")

    class Meta:
        model = EligibilityCheck
        fields = [
            "id",
            "patient",
            "coverage",
            "appointment",
            "payer",
            "service_date",
            "status",
            "attempts",
            "next_attempt_at",
            "last_error",
            "trace_number",
            "requested_at",
            "responded_at",
            "completed_at",
            "plan_begin",
            "plan_end",
            "copay_office",
            "deductible_ind_total",
            "deductible_ind_remaining",
            "deductible_fam_total",
            "deductible_fam_remaining",
            "coinsurance_percent",
            "oop_ind_total",
            "oop_ind_remaining",
            "oop_fam_total",
            "oop_fam_remaining",
            "in_network",
            "rejection_reason",
            "rejection_follow_up",
            "instruction",
            "amount_to_collect",
        ]


class EligibilityCheckIn(serializers.Serializer):
    coverage = serializers.UUIDField(help_text="Public id of a coverage of one of your patients.")
    appointment = serializers.UUIDField(
        required=False, help_text="The visit to check for; by default the patient's next visit, else today."
    )


@extend_schema_view(
    list=extend_schema(
        parameters=[
            OpenApiParameter("patient", str, description="Patient public id"),
            OpenApiParameter("appointment", str, description="Appointment public id"),
            OpenApiParameter("status", str, description="One status", enum=EligibilityCheck.Status.values),
        ]
    ),
)
class EligibilityCheckViewSet(
    AuditedReadMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin, viewsets.GenericViewSet
):
    queryset = EligibilityCheck.objects.none()  # for the schema; get_queryset() scopes every request
    serializer_class = EligibilityCheckOut
    lookup_field = "public_id"
    lookup_url_kwarg = "id"
    pagination_class = RequestedCursorPagination
    audit_action = "api.eligibility_checks"
    http_method_names = ["get", "post", "head", "options"]
    policy = {"read": READ, "list": READ, "retrieve": READ, "create": WRITE}

    def get_queryset(self) -> QuerySet[EligibilityCheck]:
        qs = accessible_checks(user_of(self.request)).select_related("patient", "coverage__payer", "appointment")
        params = self.request.query_params
        try:
            if params.get("patient"):
                qs = qs.filter(patient__public_id=params["patient"])
            if params.get("appointment"):
                qs = qs.filter(appointment__public_id=params["appointment"])
        except Exception:  # noqa: BLE001 - a malformed id finds nothing, like an unknown one
            return qs.none()
        if params.get("status"):
            qs = qs.filter(status=params["status"])
        return qs

    @extend_schema(request=EligibilityCheckIn, responses={201: EligibilityCheckOut, 200: EligibilityCheckOut})
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Queue a check (201), or return the one already in flight for the same visit (200)."""
        s = EligibilityCheckIn(data=request.data)
        s.is_valid(raise_exception=True)
        try:
            coverage = access_coverage(user_of(request), s.validated_data["coverage"])
        except Http404:
            raise serializers.ValidationError({"coverage": ["No such coverage."]}) from None
        appointment = None
        if s.validated_data.get("appointment"):
            try:
                appointment = access_appointment(
                    user_of(request), s.validated_data["appointment"], patient=coverage.patient
                )
            except Http404:
                raise serializers.ValidationError({"appointment": ["No such appointment."]}) from None
        before = set(
            EligibilityCheck.objects.filter(coverage=coverage, status__in=EligibilityCheck.IN_FLIGHT).values_list(
                "id", flat=True
            )
        )
        check = services.check_now(coverage, actor=user_of(request), appointment=appointment)
        code = status.HTTP_200_OK if check.pk in before else status.HTTP_201_CREATED
        return Response(EligibilityCheckOut(check).data, status=code)
