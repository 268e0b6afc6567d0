"""LTI 1.3 platforms: a JWT signed by a platform an account registered acts as that account,
or, with the tenant custom claim, as that tenant's integration."""

import logging
import uuid
from typing import Any

import jwt
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from interop.accounts.models import Account
from interop.actors.models import Actor
from interop.auth.jwk import ASYMMETRIC_ALGORITHMS, JwksCache, JwksUnavailable, decode_with_any
from interop.auth.principals import Principal
from interop.auth.service import InvalidToken, actor_principal
from interop.clientkeys.service import LEEWAY_SECONDS, candidate_keys, key_columns
from interop.db import AnySelect, Database
from interop.errors import Conflict, InvalidRequest, NotFound
from interop.lti.models import LtiPlatform
from interop.lti.schemas import LtiPlatformIn
from interop.storable import storable_text
from interop.tenants.models import Tenant
from interop.tenants.repository import readable_by

DEPLOYMENT_CLAIM = "https://purl.imsglobal.org/spec/lti/claim/deployment_id"
# LTI custom parameters arrive in this claim; the platform admin sets `interop_tenant_id`
# in the tool's deployment to act for one tenant.
CUSTOM_CLAIM = "https://purl.imsglobal.org/spec/lti/claim/custom"
TENANT_PARAMETER = "interop_tenant_id"

log = logging.getLogger("interop.lti")


def register_platform(
    session: Session, account_id: uuid.UUID, body: LtiPlatformIn, own_issuer: str
) -> LtiPlatform:
    if body.issuer == own_issuer:
        raise InvalidRequest("issuer is this server's own issuer")
    platform = LtiPlatform(
        account_id=account_id,
        issuer=body.issuer,
        client_id=body.client_id,
        deployment_ids=list(dict.fromkeys(body.deployment_ids)),
        **key_columns(body),
    )
    try:
        with session.begin_nested():
            session.add(platform)
            session.flush()
    except IntegrityError as exc:
        raise Conflict(
            "lti_platform_exists", "the account has this issuer and client_id registered already"
        ) from exc
    return platform


def platforms_of(visible: AnySelect | None) -> AnySelect:
    statement: AnySelect = select(LtiPlatform).order_by(LtiPlatform.created_at, LtiPlatform.id)
    if visible is not None:
        statement = statement.where(LtiPlatform.account_id.in_(visible))
    return statement


def delete_platform(session: Session, visible: AnySelect | None, platform_id: uuid.UUID) -> None:
    platform = session.scalar(platforms_of(visible).where(LtiPlatform.id == platform_id))
    if platform is None:
        raise NotFound("LTI platform")
    session.delete(platform)


def principal_from_platform_token(database: Database, jwks: JwksCache, token: str) -> Principal:
    """The principal of a platform-signed JWT, or InvalidToken."""
    try:
        header = jwt.get_unverified_header(token)
        unverified = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError as exc:
        raise InvalidToken(f"the token is invalid: {exc}") from exc
    algorithm = header.get("alg")
    if algorithm not in ASYMMETRIC_ALGORITHMS:
        raise InvalidToken(f"alg must be one of {', '.join(ASYMMETRIC_ALGORITHMS)}")
    kid = header.get("kid") if isinstance(header.get("kid"), str) else None
    issuer = str(unverified.get("iss"))
    audiences = [
        audience for audience in _audiences(unverified.get("aud")) if storable_text(audience)
    ]
    if not storable_text(issuer) or not audiences:
        raise InvalidToken("the token is signed neither by this server nor a registered platform")
    with database.transaction(write=False) as session:
        platforms = list(
            session.scalars(
                select(LtiPlatform).where(
                    LtiPlatform.issuer == issuer,
                    LtiPlatform.client_id.in_(audiences),
                )
            )
        )
    if not platforms:
        raise InvalidToken("the token is signed neither by this server nor a registered platform")
    candidates = _registrations_for(platforms, unverified)
    platform, claims = _one_account(_verified_by_each(jwks, candidates, token, algorithm, kid))
    with database.transaction(write=False) as session:
        return _principal(session, platform, claims)


def _registrations_for(
    platforms: list[LtiPlatform], unverified: dict[str, Any]
) -> list[LtiPlatform]:
    """The registrations, among those of the token's issuer and audiences, that the token
    may be for."""
    # Several registrations can share an issuer; azp says which client the token is for.
    named = [p for p in platforms if p.client_id == unverified.get("azp")] or platforms
    # Accounts may register the same client id for different deployments of it. When none
    # lists the token's, they are all checked, to say why each refuses it.
    deployment = unverified.get(DEPLOYMENT_CLAIM)
    accepting = [p for p in named if not p.deployment_ids or deployment in p.deployment_ids]
    return accepting or named


