"""ICD-10-CM codes: normalise what was typed, refuse codes that are not billable diagnoses."""

from __future__ import annotations

import re
from functools import cache
from types import ModuleType

from django.core.exceptions import ValidationError


@cache
def _codes() -> ModuleType:
    # Imported on first use: loading the code set takes a few seconds.
    import simple_icd_10_cm

    return simple_icd_10_cm


def normalise(text: str) -> str:
    """'e11 .9 ' -> 'E11.9', 'e119' -> 'E11.9' (the dot after the third character)."""
    code = re.sub(r"[\s.]", "", text or "").upper()
    return f"{code[:3]}.{code[3:]}" if len(code) > 3 else code


def validate_billable(text: str) -> tuple[str, str]:
    """Return (normalised code, description), or raise a ValidationError a person can act on."""
    code = normalise(text)
    if not code:
        raise ValidationError({"code": "Enter an ICD-10-CM code."})
    if not re.fullmatch(r"[A-Z][0-9][0-9A-Z](\.[0-9A-Z]{1,4})?", code):
        raise ValidationError({"code": f"“{text.strip()}” is not an ICD-10-CM code (e.g. E11.9)."})
    cm = _codes()
    if not cm.is_valid_item(code):
        raise ValidationError({"code": f"{code} is not in the ICD-10-CM code set."})
    if not cm.is_leaf(code):
        children = cm.get_children(code)
        example = f" (e.g. {children[0]})" if children else ""
        raise ValidationError(
            {"code": f"{code} is a header code, not billable: choose a more specific code under it{example}."}
        )
    return code, str(cm.get_description(code))
