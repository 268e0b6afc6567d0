"""HTTP for the tenant application's auth workflow (served by a later issue: 501 for now)."""

import uuid
from typing import Any

from fastapi import APIRouter, Request, Response

from interop.application.schemas import TenantApplication, TenantApplicationUpdate
from interop.concurrency import IfMatch
from interop.deps import AccountPrincipal, ActorPrincipal
from interop.openapi import error_responses
from interop.placeholder import not_served
from interop.schemas import DataEnvelope

router = APIRouter(tags=["Tenant Application"])


@router.get(
    "/tenant/application",
    summary="Get Tenant Application",
    response_model=DataEnvelope[TenantApplication],
    responses=error_responses("not_found", "not_implemented"),
)
def get_application(principal: ActorPrincipal, request: Request) -> Any:
    not_served(request)


@router.patch(
    "/tenant/application",
    summary="Update Tenant Application",
    status_code=204,
    response_class=Response,
    responses=error_responses(
        "not_found",
        "read_only_field",
        "auth_not_updating",
        "concurrent_modification",
        "not_implemented",
    ),
)
def update_application(
    principal: ActorPrincipal,
    body: TenantApplicationUpdate,
    request: Request,
    if_match: IfMatch = None,
) -> None:
    not_served(request)


@router.post(
    "/tenants/{id}/application/auth-session",
    summary="(ext) Open an auth session for a tenant's application",
    response_model=DataEnvelope[TenantApplication],
    responses=error_responses("not_found", "not_implemented"),
)
def open_auth_session(id: uuid.UUID, principal: AccountPrincipal, request: Request) -> Any:
    not_served(request)
