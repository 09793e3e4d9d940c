"""API error shape: 400 with field messages, 404 for unknown or forbidden, 409 for refused moves."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import exceptions
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_handler

from vma.exceptions import ActionRefused, NotPermitted


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, NotPermitted):
        # Acting on an item one cannot see answers like a missing one.
        return Response({"detail": "Not found."}, status=404)
    if isinstance(exc, ActionRefused):
        return Response({"detail": exc.message}, status=exc.status_code)
    if isinstance(exc, DjangoValidationError):
        detail = exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
        exc = exceptions.ValidationError(detail=detail)
    return drf_handler(exc, context)
