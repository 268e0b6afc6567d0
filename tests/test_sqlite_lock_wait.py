"""A transaction may wait less than SQLite's busy timeout for another connection's lock (the
engine's retries through an outage keep to their own schedule): that transaction only."""

import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from interop.db import SQLITE_BUSY_TIMEOUT_MS, Database


def busy_timeout(database: Database, **options: float) -> int:
    with database.transaction(**options) as session:
        return int(session.execute(text("PRAGMA busy_timeout")).scalar_one())


def test_a_transaction_s_lock_wait_bounds_that_transaction_only(tmp_path: Path) -> None:
    path = tmp_path / "locks.db"
    database = Database(f"sqlite:///{path}", pool_size=1)  # one connection, used by each
    holder = sqlite3.connect(path, isolation_level=None)
    try:
        assert busy_timeout(database, lock_wait=0.25) == 250
        assert busy_timeout(database) == SQLITE_BUSY_TIMEOUT_MS
        assert busy_timeout(database, lock_wait=3600) == SQLITE_BUSY_TIMEOUT_MS  # at most
        holder.execute("BEGIN IMMEDIATE")
        with pytest.raises(OperationalError), database.transaction(lock_wait=0.1) as session:
            session.execute(text("SELECT 1"))  # its BEGIN IMMEDIATE meets the lock
        holder.execute("ROLLBACK")
        assert busy_timeout(database) == SQLITE_BUSY_TIMEOUT_MS
    finally:
        holder.close()
        database.dispose()
