"""Insurance eligibility and benefits (X12 270/271) and prior authorizations."""
