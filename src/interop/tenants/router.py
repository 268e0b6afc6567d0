"""HTTP for tenants: the account-level list and lookup, and an actor's own tenant."""

from typing import Annotated, Any

from fastapi import APIRouter, Query, Response

from interop.concurrency import etag
from interop.deps import AccountPrincipal, ActorPrincipal, SecretBoxDep, SessionDep
from interop.openapi import error_responses
from interop.paging import PageDep, paginate_by_key
from interop.routing import InteropRoute
from interop.schemas import DataEnvelope, HyphenatedUUID, ListEnvelope, UUIDFilter
from interop.tenants import service
from interop.tenants.repository import TENANT_INFO_PAGE, get_tenant_info_row, own_tenant_id
from interop.tenants.schemas import TenantInfo
from interop.tenants.state_schemas import TenantState

router = APIRouter(tags=["Tenants"], route_class=InteropRoute)


@router.get(
    "/tenants",
    summary="List Interop Tenants",
    description="TenantInfo of your licensed and authorized Integration tenants.",
    response_model=ListEnvelope[TenantInfo],
    responses=error_responses(),
)
def list_tenants(
    session: SessionDep,
    principal: AccountPrincipal,
    page: PageDep,
    box: SecretBoxDep,
    accounts: Annotated[
        UUIDFilter,
        Query(description="Only tenants of these Accounts (UUIDs; repeat or comma-separate)"),
    ] = [],  # noqa: B006 - FastAPI copies defaults per request
    integration: Annotated[
        list[str],
        Query(description="Only tenants of these Integrations (names; repeat or comma-separate)"),
    ] = [],  # noqa: B006
) -> Any:
    ids = service.filtered_tenant_ids(principal, accounts, integration)
    return paginate_by_key(
        session, ids, TENANT_INFO_PAGE, page, lambda row: service.tenant_info(row, box)
    )


@router.get(
    "/tenants/{id}",
    summary="Find Interop Tenant",
    response_model=DataEnvelope[TenantInfo],
    responses=error_responses("not_found"),
)
def get_tenant(
    id: HyphenatedUUID,
    session: SessionDep,
    principal: AccountPrincipal,
    box: SecretBoxDep,
    response: Response,
) -> Any:
    row = get_tenant_info_row(session, principal, id)
    info = service.tenant_info(row, box)
    response.headers["ETag"] = etag(info.version)
    return {"data": info}


@router.get(
    "/tenant",
    summary="Find Interop Tenant by actor authentication credentials",
    response_model=DataEnvelope[TenantInfo],
    responses=error_responses("not_found"),
)
def get_own_tenant(
    session: SessionDep, principal: ActorPrincipal, box: SecretBoxDep, response: Response
) -> Any:
    row = get_tenant_info_row(session, principal, own_tenant_id(principal))
    info = service.tenant_info(row, box)
    response.headers["ETag"] = etag(info.version)
    return {"data": info}


@router.get(
    "/tenant/state",
    summary="Get tenant state by actor authentication credentials",
    response_model=DataEnvelope[TenantState],
    responses=error_responses("not_found"),
)
def get_own_tenant_state(session: SessionDep, principal: ActorPrincipal) -> Any:
    return {"data": service.tenant_state(session, own_tenant_id(principal))}
