"""The benchmark registry and runner: timing, query capture, the raw-SQL floor, targets.

Adding a benchmark (any app: put it in `<app>/bench.py`; the harness imports that module when
it exists)::

    from bench.dataset import BENCH_VMA, Dataset
    from bench.harness import Case, benchmark, dataset_part

    @dataset_part("eligibility", version=1)
    def build_checks(ds: Dataset) -> None:
        ...  # set-based SQL (INSERT ... SELECT generate_series), run once per dataset

    @benchmark("eligibility_page", target_p95_ms=150, max_queries=10, max_ratio=3)
    def eligibility_page(ds: Dataset) -> Case:
        client = ds.client_for(ds.user(BENCH_VMA))
        return Case(run=lambda: ds.get_ok(client, "/eligibility/"))

`setup(ds)` runs once, untimed, and returns a `Case`: `run` is one timed iteration,
`before_each` untimed preparation for it, `extra` further measurements after the timed loop (a
concurrency run) returning extra result keys (a "failures" list among them fails the benchmark),
and `teardown` undoes what the iterations changed so that the next run measures the same data. Each iteration runs inside Django's
CaptureQueriesContext; its statements are replayed afterwards on a raw psycopg2 connection (same
SQL, same parameters, no ORM, no template) to give `sql_floor_ms`, and `ratio` says how much the
Python side adds on top of the database's own work.
"""

from __future__ import annotations

import importlib
import importlib.util
import logging
import math
import os
import statistics
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .dataset import Dataset

DEFAULT_ITERATIONS = 200
DEFAULT_WARMUP = 10


@dataclass
class Case:
    """What a benchmark's setup returns: one timed iteration and its untimed companions."""

    run: Callable[[], object]
    before_each: Callable[[], None] | None = None
    extra: Callable[[], dict[str, Any]] | None = None
    teardown: Callable[[], object] | None = None


@dataclass(frozen=True)
class Benchmark:
    name: str
    setup: Callable[[Dataset], Case]
    target_p95_ms: float | None = None
    max_queries: int | None = None
    max_ratio: float | None = None
    # Overrides --iterations for benchmarks that must stay short, or that consume their data (a
    # function of the dataset then: its scale decides how many rows there are to consume).
    iterations: int | Callable[[Dataset], int] | None = None
    description: str = ""

    @property
    def target_label(self) -> str:
        parts = []
        if self.target_p95_ms is not None:
            parts.append(f"p95≤{self.target_p95_ms:g}")
        if self.max_queries is not None:
            parts.append(f"q≤{self.max_queries}")
        if self.max_ratio is not None:
            parts.append(f"r≤{self.max_ratio:g}")
        return " ".join(parts) or "-"


@dataclass(frozen=True)
class DatasetPart:
    name: str
    version: int
    build: Callable[[Dataset], None]


_BENCHMARKS: dict[str, Benchmark] = {}
_PARTS: dict[str, DatasetPart] = {}


def benchmark(
    name: str,
    *,
    target_p95_ms: float | None = None,
    max_queries: int | None = None,
    max_ratio: float | None = None,
    iterations: int | Callable[[Dataset], int] | None = None,
) -> Callable[[Callable[[Dataset], Case]], Callable[[Dataset], Case]]:
    """Register `setup(ds) -> Case` under `name`, with the targets it must meet."""

    def register(setup: Callable[[Dataset], Case]) -> Callable[[Dataset], Case]:
        if name in _BENCHMARKS and _BENCHMARKS[name].setup is not setup:
            raise ValueError(f"Benchmark {name!r} registered twice")
        doc = (setup.__doc__ or "").strip().splitlines()
        _BENCHMARKS[name] = Benchmark(
            name, setup, target_p95_ms, max_queries, max_ratio, iterations, doc[0] if doc else ""
        )
        return setup

    return register


def dataset_part(name: str, *, version: int) -> Callable[[Callable[[Dataset], None]], Callable[[Dataset], None]]:
    """Register a builder of extra bench data; it runs once per dataset, again when `version` changes."""

    def register(build: Callable[[Dataset], None]) -> Callable[[Dataset], None]:
        _PARTS[name] = DatasetPart(name, version, build)
        return build

    return register


def registered_benchmarks() -> dict[str, Benchmark]:
    return dict(_BENCHMARKS)


def registered_parts() -> dict[str, DatasetPart]:
    return dict(_PARTS)


def discover() -> list[str]:
    """Import the core benchmarks and every installed app's `bench` module, if it has one."""
    from django.apps import apps

    modules = ["bench.benchmarks"]
    for config in apps.get_app_configs():
        candidate = f"{config.name}.bench"
        # find_spec, not try/except ImportError: a broken bench module must fail loudly.
        if config.name != "bench" and importlib.util.find_spec(candidate) is not None:
            modules.append(candidate)
    for module in modules:
        importlib.import_module(module)
    return modules


