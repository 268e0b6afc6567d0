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

from interop.auth.router import router as auth_router
from interop.db import POOL_SIZE, Database
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
        held = [database.read_engine.connect() for _ in range(POOL_SIZE)]
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
