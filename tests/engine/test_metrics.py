"""/metrics reports ingestions by state as they are stored, whichever process did the work,
and a scrape reads the pending ingestions and one success, never the whole history."""

import json
import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any, get_args

from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import Engine, create_engine, delete, event, func, insert, select, update

from factories import (
    ONEROSTER_MINIMAL,
    Caller,
    collect,
    new_collecting_tenant,
    new_tenant,
    queue_collection,
    run_worker,
)
from interop.db import Database, utcnow
from interop.engine.metrics import LATEST_SUCCESS
from interop.ingestions.models import Ingestion
from interop.ingestions.schemas import IngestionState
from interop.ingestions.service import prune_batch

ENDED = ("success", "failed", "cancelled", "timeout")


@contextmanager
def database_of(server: Any) -> Iterator[Database]:
    database = Database(server.database_url)
    try:
        yield database
    finally:
        database.dispose()


def scraped(api) -> dict[str, int]:
    """interop_ingestions by state, as a scrape reports them."""
    for family in text_string_to_metric_families(api.get("/metrics").text):
        if family.name == "interop_ingestions":
            return {sample.labels["state"]: int(sample.value) for sample in family.samples}
    raise AssertionError("/metrics reports no interop_ingestions")


def stored(server) -> dict[str, int]:
    """Ingestions by state, counted from their rows: every state, 0 when none."""
    with database_of(server) as database, database.transaction(write=False) as session:
        counts = dict(
            session.execute(select(Ingestion.state, func.count()).group_by(Ingestion.state)).all()
        )
    return {state: counts.get(state, 0) for state in get_args(IngestionState)} | counts


def assert_scraped_as_stored(server, api, **expected: int) -> None:
    """The scrape equals a count of the rows, and the states named hold those numbers."""
    counted = stored(server)
    assert scraped(api) == counted
    assert {state: counted[state] for state in expected} == expected


def suspend_collection(api, actor: Caller) -> None:
    now = datetime.now(UTC)
    response = api.post(
        "/v2/interop/tenant/rollovers",
        json={
            "name": "summer",
            "type": "suspend_collection",
            "status": "active",
            "start_date": (now - timedelta(days=1)).isoformat(),
            "end_date": (now + timedelta(days=1)).isoformat(),
            "cloud_id": actor.extra["cloud_id"],
        },
        headers=actor.headers,
    )
    assert response.status_code == 200, response.text


def delete_path(api, owner: Caller, path: str) -> None:
    response = api.delete(path, headers=owner.headers)
    assert response.status_code == 204, response.text


def test_a_queued_collection_counts_until_a_worker_runs_it(server, api):
    _, actor = new_collecting_tenant(server, api, ONEROSTER_MINIMAL)
    queue_collection(api, actor)
    metrics = api.get("/metrics").text
    assert 'interop_ingestions{state="scheduled"} 1.0' in metrics
    assert "interop_ingestion_queue_depth 1.0" in metrics
    run_worker(server)
    metrics = api.get("/metrics").text
    assert 'interop_ingestions{state="success"} 1.0' in metrics
    assert 'interop_ingestions{state="scheduled"} 0.0' in metrics
    assert "interop_ingestion_queue_depth 0.0" in metrics


def test_ingestions_are_counted_as_stored_through_runs_prunes_and_cascading_deletes(server, api):
    collector, collecting = new_collecting_tenant(server, api, ONEROSTER_MINIMAL)
    collect(server, api, collecting)
    collect(server, api, collecting)
    # No connector: its runs fail.
    unconnected_owner, unconnected = new_tenant(server, api, integration="unconnected")
    collect(server, api, unconnected, state="failed")
    suspended_owner, suspended = new_tenant(server, api, integration="suspended")
    suspend_collection(api, suspended)
    collect(server, api, suspended, state="cancelled")
    queue_collection(api, collecting)
    assert_scraped_as_stored(server, api, scheduled=1, success=2, failed=1, cancelled=1)

    # `interop ingestions prune`: each tenant's latest ended ingestion stays.
    with database_of(server) as database, database.transaction() as session:
        assert prune_batch(session, utcnow() + timedelta(seconds=1), keep=1) == 1
    assert_scraped_as_stored(server, api, scheduled=1, success=1, failed=1, cancelled=1)

    # Uninstalling an actor deletes its tenant, and the tenant's ingestions by cascade.
    cloud, actor = unconnected.extra["cloud_id"], unconnected.extra["actor_id"]
    delete_path(api, unconnected_owner, f"/v2/interop/clouds/{cloud}/actors/{actor}")
    assert_scraped_as_stored(server, api, scheduled=1, success=1, failed=0, cancelled=1)

    # Deleting a cloud deletes its actors and tenants, and theirs.
    delete_path(api, suspended_owner, f"/v2/interop/clouds/{suspended.extra['cloud_id']}")
    assert_scraped_as_stored(server, api, scheduled=1, success=1, failed=0, cancelled=0)

    # The pending one runs to its end; its tenant's cloud goes, with all it ran.
    run_worker(server)
    assert_scraped_as_stored(server, api, scheduled=0, success=2)
    delete_path(api, collector, f"/v2/interop/clouds/{collecting.extra['cloud_id']}")
    assert_scraped_as_stored(server, api, success=0)


