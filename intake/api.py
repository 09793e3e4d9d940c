"""Intake API: questionnaires (read-only), packets and responses of one's patients, and review."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import mixins, serializers, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied, ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from vma.api.mixins import AuditedReadMixin
from vma.api.pagination import CreatedCursorPagination
from vma.exceptions import ActionRefused, NotPermitted
from vma.http import user_of

from . import workflow
from .models import IntakePacket, IntakeResponse, Questionnaire
from .selectors import VIEW_PACKET, VIEW_QUESTIONNAIRE, accessible_packets, accessible_responses

QUESTIONNAIRE_READ = (VIEW_QUESTIONNAIRE, "intake:read")
READ = (VIEW_PACKET, "intake:read")
REVIEW = (workflow.REVIEW_PERM, "intake:write")


class CodeCursorPagination(CreatedCursorPagination):
    ordering = ("code", "-version", "id")


class IdCursorPagination(CreatedCursorPagination):
    ordering = ("-id",)


class QuestionnaireOut(serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id")

    class Meta:
        model = Questionnaire
        fields = ["id", "code", "title", "version", "active", "definition", "created_at"]


class ResponseOut(serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id")
    packet = serializers.UUIDField(source="packet.public_id")
    questionnaire = serializers.UUIDField(source="questionnaire.public_id")
    code = serializers.CharField(source="questionnaire.code")
    version = serializers.IntegerField(source="questionnaire.version")

    class Meta:
        model = IntakeResponse
        fields = [
            "id",
            "packet",
            "questionnaire",
            "code",
            "version",
            "answers",
            "saved_at",
            "completed_at",
            "total_score",
            "band",
            "item9_positive",
        ]


class PacketOut(serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id")
    patient = serializers.UUIDField(source="patient.public_id")
    appointment = serializers.UUIDField(source="appointment.public_id")
    visit_type = serializers.CharField(source="appointment.visit_type")
    visit_at = serializers.DateTimeField(source="appointment.start_at")

    class Meta:
        model = IntakePacket
        fields = [
            "id",
            "patient",
            "appointment",
            "visit_type",
            "visit_at",
            "status",
            "channel",
            "sent_at",
            "opened_at",
            "submitted_at",
            "reviewed_at",
            "phq9_score",
            "phq9_band",
            "gad7_score",
            "gad7_band",
            "item9_positive",
        ]


class QuestionnaireViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Form definitions hold no patient data: no read audit."""

    queryset = Questionnaire.objects.all()
    serializer_class = QuestionnaireOut
    lookup_field = "public_id"
    lookup_url_kwarg = "id"
    pagination_class = CodeCursorPagination
    policy = {"read": QUESTIONNAIRE_READ, "list": QUESTIONNAIRE_READ, "retrieve": QUESTIONNAIRE_READ}

    def get_queryset(self) -> QuerySet[Questionnaire]:
        qs = Questionnaire.objects.all()
        if self.request.query_params.get("active") in ("1", "true"):
            qs = qs.filter(active=True)
        return qs


@extend_schema_view(
    list=extend_schema(
        parameters=[
            OpenApiParameter("patient", str, description="Patient public id"),
            OpenApiParameter("status", str, description="One status", enum=IntakePacket.Status.values),
        ]
    )
)
class IntakePacketViewSet(AuditedReadMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    queryset = IntakePacket.objects.none()  # for the schema; get_queryset() scopes every request
    serializer_class = PacketOut
    lookup_field = "public_id"
    lookup_url_kwarg = "id"
    audit_action = "api.intake_packets"
    http_method_names = ["get", "post", "head", "options"]
    policy = {"read": READ, "list": READ, "retrieve": READ, "review": REVIEW}

    def get_queryset(self) -> QuerySet[IntakePacket]:
        qs = accessible_packets(user_of(self.request)).select_related("patient", "appointment")
        params = self.request.query_params
        if params.get("patient"):
            try:
                qs = qs.filter(patient__public_id=params["patient"])
            except Exception:  # noqa: BLE001 - a malformed id finds nothing, like an unknown one
                return qs.none()
        if params.get("status"):
            qs = qs.filter(status=params["status"])
        return qs

    @extend_schema(request=None, responses={200: PacketOut})
    @action(detail=True, methods=["post"])
    def review(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Mark a submitted packet reviewed (every proposed change must be decided first)."""
        packet = self.get_object()
        try:
            packet = workflow.review_packet(packet, actor=user_of(request))
        except NotPermitted as exc:
            raise PermissionDenied(exc.message) from None
        except ActionRefused as exc:
            raise ValidationError({"detail": exc.message}) from None
        return Response(PacketOut(packet).data)


class IntakeResponseViewSet(
    AuditedReadMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    queryset = IntakeResponse.objects.none()
    serializer_class = ResponseOut
    lookup_field = "public_id"
    lookup_url_kwarg = "id"
    pagination_class = IdCursorPagination
    audit_action = "api.intake_responses"
    policy = {"read": READ, "list": READ, "retrieve": READ}

    def get_queryset(self) -> QuerySet[IntakeResponse]:
        qs = accessible_responses(user_of(self.request)).select_related("packet", "questionnaire")
        packet = self.request.query_params.get("packet")
        if packet:
            try:
                qs = qs.filter(packet__public_id=packet)
            except Exception:  # noqa: BLE001 - a malformed id finds nothing
                return qs.none()
        return qs
