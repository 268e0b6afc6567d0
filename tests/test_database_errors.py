"""What a 503 says for a database error: writers colliding on a healthy database (a
PostgreSQL deadlock, a SQLite lock held past the busy timeout) are not an outage. The errors
are real ones, raised by the databases themselves."""

import contextlib
import threading
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session

from interop.app import database_problem
from interop.db import copy_rows


def test_a_postgresql_deadlock_is_a_collision_to_retry(own_postgres_database: str) -> None:
    engine = create_engine(own_postgres_database)
    errors: list[OperationalError] = []
    try:
        with engine.begin() as setup:
            setup.exec_driver_sql("CREATE TABLE pair (id int PRIMARY KEY)")
            setup.exec_driver_sql("INSERT INTO pair VALUES (1), (2)")
        first, second = engine.connect(), engine.connect()
        first.exec_driver_sql("UPDATE pair SET id = id WHERE id = 1")
        second.exec_driver_sql("UPDATE pair SET id = id WHERE id = 2")

        def cross(connection, row: int) -> None:  # each waits for the other's row
            try:
                connection.exec_driver_sql(f"UPDATE pair SET id = id WHERE id = {row}")
            except OperationalError as exc:
                errors.append(exc)
                connection.rollback()

        waiting = threading.Thread(target=cross, args=(first, 2))
        waiting.start()
        cross(second, 1)
        waiting.join(timeout=30)
        first.close()
        second.close()
    finally:
        engine.dispose()
    assert len(errors) == 1  # PostgreSQL ends one of the two
    message, retry_after = database_problem(errors[0])
    assert message == "the database ended this request in a deadlock with concurrent writes; retry"
    assert retry_after == 1


def test_a_sqlite_lock_held_past_the_busy_timeout_is_a_collision_to_retry(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'locked.db'}", connect_args={"timeout": 0})
    try:
        with engine.connect() as holder, engine.connect() as other:
            holder.exec_driver_sql("BEGIN IMMEDIATE")
            with pytest.raises(OperationalError) as locked:
                other.exec_driver_sql("BEGIN IMMEDIATE")
            holder.exec_driver_sql("ROLLBACK")
    finally:
        engine.dispose()
    assert database_problem(locked.value) == (
        "the database stayed locked by other writers; retry",
        1,
    )


def test_an_unreachable_database_is_an_outage(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'missing-directory' / 'x.db'}")
    try:
        with pytest.raises(OperationalError) as unreachable:
            engine.connect()
    finally:
        engine.dispose()
    assert database_problem(unreachable.value) == (
        "the database cannot be reached; retry later",
        5,
    )


def test_a_copy_s_errors_are_sqlalchemy_s(own_postgres_database: str) -> None:
    """COPY runs on the driver's connection, past SQLAlchemy: its errors are raised as
    SQLAlchemy raises a statement's (an IntegrityError the API answers 409, an
    OperationalError for a lost connection, which the app answers 503 and the engine hands
    back), not as psycopg's own."""
    engine = create_engine(own_postgres_database)
    try:
        with engine.begin() as setup:
            setup.exec_driver_sql("CREATE TABLE copied (id int PRIMARY KEY)")
        with Session(engine) as session, pytest.raises(IntegrityError):
            copy_rows(session, "copied", ("id",), [(1,), (1,)])
        raised: list[Exception] = []
        # The session's own rollback, when it closes, meets the lost connection too.
        with contextlib.suppress(OperationalError), Session(engine) as session:
            backend = session.execute(text("SELECT pg_backend_pid()")).scalar_one()
            with engine.connect() as other:
                other.exec_driver_sql(f"SELECT pg_terminate_backend({int(backend)})")
            try:
                copy_rows(session, "copied", ("id",), [(2,)])
            except Exception as exc:  # its type is the test
                raised.append(exc)
        assert [type(exc) for exc in raised] == [OperationalError]
    finally:
        engine.dispose()
