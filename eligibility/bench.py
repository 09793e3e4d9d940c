"""Eligibility benchmark: the beat sweep over 10,000 visits, then every check sent, answered and recorded."""

from __future__ import annotations

import statistics
import time
from collections import Counter, deque
from typing import TYPE_CHECKING, Any

from bench.harness import DEFAULT_WARMUP, Case, benchmark, dataset_part

if TYPE_CHECKING:
    from bench.dataset import Dataset

VISITS = 10_000  # at --scale full; a tenth at small (its 2,000 patients could not fill 10,000)


def visits(ds: Dataset) -> int:
    return VISITS if ds.scale.name == "full" else VISITS // 10


# Marks the part's visits (Appointment.reason) so setup can move them and teardown find them.
MARK = "bench.eligibility_sweep"
# Member-id endings the simulated payer answers with anything but a prompt "active" (see
# eligibility/x12/simulator.py): rejections, inactive, slow, time-out.
NOT_ACTIVE_ENDINGS = ["72", "73", "75", "58", "42", "06", "07", "98", "99"]
# Visits are spread from now + 1 h over 70 h: all inside the sweep's 72 h look-ahead.
FIRST_VISIT = "1 hour"
SPACING = "25 seconds"


@dataset_part("eligibility_sweep", version=1)
def build_sweep_visits(ds: Dataset) -> None:
    """10,000 untyped visits for patients whose only active coverage is a primary the payer confirms."""
    from django.db import connection, transaction

    wanted = visits(ds)

    with transaction.atomic(), connection.cursor() as cur:
        cur.execute("DELETE FROM scheduling_appointment WHERE reason = %s", [MARK])
        # Self-subscribers only (a dependent's coverage has no subscriber name in the core data,
        # which the 270 needs) and no active secondary: one check per visit, every one answered
        # active. Untyped visits are outside the double-booking constraint, as imported ones are.
        cur.execute(
            f"""
            WITH chosen AS (
                SELECT p.id AS patient_id, t.provider_id, row_number() OVER (ORDER BY p.id) AS n
                FROM patients_patient p
                JOIN vma_careteam t ON t.id = p.care_team_id
                JOIN patients_coverage c ON c.patient_id = p.id AND c.active AND c.rank = 1
                WHERE c.subscriber_relation = '18' AND right(c.member_id, 2) <> ALL(%(endings)s)
                  AND NOT EXISTS (SELECT 1 FROM patients_coverage s
                                  WHERE s.patient_id = p.id AND s.active AND s.rank = 2)
                ORDER BY p.id
                LIMIT %(visits)s
            )
            INSERT INTO scheduling_appointment (
                public_id, patient_id, provider_id, appointment_type_id, location_id, start_at,
                duration_minutes, end_at, visit_type, telehealth, telehealth_room, reason, status,
                rescheduled_to_id, cancel_reason, late_cancel, cancelled_at, confirmed_at,
                checked_in_at, booked_by_id, created_at, updated_at)
            SELECT gen_random_uuid(), c.patient_id, c.provider_id, NULL, NULL,
                   now() + interval '{FIRST_VISIT}' + c.n * interval '{SPACING}', 20,
                   now() + interval '{FIRST_VISIT}' + c.n * interval '{SPACING}' + interval '20 minutes',
                   'Follow-up', false, '', %(mark)s, 'scheduled', NULL, '', false, NULL, NULL, NULL, NULL,
                   now(), now()
            FROM chosen c
            """,  # noqa: S608 - fixed intervals, no input
            {"endings": NOT_ACTIVE_ENDINGS, "visits": wanted, "mark": MARK},
        )
        if cur.rowcount != wanted:
            raise RuntimeError(f"Only {cur.rowcount} patients qualify for the sweep benchmark; {wanted} needed")


def _reanchor_visits() -> int:
    """Move the part's visits to the coming 70 h (the dataset is reused; now moves on)."""
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute(
            f"""
            WITH o AS (
                SELECT id, row_number() OVER (ORDER BY id) AS n FROM scheduling_appointment WHERE reason = %s
            )
            UPDATE scheduling_appointment a
            SET start_at = now() + interval '{FIRST_VISIT}' + o.n * interval '{SPACING}',
                end_at = now() + interval '{FIRST_VISIT}' + o.n * interval '{SPACING}' + interval '20 minutes',
                status = 'scheduled'
            FROM o WHERE a.id = o.id
            """,  # noqa: S608 - fixed intervals, no input
            [MARK],
        )
        return cur.rowcount


