"""/metrics benchmark: what a Prometheus scrape costs against a long ingestion history, and
what the bulk deletes of that history (a tenant's cascade, `interop ingestions prune`) cost,
on SQLite and on PostgreSQL. Reports milliseconds and writes them into BENCHMARKS.md.

    .venv/bin/python bench/metrics_scrape.py [--ingestions 200000] [--scrapes 50]
        [--backends sqlite,postgresql]

Two tenants are made through the public API of a real `interop serve --no-worker`; the history
(ended ingestions in every ended state, half each tenant's, and one pending ingestion each) is
written straight into the table, as years of collections would have left it, and analysed.
Scrapes are GET /metrics over HTTP, one after another, after 3 unmeasured ones. Then one
tenant is deleted (its actor uninstalled: the tenant and its history go by cascade), and the
other's history is pruned as `interop ingestions prune` does, batch by batch; after each, a
scrape's `interop_ingestions` must equal a count of the stored rows, or the script fails.
"""

import argparse
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
from benchkit import (
    ROOT,
    cpu_model,
    database,
    free_port,
    python_speed,
    speed_note,
    wait_ready,
    write_section,
)

sys.path[:0] = [str(ROOT / "tests")]
from sqlalchemy import event, func, insert, select, text  # noqa: E402

from factories import Caller, new_tenant  # noqa: E402
from interop.config import Settings  # noqa: E402
from interop.db import Database, utcnow  # noqa: E402
from interop.engine.metrics import IngestionCollector  # noqa: E402
from interop.ingestions.models import Ingestion  # noqa: E402
from interop.ingestions.service import prune_batch  # noqa: E402

# Out of every 100 ended ingestions: how a long-running server's history looks.
ENDED_MIX = {"success": 90, "failed": 6, "cancelled": 2, "timeout": 2}


def main() -> None:
    parser = argparse.ArgumentParser(description="/metrics scrape benchmark")
    parser.add_argument("--ingestions", type=int, default=200_000)
    parser.add_argument("--scrapes", type=int, default=50)
    parser.add_argument("--backends", default="sqlite,postgresql")
    args = parser.parse_args()
    speed = python_speed()
    results = [
        measure(backend, args.ingestions, args.scrapes) for backend in args.backends.split(",")
    ]
    write_report(args.ingestions, args.scrapes, results, speed)


