"""Work-item API: list, detail, and the same actions as the queue page."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from vma import workflow
from vma.http import user_of
from vma.models import User, WorkItem
from vma.roles import QUEUE_VALUES
from vma.selectors import access_work_item, visible_work_items

from .mixins import AuditedReadMixin
from .pagination import DueCursorPagination

READ = ("vma.view_workitem", "workitems:read")
WRITE = ("vma.work_workitem", "workitems:write")


class WorkItemOut(serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id")
    patient = serializers.SerializerMethodField()
    assignee: serializers.SlugRelatedField = serializers.SlugRelatedField(slug_field="username", read_only=True)
    subject_type = serializers.CharField(source="subject_type.model", read_only=True)

    class Meta:
        model = WorkItem
        fields = [
            "id",
            "kind",
            "title",
            "detail",
            "status",
            "priority",
            "queue",
            "due_at",
            "snoozed_until",
            "patient",
            "assignee",
            "subject_type",
            "escalation_reason",
            "resolution_note",
            "created_at",
            "closed_at",
        ]

    def get_patient(self, obj: WorkItem) -> dict[str, str] | None:
        p = obj.patient
        return None if p is None else {"id": str(p.public_id), "mrn": p.mrn, "name": p.full_name}


class ClaimNextIn(serializers.Serializer):
    queue = serializers.ChoiceField(choices=QUEUE_VALUES, required=False)
    kind = serializers.CharField(required=False, max_length=80)


class NoteIn(serializers.Serializer):
    note = serializers.CharField(max_length=4000, allow_blank=False, trim_whitespace=True)


class OptionalNoteIn(serializers.Serializer):
    note = serializers.CharField(max_length=4000, required=False, allow_blank=True, default="")


class EscalateIn(serializers.Serializer):
    queue = serializers.ChoiceField(choices=QUEUE_VALUES)
    reason = serializers.CharField(max_length=2000)


class SnoozeIn(serializers.Serializer):
    until = serializers.DateTimeField()
    note = serializers.CharField(max_length=2000, required=False, allow_blank=True, default="")


class ReassignIn(serializers.Serializer):
    user = serializers.UUIDField(help_text="The public id of the person to take the item.")
    note = serializers.CharField(max_length=2000, required=False, allow_blank=True, default="")


class WorkItemViewSet(AuditedReadMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    queryset = WorkItem.objects.none()  # for the schema; get_queryset() scopes every request
    serializer_class = WorkItemOut
    pagination_class = DueCursorPagination
    lookup_field = "public_id"
    lookup_url_kwarg = "id"
    audit_action = "api.workitems"
    policy = {
        "read": READ,
        "list": READ,
        "retrieve": READ,
        "claim_next": WRITE,
        "claim": WRITE,
        "release": WRITE,
        "complete": WRITE,
        "escalate": WRITE,
        "snooze": WRITE,
        "reassign": ("vma.view_workitem", "workitems:write"),
    }

    def get_queryset(self) -> QuerySet[WorkItem]:
        qs = visible_work_items(user_of(self.request)).select_related("patient", "assignee", "subject_type")
        params = self.request.query_params
        status_ = params.get("status")
        qs = qs.filter(status=status_) if status_ else qs.filter(status__in=WorkItem.OPEN_STATES)
        for field in ("queue", "kind"):
            if params.get(field):
                qs = qs.filter(**{field: params[field]})
        if params.get("mine") in {"1", "true"}:
            qs = qs.filter(assignee=user_of(self.request))
        return qs

    def _item(self) -> WorkItem:
        return access_work_item(user_of(self.request), self.kwargs["id"])

    def _done(self, request: Request, item: WorkItem, code: int = status.HTTP_200_OK) -> Response:
        return Response(WorkItemOut(item, context={"request": request}).data, status=code)

    @extend_schema(request=ClaimNextIn, responses={200: WorkItemOut, 204: None})
    @action(detail=False, methods=["post"], url_path="claim-next")
    def claim_next(self, request: Request) -> Response:
        data = _valid(ClaimNextIn, request)
        item = workflow.claim_next(actor=user_of(request), queue=data.get("queue"), kind=data.get("kind"))
        if item is None:
            return Response(status=status.HTTP_204_NO_CONTENT)
        return self._done(request, item)

    @extend_schema(request=None, responses=WorkItemOut)
    @action(detail=True, methods=["post"])
    def claim(self, request: Request, id: str) -> Response:
        return self._done(request, workflow.claim_item(self._item(), actor=user_of(request)))

    @extend_schema(request=OptionalNoteIn, responses=WorkItemOut)
    @action(detail=True, methods=["post"])
    def release(self, request: Request, id: str) -> Response:
        data = _valid(OptionalNoteIn, request)
        return self._done(request, workflow.release_item(self._item(), actor=user_of(request), note=data["note"]))

    @extend_schema(request=NoteIn, responses=WorkItemOut)
    @action(detail=True, methods=["post"])
    def complete(self, request: Request, id: str) -> Response:
        data = _valid(NoteIn, request)
        return self._done(request, workflow.complete_item(self._item(), actor=user_of(request), note=data["note"]))

    @extend_schema(request=EscalateIn, responses=WorkItemOut)
    @action(detail=True, methods=["post"])
    def escalate(self, request: Request, id: str) -> Response:
        data = _valid(EscalateIn, request)
        item = workflow.escalate_item(
            self._item(), actor=user_of(request), to_queue=data["queue"], reason=data["reason"]
        )
        return self._done(request, item)

    @extend_schema(request=SnoozeIn, responses=WorkItemOut)
    @action(detail=True, methods=["post"])
    def snooze(self, request: Request, id: str) -> Response:
        data = _valid(SnoozeIn, request)
        item = workflow.snooze_item(self._item(), actor=user_of(request), until=data["until"], note=data["note"])
        return self._done(request, item)

    @extend_schema(request=ReassignIn, responses=WorkItemOut)
    @action(detail=True, methods=["post"])
    def reassign(self, request: Request, id: str) -> Response:
        data = _valid(ReassignIn, request)
        to_user = User.objects.filter(public_id=data["user"], is_active=True).first()
        if to_user is None:
            raise serializers.ValidationError({"user": ["No such active user."]})
        item = workflow.reassign_item(self._item(), actor=user_of(request), to_user=to_user, note=data["note"])
        return self._done(request, item)


def _valid(serializer_class: type[serializers.Serializer], request: Request) -> dict[str, Any]:
    s = serializer_class(data=request.data)
    s.is_valid(raise_exception=True)
    return dict(s.validated_data)
