"""Registry of work-item kinds. Apps register theirs in AppConfig.ready()."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .roles import Role


@dataclass(frozen=True)
class WorkKind:
    code: str  # "<app>.<what>", stored on WorkItem.kind
    label: str
    queue: str  # the role whose queue owns it by default
    sla_minutes: int
    help: str = ""
    priority: int = 3
    # Who gets an overdue item; by default it stays in its queue, raised to urgent.
    overdue_queue: str | None = None
    # Where the item's subject is worked (given the item); default: the patient's chart.
    subject_url: Callable[[Any], str] | None = None


_KINDS: dict[str, WorkKind] = {}


def register_kind(kind: WorkKind) -> WorkKind:
    if kind.queue not in Role.values or kind.queue == Role.ADMIN:
        raise ValueError(f"Work kind {kind.code}: unknown queue {kind.queue!r}")
    existing = _KINDS.get(kind.code)
    if existing is not None and existing != kind:
        raise ValueError(f"Work kind {kind.code} registered twice with different settings")
    _KINDS[kind.code] = kind
    return kind


def get_kind(code: str) -> WorkKind:
    try:
        return _KINDS[code]
    except KeyError:
        raise LookupError(f"Unknown work-item kind {code!r}; register it in its app's ready()") from None


def all_kinds() -> list[WorkKind]:
    return sorted(_KINDS.values(), key=lambda k: k.label)
