"""Coding checks on a claim's charges: each finding says, in a biller's words, what is wrong.

The VMA flags; the provider or biller decides. "A charge the note does not support" reads the
visit's signed encounter note (encounters.Encounter) only to search it for the charge's words: the
finding names the charge and the words looked for, never the note's text (a billing VMA reads no chart).
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from datetime import date
from typing import Any

from django.core.exceptions import ValidationError

from patients.icd10 import validate_billable

from .models import Claim, ClaimDiagnosis, ClaimLine, ProcedureCode

MAX_DIAGNOSES = 12
MAX_POINTERS = 4
MAX_MODIFIERS = 4
MODIFIER = re.compile(r"[A-Z0-9]{2}")
PROCEDURE = re.compile(r"[A-Z0-9]{5}")
SEPARATE_SERVICE = "25"  # significant, separately identifiable E/M on the day of a procedure


@dataclass(frozen=True)
class Problem:
    """One finding: `check` names the rule, `message` is for the biller, `line` the service line if any.

    A warning (blocking=False) is shown but does not stop the claim.
    """

    check: str
    message: str
    line: int | None = None
    blocking: bool = True

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def diagnosis_message(code: str) -> str | None:
    """Why `code` cannot go on a claim, or None when it is a billable ICD-10-CM code."""
    try:
        validate_billable(code)
    except ValidationError as exc:
        messages = exc.message_dict.get("code") if hasattr(exc, "error_dict") else exc.messages
        return " ".join(messages or exc.messages)
    return None


def check_diagnoses(diagnoses: Sequence[ClaimDiagnosis]) -> list[Problem]:
    problems: list[Problem] = []
    if not diagnoses:
        problems.append(Problem("diagnosis_missing", "The claim has no diagnosis: add at least one ICD-10-CM code."))
    if len(diagnoses) > MAX_DIAGNOSES:
        problems.append(Problem("diagnosis_too_many", f"A claim holds at most {MAX_DIAGNOSES} diagnoses."))
    for dx in diagnoses:
        message = diagnosis_message(dx.code)
        if message:
            problems.append(Problem("diagnosis_invalid", f"Diagnosis {dx.position} ({dx.code}): {message}"))
    return problems


def check_lines(
    lines: Sequence[ClaimLine], diagnoses: Sequence[ClaimDiagnosis], codes: dict[str, ProcedureCode]
) -> list[Problem]:
    """Pointers, unknown codes, units per day, and modifier 25 on an E/M billed with a procedure."""
    problems: list[Problem] = []
    positions = {dx.position for dx in diagnoses}
    if not lines:
        problems.append(Problem("line_missing", "The claim has no service line: add the procedure codes billed."))
    units_per_day: dict[tuple[str, date], int] = defaultdict(int)
    for line in lines:
        what = f"Line {line.line_number} ({line.procedure_code})"
        known = codes.get(line.procedure_code)
        if known is None:
            problems.append(
                Problem(
                    "procedure_unknown",
                    f"{what}: not on the practice's procedure list; check the code or ask the manager to add it.",
                    line.line_number,
                )
            )
        if not line.diagnosis_pointers:
            problems.append(
                Problem(
                    "pointer_missing",
                    f"{what} points to no diagnosis: say which diagnosis it treats.",
                    line.line_number,
                )
            )
        for pointer in line.diagnosis_pointers:
            if pointer not in positions:
                problems.append(
                    Problem(
                        "pointer_dangling",
                        f"{what} points to diagnosis {pointer}, which the claim does not have.",
                        line.line_number,
                    )
                )
        units_per_day[(line.procedure_code, line.service_date)] += line.units
    for (code, day), units in sorted(units_per_day.items()):
        known = codes.get(code)
        if known is not None and units > known.max_units_per_day:
            problems.append(
                Problem(
                    "units_exceeded",
                    f"{code} on {day:%m/%d/%Y}: {units} units billed, more than the {known.max_units_per_day} "
                    "a day allowed for this code.",
                )
            )
    problems += _modifier_25(lines, codes)
    return problems


def _modifier_25(lines: Sequence[ClaimLine], codes: dict[str, ProcedureCode]) -> list[Problem]:
    problems: list[Problem] = []
    by_day: dict[date, list[ClaimLine]] = defaultdict(list)
    for line in lines:
        by_day[line.service_date].append(line)
    for day_lines in by_day.values():
        em = [ln for ln in day_lines if (c := codes.get(ln.procedure_code)) is not None and c.is_em]
        procedures = [ln for ln in day_lines if (c := codes.get(ln.procedure_code)) is not None and not c.is_em]
        if not procedures:
            continue
        for line in em:
            if SEPARATE_SERVICE not in line.modifiers:
                done = ", ".join(p.procedure_code for p in procedures)
                problems.append(
                    Problem(
                        "modifier_25_missing",
                        f"Line {line.line_number} ({line.procedure_code}) is an E/M visit billed on the same day as "
                        f"{done} without modifier 25: add 25 if the visit was separately identifiable, or drop it.",
                        line.line_number,
                    )
                )
    return problems


_NON_WORD = re.compile(r"[^a-z0-9]+")
NOTE_FIELDS = ("chief_complaint", "hpi", "ros", "exam", "assessment", "plan")


def _normal(text: str) -> str:
    """Lowercase words separated by single spaces, padded, so a phrase matches on word starts."""
    return " " + _NON_WORD.sub(" ", text.lower()).strip() + " "


def note_terms(code: ProcedureCode) -> list[str]:
    """The words that show a charge in a note: the code itself, the practice's label and its keywords."""
    terms = [code.code, code.label, *code.keywords.split(",")]
    return [t for t in (_normal(x).strip() for x in terms) if t]


