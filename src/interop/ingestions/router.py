"""HTTP for ingestions, for actors and accounts (served by a later issue: 501 for now)."""

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request

from interop.deps import AnyPrincipal
from interop.ingestions.schemas import Ingestion
from interop.openapi import error_responses
from interop.paging import PageDep
from interop.placeholder import not_served
from interop.schemas import DataEnvelope, ListEnvelope

router = APIRouter(tags=["Ingestions"])
TenantFilter = Annotated[
    uuid.UUID | None, Query(description="Only this tenant's ingestions (account principals)")
]


@router.get(
    "/ingestions",
    summary="List Ingestions",
    description="Newest first.",
    response_model=ListEnvelope[Ingestion],
    responses=error_responses("not_implemented"),
)
def list_ingestions(
    principal: AnyPrincipal, page: PageDep, request: Request, tenant_id: TenantFilter = None
) -> Any:
    not_served(request)


@router.get(
    "/ingestions/count",
    summary="Count Ingestions",
    response_model=int,
    responses=error_responses("not_implemented"),
)
def count_ingestions(
    principal: AnyPrincipal, request: Request, tenant_id: TenantFilter = None
) -> Any:
    not_served(request)


@router.get(
    "/ingestions/{id}",
    summary="Find an Ingestion by id",
    response_model=DataEnvelope[Ingestion],
    responses=error_responses("not_found", "not_implemented"),
)
def get_ingestion(id: uuid.UUID, principal: AnyPrincipal, request: Request) -> Any:
    not_served(request)
