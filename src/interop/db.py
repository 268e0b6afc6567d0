"""Engine, sessions and column types shared by every domain, on SQLite and PostgreSQL.

SQLite gets WAL, foreign keys and a busy timeout; write sessions open their transaction with
`BEGIN IMMEDIATE` so that two writers serialize up front instead of failing on upgrade.
"""

import asyncio
import logging
import os
import sqlite3
import uuid
from collections import namedtuple
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, NamedTuple, TypeAlias, TypeVar

import psycopg
from sqlalchemy import (
    Boolean,
    ColumnElement,
    Connection,
    DateTime,
    Engine,
    MetaData,
    Select,
    String,
    Table,
    and_,
    create_engine,
    event,
    insert,
    text,
)
from sqlalchemy.engine import Dialect, make_url
from sqlalchemy.exc import (
    ArgumentError,
    DBAPIError,
    IntegrityError,
    SQLAlchemyError,
)
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import (
    DeclarativeBase,
    InstrumentedAttribute,
    Mapped,
    Session,
    mapped_column,
    sessionmaker,
)
from sqlalchemy.pool import QueuePool
from sqlalchemy.sql.compiler import Compiled, SQLCompiler
from sqlalchemy.sql.visitors import InternalTraversal
from sqlalchemy.types import TypeDecorator

from interop.errors import InteropError

if TYPE_CHECKING:
    from interop.config import Settings

# A SELECT of any columns: what readable statements and paging pass around.
AnySelect: TypeAlias = Select[*tuple[Any, ...]]
SelectT = TypeVar("SelectT", bound=Select[Any])
AnySelectT = TypeVar("AnySelectT", bound=AnySelect)

# Connections each engine keeps open by default (INTEROP_DATABASE_POOL_SIZE): one per request
# thread (anyio's default limiter runs 40). With 10, a load of 32 concurrent requests closed
# and reopened connections all the time (SQLite: 0.7 ms of PRAGMAs each; PostgreSQL: a new
# backend), and an actor's GET served 15 % fewer requests/s. Under load an engine opens up to
# a quarter more (overflow_for): mind PostgreSQL's max_connections (100 by default) when
# running several server processes.
DEFAULT_POOL_SIZE = 40
# How long a checkout waits for a free connection before the request gets a 503.
POOL_TIMEOUT_SECONDS = 10
# Key of Session.info marking a request session whose statements may run on the event loop
# (Database.request_session).
RUNS_ON_LOOP = "interop.runs_on_loop"
# How long a SQLite statement waits for another connection's lock (the write lock, mostly).
SQLITE_BUSY_TIMEOUT_MS = 30_000
# Execution option of a SQLite transaction that waits less than that (its busy timeout, ms):
# Database.transaction's lock_wait.
SQLITE_BUSY_TIMEOUT_OPTION = "interop_sqlite_busy_timeout_ms"

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    return datetime.now(UTC)


def held_against_deletion(statement: SelectT) -> SelectT:
    """`statement`, holding the rows it reads until the transaction ends against a delete
    (PostgreSQL's FOR KEY SHARE, which readers and other holders share; SQLite serializes
    writes anyway). For a write that adds rows referring to them: a racing delete waits, and
    then finds the new rows, or deleted first and leaves nothing to find."""
    return statement.with_for_update(read=True, key_share=True)