# ---------------------------------------------------------------------------------------------
# Running
# ---------------------------------------------------------------------------------------------


@dataclass
class Result:
    name: str
    median_ms: float
    p95_ms: float
    queries: int
    per_second: float
    sql_floor_ms: float
    ratio: float
    target: str
    failures: list[str] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)  # the harness's own details
    notes: dict[str, Any] = field(default_factory=dict)  # what the benchmark's `extra` measured

    @property
    def passed(self) -> bool:
        return not self.failures

    def as_json(self) -> dict[str, Any]:
        return {
            "median_ms": round(self.median_ms, 3),
            "p95_ms": round(self.p95_ms, 3),
            "queries": self.queries,
            "per_second": round(self.per_second, 1),
            "sql_floor_ms": round(self.sql_floor_ms, 3),
            "ratio": round(self.ratio, 2),
            "target": self.target,
            "passed": self.passed,
            "failures": self.failures,
            **self.extra,
            **self.notes,
        }


def percentile(values: list[float], pct: float) -> float:
    """Nearest-rank percentile: the value below which `pct` percent of the samples fall."""
    ordered = sorted(values)
    rank = max(1, math.ceil(pct / 100 * len(ordered)))
    return ordered[rank - 1]


_WRITE_VERBS = ("INSERT", "UPDATE", "DELETE", "WITH")
# Transaction control: Django logs these as queries, but replaying COMMIT would keep the
# replayed writes. Their cost (the commit's WAL flush above all) is taken as Django measured it.
_CONTROL = frozenset({"BEGIN", "COMMIT", "ROLLBACK"})


@dataclass
class Captured:
    """One iteration's statements, and the time Django spent in its BEGIN/COMMIT/ROLLBACK."""

    statements: list[str]
    control_ms: float


