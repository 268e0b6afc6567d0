"""Ingestion benchmark: a generated district collected into one tenant, on SQLite and on
PostgreSQL, four times: a first load, a rerun of the same bundle (skipped as unchanged), the
same rows in a new export (every row compared, none written), and an export that stamps every
row with a new dateLastModified (every row rewritten). Reports rows/s, wall time and the
worker process's peak RSS, and writes them into BENCHMARKS.md.

    .venv/bin/python bench/ingest.py --students 100000 [--backends sqlite,postgresql]

Set-up goes through a real `interop serve --no-worker` and the public API; each collection
runs in a fresh `interop`-equivalent worker process so its peak RSS is its own, though never
below this process's RSS when it started the worker (about 90 MB: Linux carries a process's
peak across exec), which is what the unchanged rerun shows.
"""

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import SimpleNamespace

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "bench"), str(ROOT / "tests")]
from benchkit import (  # noqa: E402
    cpu_model,
    database,
    interop_server,
    python_speed,
    speed_note,
    write_section,
)
from generate_oneroster import MODIFIED, generate  # noqa: E402

from factories import new_collecting_tenant, queue_collection  # noqa: E402
from interop.config import Settings  # noqa: E402

# Every generated row's dateLastModified is MODIFIED; the "every row changed" run's is this.
RESTAMPED = "2026-08-02T00:00:00Z"


def main() -> None:
    parser = argparse.ArgumentParser(description="Ingestion benchmark")
    parser.add_argument("--students", type=int, default=100_000)
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        run_child(args.child)
        return
    bundle = Path(tempfile.gettempdir()) / f"interop-bench-oneroster-{args.students}"
    if not (bundle / "manifest.csv").exists():
        print(f"generating {args.students:,} students into {bundle} …", flush=True)
        generate(bundle, args.students, seed=1)
    restore_originals(bundle)
    speed = python_speed()
    results = [measure(backend, bundle) for backend in args.backends.split(",")]
    write_report(args.students, results, speed)


def measure(backend: str, bundle: Path) -> dict:
    with tempfile.TemporaryDirectory() as data_dir:
        url, drop = database(backend, Path(data_dir))
        try:
            settings = Settings(data_dir=Path(data_dir), database_url=url)
            runs = collect_twice(settings, bundle)
        finally:
            drop()
    return {"backend": backend, "runs": runs}


def collect_twice(settings: Settings, bundle: Path) -> list[dict]:
    roots = json.dumps([str(bundle.parent)])
    with (
        interop_server(
            settings.resolved_database_url, settings.data_dir, INTEROP_SOURCE_ROOTS=roots
        ) as (base_url, env),
        httpx.Client(base_url=base_url, timeout=60) as api,
    ):
        target = SimpleNamespace(settings=settings, database_url=settings.resolved_database_url)
        _, actor = new_collecting_tenant(target, api, bundle)
        runs = [run_collection(api, actor, env, "first run")]
        runs.append(run_collection(api, actor, env, "unchanged rerun"))
        # The nightly case: the SIS exports the same rows again, so the bundle's bytes
        # differ (here, one manifest property) and every row is compared with the store.
        manifest = bundle / "manifest.csv"
        original = manifest.read_text()
        try:
            manifest.write_text(original + f"source.exportedAt,{time.time()}\n")
            runs.append(run_collection(api, actor, env, "same rows, new export"))
        finally:
            manifest.write_text(original)
        # An export that stamps every row with a new dateLastModified: every row is rewritten.
        with restamped(bundle):
            runs.append(run_collection(api, actor, env, "every row changed"))
        return runs


@contextmanager
def restamped(bundle: Path) -> Iterator[None]:
    """The bundle's rows with another dateLastModified, its files as they were afterwards."""
    restore_originals(bundle)
    for file in sorted(bundle.glob("*.csv")):
        if file.name == "manifest.csv":
            continue
        changed = file.with_name(file.name + ".new")
        with file.open() as source, changed.open("w") as target:
            for line in source:
                target.write(line.replace(MODIFIED, RESTAMPED))
        os.replace(file, file.with_name(file.name + ".orig"))
        os.replace(changed, file)
    try:
        yield
    finally:
        restore_originals(bundle)


def restore_originals(bundle: Path) -> None:
    """Put back the files `restamped` set aside (also those of a run that was killed)."""
    for original in bundle.glob("*.csv.orig"):
        os.replace(original, original.with_suffix(""))


def run_collection(api: httpx.Client, actor: object, env: dict[str, str], label: str) -> dict:
    queue_collection(api, actor)
    child = subprocess.run(
        [sys.executable, __file__, "--child", "run"], env=env, capture_output=True, text=True
    )
    if child.returncode != 0:
        raise RuntimeError(f"the worker process failed:\n{child.stderr}")
    run: dict = json.loads(child.stdout.strip().splitlines()[-1])
    run["label"] = label
    print(json.dumps(run), flush=True)
    return run


def run_child(_env: str) -> None:
    """In the worker process: run the queued collection, report time, rows and peak RSS."""
    from sqlalchemy import select

    from interop.db import Database
    from interop.engine.worker import Worker
    from interop.ingestions.models import Ingestion
    from interop.process import freeze_start_up_objects

    settings = Settings()
    database = Database.from_settings(settings)
    freeze_start_up_objects()  # as `interop worker` does before its engine starts
    started = time.perf_counter()
    profile_to = os.environ.get("INTEROP_BENCH_PROFILE")
    if profile_to:  # cProfile the run (slower, so its wall time is not the figure to report)
        import cProfile

        cProfile.runctx(
            "Worker(database, settings).run_once()",
            globals(),
            locals(),
            f"{profile_to}.{os.getpid()}",
        )
    else:
        Worker(database, settings).run_once()
    wall = time.perf_counter() - started
    with database.transaction(write=False) as session:
        row = session.scalars(select(Ingestion).order_by(Ingestion.requested_at.desc())).first()
        assert row is not None and row.state == "success", row and (row.state, row.error_message)
        stats = {
            "records_read": row.records_read,
            "created": row.created,
            "updated": row.updated,
            "deleted": row.deleted,
        }
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        json.dumps(
            {
                "wall_s": wall,
                "rows_per_s": stats["records_read"] / wall,
                "peak_rss_mb": peak_mb,
                **stats,
            }
        )
    )


def write_report(students: int, results: list[dict], speed: float) -> None:
    lines = [
        f"## Ingestion (`bench/ingest.py --students {students}`)",
        "",
        f"Machine: {platform.platform()}, {cpu_model()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}, "
        f"{time.strftime('%Y-%m-%d')}. One worker process; rows = data rows read from the bundle. "
        + speed_note(speed),
        "",
        "| backend | run | rows | wall s | rows/s | peak RSS MB | created | updated | deleted |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for result in results:
        for run in result["runs"]:
            lines.append(
                f"| {result['backend']} | {run['label']} | {run['records_read']:,} | "
                f"{run['wall_s']:.1f} | {run['rows_per_s']:,.0f} | {run['peak_rss_mb']:.0f} | "
                f"{run['created']:,} | {run['updated']:,} | {run['deleted']:,} |"
            )
        first, second = result["runs"][:2]
        speed_up = first["wall_s"] / second["wall_s"]
        lines.append(f"| {result['backend']} | rerun speed-up | | | {speed_up:.1f}× | | | | |")
    lines += [
        "",
        "Targets: ≥ 25,000 rows/s into PostgreSQL, peak RSS < 300 MB, rerun ≥ 5× faster.",
    ]
    write_section(__file__, lines)


if __name__ == "__main__":
    main()