def _verified_by_each(
    jwks: JwksCache, platforms: list[LtiPlatform], token: str, algorithm: str, kid: str | None
) -> list[tuple[LtiPlatform, dict[str, Any]]]:
    """Each registration whose keys verify the token, with its claims; when none does,
    InvalidToken with the first one's reason. Judged by signature, so that a registration
    with keys of its own (anyone may register a platform's issuer and client id) neither
    takes the platform's JWTs nor keeps them from the account whose keys sign them."""
    verified: list[tuple[LtiPlatform, dict[str, Any]]] = []
    refusals: list[InvalidToken] = []
    for platform in platforms:
        try:
            verified.append((platform, _verified(jwks, platform, token, algorithm, kid)))
        except InvalidToken as refusal:
            refusals.append(refusal)
    if not verified:
        raise refusals[0]
    return verified


def _one_account(
    verified: list[tuple[LtiPlatform, dict[str, Any]]],
) -> tuple[LtiPlatform, dict[str, Any]]:
    """The registration the token acts for: InvalidToken when registrations of more than
    one account verify it (each registered the platform's own keys)."""
    if len({platform.account_id for platform, _ in verified}) > 1:
        _log_ambiguous([platform for platform, _ in verified])
        raise InvalidToken(
            "the token's platform is registered more than once (by several accounts); "
            "the server's operator must remove the wrong registration"
        )
    return verified[0]


def _log_ambiguous(platforms: list[LtiPlatform]) -> None:
    # Anyone may register a platform's issuer and client id (neither is secret), so which
    # account its JWTs act for cannot be guessed: only the operator can tell, and remove the
    # wrong registration. Ids, never keys: the log may be read by others.
    registrations = ", ".join(
        f"{platform.id} (account {platform.account_id}, client_id {platform.client_id!r})"
        for platform in sorted(platforms, key=lambda platform: str(platform.id))
    )
    log.warning(
        "LTI platform %r is registered by several accounts: its JWTs are refused until all "
        "but one of these registrations are removed (`interop lti platforms remove ID`): %s",
        platforms[0].issuer,
        registrations,
    )


def _verified(
    jwks: JwksCache, platform: LtiPlatform, token: str, algorithm: str, kid: str | None
) -> dict[str, Any]:
    try:
        candidates = candidate_keys(jwks, [(platform.public_jwk, platform.jwks_url)], kid)
    except JwksUnavailable as exc:
        raise InvalidToken(f"the platform's JWKS cannot be fetched: {exc}") from exc
    try:
        claims = decode_with_any(
            token,
            candidates,
            algorithm,
            audience=platform.client_id,
            issuer=platform.issuer,
            leeway=LEEWAY_SECONDS,
            options={"require": ["iss", "aud", "exp", "iat"]},
        )
    except jwt.ExpiredSignatureError as exc:
        raise InvalidToken("the token has expired") from exc
    except jwt.PyJWTError as exc:
        raise InvalidToken(f"the platform token is invalid: {exc}") from exc
    audiences = _audiences(claims["aud"])
    # LTI 1.3 (OIDC core): with several audiences, azp names the one the token is for.
    if len(audiences) > 1 and claims.get("azp") != platform.client_id:
        raise InvalidToken("with several audiences, azp must be the registered client_id")
    deployment = claims.get(DEPLOYMENT_CLAIM)
    if platform.deployment_ids and deployment not in platform.deployment_ids:
        raise InvalidToken("the token's deployment_id is not registered for this platform")
    return claims


def _principal(session: Session, platform: LtiPlatform, claims: dict[str, Any]) -> Principal:
    account = session.execute(
        select(Account.id, Account.type, Account.path).where(Account.id == platform.account_id)
    ).first()
    if account is None:  # pragma: no cover - the registration cascades with its account
        raise InvalidToken("the platform's account no longer exists")
    principal = Principal("account", f"lti:{platform.id}", account.id, account.type, account.path)
    custom = claims.get(CUSTOM_CLAIM)
    tenant_id = custom.get(TENANT_PARAMETER) if isinstance(custom, dict) else None
    if tenant_id is None:
        return principal
    return _tenant_principal(session, principal, str(tenant_id))


def _tenant_principal(session: Session, account: Principal, tenant_id: str) -> Principal:
    """The tenant's integration actor, when the registering account may see the tenant."""
    try:
        parsed = uuid.UUID(tenant_id)
    except ValueError as exc:
        raise InvalidToken(f"{TENANT_PARAMETER} must be a tenant id (UUID)") from exc
    actor = session.scalar(
        select(Actor)
        .join(Tenant, Tenant.actor_id == Actor.id)
        .where(Tenant.id == parsed, readable_by(account))
    )
    principal = (
        actor_principal(session, actor.client_id, actor.secret_generation) if actor else None
    )
    if principal is None:
        raise InvalidToken("the token's tenant does not exist or is not the platform account's")
    return principal


def _audiences(aud: Any) -> list[str]:
    if isinstance(aud, str):
        return [aud]
    if isinstance(aud, list):
        return [str(item) for item in aud]
    return []
