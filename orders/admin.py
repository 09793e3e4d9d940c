"""Admin for orders (read-only: only orders/workflow.py changes an order) and providers' authenticators."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from .models import Order, SecondFactorDevice


@admin.register(Order)
class OrderAdmin(admin.ModelAdmin):
    list_display = ["public_id", "kind", "title", "patient", "provider", "status", "pended_at", "signed_at"]
    list_filter = ["status", "kind", "urgency", "controlled_schedule"]
    search_fields = ["public_id", "title", "patient__mrn", "drug"]
    list_select_related = ["patient", "provider"]
    date_hierarchy = "pended_at"
    ordering = ["-pended_at"]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return [f.name for f in Order._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(SecondFactorDevice)
class SecondFactorDeviceAdmin(admin.ModelAdmin):
    """Delete a lost authenticator here, then enroll a new one with `manage.py enroll_otp`. The secret is never shown."""

    list_display = ["user", "confirmed", "confirmed_at", "failed_attempts", "locked_until", "created_at"]
    list_select_related = ["user"]
    exclude = ["secret"]
    readonly_fields = ["user", "confirmed", "confirmed_at", "last_used_counter", "failed_attempts", "created_at"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False
