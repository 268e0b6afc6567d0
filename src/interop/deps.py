"""FastAPI dependencies every router shares: the request's session and its principal."""

from collections.abc import AsyncIterator, Callable
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.openapi.models import OAuthFlowClientCredentials, OAuthFlows
from fastapi.security import APIKeyHeader, HTTPBasic, OAuth2
from fastapi.security.base import SecurityBase
from sqlalchemy.orm import Session

from interop.auth.basic import decode_basic
from interop.auth.jwk import JwksCache
from interop.auth.keys import KeyRing
from interop.auth.principals import Principal
from interop.auth.secrets import SecretBox
from interop.auth.service import (
    InvalidToken,
    count_sign_in,
    is_foreign_token,
    principal_from_basic,
    principal_from_bearer,
)
from interop.config import Settings
from interop.db import Database, runs_on_loop
from interop.errors import InteropError
from interop.lti.service import principal_from_platform_token
from interop.ratelimit import RateLimiter
from interop.threads import in_thread

READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

# Declared for the OpenAPI document only (`declares_security`); the Authorization header is
# parsed below.
oauth2_scheme = OAuth2(
    flows=OAuthFlows(clientCredentials=OAuthFlowClientCredentials(tokenUrl="/oauth/token")),
    scheme_name="OAuth2",
    description="OAuth2 client credentials (RFC 6749 §4.4); send the token as a Bearer.",
    auto_error=False,
)
# As the published API names it: a JWT signed by a registered LTI 1.3 platform (docs/API.md).
lti_scheme = APIKeyHeader(
    name="Authorization",
    scheme_name="LTI JWT",
    description="LTI JWT Authorization header using the Bearer scheme",
    auto_error=False,
)
basic_scheme = HTTPBasic(
    scheme_name="AccountKeyBasic",
    description="Compatibility: an account API key sent directly as HTTP Basic.",
    auto_error=False,
)


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def get_database(request: Request) -> Database:
    database: Database = request.app.state.database
    return database


def get_keys(request: Request) -> KeyRing:
    keys: KeyRing = request.app.state.keys
    return keys


def get_jwks(request: Request) -> JwksCache:
    jwks: JwksCache = request.app.state.jwks
    return jwks


def get_secret_box(request: Request) -> SecretBox:
    box: SecretBox = request.app.state.secret_box
    return box


async def _secret_box(request: Request) -> SecretBox:
    # async: FastAPI runs a synchronous dependency in a worker thread, a round trip per
    # request to read an attribute.
    return get_secret_box(request)


SecretBoxDep = Annotated[SecretBox, Depends(_secret_box)]


async def get_session(request: Request) -> AsyncIterator[Session]:
    """One transaction per request: committed when the endpoint returns, else rolled back.

    The request first takes one of the database's request slots (see Database.request_slots).
    The endpoint's thread runs its statements (on SQLite a write transaction takes the write
    lock at its first one); a SQLite read runs on the event loop instead, caller lookup and
    endpoint alike (Database.request_session). A write commits on the database's own finisher
    threads; a read, which has nothing to wait for nor to commit, is closed on the loop
    (Database.finish).
    """
    database = get_database(request)
    write = request.method not in READ_METHODS
    async with database.request_slots:
        session = database.request_session(write=write)
        session.begin()
        try:
            yield session
        except BaseException:
            await database.finish(session, commit=False, write=write)
            raise
        await database.finish(session, commit=True, write=write)


# scope="function": commit before the response is sent, so a client that got its 200
# always finds its write.
SessionDep = Annotated[Session, Depends(get_session, scope="function")]


# Where a request keeps its caller once looked up (`_caller`).
PRINCIPAL_KEY = "interop.principal"


async def _caller(request: Request, session: Session) -> Principal:
    """Who calls, within the principal's rate limit (when one is set): looked up once per
    request, whichever of the dependencies below asks first."""
    principal: Principal | None = request.scope.get(PRINCIPAL_KEY)
    if principal is not None:
        return principal
    scheme, value = _credentials(request)
    if _look_up_on_the_loop(request, session, scheme, value):
        principal = _within_limit(
            request, _principal_from_credentials(request, session, scheme, value), session
        )
    else:
        principal = await in_thread(_authenticate_within_limit, request, session, scheme, value)
    request.scope[PRINCIPAL_KEY] = principal
    return principal


def _within_limit(request: Request, principal: Principal, session: Session) -> Principal:
    """`principal`, once its rate limit let this request through (or raise RateLimited).
    Buckets kept in the database are taken from on `session`, a read session the request
    holds already: never a second pooled connection while holding one."""
    limiter: RateLimiter = request.app.state.rate_limiter
    limiter.check(principal.client_id, session)
    return principal


