"""The migrations build exactly the schema the models declare, on both databases, and undo
themselves: a model change without its migration (or the reverse) fails here rather than in
an operator's `interop migrate`."""

import uuid
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection, create_engine, insert, inspect, text
from sqlalchemy.schema import SchemaItem

from conftest import BACKENDS, _sqlalchemy_url
from interop.db import utcnow
from interop.migrations_runner import alembic_config, upgrade
from interop.models import Account, Actor, ApiKey, Base, ClientKey, Cloud, Ingestion


@pytest.fixture(params=BACKENDS)
def empty_database(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'interop.db'}"
    return _sqlalchemy_url(request.getfixturevalue("own_postgres_database"))


def _drift(database_url: str) -> list[Any]:
    """What autogenerate would change to make the database match the models."""
    engine = create_engine(database_url)
    try:
        with engine.connect() as connection:
            dialect = connection.dialect.name

            def declared_for_this_dialect(item: SchemaItem, *_: Any) -> bool:
                # An index declared `ddl_if(dialect=…)` exists on that database only.
                condition = getattr(item, "_ddl_if", None)
                return condition is None or condition.dialect in (None, dialect)

            context = MigrationContext.configure(
                connection,
                opts={"compare_type": True, "include_object": declared_for_this_dialect},
            )
            return list(compare_metadata(context, Base.metadata)) + _collation_drift(connection)
    finally:
        engine.dispose()


def _collation_drift(connection: Connection) -> list[Any]:
    """Columns whose collation differs from the model's: autogenerate's type comparison
    ignores collations, which decide the order of every list paged by the column."""
    inspector = inspect(connection)
    drift = []
    for table in Base.metadata.sorted_tables:
        found = {column["name"]: column["type"] for column in inspector.get_columns(table.name)}
        for column in table.columns:
            declared = getattr(column.type.dialect_impl(connection.dialect), "collation", None)
            actual = getattr(found.get(column.name), "collation", None)
            if declared != actual:
                drift.append(("collation", table.name, column.name, actual, declared))
    return drift


def test_migrations_build_what_the_models_declare(empty_database: str) -> None:
    upgrade(empty_database)
    assert _drift(empty_database) == []


def test_migrations_downgrade_to_nothing_and_back(empty_database: str) -> None:
    config = alembic_config(empty_database)
    command.upgrade(config, "head")
    command.downgrade(config, "base")
    engine = create_engine(empty_database)
    try:
        with engine.connect() as connection:
            left = set(connection.dialect.get_table_names(connection)) - {"alembic_version"}
    finally:
        engine.dispose()
    assert left == set()
    command.upgrade(config, "head")
    assert _drift(empty_database) == []


def test_the_ingestion_totals_start_from_the_history_already_stored(empty_database: str) -> None:
    """Migration 0010 counts the ended ingestions a server already holds: its triggers only
    move the totals from there."""
    upgrade(empty_database, "0009")
    states = ["success", "success", "success", "failed", "timeout", "scheduled"]
    now = utcnow()
    engine = create_engine(empty_database)
    try:
        with engine.begin() as connection:
            # No tenant for them to refer to: PostgreSQL's foreign keys are not checked in
            # this transaction (SQLite checks none without its pragma).
            if connection.dialect.name == "postgresql":
                connection.exec_driver_sql("SET LOCAL session_replication_role = replica")
            connection.execute(
                insert(Ingestion),
                [
                    {
                        "id": uuid.uuid4(),
                        "tenant_id": uuid.uuid4(),
                        "state": state,
                        "trigger": "schedule",
                        "created_at": now,
                        "updated_at": now,
                    }
                    for state in states
                ],
            )
        upgrade(empty_database)
        with engine.connect() as connection:
            totals = dict(
                connection.execute(text("SELECT state, total FROM ingestion_state_totals")).all()
            )
    finally:
        engine.dispose()
    assert totals == {"success": 3, "failed": 1, "timeout": 1}


def test_client_keys_are_tied_to_their_actors_and_orphans_removed(empty_database: str) -> None:
    """Migration 0012 links the keys stored so far to their actors, and removes those whose
    actor was deleted or whose API key was revoked before: nothing could reach them."""
    upgrade(empty_database, "0011")
    account_id, cloud_id, actor_id = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    engine = create_engine(empty_database)
    try:
        with engine.begin() as connection:
            connection.execute(
                insert(Account),
                {"id": account_id, "name": "a", "type": "developer", "public_id": "p", "path": "/"},
            )
            connection.execute(
                insert(Cloud), {"id": cloud_id, "account_id": account_id, "name": "c"}
            )
            connection.execute(
                insert(Actor),
                {
                    "id": actor_id,
                    "account_id": account_id,
                    "cloud_id": cloud_id,
                    "name": "n",
                    "type": "connector",
                    "client_id": "act_here",
                    "secret_encrypted": "x",
                },
            )
            connection.execute(
                insert(ApiKey),
                [
                    {
                        "account_id": account_id,
                        "client_id": "acc_active",
                        "secret_hash": "h",
                        "revoked_at": None,
                    },
                    {
                        "account_id": account_id,
                        "client_id": "acc_revoked",
                        "secret_hash": "h",
                        "revoked_at": utcnow(),
                    },
                ],
            )
            clients = ["act_here", "act_gone", "acc_active", "acc_revoked"]
            connection.execute(
                insert(ClientKey.__table__),
                [
                    {
                        "id": uuid.uuid4(),
                        "account_id": account_id,
                        "client_id": client_id,
                        "created_at": utcnow(),
                    }
                    for client_id in clients
                ],
            )
        upgrade(empty_database)
        with engine.connect() as connection:
            kept = dict(
                connection.execute(text("SELECT client_id, actor_id FROM client_keys")).all()
            )
    finally:
        engine.dispose()
    assert set(kept) == {"act_here", "acc_active"}
    assert kept["acc_active"] is None
    assert uuid.UUID(str(kept["act_here"])) == actor_id
