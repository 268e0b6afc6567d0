"""HTTP for a tenant's scoping schools and courses (served by a later issue: 501 for now)."""

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response

from interop.concurrency import IfMatch
from interop.deps import ActorPrincipal
from interop.openapi import error_responses
from interop.paging import PageDep
from interop.placeholder import not_served
from interop.schemas import DataEnvelope, ListEnvelope
from interop.scoping.schemas import (
    ScopingCourse,
    ScopingCourseIn,
    ScopingCoursesIn,
    ScopingSchool,
    ScopingSchoolIn,
    ScopingSchoolsIn,
)

router = APIRouter(tags=["Scoping"])
Replace = Annotated[
    bool,
    Query(description="true to replace existing entries, false to append to them"),
]
NOT_SERVED = ("not_implemented",)


@router.get(
    "/tenant/scoping/schools",
    summary="List Scoping Schools",
    response_model=ListEnvelope[ScopingSchool],
    responses=error_responses(*NOT_SERVED),
)
def list_schools(principal: ActorPrincipal, page: PageDep, request: Request) -> Any:
    not_served(request)


@router.post(
    "/tenant/scoping/schools",
    summary="Create Scoping Schools",
    response_model=ListEnvelope[ScopingSchool],
    responses=error_responses("duplicate_scoping_entry", *NOT_SERVED),
)
def create_schools(
    principal: ActorPrincipal, body: ScopingSchoolsIn, request: Request, replace: Replace = True
) -> Any:
    not_served(request)


@router.delete(
    "/tenant/scoping/schools",
    summary="Delete Scoping Schools",
    status_code=204,
    response_class=Response,
    responses=error_responses(*NOT_SERVED),
)
def delete_schools(principal: ActorPrincipal, request: Request) -> None:
    not_served(request)


@router.get(
    "/tenant/scoping/schools/{id}",
    summary="Find Scoping School",
    response_model=DataEnvelope[ScopingSchool],
    responses=error_responses("not_found", *NOT_SERVED),
)
def get_school(id: uuid.UUID, principal: ActorPrincipal, request: Request) -> Any:
    not_served(request)


@router.put(
    "/tenant/scoping/schools/{id}",
    summary="Update Scoping School",
    response_model=DataEnvelope[ScopingSchool],
    responses=error_responses(
        "not_found", "duplicate_scoping_entry", "concurrent_modification", *NOT_SERVED
    ),
)
def put_school(
    id: uuid.UUID,
    principal: ActorPrincipal,
    body: ScopingSchoolIn,
    request: Request,
    if_match: IfMatch = None,
) -> Any:
    not_served(request)


@router.delete(
    "/tenant/scoping/schools/{id}",
    summary="Delete Scoping School",
    status_code=204,
    response_class=Response,
    responses=error_responses("not_found", "concurrent_modification", *NOT_SERVED),
)
def delete_school(
    id: uuid.UUID, principal: ActorPrincipal, request: Request, if_match: IfMatch = None
) -> None:
    not_served(request)


@router.get(
    "/tenant/scoping/courses",
    summary="List Scoping Courses",
    response_model=ListEnvelope[ScopingCourse],
    responses=error_responses(*NOT_SERVED),
)
def list_courses(principal: ActorPrincipal, page: PageDep, request: Request) -> Any:
    not_served(request)


@router.post(
    "/tenant/scoping/courses",
    summary="Create Scoping Courses",
    response_model=ListEnvelope[ScopingCourse],
    responses=error_responses("duplicate_scoping_entry", *NOT_SERVED),
)
def create_courses(
    principal: ActorPrincipal, body: ScopingCoursesIn, request: Request, replace: Replace = True
) -> Any:
    not_served(request)


@router.delete(
    "/tenant/scoping/courses",
    summary="Delete Scoping Courses",
    status_code=204,
    response_class=Response,
    responses=error_responses(*NOT_SERVED),
)
def delete_courses(principal: ActorPrincipal, request: Request) -> None:
    not_served(request)


@router.get(
    "/tenant/scoping/courses/{id}",
    summary="Find Scoping Course",
    response_model=DataEnvelope[ScopingCourse],
    responses=error_responses("not_found", *NOT_SERVED),
)
def get_course(id: uuid.UUID, principal: ActorPrincipal, request: Request) -> Any:
    not_served(request)


@router.put(
    "/tenant/scoping/courses/{id}",
    summary="Update Scoping Course",
    response_model=DataEnvelope[ScopingCourse],
    responses=error_responses(
        "not_found", "duplicate_scoping_entry", "concurrent_modification", *NOT_SERVED
    ),
)
def put_course(
    id: uuid.UUID,
    principal: ActorPrincipal,
    body: ScopingCourseIn,
    request: Request,
    if_match: IfMatch = None,
) -> Any:
    not_served(request)


@router.delete(
    "/tenant/scoping/courses/{id}",
    summary="Delete Scoping Course",
    status_code=204,
    response_class=Response,
    responses=error_responses("not_found", "concurrent_modification", *NOT_SERVED),
)
def delete_course(
    id: uuid.UUID, principal: ActorPrincipal, request: Request, if_match: IfMatch = None
) -> None:
    not_served(request)
