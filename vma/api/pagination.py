"""Cursor pagination: stable under inserts, constant cost on deep pages."""

from rest_framework.pagination import CursorPagination


class CreatedCursorPagination(CursorPagination):
    ordering: tuple[str, ...] = ("-created_at", "-id")
    page_size = 50
    max_page_size = 200
    page_size_query_param = "page_size"


class NameCursorPagination(CreatedCursorPagination):
    ordering = ("last_name", "first_name", "id")


class DueCursorPagination(CreatedCursorPagination):
    ordering = ("priority", "due_at", "id")
