"""Admin for payers (practice data). Patients and their records are worked in the portal pages."""

from django.contrib import admin

from .models import CareGapRule, Payer, StandingOrderProtocol


@admin.register(Payer)
class PayerAdmin(admin.ModelAdmin):
    list_display = ("name", "payer_id", "requires_referral", "timely_filing_days", "active")
    search_fields = ("name", "payer_id")


@admin.register(CareGapRule)
class CareGapRuleAdmin(admin.ModelAdmin):
    """The practice manager keeps the rules; `clean()` refuses evidence that cannot be evaluated."""

    list_display = ("title", "code", "sex", "min_age", "max_age", "seasonal", "active", "sort_order")
    list_filter = ("active", "seasonal", "sex")
    search_fields = ("code", "title")


@admin.register(StandingOrderProtocol)
class StandingOrderProtocolAdmin(admin.ModelAdmin):
    list_display = ("title", "code", "procedure", "interval_months", "active", "sort_order")
    list_filter = ("active",)
    search_fields = ("code", "title")
