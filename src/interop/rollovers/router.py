"""HTTP for a tenant's rollovers."""

from typing import Annotated, Any

from fastapi import APIRouter, Query, Response

from interop.concurrency import IfMatch, etag
from interop.deps import ActorPrincipal, SessionDep
from interop.openapi import error_responses
from interop.paging import PageDep, count, paginate
from interop.rollovers import service
from interop.rollovers.schemas import SORT_FIELDS, Rollover, RolloverIn
from interop.routing import InteropRoute
from interop.schemas import DataEnvelope, HyphenatedUUID, ListEnvelope

router = APIRouter(tags=["Rollovers"], route_class=InteropRoute)
_SORT_KEY = rf"\s*-?({'|'.join(SORT_FIELDS)})\s*"
Sort = Annotated[
    str | None,
    Query(
        pattern=rf"^{_SORT_KEY}(,{_SORT_KEY})*$",
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
    responses=error_responses("not_found"),
)
def list_rollovers(
    session: SessionDep, principal: ActorPrincipal, page: PageDep, sort: Sort = None
) -> Any:
    statement = service.tenant_rollovers(principal, sort)
    return paginate(session, statement, page, lambda row: Rollover.of(row[0]))


@router.post(
    "/tenant/rollovers",
    summary="Create a rollover for the tenant identified by actor authentication credentials.",
    response_model=DataEnvelope[Rollover],
    responses=error_responses("not_found", "rollover_overlap"),
)
def create_rollover(
    body: RolloverIn, session: SessionDep, principal: ActorPrincipal, response: Response
) -> Any:
    rollover = service.create_rollover(session, principal, body)
    response.headers["ETag"] = etag(rollover.version)
    return {"data": Rollover.of(rollover)}


@router.get(
    "/tenant/rollovers/count",
    summary="Count Rollovers",
    response_model=int,
    responses=error_responses("not_found"),
)
def count_rollovers(session: SessionDep, principal: ActorPrincipal) -> int:
    return count(session, service.tenant_rollovers(principal))


@router.get(
    "/tenant/rollovers/{id}",
    summary="Get a Rollover",
    response_model=DataEnvelope[Rollover],
    responses=error_responses("not_found"),
)
def get_rollover(
    id: HyphenatedUUID, session: SessionDep, principal: ActorPrincipal, response: Response
) -> Any:
    rollover = service.get_rollover(session, principal, id)
    response.headers["ETag"] = etag(rollover.version)
    return {"data": Rollover.of(rollover)}


@router.put(
    "/tenant/rollovers/{id}",
    summary="Update a rollover for the tenant identified by actor authentication credentials.",
    response_model=DataEnvelope[Rollover],
    responses=error_responses(
        "not_found", "read_only_field", "rollover_overlap", "concurrent_modification"
    ),
)
def replace_rollover(
    id: HyphenatedUUID,
    body: RolloverIn,
    session: SessionDep,
    principal: ActorPrincipal,
    response: Response,
    if_match: IfMatch = None,
) -> Any:
    rollover = service.replace_rollover(session, principal, id, body, if_match)
    response.headers["ETag"] = etag(rollover.version)
    return {"data": Rollover.of(rollover)}


@router.delete(
    "/tenant/rollovers/{id}",
    summary="Delete a rollover for the tenant identified by actor authentication credentials.",
    status_code=204,
    response_class=Response,
    responses=error_responses("not_found", "rollover_active", "concurrent_modification"),
)
def delete_rollover(
    id: HyphenatedUUID, session: SessionDep, principal: ActorPrincipal, if_match: IfMatch = None
) -> None:
    service.delete_rollover(session, principal, id, if_match)
