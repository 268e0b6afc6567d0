"""Creating accounts and their API keys: the operator CLI's side of the system, and (ext) the
keys a parent account manages for the accounts below it."""

import secrets
import uuid
from dataclasses import dataclass

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from interop.accounts.models import MAX_ACCOUNT_DEPTH, Account, ApiKey
from interop.accounts.repository import account_depth, child_path, managed_account_ids
from interop.accounts.types import ACCOUNT_TYPES
from interop.auth.principals import Principal
from interop.auth.secrets import SecretBox, new_client_id, new_secret
from interop.clientkeys.models import ClientKey
from interop.db import AnySelect, utcnow
from interop.errors import InteropError, InvalidRequest, NotFound
from interop.schemas import BLANK_MESSAGE, is_blank


@dataclass(frozen=True)
class IssuedKey:
    """A new API key; the only moment its secret exists in clear."""

    client_id: str
    client_secret: str


def create_account(
    session: Session,
    box: SecretBox,
    name: str,
    account_type: str,
    parent_id: uuid.UUID | None = None,
) -> tuple[Account, IssuedKey]:
    if not 1 <= len(name) <= 255:
        raise InvalidRequest("account name must be 1..255 characters")
    if is_blank(name):
        raise InvalidRequest(f"account name {BLANK_MESSAGE}")
    if account_type not in ACCOUNT_TYPES:
        raise InvalidRequest(
            f"account type must be one of {', '.join(ACCOUNT_TYPES)}, got {account_type!r}"
        )
    parent = session.get(Account, parent_id) if parent_id else None
    if parent_id and parent is None:
        raise NotFound("parent account")
    if parent is not None and account_depth(parent) >= MAX_ACCOUNT_DEPTH:
        raise InvalidRequest(
            f"accounts nest at most {MAX_ACCOUNT_DEPTH} levels deep, and the parent account "
            f"{parent.id} is at level {account_depth(parent)}: choose a parent higher up"
        )
    account_id = uuid.uuid4()
    account = Account(
        id=account_id,
        name=name,
        type=account_type,
        public_id=secrets.token_hex(8),
        parent_id=parent_id,
        path=child_path(parent, account_id),
    )
    session.add(account)
    session.flush()
    return account, create_api_key(session, box, account.id)


def create_api_key(session: Session, box: SecretBox, account_id: uuid.UUID) -> IssuedKey:
    if session.get(Account, account_id) is None:
        raise NotFound("account")
    _, issued = _new_api_key(session, box, account_id)
    return issued


def _new_api_key(
    session: Session, box: SecretBox, account_id: uuid.UUID
) -> tuple[ApiKey, IssuedKey]:
    issued = IssuedKey(new_client_id("acc"), new_secret())
    api_key = ApiKey(
        account_id=account_id,
        client_id=issued.client_id,
        secret_hash=box.hash_secret(issued.client_secret),
    )
    session.add(api_key)
    session.flush()
    return api_key, issued


def revoke_api_key(session: Session, client_id: str) -> None:
    api_key = session.scalar(
        select(ApiKey).where(ApiKey.client_id == client_id, ApiKey.revoked_at.is_(None))
    )
    if api_key is None:
        raise NotFound("active API key")
    _revoke(session, api_key)


def _revoke(session: Session, api_key: ApiKey) -> None:
    """Revoke at once: tokens issued for the key fail their next request. Its registered
    public keys go too: a revoked key is no client any more, so nothing could reach them."""
    api_key.revoked_at = utcnow()
    session.execute(delete(ClientKey).where(ClientKey.client_id == api_key.client_id))


def require_managed_account(session: Session, principal: Principal, account_id: uuid.UUID) -> None:
    """`404` unless the principal may manage the account's keys (`managed_account_ids`): its
    own account is as absent as an invisible one, the same answer whatever exists."""
    statement = managed_account_ids(principal).where(Account.id == account_id)
    if not session.scalar(select(statement.exists())):
        raise InteropError(
            "not_found",
            f"no account {account_id} among those whose keys you manage (the accounts below "
            "yours): an account's keys are managed by the accounts above it and the operator",
        )


def active_keys_of(account_id: uuid.UUID) -> AnySelect:
    statement: AnySelect = (
        select(ApiKey)
        .where(ApiKey.account_id == account_id, ApiKey.revoked_at.is_(None))
        .order_by(ApiKey.created_at, ApiKey.id)
    )
    return statement


def issue_key_for(
    session: Session, box: SecretBox, principal: Principal, account_id: uuid.UUID
) -> tuple[ApiKey, IssuedKey]:
    """(ext) A new key for an account the principal manages, as `interop accounts keys
    create` makes it."""
    require_managed_account(session, principal, account_id)
    return _new_api_key(session, box, account_id)


def revoke_key_of(
    session: Session, principal: Principal, account_id: uuid.UUID, client_id: str
) -> None:
    """(ext) Revoke an active key of an account the principal manages, as `interop accounts
    keys revoke` does: its tokens fail their next request."""
    require_managed_account(session, principal, account_id)
    # Locked: of two racing revocations, the second finds the key revoked (404).
    api_key = session.scalar(
        select(ApiKey)
        .where(
            ApiKey.account_id == account_id,
            ApiKey.client_id == client_id,
            ApiKey.revoked_at.is_(None),
        )
        .with_for_update()
    )
    if api_key is None:
        raise NotFound("active API key of the account")
    _revoke(session, api_key)


def list_accounts(session: Session) -> list[tuple[Account, int]]:
    """Every account with its number of active keys, oldest first."""
    # Rows unpacked as they come: Result.tuples() is deprecated in SQLAlchemy 2.1.
    active_keys = {
        account_id: count
        for account_id, count in session.execute(
            select(ApiKey.account_id, func.count())
            .where(ApiKey.revoked_at.is_(None))
            .group_by(ApiKey.account_id)
        )
    }
    accounts = session.scalars(select(Account).order_by(Account.created_at, Account.id))
    return [(account, active_keys.get(account.id, 0)) for account in accounts]
