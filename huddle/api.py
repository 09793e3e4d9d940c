"""Huddle API: the huddle sheet of a provider and day (JSON), chart scrubs, marking lines and charts scrubbed."""

from __future__ import annotations

from datetime import date
from typing import Any

from django.db.models import QuerySet
from django.http import Http404
from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view, inline_serializer
from rest_framework import mixins, serializers, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied, ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from vma.api.mixins import AuditedReadMixin
from vma.audit import record_read
from vma.exceptions import ActionRefused, NotPermitted
from vma.http import user_of

from . import services, workflow
from .days import next_working_day
from .models import ChartScrub, ScrubItem
from .selectors import VIEW_SCRUB, VIEW_SHEET, access_item, accessible_scrubs, huddle_sheet, provider_by_public_id

READ = (VIEW_SCRUB, "huddle:read")
WORK = (workflow.WORK_PERM, "huddle:write")
SHEET = (VIEW_SHEET, "huddle:read")


class ItemOut(serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id")
    marked_by = serializers.CharField(source="marked_by.username", default=None)

    class Meta:
        model = ScrubItem
        fields = ["id", "code", "label", "detail", "state", "auto_state", "note", "marked_by", "marked_at", "resolved"]


class ScrubOut(serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id")
    patient = serializers.UUIDField(source="patient.public_id")
    appointment = serializers.UUIDField(source="appointment.public_id")
    provider = serializers.UUIDField(source="provider.public_id")
    visit_at = serializers.DateTimeField(source="appointment.start_at")
    items = ItemOut(many=True, read_only=True)

    class Meta:
        model = ChartScrub
        fields = [
            "id",
            "patient",
            "appointment",
            "provider",
            "day",
            "visit_at",
            "status",
            "needs_action",
            "evaluated_at",
            "scrubbed_at",
            "reopened_reason",
            "items",
        ]


class MarkIn(serializers.Serializer):
    state = serializers.ChoiceField(choices=[ScrubItem.State.DONE, ScrubItem.State.NOT_APPLICABLE, "undo"])
    note = serializers.CharField(max_length=300, required=False, allow_blank=True, default="")


class FlagOut(serializers.Serializer):
    code = serializers.CharField()
    reason = serializers.CharField()
    name = serializers.CharField(source="label")


class SheetRowOut(serializers.Serializer):
    appointment = serializers.UUIDField(source="appointment.public_id")
    patient = serializers.UUIDField(source="appointment.patient.public_id")
    patient_name = serializers.SerializerMethodField()
    start_at = serializers.DateTimeField(source="appointment.start_at")
    visit_type = serializers.CharField(source="appointment.visit_type")
    flags = FlagOut(many=True)
    reason_line = serializers.CharField()
    scrub_status = serializers.CharField()

    def get_patient_name(self, row: Any) -> str:
        p = row.appointment.patient
        return f"{p.last_name}, {p.first_name}"


class ChangeOut(serializers.Serializer):
    kind = serializers.CharField()
    time = serializers.CharField()
    patient = serializers.CharField()
    added = serializers.ListField(child=serializers.CharField())
    cleared = serializers.ListField(child=serializers.CharField())


class SheetOut(serializers.Serializer):
    provider = serializers.UUIDField(source="provider.public_id")
    day = serializers.DateField()
    rows = SheetRowOut(many=True)
    totals = serializers.DictField(child=serializers.IntegerField())
    hidden = serializers.IntegerField()
    snapshot_generated_at = serializers.DateTimeField(source="snapshot.generated_at", default=None)
    changes = ChangeOut(many=True)


def _day(value: str | None, default: date) -> date:
    if not value:
        return default
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ValidationError({"date": ["Use YYYY-MM-DD."]}) from None


class HuddleSheetViewSet(viewsets.ViewSet):
    """One provider's huddle sheet for a day: visits of the caller's patients with flags and totals."""

    policy = {"list": SHEET}

    @extend_schema(
        parameters=[
            OpenApiParameter("provider", str, required=True, description="Provider public id"),
            OpenApiParameter("date", str, description="YYYY-MM-DD (default today)"),
        ],
        responses={200: SheetOut},
    )
    def list(self, request: Request) -> Response:
        user = user_of(request)
        if not request.query_params.get("provider"):
            raise ValidationError({"provider": ["Give the provider's public id."]})
        try:
            provider = provider_by_public_id(request.query_params["provider"])
        except Http404:
            raise ValidationError({"provider": ["No such provider."]}) from None
        assert provider is not None
        day = _day(request.query_params.get("date"), timezone.localdate())
        sheet = huddle_sheet(user, provider=provider, day=day)
        record_read(request, [r.appointment for r in sheet.rows], action="api.huddle_sheet", target=request.path)
        return Response(SheetOut(sheet).data)


@extend_schema_view(
    list=extend_schema(
        parameters=[
            OpenApiParameter("date", str, description="YYYY-MM-DD (default: the next working day)"),
            OpenApiParameter("provider", str, description="Provider public id"),
            OpenApiParameter("status", str, enum=ChartScrub.Status.values),
        ]
    )
)
class ChartScrubViewSet(AuditedReadMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    queryset = ChartScrub.objects.none()
    serializer_class = ScrubOut
    lookup_field = "public_id"
    lookup_url_kwarg = "id"
    audit_action = "api.huddle_scrubs"
    http_method_names = ["get", "post", "head", "options"]
    policy = {"read": READ, "list": READ, "retrieve": READ, "scrubbed": WORK, "mark_item": WORK}

    def get_queryset(self) -> QuerySet[ChartScrub]:
        user = user_of(self.request)
        perm = workflow.WORK_PERM if self.action in ("scrubbed", "mark_item") else VIEW_SCRUB
        qs = accessible_scrubs(user, perm).select_related("patient", "appointment", "provider")
        qs = qs.prefetch_related("items__marked_by")
        if self.action == "list":
            params = self.request.query_params
            qs = qs.filter(day=_day(params.get("date"), next_working_day(timezone.localdate())))
            if params.get("provider"):
                try:
                    qs = qs.filter(provider__public_id=params["provider"])
                except Exception:  # noqa: BLE001 - a malformed id finds nothing
                    return qs.none()
            if params.get("status"):
                qs = qs.filter(status=params["status"])
        return qs

    def _fresh(self, scrub: ChartScrub) -> Response:
        scrub = self.get_queryset().get(pk=scrub.pk)
        return Response(ScrubOut(scrub).data)

    @extend_schema(request=None, responses={200: ScrubOut})
    @action(detail=True, methods=["post"])
    def scrubbed(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Mark the chart scrubbed: refused (409) while any line needs action."""
        scrub = self.get_object()
        services.evaluate([scrub.pk])
        try:
            workflow.mark_scrubbed(scrub, actor=user_of(request))
        except NotPermitted as exc:
            raise PermissionDenied(exc.message) from None
        except ActionRefused as exc:
            return Response({"detail": exc.message}, status=exc.status_code)
        return self._fresh(scrub)

    @extend_schema(
        request=MarkIn,
        responses={200: ScrubOut, 409: inline_serializer("Refusal", {"detail": serializers.CharField()})},
    )
    @action(detail=True, methods=["post"], url_path=r"items/(?P<item_id>[0-9a-fA-F-]{36})")
    def mark_item(self, request: Request, *args: Any, item_id: str = "", **kwargs: Any) -> Response:
        """Mark one line done or not applicable (a note is required), or undo a mark."""
        scrub = self.get_object()
        item = access_item(scrub, item_id)
        body = MarkIn(data=request.data)
        body.is_valid(raise_exception=True)
        try:
            if body.validated_data["state"] == "undo":
                workflow.unmark_item(item, actor=user_of(request))
            else:
                workflow.mark_item(
                    item, state=body.validated_data["state"], note=body.validated_data["note"], actor=user_of(request)
                )
        except NotPermitted as exc:
            raise PermissionDenied(exc.message) from None
        except ActionRefused as exc:
            return Response({"detail": exc.message}, status=exc.status_code)
        return self._fresh(scrub)
