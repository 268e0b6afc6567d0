"""HTTP for client keys (ext): the public keys an API key or actor signs assertions with."""

from typing import Any

from fastapi import APIRouter, Path, Response

from interop.accounts.repository import visible_account_ids
from interop.clientkeys import service
from interop.clientkeys.schemas import ClientKeyIn, ClientKeyOut
from interop.deps import AccountPrincipal, SessionDep
from interop.openapi import error_responses
from interop.paging import PageDep, paginate
from interop.routing import InteropRoute
from interop.schemas import DataEnvelope, HyphenatedUUID, ListEnvelope

router = APIRouter(tags=["Client keys (ext)"], route_class=InteropRoute)

ClientIdPath = Path(description="client_id of one of your API keys or actors", max_length=64)


@router.post(
    "/clients/{client_id}/keys",
    summary="Register a public key for a client (private_key_jwt)",
    description=(
        "The client may then authenticate at /oauth/token with a JWT assertion signed by "
        "this key (RFC 7523). Give exactly one of `jwk`, `pem` or `jwks_url`. A key the "
        "client has already (its kid, its material or its JWKS URL) is `409`."
    ),
    response_model=DataEnvelope[ClientKeyOut],
    responses=error_responses("not_found", "client_key_exists"),
)
def add_client_key(
    body: ClientKeyIn,
    session: SessionDep,
    principal: AccountPrincipal,
    client_id: str = ClientIdPath,
) -> Any:
    account_id = service.client_owner(session, client_id, visible_account_ids(principal))
    return {
        "data": ClientKeyOut.model_validate(service.add_key(session, account_id, client_id, body))
    }


@router.get(
    "/clients/{client_id}/keys",
    summary="List a client's public keys",
    response_model=ListEnvelope[ClientKeyOut],
    responses=error_responses("not_found"),
)
def list_client_keys(
    session: SessionDep, principal: AccountPrincipal, page: PageDep, client_id: str = ClientIdPath
) -> Any:
    service.client_owner(session, client_id, visible_account_ids(principal))
    return paginate(
        session, service.keys_of(client_id), page, lambda row: ClientKeyOut.model_validate(row[0])
    )


@router.delete(
    "/clients/{client_id}/keys/{id}",
    summary="Remove a client's public key",
    status_code=204,
    response_class=Response,
    responses=error_responses("not_found"),
)
def delete_client_key(
    id: HyphenatedUUID,
    session: SessionDep,
    principal: AccountPrincipal,
    client_id: str = ClientIdPath,
) -> None:
    service.client_owner(session, client_id, visible_account_ids(principal))
    service.delete_key(session, client_id, id)
