"""The engine's commands: `interop worker`, `interop ingestions run` and `… prune`. Like
`interop.cli`, they import the engine and the database layer in their bodies, not here."""

import signal
import time
import uuid
from datetime import timedelta
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from interop.errors import InteropError
from interop.terminal import console, err_console, fail

if TYPE_CHECKING:
    from interop.config import Settings
    from interop.db import Database
    from interop.engine.runner import Engine
    from interop.ingestions.models import Ingestion

# Bounds that refuse, as a usage error, counts no operator means but a typo makes: past them
# a prune's date overflowed (OverflowError: date value out of range, or a C int), its --keep
# overflowed the database's integer (a traceback on either backend), and a worker started
# threads until the process could start no more.
MAX_AGE_DAYS = 36_500  # a century
MAX_KEEP = 2**31 - 1  # PostgreSQL's integer
MAX_THREADS = 1024

ingestions_app = typer.Typer(help="Queue and follow ingestions.", no_args_is_help=True)


def worker(
    concurrency: Annotated[
        int,
        typer.Option(
            min=1, max=MAX_THREADS, help="Ingestions run at once (threads) in this process."
        ),
    ] = 1,
    scheduler: Annotated[
        bool, typer.Option(help="Also run the scheduler (safe in any number of processes).")
    ] = True,
) -> None:
    """Run ingestion workers (and the scheduler) without the API, to scale out on PostgreSQL."""
    from interop.logs import configure_logging
    from interop.preflight import load_settings, open_database

    settings = load_settings()
    configure_logging(settings)
    database = open_database(settings)
    engine = start_engine(database, settings, concurrency, scheduler)
    typer.echo(f"interop worker: {concurrency} worker(s), scheduler {'on' if scheduler else 'off'}")

    def stop(_signum: int, _frame: Any) -> None:
        typer.echo("stopping after the current batch…")
        engine.stop()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    engine.wait()
    if engine.died:
        # The others stop as on SIGTERM; the process manager sees a failure, to restart it.
        engine.stop()
        database.dispose()
        fail(f"engine thread {', '.join(engine.died)} died (logged above); stopped the others")
    database.dispose()


def start_engine(
    database: "Database", settings: "Settings", workers: int, scheduler: bool
) -> "Engine":
    """A worker process's engine, started once the process has left its start-up objects out
    of garbage collection: an ingestion allocates millions of objects, and each full
    collection walked start-up's ~200,000 again (a first load of 100,000 students on SQLite:
    25,368/26,537 -> 28,402/29,008 rows/s, `process.freeze_start_up_objects`)."""
    from interop.engine.runner import Engine
    from interop.process import freeze_start_up_objects

    engine = Engine(database, settings)
    freeze_start_up_objects()
    engine.start(workers=workers, run_scheduler=scheduler)
    return engine


@ingestions_app.command("run")
def run_ingestion(
    tenant_id: Annotated[str, typer.Argument(help="The tenant to collect for.")],
    wait: Annotated[
        bool, typer.Option(help="Follow the ingestion with a progress bar until it ends.")
    ] = False,
    timeout: Annotated[
        float,
        typer.Option(
            min=0, help="With --wait: give up waiting after this many seconds (0: never)."
        ),
    ] = 0,
) -> None:
    """Queue a collection for a tenant (a worker or `interop serve` runs it)."""
    from interop.ingestions.service import queue_collection
    from interop.preflight import load_settings, open_database

    settings = load_settings()
    database = open_database(settings)
    try:
        tenant = uuid.UUID(tenant_id)
    except ValueError:
        fail(f"TENANT_ID must be a UUID, got {tenant_id!r}")
    try:
        with database.transaction() as session:
            ingestion_id = queue_collection(session, tenant).id
    except InteropError as error:
        fail(error.message)
    typer.echo(f"queued ingestion {ingestion_id}")
    if wait:
        state = _follow(database, ingestion_id, timeout)
        if state != "success":
            raise typer.Exit(code=1)


@ingestions_app.command("prune")
def prune_ingestions(
    older_than_days: Annotated[
        int,
        typer.Option(
            min=1,
            max=MAX_AGE_DAYS,
            help="Delete ended ingestions completed more than this many days ago.",
        ),
    ],
    keep: Annotated[
        int,
        typer.Option(
            min=1,
            max=MAX_KEEP,
            help="Keep at least this many of each tenant's latest ended ingestions.",
        ),
    ] = 1,
) -> None:
    """Delete ended ingestions older than a number of days.

    Ingestion history grows with every collection (10,000 tenants collecting hourly add
    240,000 a day) and is never pruned otherwise. Pending ingestions and each tenant's latest
    ended ones are kept. Runs in batches, each its own transaction."""
    from interop.db import utcnow
    from interop.ingestions.service import prune_batch
    from interop.preflight import load_settings, open_database

    settings = load_settings()
    database = open_database(settings)
    before = utcnow() - timedelta(days=older_than_days)
    deleted = 0
    with err_console.status("pruning ingestions") as status:
        while True:
            with database.transaction() as session:
                batch = prune_batch(session, before, keep)
            if not batch:
                break
            deleted += batch
            status.update(f"pruning ingestions: {deleted:,} deleted")
    database.dispose()
    typer.echo(f"deleted {deleted:,} ingestions completed before {before.isoformat()}")


def _follow(database: "Database", ingestion_id: uuid.UUID, timeout: float) -> str:
    """Poll the ingestion, one progress line per bundle file, until it leaves the pending
    states; print its stats and return its state."""
    from interop.ingestions.models import PENDING_STATES, Ingestion

    started = time.monotonic()
    tasks: dict[str, Any] = {}
    columns = (
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed:,} rows"),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=err_console, transient=False) as progress:
        waiting = progress.add_task(
            "waiting for a worker (interop serve or interop worker)", total=None
        )
        while True:
            with database.transaction(write=False) as session:
                ingestion = _still_there(session.get(Ingestion, ingestion_id), ingestion_id)
                state, files = ingestion.state, dict(ingestion.progress or {})
            if state != "scheduled":
                progress.update(waiting, description=f"ingestion {state}")
            for name, rows in files.items():
                if name not in tasks:
                    tasks[name] = progress.add_task(name, total=None)
                progress.update(tasks[name], completed=rows)
            if state not in PENDING_STATES:
                break
            if timeout and time.monotonic() - started > timeout:
                fail(f"still {state} after {timeout:g} s")
            time.sleep(0.5)
    _print_result(database, ingestion_id)
    return state


def _still_there(ingestion: "Ingestion | None", ingestion_id: uuid.UUID) -> "Ingestion":
    """The ingestion followed, which deleting its tenant (its cloud, or its integration's
    actor) deletes with it, running or not: that was an AssertionError traceback."""
    if ingestion is None:
        fail(f"ingestion {ingestion_id} was deleted with its tenant")
    return ingestion


def _print_result(database: "Database", ingestion_id: uuid.UUID) -> None:
    from interop.ingestions.models import Ingestion

    with database.transaction(write=False) as session:
        ingestion = _still_there(session.get(Ingestion, ingestion_id), ingestion_id)
        console.print(
            f"{ingestion.state}: read {ingestion.records_read}, created {ingestion.created}, "
            f"updated {ingestion.updated}, deleted {ingestion.deleted}, "
            f"rejected {ingestion.rejected}"
        )
        if ingestion.error_code:
            # The message may quote the source's location or contents: never markup.
            message = escape(ingestion.error_message or "")
            console.print(f"[red]{ingestion.error_code}[/]: {message}")
