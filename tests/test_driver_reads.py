"""Prebuilt reads (db.prebuilt): on SQLite they run through the sqlite3 driver itself, and
their rows must equal, value for value and type for type, what SQLAlchemy returns for the
same statement; on PostgreSQL they keep SQLAlchemy's path."""

import logging
import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from sqlalchemy import bindparam, event, select, update
from sqlalchemy.exc import OperationalError

from factories import new_tenant
from interop.accounts.models import Account
from interop.auth.service import ACCOUNT_BY_KEY, ACTOR_BY_CLIENT
from interop.db import Database, column_rows, prebuilt
from interop.migrations_runner import upgrade
from interop.schedules.models import Schedule
from interop.schedules.service import TENANT_SCHEDULES_PAGE

SCHEDULES = "/v2/interop/tenant/schedules"


def _as_sqlalchemy_reads(session: Any, statement: Any, values: dict[str, Any]) -> list[Any]:
    return list(session.connection().execute(statement, values).all())


def _typed(rows: Any) -> list[list[tuple[str, type, Any]]]:
    """Each row's values with their names and types: an equal value of another type (an id
    as text, a 0 for False) would still tell the rows apart."""
    return [
        [(name, type(getattr(row, name)), getattr(row, name)) for name in row._fields]
        for row in rows
    ]


def test_a_page_of_schedules_reads_as_sqlalchemy_reads_it(clean, api: httpx.Client) -> None:
    _, actor = new_tenant(clean, api)
    for hour in (1, 2, 3):
        assert api.post(SCHEDULES, json={"hour": hour}, headers=actor.headers).status_code == 200
    tenant_id = uuid.UUID(actor.extra["tenant_id"])
    ran = datetime(2026, 3, 4, 5, 6, 7, 890123, tzinfo=UTC)
    database = Database(clean.database_url)
    try:
        with database.transaction() as session:  # NULLs, datetimes and a false boolean, all read
            session.execute(
                update(Schedule)
                .where(Schedule.hour == 2, Schedule.tenant_id == tenant_id)
                .values(enabled=False, last_run_at=ran, last_skip_reason="missed")
            )
        values = {"tenant_id": tenant_id, "page_limit": 2, "page_offset": 1}
        with database.transaction(write=False) as session:
            ours = column_rows(session, TENANT_SCHEDULES_PAGE, values)
            theirs = _as_sqlalchemy_reads(session, TENANT_SCHEDULES_PAGE, values)
    finally:
        database.dispose()
    assert [row.hour for row in ours] == [2, 3]
    assert _typed(ours) == _typed(theirs)
    assert ours[0].last_run_at == ran and ours[0].enabled is False
    assert isinstance(ours[0].id, uuid.UUID) and ours[0].tenant_id == tenant_id


def test_the_callers_lookups_read_as_sqlalchemy_reads_them(clean, api: httpx.Client) -> None:
    owner, actor = new_tenant(clean, api)
    database = Database(clean.database_url)
    try:
        with database.transaction(write=False) as session:
            for statement, client_id in (
                (ACTOR_BY_CLIENT, actor.client_id),
                (ACCOUNT_BY_KEY, owner.client_id),
                (ACTOR_BY_CLIENT, "nobody"),
            ):
                values = {"client_id": client_id}
                ours = column_rows(session, statement, values)
                assert _typed(ours) == _typed(_as_sqlalchemy_reads(session, statement, values))
            (actor_row,) = column_rows(session, ACTOR_BY_CLIENT, {"client_id": actor.client_id})
    finally:
        database.dispose()
    assert str(actor_row.tenant_id) == actor.extra["tenant_id"]
    assert actor_row._fields[-1] == "tenant_id"  # read by name, as the labels say


def test_a_failing_driver_read_raises_as_sqlalchemy_would(tmp_path) -> None:
    # The app answers SQLAlchemy's OperationalError (503 database_unavailable), not sqlite3's.
    database = Database(f"sqlite:///{tmp_path / 'empty.db'}")  # no tables
    try:
        with database.transaction(write=False) as session, pytest.raises(OperationalError):
            column_rows(session, ACCOUNT_BY_KEY, {"client_id": "x"})
    finally:
        database.dispose()


def test_a_statement_with_an_in_list_cannot_be_prebuilt_for_the_driver(tmp_path) -> None:
    statement = prebuilt(select(Account.id).where(Account.id.in_(bindparam("ids", expanding=True))))
    database = Database(f"sqlite:///{tmp_path / 'in.db'}")
    try:
        with database.transaction(write=False) as session, pytest.raises(ValueError, match="IN"):
            column_rows(session, statement, {"ids": [uuid.uuid4()]})
    finally:
        database.dispose()


def test_on_sqlite_a_prebuilt_read_skips_sqlalchemys_execution(clean, api: httpx.Client) -> None:
    owner, _ = new_tenant(clean, api)
    database = Database(clean.database_url)
    executed: list[str] = []
    event.listen(database.read_engine, "before_cursor_execute", lambda *a: executed.append(a[2]))
    try:
        with database.transaction(write=False) as session:
            assert column_rows(session, ACCOUNT_BY_KEY, {"client_id": owner.client_id})
            column_rows(session, select(Account.id))  # not prebuilt: SQLAlchemy's path
    finally:
        database.dispose()
    through_sqlalchemy = 1 if database.is_sqlite else 2
    assert len(executed) == through_sqlalchemy, executed


@pytest.mark.parametrize("logged_by", ["echo", "logger"])
def test_a_prebuilt_read_is_logged_when_statements_are(tmp_path, logged_by: str) -> None:
    # Someone reading the SQL log (echo, or the sqlalchemy.engine logger at INFO) sees the
    # caller's lookup like every other statement: it then takes SQLAlchemy's path.
    url = f"sqlite:///{tmp_path / 'logged.db'}"
    upgrade(url)
    database = Database(url, echo=logged_by == "echo")
    engine_log = logging.getLogger("sqlalchemy.engine")
    level = engine_log.level
    if logged_by == "logger":
        engine_log.setLevel(logging.INFO)
    executed: list[str] = []
    event.listen(database.read_engine, "before_cursor_execute", lambda *a: executed.append(a[2]))
    try:
        with database.transaction(write=False) as session:
            assert column_rows(session, ACCOUNT_BY_KEY, {"client_id": "nobody"}) == []
    finally:
        engine_log.setLevel(level)
        database.dispose()
    assert len(executed) == 1, executed
