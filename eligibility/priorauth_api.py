"""Prior-authorization API: list and read one's patients' requests, require one, record the payer's answers."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.http import Http404
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from patients.models import ChartDocument
from vma.api.mixins import AuditedReadMixin
from vma.api.pagination import CreatedCursorPagination
from vma.http import user_of

from . import priorauth
from .models import PriorAuthorization
from .priorauth_selectors import access_prior_auth, accessible_prior_auths
from .selectors import access_appointment, access_coverage

READ = ("eligibility.view_priorauthorization", "priorauth:read")
CREATE = ("eligibility.add_priorauthorization", "priorauth:write")
WRITE = ("eligibility.change_priorauthorization", "priorauth:write")


class PriorAuthorizationOut(serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id")
    patient = serializers.UUIDField(source="patient.public_id")
    coverage = serializers.UUIDField(source="coverage.public_id")
    appointment = serializers.UUIDField(source="appointment.public_id", allow_null=True, default=None)
    payer = serializers.CharField(source="payer.name")
    units_left = serializers.IntegerField(allow_null=True)
    supporting_documents = serializers.SerializerMethodField()

    class Meta:
        model = PriorAuthorization
        fields = [
            "id",
            "patient",
            "coverage",
            "appointment",
            "payer",
            "service_code",
            "service_description",
            "category",
            "status",
            "urgency",
            "submitted_at",
            "decision_due_at",
            "decided_at",
            "last_contact_at",
            "next_follow_up_at",
            "payer_reference",
            "authorization_number",
            "requested_units",
            "approved_units",
            "units_used",
            "units_left",
            "valid_from",
            "valid_to",
            "decision_reason",
            "supporting_documents",
            "notes",
            "created_at",
            "updated_at",
        ]

    def get_supporting_documents(self, obj: PriorAuthorization) -> list[str]:
        return [str(d.public_id) for d in obj.supporting_documents.all()]


class RequireIn(serializers.Serializer):
    coverage = serializers.UUIDField(help_text="Public id of a coverage of one of your patients.")
    appointment = serializers.UUIDField(required=False, help_text="The visit the service is for, if any.")
    service_code = serializers.CharField(max_length=40, required=False, allow_blank=True, default="")
    service_description = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    category = serializers.CharField(max_length=60, required=False, allow_blank=True, default="")
    requested_units = serializers.IntegerField(min_value=1, required=False, allow_null=True, default=None)
    notes = serializers.CharField(max_length=4000, required=False, allow_blank=True, default="")

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if not (attrs["service_code"].strip() or attrs["category"].strip()):
            raise serializers.ValidationError({"service_code": ["Give the service code or its category."]})
        return attrs


class SubmitIn(serializers.Serializer):
    urgency = serializers.ChoiceField(choices=PriorAuthorization.Urgency.choices)
    payer_reference = serializers.CharField(max_length=60, required=False, allow_blank=True, default="")
    documents = serializers.ListField(
        child=serializers.UUIDField(), required=False, default=list, help_text="Chart documents sent with it."
    )


class MarkPendingIn(serializers.Serializer):
    payer_reference = serializers.CharField(max_length=60)


class ApproveIn(serializers.Serializer):
    authorization_number = serializers.CharField(max_length=60)
    approved_units = serializers.IntegerField(min_value=1)
    valid_from = serializers.DateField()
    valid_to = serializers.DateField()

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if attrs["valid_to"] < attrs["valid_from"]:
            raise serializers.ValidationError({"valid_to": ["The approval cannot end before it starts."]})
        return attrs


class DenyIn(serializers.Serializer):
    reason = serializers.CharField(max_length=4000)
    peer_to_peer = serializers.BooleanField(required=False, default=False)


class ReasonIn(serializers.Serializer):
    reason = serializers.CharField(max_length=4000)


class RecordUseIn(serializers.Serializer):
    units = serializers.IntegerField(min_value=1, default=1)
    on = serializers.DateField(required=False, allow_null=True, default=None, help_text="Date of service; today.")


@extend_schema_view(
    list=extend_schema(
        parameters=[
            OpenApiParameter("patient", str, description="Patient public id"),
            OpenApiParameter("appointment", str, description="Appointment public id"),
            OpenApiParameter("status", str, description="One status", enum=PriorAuthorization.Status.values),
        ]
    ),
)
class PriorAuthorizationViewSet(
    AuditedReadMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin, viewsets.GenericViewSet
):
    queryset = PriorAuthorization.objects.none()  # for the schema; get_queryset() scopes every request
    serializer_class = PriorAuthorizationOut
    lookup_field = "public_id"
    lookup_url_kwarg = "id"
    pagination_class = CreatedCursorPagination
    audit_action = "api.prior_authorizations"
    http_method_names = ["get", "post", "head", "options"]
    policy = {
        "read": READ,
        "list": READ,
        "retrieve": READ,
        "create": CREATE,
        "submit": WRITE,
        "mark_pending": WRITE,
        "approve": WRITE,
        "deny": WRITE,
        "withdraw": WRITE,
        "record_use": WRITE,
    }

    def get_queryset(self) -> QuerySet[PriorAuthorization]:
        qs = (
            accessible_prior_auths(user_of(self.request))
            .select_related("patient", "coverage", "payer", "appointment")
            .prefetch_related("supporting_documents")
        )
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

    def _auth(self) -> PriorAuthorization:
        return access_prior_auth(user_of(self.request), self.kwargs["id"])

    def _done(self, auth: PriorAuthorization, code: int = status.HTTP_200_OK) -> Response:
        return Response(PriorAuthorizationOut(auth).data, status=code)

    @extend_schema(request=RequireIn, responses={201: PriorAuthorizationOut, 200: PriorAuthorizationOut})
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Record that a service needs authorization (201), or return the open one for it (200)."""
        data = _valid(RequireIn, request)
        user = user_of(request)
        try:
            coverage = access_coverage(user, data["coverage"])
        except Http404:
            raise serializers.ValidationError({"coverage": ["No such coverage."]}) from None
        appointment = None
        if data.get("appointment"):
            try:
                appointment = access_appointment(user, data["appointment"], patient=coverage.patient)
            except Http404:
                raise serializers.ValidationError({"appointment": ["No such appointment."]}) from None
        auth, created = priorauth.require(
            coverage,
            service_code=data["service_code"],
            service_description=data["service_description"],
            category=data["category"],
            appointment=appointment,
            requested_units=data["requested_units"],
            notes=data["notes"],
            actor=user,
        )
        return self._done(auth, status.HTTP_201_CREATED if created else status.HTTP_200_OK)

    @extend_schema(request=SubmitIn, responses=PriorAuthorizationOut)
    @action(detail=True, methods=["post"])
    def submit(self, request: Request, id: str) -> Response:
        data = _valid(SubmitIn, request)
        auth = self._auth()
        docs = list(ChartDocument.objects.filter(patient_id=auth.patient_id, public_id__in=data["documents"]))
        if len(docs) != len(set(data["documents"])):
            raise serializers.ValidationError({"documents": ["No such document in this patient's chart."]})
        auth = priorauth.submit(
            auth,
            actor=user_of(request),
            urgency=data["urgency"],
            payer_reference=data["payer_reference"],
            documents=docs,
        )
        return self._done(auth)

    @extend_schema(request=MarkPendingIn, responses=PriorAuthorizationOut)
    @action(detail=True, methods=["post"], url_path="mark-pending")
    def mark_pending(self, request: Request, id: str) -> Response:
        data = _valid(MarkPendingIn, request)
        auth = priorauth.mark_pending(self._auth(), actor=user_of(request), payer_reference=data["payer_reference"])
        return self._done(auth)

    @extend_schema(request=ApproveIn, responses=PriorAuthorizationOut)
    @action(detail=True, methods=["post"])
    def approve(self, request: Request, id: str) -> Response:
        data = _valid(ApproveIn, request)
        return self._done(priorauth.approve(self._auth(), actor=user_of(request), **data))

    @extend_schema(request=DenyIn, responses=PriorAuthorizationOut)
    @action(detail=True, methods=["post"])
    def deny(self, request: Request, id: str) -> Response:
        data = _valid(DenyIn, request)
        auth = priorauth.deny(
            self._auth(), actor=user_of(request), reason=data["reason"], peer_to_peer=data["peer_to_peer"]
        )
        return self._done(auth)

    @extend_schema(request=ReasonIn, responses=PriorAuthorizationOut)
    @action(detail=True, methods=["post"])
    def withdraw(self, request: Request, id: str) -> Response:
        data = _valid(ReasonIn, request)
        return self._done(priorauth.withdraw(self._auth(), actor=user_of(request), reason=data["reason"]))

    @extend_schema(request=RecordUseIn, responses=PriorAuthorizationOut)
    @action(detail=True, methods=["post"], url_path="record-use")
    def record_use(self, request: Request, id: str) -> Response:
        data = _valid(RecordUseIn, request)
        auth = priorauth.record_use(self._auth(), actor=user_of(request), units=data["units"], on=data["on"])
        return self._done(auth)


def _valid(serializer_class: type[serializers.Serializer], request: Request) -> dict[str, Any]:
    s = serializer_class(data=request.data)
    s.is_valid(raise_exception=True)
    return dict(s.validated_data)