def _undo_since(check_mark: int, item_mark: int) -> dict[str, int]:
    """Delete the checks written since the marks and the work items they opened; drop the doorbells."""
    from django.db import connection, transaction

    from vma.celery import app

    from .workflow import WORK_KIND

    with transaction.atomic(), connection.cursor() as cur:
        cur.execute(
            "DELETE FROM vma_workitemevent WHERE item_id IN (SELECT id FROM vma_workitem WHERE id > %s AND kind = %s)",
            [item_mark, WORK_KIND],
        )
        cur.execute("DELETE FROM vma_workitem WHERE id > %s AND kind = %s", [item_mark, WORK_KIND])
        items = cur.rowcount
        cur.execute("DELETE FROM eligibility_eligibilitycheck WHERE id > %s", [check_mark])
        checks = cur.rowcount
    with connection.cursor() as cur:
        cur.execute("VACUUM (ANALYZE) eligibility_eligibilitycheck")
    # The sweep rang one doorbell per check on the bench's own Redis db; no worker listens there.
    purged = app.control.purge() or 0
    return {"checks": checks, "work_items": items, "messages": purged}


def _max_id(table: str) -> int:
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute(f"SELECT coalesce(max(id), 0) FROM {table}")  # noqa: S608 - fixed names
        row = cur.fetchone()
    return int(row[0]) if row else 0


@benchmark("eligibility_sweep", target_p95_ms=100, iterations=lambda ds: visits(ds) - DEFAULT_WARMUP)
def eligibility_sweep(ds: Dataset) -> Case:
    """sweep() requests 10,000 checks; each timed iteration is send_check(): 270, payer, 271, record."""
    from unittest import mock

    from django.conf import settings
    from django.utils import timezone

    from . import services, workflow
    from .clearinghouse import SimulatedClearinghouse
    from .models import EligibilityCheck

    n = visits(ds)
    check_mark, item_mark = _max_id("eligibility_eligibilitycheck"), _max_id("vma_workitem")
    moved = _reanchor_visits()
    if moved != n:
        raise RuntimeError(f"{moved} sweep visits in the dataset; {n} expected")
    delays: list[float] = []
    # No waiting: the slow and time-out endings are not in the data, so this should never be called.
    clearinghouse = SimulatedClearinghouse(sleep=delays.append)
    patches: list[Any] = [
        # one tick for the whole day's batch
        mock.patch.object(settings, "ELIGIBILITY_SWEEP_BATCH", n * 2, create=True),
        mock.patch.object(workflow, "get_clearinghouse", lambda: clearinghouse),
    ]
    for p in patches:
        p.start()

    t0 = time.perf_counter()
    swept = services.sweep(now=timezone.now())
    sweep_seconds = time.perf_counter() - t0
    pending = deque(
        EligibilityCheck.objects.filter(id__gt=check_mark, appointment__reason=MARK, status="queued")
        .order_by("id")
        .values_list("id", flat=True)
    )
    if swept.requested != n or len(pending) != n:
        for p in reversed(patches):
            p.stop()
        _undo_since(check_mark, item_mark)
        raise RuntimeError(f"The sweep requested {swept.requested} checks ({len(pending)} queued); {n} expected")

    outcomes: Counter[str] = Counter()
    clock: dict[str, float] = {}
    send_times: list[float] = []

    def send_next() -> None:
        if not pending:
            raise RuntimeError("Every check has been sent already")
        start = time.perf_counter()
        clock.setdefault("first", start)
        outcomes[workflow.send_check(pending.popleft())] += 1
        clock["last"] = time.perf_counter()
        send_times.append((clock["last"] - start) * 1000)

    def finish() -> dict[str, Any]:
        # Checks the timed loop did not reach (a --warmup other than the default) are sent here.
        while pending:
            send_next()
        sending = clock["last"] - clock["first"]
        sent = sum(outcomes.values())
        failures = []
        if outcomes["active"] != n:
            failures.append(f"outcomes {dict(outcomes)}: every check should be active")
        if delays:
            failures.append(f"the simulated payer asked to wait {len(delays)} times")
        opened = _count_items_since(item_mark)
        if opened:
            failures.append(f"{opened} work items opened for checks answered active")
        return {
            "checks": sent,
            "sweep_seconds": round(sweep_seconds, 2),
            "sweep_ms_per_check": round(sweep_seconds * 1000 / n, 3),
            "send_seconds": round(sending, 2),
            "total_seconds": round(sweep_seconds + sending, 2),
            "send_checks_per_second": round(sent / sending, 1),
            "end_to_end_checks_per_second": round(sent / (sweep_seconds + sending), 1),
            "send_median_ms_all": round(statistics.median(send_times), 3),
            "outcomes": dict(outcomes),
            "work_items_opened": opened,
            "failures": failures,
        }

    def teardown() -> None:
        for p in reversed(patches):
            p.stop()
        _undo_since(check_mark, item_mark)

    return Case(run=send_next, extra=finish, teardown=teardown)


def _count_items_since(item_mark: int) -> int:
    from vma.models import WorkItem

    from .workflow import WORK_KIND

    return WorkItem.objects.filter(id__gt=item_mark, kind=WORK_KIND).count()