def check_note(claim: Claim) -> list[Problem]:
    """Each non-E/M charge must be mentioned in the visit's signed note; no signed note is a warning.

    A term matches where the note has its words in order from a word start ("blood draw" matches
    "blood drawn"). E/M lines are left to the provider's level choice: a visit note always supports a visit.
    """
    from encounters.models import Encounter

    encounter = (
        Encounter.objects.filter(appointment_id=claim.appointment_id).only(*NOTE_FIELDS, "status", "signed_at").first()
        if claim.appointment_id
        else None
    )
    if encounter is None or encounter.status != Encounter.Status.SIGNED:
        state = "" if encounter is None else f" (the note is {encounter.get_status_display().lower()})"
        return [
            Problem(
                "note_missing",
                f"No signed note for this visit{state}: the charges cannot be checked against it.",
                blocking=False,
            )
        ]
    text = _normal(" ".join(getattr(encounter, f) or "" for f in NOTE_FIELDS))
    lines = list(claim.lines.order_by("line_number"))
    codes = known_codes(ln.procedure_code for ln in lines)
    problems: list[Problem] = []
    for line in lines:
        code = codes.get(line.procedure_code)
        if code is None or code.is_em:
            continue  # an unknown code is flagged by check_lines already
        terms = note_terms(code)
        if any(f" {term}" in text for term in terms):
            continue
        wanted = ", ".join(f"“{t}”" for t in terms)
        problems.append(
            Problem(
                "note_unsupported",
                f"Line {line.line_number} ({line.procedure_code}): not supported by the note: the signed note of "
                f"{encounter.signed_at:%m/%d/%Y} mentions none of {wanted}. Ask the provider for an addendum, "
                "remove the charge, or (manager) add the words the note uses to the code's keywords.",
                line.line_number,
            )
        )
    return problems


def known_codes(codes: Iterable[str]) -> dict[str, ProcedureCode]:
    return {p.code: p for p in ProcedureCode.objects.filter(code__in=set(codes), active=True)}


def check_claim(claim: Claim) -> list[Problem]:
    """Every coding problem on a saved claim (three queries)."""
    diagnoses = list(claim.diagnoses.order_by("position"))
    lines = list(claim.lines.order_by("line_number"))
    return check_diagnoses(diagnoses) + check_lines(lines, diagnoses, known_codes(ln.procedure_code for ln in lines))
