"""Admin for the refill practice data: medication classes, their protocols, red-flag terms (the manager's)."""

from django.contrib import admin

from .models import MedicationClass, RedFlagTerm, RefillProtocol


class RefillProtocolInline(admin.StackedInline):
    model = RefillProtocol
    extra = 0


@admin.register(MedicationClass)
class MedicationClassAdmin(admin.ModelAdmin):
    """`clean()` refuses patterns and lab lines the check could not evaluate."""

    list_display = ("name", "code", "controlled_schedule", "active")
    list_filter = ("active", "controlled_schedule")
    search_fields = ("name", "code")
    inlines = [RefillProtocolInline]


@admin.register(RedFlagTerm)
class RedFlagTermAdmin(admin.ModelAdmin):
    list_display = ("term", "queue", "active")
    list_filter = ("active", "queue")
    search_fields = ("term",)
