"""Admin for scheduling practice data: appointment types, locations, weekly templates, blocks."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from .models import AppointmentType, Location, Reminder, ScheduleBlock, ScheduleTemplate, TemplateBlock, WaitlistEntry


@admin.register(AppointmentType)
class AppointmentTypeAdmin(admin.ModelAdmin):
    list_display = [
        "name",
        "duration_minutes",
        "patient_kind",
        "telehealth",
        "needs_prior_auth_check",
        "colour",
        "active",
    ]
    list_filter = ["active", "telehealth"]


@admin.register(Location)
class LocationAdmin(admin.ModelAdmin):
    list_display = ["name", "address"]


class TemplateBlockInline(admin.TabularInline):
    model = TemplateBlock
    extra = 0


@admin.register(ScheduleTemplate)
class ScheduleTemplateAdmin(admin.ModelAdmin):
    list_display = ["provider", "weekday", "location", "start_time", "end_time"]
    list_filter = ["weekday", "location"]
    list_select_related = ["provider", "location"]
    inlines = [TemplateBlockInline]


@admin.register(ScheduleBlock)
class ScheduleBlockAdmin(admin.ModelAdmin):
    list_display = ["provider", "kind", "start_at", "end_at", "note"]
    list_filter = ["kind"]
    list_select_related = ["provider"]


@admin.register(WaitlistEntry)
class WaitlistEntryAdmin(admin.ModelAdmin):
    list_display = ["patient", "appointment_type", "provider", "part_of_day", "status", "created_at"]
    list_filter = ["status"]
    list_select_related = ["patient", "appointment_type", "provider"]
    raw_id_fields = ["patient"]


@admin.register(Reminder)
class ReminderAdmin(admin.ModelAdmin):
    """Read-only: reminders are written by the sweep and the send handler only."""

    list_display = ["appointment", "offset_hours", "channel", "status", "attempts", "sent_at"]
    list_filter = ["status", "channel"]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return [f.name for f in Reminder._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False