class StartsWith(ColumnElement[bool]):
    """`column` starts with the text `prefix`, in SQL an index can serve on either backend:
    `LIKE '<prefix>%'` on PostgreSQL (a text_pattern_ops index serves it under any
    collation), a range `>= prefix AND < prefix's successor` on SQLite, whose LIKE ignores
    case and so never uses an index: visibility scanned every account, 733 us a request with
    10,000 accounts, where the range over ix_accounts_path takes 3. The range is exact for
    SQLite's BINARY collation, which compares UTF-8 bytes; not for PostgreSQL's linguistic
    collations, which skip the '/' of an account path when comparing."""

    type = Boolean()
    inherit_cache = True
    # A condition as it stands, as a comparison does: SQLite gets no "= 1" after it.
    _is_implicitly_boolean = True
    _traverse_internals = [
        ("as_pattern", InternalTraversal.dp_clauseelement),
        ("as_range", InternalTraversal.dp_clauseelement),
    ]

    def __init__(
        self, column: ColumnElement[str] | InstrumentedAttribute[str], prefix: str
    ) -> None:
        if not prefix or any(character in prefix for character in "%_\\"):
            # LIKE would read them as wildcards and an escape (account paths are UUIDs
            # and '/').
            raise ValueError(f"a prefix is one character or more, none of % _ \\: {prefix!r}")
        successor = prefix[:-1] + chr(ord(prefix[-1]) + 1)
        self.as_pattern = column.startswith(prefix)
        # Grouped: inside a NOT or an OR it stays one condition.
        self.as_range = and_(column >= prefix, column < successor).self_group()


@compiles(StartsWith)
def _starts_with_like(element: StartsWith, compiler: SQLCompiler, **kw: Any) -> str:
    return compiler.process(element.as_pattern, **kw)


@compiles(StartsWith, "sqlite")
def _starts_with_range(element: StartsWith, compiler: SQLCompiler, **kw: Any) -> str:
    return compiler.process(element.as_range, **kw)


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on both backends (SQLite keeps no offset)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def bytewise_string(length: int) -> String:
    """A string compared and ordered by code point on both backends, as SQLite's BINARY
    collation does: on PostgreSQL the column's collation is "C", whatever the database's
    default. Under a linguistic default (en_US) PostgreSQL ordered "a_b" < "a-b" < "a1" <
    "A1" < "ab" < "aB" < "Z", where SQLite orders "A1" < "Z" < "a-b" < "a1" < "aB" < "a_b" <
    "ab": the same data paged in another order on each. The column's indexes are built in
    its collation, so ORDER BY it stays an index scan."""
    return String(length).with_variant(String(length, collation="C"), "postgresql")


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class IdMixin:
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)


class TimestampMixin:
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    # A new row's updated_at equals its created_at exactly.
    updated_at: Mapped[datetime] = mapped_column(
        UTCDateTime,
        default=lambda context: context.get_current_parameters()["created_at"],
        onupdate=utcnow,
    )


class VersionMixin:
    """An integer bumped on every write: the `version` field, the ETag and `If-Match`."""

    version: Mapped[int] = mapped_column(default=1)


@contextmanager
def violation_as(session: Session, error: InteropError) -> Iterator[None]:
    """Run writes in a savepoint and flush them: a constraint violation (a racing twin, a row
    still referenced) becomes `error`, and the request's transaction stays usable."""
    try:
        with session.begin_nested():
            yield
            session.flush()
    except IntegrityError as exc:
        raise error from exc


SUPPORTED_DATABASES = "sqlite:///PATH or postgresql://USER@HOST/NAME"


def supported_database_url(url: str) -> str:
    """`url` as the engine is made from it: SQLite, or PostgreSQL through psycopg, the driver
    we ship (a plain `postgresql://` or `postgres://` URL means psycopg; SQLAlchemy would
    look for psycopg2). Anything else is refused with the reason, never with the URL, which
    may hold a password."""
    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError):  # ValueError: a port that is no number (a password)
        raise ValueError(f"not a database URL; expected {SUPPORTED_DATABASES}") from None
    backend, _, driver = parsed.drivername.partition("+")
    if backend == "sqlite" and driver in ("", "pysqlite"):
        if parsed.database in (None, "", ":memory:"):
            # Each connection would be a database of its own, and the engine's pool options
            # are refused for it: every command ended in a traceback.
            raise ValueError(
                f"an in-memory SQLite database cannot serve; use {SUPPORTED_DATABASES}"
            )
        return url
    if backend in ("postgresql", "postgres") and driver in ("", "psycopg"):
        return parsed.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)
    raise ValueError(f"{parsed.drivername} is not supported; use {SUPPORTED_DATABASES}")


