"""A collection's writes: a first load, written past SQLAlchemy's executemany, stores what it
would store, and after a large load PostgreSQL's statistics know the tenant, so that the next
run's probes of what the tenant stores look its ids up in the primary key (on statistics that
did not, each batch read every row of the tenant)."""

import json
import logging
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import insert, text, update
from sqlalchemy.orm import Session

from factories import (
    ONEROSTER_MINIMAL,
    _database,
    collect,
    generated_bundle,
    new_collecting_tenant,
    new_tenant,
    store_records,
)
from interop.connectors.oneroster_csv import SourceRow
from interop.engine import collection, writes
from interop.roster.models import topic_table

USERS = topic_table("users")
FIELDS = {
    "username": "zoë",
    "org_sourced_ids": ["sch-1", "sch-2"],
    "enabled_user": True,
    "metadata": {"nickname": "Zo", "ünicode": "✓"},
}


def estimated_rows(session: Session, tenant: uuid.UUID) -> float:
    """How many users PostgreSQL's planner believes the tenant holds."""
    plan = session.execute(
        text("EXPLAIN (FORMAT JSON) SELECT sourced_id FROM roster_users WHERE tenant_id = :t"),
        {"t": tenant},
    ).scalar_one()
    return float(plan[0]["Plan"]["Plan Rows"])


def test_after_a_large_load_the_statistics_know_the_tenant(server, api, tmp_path, monkeypatch):
    # Small enough for a test: 600 students make about 900 users.
    monkeypatch.setattr(collection, "REFRESH_STATISTICS_AFTER_ROWS", 500)
    database = _database(server.database_url)
    _, earlier = new_collecting_tenant(server, api, ONEROSTER_MINIMAL)
    store_records(
        server, earlier, "users", {f"old-{i}": {"username": f"o{i}"} for i in range(2000)}
    )
    if server.backend == "postgresql":
        # Statistics of a table that holds another tenant's rows alone: a tenant they do not
        # know looks empty to the planner, as a new tenant's does until they are gathered.
        with database.transaction() as session:
            session.execute(text("ANALYZE roster_users"))

    _, actor = new_collecting_tenant(server, api, generated_bundle(tmp_path, 600, seed=3))
    assert collect(server, api, actor)["stats"]["created"] > 0
    tenant = uuid.UUID(actor.extra["tenant_id"])
    with database.transaction() as session:  # EXPLAIN is no statement a read session runs
        users = list(session.execute(USERS.select().where(USERS.c.tenant_id == tenant)))
        asked = [user.sourced_id for user in users[::5]] + ["absent"]
        found = writes.stored_digests(session, USERS, tenant, asked)
        if server.backend == "postgresql":
            # Before, about 1 here: the probe then read every row of the tenant for each
            # batch of the next run (145 ms a batch at 520,000 rows, against 17 ms).
            assert len(users) / 2 <= estimated_rows(session, tenant) <= len(users) * 2
    assert len(users) > collection.REFRESH_STATISTICS_AFTER_ROWS
    assert found == {user.sourced_id: (user.digest, "active") for user in users[::5]}


def raw_rows(session: Session, tenant: uuid.UUID) -> dict[str, tuple[Any, ...]]:
    """The tenant's users as the database driver returns them, by sourcedId; `fields` parsed
    (its text is the row's canonical JSON on one path and SQLAlchemy's encoding on the other)."""
    rows = session.connection().exec_driver_sql(
        "SELECT sourced_id, tenant_id, status, date_last_modified, fields, digest, created_at,"
        " updated_at FROM roster_users"
    )
    return {
        row[0]: (*row[1:4], row[4] if isinstance(row[4], dict) else json.loads(row[4]), *row[5:])
        for row in rows
        if row[1] in (tenant, tenant.hex)
    }


def orm_values(row: writes.StagedRow, tenant: uuid.UUID, at: datetime) -> dict[str, Any]:
    """The row as SQLAlchemy's own insert takes it, under the id `orm-<its id>`."""
    return {
        "tenant_id": tenant,
        "sourced_id": f"orm-{row.sourced_id}",
        "status": "active",
        "date_last_modified": row.date_last_modified,
        "fields": row.fields,
        "digest": row.digest,
        "created_at": at,
        "updated_at": at,
    }


@pytest.mark.parametrize("first_load", [True, False], ids=["first load", "rewrite"])
def test_written_rows_hold_each_value_as_sqlalchemy_would_store_it(server, api, first_load):
    _, actor = new_tenant(server, api)
    tenant = uuid.UUID(actor.extra["tenant_id"])
    now = datetime(2026, 11, 28, 16, 5, 4, 321, tzinfo=UTC)
    sources = [
        SourceRow(1, "one", "active", datetime(2026, 1, 2, 3, 4, 5, 6, tzinfo=UTC), FIELDS),
        SourceRow(2, "two", "active", None, {"username": "b", "grades": []}),
    ]
    staged = [writes.StagedRow.of(source) for source in sources]
    with _database(server.database_url).transaction() as session:
        if first_load:
            assert writes.upsert(session, USERS, tenant, staged, now, fresh=True) == (2, 0)
            session.execute(insert(USERS), [orm_values(row, tenant, now) for row in staged])
        else:
            earlier = now - timedelta(days=1)
            old = [
                writes.StagedRow.of(SourceRow(0, row.sourced_id, "active", None, {"n": "old"}))
                for row in staged
            ]
            writes.upsert(session, USERS, tenant, old, earlier, fresh=True)
            session.execute(insert(USERS), [orm_values(row, tenant, earlier) for row in old])
            assert writes.upsert(session, USERS, tenant, staged, now) == (0, 2)
            for row in staged:
                session.execute(
                    update(USERS)
                    .where(
                        USERS.c.tenant_id == tenant, USERS.c.sourced_id == f"orm-{row.sourced_id}"
                    )
                    .values(
                        date_last_modified=row.date_last_modified,
                        fields=row.fields,
                        digest=row.digest,
                        updated_at=now,
                    )
                )
        stored = raw_rows(session, tenant)
        session.rollback()
    assert len(stored) == 4
    for row in staged:
        assert stored[row.sourced_id] == stored[f"orm-{row.sourced_id}"]


def test_the_sql_log_shows_the_writes_run_on_the_driver(server, api, caplog):
    """A first load's COPY (PostgreSQL) and SQLite's executemany run past SQLAlchemy: with its
    statements logged (`echo`, or its logger at INFO), they are logged beside them."""
    _, actor = new_tenant(server, api)
    tenant = uuid.UUID(actor.extra["tenant_id"])
    staged = [writes.StagedRow.of(SourceRow(1, "one", "active", None, {"username": "a"}))]
    with (
        caplog.at_level(logging.INFO, logger="sqlalchemy.engine"),
        _database(server.database_url).transaction() as session,
    ):
        writes.upsert(session, USERS, tenant, staged, datetime.now(UTC), fresh=True)
        session.rollback()
    written = (
        'COPY "roster_users"' if server.backend == "postgresql" else "INSERT INTO roster_users"
    )
    assert any(
        record.getMessage().startswith(written)
        and record.getMessage().endswith("[run on the driver: 1 rows]")
        for record in caplog.records
    ), [record.getMessage() for record in caplog.records]
