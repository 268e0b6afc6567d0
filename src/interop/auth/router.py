"""The token endpoint (RFC 6749 §4.4) and the JWKS that verifies what it signs."""

from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from interop.auth.basic import decode_basic
from interop.auth.service import (
    ClientCredential,
    OAuthError,
    authenticate_client,
    count_sign_in,
    issue_token,
)
from interop.clientkeys.service import ASSERTION_TYPE, assertion_issuer, authenticate_assertion
from interop.deps import get_database, get_jwks, get_keys, get_secret_box, get_settings
from interop.ratelimit import RateLimited, RateLimiter
from interop.routing import InteropRoute
from interop.threads import in_thread

router = APIRouter(tags=["Auth"], route_class=InteropRoute)

# Every answer of the token endpoint (RFC 6749 §5.1).
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}

TOKEN_REQUEST_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "application/x-www-form-urlencoded": {
                "schema": {
                    "type": "object",
                    "required": ["grant_type"],
                    "properties": {
                        "grant_type": {"type": "string", "enum": ["client_credentials"]},
                        "client_id": {"type": "string"},
                        "client_secret": {"type": "string"},
                        "client_assertion_type": {"type": "string", "enum": [ASSERTION_TYPE]},
                        "client_assertion": {
                            "type": "string",
                            "description": "A JWT signed by a key registered for the client",
                        },
                        "scope": {"type": "string", "description": "Echoed when granted"},
                    },
                }
            }
        },
    }
}
TOKEN_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "An access token",
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "required": ["access_token", "token_type", "expires_in"],
                    "properties": {
                        "access_token": {"type": "string"},
                        "token_type": {"type": "string", "enum": ["Bearer"]},
                        "expires_in": {"type": "integer"},
                        "scope": {"type": "string"},
                    },
                }
            }
        },
    },
    400: {"description": "RFC 6749 §5.2: invalid_request, unsupported_grant_type"},
    401: {"description": "RFC 6749 §5.2: invalid_client"},
    429: {
        "description": (
            "rate_limited (when INTEROP_RATE_LIMIT_PER_MINUTE is set): the client this request "
            "names made too many requests; retry after Retry-After seconds"
        )
    },
}


@router.post(
    "/oauth/token",
    summary="Get an access token (client credentials)",
    description=(
        "Authenticate with client_secret_basic (HTTP Basic), client_secret_post (form "
        "fields) or private_key_jwt (RFC 7523: `client_assertion_type` "
        f"`{ASSERTION_TYPE}` and a `client_assertion` signed by a key registered at "
        "/v2/interop/clients/{client_id}/keys, `aud` the token endpoint URL or the server's "
        "issuer). Errors follow RFC 6749 §5.2, not the API error envelope."
    ),
    openapi_extra=TOKEN_REQUEST_BODY,
    responses=TOKEN_RESPONSES,
)
async def token(request: Request) -> JSONResponse:
    try:
        form = _parse_form(request.headers.get("content-type", ""), await request.body())
        authorization = request.headers.get("authorization")
        if "client_assertion_type" in form or "client_assertion" in form:
            authenticate = _assertion_authentication(request, authorization, form)
            assertion = form["client_assertion"]
            named_client = lambda: form.get("client_id") or assertion_issuer(assertion)  # noqa: E731
        else:
            client_id, secret = _client_credentials(authorization, form)
            authenticate = _secret_authentication(request, client_id, secret)
            named_client = lambda: client_id  # noqa: E731
        if not form.get("grant_type"):
            raise OAuthError("invalid_request", "grant_type is required")
        if form["grant_type"] != "client_credentials":
            raise OAuthError("unsupported_grant_type", "only client_credentials is supported")
        body = await _issue(request, named_client, authenticate)
    except OAuthError as error:
        return _oauth_error_response(error)
    except RateLimited as limited:
        return _rate_limited_response(limited)
    if form.get("scope"):
        # Every scope is granted: a principal's reach is set by its kind, not by scopes.
        body["scope"] = form["scope"]
    return JSONResponse(body, headers=NO_STORE)


@router.get("/.well-known/jwks.json", summary="Public keys that sign access tokens")
def jwks(request: Request) -> JSONResponse:
    keys = get_keys(request)
    keys.follow_rotation()
    return JSONResponse(keys.jwks, headers={"Cache-Control": "max-age=300"})


Authenticate = Callable[[], ClientCredential]