class _ControlTimer(logging.Handler):
    """Collects the full-precision durations Django logs for transaction control."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.spent_ms = 0.0

    def emit(self, record: logging.LogRecord) -> None:
        if getattr(record, "sql", None) in _CONTROL:
            self.spent_ms += float(getattr(record, "duration", 0.0)) * 1000


@contextmanager
def _timing_transaction_control() -> Iterator[_ControlTimer]:
    logger = logging.getLogger("django.db.backends")
    timer = _ControlTimer()
    saved = (logger.level, logger.propagate, list(logger.handlers))
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    logger.handlers = [timer]
    try:
        yield timer
    finally:
        # setLevel, not `logger.level =`: it also clears the isEnabledFor cache, or SQL keeps being logged.
        logger.setLevel(saved[0])
        logger.propagate, logger.handlers = saved[1], saved[2]


def replay_floor_ms(iterations: list[Captured], dsn: dict[str, Any]) -> tuple[float, int]:
    """Replay each iteration's captured SQL on a raw psycopg2 connection; median total ms.

    Each iteration replays in one transaction that is rolled back, so the replay changes
    nothing. Writes run under a savepoint: an INSERT that re-uses a key the original request
    committed (the audit chain's next seq) fails after doing the same work, and is counted.
    Only the statements themselves are timed, not the savepoints around them; BEGIN/COMMIT are
    not replayed but added as Django timed them.
    """
    import psycopg2

    conn = psycopg2.connect(**dsn)
    failed = 0
    totals: list[float] = []
    try:
        with conn.cursor() as cur:
            for iteration in iterations:
                spent = 0.0
                for sql in iteration.statements:
                    if sql in _CONTROL:
                        continue
                    is_write = sql.lstrip().upper().startswith(_WRITE_VERBS)
                    if is_write:
                        cur.execute("SAVEPOINT bench_floor")
                    start = time.perf_counter()
                    try:
                        cur.execute(sql)
                        if cur.description is not None:
                            cur.fetchall()
                    except psycopg2.Error:
                        if not is_write:
                            raise
                        failed += 1
                        spent += time.perf_counter() - start
                        cur.execute("ROLLBACK TO SAVEPOINT bench_floor")
                        continue
                    spent += time.perf_counter() - start
                    if is_write:
                        cur.execute("RELEASE SAVEPOINT bench_floor")
                conn.rollback()
                totals.append(spent * 1000 + iteration.control_ms)
    finally:
        conn.rollback()
        conn.close()
    return statistics.median(totals), failed


def raw_dsn() -> dict[str, Any]:
    """Connection parameters of Django's default database, for psycopg2.connect()."""
    from django.db import connection

    params = connection.get_connection_params()
    params.pop("cursor_factory", None)
    params.pop("context", None)
    return params


def run_benchmark(bench: Benchmark, ds: Dataset, *, iterations: int, warmup: int) -> Result:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    fixed = bench.iterations(ds) if callable(bench.iterations) else bench.iterations
    iterations = fixed or iterations
    load_before = os.getloadavg()[0]
    case = bench.setup(ds)
    try:
        for _ in range(warmup):
            if case.before_each:
                case.before_each()
            case.run()
        samples: list[float] = []
        cpu: list[float] = []
        captured: list[Captured] = []
        for _ in range(iterations):
            if case.before_each:
                case.before_each()
            # Django keeps the last 9,000 queries of a connection: an emptied log keeps a heavy
            # run's capture whole (a truncated one would replay without its savepoints).
            connection.queries_log.clear()
            with _timing_transaction_control() as control, CaptureQueriesContext(connection) as ctx:
                start, cpu_start = time.perf_counter(), time.process_time()
                case.run()
                samples.append((time.perf_counter() - start) * 1000)
                cpu.append((time.process_time() - cpu_start) * 1000)
            captured.append(Captured([q["sql"] for q in ctx.captured_queries], control.spent_ms))
        floor_ms, floor_failed = replay_floor_ms(captured, raw_dsn())
        extra = case.extra() if case.extra else {}
    finally:
        if case.teardown:
            case.teardown()

    counts = [len(c.statements) for c in captured]
    median_ms = statistics.median(samples)
    result = Result(
        name=bench.name,
        median_ms=median_ms,
        p95_ms=percentile(samples, 95),
        queries=max(counts),
        per_second=1000 / median_ms if median_ms else 0.0,
        sql_floor_ms=floor_ms,
        ratio=median_ms / floor_ms if floor_ms else math.inf,
        target=bench.target_label,
        extra={
            "iterations": iterations,
            "warmup": warmup,
            "scale": ds.scale.name,
            "queries_min": min(counts),
            # BEGIN/COMMIT/ROLLBACK are in `queries` (as pytest's django_assert_num_queries counts
            # them); this is the count without them.
            "statements": max(sum(1 for q in c.statements if q not in _CONTROL) for c in captured),
            "floor_failed_writes": floor_failed,
            # This process's CPU time (Python: ORM, templates, middleware): unlike the wall
            # clock, hardly moved by other processes competing for the machine.
            "python_cpu_median_ms": round(statistics.median(cpu), 3),
            # The machine's 1-minute load average around the run: above the core count, other
            # processes competed for the CPU and the wall-clock figures are pessimistic.
            "load_average": [round(load_before, 2), round(os.getloadavg()[0], 2)],
            "cpu_count": os.cpu_count(),
        },
    )
    failures = list(extra.pop("failures", []))
    result.notes = extra
    if bench.target_p95_ms is not None and result.p95_ms > bench.target_p95_ms:
        failures.append(f"p95 {result.p95_ms:.1f} ms > {bench.target_p95_ms:g} ms")
    if bench.max_queries is not None and result.queries > bench.max_queries:
        failures.append(f"{result.queries} queries > {bench.max_queries}")
    if bench.max_ratio is not None and result.ratio > bench.max_ratio:
        failures.append(f"ratio {result.ratio:.2f} > {bench.max_ratio:g}")
    result.failures = failures
    return result


def format_table(results: list[Result]) -> str:
    header = (
        "benchmark",
        "median ms",
        "p95 ms",
        "queries",
        "per s",
        "floor ms",
        "ratio",
        "py cpu ms",
        "target",
        "result",
    )
    rows = [
        (
            r.name,
            f"{r.median_ms:.2f}",
            f"{r.p95_ms:.2f}",
            str(r.queries) if r.queries == r.extra.get("queries_min") else f"{r.extra.get('queries_min')}-{r.queries}",
            f"{r.per_second:.0f}",
            f"{r.sql_floor_ms:.2f}",
            f"{r.ratio:.2f}",
            f"{r.extra.get('python_cpu_median_ms', 0):.2f}",
            r.target,
            "pass" if r.passed else "FAIL",
        )
        for r in results
    ]
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    lines = [
        "  ".join(
            cell.ljust(w) if i in (0, 8, 9) else cell.rjust(w)
            for i, (cell, w) in enumerate(zip(row, widths, strict=True))
        )
        for row in [header, *rows]
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    busiest = max((max(r.extra.get("load_average", [0.0])) for r in results), default=0.0)
    cores = os.cpu_count() or 1
    if busiest > cores:
        lines.append(
            f"  note: load average reached {busiest:.1f} on {cores} cores; other processes competed for the CPU"
        )
    for r in results:
        for key, value in r.notes.items():
            lines.append(f"  {r.name}.{key} = {value}")
        for failure in r.failures:
            lines.append(f"  {r.name}: FAIL {failure}")
    return "\n".join(lines)
