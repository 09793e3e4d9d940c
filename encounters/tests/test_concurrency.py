"""Exactly once under real concurrency: threads, each with its own PostgreSQL connection."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection, connections

from encounters import services, workflow
from encounters.models import Encounter
from encounters.selectors import note_hash
from encounters.signing import NoteSignable
from vma.models import User, WorkItem

from .helpers import complete_note

pytestmark = pytest.mark.django_db(transaction=True)


def _run_threads(n: int, target: Callable[[int], Any]) -> tuple[list[Any], list[BaseException]]:
    barrier = threading.Barrier(n)
    results: list[Any] = []
    errors: list[BaseException] = []

    def run(i: int) -> None:
        try:
            barrier.wait(timeout=30)
            results.append(target(i))
        except Exception as exc:  # collected and asserted below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    return results, errors


def test_twenty_concurrent_signatures_give_one(ready_note, provider):
    assert connection.vendor == "postgresql"
    shown = note_hash(ready_note)

    def attempt(_: int) -> tuple[bool, str]:
        me = User.objects.get(pk=provider.pk)  # each click is its own request: its own user and connection
        [outcome] = NoteSignable().sign([ready_note.public_id], provider=me, hashes={ready_note.public_id: shown})
        return outcome.ok, outcome.message

    results, errors = _run_threads(20, attempt)
    assert not errors, errors
    assert len(results) == 20
    assert sum(ok for ok, _ in results) == 1
    assert all(message.startswith("Already signed by") for ok, message in results if not ok)
    ready_note.refresh_from_db()
    assert ready_note.status == Encounter.Status.SIGNED and ready_note.signed_hash == shown
    assert WorkItem.objects.filter(kind=workflow.AVS_DELIVER, subject_id=ready_note.pk).count() == 1


def test_signing_and_returning_at_once_do_exactly_one(ready_note, provider):
    shown = note_hash(ready_note)

    def attempt(i: int) -> bool:
        me = User.objects.get(pk=provider.pk)
        kind = NoteSignable()
        if i % 2:
            return kind.send_back([ready_note.public_id], provider=me, comment="Check the plan")[0].ok
        return kind.sign([ready_note.public_id], provider=me, hashes={ready_note.public_id: shown})[0].ok

    results, errors = _run_threads(10, attempt)
    assert not errors, errors
    assert sum(results) == 1
    ready_note.refresh_from_db()
    returned = WorkItem.objects.filter(kind=workflow.NOTE_RETURNED).count()
    assert (ready_note.status, returned) in {(Encounter.Status.SIGNED, 0), (Encounter.Status.DRAFT, 1)}


def test_concurrent_opens_of_one_visit_make_one_encounter(visit, scribe):
    results, errors = _run_threads(
        8, lambda i: services.open_encounter(visit, actor=User.objects.get(pk=scribe.pk))[0].pk
    )
    assert not errors, errors
    assert len(set(results)) == 1
    assert Encounter.objects.filter(appointment=visit).count() == 1


def test_two_editors_saving_one_field_at_once_never_lose_a_text_silently(encounter, scribe, provider):
    """Both based on the same version: one is saved, the other is refused as stale (never a silent overwrite)."""
    complete_note(encounter, scribe)
    encounter.refresh_from_db()
    base = encounter.version
    editors = [scribe, provider]

    def attempt(i: int) -> str:
        me = User.objects.get(pk=editors[i % 2].pk)
        try:
            services.save_field(encounter, field="exam", value=f"Exam by {me.pk}", base_version=base, actor=me)
        except services.StaleEdit:
            return "stale"
        return "saved"

    results, errors = _run_threads(2, attempt)
    assert not errors, errors
    assert sorted(results) == ["saved", "stale"]
