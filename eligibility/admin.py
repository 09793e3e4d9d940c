"""Admin for eligibility checks: read-only (only eligibility/workflow.py changes a check)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from .models import EligibilityCheck, PriorAuthorization, PriorAuthRule


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


@admin.register(PriorAuthRule)
class PriorAuthRuleAdmin(admin.ModelAdmin):
    """Practice data a manager keeps: which payer wants authorization for which code or category."""

    list_display = [
        "code",
        "category",
        "payer",
        "required",
        "turnaround_days",
        "active",
        "effective_from",
        "effective_to",
    ]
    list_filter = ["active", "required", "payer"]
    search_fields = ["code", "category", "payer__name", "notes"]
    list_select_related = ["payer"]
    ordering = ["code", "category", "-effective_from"]


@admin.register(PriorAuthorization)
class PriorAuthorizationAdmin(admin.ModelAdmin):
    """Read-only: only eligibility/priorauth.py changes an authorization."""

    list_display = ["public_id", "patient", "payer", "service_code", "status", "urgency", "decision_due_at"]
    list_filter = ["status", "urgency"]
    search_fields = ["authorization_number", "payer_reference", "patient__mrn", "service_code"]
    list_select_related = ["patient", "payer"]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return [f.name for f in PriorAuthorization._meta.fields] + ["supporting_documents"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
