"""Admin for payers (practice data). Patients and their records are worked in the portal pages."""

from django.contrib import admin

from .models import Payer


@admin.register(Payer)
class PayerAdmin(admin.ModelAdmin):
    list_display = ("name", "payer_id", "requires_referral", "timely_filing_days", "active")
    search_fields = ("name", "payer_id")
