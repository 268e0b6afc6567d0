"""How a request reaches its endpoint: the route index in front of the app's router, and the
route class every API router uses (a synchronous endpoint costs one worker-thread round trip,
not two).

FastAPI runs a synchronous endpoint in a worker thread, then validates its return value
against the response model in a second worker-thread call. Wrapping the endpoint in a
coroutine that makes the one threadpool call itself lets FastAPI treat it as asynchronous and
validate on the event loop, where that validation (CPU only, no I/O) would hold the GIL
anyway. Measured on an actor's GET with 32 connections: 542/559 -> 614/662 requests/s.
"""

import functools
import inspect
import re
from collections.abc import Callable, Coroutine
from typing import Any

import orjson
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, APIRouter
from fastapi.security.base import SecurityBase
from sqlalchemy.orm import Session
from starlette._utils import get_route_path
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute
from starlette.types import Message, Receive, Scope, Send

from interop.db import runs_on_loop
from interop.limits import json_nesting_error
from interop.threads import in_thread

# Distinct request paths whose candidate routes are remembered, and the longest path kept
# (ids make paths unbounded; a longer one is looked up afresh each time).
REMEMBERED_PATHS = 4096
LONGEST_REMEMBERED_PATH = 256


class InteropRoute(APIRoute):
    """A synchronous endpoint runs in a worker thread, or on the event loop when its session
    is a SQLite read (`runs_on_loop`). The operation lists the security schemes its principal
    dependency declares (`deps.declares_security`)."""

    # False for endpoints whose reads can be long scans inside SQLite (roster data): in a
    # worker thread, which releases the GIL while SQLite works, the loop serves others meanwhile.
    reads_on_loop = True

    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        if not inspect.iscoroutinefunction(endpoint):
            endpoint = in_worker_thread(endpoint, reads_on_loop=self.reads_on_loop)
        super().__init__(path, endpoint, **kwargs)
        schemes = _declared_security(self.dependant)
        if schemes:
            security: list[dict[str, list[str]]] = [{scheme.scheme_name: []} for scheme in schemes]
            self.openapi_extra = {"security": security, **(self.openapi_extra or {})}

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        if self.body_field is None:
            return handler

        async def with_strict_json(request: Request) -> Response:
            return await handler(StrictJsonRequest(request.scope, request.receive))

        return with_strict_json


class StrictJsonRequest(Request):
    """A request whose JSON body orjson parses, as strictly as JSON is written: a lone UTF-16
    surrogate ("\\ud800"), which no database column or response can hold, NaN and Infinity are
    parse errors (400 invalid_request). Python's json module let them through, to a 500 when
    the value was stored or sent back. orjson's error is a json.JSONDecodeError, which FastAPI
    reports with its position. So is a body nested deeper than MAX_JSON_DEPTH (limits.py),
    which could be stored but not sent back."""

    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            body = await self.body()
            document = orjson.loads(body)
            too_deep = json_nesting_error(body, document)
            if too_deep is not None:
                raise too_deep
            self._json = document
        return self._json


def _declared_security(dependant: Dependant) -> list[SecurityBase]:
    """The security schemes declared by the dependencies under `dependant`, each once, in
    the order FastAPI would list them had they been dependencies themselves."""
    found: dict[str, SecurityBase] = {}
    for dependency in dependant.dependencies:
        for scheme in getattr(dependency.call, "openapi_security", ()):
            found.setdefault(scheme.scheme_name, scheme)
        for scheme in _declared_security(dependency):
            found.setdefault(scheme.scheme_name, scheme)
    return list(found.values())


class ScanningRoute(InteropRoute):
    """An InteropRoute whose endpoint always runs in a worker thread."""

    reads_on_loop = False


def in_worker_thread(function: Callable[..., Any], reads_on_loop: bool) -> Callable[..., Any]:
    """`function` as a coroutine running it in the threadpool (or, with `reads_on_loop`, on the
    loop when it is handed a session that runs there). `functools.wraps` copies its
    annotations and sets `__wrapped__`, through which FastAPI reads the parameters, the
    response model and the module globals that resolve them."""

    @functools.wraps(function)
    async def endpoint(*args: Any, **kwargs: Any) -> Any:
        if reads_on_loop and any(
            isinstance(value, Session) and runs_on_loop(value) for value in kwargs.values()
        ):
            return function(*args, **kwargs)
        return await in_thread(function, *args, **kwargs)

    return endpoint


class RouteIndex:
    """Hands each request to a router holding only the top-level routes whose paths can match
    it, in their order; the matching itself, 404, 405 and redirects stay FastAPI's.

    FastAPI 0.165 finds a request's route by asking every included router to try each of its
    routes in turn, moving keys in and out of the scope for each, and does it twice for the
    router that matches: 80 % of `/healthz`'s time in-process (cProfile), 20 % of an actor's
    GET. The index tries a path against each route's regular expressions once and remembers
    the answer. Installed as the app router's innermost callable (`install`), it runs inside
    the error handlers like the router it fronts.
    """

    def __init__(self, router: APIRouter) -> None:
        self._router = router
        self._patterns = [_path_patterns(route) for route in router.routes]
        self._views: dict[tuple[int, ...], APIRouter] = {}
        self._remembered = functools.lru_cache(maxsize=REMEMBERED_PATHS)(self._router_for)

    @classmethod
    def install(cls, router: APIRouter) -> None:
        """Put an index in front of `router`: call once every route has been added."""
        router.middleware_stack = cls(router)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._router.app(scope, receive, send)
            return
        # request.url_for() searches the router in the scope: the whole app's, not a view.
        scope.setdefault("router", self._router)
        path = get_route_path(scope)
        router = (
            self._remembered(path)
            if len(path) <= LONGEST_REMEMBERED_PATH
            else self._router_for(path)
        )
        await router.app(scope, receive, send)

    def _router_for(self, path: str) -> APIRouter:
        chosen = tuple(
            index
            for index, patterns in enumerate(self._patterns)
            if patterns is None or any(pattern.match(path) for pattern in patterns)
        )
        if len(chosen) == len(self._patterns) or not any(
            self._patterns[index] is not None for index in chosen
        ):
            # Nothing can match (a 404, maybe a slash redirect): the full router says which.
            return self._router
        view = self._views.get(chosen)
        if view is None:
            routes = [self._router.routes[index] for index in chosen]
            view = self._views[chosen] = APIRouter(routes=routes)
        return view


def _path_patterns(route: BaseRoute) -> list[re.Pattern[str]] | None:
    """The regular expressions of every path `route` serves (an included router: each of its
    routes' full paths); None when a route does not say, so that it is always tried."""
    contexts = getattr(route, "effective_route_contexts", None)
    if contexts is not None:
        return [context.path_regex for context in contexts()]
    pattern = getattr(route, "path_regex", None)
    return [pattern] if isinstance(pattern, re.Pattern) else None


class HeadAsGet:
    """A HEAD request is answered as the GET of the same URL, without its body: every
    general-purpose server supports both (RFC 9110 §9.1), and FastAPI routes only the methods
    an operation declares (a HEAD was 405)."""

    def __init__(self, app: Callable[[Scope, Receive, Send], Any]) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "HEAD":
            await self.app(scope, receive, send)
            return

        async def headers_only(message: Message) -> None:
            if message["type"] == "http.response.body":
                if message.get("more_body", False):
                    return
                message = {"type": "http.response.body", "body": b"", "more_body": False}
            await send(message)

        await self.app({**scope, "method": "GET"}, receive, headers_only)
