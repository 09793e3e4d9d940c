"""Who else has a note open: a heartbeat in the shared cache (Redis), so every web process sees it.

Each open note page beats every HEARTBEAT_SECONDS; a beat older than STALE_SECONDS (two missed beats
and a margin) no longer counts. One cache entry per note holds {user id: last beat}; two beats at the
same instant may overwrite each other, which the next beat, ten seconds later, repairs. Presence is
a courtesy: the per-field versions, not presence, are what prevent an overwrite.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.core.cache import cache

if TYPE_CHECKING:
    from vma.models import User

    from .models import Encounter

HEARTBEAT_SECONDS = 10
STALE_SECONDS = 25


@dataclass(frozen=True)
class Present:
    user_id: int
    name: str
    seconds_ago: int


def _key(encounter: Encounter) -> str:
    return f"encounters:presence:{encounter.pk}"


def _fresh(entries: dict[int, dict[str, object]], now: float) -> dict[int, dict[str, object]]:
    return {uid: e for uid, e in entries.items() if now - float(e["at"]) <= STALE_SECONDS}  # type: ignore[arg-type]


def beat(encounter: Encounter, user: User, *, now: float | None = None) -> list[Present]:
    """Record that `user` has the note open; return the others who have it open now."""
    now = time.time() if now is None else now
    entries = _fresh(cache.get(_key(encounter)) or {}, now)
    entries[user.pk] = {"name": str(user), "at": now}
    cache.set(_key(encounter), entries, timeout=STALE_SECONDS * 4)
    return others(encounter, user, now=now, entries=entries)


def leave(encounter: Encounter, user: User) -> None:
    entries = cache.get(_key(encounter)) or {}
    if entries.pop(user.pk, None) is not None:
        cache.set(_key(encounter), entries, timeout=STALE_SECONDS * 4)


def others(
    encounter: Encounter, user: User, *, now: float | None = None, entries: dict[int, dict[str, object]] | None = None
) -> list[Present]:
    now = time.time() if now is None else now
    live = _fresh(entries if entries is not None else (cache.get(_key(encounter)) or {}), now)
    return sorted(
        (
            Present(uid, str(e["name"]), int(now - float(e["at"])))  # type: ignore[arg-type]
            for uid, e in live.items()
            if uid != user.pk
        ),
        key=lambda p: p.name,
    )
