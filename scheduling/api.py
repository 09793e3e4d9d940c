"""Appointment API: list and read one's patients' visits, book, reschedule, confirm, cancel, find slots."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.db.models import QuerySet
from django.http import Http404
from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field, extend_schema_view
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from eligibility.priorauth_services import authorization_flags
from vma.access import access_patient
from vma.api.mixins import AuditedReadMixin
from vma.api.pagination import CreatedCursorPagination
from vma.audit import record_read
from vma.exceptions import NotPermitted
from vma.http import user_of

from . import services, workflow
from .models import Appointment, AppointmentType, WaitlistEntry
from .selectors import (
    access_waitlist_entry,
    accessible_appointments,
    find_slots,
    provider_by_public_id,
    waitlist_entries,
)

READ = ("scheduling.view_appointment", "appointments:read")
BOOK = ("scheduling.add_appointment", "appointments:write")
CHANGE = ("scheduling.change_appointment", "appointments:write")


class StartCursorPagination(CreatedCursorPagination):
    ordering = ("start_at", "id")


class AppointmentOut(serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id")
    patient = serializers.UUIDField(source="patient.public_id")
    provider = serializers.UUIDField(source="provider.public_id")
    provider_name = serializers.CharField(source="provider.__str__")
    appointment_type = serializers.UUIDField(source="appointment_type.public_id", allow_null=True, default=None)
    location = serializers.CharField(source="location.name", allow_null=True, default=None)
    rescheduled_to = serializers.UUIDField(source="rescheduled_to.public_id", allow_null=True, default=None)
    join_url = serializers.CharField()
    prior_authorization = serializers.SerializerMethodField(
        help_text="The visit's prior-authorization state: missing, pending, approved, denied, or null when none is needed."
    )

    class Meta:
        model = Appointment
        fields = [
            "id",
            "patient",
            "provider",
            "provider_name",
            "appointment_type",
            "visit_type",
            "location",
            "start_at",
            "end_at",
            "duration_minutes",
            "telehealth",
            "join_url",
            "reason",
            "status",
            "late_cancel",
            "cancel_reason",
            "rescheduled_to",
            "prior_authorization",
            "created_at",
        ]

    @extend_schema_field(serializers.ChoiceField(choices=["missing", "pending", "approved", "denied"], allow_null=True))
    def get_prior_authorization(self, obj: Appointment) -> str | None:
        flags = self.context.get("pa_flags")
        if flags is None or obj.pk not in flags:  # a single visit: one query
            return authorization_flags([obj])[obj.pk]
        return flags[obj.pk]


def _type(public_id: Any) -> AppointmentType:
    found = AppointmentType.objects.filter(active=True, public_id=public_id).first()
    if found is None:
        raise serializers.ValidationError({"appointment_type": ["No such appointment type."]})
    return found


def _provider(public_id: Any) -> Any:
    try:
        return provider_by_public_id(public_id)
    except Http404:
        raise serializers.ValidationError({"provider": ["No such provider."]}) from None


class BookIn(serializers.Serializer):
    patient = serializers.UUIDField(help_text="Public id of one of your patients.")
    provider = serializers.UUIDField()
    appointment_type = serializers.UUIDField()
    start_at = serializers.DateTimeField()
    reason = serializers.CharField(required=False, allow_blank=True, max_length=200, default="")


class RescheduleIn(serializers.Serializer):
    start_at = serializers.DateTimeField()
    provider = serializers.UUIDField(required=False, help_text="By default the same provider.")
    appointment_type = serializers.UUIDField(required=False, help_text="By default the same type.")


class CancelIn(serializers.Serializer):
    reason = serializers.CharField(max_length=200)


class SlotsIn(serializers.Serializer):
    appointment_type = serializers.UUIDField()
    provider = serializers.UUIDField(required=False)
    date_from = serializers.DateField(required=False)
    date_to = serializers.DateField(required=False)
    weekdays = serializers.CharField(required=False, help_text="Comma-separated, 0 = Monday.")
    part_of_day = serializers.ChoiceField(choices=WaitlistEntry.PartOfDay.values, required=False, default="any")
    limit = serializers.IntegerField(required=False, min_value=1, max_value=100, default=20)

    def validate_weekdays(self, value: str) -> list[int]:
        try:
            days = sorted({int(v) for v in value.split(",") if v.strip()})
        except ValueError:
            raise serializers.ValidationError("Comma-separated numbers 0 (Monday) to 6 (Sunday).") from None
        if any(d < 0 or d > 6 for d in days):
            raise serializers.ValidationError("Comma-separated numbers 0 (Monday) to 6 (Sunday).")
        return days


class WaitlistOut(serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id")
    patient = serializers.UUIDField(source="patient.public_id")
    appointment_type = serializers.UUIDField(source="appointment_type.public_id", allow_null=True, default=None)
    provider = serializers.UUIDField(source="provider.public_id", allow_null=True, default=None)

    class Meta:
        model = WaitlistEntry
        fields = [
            "id",
            "patient",
            "appointment_type",
            "provider",
            "weekdays",
            "part_of_day",
            "earliest_date",
            "latest_date",
            "note",
            "status",
            "created_at",
        ]


class WaitlistIn(serializers.Serializer):
    patient = serializers.UUIDField(help_text="Public id of one of your patients.")
    appointment_type = serializers.UUIDField(required=False, allow_null=True, help_text="Empty: any type.")
    provider = serializers.UUIDField(required=False, allow_null=True, help_text="Empty: any provider.")
    weekdays = serializers.ListField(
        child=serializers.IntegerField(min_value=0, max_value=6), required=False, default=list
    )
    part_of_day = serializers.ChoiceField(choices=WaitlistEntry.PartOfDay.values, required=False, default="any")
    earliest_date = serializers.DateField(required=False, allow_null=True, default=None)
    latest_date = serializers.DateField(required=False, allow_null=True, default=None)
    note = serializers.CharField(required=False, allow_blank=True, max_length=200, default="")

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if attrs["earliest_date"] and attrs["latest_date"] and attrs["latest_date"] < attrs["earliest_date"]:
            raise serializers.ValidationError({"latest_date": ["Must not be before earliest_date."]})
        return attrs


class SlotOut(serializers.Serializer):
    provider = serializers.UUIDField(source="provider.public_id")
    provider_name = serializers.CharField(source="provider.__str__")
    start_at = serializers.DateTimeField(source="start")
    end_at = serializers.DateTimeField(source="end")
    location = serializers.CharField(source="location.name", allow_null=True, default=None)


@extend_schema_view(
    list=extend_schema(
        parameters=[
            OpenApiParameter("patient", str, description="Patient public id"),
            OpenApiParameter("status", str, description="One status", enum=Appointment.Status.values),
        ]
    ),
)
class AppointmentViewSet(
    AuditedReadMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin, viewsets.GenericViewSet
):
    queryset = Appointment.objects.none()  # for the schema; get_queryset() scopes every request
    serializer_class = AppointmentOut
    lookup_field = "public_id"
    lookup_url_kwarg = "id"
    pagination_class = StartCursorPagination
    audit_action = "api.appointments"
    http_method_names = ["get", "post", "delete", "head", "options"]
    policy = {
        "read": READ,
        "list": READ,
        "retrieve": READ,
        "find_slots": READ,
        "create": BOOK,
        "reschedule": CHANGE,
        "cancel": CHANGE,
        "confirm": CHANGE,
        "check_in": CHANGE,
        "in_room": CHANGE,
        "complete": CHANGE,
        "no_show": CHANGE,
        "waitlist": READ,
        "add_to_waitlist": BOOK,
        "remove_from_waitlist": BOOK,
    }

    def get_serializer(self, *args: Any, **kwargs: Any) -> Any:
        """A list page's prior-auth flags come from one batch query, whatever its length."""
        if args and kwargs.get("many"):
            rows = list(args[0])
            context = kwargs.setdefault("context", self.get_serializer_context())
            context["pa_flags"] = authorization_flags(rows)
            args = (rows, *args[1:])
        return super().get_serializer(*args, **kwargs)

    def get_queryset(self) -> QuerySet[Appointment]:
        qs = accessible_appointments(user_of(self.request)).select_related(
            "patient", "provider", "appointment_type", "location", "rescheduled_to"
        )
        params = self.request.query_params
        if params.get("patient"):
            try:
                qs = qs.filter(patient__public_id=params["patient"])
            except Exception:  # noqa: BLE001 - a malformed id finds nothing, like an unknown one
                return qs.none()
        if params.get("status"):
            qs = qs.filter(status=params["status"])
        return qs

    @extend_schema(request=BookIn, responses={201: AppointmentOut})
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Book a visit: 201, or 409 with the reason when the time is taken, blocked or outside hours."""
        s = BookIn(data=request.data)
        s.is_valid(raise_exception=True)
        user = user_of(request)
        try:
            patient = access_patient(user, s.validated_data["patient"], "scheduling.add_appointment")
        except Http404:
            raise serializers.ValidationError({"patient": ["No such patient."]}) from None
        appointment = services.book_appointment(
            patient=patient,
            provider=_provider(s.validated_data["provider"]),
            appointment_type=_type(s.validated_data["appointment_type"]),
            start_at=s.validated_data["start_at"],
            reason=s.validated_data["reason"],
            actor=user,
        )
        return Response(AppointmentOut(appointment).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=RescheduleIn, responses={201: AppointmentOut})
    @action(detail=True, methods=["post"])
    def reschedule(self, request: Request, id: str | None = None) -> Response:
        """Move the visit: the new one is returned (201); the old one is `rescheduled` and links to it."""
        appointment = self.get_object()
        s = RescheduleIn(data=request.data)
        s.is_valid(raise_exception=True)
        data = s.validated_data
        new = self._act(
            workflow.reschedule_appointment,
            appointment,
            start_at=data["start_at"],
            provider=_provider(data["provider"]) if data.get("provider") else None,
            appointment_type=_type(data["appointment_type"]) if data.get("appointment_type") else None,
        )
        return Response(AppointmentOut(new).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=CancelIn, responses={200: AppointmentOut})
    @action(detail=True, methods=["post"])
    def cancel(self, request: Request, id: str | None = None) -> Response:
        appointment = self.get_object()
        s = CancelIn(data=request.data)
        s.is_valid(raise_exception=True)
        done = self._act(workflow.cancel_appointment, appointment, reason=s.validated_data["reason"])
        return Response(AppointmentOut(done).data)

    @extend_schema(request=None, responses={200: AppointmentOut})
    @action(detail=True, methods=["post"])
    def confirm(self, request: Request, id: str | None = None) -> Response:
        done = self._act(workflow.confirm_appointment, self.get_object())
        return Response(AppointmentOut(done).data)

    @extend_schema(request=None, responses={200: AppointmentOut})
    @action(detail=True, methods=["post"], url_path="check-in")
    def check_in(self, request: Request, id: str | None = None) -> Response:
        """Check the patient in: 200, or 409 when the visit's status does not allow it."""
        return Response(AppointmentOut(self._act(workflow.check_in_appointment, self.get_object())).data)

    @extend_schema(request=None, responses={200: AppointmentOut})
    @action(detail=True, methods=["post"], url_path="in-room")
    def in_room(self, request: Request, id: str | None = None) -> Response:
        """The checked-in patient is in an exam room: 200, or 409."""
        return Response(AppointmentOut(self._act(workflow.room_appointment, self.get_object())).data)

    @extend_schema(request=None, responses={200: AppointmentOut})
    @action(detail=True, methods=["post"])
    def complete(self, request: Request, id: str | None = None) -> Response:
        """The visit is over: 200, or 409 unless the patient was in a room."""
        return Response(AppointmentOut(self._act(workflow.complete_appointment, self.get_object())).data)

    @extend_schema(request=None, responses={200: AppointmentOut})
    @action(detail=True, methods=["post"], url_path="no-show")
    def no_show(self, request: Request, id: str | None = None) -> Response:
        """The patient did not come: 200, or 409 once they checked in or the visit ended otherwise."""
        return Response(AppointmentOut(self._act(workflow.mark_no_show, self.get_object())).data)

    def _act(self, fn: Any, appointment: Appointment, **kwargs: Any) -> Appointment:
        try:
            result: Appointment = fn(appointment, actor=user_of(self.request), **kwargs)
        except NotPermitted:
            raise Http404 from None
        return result

    @extend_schema(responses={200: WaitlistOut(many=True)})
    @action(detail=False, methods=["get"], url_path="waitlist", pagination_class=None)
    def waitlist(self, request: Request) -> Response:
        """Waiting entries of your care teams' patients, oldest first."""
        entries = list(waitlist_entries(user_of(request))[:500])
        record_read(request, entries, action="api.waitlist.list", target=request.path)
        return Response(WaitlistOut(entries, many=True).data)

    @extend_schema(request=WaitlistIn, responses={201: WaitlistOut})
    @waitlist.mapping.post
    def add_to_waitlist(self, request: Request) -> Response:
        """Put one of your patients on the waitlist with what would suit them."""
        s = WaitlistIn(data=request.data)
        s.is_valid(raise_exception=True)
        data = s.validated_data
        user = user_of(request)
        try:
            patient = access_patient(user, data["patient"], "scheduling.add_appointment")
        except Http404:
            raise serializers.ValidationError({"patient": ["No such patient."]}) from None
        entry = services.add_to_waitlist(
            patient,
            actor=user,
            appointment_type=_type(data["appointment_type"]) if data.get("appointment_type") else None,
            provider=_provider(data["provider"]) if data.get("provider") else None,
            weekdays=data["weekdays"],
            part_of_day=data["part_of_day"],
            earliest_date=data["earliest_date"],
            latest_date=data["latest_date"],
            note=data["note"],
        )
        return Response(WaitlistOut(entry).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=None, responses={204: None})
    @action(
        detail=False, methods=["delete"], url_path=r"waitlist/(?P<entry>[0-9a-fA-F-]{36})", url_name="waitlist-entry"
    )
    def remove_from_waitlist(self, request: Request, entry: str) -> Response:
        """Take an entry off the waitlist (kept as `removed`); another team's entry is 404."""
        user = user_of(request)
        found = access_waitlist_entry(user, entry, "scheduling.add_appointment")
        try:
            services.remove_from_waitlist(found, actor=user)
        except NotPermitted:
            raise Http404 from None
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(parameters=[SlotsIn], responses={200: SlotOut(many=True)})
    @action(detail=False, methods=["get"], url_path="find-slots", pagination_class=None)
    def find_slots(self, request: Request) -> Response:
        """The earliest free slots for a type (any provider unless one is given), honouring the
        patient's preferred weekdays and part of day."""
        s = SlotsIn(data=request.query_params)
        s.is_valid(raise_exception=True)
        data = s.validated_data
        today = timezone.localdate()
        date_from = data.get("date_from") or today
        date_to = data.get("date_to") or date_from + timedelta(days=14)
        if date_to < date_from:
            raise serializers.ValidationError({"date_to": ["Must not be before date_from."]})
        slots = find_slots(
            _type(data["appointment_type"]),
            provider=_provider(data["provider"]) if data.get("provider") else None,
            date_from=date_from,
            date_to=date_to,
            weekdays=data.get("weekdays") or None,
            part_of_day=data["part_of_day"],
            limit=data["limit"],
        )
        return Response(SlotOut(slots, many=True).data)
