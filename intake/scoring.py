"""PHQ-9 and GAD-7 scoring: pure functions over the answers (question id -> chosen option value)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

PHQ9_ITEMS = tuple(f"q{i}" for i in range(1, 10))
GAD7_ITEMS = tuple(f"q{i}" for i in range(1, 8))
# (lowest total of the band, label), highest first.
PHQ9_BANDS: tuple[tuple[int, str], ...] = (
    (20, "severe"),
    (15, "moderately severe"),
    (10, "moderate"),
    (5, "mild"),
    (0, "minimal"),
)
GAD7_BANDS: tuple[tuple[int, str], ...] = ((15, "severe"), (10, "moderate"), (5, "mild"), (0, "minimal"))


@dataclass(frozen=True)
class Score:
    instrument: str  # "phq9" or "gad7"
    total: int
    band: str
    item9_positive: bool = False  # PHQ-9 only: any answer above "Not at all" to thoughts of self-harm


def item_value(answer: Any) -> int:
    """An item's 0–3 value; a missing or malformed answer counts 0 (required items are enforced elsewhere)."""
    try:
        value = int(answer)
    except (TypeError, ValueError):
        return 0
    return value if 0 <= value <= 3 else 0


def band(total: int, bands: tuple[tuple[int, str], ...]) -> str:
    for lowest, label in bands:
        if total >= lowest:
            return label
    raise ValueError(f"negative total {total}")


def phq9_band(total: int) -> str:
    if not 0 <= total <= 27:
        raise ValueError(f"PHQ-9 total must be 0–27, not {total}")
    return band(total, PHQ9_BANDS)


def gad7_band(total: int) -> str:
    if not 0 <= total <= 21:
        raise ValueError(f"GAD-7 total must be 0–21, not {total}")
    return band(total, GAD7_BANDS)


def item9_positive(answers: Mapping[str, Any]) -> bool:
    """Thoughts of self-harm on any day: always an immediate escalation, whatever the total."""
    return item_value(answers.get("q9")) > 0


def score_phq9(answers: Mapping[str, Any]) -> Score:
    total = sum(item_value(answers.get(q)) for q in PHQ9_ITEMS)
    return Score("phq9", total, phq9_band(total), item9_positive(answers))


def score_gad7(answers: Mapping[str, Any]) -> Score:
    total = sum(item_value(answers.get(q)) for q in GAD7_ITEMS)
    return Score("gad7", total, gad7_band(total))


SCORERS = {"phq9": score_phq9, "gad7": score_gad7}


def score(instrument: str, answers: Mapping[str, Any]) -> Score | None:
    """The score of a scored questionnaire, or None for one that is not scored."""
    scorer = SCORERS.get(instrument)
    return scorer(answers) if scorer else None
