"""Virtual waiting room API: a day's telehealth visits with their room status, one room with its steps,
and the same actions as the pages (same workflow functions, same rules). `register(router)` is
called by vma/urls.py.

A visit is addressed by its appointment's public id (one room per visit, created on first use).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

from django.db import transaction
from django.db.models import Q, QuerySet
from django.http import Http404
from django.utils import timezone
from drf_spectacular.utils import (
    OpenApiParameter,
    extend_schema,
    extend_schema_field,
    extend_schema_view,
    inline_serializer,
)
from rest_framework import serializers, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied, ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from scheduling.models import Appointment
from scheduling.selectors import provider_by_public_id
from vma.api.pagination import CreatedCursorPagination
from vma.audit import record_read
from vma.exceptions import NotPermitted
from vma.http import user_of

from . import selectors, workflow
from .models import RoomEvent, VisitRoom
from .policy import HOST, INVITE, ROOM, VIEW

READ = (VIEW, "telehealth:read")
SEND = (INVITE, "telehealth:write")
WORK = (ROOM, "telehealth:write")
PROVIDE = (HOST, "telehealth:write")
Refusal = inline_serializer("TelehealthRefusal", {"detail": serializers.CharField()})


class StartCursorPagination(CreatedCursorPagination):
    ordering = ("start_at", "id")


class RoomFields(serializers.Serializer):
    """The visit and its room's live status (a room not used yet reads as "created")."""

    id = serializers.UUIDField(source="appointment.public_id", help_text="The appointment's public id")
    patient = serializers.UUIDField(source="appointment.patient.public_id")
    patient_name = serializers.SerializerMethodField()
    provider = serializers.UUIDField(source="appointment.provider.public_id")
    provider_name = serializers.CharField(source="appointment.provider.__str__")
    start_at = serializers.DateTimeField(source="appointment.start_at")
    visit_type = serializers.CharField(source="appointment.visit_type")
    appointment_status = serializers.CharField(source="appointment.status")
    status = serializers.CharField(help_text="The room's status: " + ", ".join(VisitRoom.Status.values))
    since = serializers.DateTimeField(allow_null=True, help_text="When the room entered its status")
    vma = serializers.CharField(source="room.vma.username", default=None, allow_null=True)
    link_sent_at = serializers.DateTimeField(source="room.link_sent_at", default=None, allow_null=True)
    patient_joined_at = serializers.DateTimeField(source="room.patient_joined_at", default=None, allow_null=True)
    tech_check_at = serializers.DateTimeField(source="room.tech_check_at", default=None, allow_null=True)
    roomed_at = serializers.DateTimeField(source="room.roomed_at", default=None, allow_null=True)
    ready_at = serializers.DateTimeField(source="room.ready_at", default=None, allow_null=True)
    provider_joined_at = serializers.DateTimeField(source="room.provider_joined_at", default=None, allow_null=True)
    ended_at = serializers.DateTimeField(source="room.ended_at", default=None, allow_null=True)
    no_join_notified_at = serializers.DateTimeField(source="room.no_join_notified_at", default=None, allow_null=True)
    handoff_note = serializers.CharField(source="room.handoff_note", default="")

    def get_patient_name(self, row: selectors.VisitRow) -> str:
        p = row.appointment.patient
        return f"{p.last_name}, {p.first_name}"


class TelehealthVisitOut(RoomFields):
    pass


class TelehealthCheckOut(serializers.Serializer):
    code = serializers.CharField()
    name = serializers.CharField(source="label")
    done = serializers.BooleanField()
    at = serializers.DateTimeField(allow_null=True)
    by = serializers.CharField()


class TelehealthEventOut(serializers.ModelSerializer):
    actor = serializers.CharField(source="actor.username", default=None, allow_null=True)

    class Meta:
        model = RoomEvent
        fields = ["at", "kind", "actor", "from_status", "to_status", "note"]


