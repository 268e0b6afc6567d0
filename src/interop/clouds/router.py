"""HTTP for clouds: parse, call the service, shape the response."""

from typing import Annotated, Any

from fastapi import APIRouter, Query, Response

from interop.clouds import service
from interop.clouds.repository import get_readable_cloud, readable_clouds
from interop.clouds.schemas import INT32_MAX, CloudCreate, CloudOut
from interop.concurrency import IfMatch, etag
from interop.deps import AccountPrincipal, SessionDep
from interop.openapi import error_responses
from interop.paging import DECIMAL_ONLY, PageDep, paginate
from interop.routing import InteropRoute
from interop.schemas import DataEnvelope, HyphenatedUUID, ListEnvelope

router = APIRouter(tags=["Clouds"], route_class=InteropRoute)


@router.get(
    "/clouds",
    summary="List Interop Clouds",
    response_model=ListEnvelope[CloudOut],
    responses=error_responses(),
)
def list_clouds(session: SessionDep, principal: AccountPrincipal, page: PageDep) -> Any:
    return paginate(session, readable_clouds(principal), page, lambda row: CloudOut.of(row[0]))


@router.post(
    "/clouds",
    summary="Create an Interop Cloud",
    response_model=DataEnvelope[CloudOut],
    responses=error_responses("not_found", "cloud_name_taken"),
)
def create_cloud(
    body: CloudCreate, session: SessionDep, principal: AccountPrincipal, response: Response
) -> Any:
    cloud = service.create_cloud(session, principal, body)
    response.headers["ETag"] = etag(cloud.version)
    return {"data": CloudOut.of(cloud)}


@router.get(
    "/clouds/search",
    summary="Search Interop Clouds",
    response_model=ListEnvelope[CloudOut],
    responses=error_responses(),
)
def search_clouds(
    session: SessionDep,
    principal: AccountPrincipal,
    page: PageDep,
    generation: Annotated[
        int | None,
        Query(
            ge=-INT32_MAX - 1, le=INT32_MAX, description="List all Clouds of a matching generation"
        ),
        DECIMAL_ONLY,
    ] = None,
    userdata: Annotated[
        str | None, Query(description="List all Clouds with matching userdata")
    ] = None,
    name: Annotated[str | None, Query(description="List all Clouds with a matching name")] = None,
) -> Any:
    statement = service.search_clouds(principal, generation, userdata, name)
    return paginate(session, statement, page, lambda row: CloudOut.of(row[0]))


@router.get(
    "/clouds/{id}",
    summary="Find an Interop Cloud",
    response_model=DataEnvelope[CloudOut],
    responses=error_responses("not_found"),
)
def get_cloud(
    id: HyphenatedUUID, session: SessionDep, principal: AccountPrincipal, response: Response
) -> Any:
    cloud = get_readable_cloud(session, principal, id)
    response.headers["ETag"] = etag(cloud.version)
    return {"data": CloudOut.of(cloud)}


@router.delete(
    "/clouds/{id}",
    summary="Delete an Interop Cloud",
    status_code=204,
    response_class=Response,
    responses=error_responses("not_found", "concurrent_modification"),
)
def delete_cloud(
    id: HyphenatedUUID, session: SessionDep, principal: AccountPrincipal, if_match: IfMatch = None
) -> None:
    service.delete_cloud(session, principal, id, if_match)
