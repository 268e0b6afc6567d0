"""Test harness: every HTTP test runs against a real uvicorn server on SQLite and PostgreSQL.

One server per backend per test session (started in a thread, on a real socket); the data is
wiped between tests, so each test starts from a clean, migrated schema. PostgreSQL comes from
INTEROP_TEST_POSTGRES_URL (default the local `test` database server); each run works in a
database of its own. Under CI=true an unreachable PostgreSQL fails the run.
"""

import contextlib
import functools
import logging
import os
import select
import socket
import ssl
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import psycopg
import pytest
import uvicorn
from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import Connection, make_url

from factories import SOURCE_ROOTS
from interop.app import create_app
from interop.config import Settings
from interop.migrations_runner import upgrade
from interop.models import Base
from interop.ratelimit import ATOMIC_ALONE
from interop.serving import event_loop, protocol_options

DEFAULT_POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/test"
BACKENDS = ("sqlite", "postgresql")
# Keys survive cleaning: a server's signing key lives as long as the server.
KEEP_TABLES = {"signing_keys", "alembic_version"}
# Tables that triggers keep from the rows of others: emptied after those rows, whose deletes
# (SQLite's DELETE fires the triggers) would otherwise leave totals below nothing.
KEPT_BY_TRIGGERS = {"ingestion_state_totals"}
# The test servers speak plain HTTP, yet every httpx.Client builds an SSL context and loads the
# CA bundle into it: 50 ms a client on the CI machine, once for each test through `api`. One
# context, made once, serves every client of a test process.
CLIENT_SSL_CONTEXT = ssl.create_default_context()


class LogCollector(logging.Handler):
    """Every log line the servers write during the run, for the no-secret-in-logs test."""

    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


LOGS = LogCollector()
logging.getLogger().addHandler(LOGS)
logging.getLogger().setLevel(logging.INFO)

# What a statement on a read session may begin with.
READ_STATEMENTS = ("SELECT", "WITH", "SHOW")


class WriteOnReadSession(AssertionError):
    pass


@event.listens_for(Engine, "before_cursor_execute")
def _read_sessions_only_read(
    connection: Connection, _cursor: Any, statement: str, _parameters: Any, context: Any, *_: Any
) -> None:
    """PostgreSQL read sessions run in autocommit (interop.db), where a write would not be
    atomic: throughout the suite, such a statement fails the request, and with it the test.
    A statement marked atomic alone (a rate-limit bucket's upsert) is let through."""
    if connection.get_execution_options().get("isolation_level") != "AUTOCOMMIT":
        return
    if context is not None and context.execution_options.get(ATOMIC_ALONE):
        return
    if not statement.lstrip().upper().startswith(READ_STATEMENTS):
        raise WriteOnReadSession(f"a read session wrote: {statement[:200]}")


@dataclass
class Server:
    backend: str
    base_url: str
    settings: Settings
    database_url: str

    @property
    def data_dir(self) -> Path:
        return self.settings.data_dir


def postgres_admin_url() -> str:
    return os.environ.get("INTEROP_TEST_POSTGRES_URL", DEFAULT_POSTGRES_URL)


def _sqlalchemy_url(url: str) -> str:
    parsed = make_url(url)
    if parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


