"""The route index answers every request exactly as FastAPI's own routing does, only sooner."""

import asyncio

import httpx
import pytest
from fastapi import APIRouter, FastAPI, Request

from interop.app import create_app
from interop.routing import LONGEST_REMEMBERED_PATH, RouteIndex


def _app(indexed: bool) -> FastAPI:
    """Routers whose paths overlap the way ours do: a static path before a parameter, one path
    split across two routers by method, nested inclusion, a plain app route after them."""
    things = APIRouter()

    @things.get("/things")
    async def list_things() -> str:
        return "list"

    @things.get("/things/count")
    async def count_things() -> str:
        return "count"

    @things.get("/things/{id}")
    async def get_thing(id: str) -> str:
        return f"thing {id}"

    writes = APIRouter()

    @writes.post("/things")
    async def create_thing() -> str:
        return "created"

    @writes.delete("/things/{id}")
    async def delete_thing(id: str) -> str:
        return f"deleted {id}"

    inner = APIRouter()

    @inner.get("/deep/{a}/{b}", name="deep")
    async def deep(a: str, b: str, request: Request) -> str:
        # url_for must still see the whole app, not the index's narrower router.
        return f"{a}/{b} {request.url_for('list_things').path}"

    outer = APIRouter()
    outer.include_router(inner, prefix="/nested")

    app = FastAPI()
    app.include_router(things, prefix="/api")
    app.include_router(writes, prefix="/api")
    app.include_router(outer, prefix="/api")

    @app.get("/ping")
    async def ping() -> str:
        return "pong"

    if indexed:
        RouteIndex.install(app.router)
    return app


REQUESTS = [
    ("GET", "/api/things"),
    ("GET", "/api/things/count"),
    ("GET", "/api/things/42"),
    ("POST", "/api/things"),
    ("DELETE", "/api/things/42"),
    ("PUT", "/api/things"),  # 405: the path exists for other methods, in two routers
    ("PATCH", "/api/things/42"),
    ("GET", "/api/things/"),  # trailing slash: FastAPI's redirect
    ("GET", "/api/nested/deep/x/y"),
    ("GET", "/api/nested/deep/x"),  # 404
    ("GET", "/api/unknown"),
    ("GET", "/ping"),
    ("GET", "/nothing/here/at/all"),
    ("GET", "/api/things/" + "x" * (LONGEST_REMEMBERED_PATH + 10)),
    ("GET", "/openapi.json"),
]


async def _answers(app: FastAPI) -> list[tuple[int, str, str | None]]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        answers = []
        for _ in range(2):  # the second round comes from what the index remembered
            for method, path in REQUESTS:
                response = await client.request(method, path)
                answers.append(
                    (response.status_code, response.text, response.headers.get("location"))
                )
        return answers


def test_every_request_gets_the_answer_fastapis_routing_gives() -> None:
    plain = asyncio.run(_answers(_app(indexed=False)))
    indexed = asyncio.run(_answers(_app(indexed=True)))
    assert indexed == plain
    # The comparison is about something: the cases above do reach each kind of answer.
    statuses = {status for status, _, _ in plain}
    assert {200, 307, 404, 405} <= statuses
    assert (200, '"x/y /api/things"', None) in plain


def test_the_index_hands_a_request_only_the_routers_that_can_match_it() -> None:
    app = _app(indexed=True)
    index = app.router.middleware_stack
    assert isinstance(index, RouteIndex)
    top = app.router.routes
    things, writes, outer, ping = (top.index(route) for route in top[-4:])

    def chosen(path: str) -> list[int]:
        router = index._router_for(path)
        return [top.index(route) for route in router.routes]

    assert chosen("/api/things") == [things, writes]
    assert chosen("/api/things/count") == [things, writes]  # {id} matches "count" too
    assert chosen("/api/nested/deep/a/b") == [outer]
    assert chosen("/ping") == [ping]
    # Nothing can match: the whole router answers (404 or a slash redirect).
    assert index._router_for("/api/things/") is app.router


@pytest.mark.parametrize("path", ["/healthz", "/v2/interop/tenant/schedules", "/oauth/token"])
def test_the_app_routes_through_the_index(path: str) -> None:
    app = create_app()
    assert isinstance(app.router.middleware_stack, RouteIndex)
    router = app.router.middleware_stack._router_for(path)
    assert router is not app.router
    assert len(router.routes) == 1
