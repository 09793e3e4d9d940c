"""The core benchmarks: the "My queue" page and claim-next, alone and fifty at once.

claim_next changes data. Its teardown puts every item claimed during the benchmark (the timed
calls and the concurrency run) back as it was, with one set-based UPDATE driven by the claim
events written since the benchmark started, deletes those events and vacuums, so every run
starts from the same queue. The audit rows the claims wrote stay: the trail is append-only.
"""

from __future__ import annotations

import statistics
import threading
import time
from typing import TYPE_CHECKING, Any

from .dataset import BENCH_VMA
from .harness import Case, benchmark, percentile

if TYPE_CHECKING:
    from vma.models import User

    from .dataset import Dataset

CONCURRENT_THREADS = 50
CONCURRENT_SECONDS = 5.0
QUEUE_PAGE = "/queue/?view=queue"


@benchmark("queue_page", target_p95_ms=150, max_queries=12, max_ratio=3)
def queue_page(ds: Dataset) -> Case:
    """GET /queue/?view=queue as a front-office VMA of 7 of the 20 care teams, audit write included."""
    client = ds.client_for(ds.user(BENCH_VMA))
    rows = ds.get_ok(client, QUEUE_PAGE).content.count(b"data-item=")
    if rows != 50:
        raise RuntimeError(f"The queue page lists {rows} items; the benchmark needs a full page of 50")
    return Case(run=lambda: ds.get_ok(client, QUEUE_PAGE))


@benchmark("claim_next", target_p95_ms=20)
def claim_next(ds: Dataset) -> Case:
    """vma.workflow.claim_next(actor=VMA), one call at a time; then 50 VMAs claiming at once."""
    from vma.workflow import claim_next as claim

    vma = ds.user(BENCH_VMA)
    mark = _last_event_id()
    actor: dict[str, User] = {}

    def before_each() -> None:
        # A fresh user object, as each request has: its role, permission and panel caches empty.
        actor["user"] = _reload(vma)

    def run() -> None:
        if claim(actor=actor["user"]) is None:
            raise RuntimeError("claim_next found nothing to claim")

    return Case(
        run=run,
        before_each=before_each,
        extra=lambda: concurrent_claims(ds),
        teardown=lambda: reopen_claimed_since(mark),
    )


def concurrent_claims(
    ds: Dataset, threads: int = CONCURRENT_THREADS, seconds: float = CONCURRENT_SECONDS
) -> dict[str, Any]:
    """`threads` front-office VMAs (3 pods, so ~17 per shared queue) press "Claim next" in a loop."""
    from django.db import connection

    from vma.workflow import claim_next as claim

    users = ds.staff("front_office")
    if len(users) < threads:
        raise RuntimeError(f"The dataset has {len(users)} front-office VMAs; {threads} needed")
    # Interleave pods so every pod's queue has its share of claimers.
    users = sorted(users, key=lambda u: (u.username.rsplit(".", 1)[1], u.username))[:threads]
    mark = _last_event_id()
    claimed: dict[int, list[int]] = {}
    latencies: list[float] = []
    errors: list[str] = []
    ran_dry = 0
    lock = threading.Lock()
    start_line = threading.Barrier(threads + 1)
    deadline = [0.0]

    def worker(user_id: int) -> None:
        nonlocal ran_dry
        mine: list[int] = []
        times: list[float] = []
        try:
            base = _reload_pk(user_id)  # opens this thread's own connection before the start
            start_line.wait()
            while time.perf_counter() < deadline[0]:
                user = _reload(base)
                t0 = time.perf_counter()
                item = claim(actor=user)
                times.append((time.perf_counter() - t0) * 1000)
                if item is None:
                    with lock:
                        ran_dry += 1
                    break
                mine.append(item.pk)
        except Exception as exc:  # noqa: BLE001 - reported as a failure of the run
            with lock:
                errors.append(f"{type(exc).__name__}: {exc}")
        finally:
            with lock:
                claimed[user_id] = mine
                latencies.extend(times)
            connection.close()

    workers = [threading.Thread(target=worker, args=(u.pk,), name=f"claimer-{u.username}") for u in users]
    for w in workers:
        w.start()
    deadline[0] = time.perf_counter() + seconds
    began = time.perf_counter()
    start_line.wait()
    for w in workers:
        w.join()
    elapsed = time.perf_counter() - began

    every = [pk for ids in claimed.values() for pk in ids]
    duplicates = len(every) - len(set(every))
    db_duplicates = _claimed_twice_since(mark)
    failures = []
    if duplicates or db_duplicates:
        failures.append(f"{duplicates} items claimed twice (database events say {db_duplicates})")
    if errors:
        failures.append(f"{len(errors)} claimers failed, first: {errors[0]}")
    if not every:
        failures.append("no item was claimed concurrently")
    return {
        "concurrent_threads": threads,
        "concurrent_seconds": round(elapsed, 2),
        "concurrent_claims": len(every),
        "concurrent_claims_per_second": round(len(every) / elapsed, 1),
        "concurrent_median_ms": round(statistics.median(latencies), 2) if latencies else None,
        "concurrent_p95_ms": round(percentile(latencies, 95), 2) if latencies else None,
        "concurrent_ran_dry": ran_dry,
        "duplicates": duplicates,
        "failures": failures,
    }


def _reload(user: User) -> User:
    return _reload_pk(user.pk)


def _reload_pk(pk: int) -> User:
    from vma.models import User

    return User.objects.get(pk=pk)


def _last_event_id() -> int:
    from django.db.models import Max

    from vma.models import WorkItemEvent

    return WorkItemEvent.objects.aggregate(m=Max("id"))["m"] or 0


def _claimed_twice_since(event_id: int) -> int:
    """Items with more than one claim event since `event_id`: the database's own answer."""
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute(
            """
            SELECT count(*) FROM (
                SELECT item_id FROM vma_workitemevent WHERE id > %s AND action = 'claim'
                GROUP BY item_id HAVING count(*) > 1
            ) twice
            """,
            [event_id],
        )
        row = cur.fetchone()
    return int(row[0]) if row else 0


def reopen_claimed_since(event_id: int) -> int:
    """Put items claimed after `event_id` back in their queue as they were; drop those events."""
    from django.db import connection, transaction

    with transaction.atomic(), connection.cursor() as cur:
        cur.execute(
            """
            WITH first_claim AS (
                SELECT DISTINCT ON (item_id) item_id, from_status
                FROM vma_workitemevent WHERE id > %s AND action = 'claim'
                ORDER BY item_id, id
            )
            UPDATE vma_workitem w
            SET status = c.from_status, assignee_id = NULL, claimed_at = NULL
            FROM first_claim c WHERE w.id = c.item_id
            """,
            [event_id],
        )
        reopened = cur.rowcount
        cur.execute("DELETE FROM vma_workitemevent WHERE id > %s AND action = 'claim'", [event_id])
    with connection.cursor() as cur:
        # The claims left dead row versions in the hot part of the claimable index.
        cur.execute("VACUUM (ANALYZE) vma_workitem")
        cur.execute("VACUUM (ANALYZE) vma_workitemevent")
    return reopened
