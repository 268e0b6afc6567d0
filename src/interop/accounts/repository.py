"""Which accounts a principal may see: its own, its descendants, or all for an operator."""

import uuid

from sqlalchemy import select
from sqlalchemy.orm import Session

from interop.accounts.models import Account
from interop.auth.principals import Principal
from interop.db import AnySelect, StartsWith


def visible_account_ids(principal: Principal) -> AnySelect:
    """The readable statement every account-scoped query starts from."""
    statement = select(Account.id)
    if principal.is_operator:
        return statement
    return statement.where(StartsWith(Account.path, principal.account_path))


def managed_account_ids(principal: Principal) -> AnySelect:
    """The accounts whose API keys the principal may list, create and revoke: an operator's,
    every account; any other account's, those strictly below it. Keys are "created by the
    operator CLI or by a parent account" (SPEC §2), never by the account itself: a leaked key
    could otherwise mint keys that outlive its revocation, or revoke the key its parent gave."""
    statement = visible_account_ids(principal)
    if principal.is_operator:
        return statement
    return statement.where(Account.id != principal.account_id)


def child_path(parent: Account | None, account_id: uuid.UUID) -> str:
    return f"{parent.path if parent else '/'}{account_id}/"


def account_depth(account: Account) -> int:
    """The account's level: 1 for a root, one more for each account above it."""
    return account.path.count("/") - 1


def is_visible_account(session: Session, principal: Principal, account_id: uuid.UUID) -> bool:
    statement = visible_account_ids(principal).where(Account.id == account_id)
    return session.scalar(select(statement.exists())) is True
