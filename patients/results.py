"""Outstanding results: orders and referrals still awaiting their document (batch reads)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from uuid import UUID

from django.utils import timezone

from .models import ExpectedResult


@dataclass(frozen=True)
class Outstanding:
    public_id: UUID  # the ExpectedResult's public id
    title: str  # e.g. "Lipid panel", "MRI brain report", "Cardiology consult report"
    category: str  # a ChartDocument.Category value the matching document will have
    ordered_at: date
    expected_by: date
    overdue: bool  # expected_by < as_of


def outstanding_results(patient_ids: Iterable[int], *, as_of: date | None = None) -> dict[int, list[Outstanding]]:
    """Per patient id, its outstanding expected results, earliest due first. One query."""
    ids = sorted(set(patient_ids))
    day = as_of or timezone.localdate()
    out: dict[int, list[Outstanding]] = {pid: [] for pid in ids}
    if not ids:
        return out
    rows = (
        ExpectedResult.objects.filter(patient_id__in=ids, status=ExpectedResult.Status.OUTSTANDING)
        .order_by("expected_by", "id")
        .values_list("patient_id", "public_id", "title", "category", "ordered_at", "expected_by")
    )
    for pid, public_id, title, category, ordered_at, expected_by in rows:
        out[pid].append(
            Outstanding(
                public_id=public_id,
                title=title,
                category=category,
                ordered_at=ordered_at,
                expected_by=expected_by,
                overdue=expected_by < day,
            )
        )
    return out
