"""PHQ-9 and GAD-7 totals and bands at every boundary; item 9 whatever the total."""

from __future__ import annotations

import pytest

from intake import scoring


def answers_totalling(total: int, items: int) -> dict[str, str]:
    """Answers for q1..qN summing to `total`, filling items with 3s from q1 (q9 stays 0 if it can)."""
    out, left = {}, total
    for i in range(1, items + 1):
        value = min(3, left)
        out[f"q{i}"] = str(value)
        left -= value
    assert left == 0
    return out


@pytest.mark.parametrize(
    ("total", "band"),
    [
        (0, "minimal"),
        (4, "minimal"),
        (5, "mild"),
        (9, "mild"),
        (10, "moderate"),
        (14, "moderate"),
        (15, "moderately severe"),
        (19, "moderately severe"),
        (20, "severe"),
        (27, "severe"),
    ],
)
def test_phq9_total_and_band(total, band):
    # given answers that add up to the total; when scored
    result = scoring.score_phq9(answers_totalling(total, 9))
    # then the total and its band are the published ones
    assert (result.total, result.band) == (total, band)


@pytest.mark.parametrize(
    ("total", "band"),
    [
        (0, "minimal"),
        (4, "minimal"),
        (5, "mild"),
        (9, "mild"),
        (10, "moderate"),
        (14, "moderate"),
        (15, "severe"),
        (21, "severe"),
    ],
)
def test_gad7_total_and_band(total, band):
    result = scoring.score_gad7(answers_totalling(total, 7))
    assert (result.total, result.band) == (total, band)
    assert result.item9_positive is False


def test_item9_positive_with_a_total_of_one():
    # given a patient who answered "Several days" to item 9 only
    answers = {f"q{i}": "0" for i in range(1, 10)} | {"q9": "1"}
    # when scored
    result = scoring.score_phq9(answers)
    # then the total is minimal but item 9 is flagged
    assert (result.total, result.band, result.item9_positive) == (1, "minimal", True)


@pytest.mark.parametrize("q9", ["0", "", None, "x"])
def test_item9_negative_when_not_at_all_or_unanswered(q9):
    assert scoring.item9_positive({"q9": q9}) is False


@pytest.mark.parametrize(("fn", "bad"), [(scoring.phq9_band, 28), (scoring.phq9_band, -1), (scoring.gad7_band, 22)])
def test_out_of_range_totals_are_refused(fn, bad):
    with pytest.raises(ValueError):
        fn(bad)


def test_out_of_range_item_values_count_zero():
    assert scoring.score_gad7({"q1": "7", "q2": "-1", "q3": "2"}).total == 2


def test_unscored_questionnaire_has_no_score():
    assert scoring.score("", {"q1": "3"}) is None
