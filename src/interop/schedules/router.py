"""HTTP for a tenant's schedules."""

from typing import Annotated, Any

from fastapi import APIRouter, Body, Response

from interop.concurrency import IfMatch, changed, etag
from interop.db import utcnow
from interop.deps import ActorPrincipal, SessionDep
from interop.openapi import error_responses
from interop.paging import PageDep, count, paginate_prebuilt
from interop.routing import InteropRoute
from interop.schedules import service
from interop.schedules.schemas import Schedule, ScheduleCreate, ScheduleUpdate
from interop.schemas import DataEnvelope, HyphenatedUUID, ListEnvelope
from interop.tenants.repository import own_tenant_id

router = APIRouter(tags=["Schedules"], route_class=InteropRoute)


@router.get(
    "/tenant/schedules",
    summary="List Schedules",
    response_model=ListEnvelope[Schedule],
    responses=error_responses("not_found"),
)
def list_schedules(session: SessionDep, principal: ActorPrincipal, page: PageDep) -> Any:
    now = utcnow()
    return paginate_prebuilt(
        session,
        service.TENANT_SCHEDULES_PAGE,
        page,
        lambda row: Schedule.of(row, now),
        tenant_id=own_tenant_id(principal),
    )


@router.post(
    "/tenant/schedules",
    summary="Create a Schedule",
    description="Only `hour` (UTC) is expected; only collection schedules can be created.",
    response_model=DataEnvelope[Schedule],
    responses=error_responses("not_found", "schedule_overlap"),
)
def create_schedule(
    body: ScheduleCreate, session: SessionDep, principal: ActorPrincipal, response: Response
) -> Any:
    schedule = service.create_schedule(session, principal, body)
    response.headers["ETag"] = etag(schedule.version)
    return {"data": Schedule.of(schedule, utcnow())}


@router.get(
    "/tenant/schedules/count",
    summary="Count Schedules",
    response_model=int,
    responses=error_responses("not_found"),
)
def count_schedules(session: SessionDep, principal: ActorPrincipal) -> int:
    return count(session, service.tenant_schedules(principal))


@router.get(
    "/tenant/schedules/{id}",
    summary="Find a Schedule by id",
    response_model=DataEnvelope[Schedule],
    responses=error_responses("not_found"),
)
def get_schedule(
    id: HyphenatedUUID, session: SessionDep, principal: ActorPrincipal, response: Response
) -> Any:
    schedule = service.get_schedule(session, principal, id)
    response.headers["ETag"] = etag(schedule.version)
    return {"data": Schedule.of(schedule, utcnow())}


@router.patch(
    "/tenant/schedules/{id}",
    summary="Update Schedule",
    description="Only `enabled` may change.",
    status_code=204,
    response_class=Response,
    responses=error_responses("not_found", "read_only_field", "concurrent_modification"),
)
def update_schedule(
    id: HyphenatedUUID,
    body: ScheduleUpdate,
    session: SessionDep,
    principal: ActorPrincipal,
    if_match: IfMatch = None,
) -> Response:
    version = service.update_schedule(session, principal, id, body, if_match)
    return changed(version)


@router.delete(
    "/tenant/schedules/{id}",
    summary="Delete Schedule",
    status_code=204,
    response_class=Response,
    responses=error_responses("not_found", "concurrent_modification"),
)
def delete_schedule(
    id: HyphenatedUUID, session: SessionDep, principal: ActorPrincipal, if_match: IfMatch = None
) -> None:
    service.delete_schedule(session, principal, id, if_match)


@router.post(
    "/tenant/schedules/{id}/run",
    summary="Run a schedule",
    description=(
        "Queues a collection ingestion (state `scheduled`, trigger `on_demand`). Only enabled "
        "collection schedules, and only while the tenant has no pending ingestion."
    ),
    status_code=204,
    response_class=Response,
    responses=error_responses("not_found", "not_runnable", "schedule_paused", "ingestion_pending"),
)
def run_schedule(
    id: HyphenatedUUID,
    session: SessionDep,
    principal: ActorPrincipal,
    body: Annotated[dict[str, Any] | None, Body()] = None,
) -> None:
    service.run_schedule(session, principal, id)
