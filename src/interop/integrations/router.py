"""HTTP for integrations and their versions."""

from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Query, Request, Response

from interop.concurrency import IfMatch, changed, etag
from interop.deps import AccountPrincipal, SessionDep, get_settings
from interop.errors import InteropError, InvalidRequest
from interop.integrations import service
from interop.integrations.models import Integration
from interop.integrations.repository import (
    current_versions,
    get_readable_integration,
    get_version,
    readable_integrations,
    versions_newest_first,
)
from interop.integrations.schemas import (
    IntegrationCreate,
    IntegrationOut,
    IntegrationUpdate,
    IntegrationVersionOut,
    IntegrationVersionUpdate,
)
from interop.openapi import error_responses
from interop.paging import PageDep, fetch_page, page_envelope, paginate
from interop.routing import InteropRoute
from interop.schemas import DataEnvelope, HyphenatedUUID, ListEnvelope

router = APIRouter(tags=["Integrations"], route_class=InteropRoute)

BLUEPRINT_TYPES = ("application/xml", "text/xml", "text/plain", "application/json")
BLUEPRINT_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "description": "The blueprint XML document (or the same document as a JSON string).",
        "content": {
            "application/xml": {"schema": {"type": "string"}},
            "text/xml": {"schema": {"type": "string"}},
            "text/plain": {"schema": {"type": "string"}},
            "application/json": {"schema": {"type": "string"}},
        },
    }
}


async def blueprint_document(request: Request) -> bytes:
    """The raw blueprint: XML as sent, or the XML inside a JSON string."""
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type not in BLUEPRINT_TYPES:
        raise InteropError(
            "unsupported_media_type",
            f"send the blueprint as one of {', '.join(BLUEPRINT_TYPES)}, not {media_type!r}",
        )
    body = await request.body()
    if media_type != "application/json":
        return body
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise InvalidRequest("the body is not valid JSON") from exc
    if not isinstance(document, str):
        raise InvalidRequest("a JSON body must be one string holding the blueprint XML")
    return document.encode("utf-8")


BlueprintDocument = Annotated[bytes, Depends(blueprint_document)]


def _integration_out(session: Any, integration: Integration) -> IntegrationOut:
    return IntegrationOut.of(
        integration, current_versions(session, [integration.id]).get(integration.id)
    )


@router.get(
    "/integrations",
    summary="List Integrations",
    response_model=ListEnvelope[IntegrationOut],
    responses=error_responses(),
)
def list_integrations(
    session: SessionDep,
    principal: AccountPrincipal,
    page: PageDep,
    name: Annotated[str | None, Query(description="Find an Integration by name")] = None,
) -> Any:
    statement = readable_integrations(principal)
    if name is not None:
        statement = statement.where(Integration.name == name)
    rows, has_next = fetch_page(session, statement, page)
    versions = current_versions(session, (row[0].id for row in rows))
    items = [IntegrationOut.of(row[0], versions.get(row[0].id)) for row in rows]
    return page_envelope(items, page, has_next)


@router.post(
    "/integrations",
    summary="Create Integration",
    response_model=DataEnvelope[IntegrationOut],
    responses=error_responses("integration_name_taken"),
)
def create_integration(
    body: IntegrationCreate, session: SessionDep, principal: AccountPrincipal, response: Response
) -> Any:
    integration = service.create_integration(session, principal, body)
    response.headers["ETag"] = etag(integration.revision)
    return {"data": IntegrationOut.of(integration, None)}


@router.get(
    "/integrations/{id}",
    summary="Find an Integration",
    response_model=DataEnvelope[IntegrationOut],
    responses=error_responses("not_found"),
)
def get_integration(
    id: HyphenatedUUID, session: SessionDep, principal: AccountPrincipal, response: Response
) -> Any:
    integration = get_readable_integration(session, principal, id)
    response.headers["ETag"] = etag(integration.revision)
    return {"data": _integration_out(session, integration)}


@router.patch(
    "/integrations/{id}",
    summary="Update Integration",
    status_code=204,
    response_class=Response,
    responses=error_responses("not_found", "read_only_field", "concurrent_modification"),
)
def update_integration(
    id: HyphenatedUUID,
    body: IntegrationUpdate,
    session: SessionDep,
    principal: AccountPrincipal,
    if_match: IfMatch = None,
) -> Response:
    revision = service.update_integration(session, principal, id, body, if_match)
    return changed(revision)


