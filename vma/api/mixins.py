"""Read audit for API views: every list page and detail records the patients it returned."""

from __future__ import annotations

from typing import Any

from rest_framework import mixins, viewsets
from rest_framework.request import Request
from rest_framework.response import Response

from vma.audit import record_read


class AuditedReadMixin:
    audit_action = "api.read"

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        queryset = self.filter_queryset(self.get_queryset())  # type: ignore[attr-defined]
        page = self.paginate_queryset(queryset)  # type: ignore[attr-defined]
        rows = list(page) if page is not None else list(queryset)
        record_read(request, rows, action=f"{self.audit_action}.list", target=request.path)
        data = self.get_serializer(rows, many=True).data  # type: ignore[attr-defined]
        return self.get_paginated_response(data) if page is not None else Response(data)  # type: ignore[attr-defined]

    def retrieve(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        obj = self.get_object()  # type: ignore[attr-defined]
        record_read(request, [obj], action=f"{self.audit_action}.detail", target=request.path)
        return Response(self.get_serializer(obj).data)  # type: ignore[attr-defined]


class PatientDataViewSet(
    AuditedReadMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    viewsets.GenericViewSet,
):
    """List, detail, create and PATCH of patient data, addressed by public UUID, reads audited."""

    lookup_field = "public_id"
    lookup_url_kwarg = "id"
    http_method_names = ["get", "post", "patch", "head", "options"]
