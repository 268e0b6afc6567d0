"""Client keys and private-key JWT client authentication (RFC 7523 §2.2, the LTI Advantage
service token flow): a client proves who it is with an assertion signed by a key it
registered, instead of a shared secret."""

import time
import uuid
from datetime import UTC, datetime
from typing import Any

import jwt
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from interop.accounts.models import Account, ApiKey
from interop.actors.models import Actor
from interop.auth.jwk import (
    ASYMMETRIC_ALGORITHMS,
    JwksCache,
    JwksUnavailable,
    KeyMaterialError,
    check_jwks_url,
    decode_with_any,
    public_jwk_from,
    thumbprint,
)
from interop.auth.service import ClientCredential, OAuthError, known_client
from interop.clientkeys.models import ClientKey, UsedAssertion
from interop.clientkeys.schemas import KeySource
from interop.db import AnySelect, Database
from interop.errors import Conflict, InvalidRequest, NotFound
from interop.storable import storable_text

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
LEEWAY_SECONDS = 60
# A used jti is kept until its assertion expires; a longer-lived assertion is refused, so
# the replay table stays small. (Authlib and pylti1p3 sign for an hour or less.)
MAX_ASSERTION_SECONDS = 3600


def client_owner(session: Session, client_id: str, visible: AnySelect | None) -> uuid.UUID:
    """The account owning an API key or actor, when `visible` (account ids) includes it."""
    found = known_client(session, client_id)
    if found is None:
        raise NotFound("client")
    _, account_id = found
    if visible is not None:
        allowed = session.scalar(select(visible.where(Account.id == account_id).exists()))
        if not allowed:
            raise NotFound("client")
    return account_id


def add_key(
    session: Session, account_id: uuid.UUID, client_id: str, source: KeySource
) -> ClientKey:
    """Register a key; `409 client_key_exists` when the client has it already: a kid must
    name one key (an assertion's kid picks the key that verifies it), and a second copy of
    a key or a URL would stay behind when the first is removed to take the key back."""
    columns = key_columns(source)
    _lock_client(session, client_id)
    existing = _same_key(session, client_id, columns)
    if existing is not None:
        raise Conflict(
            "client_key_exists",
            f"the client already has this key ({_described(existing)}): remove it first "
            "to register it again",
            details={"key_id": str(existing.id)},
        )
    actor_id = session.scalar(select(Actor.id).where(Actor.client_id == client_id))
    key = ClientKey(account_id=account_id, client_id=client_id, actor_id=actor_id, **columns)
    session.add(key)
    session.flush()
    return key


def _lock_client(session: Session, client_id: str) -> None:
    """One registration of a client's keys at a time, so that two racing copies of a key
    cannot both find it absent: a row lock on the client (its API key or actor) on
    PostgreSQL, where SQLite's write transactions are serialized already. NO KEY UPDATE:
    reads and foreign-key checks of the row go on."""
    for client in (ApiKey, Actor):
        session.execute(
            select(client.id).where(client.client_id == client_id).with_for_update(key_share=True)
        )


def _same_key(session: Session, client_id: str, columns: dict[str, Any]) -> ClientKey | None:
    """The client's key that `columns` would repeat: the same JWKS URL, or a static key with
    the same kid or the same material (RFC 7638 thumbprint, whatever kid each carries)."""
    return next(
        (key for key in session.scalars(keys_of(client_id)) if _repeats(key, columns)), None
    )


def _repeats(key: ClientKey, columns: dict[str, Any]) -> bool:
    url: str | None = columns.get("jwks_url")
    if url is not None:
        return key.jwks_url == url
    kid: str = columns["kid"]
    material = thumbprint(columns["public_jwk"])
    return key.public_jwk is not None and (key.kid == kid or thumbprint(key.public_jwk) == material)


def _described(key: ClientKey) -> str:
    return f"JWKS URL {key.jwks_url}" if key.jwks_url is not None else f"kid {key.kid}"


def key_columns(source: KeySource) -> dict[str, Any]:
    """The stored form of a key source: a checked public JWK (with its kid) or a URL."""
    try:
        if source.jwks_url is not None:
            return {"jwks_url": check_jwks_url(source.jwks_url)}
        jwk = public_jwk_from(jwk=source.jwk, pem=source.pem)
    except KeyMaterialError as exc:
        raise InvalidRequest(str(exc)) from exc
    return {"kid": jwk["kid"], "public_jwk": jwk}


def keys_of(client_id: str) -> AnySelect:
    statement: AnySelect = (
        select(ClientKey)
        .where(ClientKey.client_id == client_id)
        .order_by(ClientKey.created_at, ClientKey.id)
    )
    return statement


def delete_key(session: Session, client_id: str, key_id: uuid.UUID) -> None:
    key = session.get(ClientKey, key_id)
    if key is None or key.client_id != client_id:
        raise NotFound("client key")
    session.delete(key)