def _libpq_url(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def postgres_database() -> Iterator[str]:
    """A fresh database for this run (and this xdist worker) on the test PostgreSQL."""
    admin = postgres_admin_url()
    try:
        psycopg.connect(_libpq_url(admin), autocommit=True, connect_timeout=5).close()
    except psycopg.OperationalError as exc:
        if os.environ.get("CI") == "true":
            pytest.fail(f"PostgreSQL is unreachable at {admin} under CI=true: {exc}")
        pytest.skip(f"PostgreSQL unreachable at {admin} (set CI=true to make this fatal)")
    with _scratch_database("interop_test") as url:
        yield url


@pytest.fixture
def own_postgres_database(postgres_database: str) -> Iterator[str]:
    """An empty database of the test's own, not migrated: its server has its own master
    secret and signing keys, which the session's shared database (the `server` fixture's,
    encrypted with another secret) would refuse. (`postgres_database`: for its skip, or
    failure under CI, when PostgreSQL is unreachable.)"""
    with _scratch_database("interop_own") as url:
        yield url


@contextmanager
def _scratch_database(prefix: str, options: str = "") -> Iterator[str]:
    """A new empty database on the test PostgreSQL (its SQLAlchemy URL), dropped after;
    `options` end its CREATE DATABASE (a collation, say)."""
    admin = postgres_admin_url()
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(_libpq_url(admin), autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}" {options}')  # type: ignore[arg-type]
    try:
        yield (
            make_url(_sqlalchemy_url(admin))
            .set(database=name)
            .render_as_string(hide_password=False)
        )
    finally:
        with psycopg.connect(_libpq_url(admin), autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')  # type: ignore[arg-type]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until_answering(url: str, process: subprocess.Popen[Any], seconds: float = 60) -> None:
    """Until `url` answers 200 from the server `process` started; fails the test if the
    process exits first or `seconds` pass."""
    deadline = time.monotonic() + seconds
    while True:
        assert process.poll() is None, f"the server exited with {process.returncode}"
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        assert time.monotonic() < deadline, f"{url} did not answer within {seconds} s"
        time.sleep(0.1)


def _start(settings: Settings) -> tuple[uvicorn.Server, threading.Thread, str]:
    port = _free_port()
    config = uvicorn.Config(
        create_app(settings),
        host="127.0.0.1",
        port=port,
        log_config=None,
        access_log=False,
        lifespan="on",
        # `interop serve`'s, which answers unparsable requests and heads over the limit itself
        **protocol_options(settings),
        loop=event_loop(settings),  # its loop too: asyncio on SQLite, uvloop on PostgreSQL
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the test server did not start")
        time.sleep(0.02)
    return server, thread, f"http://127.0.0.1:{port}"


@contextlib.contextmanager
def running(settings: Settings) -> Iterator[str]:
    """A test server with `settings` (its base URL) until the block ends."""
    uv, thread, base_url = _start(settings)
    try:
        yield base_url
    finally:
        uv.should_exit = True
        thread.join(timeout=10)


# A COMMIT as psycopg sends it: a simple-query message ('Q', its length, the text).
COMMIT_MESSAGE = b"Q\x00\x00\x00\x0bCOMMIT\x00"


class TcpProxy:
    """A loopback TCP proxy to PostgreSQL that can be 'stopped' like the server itself:
    every open connection is cut and new ones are refused until it starts again."""

    def __init__(self, upstream: tuple[str, int]) -> None:
        self.upstream = upstream
        self.port = _free_port()
        self._listener: socket.socket | None = None
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        self._losing_a_commit_reply = False

    def start(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def stop(self) -> None:
        with self._lock:
            listener, self._listener = self._listener, None
            sockets, self._sockets = self._sockets, []
        if listener is not None:
            # shutdown() wakes the thread blocked in accept(); close() alone would not.
            with contextlib.suppress(OSError):
                listener.shutdown(socket.SHUT_RDWR)
            listener.close()
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()

    def lose_the_reply_to_the_next_commit(self) -> None:
        """The next COMMIT a connection sends reaches PostgreSQL, which commits; then that
        connection is cut before the reply comes back, the worst moment a network can drop
        it: the client cannot tell whether its transaction committed."""
        with self._lock:
            self._losing_a_commit_reply = True

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return  # stopped
            try:
                upstream = socket.create_connection(self.upstream, timeout=5)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._sockets += [client, upstream]
            threading.Thread(target=self._pipe, args=(client, upstream), daemon=True).start()

    def _pipe(self, client: socket.socket, upstream: socket.socket) -> None:
        peers = {client: upstream, upstream: client}
        try:
            while True:
                readable, _, _ = select.select(list(peers), [], [], 1)
                for sock in readable:
                    data = sock.recv(65536)
                    if not data:
                        return
                    peers[sock].sendall(data)
                    if sock is client and self._commit_reply_lost(data, upstream):
                        return
        except (OSError, ValueError):
            return
        finally:
            for sock in peers:
                sock.close()

    def _commit_reply_lost(self, sent: bytes, upstream: socket.socket) -> bool:
        """Whether `sent`, just forwarded, was the COMMIT whose reply is to be lost: then the
        server's reply (it committed) is read here and dropped, and the connection is to be
        cut."""
        with self._lock:
            if COMMIT_MESSAGE not in sent or not self._losing_a_commit_reply:
                return False
            self._losing_a_commit_reply = False
        upstream.recv(65536)
        return True


@pytest.fixture
def proxied_postgres(own_postgres_database: str) -> Iterator[tuple[TcpProxy, str]]:
    """(the proxy, the URL of the test's own migrated PostgreSQL database through it)."""
    upgrade(own_postgres_database)
    url = make_url(own_postgres_database)
    proxy = TcpProxy((url.host or "127.0.0.1", url.port or 5432))
    proxy.start()
    try:
        yield (
            proxy,
            url.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False),
        )
    finally:
        proxy.stop()


@contextlib.contextmanager
def serving_without_engine(
    database_url: str, data_dir: Path
) -> Iterator[tuple[SimpleNamespace, httpx.Client]]:
    """A server on the database with no engine of its own (the test runs the worker), as the
    factories' server target, and a client of it."""
    settings = Settings(
        data_dir=data_dir,
        database_url=database_url,
        engine_enabled=False,
        source_roots=SOURCE_ROOTS,
    )
    with (
        running(settings) as base_url,
        httpx.Client(base_url=base_url, timeout=30, verify=CLIENT_SSL_CONTEXT) as api,
    ):
        yield SimpleNamespace(settings=settings, database_url=database_url, data_dir=data_dir), api


TEST_POOL_SIZE = 8


@pytest.fixture(scope="session", params=BACKENDS)
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    backend: str = request.param
    data_dir = tmp_path_factory.mktemp(f"data-{backend}")
    if backend == "sqlite":
        database_url = f"sqlite:///{data_dir / 'interop.db'}"
    else:
        database_url = request.getfixturevalue("postgres_database")
    with serving(backend, database_url, data_dir) as started:
        yield started


@contextmanager
def serving(backend: str, database_url: str, data_dir: Path) -> Iterator[Server]:
    """A test server on `database_url`, which it migrates first, until the block ends."""
    upgrade(database_url)
    # The engine stays off here: these servers test the API, whose ingestions must stay
    # `scheduled`; engine tests run workers and schedulers of their own.
    # A small pool: the test processes (pytest -n auto) share one PostgreSQL, whose
    # max_connections (100 by default) 40-connection pools could exhaust.
    settings = Settings(
        data_dir=data_dir,
        database_url=database_url,
        engine_enabled=False,
        database_pool_size=TEST_POOL_SIZE,
        source_roots=SOURCE_ROOTS,
    )
    with running(settings) as base_url:
        yield Server(backend, base_url, settings, database_url)


@pytest.fixture
def extra_server(clean: Server) -> Iterator[Any]:
    """Start another server on the same database with some settings changed:
    `extra_server(rate_limit_per_minute=60)` returns its base URL."""
    started: list[tuple[uvicorn.Server, threading.Thread]] = []

    def start(**overrides: Any) -> str:
        settings = clean.settings.model_copy(update=overrides)
        uv, thread, base_url = _start(settings)
        started.append((uv, thread))
        return base_url

    yield start
    for uv, thread in started:
        uv.should_exit = True
        thread.join(timeout=10)


def wipe(server: Server) -> None:
    """Delete every row but the signing keys: an empty schema."""
    tables = [t.name for t in reversed(Base.metadata.sorted_tables) if t.name not in KEEP_TABLES]
    tables.sort(key=lambda name: name in KEPT_BY_TRIGGERS)  # a stable sort: the rest keep order
    with _wiping_engine(server.database_url).begin() as connection:
        if server.backend == "postgresql":
            # TRUNCATE costs about 2 ms a table whether it holds rows or not (53 ms for all
            # 25, once for each test); DELETE would leave a big test's rows behind as dead
            # tuples for the next tests' scans. Only the tables holding rows are truncated.
            holding = " UNION ALL ".join(
                f"SELECT '{table}' WHERE EXISTS (SELECT 1 FROM {table})" for table in tables
            )
            filled = list(connection.scalars(text(holding)))
            if filled:
                connection.execute(text(f"TRUNCATE {', '.join(filled)} CASCADE"))
        else:
            for table in tables:
                connection.execute(text(f"DELETE FROM {table}"))


@functools.cache
def _wiping_engine(database_url: str) -> Engine:
    """One engine a database for `wipe`, kept for the test process: a new one for each test
    cost a PostgreSQL connection's set-up (about 20 ms) every time."""
    return create_engine(database_url, pool_size=1, pool_pre_ping=True)


@pytest.fixture
def clean(server: Server) -> Server:
    """Wipe every row (but the signing keys) so the test starts from an empty schema."""
    wipe(server)
    return server


@pytest.fixture
def api(clean: Server) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=clean.base_url, timeout=30, verify=CLIENT_SSL_CONTEXT) as client:
        yield client


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Print the authorization matrix's size once per run, also under xdist (workers' prints
    are swallowed)."""
    reports = [r for group in terminalreporter.stats.values() for r in group]
    if not any("test_authorization_matrix" in getattr(r, "nodeid", "") for r in reports):
        return
    import test_authorization_matrix as matrix

    operations, principals = len(matrix.OPERATIONS), len(matrix.PRINCIPALS)
    terminalreporter.write_line(
        f"authorization matrix: {operations} operations x {principals} principals = "
        f"{len(matrix.CASES)} cases per backend, {len(matrix.CASES) * len(BACKENDS)} in all"
    )
