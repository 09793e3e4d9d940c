"""Admin for accounts, care teams and API tokens. Patient data is not in the admin."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.http import HttpRequest
from django.utils import timezone
from guardian.admin import GuardedModelAdmin

from .access import API_SCOPES
from .api.auth import create_token
from .models import ApiToken, CareTeam, User


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    fieldsets = (
        *(BaseUserAdmin.fieldsets or ()),
        ("Practice", {"fields": ("npi", "credentials", "is_service_account")}),
    )
    list_display = ("username", "first_name", "last_name", "credentials", "npi", "is_active")


@admin.register(CareTeam)
class CareTeamAdmin(GuardedModelAdmin):
    """Membership is the guardian permission `access_panel` (the "Object permissions" button)."""

    list_display = ("name", "provider", "created_at")


class ApiTokenForm(forms.ModelForm):
    scopes = forms.MultipleChoiceField(choices=sorted(API_SCOPES.items()), widget=forms.CheckboxSelectMultiple)
    expires_at = forms.DateTimeField(initial=lambda: timezone.now() + timedelta(days=90))

    class Meta:
        model = ApiToken
        fields = ("name", "user", "scopes", "expires_at")


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    form = ApiTokenForm
    list_display = ("name", "user", "prefix", "expires_at", "last_used_at", "revoked_at")
    readonly_fields = ("prefix", "created_at", "created_by", "last_used_at")
    actions = ("revoke",)

    def save_model(self, request: HttpRequest, obj: ApiToken, form: Any, change: bool) -> None:
        if change:
            super().save_model(request, obj, form, change)
            return
        token, raw = create_token(
            name=obj.name,
            user=obj.user,
            scopes=list(form.cleaned_data["scopes"]),
            expires_at=obj.expires_at,
            created_by=request.user,  # type: ignore[arg-type]
        )
        obj.pk = token.pk
        messages.warning(request, f"Copy this token now; it is shown only once: {raw}")

    @admin.action(description="Revoke selected tokens")
    def revoke(self, request: HttpRequest, queryset: Any) -> None:
        queryset.filter(revoked_at__isnull=True).update(revoked_at=timezone.now())
