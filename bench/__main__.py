"""`python -m bench`: build (or reuse) the bench dataset, run the benchmarks, print and save results.

Usage (through make, which passes DATABASE_URL, REDIS_URL and VMA_TESTING=true)::

    make bench                                      # every benchmark, full scale (1M work items)
    make bench BENCH_ARGS="--scale small"           # ten times smaller, for a quick check
    make bench BENCH_ARGS="--only queue_page --iterations 50"
    make bench BENCH_ARGS="--rebuild"               # flush and rebuild the dataset
    make bench BENCH_ARGS="--list"                  # the registered benchmarks and their targets

The server of DATABASE_URL is used, never its database: everything happens in `vma_bench`
(created when missing, then migrated). Redis is the server of REDIS_URL with database 13
(BENCH_REDIS_URL overrides), never the application's. DEBUG is forced off: timings are of the
production code path. Results go to `bench-results.json` at the repository root, one entry per
benchmark (entries of benchmarks not run this time are kept, each says its scale and time). The
exit status is 1 when any benchmark misses a target, so CI can gate on it.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
import traceback
import warnings
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/vma"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    from .dataset import SCALES
    from .harness import DEFAULT_ITERATIONS, DEFAULT_WARMUP

    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--only", action="append", default=[], metavar="NAME", help="run only these (repeat or comma-separate)"
    )
    parser.add_argument("--scale", choices=sorted(SCALES), default="full", help="dataset size (default: full)")
    parser.add_argument("--iterations", type=int, default=DEFAULT_ITERATIONS, help="timed iterations per benchmark")
    parser.add_argument("--warmup", type=int, default=DEFAULT_WARMUP, help="untimed iterations first")
    parser.add_argument("--rebuild", action="store_true", help="flush the bench database and build the dataset again")
    parser.add_argument("--list", action="store_true", help="list the registered benchmarks and exit")
    parser.add_argument("--json", type=Path, default=REPO_ROOT / "bench-results.json", help="where to write results")
    args = parser.parse_args(argv)
    if args.iterations < 1 or args.warmup < 0:
        parser.error("--iterations must be at least 1 and --warmup at least 0")
    args.only = [name.strip() for chunk in args.only for name in chunk.split(",") if name.strip()]
    return args


def configure_environment() -> str:
    """Point Django at the bench database and Redis db before settings are read."""
    from .dataset import bench_database_url, bench_redis_url, create_database_if_missing

    url = bench_database_url(os.environ.get("DATABASE_URL") or DEFAULT_DATABASE_URL)
    os.environ["DATABASE_URL"] = url
    os.environ["REDIS_URL"] = os.environ.get("BENCH_REDIS_URL") or bench_redis_url(os.environ.get("REDIS_URL", ""))
    os.environ["DEBUG"] = "false"
    os.environ.setdefault("VMA_TESTING", "true")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "vma.settings")
    if create_database_if_missing(url):
        print(f"Created database {url.rsplit('/', 1)[1]}.")
    return url


def write_results(path: Path, results: list[Any], crashed: dict[str, str]) -> None:
    existing: dict[str, Any] = {}
    if path.exists():
        try:
            loaded = json.loads(path.read_text())
            existing = loaded if isinstance(loaded, dict) else {}
        except json.JSONDecodeError:
            existing = {}
    stamp = datetime.now(UTC).isoformat(timespec="seconds")
    for r in results:
        existing[r.name] = {**r.as_json(), "measured_at": stamp}
    for name, error in crashed.items():
        # No numbers at all rather than zeros that would read as fast.
        existing[name] = {"passed": False, "error": error, "measured_at": stamp}
    path.write_text(json.dumps(existing, indent=2, sort_keys=True, ensure_ascii=False) + "\n")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    configure_environment()

    import django

    django.setup()
    # Sign-in chatter (force_login) and whitenoise's missing collectstatic folder are noise here.
    logging.getLogger("axes").setLevel(logging.WARNING)
    warnings.filterwarnings("ignore", message="No directory at", category=UserWarning)

    from .dataset import SCALES, ensure
    from .harness import discover, format_table, registered_benchmarks, run_benchmark

    modules = discover()
    benchmarks = registered_benchmarks()
    if args.list:
        for bench in benchmarks.values():
            print(f"{bench.name:24} {bench.target_label:28} {bench.description}")
        return 0
    unknown = sorted(set(args.only) - set(benchmarks))
    if unknown:
        print(f"Unknown benchmark(s): {', '.join(unknown)}. Known: {', '.join(sorted(benchmarks))}", file=sys.stderr)
        return 2
    selected = [b for name, b in benchmarks.items() if not args.only or name in args.only]

    started = time.perf_counter()
    ds = ensure(SCALES[args.scale], rebuild=args.rebuild)
    print(
        f"Dataset ready ({args.scale}) in {time.perf_counter() - started:.1f} s; benchmarks from {', '.join(modules)}"
    )
    results = []
    crashed: dict[str, str] = {}
    for bench in selected:
        t0 = time.perf_counter()
        print(
            f"Running {bench.name} ({bench.iterations or args.iterations} iterations after {args.warmup} warm-ups) …",
            flush=True,
        )
        try:
            results.append(run_benchmark(bench, ds, iterations=args.iterations, warmup=args.warmup))
        except Exception as exc:  # noqa: BLE001 - one broken benchmark must not hide the others' results
            traceback.print_exc()
            crashed[bench.name] = f"{type(exc).__name__}: {exc}"
        print(f"  done in {time.perf_counter() - t0:.1f} s", flush=True)
    print()
    print(format_table(results))
    for name, error in crashed.items():
        print(f"  {name}: CRASHED {error}")
    write_results(args.json, results, crashed)
    print(f"\nWrote {args.json} (total {time.perf_counter() - started:.1f} s)")
    return 0 if all(r.passed for r in results) and not crashed else 1


if __name__ == "__main__":
    sys.exit(main())
