"""HTTP for ingestions, for actors (their tenant's) and accounts (visible tenants')."""

from typing import Annotated, Any

from fastapi import APIRouter, Query, Response

from interop.concurrency import etag
from interop.deps import AnyPrincipal, SessionDep
from interop.ingestions.repository import get_readable_ingestion, readable_ingestions
from interop.ingestions.schemas import Ingestion, ingestion_out
from interop.openapi import error_responses
from interop.paging import PageDep, count, paginate
from interop.routing import InteropRoute
from interop.schemas import DataEnvelope, HyphenatedUUID, ListEnvelope, UUIDFilter, uuid_filter

router = APIRouter(tags=["Ingestions"], route_class=InteropRoute)
# Repeatable and comma-separated, as the filters of List Interop Tenants: repeated, a single
# value kept only the last while the paging links repeated every one.
TenantFilter = Annotated[
    UUIDFilter,
    Query(
        description="Only these tenants' ingestions (UUIDs; repeat or comma-separate). "
        "An actor's can only narrow to its own tenant."
    ),
]


@router.get(
    "/ingestions",
    summary="List Ingestions",
    description="Newest first.",
    response_model=ListEnvelope[Ingestion],
    responses=error_responses("not_found"),
)
def list_ingestions(
    session: SessionDep,
    principal: AnyPrincipal,
    page: PageDep,
    tenant_id: TenantFilter = [],  # noqa: B006 - FastAPI copies defaults per request
) -> Any:
    statement = readable_ingestions(principal, uuid_filter(tenant_id, "tenant_id"))
    return paginate(session, statement, page, lambda row: ingestion_out(row[0]))


@router.get(
    "/ingestions/count",
    summary="Count Ingestions",
    description="The number of ingestions List Ingestions would return.",
    response_model=int,
    responses=error_responses("not_found"),
)
def count_ingestions(
    session: SessionDep,
    principal: AnyPrincipal,
    tenant_id: TenantFilter = [],  # noqa: B006
) -> int:
    return count(session, readable_ingestions(principal, uuid_filter(tenant_id, "tenant_id")))


@router.get(
    "/ingestions/{id}",
    summary="Find an Ingestion by id",
    response_model=DataEnvelope[Ingestion],
    responses=error_responses("not_found"),
)
def get_ingestion(
    id: HyphenatedUUID, session: SessionDep, principal: AnyPrincipal, response: Response
) -> Any:
    ingestion = get_readable_ingestion(session, principal, id)
    response.headers["ETag"] = etag(ingestion.version)
    return {"data": ingestion_out(ingestion)}
