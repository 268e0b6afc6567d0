"""HTTP for actors: the account-wide list and the (ext) install/uninstall/rotate of a cloud."""

from typing import Annotated, Any

from fastapi import APIRouter, Body, Query, Request, Response

from interop.actors import service
from interop.actors.schemas import ActorInstall, ActorOut
from interop.clouds.repository import get_readable_cloud
from interop.concurrency import IfMatch, etag
from interop.deps import AccountPrincipal, SecretBoxDep, SessionDep, get_settings
from interop.openapi import error_responses
from interop.paging import PageDep
from interop.routing import InteropRoute
from interop.schemas import DataEnvelope, HyphenatedUUID, ListEnvelope

router = APIRouter(tags=["Actors"], route_class=InteropRoute)


@router.get(
    "/actors",
    summary="List Actors",
    description="Actors installed in the Interop Clouds of accounts visible to you; no secrets.",
    response_model=ListEnvelope[ActorOut],
    responses=error_responses(),
)
def list_actors(session: SessionDep, principal: AccountPrincipal, page: PageDep) -> Any:
    return service.page_of_actors(session, principal, page)


@router.get(
    "/clouds/{id}/actors",
    summary="List all Actors in an Interop Cloud",
    response_model=ListEnvelope[ActorOut],
    responses=error_responses("not_found"),
)
def list_cloud_actors(
    id: HyphenatedUUID,
    session: SessionDep,
    principal: AccountPrincipal,
    page: PageDep,
    box: SecretBoxDep,
    include_credentials: Annotated[bool, Query(description="Include actor credentials")] = False,
) -> Any:
    get_readable_cloud(session, principal, id)
    return service.page_of_actors(
        session, principal, page, cloud_id=id, box=box if include_credentials else None
    )


@router.post(
    "/clouds/{id}/actors",
    summary="(ext) Install an Actor",
    description=(
        "Install an integration (creates its tenant, credentials and license) or a connector "
        "(a data source) in the cloud. The response carries the new client secret."
    ),
    response_model=DataEnvelope[ActorOut],
    responses=error_responses("not_found", "integration_already_installed"),
)
def install_actor(
    id: HyphenatedUUID,
    principal: AccountPrincipal,
    body: Annotated[ActorInstall, Body()],
    session: SessionDep,
    box: SecretBoxDep,
    response: Response,
    request: Request,
) -> Any:
    roots = get_settings(request).source_roots
    actor = service.install_actor(session, box, principal, id, body, roots)
    response.headers["ETag"] = etag(actor.version)
    return {"data": actor}


@router.delete(
    "/clouds/{id}/actors/{actor_id}",
    summary="(ext) Uninstall an Actor",
    status_code=204,
    response_class=Response,
    responses=error_responses("not_found", "concurrent_modification"),
)
def uninstall_actor(
    id: HyphenatedUUID,
    actor_id: HyphenatedUUID,
    session: SessionDep,
    principal: AccountPrincipal,
    if_match: IfMatch = None,
) -> None:
    service.uninstall_actor(session, principal, id, actor_id, if_match)


@router.post(
    "/clouds/{id}/actors/{actor_id}/credentials",
    summary="(ext) Rotate an Actor's secret",
    description="Issues a new client secret; the old one and its tokens stop working at once.",
    response_model=DataEnvelope[ActorOut],
    responses=error_responses("not_found", "concurrent_modification"),
)
def rotate_credentials(
    id: HyphenatedUUID,
    actor_id: HyphenatedUUID,
    session: SessionDep,
    principal: AccountPrincipal,
    box: SecretBoxDep,
    response: Response,
    if_match: IfMatch = None,
) -> Any:
    actor = service.rotate_credentials(session, box, principal, id, actor_id, if_match)
    response.headers["ETag"] = etag(actor.version)
    return {"data": actor}