class Database:
    """The lifespan-managed engine(s) and the session factories built on them."""

    def __init__(self, url: str, echo: bool = False, pool_size: int = DEFAULT_POOL_SIZE) -> None:
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        self.pool_size = pool_size
        self.sqlite_file = _sqlite_file(url) if self.is_sqlite else None
        # Which file the connections opened (device, inode): its path may come to name
        # another, or none, while they still reach it.
        self._opened_file: FileIdentity | None = None
        if self.is_sqlite:
            self.read_engine = _sqlite_engine(
                url, immediate=False, echo=echo, size=pool_size, opened=self._note_opened_file
            )
            self.write_engine = _sqlite_engine(
                url, immediate=True, echo=echo, size=pool_size, opened=self._note_opened_file
            )
        else:
            engine = create_engine(
                url,
                echo=echo,
                # No pre-ping: it cost a round trip per checkout (two per request). A dropped
                # connection is a disconnect error instead, which empties the whole pool, so
                # the server recovers on its own after an outage (tests/test_faults.py).
                **_pool_arguments(pool_size),
                connect_args=_postgres_connect_args(url),
            )
            self.write_engine = engine
            # Reads run in autocommit, on the same pool. Under READ COMMITTED (PostgreSQL's
            # default, and ours) each statement of a transaction takes its own snapshot
            # anyway, so a read transaction bought no consistency; it cost two round trips
            # (psycopg's BEGIN, then the COMMIT) and, to end it, a thread hop.
            self.read_engine = engine.execution_options(isolation_level="AUTOCOMMIT")
        self._read = sessionmaker(self.read_engine, expire_on_commit=False)
        self._write = sessionmaker(self.write_engine, expire_on_commit=False)
        # Commits and rollbacks of request transactions run here, never in the request
        # threadpool: a transaction holding a lock must be able to end even when every pool
        # thread is busy waiting for that very lock.
        self._finisher = ThreadPoolExecutor(max_workers=4, thread_name_prefix="interop-commit")
        # Requests holding a session at once. A request keeps its pooled connection from its
        # first query until it ends, across its waits for a worker thread; with more requests
        # in flight than the pool holds, the 40 worker threads all sat blocked on a checkout
        # while the connections' holders waited for a thread: under 256 connections the server
        # answered nothing until pool timeouts broke the cycle (40 requests in 14 s). Waiting
        # here costs no thread and no connection.
        self.request_slots = asyncio.Semaphore(pool_size)

    @classmethod
    def from_settings(cls, settings: "Settings") -> "Database":
        return cls(settings.resolved_database_url, pool_size=settings.database_pool_size)

    @property
    def max_connections(self) -> int:
        """The most connections this process may open to a PostgreSQL server."""
        return self.pool_size + overflow_for(self.pool_size)

    def session(self, write: bool = True) -> Session:
        return (self._write if write else self._read)()

    def request_session(self, write: bool) -> Session:
        """A request's session. A read one on SQLite, while the pool has a free connection, is
        marked to run on the event loop (`runs_on_loop`): its statements wait on nothing (WAL
        readers take no lock; no network), and a request that never leaves the loop thread
        never waits for the GIL behind a worker thread either. An actor's GET, in-process
        with 32 at once: 1,764 -> 909 us."""
        session = self.session(write)
        if not write and self.can_read_without_waiting():
            session.info[RUNS_ON_LOOP] = True
        return session

    @contextmanager
    def transaction(self, write: bool = True, lock_wait: float | None = None) -> Iterator[Session]:
        """A session whose transaction commits on success and rolls back on any error.

        `lock_wait` (seconds): on SQLite, how long at most its statements wait for another
        connection's lock, where they wait SQLITE_BUSY_TIMEOUT_MS: for a write retried on a
        schedule of its own, which a 30 s wait per try would overrun. PostgreSQL ignores it."""
        if lock_wait is None or not self.is_sqlite:
            session = self.session(write)
        else:
            busy_timeout = min(SQLITE_BUSY_TIMEOUT_MS, int(lock_wait * 1000))
            engine = (self.write_engine if write else self.read_engine).execution_options(
                **{SQLITE_BUSY_TIMEOUT_OPTION: busy_timeout}
            )
            session = (self._write if write else self._read)(bind=engine)
        try:
            with session.begin():
                yield session
        finally:
            session.close()

    def can_read_without_waiting(self) -> bool:
        """Whether a read transaction can start and run here without waiting on anything: on
        SQLite (WAL: readers take no lock, and there is no network) while the read pool has a
        free connection, so that checking one out never waits for the pool's timeout."""
        pool = self.read_engine.pool
        return self.is_sqlite and isinstance(pool, QueuePool) and pool.checkedout() < self.pool_size

    async def finish(self, session: Session, commit: bool, write: bool = True) -> None:
        """End a request's transaction (commit or roll back) and release its connection."""
        if not write:
            # Ending a read waits on nothing: a SQLite read transaction holds no lock and
            # writes nothing, and a PostgreSQL read is in autocommit, with nothing to send.
            # It runs here, saving a thread round trip a request (~0.5 ms on the benchmark box).
            # Nor is there anything to commit: closing hands the connection back to the pool,
            # which rolls the read back, about 50 us less than the ORM's commit first.
            session.close()
            return
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(self._finisher, _end_transaction, session, commit)

    def server_max_connections(self) -> int | None:
        """PostgreSQL's max_connections; None on SQLite or when the server cannot be asked."""
        if self.is_sqlite:
            return None
        try:
            with self.read_engine.connect() as connection:
                return int(connection.execute(text("SHOW max_connections")).scalar_one())
        except SQLAlchemyError:
            return None

    def ping(self) -> None:
        with self.read_engine.connect() as connection:
            connection.execute(text("SELECT 1"))

    def _note_opened_file(self) -> None:
        if self._opened_file is None and self.sqlite_file is not None:
            self._opened_file = file_identity(self.sqlite_file)

    def sqlite_file_problem(self) -> str | None:
        """Why the SQLite file the connections opened is no longer the one at its path, or
        None (and on PostgreSQL). Pooled connections keep a moved or deleted file open and
        go on answering from it, and a new one would create an empty database in its place:
        only the path tells. The same file put back is fine again."""
        if self.sqlite_file is None:
            return None
        present = file_identity(self.sqlite_file)
        if present is None:
            return "the database file is gone (moved or deleted)"
        if self._opened_file is not None and present != self._opened_file:
            return (
                "the database file was replaced by another: the server's connections still "
                "reach the old one; restart the server to open the new one"
            )
        return None

    def dispose(self) -> None:
        self._finisher.shutdown(wait=True)
        self.read_engine.dispose()
        self.write_engine.dispose()


