"""Page forms for orders. Fields stay loose here: orders.services.clean_fields says what is wrong, per
kind, for the page and the API alike, and the bound form re-renders with what was typed."""

from __future__ import annotations

from typing import Any, cast

from django import forms
from django.core.exceptions import ValidationError

from encounters.models import EncounterDiagnosis

from .models import Order
from .services import EDITABLE_FIELDS

NUMBER = {"inputmode": "numeric"}


def _text(label: str, limit: int, **attrs: str) -> forms.CharField:
    return forms.CharField(
        label=label, max_length=limit, required=False, widget=forms.TextInput(attrs={"maxlength": limit, **attrs})
    )


def _number(label: str, **attrs: str) -> forms.CharField:
    return forms.CharField(label=label, max_length=6, required=False, widget=forms.TextInput(attrs={**NUMBER, **attrs}))


class OrderForm(forms.Form):
    """Every kind's fields; the page shows the chosen kind's (fieldsets with data-kinds)."""

    kind = forms.ChoiceField(label="Order", choices=[("", "Choose…"), *Order.Kind.choices], required=False)
    diagnosis = forms.ChoiceField(label="For diagnosis", required=False)
    urgency = forms.ChoiceField(choices=Order.Urgency.choices, initial=Order.Urgency.ROUTINE, required=False)
    title = _text("Test or study", 200, placeholder="Lipid panel")
    procedure_code = _text("Code (CPT/LOINC, optional)", 12, placeholder="80061")
    result_expected_days = _number("Result expected in (days)", placeholder="7")
    drug = _text("Drug", 200, placeholder="atorvastatin")
    strength = _text("Strength", 60, placeholder="20 mg")
    sig = _text("Sig", 200, placeholder="take 1 tablet daily")
    quantity = _number("Quantity", placeholder="30")
    days_supply = _number("Days supply (optional)", placeholder="30")
    refills = _number("Refills", placeholder="0")
    pharmacy = _text("Pharmacy", 200, placeholder="Main Street Pharmacy")
    controlled_schedule = forms.ChoiceField(label="Controlled", choices=Order.Schedule.choices, required=False)
    specialty = _text("Specialty", 80, placeholder="Cardiology")
    reason = _text("Reason for referral", 300)
    follow_up_in_days = _number("Follow up in (days)", placeholder="28")
    instructions = _text("Instructions (optional)", 500)

    # The fieldsets: which kinds each is for (space-separated), its legend and fields. Lab and imaging
    # share theirs: one input per name, so the POST never carries two values for one field.
    FIELDSETS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
        ("lab imaging", "Test or study", ("title", "procedure_code", "result_expected_days")),
        (
            "prescription",
            "Prescription",
            ("drug", "strength", "sig", "quantity", "days_supply", "refills", "pharmacy", "controlled_schedule"),
        ),
        ("referral", "Referral", ("specialty", "reason")),
        ("follow_up", "Follow-up", ("follow_up_in_days",)),
    )

    def __init__(self, *args: Any, diagnoses: list[EncounterDiagnosis], kind: str | None = None, **kwargs: Any):
        super().__init__(*args, **kwargs)
        diagnosis = cast(forms.ChoiceField, self.fields["diagnosis"])
        diagnosis.choices = [("", "Choose…")] + [(str(d.public_id), f"{d.code} {d.description}") for d in diagnoses]
        if kind:  # editing: the kind is fixed (a different kind is a new order)
            kind_field = cast(forms.ChoiceField, self.fields["kind"])
            kind_field.choices = [(kind, Order.Kind(kind).label)]
            kind_field.initial = kind

    @classmethod
    def for_order(cls, order: Order, diagnoses: list[EncounterDiagnosis], data: Any = None) -> OrderForm:
        initial = {name: getattr(order, name) for name in EDITABLE_FIELDS}
        initial["diagnosis"] = str(order.diagnosis.public_id) if order.diagnosis else ""
        initial["kind"] = order.kind
        return cls(data, initial=initial, diagnoses=diagnoses, kind=order.kind)

    def field_groups(self) -> list[tuple[str, str, list[forms.BoundField]]]:
        """(kinds, legend, bound fields) for the template's fieldsets."""
        return [(kinds, legend, [self[name] for name in names]) for kinds, legend, names in self.FIELDSETS]

    def values(self) -> dict[str, Any]:
        """What was typed, for the service (which validates it)."""
        data = self.cleaned_data
        return {name: data.get(name) for name in EDITABLE_FIELDS}

    def show_errors(self, error: ValidationError) -> None:
        """Attach the service's {field: message} errors to the fields (or the form)."""
        for field, messages in error.message_dict.items():
            self.add_error(field if field in self.fields else None, messages)


class CancelForm(forms.Form):
    reason = forms.CharField(max_length=300)
