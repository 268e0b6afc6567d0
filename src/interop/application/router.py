"""HTTP for the tenant application and its auth workflow."""

from typing import Any

from fastapi import APIRouter, Response

from interop.application import service
from interop.application.schemas import TenantApplication, TenantApplicationUpdate
from interop.concurrency import IfMatch, changed, etag
from interop.deps import AccountPrincipal, ActorPrincipal, SessionDep
from interop.openapi import error_responses
from interop.routing import InteropRoute
from interop.schemas import DataEnvelope, HyphenatedUUID

router = APIRouter(tags=["Tenant Application"], route_class=InteropRoute)


@router.get(
    "/tenant/application",
    summary="Get Tenant Application",
    description=(
        "The application's authentication parameters (from the integration blueprint) and "
        "configuration options. Drivers should cache it in memory."
    ),
    response_model=DataEnvelope[TenantApplication],
    responses=error_responses("not_found"),
)
def get_application(session: SessionDep, principal: ActorPrincipal, response: Response) -> Any:
    application = service.own_application(session, principal)
    response.headers["ETag"] = etag(application.version)
    return {"data": TenantApplication.of(application)}


@router.patch(
    "/tenant/application",
    summary="Update Tenant Application",
    description=(
        "During the auth setup workflow only, while `auth_state_pending` is `updating`: set "
        "`auth_message`, `auth_attributes_pending`, and `auth_state_pending` to `confirmed` "
        "or `error`."
    ),
    status_code=204,
    response_class=Response,
    responses=error_responses(
        "not_found", "read_only_field", "auth_not_updating", "concurrent_modification"
    ),
)
def update_application(
    body: TenantApplicationUpdate,
    session: SessionDep,
    principal: ActorPrincipal,
    if_match: IfMatch = None,
) -> Response:
    version = service.update_application(session, principal, body, if_match)
    return changed(version)


@router.post(
    "/tenants/{id}/application/auth-session",
    summary="(ext) Open an auth session for a tenant's application",
    description="Sets `auth_state_pending` to `updating` with a new `auth_session_id_pending`.",
    response_model=DataEnvelope[TenantApplication],
    responses=error_responses("not_found"),
)
def open_auth_session(
    id: HyphenatedUUID, session: SessionDep, principal: AccountPrincipal, response: Response
) -> Any:
    application = service.open_auth_session(session, principal, id)
    response.headers["ETag"] = etag(application.version)
    return {"data": TenantApplication.of(application)}