def runs_on_loop(session: Session) -> bool:
    """Whether `session` is a request's read session that runs on the event loop."""
    return bool(session.info.get(RUNS_ON_LOOP))


def column_rows(
    session: Session, statement: AnySelect, values: dict[str, Any] | None = None
) -> list[Any]:
    """The rows of a select of plain columns (no ORM entities), run on the session's
    connection with `values` for its bound parameters: column rows need none of the ORM's
    execution and loading layers, which for a page of 100 joined tenant rows cost more than
    the query itself (4.5 -> 2.9 ms in-process). A `prebuilt` statement on SQLite runs
    through the sqlite3 driver itself. Rows are read by column name or position."""
    connection = session.connection()
    driver_read = _DRIVER_READS.get(id(statement))
    if (
        driver_read is not None
        and connection.dialect.name == "sqlite"
        and not _statements_logged(connection)
    ):
        return driver_read.rows(connection, values or {})
    return list(connection.execute(statement, values).all())


# The logger SQLAlchemy logs an engine's statements to, unless `echo` gives it its own.
SQL_STATEMENT_LOG = logging.getLogger("sqlalchemy.engine.Engine")


def _statements_logged(connection: Connection) -> bool:
    """Whether SQLAlchemy logs the statements run on `connection` (`echo`, or its
    `sqlalchemy.engine` logger set to INFO): a prebuilt read then takes SQLAlchemy's path, so
    that it is logged like every other statement."""
    return bool(connection.engine.echo) or SQL_STATEMENT_LOG.isEnabledFor(logging.INFO)


