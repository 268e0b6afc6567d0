"""HTTP for a tenant's rollovers (served by a later issue: 501 for now)."""

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response

from interop.concurrency import IfMatch
from interop.deps import ActorPrincipal
from interop.openapi import error_responses
from interop.paging import PageDep
from interop.placeholder import not_served
from interop.rollovers.schemas import SORT_FIELDS, Rollover, RolloverIn
from interop.schemas import DataEnvelope, ListEnvelope

router = APIRouter(tags=["Rollovers"])
Sort = Annotated[
    str | None,
    Query(
        description=(
            f"Comma-separated fields of {', '.join(SORT_FIELDS)}; prefix - for descending"
        ),
        examples=["-name"],
    ),
]


@router.get(
    "/tenant/rollovers",
    summary="List Rollovers",
    response_model=ListEnvelope[Rollover],
    responses=error_responses("not_implemented"),
)
def list_rollovers(
    principal: ActorPrincipal, page: PageDep, request: Request, sort: Sort = None
) -> Any:
    not_served(request)


@router.post(
    "/tenant/rollovers",
    summary="Create a rollover for the tenant identified by actor authentication credentials.",
    response_model=DataEnvelope[Rollover],
    responses=error_responses("not_found", "rollover_overlap", "not_implemented"),
)
def create_rollover(principal: ActorPrincipal, body: RolloverIn, request: Request) -> Any:
    not_served(request)


@router.get(
    "/tenant/rollovers/count",
    summary="Count Rollovers",
    response_model=int,
    responses=error_responses("not_implemented"),
)
def count_rollovers(principal: ActorPrincipal, request: Request) -> Any:
    not_served(request)


@router.get(
    "/tenant/rollovers/{id}",
    summary="Get a Rollover",
    response_model=DataEnvelope[Rollover],
    responses=error_responses("not_found", "not_implemented"),
)
def get_rollover(id: uuid.UUID, principal: ActorPrincipal, request: Request) -> Any:
    not_served(request)


@router.put(
    "/tenant/rollovers/{id}",
    summary="Update a rollover for the tenant identified by actor authentication credentials.",
    response_model=DataEnvelope[Rollover],
    responses=error_responses(
        "not_found", "rollover_overlap", "concurrent_modification", "not_implemented"
    ),
)
def put_rollover(
    id: uuid.UUID,
    principal: ActorPrincipal,
    body: RolloverIn,
    request: Request,
    if_match: IfMatch = None,
) -> Any:
    not_served(request)


@router.delete(
    "/tenant/rollovers/{id}",
    summary="Delete a rollover for the tenant identified by actor authentication credentials.",
    status_code=204,
    response_class=Response,
    responses=error_responses(
        "not_found", "rollover_active", "concurrent_modification", "not_implemented"
    ),
)
def delete_rollover(
    id: uuid.UUID, principal: ActorPrincipal, request: Request, if_match: IfMatch = None
) -> None:
    not_served(request)
