"""Where a request's work runs: a synchronous endpoint in one worker-thread call with its
response still validated; a caller's lookup and a read endpoint on the event loop only when
nothing can wait (a SQLite read with a free pooled connection)."""

import asyncio
import inspect
import sqlite3
import threading
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Annotated

import httpx
import pytest
from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.dependencies.models import Dependant
from fastapi.exceptions import ResponseValidationError
from fastapi.routing import APIRoute
from pydantic import BaseModel
from sqlalchemy import text
from sqlalchemy.orm import Session

import interop.db
from conftest import Server, WriteOnReadSession, _start
from factories import new_tenant
from interop.app import create_app
from interop.auth.router import router as auth_router
from interop.config import Settings
from interop.db import DEFAULT_POOL_SIZE, Database, overflow_for, runs_on_loop
from interop.migrations_runner import upgrade
from interop.roster.router import router as roster_router
from interop.routers import API_ROUTERS
from interop.routing import InteropRoute, ScanningRoute


class Answer(BaseModel):
    thread: int


def _app_with_sync_endpoints() -> FastAPI:
    router = APIRouter(route_class=InteropRoute)

    @router.get("/good", response_model=Answer)
    def good(value: int = 0) -> dict[str, int]:
        return {"thread": threading.get_ident() + value - value}

    @router.get("/bad", response_model=Answer)
    def bad() -> dict[str, str]:
        return {"thread": "not a number"}

    @router.get("/loop", response_model=Answer)
    async def loop() -> dict[str, int]:
        return {"thread": threading.get_ident()}

    app = FastAPI()
    app.include_router(router)
    return app


def _client() -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=_app_with_sync_endpoints())
    return httpx.AsyncClient(transport=transport, base_url="http://test")


def test_a_sync_endpoint_runs_in_a_worker_thread_with_its_parameters() -> None:
    async def scenario() -> None:
        async with _client() as client:
            loop_thread = (await client.get("/loop")).json()["thread"]
            response = await client.get("/good", params={"value": 7})
            assert response.status_code == 200
            assert response.json()["thread"] != loop_thread
            # The query parameter still comes from the wrapped function's signature.
            assert (await client.get("/good", params={"value": "x"})).status_code == 422

    asyncio.run(scenario())


def test_a_sync_endpoints_response_is_still_validated() -> None:
    async def scenario() -> None:
        async with _client() as client:
            await client.get("/bad")

    with pytest.raises(ResponseValidationError):
        asyncio.run(scenario())


def test_every_api_route_uses_the_route_class() -> None:
    # The app serves these very route objects (included routers are wrapped, not copied).
    routes = [r for router in (auth_router, *API_ROUTERS) for r in router.routes]
    assert len(routes) > 70
    assert all(isinstance(r, APIRoute) for r in routes)
    assert [r.path for r in routes if not isinstance(r, InteropRoute)] == []
    # What saves the second thread hop: FastAPI sees a coroutine and validates on the loop.
    assert [r.path for r in routes if not inspect.iscoroutinefunction(r.dependant.call)] == []


def test_no_api_route_depends_on_a_synchronous_function() -> None:
    # FastAPI runs a synchronous dependency in a worker thread: a round trip per request,
    # which also takes a SQLite read off the event loop (GET /tenant: ~12 % slower).
    def synchronous(dependant: Dependant) -> list[str]:
        found = []
        for dependency in dependant.dependencies:
            call = dependency.call
            if not (inspect.iscoroutinefunction(call) or inspect.isasyncgenfunction(call)):
                found.append(getattr(call, "__qualname__", repr(call)))
            found += synchronous(dependency)
        return found

    routes = [r for router in (auth_router, *API_ROUTERS) for r in router.routes]
    found = {f"{r.path}: {name}" for r in routes for name in synchronous(r.dependant)}
    assert sorted(found) == []


def test_the_service_endpoints_use_the_route_class_too(tmp_path: Path) -> None:
    # /readyz and /metrics are synchronous: their thread hop goes through in_thread as well.
    app = create_app(Settings(data_dir=tmp_path))
    service = [r for r in app.router.routes if isinstance(r, APIRoute)]
    assert {"/healthz", "/readyz", "/metrics"} <= {r.path for r in service}
    assert [r.path for r in service if not isinstance(r, InteropRoute)] == []