# The statements marked by `prebuilt`, by id (each is a module constant, alive for good).
_DRIVER_READS: dict[int, "_DriverRead"] = {}


def prebuilt(statement: AnySelectT) -> AnySelectT:
    """Mark a select of plain columns built once, at import (never one built per request: it
    stays registered for good), to run through the sqlite3 driver itself on SQLite
    (`column_rows`). SQLAlchemy's execution layer (execution context, cursor wrapping, result
    metadata) costs about 75 us a statement on the benchmark host where sqlite3 itself takes
    5; an actor's GET runs two, its caller's lookup and its page. The SQL, bound values and
    row values are SQLAlchemy's own, compiled once and converted by its column types'
    processors, so rows equal the ones it would return (tests/test_driver_reads.py).
    PostgreSQL keeps SQLAlchemy's path, whose disconnect handling empties the pool after an
    outage."""
    _DRIVER_READS[id(statement)] = _DriverRead(statement)
    return statement


class _DriverForm(NamedTuple):
    """A `prebuilt` statement compiled for the sqlite3 driver: its SQL, the order and
    conversion of its bound values, and the conversion of its columns."""

    compiled: Compiled
    sql: str
    parameters: list[tuple[str, Callable[[Any], Any] | None]]
    converted: list[tuple[int, Callable[[Any], Any]]]


class _DriverRead:
    """A `prebuilt` statement, and its driver form once a SQLite read first needs it."""

    def __init__(self, statement: AnySelect) -> None:
        self.statement = statement
        # Named as SQLAlchemy names a row's fields: by column key, a repeated one numbered
        # ("id", "id_1").
        self.row_type = namedtuple("Row", statement.selected_columns.keys())  # type: ignore[misc]
        self.form: _DriverForm | None = None

    def _compile(self, dialect: Dialect) -> _DriverForm:
        compiled = self.statement.compile(dialect=dialect)
        binds = compiled.binds
        if any(bind.expanding for bind in binds.values()) or compiled.positiontup is None:
            raise ValueError("a prebuilt statement takes plain bound parameters, no IN list")
        parameters: list[tuple[str, Callable[[Any], Any] | None]] = [
            (name, binds[name].type.dialect_impl(dialect).bind_processor(dialect))
            for name in compiled.positiontup
        ]
        columns = [
            (index, column.type.dialect_impl(dialect).result_processor(dialect, None))
            for index, column in enumerate(self.statement.selected_columns)
        ]
        converted: list[tuple[int, Callable[[Any], Any]]] = [
            (index, convert) for index, convert in columns if convert is not None
        ]
        return _DriverForm(compiled, str(compiled), parameters, converted)

    def rows(self, connection: Connection, values: dict[str, Any]) -> list[Any]:
        form = self.form
        if form is None:
            form = self.form = self._compile(connection.dialect)
        # Every bound value, those the statement holds itself included.
        given = form.compiled.construct_params(values) or {}
        bound = [
            given[name] if convert is None else convert(given[name])
            for name, convert in form.parameters
        ]
        driver = connection.connection.driver_connection
        try:
            fetched = driver.execute(form.sql, bound).fetchall()  # type: ignore[union-attr]
        except sqlite3.Error as exc:
            # As SQLAlchemy raises it, so that the app's handlers answer it the same (a 503
            # for a locked or missing database).
            raise DBAPIError.instance(form.sql, bound, exc, sqlite3.Error) from exc
        rows = []
        for read in fetched:
            row = list(read)
            for index, convert in form.converted:
                row[index] = convert(row[index])
            rows.append(self.row_type(*row))
        return rows