class TelehealthRoomOut(RoomFields):
    tech_check_method = serializers.CharField(source="room.tech_check_method", default="")
    end_reason = serializers.CharField(source="room.end_reason", default="")
    checklist = serializers.SerializerMethodField()
    events = serializers.SerializerMethodField()

    @extend_schema_field(TelehealthCheckOut(many=True))
    def get_checklist(self, row: selectors.VisitRow) -> list[dict[str, Any]]:
        assert row.room is not None
        return TelehealthCheckOut(selectors.checklist_rows(row.room), many=True).data  # type: ignore[return-value]

    @extend_schema_field(TelehealthEventOut(many=True))
    def get_events(self, row: selectors.VisitRow) -> list[dict[str, Any]]:
        assert row.room is not None
        return TelehealthEventOut(selectors.room_events(row.room), many=True).data  # type: ignore[return-value]


class TelehealthCheckIn(serializers.Serializer):
    item = serializers.ChoiceField(
        choices=[c for c, _ in workflow.ROOMING_CHECKLIST], help_text="A rooming checklist item's code"
    )
    done = serializers.BooleanField(default=True)


class TelehealthHandOffIn(serializers.Serializer):
    note = serializers.CharField(max_length=workflow.HANDOFF_MAX)


class TelehealthReasonIn(serializers.Serializer):
    reason = serializers.CharField(max_length=300, required=False, allow_blank=True, default="")


def _day(value: str | None) -> date:
    if not value:
        return timezone.localdate()
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ValidationError({"date": ["Use YYYY-MM-DD."]}) from None


ACTION_PERMS = {
    "send_link": INVITE,
    "join": ROOM,
    "tech_check": ROOM,
    "checklist": ROOM,
    "roomed": ROOM,
    "hand_off": ROOM,
    "close": ROOM,
    "provider_join": HOST,
    "end": HOST,
}


