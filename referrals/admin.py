"""Admin: the specialist directory and the follow-up cadence (practice data). Referrals themselves
are worked on their pages: their status changes only through referrals/workflow.py."""

from __future__ import annotations

from django.contrib import admin

from .models import FollowUpRule, Specialist


@admin.register(Specialist)
class SpecialistAdmin(admin.ModelAdmin):
    list_display = ("organisation", "name", "specialty", "npi", "contact_method", "active")
    list_filter = ("specialty", "contact_method", "active")
    search_fields = ("organisation", "name", "specialty", "npi")
    filter_horizontal = ("accepted_payers",)
    raw_id_fields = ("service_account",)
    readonly_fields = ("public_id", "created_at", "updated_at")


@admin.register(FollowUpRule)
class FollowUpRuleAdmin(admin.ModelAdmin):
    list_display = ("code", "days", "urgent_days", "business_days", "active")
    list_editable = ("days", "urgent_days", "business_days", "active")
