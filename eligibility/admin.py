"""Admin for eligibility checks: read-only (only eligibility/workflow.py changes a check)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from .models import EligibilityCheck


@admin.register(EligibilityCheck)
class EligibilityCheckAdmin(admin.ModelAdmin):
    list_display = ["trace_number", "patient", "coverage", "service_date", "status", "attempts", "requested_at"]
    list_filter = ["status", "service_date"]
    search_fields = ["trace_number", "patient__mrn"]
    list_select_related = ["patient", "coverage__payer"]
    date_hierarchy = "requested_at"
    ordering = ["-requested_at"]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return [f.name for f in EligibilityCheck._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
