"""Forms of the refill pages: the phone/portal request, amending a request."""

from __future__ import annotations

from typing import Any

from django import forms

from .models import SCHEDULE_CHOICES, RefillRequest


class PatientLookupForm(forms.Form):
    """Two identifiers before anything is recorded or said: MRN and date of birth."""

    mrn = forms.CharField(label="MRN", max_length=20)
    date_of_birth = forms.DateField(label="Date of birth", widget=forms.DateInput(attrs={"type": "date"}))

    def clean_mrn(self) -> str:
        return self.cleaned_data["mrn"].strip().upper()


class PhoneRequestForm(PatientLookupForm):
    source = forms.ChoiceField(
        choices=[(RefillRequest.Source.PHONE, "Phone call"), (RefillRequest.Source.PORTAL, "Patient portal message")],
        initial=RefillRequest.Source.PHONE,
    )
    requester = forms.CharField(max_length=200, help_text="Who asked: the patient, or a caregiver's name and relation.")
    callback_phone = forms.CharField(max_length=20, required=False, label="Call-back number")
    medication = forms.CharField(max_length=200, help_text="As the requester names it.")
    strength = forms.CharField(max_length=60, required=False)
    sig = forms.CharField(max_length=200, required=False, label="Directions (sig)")
    quantity = forms.IntegerField(min_value=1, max_value=10000, required=False)
    days_supply = forms.IntegerField(min_value=1, max_value=365, required=False, label="Days' supply")
    refills = forms.IntegerField(min_value=0, max_value=11, required=False)
    controlled_schedule = forms.ChoiceField(choices=SCHEDULE_CHOICES, required=False, label="Controlled schedule")
    pharmacy = forms.CharField(max_length=200)
    urgency = forms.ChoiceField(choices=RefillRequest.Urgency.choices, initial=RefillRequest.Urgency.ROUTINE)
    request_text = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}),
        max_length=2000,
        required=False,
        label="What the caller said",
        help_text="In their words: symptoms mentioned here are screened for red flags.",
    )


class AmendForm(forms.Form):
    strength = forms.CharField(max_length=60, required=False)
    sig = forms.CharField(max_length=200, required=False, label="Directions (sig)")
    quantity = forms.IntegerField(min_value=1, max_value=10000, required=False)
    days_supply = forms.IntegerField(min_value=1, max_value=365, required=False, label="Days' supply")
    refills = forms.IntegerField(min_value=0, max_value=11, required=False)
    pharmacy = forms.CharField(max_length=200)

    def changes(self, request: RefillRequest) -> dict[str, Any]:
        """Only the fields whose value differs from the request's."""
        return {
            name: value
            for name, value in self.cleaned_data.items()
            if value != getattr(request, name) and not (value in ("", None) and getattr(request, name) in ("", None))
        }
