"""Billing tests run with a configured practice identity."""

import pytest

from .factories import PRACTICE_NPI, TAX_ID


@pytest.fixture(autouse=True)
def _practice_identity(settings):
    settings.PRACTICE_NPI = PRACTICE_NPI
    settings.PRACTICE_TAX_ID = TAX_ID
    settings.PRACTICE_NAME = "Demo Practice"
    settings.BILLING_CLEARINGHOUSE = "simulated"
