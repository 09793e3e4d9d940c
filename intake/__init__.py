"""Digital intake: versioned questionnaires sent before a visit, answered by the patient, confirmed by staff."""
