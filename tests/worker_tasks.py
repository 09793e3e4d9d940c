"""Outbox handlers for worker tests only; the test worker loads them with `--include tests.worker_tasks`."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from vma.models import Notification
from vma.outbox import handler

SLOW_NOTIFY = "tests.slow_notify"


@handler(SLOW_NOTIFY)
def slow_notify(payload: dict[str, Any]) -> None:
    """Slow on purpose so a test can kill the worker mid-task; idempotent by (user, key)."""
    # Written outside the database, so a start survives the kill that rolls back everything else.
    with Path(payload["starts_file"]).open("a") as starts:
        starts.write(f"{os.getpid()}\n")
    time.sleep(payload["seconds"])
    Notification.objects.get_or_create(
        user_id=payload["user_id"], key=payload["key"], defaults={"message": "slow notice"}
    )
