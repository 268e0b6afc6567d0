"""HTTP for LTI platform registrations (ext)."""

from typing import Any

from fastapi import APIRouter, Request, Response

from interop.accounts.repository import visible_account_ids
from interop.deps import AccountPrincipal, SessionDep, get_settings
from interop.lti import service
from interop.lti.schemas import LtiPlatformIn, LtiPlatformOut
from interop.openapi import error_responses
from interop.paging import PageDep, paginate
from interop.routing import InteropRoute
from interop.schemas import DataEnvelope, HyphenatedUUID, ListEnvelope

router = APIRouter(tags=["LTI platforms (ext)"], route_class=InteropRoute)


@router.post(
    "/lti/platforms",
    summary="Register an LTI 1.3 platform for your account",
    description=(
        "JWTs the platform signs (its `iss`, an `aud` holding `client_id`, a registered "
        "deployment id) are then accepted as bearer tokens of your account; with the custom "
        "parameter `interop_tenant_id`, as that tenant's. Give exactly one of `jwk`, `pem` "
        "or `jwks_url`."
    ),
    response_model=DataEnvelope[LtiPlatformOut],
    responses=error_responses("lti_platform_exists"),
)
def register_platform(
    body: LtiPlatformIn, session: SessionDep, principal: AccountPrincipal, request: Request
) -> Any:
    issuer = get_settings(request).issuer
    platform = service.register_platform(session, principal.account_id, body, issuer)
    return {"data": LtiPlatformOut.model_validate(platform)}


@router.get(
    "/lti/platforms",
    summary="List the LTI platforms of your accounts",
    response_model=ListEnvelope[LtiPlatformOut],
    responses=error_responses(),
)
def list_platforms(session: SessionDep, principal: AccountPrincipal, page: PageDep) -> Any:
    statement = service.platforms_of(visible_account_ids(principal))
    return paginate(session, statement, page, lambda row: LtiPlatformOut.model_validate(row[0]))


@router.delete(
    "/lti/platforms/{id}",
    summary="Remove an LTI platform registration",
    status_code=204,
    response_class=Response,
    responses=error_responses("not_found"),
)
def delete_platform(id: HyphenatedUUID, session: SessionDep, principal: AccountPrincipal) -> None:
    service.delete_platform(session, visible_account_ids(principal), id)
