"""Page forms for chart history (bound forms re-render with what was typed when refused)."""

from __future__ import annotations

from django import forms

from .models import Allergy, ChartDocument, Medication, ProcedureCode

DATE = forms.DateInput(attrs={"type": "date"})


class ProblemForm(forms.Form):
    code = forms.CharField(label="ICD-10-CM", max_length=12, widget=forms.TextInput(attrs={"placeholder": "E11.9"}))
    onset_date = forms.DateField(label="Onset", required=False, widget=DATE)


class MedicationForm(forms.Form):
    name = forms.CharField(max_length=200)
    dose = forms.CharField(max_length=100, required=False)
    sig = forms.CharField(label="Sig", max_length=200, required=False)
    start_date = forms.DateField(label="Start", required=False, widget=DATE)
    stop_date = forms.DateField(label="Stop", required=False, widget=DATE)
    source = forms.ChoiceField(choices=Medication.Source.choices, initial=Medication.Source.CLINICIAN)


class AllergyForm(forms.Form):
    substance = forms.CharField(max_length=200)
    reaction = forms.CharField(max_length=200, required=False)
    severity = forms.ChoiceField(choices=Allergy.Severity.choices, initial=Allergy.Severity.UNKNOWN)


class ImmunizationForm(forms.Form):
    vaccine = forms.CharField(max_length=200)
    cvx_code = forms.CharField(label="CVX", max_length=3)
    given_on = forms.DateField(label="Given", widget=DATE)


class ProcedureForm(forms.Form):
    code = forms.ChoiceField(label="Procedure", choices=ProcedureCode.choices)
    performed_on = forms.DateField(label="Done on", widget=DATE)
    value = forms.CharField(max_length=40, required=False, widget=forms.TextInput(attrs={"placeholder": "132/84"}))


class DocumentForm(forms.Form):
    category = forms.ChoiceField(choices=[("", "Choose…"), *ChartDocument.Category.choices])
    title = forms.CharField(max_length=200, required=False)
    file = forms.FileField(label="File (PDF, PNG or JPEG, up to 10 MB)", allow_empty_file=True)


HISTORY_FORMS: dict[str, type[forms.Form]] = {
    "problem": ProblemForm,
    "medication": MedicationForm,
    "allergy": AllergyForm,
    "immunization": ImmunizationForm,
    "procedure": ProcedureForm,
}


# --- changes to a history row (one small form per row on the patient page) ---------------------


class StopMedicationForm(forms.Form):
    stop_date = forms.DateField(label="Stopped on", widget=DATE)
    reason = forms.CharField(max_length=300)


class ResolveProblemForm(forms.Form):
    resolved_on = forms.DateField(label="Resolved on", widget=DATE)


# --- incoming documents that matched no patient --------------------------------------------------


class FileIncomingForm(forms.Form):
    # Rendered as one radio button per search result (the page's patient search).
    patient = forms.UUIDField(
        error_messages={"required": "Search for the patient and choose one.", "invalid": "Choose a patient."}
    )
    category = forms.ChoiceField(choices=ChartDocument.Category.choices)


class DiscardIncomingForm(forms.Form):
    reason = forms.CharField(max_length=300, error_messages={"required": "Say why the document is discarded."})