def test_a_sqlite_read_runs_on_the_loop_only_while_a_pooled_connection_is_free(
    tmp_path: Path,
) -> None:
    database = Database(f"sqlite:///{tmp_path / 'pool.db'}")
    held = []
    try:
        assert database.can_read_without_waiting()
        assert runs_on_loop(database.request_session(write=False))
        assert not runs_on_loop(database.request_session(write=True))
        held = [database.read_engine.connect() for _ in range(DEFAULT_POOL_SIZE)]
        assert not database.can_read_without_waiting()
        assert not runs_on_loop(database.request_session(write=False))
        held.pop().close()
        assert database.can_read_without_waiting()
        assert runs_on_loop(database.request_session(write=False))
    finally:
        for connection in held:
            connection.close()
        database.dispose()


def test_a_postgresql_read_never_runs_on_the_loop(postgres_database: str) -> None:
    database = Database(postgres_database)
    try:
        assert not database.can_read_without_waiting()
        assert not runs_on_loop(database.request_session(write=False))
    finally:
        database.dispose()


def test_a_postgresql_read_runs_in_autocommit_and_a_write_in_a_transaction(
    postgres_database: str,
) -> None:
    """Under READ COMMITTED a read transaction gave no consistency that autocommit does not,
    and cost two round trips; a write keeps its transaction, on the very same connections."""
    database = Database(postgres_database, pool_size=1)
    try:
        with database.transaction(write=False) as session:
            read = session.connection().connection.driver_connection
            assert read is not None and read.autocommit
            assert session.execute(text("SELECT 1")).scalar_one() == 1
        write_session = database.session(write=True)
        try:
            write_session.begin()
            connection = write_session.connection().connection.driver_connection
            assert connection is read  # the pool's one connection, back out of autocommit
            assert not connection.autocommit
            write_session.execute(text("CREATE TABLE rolled_back (a int)"))
        finally:
            write_session.rollback()
            write_session.close()
        with database.transaction(write=False) as session:
            found = session.execute(text("SELECT to_regclass('rolled_back')")).scalar()
        assert found is None
    finally:
        database.dispose()


