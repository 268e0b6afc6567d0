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
from interop.schemas import DataEnvelope, HyphenatedUUID, ListEnvelope

router = APIRouter(tags=["Ingestions"], route_class=InteropRoute)
TenantFilter = Annotated[
    HyphenatedUUID | None, Query(description="Only this tenant's ingestions (account principals)")
]


@router.get(
    "/ingestions",
    summary="List Ingestions",
    description="Newest first.",
    response_model=ListEnvelope[Ingestion],
    responses=error_responses("not_found"),
)
def list_ingestions(
    session: SessionDep, principal: AnyPrincipal, page: PageDep, tenant_id: TenantFilter = None
) -> Any:
    statement = readable_ingestions(principal, tenant_id)
    return paginate(session, statement, page, lambda row: ingestion_out(row[0]))


@router.get(
    "/ingestions/count",
    summary="Count Ingestions",
    description="The number of ingestions List Ingestions would return.",
    response_model=int,
    responses=error_responses("not_found"),
)
def count_ingestions(
    session: SessionDep, principal: AnyPrincipal, tenant_id: TenantFilter = None
) -> int:
    return count(session, readable_ingestions(principal, tenant_id))


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
