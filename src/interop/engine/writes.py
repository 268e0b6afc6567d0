"""Writing a batch of source rows into a topic's repository table.

A row is recognised as unchanged by its digest, so rewriting a batch (after a takeover) is
harmless and counts nothing. The stored digests of a batch are read in one statement; what
differs is written: on PostgreSQL through COPY into a temporary staging table and one
INSERT … ON CONFLICT (several times faster than row-by-row statements), or by COPY straight
into the table when none of the rows can be stored yet (a first load); on SQLite with
executemany.
"""

import hashlib
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import ARRAY, String, Table, any_, bindparam, select, text, update
from sqlalchemy.orm import Session

from interop.connectors.oneroster_csv import SourceRow
from interop.db import copy_rows, executemany_sqlite

TOMBSTONE = "tobedeleted"
_STORED_COLUMNS = (
    "tenant_id",
    "sourced_id",
    "status",
    "date_last_modified",
    "fields",
    "digest",
    "created_at",
    "updated_at",
)
_STAGE = "roster_stage"
_STAGE_READY = "interop_roster_stage_ready"  # key in the pooled connection's info


@dataclass(slots=True)  # not frozen, like SourceRow: one per row
class StagedRow:
    """A source row as the repository stores it: its fields as canonical JSON and a digest
    of what the source said."""

    sourced_id: str
    date_last_modified: datetime | None
    fields: dict[str, Any]
    fields_json: str
    digest: str

    @classmethod
    def of(cls, row: SourceRow) -> "StagedRow":
        fields_json = orjson.dumps(row.fields, option=orjson.OPT_SORT_KEYS).decode()
        modified = row.date_last_modified.isoformat() if row.date_last_modified else ""
        digest = hashlib.blake2b(
            f"{modified}\x00{fields_json}".encode(), digest_size=16
        ).hexdigest()
        return cls(row.sourced_id, row.date_last_modified, row.fields, fields_json, digest)


def upsert(
    session: Session,
    table: Table,
    tenant_id: uuid.UUID,
    staged: list[StagedRow],
    now: datetime,
    fresh: bool = False,
) -> tuple[int, int]:
    """Insert new rows, rewrite changed ones and revive tombstones; (created, updated).
    A revived tombstone counts as created: for the integration the record is new again.
    `fresh`: the caller knows none of the rows is stored yet (a first load)."""
    if not staged:
        return 0, 0
    stored = (
        {} if fresh else stored_digests(session, table, tenant_id, [r.sourced_id for r in staged])
    )
    new = [row for row in staged if row.sourced_id not in stored]
    changed = [
        row
        for row in staged
        if row.sourced_id in stored and stored[row.sourced_id] != (row.digest, "active")
    ]
    revived = sum(stored[row.sourced_id][1] == TOMBSTONE for row in changed)
    if session.get_bind().dialect.name == "postgresql":
        if fresh:
            _copy_new_postgres(session, table, tenant_id, new, now)
        else:
            _write_postgres(session, table, tenant_id, new + changed, now)
    else:
        _write_sqlite(session, table, tenant_id, new, changed, now)
    return len(new) + revived, len(changed) - revived