def bulk_insert(session: Session, table: Table, rows: list[dict[str, Any]]) -> None:
    """Insert many rows in the session's transaction: COPY on PostgreSQL (1,000 scoping rows:
    94 ms as an executemany, a few ms as COPY), an executemany elsewhere. A constraint
    violation raises IntegrityError and text the column cannot hold raises DataError either
    way, so the request's error handlers answer the same on both paths."""
    if not rows:
        return
    connection = session.connection()
    if connection.dialect.name != "postgresql":
        connection.execute(insert(table), rows)
        return
    columns = list(rows[0])
    copy_rows(session, table.name, columns, ([row[name] for name in columns] for row in rows))


def copy_rows(
    session: Session, table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]
) -> None:
    """COPY rows (values in `columns`' order, as psycopg adapts them) into a PostgreSQL table
    on the session's connection. The driver's errors are raised as SQLAlchemy raises those of
    its statements (IntegrityError, DataError, OperationalError for a dropped connection…),
    which COPY, run past SQLAlchemy, would not: a connection lost mid-COPY raised psycopg's
    own error, which the request's or the ingestion's handlers only met as SQLAlchemy's when
    the rollback after it failed too and took its place."""
    names = ", ".join(f'"{name}"' for name in columns)
    statement = f'COPY "{table}" ({names}) FROM STDIN'
    connection = session.connection()
    driver: Any = connection.connection.driver_connection
    copied = 0
    try:
        with driver.cursor() as cursor, cursor.copy(statement) as copy:
            for row in rows:
                copy.write_row(row)
                copied += 1
    except psycopg.Error as exc:
        raise DBAPIError.instance(statement, None, exc, psycopg.Error) from exc
    log_driver_statement(connection, statement, copied)


def executemany_sqlite(session: Session, statement: str, rows: list[Sequence[Any]]) -> None:
    """Run a statement once per row on the session's sqlite3 connection, past SQLAlchemy's
    executemany, which prepares each row's parameters itself; the values are the driver's
    already. Errors are raised as SQLAlchemy raises a statement's (a locked database an
    OperationalError, a repeated key an IntegrityError), as `copy_rows` does on PostgreSQL."""
    connection = session.connection()
    driver: Any = connection.connection.driver_connection
    try:
        driver.executemany(statement, rows)
    except sqlite3.Error as exc:
        raise DBAPIError.instance(statement, None, exc, sqlite3.Error) from exc
    log_driver_statement(connection, statement, len(rows))


def log_driver_statement(connection: Connection, statement: str, rows: int) -> None:
    """Log a statement run on the driver's connection, past SQLAlchemy (a COPY, a SQLite
    executemany), wherever SQLAlchemy logs its own (`_statements_logged`): the SQL log then
    shows every write, not only SQLAlchemy's."""
    if _statements_logged(connection):
        SQL_STATEMENT_LOG.info("%s\n[run on the driver: %d rows]", statement, rows)


def _end_transaction(session: Session, commit: bool) -> None:
    try:
        if commit:
            session.commit()
        else:
            session.rollback()
    finally:
        session.close()


# libpq's connection options, unless the database URL sets its own (`?connect_timeout=30`).
# connect_timeout: fail fast when the server is gone instead of hanging a request. The rest
# bound how long a connection to a server that vanished without closing it (a network
# partition, a host powered off or frozen) goes unnoticed: a statement waited for its answer
# until the kernel gave up retransmitting, about 15 minutes (tcp_retries2), and an idle
# pooled connection for ever. tcp_user_timeout (ms): data sent and not acknowledged for 5 s
# closes the connection at the next retransmission, and so does a keepalive probe, sent
# after 10 s of silence (a long query's wait included), still unanswered at the next one 5 s
# later. Measured over loopback with its packets dropped: a statement sent into the void
# failed after 12 s, a running pg_sleep(60) after 15 s, each as after an outage (503). A live
# server's kernel acknowledges within milliseconds, however busy the server.
POSTGRES_CONNECTION_DEFAULTS: dict[str, Any] = {
    "connect_timeout": 5,
    "keepalives": 1,
    "keepalives_idle": 10,
    "keepalives_interval": 5,
    "keepalives_count": 3,
    "tcp_user_timeout": 5_000,
}