@extend_schema_view(
    list=extend_schema(
        parameters=[
            OpenApiParameter("date", str, description="YYYY-MM-DD (default today)"),
            OpenApiParameter("provider", str, description="Provider public id"),
            OpenApiParameter("status", str, enum=VisitRoom.Status.values),
        ],
        responses={200: TelehealthVisitOut(many=True)},
    ),
    retrieve=extend_schema(responses={200: TelehealthRoomOut}),
)
class TelehealthVisitViewSet(viewsets.GenericViewSet):
    """A day's telehealth visits of the caller's care teams, one visit's room, and its steps."""

    queryset = Appointment.objects.none()
    serializer_class = TelehealthVisitOut
    pagination_class = StartCursorPagination
    lookup_field = "public_id"
    lookup_url_kwarg = "id"
    policy = {
        "list": READ,
        "retrieve": READ,
        "send_link": SEND,
        "join": WORK,
        "tech_check": WORK,
        "checklist": WORK,
        "roomed": WORK,
        "hand_off": WORK,
        "close": WORK,
        "provider_join": PROVIDE,
        "end": PROVIDE,
    }

    def get_queryset(self) -> QuerySet[Appointment]:
        user = user_of(self.request)
        if self.action != "list":
            return selectors.telehealth_visits(user, ACTION_PERMS.get(self.action or "", VIEW))
        params = self.request.query_params
        provider = None
        if params.get("provider"):
            try:
                provider = provider_by_public_id(params["provider"])
            except Http404:
                raise ValidationError({"provider": ["No such provider."]}) from None
        qs = selectors.telehealth_visits(user)
        if provider is not None:
            qs = qs.filter(provider=provider)
        qs = selectors.day_visits(qs, _day(params.get("date")))
        if params.get("status"):
            status = params["status"]
            if status not in VisitRoom.Status.values:
                raise ValidationError({"status": [f"One of {', '.join(VisitRoom.Status.values)}."]})
            if status == VisitRoom.Status.CREATED:
                qs = qs.filter(Q(visit_room__isnull=True) | Q(visit_room__status=status))
            else:
                qs = qs.filter(visit_room__status=status)
        return qs

    def list(self, request: Request) -> Response:
        page = self.paginate_queryset(self.get_queryset())
        rows = [selectors.row_of(a) for a in (page or [])]
        record_read(request, rows, action="api.telehealth_visits.list", target=request.path)
        return self.get_paginated_response(TelehealthVisitOut(rows, many=True).data)

    def _room(self) -> VisitRoom:
        visit = selectors.access_visit(user_of(self.request), self.kwargs["id"], ACTION_PERMS.get(self.action, VIEW))
        with transaction.atomic():
            return workflow.ensure_room(visit)

    def _detail(self, room: VisitRoom) -> Response:
        room = selectors.fresh_room(room)
        row = selectors.VisitRow(room.appointment, room)
        record_read(self.request, [room], action="api.telehealth_visits.detail", target=self.request.path)
        return Response(TelehealthRoomOut(row).data)

    def retrieve(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return self._detail(self._room())

    def _step(self, step: Callable[[VisitRoom], object]) -> Response:
        room = self._room()
        try:
            step(room)
        except NotPermitted as exc:
            raise PermissionDenied(exc.message) from None
        return self._detail(room)

    @extend_schema(request=None, responses={200: TelehealthRoomOut, 400: Refusal, 409: Refusal})
    @action(detail=True, methods=["post"], url_path="send-link")
    def send_link(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Send (or resend) the patient's join link through their preferred channel."""
        return self._step(lambda room: workflow.send_link(room, actor=user_of(request)))

    @extend_schema(request=None, responses={200: TelehealthRoomOut, 409: Refusal})
    @action(detail=True, methods=["post"])
    def join(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """The VMA joins the room first (then runs the rooming checklist)."""
        return self._step(lambda room: workflow.vma_join(room, actor=user_of(request)))

    @extend_schema(request=None, responses={200: TelehealthRoomOut, 409: Refusal})
    @action(detail=True, methods=["post"], url_path="tech-check")
    def tech_check(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """The VMA confirms the patient can see and hear (when the patient's page could not)."""
        return self._step(
            lambda room: workflow.pass_tech_check(room, method=VisitRoom.TechCheck.VMA, actor=user_of(request))
        )

    @extend_schema(request=TelehealthCheckIn, responses={200: TelehealthRoomOut, 409: Refusal})
    @action(detail=True, methods=["post"])
    def checklist(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Tick (done=true) or untick one rooming checklist item."""
        body = TelehealthCheckIn(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        return self._step(
            lambda room: workflow.set_check(room, code=data["item"], done=data["done"], actor=user_of(request))
        )

    @extend_schema(request=None, responses={200: TelehealthRoomOut, 409: Refusal})
    @action(detail=True, methods=["post"])
    def roomed(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Rooming complete: refused (409) until the tech check passed and every item is done."""
        return self._step(lambda room: workflow.complete_rooming(room, actor=user_of(request)))

    @extend_schema(request=TelehealthHandOffIn, responses={200: TelehealthRoomOut, 400: Refusal, 409: Refusal})
    @action(detail=True, methods=["post"], url_path="hand-off")
    def hand_off(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """The warm handoff with a note: the patient is ready for the provider."""
        body = TelehealthHandOffIn(data=request.data)
        body.is_valid(raise_exception=True)
        return self._step(
            lambda room: workflow.hand_off(room, note=body.validated_data["note"], actor=user_of(request))
        )

    @extend_schema(request=TelehealthReasonIn, responses={200: TelehealthRoomOut, 400: Refusal, 409: Refusal})
    @action(detail=True, methods=["post"])
    def close(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """A VMA closes the room before the provider joined, with the reason."""
        body = TelehealthReasonIn(data=request.data)
        body.is_valid(raise_exception=True)
        reason = body.validated_data["reason"]
        return self._step(lambda room: workflow.end_visit(room, actor=user_of(request), perm=ROOM, reason=reason))

    @extend_schema(request=None, responses={200: TelehealthRoomOut, 409: Refusal})
    @action(detail=True, methods=["post"], url_path="provider-join")
    def provider_join(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """The visit's provider joins a patient who is ready."""
        return self._step(lambda room: workflow.provider_join(room, actor=user_of(request)))

    @extend_schema(request=TelehealthReasonIn, responses={200: TelehealthRoomOut, 400: Refusal, 409: Refusal})
    @action(detail=True, methods=["post"])
    def end(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """The provider ends the visit (completed), or closes the room early with a reason."""
        body = TelehealthReasonIn(data=request.data)
        body.is_valid(raise_exception=True)
        reason = body.validated_data["reason"]
        return self._step(lambda room: workflow.end_visit(room, actor=user_of(request), perm=HOST, reason=reason))


def register(router: Any) -> None:
    """Register this app's viewsets on the v1 router."""
    router.register("telehealth/visits", TelehealthVisitViewSet, basename="api-televisit")