def test_the_suite_refuses_a_write_on_a_postgresql_read_session(postgres_database: str) -> None:
    database = Database(postgres_database)
    try:
        with pytest.raises(WriteOnReadSession), database.transaction(write=False) as session:
            session.execute(text("CREATE TEMP TABLE not_here (a int)"))
    finally:
        database.dispose()


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_a_read_ends_on_the_loop_and_a_write_on_the_finisher_threads(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    url = (
        f"sqlite:///{tmp_path / 'finish.db'}"
        if backend == "sqlite"
        else request.getfixturevalue("postgres_database")
    )
    database = Database(url)
    finisher_threads: list[int] = []
    submit = database._finisher.submit

    def recording_submit(*args: object, **kwargs: object) -> object:
        finisher_threads.append(threading.get_ident())
        return submit(*args, **kwargs)  # type: ignore[arg-type]

    database._finisher.submit = recording_submit  # type: ignore[method-assign]

    async def end(write: bool) -> None:
        session = database.request_session(write=write)
        session.begin()
        session.execute(text("SELECT 1"))
        await database.finish(session, commit=True, write=write)

    try:
        asyncio.run(end(write=False))
        assert finisher_threads == []
        asyncio.run(end(write=True))
        assert len(finisher_threads) == 1
    finally:
        database.dispose()


def _app_with_session_endpoints(database: Database) -> FastAPI:
    async def request_session(request: Request) -> AsyncIterator[Session]:
        session = database.request_session(write=request.method != "GET")
        try:
            yield session
        finally:
            session.close()

    session_param = Annotated[Session, Depends(request_session)]
    router = APIRouter(route_class=InteropRoute)
    scanning = APIRouter(route_class=ScanningRoute)

    @router.get("/read", response_model=Answer)
    def read(session: session_param) -> dict[str, int]:
        return {"thread": threading.get_ident()}

    @router.post("/write", response_model=Answer)
    def write(session: session_param) -> dict[str, int]:
        return {"thread": threading.get_ident()}

    @scanning.get("/scan", response_model=Answer)
    def scan(session: session_param) -> dict[str, int]:
        return {"thread": threading.get_ident()}

    @router.get("/loop", response_model=Answer)
    async def loop() -> dict[str, int]:
        return {"thread": threading.get_ident()}

    app = FastAPI()
    app.include_router(router)
    app.include_router(scanning)
    return app


def _threads(database: Database) -> dict[str, bool]:
    """For each endpoint: whether it ran on the event loop's thread."""

    async def scenario() -> dict[str, bool]:
        transport = httpx.ASGITransport(app=_app_with_session_endpoints(database))
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            loop_thread = (await client.get("/loop")).json()["thread"]
            answers = {
                "read": await client.get("/read"),
                "write": await client.post("/write"),
                "scan": await client.get("/scan"),
            }
        return {name: r.json()["thread"] == loop_thread for name, r in answers.items()}

    return asyncio.run(scenario())


def test_a_sqlite_read_endpoint_runs_on_the_loop_and_everything_else_in_a_thread(
    tmp_path: Path,
) -> None:
    database = Database(f"sqlite:///{tmp_path / 'loop.db'}")
    try:
        assert _threads(database) == {"read": True, "write": False, "scan": False}
    finally:
        database.dispose()


def test_a_postgresql_read_endpoint_runs_in_a_thread(postgres_database: str) -> None:
    database = Database(postgres_database)
    try:
        assert _threads(database) == {"read": False, "write": False, "scan": False}
    finally:
        database.dispose()


def test_roster_reads_stay_in_worker_threads() -> None:
    # Roster topics hold hundreds of thousands of rows: their filtered pages scan in SQLite.
    assert roster_router.routes
    assert all(isinstance(route, ScanningRoute) for route in roster_router.routes)


def test_many_more_concurrent_requests_than_connections_all_succeed(
    clean: Server, api: httpx.Client
) -> None:
    """Requests beyond the pool wait for a slot instead of taking a worker thread that then
    waits for a connection. Before, such a burst stalled the server until pool timeouts (10 s)
    broke the cycle; the per-request timeout, below that, turns a stall into a failure."""
    _, actor = new_tenant(clean, api)
    url = f"{clean.base_url}/v2/interop/tenant/schedules"
    # More than the 40 worker threads, and several times what the pool holds at once.
    pool = clean.settings.database_pool_size
    at_once = max(5 * (pool + overflow_for(pool)), 250)

    async def burst() -> list[int]:
        limits = httpx.Limits(max_connections=at_once)
        async with httpx.AsyncClient(timeout=8, limits=limits) as client:
            responses = await asyncio.gather(
                *(client.get(url, headers=actor.headers) for _ in range(at_once))
            )
        return [response.status_code for response in responses]

    assert asyncio.run(burst()) == [200] * at_once


def test_a_request_that_finds_no_free_connection_gets_503_then_recovers(
    clean: Server, api: httpx.Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(interop.db, "POOL_TIMEOUT_SECONDS", 1)  # read when the app starts
    _, actor = new_tenant(clean, api)
    uv, thread, base_url = _start(clean.settings.model_copy(update={"database_pool_size": 2}))
    url = f"{base_url}/v2/interop/tenant/schedules"
    try:
        database = uv.config.app.state.database
        held = [database.read_engine.connect() for _ in range(database.max_connections)]
        try:
            busy = httpx.get(url, headers=actor.headers, timeout=30)
        finally:
            for connection in held:
                connection.close()
        assert busy.status_code == 503, busy.text
        assert busy.json()["error"]["code"] == "database_unavailable"
        assert busy.headers["Retry-After"] == "5"
        assert "Traceback" not in busy.text
        assert httpx.get(url, headers=actor.headers, timeout=30).status_code == 200
    finally:
        uv.should_exit = True
        thread.join(timeout=10)


def test_a_write_kept_from_sqlites_write_lock_past_the_busy_timeout_gets_503(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """BEGIN IMMEDIATE runs in an engine hook, whose errors SQLAlchemy does not wrap: a raw
    sqlite3 error there would be a 500."""
    monkeypatch.setattr(interop.db, "SQLITE_BUSY_TIMEOUT_MS", 200)  # read as connections open
    path = tmp_path / "busy.db"
    url = f"sqlite:///{path}"
    upgrade(url)
    settings = Settings(data_dir=tmp_path, database_url=url, engine_enabled=False)
    uv, thread, base_url = _start(settings)
    schedules = "/v2/interop/tenant/schedules"
    try:
        with httpx.Client(base_url=base_url, timeout=30) as api:
            _, actor = new_tenant(Server("sqlite", base_url, settings, url), api)
            holder = sqlite3.connect(path, isolation_level=None)
            holder.execute("BEGIN IMMEDIATE")
            try:
                busy = api.post(schedules, json={"hour": 3}, headers=actor.headers)
            finally:
                holder.rollback()
                holder.close()
            assert busy.status_code == 503, busy.text
            assert busy.json()["error"]["code"] == "database_unavailable"
            assert api.get(schedules, headers=actor.headers).json()["data"] == []
            assert api.post(schedules, json={"hour": 3}, headers=actor.headers).status_code == 200
    finally:
        uv.should_exit = True
        thread.join(timeout=10)