def candidate_keys(
    jwks: JwksCache, sources: list[tuple[dict[str, Any] | None, str | None]], kid: str | None
) -> list[dict[str, Any]]:
    """The public keys that may have signed a token naming `kid`, from static keys and
    JWKS URLs. Raises JwksUnavailable only when a URL failed and nothing else matched."""
    found: list[dict[str, Any]] = []
    unavailable: JwksUnavailable | None = None
    for public_jwk, jwks_url in sources:
        if public_jwk is not None and (kid is None or public_jwk.get("kid") == kid):
            found.append(public_jwk)
        elif jwks_url is not None:
            try:
                found += jwks.keys(jwks_url, kid)
            except JwksUnavailable as exc:
                unavailable = exc
    if not found and unavailable is not None:
        raise unavailable
    return found


def authenticate_assertion(
    database: Database,
    jwks: JwksCache,
    assertion: str,
    audiences: list[str],
    claimed_client_id: str | None,
) -> ClientCredential:
    """Verify a client assertion and spend its jti; any failure is `invalid_client`
    (RFC 7523 §3.2)."""
    header, unverified = _unverified(assertion)
    client_id = unverified.get("iss")
    if not isinstance(client_id, str) or not client_id or not storable_text(client_id):
        raise _refused("the assertion has no usable iss (the client id)")
    if claimed_client_id is not None and claimed_client_id != client_id:
        raise _refused("client_id differs from the assertion's iss")
    with database.transaction(write=False) as session:
        found = known_client(session, client_id)
        sources = [(key.public_jwk, key.jwks_url) for key in session.scalars(keys_of(client_id))]
    if found is None or not sources:
        raise _refused("unknown client, or it has no registered key")
    kid = header.get("kid") if isinstance(header.get("kid"), str) else None
    try:
        candidates = candidate_keys(jwks, sources, kid)
    except JwksUnavailable as exc:
        raise _refused(f"the client's JWKS cannot be fetched: {exc}") from exc
    if not candidates:
        raise _refused(f"no key registered for the client has kid {kid!r}")
    claims = _verified(assertion, candidates, header["alg"], client_id, audiences)
    _spend_jti(database, client_id, claims)
    return found[0]


def assertion_issuer(assertion: str) -> str | None:
    """The client an assertion names (its iss, unverified), or None if it names none: whose
    rate-limit bucket the token request draws on before the assertion is checked."""
    try:
        issuer = jwt.decode(assertion, options={"verify_signature": False}).get("iss")
    except jwt.PyJWTError:
        return None
    return issuer if isinstance(issuer, str) else None


def _unverified(assertion: str) -> tuple[dict[str, Any], dict[str, Any]]:
    try:
        header = jwt.get_unverified_header(assertion)
        claims = jwt.decode(assertion, options={"verify_signature": False})
    except jwt.PyJWTError as exc:
        raise _refused(f"the assertion is not a JWT: {exc}") from exc
    if header.get("alg") not in ASYMMETRIC_ALGORITHMS:
        raise _refused(f"alg must be one of {', '.join(ASYMMETRIC_ALGORITHMS)}")
    return header, claims


def _verified(
    assertion: str,
    candidates: list[dict[str, Any]],
    algorithm: str,
    client_id: str,
    audiences: list[str],
) -> dict[str, Any]:
    try:
        claims = decode_with_any(
            assertion,
            candidates,
            algorithm,
            audience=audiences,
            issuer=client_id,
            leeway=LEEWAY_SECONDS,
            options={"require": ["iss", "sub", "aud", "exp", "iat", "jti"]},
        )
    except jwt.ExpiredSignatureError as exc:
        raise _refused("the assertion has expired") from exc
    except jwt.InvalidAudienceError as exc:
        raise _refused(f"aud must be one of {', '.join(audiences)}") from exc
    except jwt.PyJWTError as exc:
        raise _refused(f"the assertion is invalid: {exc}") from exc
    if claims["sub"] != client_id:
        raise _refused("sub must equal iss (the client id)")
    # PyJWT accepts a numeric string as a time, which the comparisons below cannot use.
    if not all(_is_numeric_date(claims[name]) for name in ("exp", "iat")):
        raise _refused("exp and iat must be numbers (RFC 7519 NumericDate)")
    jti = claims["jti"]
    if not isinstance(jti, str) or not 0 < len(jti) <= 255 or not storable_text(jti):
        raise _refused("jti must be a string of 1 to 255 characters, with no U+0000")
    if claims["exp"] > time.time() + MAX_ASSERTION_SECONDS + LEEWAY_SECONDS:
        raise _refused(f"the assertion may live at most {MAX_ASSERTION_SECONDS} s")
    return claims


def _is_numeric_date(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _spend_jti(database: Database, client_id: str, claims: dict[str, Any]) -> None:
    """Record the jti until the assertion expires; a second use is a replay."""
    now = datetime.now(UTC)
    expires_at = datetime.fromtimestamp(claims["exp"] + LEEWAY_SECONDS, UTC)
    try:
        with database.transaction() as session:
            # Expired ids can never be replayed (their assertions are refused as expired).
            session.execute(delete(UsedAssertion).where(UsedAssertion.expires_at < now))
            session.add(
                UsedAssertion(client_id=client_id, jti=claims["jti"], expires_at=expires_at)
            )
    except IntegrityError as exc:
        raise _refused("the assertion's jti was already used (replay)") from exc


def _refused(description: str) -> OAuthError:
    return OAuthError("invalid_client", description, status=401)
