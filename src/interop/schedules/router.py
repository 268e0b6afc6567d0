"""HTTP for a tenant's schedules (served by a later issue: 501 for now)."""

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Body, Request, Response

from interop.concurrency import IfMatch
from interop.deps import ActorPrincipal
from interop.openapi import error_responses
from interop.paging import PageDep
from interop.placeholder import not_served
from interop.schedules.schemas import Schedule, ScheduleCreate, ScheduleUpdate
from interop.schemas import DataEnvelope, ListEnvelope

router = APIRouter(tags=["Schedules"])


@router.get(
    "/tenant/schedules",
    summary="List Schedules",
    response_model=ListEnvelope[Schedule],
    responses=error_responses("not_implemented"),
)
def list_schedules(principal: ActorPrincipal, page: PageDep, request: Request) -> Any:
    not_served(request)


@router.post(
    "/tenant/schedules",
    summary="Create a Schedule",
    description="Only `hour` (UTC) is expected; only collection schedules can be created.",
    response_model=DataEnvelope[Schedule],
    responses=error_responses("schedule_overlap", "not_implemented"),
)
def create_schedule(principal: ActorPrincipal, body: ScheduleCreate, request: Request) -> Any:
    not_served(request)


@router.get(
    "/tenant/schedules/count",
    summary="Count Schedules",
    response_model=int,
    responses=error_responses("not_implemented"),
)
def count_schedules(principal: ActorPrincipal, request: Request) -> Any:
    not_served(request)


@router.get(
    "/tenant/schedules/{id}",
    summary="Find a Schedule by id",
    response_model=DataEnvelope[Schedule],
    responses=error_responses("not_found", "not_implemented"),
)
def get_schedule(id: uuid.UUID, principal: ActorPrincipal, request: Request) -> Any:
    not_served(request)


@router.patch(
    "/tenant/schedules/{id}",
    summary="Update Schedule",
    description="Only `enabled` may change.",
    status_code=204,
    response_class=Response,
    responses=error_responses(
        "not_found", "read_only_field", "concurrent_modification", "not_implemented"
    ),
)
def update_schedule(
    id: uuid.UUID,
    principal: ActorPrincipal,
    body: ScheduleUpdate,
    request: Request,
    if_match: IfMatch = None,
) -> None:
    not_served(request)


@router.delete(
    "/tenant/schedules/{id}",
    summary="Delete Schedule",
    status_code=204,
    response_class=Response,
    responses=error_responses("not_found", "concurrent_modification", "not_implemented"),
)
def delete_schedule(
    id: uuid.UUID, principal: ActorPrincipal, request: Request, if_match: IfMatch = None
) -> None:
    not_served(request)


@router.post(
    "/tenant/schedules/{id}/run",
    summary="Run a schedule",
    description="Only unpaused collection schedules, and only without a pending ingestion.",
    status_code=204,
    response_class=Response,
    responses=error_responses(
        "not_found", "not_runnable", "schedule_paused", "ingestion_pending", "not_implemented"
    ),
)
def run_schedule(
    id: uuid.UUID,
    principal: ActorPrincipal,
    request: Request,
    body: Annotated[dict[str, Any] | None, Body()] = None,
) -> None:
    not_served(request)