async def _issue(
    request: Request, named_client: Callable[[], str | None], authenticate: Authenticate
) -> dict[str, Any]:
    def work() -> dict[str, Any]:
        # Before the secret or assertion is checked: a refused request costs no hash, and
        # spends no assertion.
        _count_sign_in(request, named_client)
        credential = authenticate()
        keys = get_keys(request)
        keys.follow_rotation()
        return issue_token(keys, get_settings(request), credential)

    return await in_thread(work)


def _count_sign_in(request: Request, named_client: Callable[[], str | None]) -> None:
    """Draw on the bucket of the client the request names, read only while limiting is on
    (an assertion's is in its unverified claims)."""
    limiter: RateLimiter = request.app.state.rate_limiter
    if not limiter.enabled:
        return
    client_id = named_client()
    if client_id:
        with get_database(request).transaction(write=False) as session:
            count_sign_in(limiter, session, client_id)


def _secret_authentication(request: Request, client_id: str, secret: str) -> Authenticate:
    def authenticate() -> ClientCredential:
        with get_database(request).transaction(write=False) as session:
            return authenticate_client(session, get_secret_box(request), client_id, secret)

    return authenticate


def _assertion_authentication(
    request: Request, authorization: str | None, form: dict[str, str]
) -> Authenticate:
    """private_key_jwt (RFC 7523 §2.2): the only client authentication of the request."""
    if authorization or "client_secret" in form:
        raise OAuthError("invalid_request", "use one client authentication method, not two")
    if form.get("client_assertion_type") != ASSERTION_TYPE:
        raise OAuthError("invalid_request", f"client_assertion_type must be {ASSERTION_TYPE}")
    if not form.get("client_assertion"):
        raise OAuthError("invalid_request", "client_assertion is required")
    settings = get_settings(request)
    token_url = str(request.url_for("token"))
    issuer = settings.issuer.rstrip("/")
    audiences = list(dict.fromkeys([token_url, settings.issuer, f"{issuer}/oauth/token"]))

    def authenticate() -> ClientCredential:
        return authenticate_assertion(
            get_database(request),
            get_jwks(request),
            form["client_assertion"],
            audiences,
            form.get("client_id") or None,
        )

    return authenticate


def _parse_form(content_type: str, body: bytes) -> dict[str, str]:
    if content_type.split(";")[0].strip().lower() != "application/x-www-form-urlencoded":
        raise OAuthError("invalid_request", "the body must be application/x-www-form-urlencoded")
    try:
        pairs = parse_qsl(body.decode(), keep_blank_values=True, strict_parsing=False)
    except (UnicodeDecodeError, ValueError) as exc:
        raise OAuthError("invalid_request", "the form body cannot be parsed") from exc
    form: dict[str, str] = {}
    for key, value in pairs:
        if key in form:
            raise OAuthError("invalid_request", f"parameter {key} is repeated")
        form[key] = value
    return form


def _client_credentials(authorization: str | None, form: dict[str, str]) -> tuple[str, str]:
    """client_secret_basic or client_secret_post; using both at once is refused (RFC 6749 §2.3)."""
    in_form = "client_secret" in form
    if authorization:
        scheme, _, value = authorization.partition(" ")
        if scheme.lower() != "basic":
            raise OAuthError("invalid_client", "unsupported client authentication", 401)
        if in_form:
            raise OAuthError("invalid_request", "use one client authentication method, not two")
        try:
            client_id, secret = decode_basic(value)
        except ValueError as exc:
            raise OAuthError("invalid_client", str(exc), 401) from exc
        # A client may name itself in the form too (RFC 6749 §3.2.1), but not as another.
        if form.get("client_id") not in (None, "", client_id):
            raise OAuthError("invalid_client", "client_id differs from the Basic credentials", 401)
        return client_id, secret
    if not in_form or not form.get("client_id"):
        raise OAuthError("invalid_client", "client authentication is required", 401)
    return form["client_id"], form["client_secret"]


def _rate_limited_response(limited: RateLimited) -> JSONResponse:
    """429 in the endpoint's RFC 6749 shape (the RFC defines no code for it)."""
    return JSONResponse(
        {"error": limited.code, "error_description": limited.message},
        status_code=429,
        headers={**NO_STORE, "Retry-After": str(limited.retry_after)},
    )


def _oauth_error_response(error: OAuthError) -> JSONResponse:
    headers = dict(NO_STORE)
    if error.status == 401:
        headers["WWW-Authenticate"] = 'Basic realm="interop"'
    return JSONResponse(
        {"error": error.error, "error_description": error.description},
        status_code=error.status,
        headers=headers,
    )