def _postgres_connect_args(url: str) -> dict[str, Any]:
    if not ("psycopg" in url or url.startswith("postgresql")):
        return {}
    given = make_url(url).query
    options = {
        name: value for name, value in POSTGRES_CONNECTION_DEFAULTS.items() if name not in given
    }
    # prepare_threshold=None: no server-side prepared statements. A generic plan made while a
    # roster table was small (a sequential scan) was reused once it held 400,000 rows, and
    # each collection batch then scanned the whole table (measured: 6 s per batch).
    return {**options, "prepare_threshold": None}


def overflow_for(pool_size: int) -> int:
    """Connections an engine may open beyond its pool under load (closed once returned)."""
    return pool_size // 4


def _pool_arguments(size: int) -> dict[str, int]:
    return {
        "pool_size": size,
        "max_overflow": overflow_for(size),
        "pool_timeout": POOL_TIMEOUT_SECONDS,
    }


# A file as the file system knows it, whatever path names it: (device, inode).
FileIdentity: TypeAlias = tuple[int, int]


def file_identity(path: str) -> FileIdentity | None:
    """The identity of the file at `path`, or None when nothing is there."""
    try:
        status = os.stat(path)
    except FileNotFoundError:
        return None
    return (status.st_dev, status.st_ino)


def _sqlite_file(url: str) -> str | None:
    """The path of a SQLite URL's file; None for an in-memory database."""
    database = make_url(url).database
    return database if database and database != ":memory:" else None


def _sqlite_engine(
    url: str, immediate: bool, echo: bool, size: int, opened: Callable[[], None]
) -> Engine:
    # Pooled: opening a connection and setting its PRAGMAs cost 0.7 ms, a third of a small
    # request. A pooled connection serves one session at a time, whatever its thread.
    engine = create_engine(
        url, echo=echo, **_pool_arguments(size), connect_args={"check_same_thread": False}
    )

    @event.listens_for(engine, "connect")
    def _configure(dbapi_connection: Any, _record: Any) -> None:
        # Take transaction control from pysqlite so that BEGIN is ours to emit.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()
        opened()  # after the PRAGMAs, which create the file if there was none

    begin = "BEGIN IMMEDIATE" if immediate else "BEGIN"

    @event.listens_for(engine, "begin")
    def _begin(connection: Any) -> None:
        # On the sqlite3 connection itself: through SQLAlchemy's statement execution (as
        # exec_driver_sql) the BEGIN cost ~25 us of every transaction's ~60-110 us overhead.
        # SQLAlchemy wraps no error raised in this hook: wrapped here, a BEGIN IMMEDIATE that
        # times out on the write lock stays an OperationalError the app answers with a 503.
        try:
            _keep_busy_timeout(connection)
            connection.connection.driver_connection.execute(begin)
        except sqlite3.Error as exc:
            raise DBAPIError.instance(begin, None, exc, sqlite3.Error) from exc

    return engine


def _keep_busy_timeout(connection: Any) -> None:
    """Give the SQLite connection the busy timeout its transaction asks for (by
    SQLITE_BUSY_TIMEOUT_OPTION, else SQLITE_BUSY_TIMEOUT_MS) when it has another. The PRAGMA
    stays with the sqlite3 connection, so the next transaction on it that asks for none
    sets the usual one back; the pool record's info, which is cleared when the connection is
    replaced, says which it has."""
    wanted = connection.get_execution_options().get(
        SQLITE_BUSY_TIMEOUT_OPTION, SQLITE_BUSY_TIMEOUT_MS
    )
    pooled = connection.connection
    if pooled.info.get(SQLITE_BUSY_TIMEOUT_OPTION, SQLITE_BUSY_TIMEOUT_MS) != wanted:
        pooled.driver_connection.execute(f"PRAGMA busy_timeout={int(wanted)}")
        pooled.info[SQLITE_BUSY_TIMEOUT_OPTION] = wanted