def ingestion_row(actor: Caller, state: str, completed_at: datetime | None) -> dict[str, Any]:
    """An ingestion written straight into the table (the API queues, workers end them)."""
    requested = completed_at or utcnow()
    return {
        "id": uuid.uuid4(),
        "tenant_id": uuid.UUID(actor.extra["tenant_id"]),
        "state": state,
        "trigger": "schedule",
        "requested_at": requested,
        "started_at": requested,
        "completed_at": completed_at,
        "records_read": 10,
        "created_at": requested,
        "updated_at": requested,
    }


def test_ingestions_written_past_the_api_are_counted_as_stored(server, api):
    """Rows an operator inserts, moves between states or deletes with SQL of their own."""
    _, actor = new_tenant(server, api)
    rows = [ingestion_row(actor, state, utcnow()) for state in ("timeout", "failed", "success")]
    with database_of(server) as database:
        with database.transaction() as session:
            session.execute(insert(Ingestion), rows)
        assert_scraped_as_stored(server, api, timeout=1, failed=1, success=1)
        with database.transaction() as session:
            session.execute(
                update(Ingestion).where(Ingestion.state == "timeout").values(state="failed")
            )
            session.execute(
                update(Ingestion).where(Ingestion.state == "success").values(state="scheduled")
            )
        assert_scraped_as_stored(server, api, timeout=0, failed=2, success=0, scheduled=1)
        with database.transaction() as session:
            session.execute(delete(Ingestion).where(Ingestion.state.in_(("failed", "scheduled"))))
        assert_scraped_as_stored(server, api, failed=0, scheduled=0)


@contextmanager
def statements_reading_ingestions() -> Iterator[list[tuple[str, Any]]]:
    """(statement, parameters) of every statement that names the ingestions table, as the
    engines of this process send them while the block runs (the test server's included)."""
    statements: list[tuple[str, Any]] = []

    def note(_connection, _cursor, statement, parameters, *_: Any) -> None:
        if re.search(r"\bingestions\b", statement):
            statements.append((statement, parameters))

    event.listen(Engine, "before_cursor_execute", note)
    try:
        yield statements
    finally:
        event.remove(Engine, "before_cursor_execute", note)


def rows_read_from_ingestions(connection, statement: str, parameters: Any) -> int:
    """How many rows of `ingestions` PostgreSQL reads to run the statement (EXPLAIN ANALYZE):
    those each scan of the table returned, and those it read and filtered out."""
    explained = connection.exec_driver_sql(
        f"EXPLAIN (ANALYZE, FORMAT JSON) {statement}", parameters
    ).scalar_one()
    plan = explained if isinstance(explained, list) else json.loads(explained)

    def read(node: dict[str, Any]) -> int:
        own = 0
        if node.get("Relation Name") == "ingestions":
            returned = node["Actual Rows"] * node["Actual Loops"]
            own = returned + node.get("Rows Removed by Filter", 0)
            own += node.get("Rows Removed by Index Recheck", 0)
        return own + sum(read(child) for child in node.get("Plans", []))

    return read(plan[0]["Plan"])


def test_a_scrape_reads_the_pending_ingestions_and_one_success_not_the_history(server, api):
    """A long history must not make a scrape longer: it reads no more rows of `ingestions`
    than the pending ones and the latest success. (Scans are priced out on PostgreSQL, where
    a small table would get one anyway; what is left reads the history only if the query
    cannot be answered without it. SQLite's plan must search by index, not scan.)"""
    _, actor = new_tenant(server, api)
    history = [
        ingestion_row(actor, ENDED[number % 4], utcnow() - timedelta(hours=number))
        for number in range(200)
    ]
    with database_of(server) as database, database.transaction() as session:
        session.execute(insert(Ingestion), [*history, ingestion_row(actor, "scheduled", None)])
    with statements_reading_ingestions() as statements:
        assert scraped(api)["success"] == 50
    assert statements, "a scrape reads ingestions from the database"
    engine = create_engine(server.database_url)
    try:
        with engine.connect() as connection:
            if server.backend == "postgresql":
                connection.exec_driver_sql("SET enable_seqscan = off")
                read = [rows_read_from_ingestions(connection, *each) for each in statements]
                assert sum(read) <= 2, list(zip(read, statements, strict=True))
            else:
                for statement, parameters in statements:
                    plan = connection.exec_driver_sql(
                        f"EXPLAIN QUERY PLAN {statement}", parameters
                    ).all()
                    details = [row[-1] for row in plan]
                    assert not [d for d in details if re.match(r"SCAN ingestions\b", d)], details
    finally:
        engine.dispose()


def test_metrics_find_the_latest_success_by_index(server):
    """Ingestions are never pruned and /metrics asks for the latest success on every scrape:
    the plan must walk the (state, completed_at) index, not scan and sort the history.
    (Scans are priced out so that the planner shows the index on a small table too.)"""
    # The write engine: its transaction may SET for itself (read sessions may not write).
    with database_of(server) as database, database.write_engine.connect() as connection:
        if connection.dialect.name == "postgresql":
            connection.exec_driver_sql("SET enable_seqscan = off")
            connection.exec_driver_sql("SET enable_sort = off")
            explain = "EXPLAIN "
        else:
            explain = "EXPLAIN QUERY PLAN "
        statement = LATEST_SUCCESS.compile(connection, compile_kwargs={"literal_binds": True})
        plan = " ".join(str(row) for row in connection.exec_driver_sql(f"{explain}{statement}"))
    assert "ix_ingestions_state_completed" in plan, plan
    assert "TEMP B-TREE" not in plan and "Sort" not in plan, plan
