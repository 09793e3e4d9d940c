"""Signals other apps listen to (the huddle's chart scrub re-runs on chart_changed)."""

from __future__ import annotations

from functools import partial

import django.dispatch
from django.db import models, transaction

# Sent after commit as chart_changed.send(sender=<model class>, patient_id=<int>) whenever a
# document is filed or refiled, an expected result is received, or history is recorded or changed.
chart_changed = django.dispatch.Signal()


def chart_changed_on_commit(sender: type[models.Model], patient_id: int) -> None:
    """Send chart_changed once the current transaction commits (never for a rolled-back change)."""
    transaction.on_commit(partial(chart_changed.send, sender=sender, patient_id=patient_id))
