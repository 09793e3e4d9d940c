"""Billing's X12 transactions (835 remittance), built on the shared layer in eligibility.x12."""

from .x835 import (
    CLAIM_STATUS,
    PAYMENT_METHODS,
    Adjustment,
    Claim,
    Payee,
    Payer,
    Payment,
    ProviderAdjustment,
    Remittance,
    ServiceLine,
    as_json,
    parse_835,
    validate_with_pyx12,
)

__all__ = [
    "CLAIM_STATUS",
    "PAYMENT_METHODS",
    "Adjustment",
    "Claim",
    "Payee",
    "Payer",
    "Payment",
    "ProviderAdjustment",
    "Remittance",
    "ServiceLine",
    "as_json",
    "parse_835",
    "validate_with_pyx12",
]