def tombstone(
    session: Session, table: Table, tenant_id: uuid.UUID, sourced_ids: Iterable[str], now: datetime
) -> int:
    result = session.execute(
        update(table)
        .where(
            table.c.tenant_id == tenant_id,
            table.c.sourced_id.in_(list(sourced_ids)),
            table.c.status == "active",
        )
        .values(status=TOMBSTONE, digest="", updated_at=now)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


def stored_digests(
    session: Session, table: Table, tenant_id: uuid.UUID, sourced_ids: list[str]
) -> dict[str, tuple[str, str]]:
    """(digest, status) of the batch's ids already stored: one probe of the primary key.

    On PostgreSQL the ids are one array parameter, not thousands of bound values. How the
    probe reads depends on the table's statistics: with statistics that know the tenant it
    looks the ids up in the primary key (17 ms for 5,000 ids at 520,000 rows), with none or
    stale ones it reads all of the tenant's rows and filters them (145 ms). A large load
    therefore gathers them (`refresh_statistics`). A per-id lookup (a LATERAL subquery) was
    tried instead: as fast with statistics, but on statistics that say the tenant holds
    about one row PostgreSQL may answer each id from the changes index, reading every row of
    the tenant per id; the filtering plan at least reads them once per batch."""
    if session.get_bind().dialect.name == "postgresql":
        condition = table.c.sourced_id == any_(bindparam("ids", sourced_ids, type_=ARRAY(String)))
    else:
        condition = table.c.sourced_id.in_(sourced_ids)
    result = session.execute(
        select(table.c.sourced_id, table.c.digest, table.c.status).where(
            table.c.tenant_id == tenant_id, condition
        )
    )
    return {sourced_id: (digest, status) for sourced_id, digest, status in result}


def refresh_statistics(session: Session, table: Table) -> None:
    """Gather PostgreSQL's statistics of the table now, after a load that changed what it
    holds (ANALYZE samples at most 30,000 rows whatever the table's size: 0.16 s for one of
    520,000 rows). Until then a tenant the statistics do not know looks empty to the planner,
    however many rows it holds, which is also what autovacuum leaves when the tenant's rows
    are under a tenth of the table. PostgreSQL only: the server never gathers SQLite's
    (BENCHMARKS.md), and its caller asks nothing of a SQLite database."""
    session.execute(text(f"ANALYZE {table.name}"))


def _copy_new_postgres(
    session: Session, table: Table, tenant_id: uuid.UUID, rows: list[StagedRow], now: datetime
) -> None:
    """COPY rows none of which is stored straight into the table: a first load needs no
    staging table and no conflict handling (the primary key still refuses a repeat). In a
    first load of 800,000 rows the staging and the INSERT … SELECT had kept PostgreSQL busy
    for about 12 s of the writer's time."""
    values = (
        (
            tenant_id,
            row.sourced_id,
            "active",
            row.date_last_modified,
            row.fields_json,
            row.digest,
            now,
            now,
        )
        for row in rows
    )
    copy_rows(session, table.name, _STORED_COLUMNS, values)


def _write_postgres(
    session: Session, table: Table, tenant_id: uuid.UUID, rows: list[StagedRow], now: datetime
) -> None:
    """COPY the rows to write into a staging table, then one INSERT … ON CONFLICT."""
    if not rows:
        return
    connection = session.connection()
    if not connection.info.get(_STAGE_READY):
        # Per connection, emptied by every commit: batches never see each other's rows.
        connection.execute(
            text(
                f"CREATE TEMPORARY TABLE IF NOT EXISTS {_STAGE} ("
                " sourced_id varchar(255) NOT NULL,"
                " date_last_modified timestamptz,"
                " fields json NOT NULL,"
                " digest varchar(32) NOT NULL"
                ") ON COMMIT DELETE ROWS"
            )
        )
        connection.info[_STAGE_READY] = True
    copy_rows(
        session,
        _STAGE,
        ("sourced_id", "date_last_modified", "fields", "digest"),
        ((row.sourced_id, row.date_last_modified, row.fields_json, row.digest) for row in rows),
    )
    session.execute(
        text(
            f"""
            INSERT INTO {table.name} AS t (tenant_id, sourced_id, status, date_last_modified,
                                           fields, digest, created_at, updated_at)
            SELECT :tenant, s.sourced_id, 'active', s.date_last_modified, s.fields, s.digest,
                   :now, :now
            FROM {_STAGE} s
            ON CONFLICT (tenant_id, sourced_id) DO UPDATE SET
                status = 'active',
                date_last_modified = excluded.date_last_modified,
                fields = excluded.fields,
                digest = excluded.digest,
                updated_at = excluded.updated_at
            """  # noqa: S608 - table names are ours, values are bound
        ),
        {"tenant": tenant_id, "now": now},
    )
    session.execute(text(f"TRUNCATE {_STAGE}"))  # the next batch of this transaction starts empty


def _write_sqlite(
    session: Session,
    table: Table,
    tenant_id: uuid.UUID,
    new: list[StagedRow],
    changed: list[StagedRow],
    now: datetime,
) -> None:
    """INSERT the new rows and UPDATE the changed ones, each with one executemany on the
    sqlite3 connection. SQLAlchemy's executemany prepared every row's parameters itself (a
    dictionary each, the JSON encoded again, each value through its type): in a first load of
    800,000 rows that was 15 s of the writer's 23, sqlite3's own executemany 4 s. Values are
    converted here by the columns' own types, as SQLAlchemy would bind them, once for the
    values every row shares; `fields` is the row's canonical JSON, which PostgreSQL stores
    too."""
    connection = session.connection()

    def bind(column: str) -> Callable[[Any], Any]:
        convert = (
            table.c[column].type.dialect_impl(connection.dialect).bind_processor(connection.dialect)
        )
        return convert if convert is not None else (lambda value: value)

    tenant, written_at = bind("tenant_id")(tenant_id), bind("updated_at")(now)
    modified_form = bind("date_last_modified")
    modified: dict[datetime | None, Any] = {}  # exports repeat a few timestamps

    def values(row: StagedRow) -> tuple[Any, ...]:
        when = row.date_last_modified
        if when not in modified:
            modified[when] = modified_form(when)
        return (row.sourced_id, modified[when], row.fields_json, row.digest, tenant, written_at)

    # ?1 sourced_id, ?2 date_last_modified, ?3 fields, ?4 digest, ?5 tenant_id, ?6 the time
    inserting = (
        f"INSERT INTO {table.name} ({', '.join(_STORED_COLUMNS)})"  # noqa: S608 - our names
        " VALUES (?5, ?1, 'active', ?2, ?3, ?4, ?6, ?6)"
    )
    updating = (
        f"UPDATE {table.name} SET status = 'active', date_last_modified = ?2, fields = ?3,"  # noqa: S608
        " digest = ?4, updated_at = ?6 WHERE tenant_id = ?5 AND sourced_id = ?1"
    )
    for statement, rows in ((inserting, new), (updating, changed)):
        if rows:
            executemany_sqlite(session, statement, [values(row) for row in rows])
