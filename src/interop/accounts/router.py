"""HTTP for account API keys (ext): a parent account (or the operator) lists, creates and
revokes the keys of the accounts below it, as the operator CLI does."""

from typing import Any

from fastapi import APIRouter, Path, Response

from interop.accounts import service
from interop.accounts.schemas import AccountKeyOut, IssuedAccountKeyOut
from interop.deps import AccountPrincipal, SecretBoxDep, SessionDep
from interop.openapi import error_responses
from interop.paging import PageDep, paginate
from interop.routing import InteropRoute
from interop.schemas import DataEnvelope, HyphenatedUUID, ListEnvelope

router = APIRouter(tags=["Account keys (ext)"], route_class=InteropRoute)

WHO_MAY = (
    " An account manages the keys of the accounts below it, not its own (a parent or the "
    "operator gives an account its keys); an operator, any account's. Any other account is "
    "`404`."
)
KeyClientIdPath = Path(description="client_id of one of the account's API keys", max_length=64)


@router.get(
    "/accounts/{id}/keys",
    summary="List an account's API keys",
    description="The account's active keys: their client ids, never their secrets." + WHO_MAY,
    response_model=ListEnvelope[AccountKeyOut],
    responses=error_responses("not_found"),
)
def list_account_keys(
    id: HyphenatedUUID, session: SessionDep, principal: AccountPrincipal, page: PageDep
) -> Any:
    service.require_managed_account(session, principal, id)
    return paginate(
        session, service.active_keys_of(id), page, lambda row: AccountKeyOut.model_validate(row[0])
    )


@router.post(
    "/accounts/{id}/keys",
    summary="Create an API key for an account",
    description=(
        "The answer carries the key's `client_secret`, the only time it is shown: it is "
        "stored as a keyed hash." + WHO_MAY
    ),
    response_model=DataEnvelope[IssuedAccountKeyOut],
    responses=error_responses("not_found"),
)
def create_account_key(
    id: HyphenatedUUID, session: SessionDep, principal: AccountPrincipal, box: SecretBoxDep
) -> Any:
    api_key, issued = service.issue_key_for(session, box, principal, id)
    shown = AccountKeyOut.model_validate(api_key).model_dump()
    return {"data": IssuedAccountKeyOut(**shown, client_secret=issued.client_secret)}


@router.delete(
    "/accounts/{id}/keys/{client_id}",
    summary="Revoke an account's API key",
    description=(
        "The key and the tokens issued for it stop working at once. A key already revoked, or "
        "of another account, is `404`." + WHO_MAY
    ),
    status_code=204,
    response_class=Response,
    responses=error_responses("not_found"),
)
def revoke_account_key(
    id: HyphenatedUUID,
    session: SessionDep,
    principal: AccountPrincipal,
    client_id: str = KeyClientIdPath,
) -> None:
    service.revoke_key_of(session, principal, id, client_id)