def measure(backend: str, ingestions: int, scrapes: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as data_dir:
        url, drop = database(backend, Path(data_dir))
        try:
            settings = Settings(data_dir=Path(data_dir), database_url=url)
            return {"backend": backend, **measure_on(settings, ingestions, scrapes)}
        finally:
            drop()


def measure_on(settings: Settings, ingestions: int, scrapes: int) -> dict[str, Any]:
    env = {
        **os.environ,
        "INTEROP_DATABASE_URL": settings.resolved_database_url,
        "INTEROP_DATA_DIR": str(settings.data_dir),
        "INTEROP_LOG_LEVEL": "WARNING",
    }
    interop = str(Path(sys.executable).parent / "interop")
    subprocess.run([interop, "migrate"], env=env, check=True, capture_output=True)
    port = free_port()
    server = subprocess.Popen(
        [interop, "serve", "--no-worker", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    db = Database(settings.resolved_database_url)
    try:
        base_url = f"http://127.0.0.1:{port}"
        wait_ready(base_url)
        with httpx.Client(base_url=base_url, timeout=60) as api:
            target = SimpleNamespace(settings=settings, database_url=settings.resolved_database_url)
            owner, kept = new_tenant(target, api)
            _, deleted = new_tenant(target, api, owner=owner)
            started = time.perf_counter()
            store_history(db, [kept, deleted], ingestions)
            print(f"{ingestions:,} ingestions stored in {time.perf_counter() - started:.1f} s")
            result: dict[str, Any] = {
                "full": scrape_times(api, scrapes),
                "full_db": database_share(db, scrapes),
            }
            check_counts(api, db)
            started = time.perf_counter()
            uninstall(api, owner, deleted)
            result["cascade_s"] = time.perf_counter() - started
            check_counts(api, db)
            started = time.perf_counter()
            result["pruned"] = prune_all(db)
            result["prune_s"] = time.perf_counter() - started
            check_counts(api, db)
            result["pruned_scrape"] = scrape_times(api, scrapes)
            result["pruned_db"] = database_share(db, scrapes)
            return result
    finally:
        db.dispose()
        server.terminate()
        server.wait(timeout=20)


def store_history(db: Database, tenants: list[Caller], ingestions: int) -> None:
    """`ingestions` ended ones, a minute apart, alternately each tenant's, and one pending
    ingestion each: generated by the database itself (a Python row each took minutes)."""
    sqlite = db.is_sqlite
    tenant_ids = [uuid.UUID(tenant.extra["tenant_id"]) for tenant in tenants]
    new_id = "lower(hex(randomblob(16)))" if sqlite else "gen_random_uuid()"
    tenant = "CASE WHEN n % 2 = 0 THEN :first ELSE :second END"
    if not sqlite:
        tenant = f"CAST({tenant} AS uuid)"
    ended_at = (
        "strftime('%Y-%m-%d %H:%M:%f', :now, '-' || n || ' minutes')"
        if sqlite
        else "CAST(:now AS timestamptz) - n * interval '1 minute'"
    )
    state, below = "CASE", 0
    for name, share in ENDED_MIX.items():
        below += share
        state += f" WHEN n % 100 < {below} THEN '{name}'"
    state += " END"
    statement = f"""
        WITH RECURSIVE series (n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM series WHERE n < :count)
        INSERT INTO ingestions (id, tenant_id, type, state, trigger, topics, requested_at,
            started_at, completed_at, records_read, created, updated, deleted, rejected, attempt,
            progress, details, created_at, updated_at, version)
        SELECT {new_id}, {tenant}, 'collection', {state}, 'schedule', '[]', {ended_at},
            {ended_at}, {ended_at}, 1000, 0, 0, 0, 0, 1, '{{}}', '{{}}', {ended_at}, {ended_at}, 1
        FROM series
    """
    first, second = (value.hex if sqlite else str(value) for value in tenant_ids[:2])
    now = utcnow().replace(tzinfo=None).isoformat(sep=" ") if sqlite else utcnow().isoformat()
    with db.transaction() as session:
        session.execute(
            text(statement), {"count": ingestions, "first": first, "second": second, "now": now}
        )
        session.execute(
            insert(Ingestion),
            [
                {"tenant_id": tenant_ids[0], "state": "scheduled", "trigger": "schedule"},
                {"tenant_id": tenant_ids[1], "state": "executing", "trigger": "schedule"},
            ],
        )
    with db.write_engine.connect() as connection:
        connection.execute(text("ANALYZE"))
        connection.commit()


def scrape_times(api: httpx.Client, scrapes: int) -> dict[str, float]:
    """Fastest and median of `scrapes` GET /metrics, in milliseconds."""
    for _ in range(3):
        api.get("/metrics").raise_for_status()
    times = []
    for _ in range(scrapes):
        started = time.perf_counter()
        api.get("/metrics").raise_for_status()
        times.append((time.perf_counter() - started) * 1000)
    return {"min": min(times), "p50": statistics.median(times)}


def database_share(db: Database, rounds: int) -> dict[str, float]:
    """What the statements of a scrape cost the database, caught as the collector sends them:
    the fastest of `rounds` runs of them all (ms), and a count of the work that does not
    depend on the machine's load: PostgreSQL's buffers (8 KiB pages) touched, SQLite's
    virtual machine instructions."""
    statements: list[tuple[str, Any]] = []

    def note(_connection: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        statements.append((statement, parameters))

    event.listen(db.read_engine, "before_cursor_execute", note)
    try:
        list(IngestionCollector(lambda: db).collect())
    finally:
        event.remove(db.read_engine, "before_cursor_execute", note)
    with db.read_engine.connect() as connection:
        times = []
        for _ in range(rounds):
            started = time.perf_counter()
            for statement, parameters in statements:
                connection.exec_driver_sql(statement, parameters).all()
            times.append((time.perf_counter() - started) * 1000)
        work = sum(
            work_of(connection, statement, parameters) for statement, parameters in statements
        )
    return {"ms": min(times), "work": work}


def work_of(connection: Any, statement: str, parameters: Any) -> int:
    if connection.dialect.name == "postgresql":
        plan = connection.exec_driver_sql(
            f"EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) {statement}", parameters
        ).scalar_one()[0]["Plan"]
        return int(plan["Shared Hit Blocks"] + plan["Shared Read Blocks"])
    steps = 0

    def count() -> int:
        nonlocal steps
        steps += 1
        return 0

    sqlite = connection.connection.driver_connection
    sqlite.set_progress_handler(count, 1)
    try:
        sqlite.execute(statement, parameters).fetchall()
    finally:
        sqlite.set_progress_handler(None, 1)
    return steps


def check_counts(api: httpx.Client, db: Database) -> None:
    """The scrape's ingestions by state (0s left out) equal a count of the stored rows."""
    scraped = Counter[str]()
    for line in api.get("/metrics").text.splitlines():
        if line.startswith('interop_ingestions{state="'):
            labels, value = line.rsplit(" ", 1)
            if float(value):
                scraped[labels.split('"')[1]] = int(float(value))
    with db.transaction(write=False) as session:
        rows = session.execute(select(Ingestion.state, func.count()).group_by(Ingestion.state))
        stored = Counter({state: count for state, count in rows})
    if scraped != stored:
        raise SystemExit(f"/metrics reports {dict(scraped)}, the table holds {dict(stored)}")


def uninstall(api: httpx.Client, owner: Caller, actor: Caller) -> None:
    path = f"/v2/interop/clouds/{actor.extra['cloud_id']}/actors/{actor.extra['actor_id']}"
    api.delete(path, headers=owner.headers).raise_for_status()


def prune_all(db: Database) -> int:
    """Prune as `interop ingestions prune` does, every ended ingestion but the latest."""
    pruned = 0
    while True:
        with db.transaction() as session:
            batch = prune_batch(session, utcnow(), keep=1)
        if not batch:
            return pruned
        pruned += batch


def write_report(
    ingestions: int, scrapes: int, results: list[dict[str, Any]], speed: float
) -> None:
    lines = [
        f"## /metrics scrape (`bench/metrics_scrape.py --ingestions {ingestions}`)",
        "",
        f"Machine: {platform.platform()}, {cpu_model()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}, {time.strftime('%Y-%m-%d')}. {scrapes} GET "
        "/metrics over loopback, one after another; then the scrape's statements, caught as "
        "the collector sends them, run alone (fastest of as many rounds), and the work they "
        "do, which does not change with the machine's load: PostgreSQL's buffers touched, "
        "SQLite's virtual machine instructions. Two tenants hold half the history each; one is "
        "deleted (its history by cascade), the other's pruned to its latest. " + speed_note(speed),
        "",
        "| backend | ingestions stored | scrape ms fastest | median | statements ms | work |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for result in results:
        for label, http, db in (
            (f"{ingestions:,}", result["full"], result["full_db"]),
            ("after delete and prune", result["pruned_scrape"], result["pruned_db"]),
        ):
            lines.append(
                f"| {result['backend']} | {label} | {http['min']:.2f} | {http['p50']:.2f} | "
                f"{db['ms']:.2f} | {db['work']:,} |"
            )
    lines += ["", "| backend | tenant delete s (by cascade) | prune s | ingestions pruned |"]
    lines.append("|---|---:|---:|---:|")
    for result in results:
        lines.append(
            f"| {result['backend']} | {result['cascade_s']:.2f} | {result['prune_s']:.2f} | "
            f"{result['pruned']:,} |"
        )
    write_section(__file__, lines)


if __name__ == "__main__":
    main()
