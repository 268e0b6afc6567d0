"""Where a request's work runs: a synchronous endpoint in one worker-thread call with its
response still validated, and a caller's lookup on the event loop only when nothing can wait."""

import asyncio
import inspect
import threading
from pathlib import Path

import httpx
import pytest
from fastapi import APIRouter, FastAPI
from fastapi.exceptions import ResponseValidationError
from fastapi.routing import APIRoute
from pydantic import BaseModel

import interop.db
from conftest import Server, _start
from factories import new_tenant
from interop.auth.router import router as auth_router
from interop.db import DEFAULT_POOL_SIZE, Database, overflow_for
from interop.routers import API_ROUTERS
from interop.routing import InteropRoute


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


def test_a_sqlite_read_runs_on_the_loop_only_while_a_pooled_connection_is_free(
    tmp_path: Path,
) -> None:
    database = Database(f"sqlite:///{tmp_path / 'pool.db'}")
    held = []
    try:
        assert database.can_read_without_waiting()
        held = [database.read_engine.connect() for _ in range(DEFAULT_POOL_SIZE)]
        assert not database.can_read_without_waiting()
        held.pop().close()
        assert database.can_read_without_waiting()
    finally:
        for connection in held:
            connection.close()
        database.dispose()


def test_a_postgresql_read_never_runs_on_the_loop(postgres_database: str) -> None:
    database = Database(postgres_database)
    try:
        assert not database.can_read_without_waiting()
    finally:
        database.dispose()


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
