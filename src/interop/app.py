"""create_app(): middleware, error handlers, service endpoints and the API routers."""

import ast
import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from sqlalchemy.exc import DataError, DBAPIError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from interop.auth.jwk import JwksCache
from interop.auth.keys import KeyRing
from interop.auth.router import router as auth_router
from interop.auth.secrets import SecretBox, load_master_secret
from interop.config import Settings
from interop.db import Database
from interop.deps import SECURITY_SCHEMES
from interop.engine.metrics import IngestionCollector
from interop.engine.runner import Engine
from interop.errors import InteropError, error_body
from interop.limits import RequestLimits
from interop.metrics import HttpMetrics, RequestObserver
from interop.migrations_runner import migrations_are_current
from interop.openapi import with_every_error_code, with_security_schemes, without_framework_422
from interop.process import freeze_start_up_objects
from interop.ratelimit import RateLimited, rate_limiter_for
from interop.routers import API_ROUTERS
from interop.routing import HeadAsGet, InteropRoute, RouteIndex
from interop.threads import request_threads

API_PREFIX = "/v2/interop"
log = logging.getLogger("interop")


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    metrics = HttpMetrics()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        database = Database.from_settings(settings)
        box = SecretBox(load_master_secret(settings))
        keys = KeyRing(database, box)
        keys.load()
        app.state.database, app.state.secret_box, app.state.keys = database, box, keys
        app.state.rate_limiter = rate_limiter_for(settings, database)
        engine = Engine(database, settings)
        if settings.engine_enabled:
            engine.start(workers=1)
        freeze_start_up_objects()
        try:
            with request_threads(asyncio.get_running_loop()):
                yield
        finally:
            engine.stop()
            database.dispose()

    app = InteropApp(
        title="Interop API",
        version="2.0",
        summary="Self-hosted DataSync Interop API: clouds, actors, integrations and tenants.",
        lifespan=lifespan,
        separate_input_output_schemas=False,
    )
    app.state.settings = settings
    app.state.metrics = metrics
    app.state.jwks = JwksCache(
        settings.jwks_cache_seconds,
        settings.jwks_timeout_seconds,
        settings.jwks_allow_private_networks,
    )
    metrics.add_collector(IngestionCollector(lambda: getattr(app.state, "database", None)))
    app.include_router(auth_router)
    for router in API_ROUTERS:
        app.include_router(router, prefix=API_PREFIX)
    _add_service_endpoints(app)
    _use_our_openapi(app)
    _add_error_handlers(app)
    RouteIndex.install(app.router)
    app.add_middleware(HeadAsGet)
    app.add_middleware(RequestLimits, max_body_bytes=settings.max_body_bytes)
    app.add_middleware(RequestObserver, metrics=metrics, api_prefix=API_PREFIX)
    return app


class InteropApp(FastAPI):
    """FastAPI whose unexpected errors end with the 500 that answers them."""

    def build_middleware_stack(self) -> ASGIApp:
        return AnsweredErrorsEndHere(super().build_middleware_stack())


