"""Validators for identifiers of the field."""

from django.core.exceptions import ValidationError


def npi_check_digit(first_nine: str) -> int:
    """Luhn check digit over the constant prefix 80840 plus the first nine digits of an NPI."""
    digits = [int(c) for c in "80840" + first_nine]
    total = 0
    # Double every second digit from the right of the payload (the check digit is not present).
    for i, d in enumerate(reversed(digits)):
        if i % 2 == 0:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return (10 - total % 10) % 10


def is_valid_npi(value: str) -> bool:
    return len(value) == 10 and value.isdigit() and npi_check_digit(value[:9]) == int(value[9])


def validate_npi(value: str) -> None:
    if not value:
        return
    if len(value) != 10 or not value.isdigit():
        raise ValidationError("An NPI is exactly 10 digits.", code="npi_format")
    if not is_valid_npi(value):
        raise ValidationError("This NPI fails its check digit; check for a typo.", code="npi_check_digit")