@router.delete(
    "/integrations/{id}",
    summary="Delete an Integration",
    status_code=204,
    response_class=Response,
    responses=error_responses("not_found", "integration_in_use", "concurrent_modification"),
)
def delete_integration(
    id: HyphenatedUUID, session: SessionDep, principal: AccountPrincipal, if_match: IfMatch = None
) -> None:
    service.delete_integration(session, principal, id, if_match)


@router.get(
    "/integrations/{id}/versions",
    summary="List Integration Versions",
    response_model=ListEnvelope[IntegrationVersionOut],
    responses=error_responses("not_found"),
)
def list_versions(
    id: HyphenatedUUID, session: SessionDep, principal: AccountPrincipal, page: PageDep
) -> Any:
    integration = get_readable_integration(session, principal, id)
    return paginate(
        session,
        versions_newest_first(integration.id),
        page,
        lambda row: IntegrationVersionOut.of(row[0]),
    )


@router.post(
    "/integrations/{id}/versions",
    summary="Create Integration Version",
    response_model=DataEnvelope[IntegrationVersionOut],
    responses=error_responses("not_found", "invalid_blueprint", "version_exists"),
    openapi_extra=BLUEPRINT_BODY,
)
def create_version(
    id: HyphenatedUUID,
    document: BlueprintDocument,
    session: SessionDep,
    principal: AccountPrincipal,
    response: Response,
    request: Request,
) -> Any:
    max_bytes = get_settings(request).max_blueprint_bytes
    version = service.create_version(session, principal, id, document, max_bytes)
    response.headers["ETag"] = etag(version.revision)
    return {"data": IntegrationVersionOut.of(version)}


@router.patch(
    "/integrations/{id}/versions/{version}",
    summary="Update Integration Version",
    status_code=204,
    response_class=Response,
    responses=error_responses("not_found", "read_only_field", "concurrent_modification"),
)
def update_version(
    id: HyphenatedUUID,
    version: str,
    body: IntegrationVersionUpdate,
    session: SessionDep,
    principal: AccountPrincipal,
    if_match: IfMatch = None,
) -> Response:
    revision = service.update_version(session, principal, id, version, body, if_match)
    return changed(revision)


@router.delete(
    "/integrations/{id}/versions/{version}",
    summary="Delete Integration Version",
    status_code=204,
    response_class=Response,
    responses=error_responses("not_found", "version_in_use", "concurrent_modification"),
)
def delete_version(
    id: HyphenatedUUID,
    version: str,
    session: SessionDep,
    principal: AccountPrincipal,
    if_match: IfMatch = None,
) -> None:
    service.delete_version(session, principal, id, version, if_match)


@router.get(
    "/integrations/{id}/versions/{version}",
    summary="(ext) Find an Integration Version",
    response_model=DataEnvelope[IntegrationVersionOut],
    responses=error_responses("not_found"),
)
def get_integration_version(
    id: HyphenatedUUID,
    version: str,
    session: SessionDep,
    principal: AccountPrincipal,
    response: Response,
) -> Any:
    integration = get_readable_integration(session, principal, id)
    found = get_version(session, integration.id, version)
    response.headers["ETag"] = etag(found.revision)
    return {"data": IntegrationVersionOut.of(found)}


@router.put(
    "/integrations/{id}/versions/{version}/blueprint",
    summary="Update Integration Blueprint",
    response_model=DataEnvelope[IntegrationVersionOut],
    responses=error_responses(
        "not_found", "invalid_blueprint", "version_mismatch", "concurrent_modification"
    ),
    openapi_extra=BLUEPRINT_BODY,
)
def replace_blueprint(
    id: HyphenatedUUID,
    version: str,
    document: BlueprintDocument,
    session: SessionDep,
    principal: AccountPrincipal,
    response: Response,
    request: Request,
    if_match: IfMatch = None,
) -> Any:
    max_bytes = get_settings(request).max_blueprint_bytes
    updated = service.replace_blueprint(
        session, principal, id, version, document, max_bytes, if_match
    )
    response.headers["ETag"] = etag(updated.revision)
    return {"data": IntegrationVersionOut.of(updated)}
