"""Patients: demographics, payers and coverage, chart documents."""
