"""Patient and coverage API, filtered by the caller's access."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import QuerySet
from django.http import Http404
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from vma.access import access_patient, panel_ids
from vma.api.mixins import PatientDataViewSet
from vma.api.pagination import CreatedCursorPagination, NameCursorPagination
from vma.http import user_of
from vma.models import CareTeam

from . import services
from .models import Coverage, Patient, Payer
from .selectors import accessible_coverages, search_patients

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


__all__ = ["CoverageViewSet", "PatientViewSet"]