class AnsweredErrorsEndHere:
    """Outside Starlette's ServerErrorMiddleware, the outermost layer FastAPI builds. That
    middleware answers an unexpected error through the `Exception` handler below (traceback
    logged, 500 envelope sent), then raises it again "so that servers can log it": uvicorn
    logged a second traceback ("Exception in ASGI application") and, a response having begun,
    closed the keep-alive connection. An error whose answer has begun ends here. One that
    nothing answered (the handler itself failed) still reaches uvicorn, whose plain 500 is
    the last resort; a response cut off mid-body is still ended by uvicorn closing the
    connection."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        answered = False

        async def watching_send(message: Message) -> None:
            nonlocal answered
            answered = answered or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, watching_send)
        except Exception:
            if not answered:
                raise


def _use_our_openapi(app: FastAPI) -> None:
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = with_security_schemes(generate(), SECURITY_SCHEMES)
            app.openapi_schema = with_every_error_code(without_framework_422(schema))
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def _add_service_endpoints(app: FastAPI) -> None:
    # The synchronous ones below then hand their work to `in_thread` like every API route.
    app.router.route_class = InteropRoute

    @app.get("/healthz", tags=["Service"], summary="The process is up")
    async def healthz() -> dict[str, str]:  # nothing to wait for: no thread hop
        return {"status": "ok"}

    @app.get("/readyz", tags=["Service"], summary="The database is reachable and migrated")
    def readyz(request: Request) -> JSONResponse:
        database: Database = request.app.state.database
        # Before the ping, which a pooled connection to a moved file would pass.
        problem = database.sqlite_file_problem()
        if problem is not None:
            return _error(503, "database_unavailable", problem)
        try:
            database.ping()
            current = migrations_are_current(database.read_engine)
        except (OperationalError, DBAPIError):
            return _error(503, "database_unavailable", "the database cannot be reached")
        if not current:
            return _error(
                503, "database_unavailable", "migrations are not applied: run `interop migrate`"
            )
        return JSONResponse({"status": "ready"})

    @app.get(
        "/metrics",
        tags=["Service"],
        summary="Prometheus metrics",
        response_class=PlainTextResponse,
        responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}}}},
    )
    def prometheus_metrics(request: Request) -> Response:
        return Response(
            request.app.state.metrics.render(),
            media_type="text/plain; version=0.0.4; charset=utf-8",
        )


def _error(
    status: int, code: str, message: str, details: Any = None, headers: dict[str, str] | None = None
) -> JSONResponse:
    return JSONResponse(
        error_body(status, code, message, details), status_code=status, headers=headers
    )


# PostgreSQL's SQLSTATEs for a transaction it ended to resolve a conflict between writers.
WRITE_CONFLICT_STATES = {"40P01": "a deadlock", "40001": "a serialization failure"}


def database_problem(exc: OperationalError) -> tuple[str, int]:
    """What a 503 for this database error says, and its Retry-After seconds. Most are an
    outage; a deadlock or serialization failure (PostgreSQL) and a lock held past the busy
    timeout (SQLite) are writers colliding on a healthy database, worth retrying at once."""
    conflict = WRITE_CONFLICT_STATES.get(getattr(exc.orig, "sqlstate", None) or "")
    if conflict is not None:
        return f"the database ended this request in {conflict} with concurrent writes; retry", 1
    if "database is locked" in str(exc.orig):
        return "the database stayed locked by other writers; retry", 1
    return "the database cannot be reached; retry later", 5


def field_problem(error: dict[str, Any], union_tag: str | None, body: Any) -> dict[str, str]:
    """A validation error as `{"field", "message"}`, the field a dotted path through the
    request as sent."""
    if error["type"] == "json_invalid":
        # FastAPI puts the character offset where the field would be ("body.1").
        position, reason = error["loc"][-1], error.get("ctx", {}).get("error", "")
        return {"field": "body", "message": f"invalid JSON at character {position}: {reason}"}
    location = list(error["loc"])
    # pydantic names the member of a discriminated union it validated the body as
    # ("body.connector.name" for {"type": "connector", "name": …}), a level the body does
    # not have.
    if (
        union_tag
        and location[:1] == ["body"]
        and isinstance(body, dict)
        and len(location) > 1
        and location[1] == body.get(union_tag)
    ):
        del location[1]
    tag_field = _union_tag_field(error)
    if tag_field is not None:
        location.append(tag_field)
    return {"field": ".".join(str(part) for part in location), "message": error["msg"]}


def _union_tag_field(error: dict[str, Any]) -> str | None:
    """The field holding a discriminated union's tag, when `error` is that the tag is absent
    or names no member: pydantic locates the error at the union ("body" for an actor install
    of type "bogus"), though the field at fault is its tag ("body.type"). The error names the
    field as a Python literal ("'type'"); a callable discriminator names none."""
    if error["type"] not in ("union_tag_invalid", "union_tag_not_found"):
        return None
    try:
        field = ast.literal_eval(error.get("ctx", {}).get("discriminator", ""))
    except (ValueError, SyntaxError):
        return None
    return field if isinstance(field, str) else None


def _body_union_tag(request: Request) -> str | None:
    """The field that tells apart the members of the route's body, when the body is a
    discriminated union (an actor install's `type`)."""
    body_field = getattr(request.scope.get("route"), "body_field", None)
    tag = getattr(getattr(body_field, "field_info", None), "discriminator", None)
    return tag if isinstance(tag, str) else None


def _add_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(InteropError)
    async def interop_error(_request: Request, exc: InteropError) -> JSONResponse:
        headers = None
        if exc.code == "invalid_token":
            headers = {"WWW-Authenticate": 'Bearer error="invalid_token"'}
        elif isinstance(exc, RateLimited):
            headers = {"Retry-After": str(exc.retry_after)}
        return _error(exc.status, exc.code, exc.message, exc.details, headers)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        tag = _body_union_tag(request)
        details = [field_problem(error, tag, exc.body) for error in exc.errors()]
        first = f"{details[0]['field']}: {details[0]['message']}" if details else "invalid"
        more = f" (and {len(details) - 1} more)" if len(details) > 1 else ""
        return _error(400, "invalid_request", f"invalid request: {first}{more}", details)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {
            404: "not_found",
            405: "method_not_allowed",
            413: "request_too_large",
            415: "unsupported_media_type",
        }.get(exc.status_code)
        if code is None:
            code = "invalid_request" if exc.status_code < 500 else "internal_error"
        message = "no such path" if exc.status_code == 404 else str(exc.detail)
        headers = dict(exc.headers) if exc.headers else None
        return _error(exc.status_code, code, message, headers=headers)

    @app.exception_handler(DataError)
    async def unstorable_value(_request: Request, exc: DataError) -> JSONResponse:
        # The database refused a value the schema let through (PostgreSQL text cannot hold
        # U+0000; a number out of a column's range): the caller's input, so a 400.
        log.info("value refused by the database: %s", type(exc.orig).__name__)
        return _error(
            400,
            "invalid_request",
            "a value cannot be stored (for example, text containing the NUL character U+0000)",
        )

    @app.exception_handler(OperationalError)
    async def database_down(_request: Request, exc: OperationalError) -> JSONResponse:
        log.warning("database unavailable: %s", type(exc.orig).__name__)
        message, retry_after = database_problem(exc)
        return _error(
            503, "database_unavailable", message, headers={"Retry-After": str(retry_after)}
        )

    @app.exception_handler(PoolTimeout)
    async def database_busy(_request: Request, _exc: PoolTimeout) -> JSONResponse:
        # Every pooled connection stayed busy for the pool's timeout: an overload, not a bug.
        log.warning("no database connection became free in time")
        return _error(
            503,
            "database_unavailable",
            "no database connection became free in time; retry later",
            headers={"Retry-After": "5"},
        )

    @app.exception_handler(Exception)
    async def unexpected(_request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error", exc_info=exc)
        return _error(500, "internal_error", "unexpected error; the server log has the details")
