"""db.StartsWith, the prefix match behind account visibility (an account sees the accounts
whose path starts with its own): the same rows on both backends as Python's str.startswith,
and on SQLite a range that the path's index serves, where LIKE scanned every account."""

import uuid
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Column, MetaData, String, Table, insert, select

from interop.accounts.models import Account
from interop.accounts.repository import visible_account_ids
from interop.auth.principals import Principal
from interop.db import Database, StartsWith
from interop.migrations_runner import upgrade

PATHS = [
    "/a/",
    "/a/b/",
    "/a/b/c/",
    "/a0/",
    "/a-/",
    "/a./",
    "/ab/",
    "/A/",
    "/A/b/",
    "/a",
    "/",
    "/é/",
    "/é/x/",
    "/e/",
    "/ê/",
    "/a/ü/",
]
PREFIXES = ["/a/", "/a/b/", "/A/", "/é/", "/a", "/", "/zz/"]


def test_it_selects_exactly_the_rows_whose_text_starts_with_the_prefix(clean) -> None:
    database = Database(clean.database_url)
    probe = Table("prefix_probe", MetaData(), Column("path", String(64)), prefixes=["TEMPORARY"])
    try:
        with database.write_engine.connect() as connection:
            probe.create(connection)
            connection.execute(insert(probe), [{"path": path} for path in PATHS])
            for prefix in PREFIXES:
                selected = connection.scalars(
                    select(probe.c.path).where(StartsWith(probe.c.path, prefix))
                )
                expected = [path for path in PATHS if path.startswith(prefix)]
                assert sorted(selected) == sorted(expected), prefix
                refused = connection.scalars(
                    select(probe.c.path).where(~StartsWith(probe.c.path, prefix))
                )
                assert sorted(refused) == sorted(set(PATHS) - set(expected)), prefix
            connection.rollback()
    finally:
        database.dispose()


@pytest.mark.parametrize("prefix", ["", "/a%/", "/a_/", "/a\\/"])
def test_a_prefix_that_like_would_misread_is_refused(prefix: str) -> None:
    with pytest.raises(ValueError):
        StartsWith(Account.path, prefix)


def test_visibility_reads_the_path_index_on_sqlite(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'interop.db'}"
    upgrade(url)
    principal = Principal(
        kind="account",
        client_id="probe",
        account_id=uuid.uuid4(),
        account_type="developer",
        account_path=f"/{uuid.uuid4()}/",
    )
    statement = visible_account_ids(principal)
    database = Database(url)
    try:
        with database.read_engine.connect() as connection:
            compiled = statement.compile(dialect=connection.dialect)
            driver: Any = connection.connection.driver_connection
            plan = driver.execute(
                f"EXPLAIN QUERY PLAN {compiled}", tuple(compiled.params.values())
            ).fetchall()
    finally:
        database.dispose()
    # LIKE, which SQLite compares ignoring case, scanned every account instead (SCAN accounts).
    assert [row[-1] for row in plan] == [
        "SEARCH accounts USING INDEX ix_accounts_path (path>? AND path<?)"
    ]