def _credentials(request: Request) -> tuple[str, str]:
    """(scheme in lower case, value) of the Authorization header."""
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    scheme, value = scheme.lower(), value.strip()
    if scheme not in ("bearer", "basic") or not value:
        raise InvalidToken("an Authorization: Bearer <token> header is required")
    return scheme, value


def _look_up_on_the_loop(request: Request, session: Session, scheme: str, value: str) -> bool:
    """A read on SQLite (`runs_on_loop`) with one of our own bearer tokens: the lookup is one
    indexed read of a local file, cheaper than the worker-thread round trip it would otherwise
    cost (an actor's GET with 32 connections: +25-48 % requests/s). Whatever may wait stays in
    a worker thread: a PostgreSQL round trip, a platform token's JWKS fetch, the deliberately
    slow hash of a Basic secret, a write request's separate read transaction, a busy pool."""
    return (
        runs_on_loop(session)
        and scheme == "bearer"
        and not is_foreign_token(get_keys(request), get_settings(request), value)
    )


def _authenticate_within_limit(
    request: Request, request_session: Session, scheme: str, value: str
) -> Principal:
    """A read request looks its caller up, and takes from its rate-limit bucket, in its own
    (read) transaction; a write request in a short read transaction of its own, never holding
    the request's write lock (SQLite's BEGIN IMMEDIATE) or its bucket's row (PostgreSQL) for a
    caller that may turn out to be nobody, or be refused."""
    if request.method in READ_METHODS:
        return _identified_within_limit(request, request_session, scheme, value)
    with get_database(request).transaction(write=False) as session:
        return _identified_within_limit(request, session, scheme, value)


def _identified_within_limit(
    request: Request, session: Session, scheme: str, value: str
) -> Principal:
    if scheme == "bearer" and is_foreign_token(get_keys(request), get_settings(request), value):
        # Its own transactions; `session` has no connection yet.
        principal = principal_from_platform_token(get_database(request), get_jwks(request), value)
    else:
        principal = _principal_from_credentials(request, session, scheme, value)
    return _within_limit(request, principal, session)


def _principal_from_credentials(
    request: Request, session: Session, scheme: str, value: str
) -> Principal:
    if scheme == "bearer":
        return principal_from_bearer(session, get_keys(request), get_settings(request), value)
    try:
        client_id, secret = decode_basic(value)
    except ValueError as exc:
        raise InvalidToken(str(exc)) from exc
    try:
        return principal_from_basic(session, get_secret_box(request), client_id, secret)
    except InvalidToken:
        # A wrong secret draws on the key's bucket too (a right one does in `_within_limit`).
        count_sign_in(request.app.state.rate_limiter, session, client_id)
        raise


def declares_security(
    *schemes: SecurityBase,
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Mark a principal dependency with the security schemes the OpenAPI document lists for
    each operation that uses it (`routing.InteropRoute` reads the mark). They stay out of the
    dependencies: FastAPI would call each on every request, about 25 µs apiece, to read the
    Authorization header that `_caller` parses anyway."""

    def mark(dependency: Callable[..., Any]) -> Callable[..., Any]:
        dependency.openapi_security = schemes  # type: ignore[attr-defined]
        return dependency

    return mark


# One dependency each, not a check stacked on a shared principal dependency: every
# dependency FastAPI solves costs about 25 µs a request. They do no I/O beyond `_caller`'s:
# `async def` keeps them on the event loop instead of costing a worker-thread round trip each
# (about 0.3 ms a request on the benchmark machine).
@declares_security(oauth2_scheme, lti_scheme, basic_scheme)
async def get_principal(request: Request, session: SessionDep) -> Principal:
    return await _caller(request, session)


@declares_security(oauth2_scheme, lti_scheme, basic_scheme)
async def require_account(request: Request, session: SessionDep) -> Principal:
    principal = await _caller(request, session)
    if principal.kind != "account":
        raise InteropError(
            "wrong_principal", "this endpoint takes account credentials, not an actor's"
        )
    return principal


@declares_security(oauth2_scheme, lti_scheme)
async def require_actor(request: Request, session: SessionDep) -> Principal:
    principal = await _caller(request, session)
    if principal.kind != "actor":
        raise InteropError(
            "wrong_principal", "this endpoint takes an actor's credentials, not an account's"
        )
    return principal


# Every scheme any operation lists, for the document's components
# (`openapi.with_security_schemes`).
SECURITY_SCHEMES = (oauth2_scheme, lti_scheme, basic_scheme)

AccountPrincipal = Annotated[Principal, Depends(require_account)]
ActorPrincipal = Annotated[Principal, Depends(require_actor)]
AnyPrincipal = Annotated[Principal, Depends(get_principal)]
