"""Admin for intake: a practice manager edits forms and rules; packets are read-only here."""

from __future__ import annotations

import uuid
from typing import Any

from django.contrib import admin, messages
from django.db import transaction
from django.db.models import Max
from django.http import HttpRequest

from .models import IntakePacket, IntakeRule, Questionnaire


@admin.register(Questionnaire)
class QuestionnaireAdmin(admin.ModelAdmin):
    list_display = ["title", "code", "version", "active", "position", "created_at"]
    list_filter = ["active"]
    search_fields = ["code", "title"]
    readonly_fields = ["version", "created_at", "updated_at"]
    help_texts = {
        "definition": '{"scoring": "phq9"|"gad7"|null, "sections": [{"title": …, "questions": [{"id", "text", '
        '"type", "options": [{"value", "label", "score"}], "required", "maps_to"}]}]}'
    }

    def get_form(self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any) -> Any:
        form = super().get_form(request, obj, change=change, **kwargs)
        form.base_fields["definition"].help_text = self.help_texts["definition"]
        return form

    @transaction.atomic
    def save_model(self, request: HttpRequest, obj: Questionnaire, form: Any, change: bool) -> None:
        # A form a patient already answered is never edited in place: the edit becomes a new version
        # (the answers stay readable against the questions they were given).
        latest = Questionnaire.objects.filter(code=obj.code).aggregate(v=Max("version"))["v"] or 0
        if change and obj.pk and Questionnaire.objects.get(pk=obj.pk).is_used():
            Questionnaire.objects.filter(code=obj.code, active=True).update(active=False)
            obj.pk = None  # type: ignore[assignment]
            obj._state.adding = True
            obj.version = latest + 1
            obj.public_id = uuid.uuid4()
            messages.info(request, f"That form was already used: saved as version {obj.version}.")
        elif not change:
            obj.version = latest + 1
            if obj.active:
                Questionnaire.objects.filter(code=obj.code, active=True).update(active=False)
        elif obj.active:
            Questionnaire.objects.filter(code=obj.code, active=True).exclude(pk=obj.pk).update(active=False)
        super().save_model(request, obj, form, change)


@admin.register(IntakeRule)
class IntakeRuleAdmin(admin.ModelAdmin):
    list_display = ["visit_type", "send_hours_before", "active"]
    filter_horizontal = ["questionnaires"]


@admin.register(IntakePacket)
class IntakePacketAdmin(admin.ModelAdmin):
    list_display = ["public_id", "status", "expires_at", "sent_at", "submitted_at"]
    list_filter = ["status"]
    ordering = ["-created_at"]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return [f.name for f in IntakePacket._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
